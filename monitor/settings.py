"""Settings in one place, from the environment (prefix ``DOSIS_``) or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_data_path
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOSIS_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default_factory=lambda: user_data_path("dosis"))
    """Where the embedded database lives unless ``database_url`` says otherwise."""
    database_url: str | None = None
    """SQLAlchemy URL; default ``sqlite:///<data_dir>/dosis.sqlite3``."""
    ble: Literal["system", "virtual"] = "system"
    """``virtual``: bleak runs over Bumble's in-process link against virtual wearables
    that replay the bundled captures, for trying Dosis without a strap."""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'dosis.sqlite3'}"
