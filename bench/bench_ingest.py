"""Hub ingest: what one `dosis serve` on SQLite accepts from 1, 4 and 16 hubs streaming at once.

Run with `.venv/bin/python bench/bench_ingest.py` (part of `make bench`). For each number of
hubs a fresh `dosis serve` runs as a subprocess on its defaults (SQLite in a temporary data
folder), with one registered hub and one patient per simulated hub. Each hub records a
walking session through the real hub code: a :class:`~monitor.ingest.spool.PatientOnServer`
session's :class:`~monitor.ingest.spool.SpoolSink` puts every second's chunks (200 Hz ACC,
3 axes; the heart rate; RR at each beat) into a spool of its own, and an
:class:`~monitor.ingest.uploader.Uploader` with its default settings sends the spool to the
server, as `dosis record --server` does.

All hubs run in this one asyncio process. `dosis serve` is one Python process, so the
GIL keeps it to about one core; in one process the hubs also take at most about one core,
and the server keeps the other of a 2-core machine to itself. Hubs as separate processes
would contend for both. The cost is that the hubs' spool writes (SQLite, fsync on every
commit) block one another's event loop, which hubs on their own machines would not.

Two phases, one session per hub throughout:

- real time: every hub spools one second of its session each second (hubs out of step
  with one another); measured is the delay from a chunk's ``put`` into the spool to the
  server's acknowledgement of the batch that carried it.
- flat out: every hub spools as fast as it can while it has fewer than ``BACKLOG``
  messages unacknowledged (as after an outage, so every upload is a full batch); measured
  are the samples the server acknowledged per second, and the CPU time the server and
  the hubs spent meanwhile (``/proc``).

A sample is one stored value: an ACC sample is three (the axes), a heart rate two (rate
and contact), an RR interval one; a hub streams 603.25 a second, so "hubs at real time"
is the flat-out rate over 603.25. Every hub's acknowledged ACC samples are checked against
what the server's database holds for its session.

Last, the server's two own steps for a full upload, JSON to validated messages and
``apply_batch``, are timed in this process on uploads taken from a hub's spool, to tell
how much of the server's CPU time they are and how much is HTTP, FastAPI and the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select

from monitor.ingest.apply import apply_batch
from monitor.ingest.hubs import hub_for_token, register_hub
from monitor.ingest.spool import PatientOnServer, Spool, Spooled, SpoolSink
from monitor.ingest.uploader import Uploader
from monitor.ingest.wire import ChunkMessage, IngestBatch, IngestMessage
from monitor.settings import Settings
from monitor.sinks import SessionChunk
from monitor.store import SIGNALS, Patient, Store, TrainingSession

# `dosis serve` started as the tests start it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import DosisServer

HUB_COUNTS = (1, 4, 16)
UPLOADS_IN_PROCESS = 10
"""Full uploads the server's own steps are timed on, in this process."""
REAL_TIME_S = 10.0
FLAT_OUT_S = 12.0
WARM_UP_S = 2.0
"""The start of the flat-out phase left out of its throughput: backlogs build up, batches fill."""
BACKLOG = 300
"""Messages a hub lets wait unacknowledged in the flat-out phase: three of the uploader's batches."""
ACC_HZ = 200
SAMPLES_PER_HUB_S = ACC_HZ * 3 + 2 + 60 / 48 * 1
"""ACC, one heart rate and contact, RR at 75 bpm: 603.25 values a second."""


@dataclass(frozen=True, slots=True)
class Waiting:
    spooled_at_s: float
    phase: str
    signal: str | None
    """None: a message that carries no samples (the session's start)."""
    samples: int


@dataclass(frozen=True, slots=True)
class Acknowledged:
    at_s: float
    waited_s: float
    phase: str
    signal: str | None
    samples: int


class TimedSpool(Spool):
    """A hub's spool that notes when each message was spooled, and when the server acknowledged it.

    The uploader sends the spool oldest first and deletes (``sent``) exactly what the
    server acknowledged, so the messages acknowledged are always the oldest spooled.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.phase = "real time"
        self.waiting: deque[Waiting] = deque()
        self.acknowledged: list[Acknowledged] = []
        self.batches: list[tuple[str, int]] = []
        """(phase, messages) of each acknowledged upload."""

    def start_session(
        self, *, patient: str, kind: str, started_at_ns: int, source: str, devices: str, chunk_span_ns: int
    ) -> SpoolSink:
        sink = super().start_session(
            patient=patient,
            kind=kind,
            started_at_ns=started_at_ns,
            source=source,
            devices=devices,
            chunk_span_ns=chunk_span_ns,
        )
        self.waiting.append(Waiting(time.perf_counter(), self.phase, None, 0))
        return sink

    def put(self, uid: str, messages: Sequence[IngestMessage], *, samples: dict[str, int] | None = None) -> None:
        super().put(uid, messages, samples=samples)
        now = time.perf_counter()
        for m in messages:
            if not isinstance(m, ChunkMessage):
                raise RuntimeError(f"the bench spools chunks only, not {m.type}")
            self.waiting.append(Waiting(now, self.phase, m.signal, len(m.t_ns) * SIGNALS[m.signal].channels))

    def put_event(self, uid: str, kind: str, message: str, *, t_ns: int | None) -> None:
        """The uploader's note that the server failed for a while (spooled after everything else)."""
        super().put_event(uid, kind, message, t_ns=t_ns)
        self.waiting.append(Waiting(time.perf_counter(), self.phase, None, 0))

    def reject(self, message: Spooled, *, status: int, reason: str) -> None:
        raise RuntimeError(f"the server refused a message for good: HTTP {status}: {reason}")

    def sent(self, messages: Sequence[Spooled]) -> None:
        super().sent(messages)
        now = time.perf_counter()
        self.batches.append((self.phase, len(messages)))
        for _ in messages:
            w = self.waiting.popleft()
            self.acknowledged.append(Acknowledged(now, now - w.spooled_at_s, w.phase, w.signal, w.samples))


class WalkingSession:
    """A hub's session second by second: 200 Hz ACC in mG, the heart rate, RR at each beat (about 75 bpm)."""

    def __init__(self, *, started_at_ns: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.started_at_ns = started_at_ns
        # Whole mG as the H10 sends them; a minute's worth, repeated.
        self._acc = [np.rint(rng.normal(0, 250, (ACC_HZ, 3)) + np.array([0, 0, 1000])) for _ in range(60)]
        self._rng = rng
        self._next_beat_ns = started_at_ns + 400_000_000
        self.seconds = 0

    def next_second(self) -> list[SessionChunk]:
        k = self.seconds
        self.seconds += 1
        second_ns = self.started_at_ns + k * 1_000_000_000
        acc_t = second_ns + np.arange(ACC_HZ, dtype=np.int64) * (1_000_000_000 // ACC_HZ)
        beats, rr_ms = [], []
        while self._next_beat_ns < second_ns + 1_000_000_000:
            rr = int(self._rng.integers(780, 820)) * 1000 / 1024  # the strap's 1/1024 s units
            beats.append(self._next_beat_ns)
            rr_ms.append([rr])
            self._next_beat_ns += int(rr * 1e6)
        chunks = [
            SessionChunk("acc_mg", "Polar H10 0A1B2C3D", acc_t, self._acc[k % len(self._acc)]),
            SessionChunk("hr_bpm", "Polar H10 0A1B2C3D", np.array([second_ns + 500_000_000]), np.array([[75.0, 1.0]])),
        ]
        if beats:
            chunks.append(SessionChunk("rr_ms", "Polar H10 0A1B2C3D", np.array(beats), np.array(rr_ms)))
        return chunks


@dataclass
class SimulatedHub:
    spool: TimedSpool
    sink: SpoolSink
    session: WalkingSession
    uploader: Uploader

    async def stream_real_time(self, *, start_s: float, until_s: float) -> None:
        """One second of the session each second, from ``start_s`` (this hub's place in the second)."""
        while (due := start_s + self.session.seconds + 1) < until_s:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            self.sink.append(self.session.next_second())

    async def stream_flat_out(self, *, until_s: float) -> None:
        while time.perf_counter() < until_s:
            if len(self.spool.waiting) >= BACKLOG:
                await asyncio.sleep(0.005)
            else:
                self.sink.append(self.session.next_second())
                await asyncio.sleep(0)  # the other hubs and the uploaders

    async def acknowledged_all(self, *, timeout_s: float) -> None:
        deadline = time.perf_counter() + timeout_s
        while self.spool.waiting:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{len(self.spool.waiting)} messages not acknowledged within {timeout_s} s")
            await asyncio.sleep(0.05)


@dataclass
class Measured:
    hubs: int
    real_time_delays_s: list[float]
    flat_out_samples: int
    window_s: float
    server_cpu_s: float
    bench_cpu_s: float
    batch_messages: list[int] = field(default_factory=list)

    @property
    def samples_per_s(self) -> float:
        return self.flat_out_samples / self.window_s

    @property
    def samples_per_server_cpu_s(self) -> float:
        return self.flat_out_samples / self.server_cpu_s


def cpu_s(pid: int) -> float:
    """User and system CPU time of a process so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prepare_clinic(folder: Path, hubs: int) -> tuple[list[str], list[str]]:
    """The server's database with a patient and a registered hub per simulated hub: pseudonyms and tokens."""
    with contextlib.closing(Store.from_settings(Settings(data_dir=folder))) as store:
        pseudonyms = [f"p-bench{i:03d}" for i in range(hubs)]
        with store.session() as db:
            db.add_all(Patient(pseudonym=p, display_name=f"Bench Patient {i}") for i, p in enumerate(pseudonyms))
            db.commit()
        return pseudonyms, [register_hub(store, f"gym-{i:03d}") for i in range(hubs)]


def stored_acc_samples(folder: Path, uids: list[str]) -> list[int]:
    """ACC values (three a sample) the server's database holds for each session."""
    with contextlib.closing(Store.from_settings(Settings(data_dir=folder))) as store:
        with store.session() as db:
            ids = [db.scalar(select(TrainingSession.id).where(TrainingSession.uid == uid)) for uid in uids]
        return [0 if id_ is None else len(store.signals.read(id_, "acc_mg")) * 3 for id_ in ids]


async def measure(folder: Path, hub_count: int) -> Measured:
    folder.mkdir()
    pseudonyms, tokens = prepare_clinic(folder, hub_count)
    server = DosisServer(folder, {})
    server.start()
    try:
        return await stream(server, folder, pseudonyms, tokens)
    finally:
        server.stop()


async def stream(server: DosisServer, folder: Path, pseudonyms: list[str], tokens: list[str]) -> Measured:
    assert server._process is not None
    server_pid = server._process.pid
    hubs = []
    for i, (pseudonym, token) in enumerate(zip(pseudonyms, tokens, strict=True)):
        spool = TimedSpool(folder / f"hub{i:03d}" / "spool")
        session = WalkingSession(started_at_ns=time.time_ns() // 1_000_000_000 * 1_000_000_000, seed=i)
        sink = PatientOnServer(spool, pseudonym).start_session(
            kind="walking", started_at_ns=session.started_at_ns, source="bench", devices="Polar H10 0A1B2C3D"
        )
        hubs.append(SimulatedHub(spool, sink, session, Uploader(spool, server.url, token)))
    stop = asyncio.Event()
    uploading = [asyncio.create_task(hub.uploader.run(stop)) for hub in hubs]
    try:
        start_s = time.perf_counter()
        await asyncio.gather(
            *(
                hub.stream_real_time(start_s=start_s + i / len(hubs), until_s=start_s + REAL_TIME_S + 1)
                for i, hub in enumerate(hubs)
            )
        )
        await asyncio.gather(*(hub.acknowledged_all(timeout_s=30) for hub in hubs))
        for hub in hubs:
            hub.spool.phase = "flat out"
        start_s = time.perf_counter()
        flat_out = asyncio.gather(*(hub.stream_flat_out(until_s=start_s + FLAT_OUT_S) for hub in hubs))
        await asyncio.sleep(WARM_UP_S)
        window = (time.perf_counter(), cpu_s(server_pid), time.process_time())
        await flat_out
        window_end = (time.perf_counter(), cpu_s(server_pid), time.process_time())
    finally:
        stop.set()
        await asyncio.gather(*uploading)
        for hub in hubs:
            await hub.uploader.aclose()
            hub.spool.close()
    acknowledged = [a for hub in hubs for a in hub.spool.acknowledged]
    stored = stored_acc_samples(folder, [hub.sink.uid for hub in hubs])
    sent = [sum(a.samples for a in hub.spool.acknowledged if a.signal == "acc_mg") for hub in hubs]
    if stored != sent:
        raise RuntimeError(f"the server holds {stored} ACC values per session, the hubs had {sent} acknowledged")
    return Measured(
        hubs=len(hubs),
        real_time_delays_s=[a.waited_s for a in acknowledged if a.phase == "real time" and a.signal is not None],
        flat_out_samples=sum(a.samples for a in acknowledged if window[0] <= a.at_s <= window_end[0]),
        window_s=window_end[0] - window[0],
        server_cpu_s=window_end[1] - window[1],
        bench_cpu_s=window_end[2] - window[2],
        batch_messages=[n for hub in hubs for phase, n in hub.spool.batches if phase == "flat out"],
    )


@dataclass(frozen=True)
class UploadWork:
    """The server's own steps for one full upload, timed in this process."""

    samples: int
    parse_ms: float
    """JSON to validated messages, as FastAPI does it (``json.loads``, then the model)."""
    apply_ms: float
    """``apply_batch`` on SQLite."""


def server_work_per_upload(folder: Path) -> UploadWork:
    """Medians over full uploads of a hub's spool, built as the uploader builds its request bodies."""
    folder.mkdir()
    (pseudonym,), (token,) = prepare_clinic(folder, 1)
    spool = Spool(folder / "hub" / "spool")
    session = WalkingSession(started_at_ns=time.time_ns() // 1_000_000_000 * 1_000_000_000, seed=0)
    sink = PatientOnServer(spool, pseudonym).start_session(
        kind="walking", started_at_ns=session.started_at_ns, source="bench", devices="Polar H10 0A1B2C3D"
    )
    batch = 100  # the uploader's default batch_messages
    while spool.pending_count() <= (UPLOADS_IN_PROCESS + 1) * batch:
        sink.append(session.next_second())
    pending = spool.pending((UPLOADS_IN_PROCESS + 1) * batch)
    spool.close()
    bodies = [
        '{"messages":[' + ",".join(m.body for m in pending[i : i + batch]) + "]}" for i in range(0, len(pending), batch)
    ]
    parse_s, apply_s, samples = [], [], []
    with contextlib.closing(Store.from_settings(Settings(data_dir=folder))) as store:
        hub = hub_for_token(store, token)
        assert hub is not None
        for body in bodies:
            start = time.perf_counter()
            messages = IngestBatch.model_validate(json.loads(body)).messages
            parsed = time.perf_counter()
            apply_batch(store, hub, messages)
            parse_s.append(parsed - start)
            apply_s.append(time.perf_counter() - parsed)
            samples.append(
                sum(len(m.t_ns) * SIGNALS[m.signal].channels for m in messages if isinstance(m, ChunkMessage))
            )
    # The first upload starts the session; the others are as the server meets them mid-session.
    return UploadWork(
        int(statistics.median(samples[1:])),
        statistics.median(parse_s[1:]) * 1000,
        statistics.median(apply_s[1:]) * 1000,
    )


class _Outages(logging.Handler):
    """Counts the uploader's warnings: a server that failed a request under load."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def main() -> None:
    load = os.getloadavg()[0]
    # The server runs on its defaults: SQLite in its data folder, whatever this shell sets.
    for key in [k for k in os.environ if k.startswith("DOSIS_")]:
        del os.environ[key]
    outages = _Outages()
    logging.getLogger("monitor.ingest.uploader").addHandler(outages)
    with tempfile.TemporaryDirectory() as folder:
        results = [asyncio.run(measure(Path(folder) / f"clinic{n}", n)) for n in HUB_COUNTS]
        work = server_work_per_upload(Path(folder) / "in-process")
    report(results, work, outages.messages, load)


def report(results: list[Measured], work: UploadWork, outages: list[str], load: float) -> None:
    print(
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, load average {load:.2f} "
        "at the start; `dosis serve` on SQLite (one process), the hubs in one asyncio process."
    )
    print(
        f"Real time: {REAL_TIME_S:.0f} s at 1 s of session a second per hub. Flat out: {FLAT_OUT_S:.0f} s, the "
        f"first {WARM_UP_S:.0f} s left out. A hub at real time streams {SAMPLES_PER_HUB_S:.2f} samples/s.\n"
    )
    print(
        "| hubs | real time: spool → ack, median / p95 | flat out: samples/s accepted | hubs at real time "
        "| server CPU | hubs' CPU | samples per server CPU-s | hubs per server core | messages per upload |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        delays_ms = np.array(r.real_time_delays_s) * 1000
        print(
            f"| {r.hubs} | {np.median(delays_ms):.0f} / {np.percentile(delays_ms, 95):.0f} ms "
            f"| {r.samples_per_s:,.0f} | {r.samples_per_s / SAMPLES_PER_HUB_S:.0f} "
            f"| {r.server_cpu_s / r.window_s:.0%} | {r.bench_cpu_s / r.window_s:.0%} "
            f"| {r.samples_per_server_cpu_s:,.0f} | {r.samples_per_server_cpu_s / SAMPLES_PER_HUB_S:.0f} "
            f"| {statistics.median(r.batch_messages):.0f} |"
        )
    print(f"\nServer failures the uploaders retried: {len(outages)}" + (f" ({outages[0]})" if outages else ""))
    steps_ms = work.parse_ms + work.apply_ms
    print(
        f"\nThe server's own steps for a full upload (100 messages, {work.samples:,} samples), timed in this "
        f"process: JSON and validation {work.parse_ms:.1f} ms, apply_batch on SQLite {work.apply_ms:.1f} ms; "
        f"{work.samples / steps_ms * 1000:,.0f} samples per CPU-s for the two."
    )


if __name__ == "__main__":
    main()
