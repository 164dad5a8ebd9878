"""The server's side of ingest: a hub's messages applied to the store, in order, idempotently.

Every message goes through :class:`~monitor.sinks.StoreSink`, the code that stores a session
recorded next to the database, so a streamed session ends up exactly as a local one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

import numpy as np
from sqlalchemy import select, update

from monitor.ingest.wire import ChunkMessage, EndMessage, EventMessage, IngestMessage, ProblemsMessage, StartMessage
from monitor.sinks import SessionChunk, StoreSink
from monitor.store import Device, Patient, Store, TrainingSession
from monitor.store.audit import record_audit

if TYPE_CHECKING:
    from monitor.livefeed import LiveFeed


class IngestRejected(Exception):
    """A message the server will never accept: sending it again would not help."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass(frozen=True, slots=True)
class Hub:
    """The registered hub a request came from."""

    id: int
    name: str


def apply_batch(store: Store, hub: Hub, messages: Sequence[IngestMessage], *, live: LiveFeed | None = None) -> int:
    """Apply ``messages`` in order; returns how many. Signals are flushed before it returns.

    ``live``: the live view of this server, which is shown the sessions as their messages arrive.

    Raises :class:`IngestRejected` at the first message that cannot be applied (those before
    it are applied), and lets a database outage through (``SignalStoreUnavailable``,
    SQLAlchemy's ``OperationalError``) for the caller to answer "try again".
    """
    sinks: dict[UUID, tuple[StoreSink, bool]] = {}
    for message in messages:
        if message.session not in sinks:
            sinks[message.session] = _open(store, hub, message)
        sink, running = sinks[message.session]
        watch = live.watch(store, sink.session_id) if live is not None and running else None
        if isinstance(message, ChunkMessage):
            chunk = SessionChunk(
                message.signal, message.device, np.asarray(message.t_ns, np.int64), np.asarray(message.values)
            )
            try:
                sink.append([chunk])
            except ValueError as error:  # samples the signal's storage cannot hold
                raise IngestRejected(422, f"chunk of {message.signal}: {error}") from error
            if watch is not None:
                watch.chunk(chunk)
        elif isinstance(message, EventMessage):
            sink.event(message.kind, message.message, t_ns=message.t_ns, seq=message.seq)
            if watch is not None:
                watch.event(message.kind, message.t_ns)
        elif isinstance(message, ProblemsMessage):
            sink.problem_count(message.count)
        elif isinstance(message, EndMessage) and running:
            if watch is not None:
                watch.finished(message.status)
            sink.finish(status=message.status, ended_at_ns=message.ended_at_ns)
            sinks[message.session] = (sink, False)
    store.signals.flush()
    with store.session() as db:
        db.execute(update(Device).where(Device.id == hub.id).values(last_seen_at=datetime.now(UTC)))
        db.commit()
    return len(messages)


def _open(store: Store, hub: Hub, message: IngestMessage) -> tuple[StoreSink, bool]:
    """The session a message is about, started if it is a start; and whether it is still live."""
    uid = str(message.session)
    with store.session() as db:
        session = db.scalar(select(TrainingSession).where(TrainingSession.uid == uid))
        if session is not None:
            if session.hub_id != hub.id:
                raise IngestRejected(403, f"session {uid} was started by another hub")
            return StoreSink.of(store, session), session.status == "live"
        if not isinstance(message, StartMessage):
            raise IngestRejected(409, f"session {uid} has not been started: send its start message first")
        patient = db.scalar(select(Patient).where(Patient.pseudonym == message.patient))
        if patient is None:
            raise IngestRejected(404, f"no patient {message.patient!r} on this server: register the patient first")
        record_audit(
            db,
            actor=f"hub:{hub.name}",
            action="ingest",
            patient_pseudonym=patient.pseudonym,
            detail=f"started streaming {message.kind} session {uid}",
        )
        db.commit()
        patient_id = patient.id
    sink = StoreSink.create(
        store,
        patient_id=patient_id,
        kind=message.kind,
        started_at_ns=message.started_at_ns,
        source=message.source,
        devices=message.devices,
        uid=uid,
        hub_id=hub.id,
    )
    return sink, True
