"""Settings in one place, from the environment (prefix ``DOSIS_``) or a ``.env`` file."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    timezone: str | None = None
    """IANA name of the clinic's timezone (e.g. ``Europe/Copenhagen``): where its days and
    weeks begin. Default: this machine's current offset."""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    def tzinfo(self) -> tzinfo:
        if self.timezone:
            try:
                return ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError) as error:
                raise ValueError(f"DOSIS_TIMEZONE={self.timezone!r} is not a known timezone") from error
        return local_timezone()

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'dosis.sqlite3'}"


def local_timezone() -> tzinfo:
    """This machine's timezone as its current UTC offset."""
    local = datetime.now().astimezone().tzinfo
    assert local is not None  # astimezone() always sets one
    return local
