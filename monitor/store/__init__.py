"""Storage: relational state through SQLAlchemy, time series behind :class:`SignalStore`."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from monitor.settings import local_timezone
from monitor.store.migrations import migrate
from monitor.store.models import (
    Clinician,
    Patient,
    SessionAnalysis,
    SessionEvent,
    SignalChunk,
    TrainingSession,
)
from monitor.store.signals import SIGNALS, Signal, SignalStore, SqlSignalStore

__all__ = [
    "SIGNALS",
    "Clinician",
    "Patient",
    "SessionAnalysis",
    "SessionEvent",
    "Signal",
    "SignalChunk",
    "SignalStore",
    "Store",
    "TrainingSession",
]


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the dashboard read while a session writes; foreign keys make deletes cascade.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """The database behind one Dosis installation: ORM sessions plus the signal store."""

    def __init__(self, url: str, *, tz: tzinfo | None = None) -> None:
        self.url = url
        self.tz = tz or local_timezone()
        """The clinic's timezone: where days and weeks begin."""
        self.engine: Engine = create_engine(url)
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

    def session(self) -> Session:
        return self._sessions()

    def close(self) -> None:
        self.engine.dispose()
