"""Settings in one place, from the environment (prefix ``DOSIS_``) or a ``.env`` file."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from platformdirs import user_data_path
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

SECRETS_DIR = Path("/run/secrets")
"""Where Docker puts secrets files; a file named like a setting (``dosis_influx_token``) sets it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOSIS_",
        env_file=".env",
        extra="ignore",
        # Only where it exists: pydantic-settings warns about a missing folder.
        secrets_dir=SECRETS_DIR if SECRETS_DIR.is_dir() else None,
    )

    data_dir: Path = Field(default_factory=lambda: user_data_path("dosis"))
    """Where the embedded database lives unless ``database_url`` says otherwise."""
    database_url: str | None = None
    """SQLAlchemy URL; default ``sqlite:///<data_dir>/dosis.sqlite3``. PostgreSQL:
    ``postgresql+psycopg://dosis@db:5432/dosis``."""
    database_password: SecretStr | None = None
    """Put into ``database_url`` in place of its password, so the URL holds no secret."""
    influx_url: str | None = None
    """Keep signals in InfluxDB (or VictoriaMetrics) at this URL instead of the relational database."""
    influx_api: Literal["v1", "v2"] = "v2"
    """``v2``: batched writes to ``/api/v2/write`` (InfluxDB 1.8+, 2.x, 3.x); ``v1``: ``/write`` (InfluxDB 1.x)."""
    influx_server: Literal["influxdb", "victoriametrics"] = "influxdb"
    """How to read back: InfluxQL on ``/query`` (InfluxDB), or the export API (VictoriaMetrics)."""
    influx_database: str = "dosis"
    """The InfluxDB 1.x database, or the 2.x bucket (read through its automatic DBRP mapping)."""
    influx_org: str = "dosis"
    influx_token: SecretStr | None = None
    """An InfluxDB 2.x/3.x API token, or ``user:password`` for 1.x with authentication."""
    retention_days: int | None = Field(default=None, ge=1)
    """Delete raw signals older than this many days (summaries, loads and reports are kept); None keeps them."""
    server_url: str | None = None
    """For a hub: the Dosis server that ``dosis record`` streams sessions to."""
    hub_token: SecretStr | None = None
    """For a hub: its token, from ``dosis hub add`` on the server."""
    ble: Literal["system", "virtual"] = "system"
    """``virtual``: bleak runs over Bumble's in-process link against virtual wearables
    that replay the bundled captures, for trying Dosis without a strap."""
    timezone: str | None = None
    """IANA name of the clinic's timezone (e.g. ``Europe/Copenhagen``): where its days and
    weeks begin. Default: this machine's current offset."""
    cookie_secure: bool = True
    """Send the sign-in cookie over HTTPS only (as ``__Host-dosis_session``). Browsers treat
    ``http://127.0.0.1`` and ``localhost`` as secure, so the local demo works; turn it off only for
    plain HTTP inside a trusted network."""
    clinician_idle_minutes: int = Field(default=30, ge=1)
    """A clinician's session ends after this long without a request."""
    clinician_session_hours: int = Field(default=12, ge=1)
    """...and after this long in any case: a working day."""
    patient_idle_days: int = Field(default=30, ge=1)
    """Patients sign in with a code on their own phone and report every few days."""
    patient_session_days: int = Field(default=90, ge=1)
    failed_logins_per_minute: int = Field(default=10, ge=1)
    """Wrong passwords or sign-in codes one address may try a minute before it has to wait."""
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
            if self.database_password is None:
                return self.database_url
            url = make_url(self.database_url).set(password=self.database_password.get_secret_value())
            return url.render_as_string(hide_password=False)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'dosis.sqlite3'}"


def local_timezone() -> tzinfo:
    """This machine's timezone as its current UTC offset."""
    local = datetime.now().astimezone().tzinfo
    assert local is not None  # astimezone() always sets one
    return local
