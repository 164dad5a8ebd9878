"""A hub's spool: every message of a session is on disk before it is sent, and is sent in order.

The spool is a SQLite file on the hub (``<data_dir>/spool/spool.sqlite3``). A recording
writes to it through :class:`SpoolSink`; ``monitor.ingest.uploader`` sends what it holds
to the server, oldest first, and deletes what the server has acknowledged. So while the
server or its database is unreachable nothing is lost (the spool grows, then drains), and
a hub killed mid-session loses at most the second of samples it had not yet handed on.

Several recordings on one hub share the spool (each ``dosis record`` is a process). Each
holds a lock file for its session while it records; a session whose lock is free but
which never ended belongs to a process that died, and :meth:`Spool.close_abandoned` ends
it as interrupted and says so in the session's events.

A spool that cannot be written (the disk is full) raises :class:`SpoolUnwritable`, which
says so. A recording goes on: its :class:`SpoolSink` keeps what it could not write in
memory, writes it first once the spool takes writes again, and the session's events say
for how long the spool could not be written. SQLite leaves the file as it was before the
failed write, so what was spooled is sent all the same.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from monitor.ingest.wire import ChunkMessage, EndMessage, EventMessage, IngestMessage, ProblemsMessage, StartMessage
from monitor.sinks import STREAM_CHUNK_SPAN_NS, SessionChunk, SessionObserver

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session (
    uid TEXT PRIMARY KEY,
    patient TEXT NOT NULL,
    started_at_ns INTEGER NOT NULL,
    last_t_ns INTEGER NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0,
    event_count INTEGER NOT NULL DEFAULT 0,
    samples TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY,
    session TEXT NOT NULL,
    body TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    at_ns INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Spooled:
    """A message waiting to be sent."""

    seq: int
    session: str
    body: str


@dataclass(frozen=True, slots=True)
class SpooledSession:
    uid: str
    patient: str
    started_at_ns: int
    last_t_ns: int
    ended: bool
    samples: dict[str, int]
    """Samples spooled per signal: what the server must end up with."""


class SpoolUnwritable(RuntimeError):
    """The spool's file cannot be written: the disk is full, or the file may not grow."""


class Spool:
    """The outbox file; safe to share between processes (SQLite serialises the writes)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "spool.sqlite3"
        (folder / "sessions").mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        with self._writing():
            # FULL: a spooled message must survive a power cut in the gym, not only a killed process.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        self.started_here: list[str] = []
        """Sessions this process started, whose delivery it waits for at the end."""

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write that fails for want of space is SpoolUnwritable (SQLITE_FULL; SQLITE_IOERR at a file size limit)."""
        try:
            yield
        except sqlite3.OperationalError as error:
            if not error.sqlite_errorname.startswith(("SQLITE_FULL", "SQLITE_IOERR")):
                raise
            raise SpoolUnwritable(
                f"cannot write the hub's spool {self.path}: {error} ({error.sqlite_errorname}); is the disk full?"
            ) from error

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._writing():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite rolls back by itself after some failed writes
                    self._db.execute("ROLLBACK")
                raise

    def start_session(
        self, *, patient: str, kind: str, started_at_ns: int, source: str, devices: str, chunk_span_ns: int
    ) -> SpoolSink:
        uid = str(uuid.uuid4())
        self.started_here.append(uid)
        lock = lock_file(self.folder / "sessions" / f"{uid}.lock", wait=True)
        assert lock is not None
        start = StartMessage(
            session=uuid.UUID(uid),
            patient=patient,
            kind=kind,  # type: ignore[arg-type]  # validated by pydantic
            started_at_ns=started_at_ns,
            source=source[:200],
            devices=devices[:400],
        )
        with self._transaction() as db:
            db.execute(
                "INSERT INTO session (uid, patient, started_at_ns, last_t_ns) VALUES (?, ?, ?, ?)",
                (uid, patient, started_at_ns, started_at_ns),
            )
            _put(db, [start])
        return SpoolSink(self, uid, lock, chunk_span_ns)

    def put(self, uid: str, messages: Sequence[IngestMessage], *, samples: dict[str, int] | None = None) -> None:
        with self._transaction() as db:
            _put(db, messages)
            last_t_ns = max((m.t_ns[-1] for m in messages if isinstance(m, ChunkMessage)), default=None)
            if last_t_ns is not None:
                db.execute("UPDATE session SET last_t_ns = max(last_t_ns, ?) WHERE uid = ?", (last_t_ns, uid))
            if samples:
                (counted,) = db.execute("SELECT samples FROM session WHERE uid = ?", (uid,)).fetchone()
                totals = json.loads(counted)
                for signal, count in samples.items():
                    totals[signal] = totals.get(signal, 0) + count
                db.execute("UPDATE session SET samples = ? WHERE uid = ?", (json.dumps(totals), uid))

    def put_event(self, uid: str, kind: str, message: str, *, t_ns: int | None) -> None:
        """An event numbered after the session's others, so the server stores each once."""
        with self._transaction() as db:
            db.execute("UPDATE session SET event_count = event_count + 1 WHERE uid = ?", (uid,))
            (seq,) = db.execute("SELECT event_count FROM session WHERE uid = ?", (uid,)).fetchone()
            _put(
                db,
                [EventMessage(session=uuid.UUID(uid), seq=seq, kind=kind[:32], message=message[:500], t_ns=t_ns)],
            )

    def end_session(self, uid: str, *, status: str, ended_at_ns: int) -> None:
        end = EndMessage(session=uuid.UUID(uid), status=status, ended_at_ns=ended_at_ns)  # type: ignore[arg-type]
        with self._transaction() as db:
            _put(db, [end])
            db.execute("UPDATE session SET ended = 1 WHERE uid = ?", (uid,))

    def close_abandoned(self, *, now_ns: int | None = None) -> list[str]:
        """End, as interrupted, every session whose recording process died; returns their ids."""
        closed = []
        for session in self.sessions():
            if session.ended:
                continue
            lock_path = self.folder / "sessions" / f"{session.uid}.lock"
            lock = lock_file(lock_path, wait=False)
            if lock is None:
                continue  # its recording is still running
            with closing(lock):
                row = self._db.execute("SELECT ended FROM session WHERE uid = ?", (session.uid,)).fetchone()
                if row is None:  # it ended and was sent meanwhile: locking it made its lock file again
                    lock_path.unlink(missing_ok=True)
                    continue
                if row[0]:
                    continue  # another process closed it meanwhile
                stopped = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(session.last_t_ns / 1e9))
                self.put_event(
                    session.uid,
                    "hub_stopped",
                    f"the hub stopped recording unexpectedly after {stopped}; what it had spooled was sent "
                    "when it started again",
                    t_ns=session.last_t_ns,
                )
                self.end_session(session.uid, status="interrupted", ended_at_ns=session.last_t_ns)
            closed.append(session.uid)
        return closed

    def pending(self, limit: int) -> list[Spooled]:
        rows = self._db.execute("SELECT seq, session, body FROM outbox ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [Spooled(*row) for row in rows]

    def pending_count(self, sessions: Collection[str] | None = None) -> int:
        """Messages waiting to be sent: all, or those of ``sessions``."""
        if sessions is None:
            (count,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        else:
            marks = ",".join("?" * len(sessions))
            (count,) = self._db.execute(
                f"SELECT count(*) FROM outbox WHERE session IN ({marks})", tuple(sessions)
            ).fetchone()
        return int(count)

    def sent(self, messages: Sequence[Spooled]) -> None:
        with self._transaction() as db:
            db.executemany("DELETE FROM outbox WHERE seq = ?", [(m.seq,) for m in messages])
            self._forget_finished(db)

    def reject(self, message: Spooled, *, status: int, reason: str) -> None:
        """Set aside a message the server refused for good; it stays in the file for a person to look at."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO rejected (seq, session, body, status, reason, at_ns) VALUES (?, ?, ?, ?, ?, ?)",
                (message.seq, message.session, message.body, status, reason[:1000], time.time_ns()),
            )
            db.execute("DELETE FROM outbox WHERE seq = ?", (message.seq,))
            self._forget_finished(db)

    def rejected(self) -> list[tuple[str, int, str]]:
        """(session, HTTP status, reason) of every message the server refused."""
        return self._db.execute("SELECT session, status, reason FROM rejected ORDER BY seq").fetchall()

    def sessions(self) -> list[SpooledSession]:
        rows = self._db.execute(
            "SELECT uid, patient, started_at_ns, last_t_ns, ended, samples FROM session ORDER BY started_at_ns"
        ).fetchall()
        return [SpooledSession(u, p, s, last, bool(e), json.loads(counts)) for u, p, s, last, e, counts in rows]

    def _forget_finished(self, db: sqlite3.Connection) -> None:
        # An ended session with nothing left to send is the server's now; its lock file goes with it.
        finished = db.execute(
            "SELECT uid FROM session WHERE ended = 1 AND uid NOT IN (SELECT DISTINCT session FROM outbox)"
        ).fetchall()
        for (uid,) in finished:
            db.execute("DELETE FROM session WHERE uid = ?", (uid,))
            with suppress(FileNotFoundError):
                (self.folder / "sessions" / f"{uid}.lock").unlink()


class SpoolSink:
    """A session on a hub: a :class:`~monitor.sinks.SessionSink` that writes to the spool.

    A write the spool cannot take waits in memory, with those after it, and is tried again
    before the next; the first failure is logged, and once the spool takes them the session
    gets an event that says for how long it could not.
    """

    observer: SessionObserver | None = None
    """None: a hub's sessions are watched live on the server, as their chunks arrive there."""

    def __init__(self, spool: Spool, uid: str, lock: IO[bytes], chunk_span_ns: int) -> None:
        self.spool = spool
        self.uid = uid
        self.chunk_span_ns = chunk_span_ns
        self._lock = lock
        self._waiting: deque[Callable[[], None]] = deque()
        self._unwritable: tuple[int, str] | None = None
        """Since when (ns) the spool could not be written, and why."""

    def _write(self, write: Callable[[], None]) -> None:
        self._waiting.append(write)
        try:
            while self._waiting:
                self._waiting[0]()
                self._waiting.popleft()
        except SpoolUnwritable as error:
            if self._unwritable is None:
                self._unwritable = (time.time_ns(), str(error))
                logger.error("%s; the session goes on, kept in memory until the spool can be written", error)
            return
        if self._unwritable is not None:
            since_ns, reason = self._unwritable
            self._unwritable = None
            seconds = (time.time_ns() - since_ns) / 1e9
            logger.warning("the hub's spool can be written again after %.1f s; nothing was lost", seconds)
            message = (
                f"the hub could not write its spool for {seconds:.1f} s ({reason}); "
                "the data waited in the hub's memory and was spooled afterwards"
            )
            self._write(lambda: self.spool.put_event(self.uid, "spool_unwritable", message, t_ns=since_ns))

    def append(self, chunks: Sequence[SessionChunk]) -> None:
        session = uuid.UUID(self.uid)
        messages: list[IngestMessage] = [
            ChunkMessage(
                session=session,
                signal=c.signal,
                device=c.device,
                t_ns=c.t_ns.tolist(),
                values=np.asarray(c.values, dtype=np.float64).tolist(),
            )
            for c in chunks
        ]
        samples: dict[str, int] = {}
        for c in chunks:
            samples[c.signal] = samples.get(c.signal, 0) + len(c.t_ns)
        self._write(lambda: self.spool.put(self.uid, messages, samples=samples))

    def event(self, kind: str, message: str, *, t_ns: int | None = None) -> None:
        self._write(lambda: self.spool.put_event(self.uid, kind, message, t_ns=t_ns))

    def problem_count(self, count: int) -> None:
        self._write(lambda: self.spool.put(self.uid, [ProblemsMessage(session=uuid.UUID(self.uid), count=count)]))

    def finish(self, *, status: str, ended_at_ns: int) -> None:
        """End the session in the spool; SpoolUnwritable if what waits in memory still cannot be written."""
        self._write(lambda: self.spool.end_session(self.uid, status=status, ended_at_ns=ended_at_ns))
        if self._unwritable is not None:
            raise SpoolUnwritable(
                f"{self._unwritable[1]}; the session's last {len(self._waiting)} writes, kept in memory, are lost, "
                "and the session is ended as interrupted when the hub next starts"
            )
        self._lock.close()


@dataclass(frozen=True, slots=True)
class PatientOnServer:
    """Sessions of one patient, spooled on this hub for the server (a :class:`~monitor.sinks.SessionTarget`)."""

    spool: Spool
    patient: str
    """The pseudonym the server knows the patient by."""
    chunk_span_ns: int = STREAM_CHUNK_SPAN_NS

    def start_session(self, *, kind: str, started_at_ns: int, source: str, devices: str) -> SpoolSink:
        return self.spool.start_session(
            patient=self.patient,
            kind=kind,
            started_at_ns=started_at_ns,
            source=source,
            devices=devices,
            chunk_span_ns=self.chunk_span_ns,
        )


def _put(db: sqlite3.Connection, messages: Sequence[IngestMessage]) -> None:
    db.executemany(
        "INSERT INTO outbox (session, body) VALUES (?, ?)",
        [(str(m.session), m.model_dump_json()) for m in messages],
    )


def lock_file(path: Path, *, wait: bool) -> IO[bytes] | None:
    """The file, opened and exclusively locked; None if another process holds it and ``wait`` is false."""
    handle = open(path, "ab")  # noqa: SIM115  # held open for as long as the lock is
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        handle.close()
        return None
    os.set_inheritable(handle.fileno(), False)
    return handle
