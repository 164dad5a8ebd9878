"""Storage: relational state through SQLAlchemy, time series behind :class:`SignalStore`."""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from datetime import tzinfo
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.settings import Settings, local_timezone
from monitor.store.migrations import migrate
from monitor.store.models import (
    AuditEvent,
    Clinician,
    Device,
    Patient,
    SessionAnalysis,
    SessionEvent,
    SignalChunk,
    TrainingSession,
)
from monitor.store.signals import SIGNALS, Signal, SignalStore, SignalStoreUnavailable, SqlSignalStore

__all__ = [
    "SIGNALS",
    "AuditEvent",
    "Clinician",
    "Device",
    "Patient",
    "SessionAnalysis",
    "SessionEvent",
    "Signal",
    "SignalChunk",
    "SignalStore",
    "SignalStoreUnavailable",
    "Store",
    "TrainingSession",
]


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the dashboard read while a session writes; foreign keys make deletes cascade.
    # Two processes switching a new file to WAL at once get "locked" at once, without the busy
    # timeout's wait: so wait here.
    deadline = time.monotonic() + 30
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """The database behind one Dosis installation: ORM sessions plus the signal store."""

    def __init__(self, url: str, *, tz: tzinfo | None = None, settings: Settings | None = None) -> None:
        """``settings`` chooses the signal database (InfluxDB when ``influx_url`` is set)."""
        self.url = url
        self.tz = tz or local_timezone()
        """The clinic's timezone: where days and weeks begin."""
        # pre_ping: a PostgreSQL restart leaves dead connections in the pool, which would fail one request each.
        # allow_nan=False: NaN is not JSON; PostgreSQL refuses it, SQLite would keep it. One outcome on both.
        self.engine: Engine = create_engine(
            url, pool_pre_ping=True, json_serializer=functools.partial(json.dumps, allow_nan=False)
        )
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            migrate(self.engine)
        except BaseException:
            # The caller gets no Store to close, so the connections the check opened are closed here.
            self.engine.dispose()
            raise
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.signals: SignalStore = SqlSignalStore(self.engine)
        if settings is not None and settings.influx_url:
            from monitor.store.influx import InfluxSignalStore

            token = settings.influx_token.get_secret_value() if settings.influx_token else None
            self.signals = InfluxSignalStore(
                settings.influx_url,
                settings.influx_database,
                self.pseudonym_of_session,
                api=settings.influx_api,
                server=settings.influx_server,
                token=token,
                org=settings.influx_org,
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """The store the settings describe: their database, timezone and signal database."""
        return cls(settings.resolved_database_url(), tz=settings.tzinfo(), settings=settings)

    def session(self) -> Session:
        return self._sessions()

    def pseudonym_of_session(self, session_id: int) -> str:
        """The patient pseudonym a session's signals are tagged with."""
        with self.session() as db:
            pseudonym = db.scalar(
                select(Patient.pseudonym).join(TrainingSession).where(TrainingSession.id == session_id)
            )
        if pseudonym is None:
            raise KeyError(f"no session {session_id}")
        return pseudonym

    def close(self) -> None:
        self.signals.close()
        self.engine.dispose()
