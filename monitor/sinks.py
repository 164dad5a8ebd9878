"""Where a recorded session goes: straight into the store, or to a spool that a hub sends on.

A :class:`~monitor.session.SessionRecorder` writes to a :class:`SessionSink`. On the
machine that holds the database that is a :class:`StoreSink`; on a hub it is the spool of
``monitor.ingest.spool``, whose messages the server applies through a :class:`StoreSink`
again, so a session streamed from a gym is stored by the same code as one recorded next
to the database. Every call is idempotent where a retry can repeat it: chunks by their
start, numbered events by their number, the problem count as a value.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from monitor.analysis import heart_rate_summary
from monitor.analysis.heart_rate import resample_hr_1hz
from monitor.analysis.session import analyse_activity, analyse_heart
from monitor.process_mark import recording_alive, this_process
from monitor.store import SIGNALS, SessionAnalysis, SessionEvent, Store, TrainingSession
from monitor.store.clinical import write_session_load
from monitor.store.signals import Chunk

if TYPE_CHECKING:
    from drivers.readings import Reading
    from monitor.livefeed import LiveFeed

logger = logging.getLogger(__name__)

CHUNK_SPAN_NS = 5_000_000_000
"""How long a recorder gathers a signal before storing it. Samples on a sensor clock are put
on the wall clock when their chunk is stored, with the best estimate then; over 5 s that
estimate is within a ms of its final value, over 1 s up to ~15 ms off (tests/test_replay.py)."""
STREAM_CHUNK_SPAN_NS = 1_000_000_000
"""A hub hands the server its signals once a second, so the clinic's live view keeps up."""
ANALYSIS_VERSION = 3
"""Bump when the batch analysis changes what it writes, so stale rows can be recomputed."""


def ns_to_datetime(t_ns: int) -> datetime:
    return datetime.fromtimestamp(t_ns / 1e9, tz=UTC)


@dataclass(frozen=True, slots=True)
class SessionChunk:
    """Samples of one signal of one device, on the wall clock, ready to store."""

    signal: str
    device: str
    t_ns: npt.NDArray[np.int64] = field(repr=False)
    values: npt.NDArray[np.float64] = field(repr=False)
    """Shape (n, channels), in the signal's unit."""


ResultT_co = TypeVar("ResultT_co", covariant=True)


class SessionObserver(Protocol):
    """Watches a session while it is recorded (the clinic's live view); every call must return at once."""

    def reading(self, reading: Reading) -> None: ...

    def event(self, kind: str, t_ns: int | None = None) -> None: ...

    def finished(self, status: str) -> None: ...


class SessionSink(Protocol[ResultT_co]):
    chunk_span_ns: int
    """How much of a signal the recorder gathers before it hands it on."""
    observer: SessionObserver | None
    """Told of every reading as it arrives, when the session is watched live where it is recorded."""

    def append(self, chunks: Sequence[SessionChunk]) -> None: ...

    def event(self, kind: str, message: str, *, t_ns: int | None = None) -> None:
        """Keep something the session should say about its data, e.g. a link gap."""
        ...

    def problem_count(self, count: int) -> None:
        """Notifications that could not be used so far (the count, not an increment)."""
        ...

    def finish(self, *, status: str, ended_at_ns: int) -> ResultT_co:
        """End the session; the store's sink returns its row with the summary."""
        ...


class SessionTarget(Protocol[ResultT_co]):
    """Whose sessions a recording starts, and where they go."""

    def start_session(self, *, kind: str, started_at_ns: int, source: str, devices: str) -> SessionSink[ResultT_co]:
        """A new session's sink; ``devices`` names the wearables, ``source`` says how it was recorded."""
        ...


@dataclass(frozen=True, slots=True)
class PatientInStore:
    """Sessions of one patient, straight into the store."""

    store: Store
    patient_id: int
    chunk_span_ns: int = CHUNK_SPAN_NS
    live: LiveFeed | None = None
    """Set for sessions recorded live beside the dashboard: its live view shows them as they go."""

    def start_session(self, *, kind: str, started_at_ns: int, source: str, devices: str) -> StoreSink:
        sink = StoreSink.create(
            self.store,
            patient_id=self.patient_id,
            kind=kind,
            started_at_ns=started_at_ns,
            source=source,
            devices=devices,
            chunk_span_ns=self.chunk_span_ns,
            recorder=str(this_process()),
        )
        if self.live is not None:
            sink.observer = self.live.watch(self.store, sink.session_id)
        return sink


class StoreSink:
    """A session in the store: its row, its chunks, events, and the summary at the end."""

    def __init__(
        self, store: Store, session_id: int, started_at_ns: int, *, chunk_span_ns: int = CHUNK_SPAN_NS
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.started_at_ns = started_at_ns
        self.chunk_span_ns = chunk_span_ns
        self.observer: SessionObserver | None = None
        dialect = postgresql if store.engine.dialect.name == "postgresql" else sqlite
        self._insert_event = dialect.insert(SessionEvent).on_conflict_do_nothing(index_elements=["session_id", "seq"])

    @classmethod
    def create(
        cls,
        store: Store,
        *,
        patient_id: int,
        kind: str,
        started_at_ns: int,
        source: str = "",
        devices: str = "",
        uid: str | None = None,
        hub_id: int | None = None,
        chunk_span_ns: int = CHUNK_SPAN_NS,
        recorder: str | None = None,
    ) -> StoreSink:
        """``recorder``: the mark of the process recording it here (``monitor.process_mark``)."""
        with store.session() as db:
            row = TrainingSession(
                uid=uid,
                hub_id=hub_id,
                recorder=recorder,
                patient_id=patient_id,
                kind=kind,
                status="live",
                started_at=ns_to_datetime(started_at_ns),
                source=source[:200],
                devices=devices[:400],
            )
            db.add(row)
            db.commit()
            return cls(store, row.id, started_at_ns, chunk_span_ns=chunk_span_ns)

    @classmethod
    def of(cls, store: Store, session: TrainingSession) -> StoreSink:
        return cls(store, session.id, int(session.started_at.timestamp() * 1e9))

    def append(self, chunks: Sequence[SessionChunk]) -> None:
        self.store.signals.append_many(Chunk(self.session_id, c.signal, c.device, c.t_ns, c.values) for c in chunks)

    def event(self, kind: str, message: str, *, t_ns: int | None = None, seq: int | None = None) -> None:
        """``seq``: the sender's number for the event; an event sent again with it is stored once."""
        row = {"session_id": self.session_id, "seq": seq, "t_ns": t_ns, "kind": kind[:32], "message": message[:500]}
        with self.store.engine.begin() as connection:
            connection.execute(self._insert_event, [row])

    def problem_count(self, count: int) -> None:
        with self.store.engine.begin() as connection:
            connection.execute(
                update(TrainingSession).where(TrainingSession.id == self.session_id).values(malformed_count=count)
            )

    def finish(self, *, status: str, ended_at_ns: int) -> TrainingSession:
        """Write the summary, the analysis and the load, all computed from the stored signals.

        All in one transaction: a database that fails on the way leaves the session live
        with nothing half written, so ending it again (a hub sends the end again; a dead
        recording's session is ended at the next start) writes everything. An analysis that
        fails for a bug costs only itself: the summary is written, and an event says why.
        """
        signals = self.store.signals
        signals.flush()
        hr = signals.read(self.session_id, "hr_bpm")
        acc = signals.read(self.session_id, "acc_mg")
        rr = signals.read(self.session_id, "rr_ms")
        summary = heart_rate_summary(t_s=hr.t_ns / 1e9, hr_bpm=hr.values[:, 0], sensor_contact=hr.values[:, 1])

        def end(row: TrainingSession) -> None:
            row.status = status
            row.ended_at = ns_to_datetime(ended_at_ns)
            row.duration_s = (ended_at_ns - self.started_at_ns) / 1e9
            row.hr_mean_bpm = summary.mean_bpm
            row.hr_max_bpm = summary.max_bpm
            row.hr_coverage = summary.coverage
            row.beat_count = len(rr)
            row.acc_sample_count = len(acc)

        failure: Exception | None = None
        with self.store.session() as db:
            row = db.get_one(TrainingSession, self.session_id)
            end(row)  # the load below needs the duration
            relative_s = (acc.t_ns - (acc.t_ns[0] if len(acc) else 0)) / 1e9  # ns first: float64 loses them
            try:
                activity = analyse_activity(kind=row.kind, t_s=relative_s, acc_mg=acc.values)
                heart = analyse_heart(rr_ms=rr.values[:, 0])
                db.merge(
                    SessionAnalysis(
                        session_id=row.id, version=ANALYSIS_VERSION, activity=asdict(activity), heart=asdict(heart)
                    )
                )
                _, hr_1hz = resample_hr_1hz(t_s=hr.t_ns / 1e9, hr_bpm=hr.values[:, 0], sensor_contact=hr.values[:, 1])
                write_session_load(db, row, hr_1hz, tz=self.store.tz)
            except DBAPIError:
                raise
            except Exception as error:  # a bug in an analysis must not cost the session its data
                logger.exception("the analysis of a session failed")
                failure = error
                db.rollback()
                row = db.get_one(TrainingSession, self.session_id)
                end(row)
            db.commit()
        if failure is not None:
            self.event("analysis_failed", f"analysis failed: {type(failure).__name__}: {failure}")
        return row


def close_abandoned_sessions(store: Store) -> list[int]:
    """End, as interrupted, each live session whose recording process on this host has died; their ids.

    What the session had stored is kept, and summarised as at any end; an event says when
    the recording stopped. A session whose process runs, or that another host records, is
    left alone (``monitor.process_mark``).
    """
    with store.session() as db:
        marked = db.execute(
            select(TrainingSession.id, TrainingSession.recorder).where(
                TrainingSession.status == "live", TrainingSession.recorder.is_not(None)
            )
        ).all()
    closed = []
    for session_id, recorder in marked:
        if recorder is None or recording_alive(recorder) is not False:
            continue
        # Claimed by one process only, when several start at once.
        with store.engine.begin() as connection:
            claimed = connection.execute(
                update(TrainingSession)
                .where(TrainingSession.id == session_id, TrainingSession.status == "live")
                .values(status="interrupted")
            ).rowcount
        if not claimed:
            continue
        try:
            _end_abandoned(store, session_id)
        except BaseException:
            # Left live (the signal database may be down): the next start ends it.
            with store.engine.begin() as connection:
                connection.execute(
                    update(TrainingSession).where(TrainingSession.id == session_id).values(status="live")
                )
            raise
        closed.append(session_id)
    return closed


def _end_abandoned(store: Store, session_id: int) -> None:
    with store.session() as db:
        session = db.get_one(TrainingSession, session_id)
        sink = StoreSink.of(store, session)
        times_ns = [sink.started_at_ns] + [e.t_ns for e in session.events if e.t_ns is not None]
    for signal in SIGNALS:
        stored = store.signals.read(session_id, signal)
        if len(stored):
            times_ns.append(int(stored.t_ns[-1]))
    last_ns = max(times_ns)
    sink.finish(status="interrupted", ended_at_ns=last_ns)
    stopped = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(last_ns / 1e9))
    sink.event(
        "recording_stopped",
        f"the recording stopped unexpectedly after {stopped} (its process ended without ending the session); "
        "what it had stored by then is kept",
        t_ns=last_ns,
    )
