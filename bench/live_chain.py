"""The live chain under load, shared by bench_capacity.py and bench_soak.py.

A clinic in a temporary SQLite store, its dashboard served by uvicorn, virtual Polar H10s
recorded live beside it (tests/live_recording.py: bleak, the H10 driver, the live
recorder, the LiveFeed), viewers that follow ``/api/live/stream`` over HTTP each in a
process of their own (as browsers on other machines would), and the checks at the end:
what each strap sent against what the store holds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from dashboard import create_app
from monitor.livefeed import LiveFeed
from monitor.settings import Settings
from monitor.store import Clinician, Patient, Store, TrainingSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser import serve
from helpers import open_browser_session
from live_recording import LiveRecording, Wearer
from proc_stats import cpu_s

DRAIN_S = 3.0
"""After the straps fall silent, before the sessions end: what is on its way arrives."""
ENDING_REPORT_AFTER_S = 60.0
"""Sessions still ending after this long: their tasks' stacks go to stderr, to show what they wait for."""


@dataclass
class ViewerLog:
    records: list[dict[str, Any]]
    """The first event showing each (session, heart-rate arrival): t_ms, session_id, hr_at, text
    (as tests/live_recording.latencies_ms takes them)."""
    events: dict[str, int]
    cpu_s: float


def follow_stream(url: str, cookie: str, until_s: float) -> ViewerLog:
    """Follow the live stream until the wall clock reaches ``until_s`` (in a viewer process)."""
    return asyncio.run(_follow(url, cookie, until_s))


async def _follow(url: str, cookie: str, until_s: float) -> ViewerLog:
    cpu_start = cpu_s()
    first: dict[tuple[int, str], dict[str, Any]] = {}
    events: Counter[str] = Counter()
    timeout = httpx.Timeout(10.0, read=30.0)
    async with (
        httpx.AsyncClient(timeout=timeout) as client,
        client.stream("GET", f"{url}/api/live/stream", headers={"Cookie": cookie}) as response,
    ):
        response.raise_for_status()
        kind = ""
        async for line in response.aiter_lines():
            t_ms = time.time_ns() / 1e6
            if line.startswith("event:"):
                kind = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                events[kind] += 1
                data = json.loads(line.removeprefix("data:"))
                shown = data["sessions"] if kind == "snapshot" else [data] if kind == "session" else []
                for session in shown:
                    if session["hr_at"]:
                        key = (session["session_id"], session["hr_at"])
                        first.setdefault(
                            key,
                            {"t_ms": t_ms, "session_id": key[0], "hr_at": key[1], "text": str(session["hr_bpm"])},
                        )
            if time.time() >= until_s:
                break
    return ViewerLog(list(first.values()), dict(events), cpu_s() - cpu_start)


@dataclass
class Chain:
    """A running clinic: its store, feed, URL, the recording and who wears which strap."""

    store: Store
    feed: LiveFeed
    url: str
    cookie: str
    """A signed-in clinician's session cookie, for the viewers."""
    recording: LiveRecording
    wearers: list[Wearer]
    session_of: dict[int, int]
    """Patient id → the id of the session recording now."""
    viewer_pool: ProcessPoolExecutor
    """Where the viewers run, each in a process of its own."""

    def watch(self, viewers: int, until_s: float) -> list[Future[ViewerLog]]:
        """Viewers that follow the live stream until the wall clock reaches ``until_s``; each gives its log."""
        return [self.viewer_pool.submit(follow_stream, self.url, self.cookie, until_s) for _ in range(viewers)]

    def sent(self) -> dict[int, list[tuple[int, int]]]:
        """Session id → its strap's (send time, bpm) of every heart rate."""
        return {self.session_of[w.patient_id]: list(w.strap.sent) for w in self.wearers if w.strap is not None}

    def fall_silent(self) -> None:
        """Every strap stops notifying (and counting what it sends); what is on its way still arrives."""

        def silence() -> None:
            for wearer in self.wearers:
                assert wearer.strap is not None
                wearer.strap.go_silent()

        self.recording.call(silence)

    def end(self, *, timeout_s: float) -> None:
        """End the sessions, once what was sent has arrived; raises if they are not stored within ``timeout_s``."""
        time.sleep(DRAIN_S)
        deadline = time.monotonic() + timeout_s
        self.recording.cancel(timeout_s=min(timeout_s, ENDING_REPORT_AFTER_S))
        if self.recording.running:
            print(f"The sessions had not ended {ENDING_REPORT_AFTER_S:g} s after they were cancelled:", file=sys.stderr)
            self.recording.call(_print_tasks)
            self.recording.cancel(timeout_s=max(0.0, deadline - time.monotonic()))
        if self.recording.running:
            raise RuntimeError(f"the sessions had not ended {timeout_s:g} s after they were cancelled")


def _print_tasks() -> None:
    """What a recording that does not end is waiting for, on stderr."""
    for task in asyncio.all_tasks():
        print(f"{task!r}", file=sys.stderr)
        task.print_stack(limit=12, file=sys.stderr)


def clinic_of(store: Store, patients: int, *, pseudonym_prefix: str) -> tuple[int, list[int]]:
    """A clinician and ``patients`` patients of theirs added to ``store``: the clinician's id, the patients' ids."""
    with store.session() as db:
        physio = Clinician(email="physio@example.invalid", display_name="Pia Physio")
        rows = [
            Patient(pseudonym=f"{pseudonym_prefix}{n:03d}", display_name=f"Patient {n}", clinician=physio)
            for n in range(patients)
        ]
        db.add_all([physio, *rows])
        db.commit()
        return physio.id, [row.id for row in rows]


@contextmanager
def live_chain(sessions: int, *, viewers: int, speed: float = 1.0, start_timeout_s: float = 30.0) -> Iterator[Chain]:
    """``sessions`` patients of one clinician recording live from virtual H10s looping the walking capture."""
    with tempfile.TemporaryDirectory(prefix="dosis-bench-live-chain-") as folder:
        data_dir = Path(folder)
        store = Store(f"sqlite:///{data_dir / 'dosis.sqlite3'}")
        try:
            physio_id, patient_ids = clinic_of(store, sessions, pseudonym_prefix="p-load")
            settings = Settings(data_dir=data_dir, cookie_secure=False)
            feed = LiveFeed()
            wearers = [Wearer(patient_id, "walking") for patient_id in patient_ids]
            recording = LiveRecording(
                store,
                feed,
                wearers,
                duration_s=7 * 24 * 3600.0,  # until Chain.end()
                at_end="loop",
                speed=speed,
                start_timeout_s=start_timeout_s,
            )
            with (
                serve(create_app(store, settings=settings, live_feed=feed)) as url,
                ProcessPoolExecutor(max_workers=max(1, viewers), mp_context=get_context("spawn")) as pool,
                recording,
            ):
                session_of = {s.info.patient_id: s.info.session_id for s in feed.snapshot()}
                browser_session = open_browser_session(store, settings, clinician_id=physio_id)
                cookie = f"{browser_session.cookie_name}={browser_session.token}"
                yield Chain(store, feed, url, cookie, recording, wearers, session_of, pool)
        finally:
            store.close()


@dataclass(frozen=True)
class Losses:
    hr_sent: int
    hr_lost: int
    """Heart rates sent and not stored as sent: missing, extra or of another value, in order."""
    acc_sent: int
    acc_lost: int
    """ACC samples sent and not stored, or stored and not sent."""
    malformed: int


def losses(chain: Chain) -> Losses:
    """What every strap sent against what its (ended) session holds."""
    hr_sent = hr_lost = acc_sent = acc_lost = 0
    signals = chain.store.signals
    for wearer in chain.wearers:
        assert wearer.strap is not None
        session_id = chain.session_of[wearer.patient_id]
        stored_bpm = signals.read(session_id, "hr_bpm").values[:, 0].astype(int).tolist()
        sent_bpm = [bpm for _, bpm in wearer.strap.sent]
        same = sum(a == b for a, b in zip(stored_bpm, sent_bpm, strict=False))
        hr_sent += len(sent_bpm)
        hr_lost += max(len(sent_bpm), len(stored_bpm)) - same
        acc_sent += wearer.strap.pmd_samples_sent
        acc_lost += abs(wearer.strap.pmd_samples_sent - len(signals.read(session_id, "acc_mg")))
    with chain.store.session() as db:
        ids = list(chain.session_of.values())
        counts = db.scalars(select(TrainingSession.malformed_count).where(TrainingSession.id.in_(ids)))
        malformed = sum(count or 0 for count in counts)
    return Losses(hr_sent, hr_lost, acc_sent, acc_lost, malformed)
