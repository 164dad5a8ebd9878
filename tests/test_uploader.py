"""The hub's uploader against the real server app: the spool arrives whole and once, through refusals and outages.

Most tests run the app in-process through httpx's ASGI transport (``create_app`` has no
lifespan to run); the outage test serves it with uvicorn on a port that first refuses
connections, as a server that is down does.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt
import pytest
import uvicorn
from servers import free_ports
from sqlalchemy import select

from dashboard.app import create_app
from monitor.ingest.hubs import register_hub, revoke_hub
from monitor.ingest.spool import PatientOnServer, Spool, SpoolSink
from monitor.ingest.uploader import HubRefused, Uploader
from monitor.settings import Settings
from monitor.sinks import SessionChunk
from monitor.store import Patient, Store, TrainingSession

PATIENT = "p-7f3c21"
DEVICE = "Polar H10 0A1B2C3D"
T0_NS = 1_790_000_000_000_000_000
SECOND_NS = 1_000_000_000
IN_PROCESS_URL = "http://clinic.test"


@dataclass
class Clinic:
    """The server's store with one patient and one registered hub."""

    store: Store
    token: str

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=create_app(self.store))

    def session(self, uid: str) -> TrainingSession:
        with self.store.session() as db:
            session = db.scalar(select(TrainingSession).where(TrainingSession.uid == uid))
            assert session is not None, f"the server has no session {uid}"
            session.events  # noqa: B018  # loaded while the ORM session is open
            return session

    def session_count(self) -> int:
        with self.store.session() as db:
            return len(db.scalars(select(TrainingSession)).all())


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Clinic]:
    store = Store(f"sqlite:///{tmp_path / 'server.sqlite3'}")
    with store.session() as db:
        db.add(Patient(pseudonym=PATIENT, display_name="Ingrid Madsen"))
        db.commit()
    yield Clinic(store, register_hub(store, "gym-north"))
    store.close()


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    spool = Spool(tmp_path / "hub" / "spool")
    yield spool
    spool.close()


class RecordedRandom(random.Random):
    """A seeded generator that keeps the range of every delay drawn from it, and the delay."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.draws: list[tuple[float, float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        value = super().uniform(a, b)
        self.draws.append((a, b, value))
        return value


def uploader(
    spool: Spool,
    clinic: Clinic,
    *,
    url: str = IN_PROCESS_URL,
    token: str | None = None,
    batch_messages: int = 100,
    rng: random.Random | None = None,
) -> Uploader:
    """An uploader with millisecond backoff; in-process unless ``url`` names a real server."""
    return Uploader(
        spool,
        url,
        clinic.token if token is None else token,
        batch_messages=batch_messages,
        initial_delay_s=0.001,
        max_delay_s=0.01,
        rng=rng or random.Random(1),
        transport=clinic.transport() if url == IN_PROCESS_URL else None,
    )


@dataclass
class Recording:
    """A session spooled on the hub, and the samples it spooled per signal."""

    sink: SpoolSink
    samples: dict[str, list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]] = field(default_factory=dict)

    @property
    def uid(self) -> str:
        return self.sink.uid

    def expected(self, signal: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        parts = self.samples[signal]
        return np.concatenate([t for t, _ in parts]), np.concatenate([v for _, v in parts])


def walk(
    spool: Spool,
    *,
    patient: str = PATIENT,
    seconds: int = 3,
    started_at_ns: int = T0_NS,
    finish: bool = True,
    bad_acc_second: int | None = None,
) -> Recording:
    """A walk spooled as a recording spools it: each second heart rate, RR and 200 Hz acceleration.

    Every value is one the signal store holds exactly, so what the server reads back must
    equal it. ``bad_acc_second``: that second's acceleration is beyond int16.
    """
    sink = PatientOnServer(spool, patient).start_session(
        kind="walking", started_at_ns=started_at_ns, source="test", devices=DEVICE
    )
    recording = Recording(sink)
    for second in range(seconds):
        t0 = started_at_ns + second * SECOND_NS
        acc_t = t0 + np.arange(200, dtype=np.int64) * 5_000_000
        acc = np.column_stack([np.arange(200.0) - 100, np.full(200, -998.0), np.full(200, 40.0 + second)])
        if second == bad_acc_second:
            acc[7, 0] = 40_000.0
        chunks = [
            SessionChunk("hr_bpm", DEVICE, np.array([t0 + 500_000_000]), np.array([[90.0 + second, 1.0]])),
            SessionChunk("rr_ms", DEVICE, np.array([t0 + 250_000_000]), np.array([[650.0 + second / 4]])),
            SessionChunk("acc_mg", DEVICE, acc_t, acc),
        ]
        sink.append(chunks)
        for chunk in chunks:
            if second != bad_acc_second or chunk.signal != "acc_mg":
                recording.samples.setdefault(chunk.signal, []).append((chunk.t_ns, chunk.values))
        if second == 1:
            sink.event("link_lost", "H10 link lost for 2 s", t_ns=t0)
    sink.problem_count(2)
    if finish:
        sink.finish(status="complete", ended_at_ns=started_at_ns + seconds * SECOND_NS)
    return recording


def assert_holds(clinic: Clinic, recording: Recording) -> TrainingSession:
    """The server holds each spooled sample once, as spooled."""
    session = clinic.session(recording.uid)
    for signal in ("hr_bpm", "rr_ms", "acc_mg"):
        stored = clinic.store.signals.read(session.id, signal)
        t_ns, values = recording.expected(signal)
        np.testing.assert_array_equal(stored.t_ns, t_ns, err_msg=signal)
        np.testing.assert_array_equal(stored.values, values, err_msg=signal)
    return session


async def test_the_spool_drains_and_the_server_holds_exactly_what_was_spooled(clinic: Clinic, spool: Spool) -> None:
    ended = walk(spool, seconds=4)
    live = walk(spool, seconds=2, started_at_ns=T0_NS + 60 * SECOND_NS, finish=False)
    spooled = spool.pending_count()
    async with aclosing(uploader(spool, clinic, batch_messages=4)) as sending:  # many batches
        assert await sending.drain(timeout_s=30)
    assert (spool.pending_count(), sending.sent_count, sending.rejected_count) == (0, spooled, 0)
    assert [s.uid for s in spool.sessions()] == [live.uid]  # the ended session is the server's now

    session = assert_holds(clinic, ended)
    assert (session.status, session.malformed_count, session.duration_s) == ("complete", 2, 4.0)
    assert (session.hr_max_bpm, session.acc_sample_count, session.beat_count) == (93, 800, 4)
    assert [(e.seq, e.kind, e.t_ns) for e in session.events] == [(1, "link_lost", T0_NS + SECOND_NS)]
    still_recording = assert_holds(clinic, live)
    assert still_recording.status == "live"
    assert clinic.session_count() == 2
    live.sink.finish(status="complete", ended_at_ns=T0_NS + 62 * SECOND_NS)


async def test_a_chunk_the_server_cannot_store_is_set_aside_and_everything_else_arrives(
    clinic: Clinic, spool: Spool
) -> None:
    recording = walk(spool, seconds=4, bad_acc_second=1)  # one batch, the bad chunk in its middle
    spooled = spool.pending_count()
    async with aclosing(uploader(spool, clinic)) as sending:
        assert await sending.drain(timeout_s=30)
        assert (sending.rejected_count, sending.sent_count) == (1, spooled - 1)
    assert spool.rejected() == [
        (recording.uid, 422, "chunk of acc_mg: acc_mg values outside the int16 range of the store")
    ]
    session = assert_holds(clinic, recording)  # every other sample, the seconds after the bad one too
    assert (session.status, session.acc_sample_count, session.malformed_count) == ("complete", 600, 2)
    assert [e.kind for e in session.events] == ["link_lost"]
    assert spool.sessions() == []


async def test_a_session_for_a_patient_the_server_does_not_know_is_set_aside_and_the_others_arrive(
    clinic: Clinic, spool: Spool
) -> None:
    known = walk(spool, seconds=2)
    unknown = walk(spool, patient="p-000000", seconds=1, started_at_ns=T0_NS + SECOND_NS)
    after = walk(spool, seconds=2, started_at_ns=T0_NS + 90 * SECOND_NS)
    unknowns = [m for m in spool.pending(1000) if m.session == unknown.uid]
    async with aclosing(uploader(spool, clinic)) as sending:
        assert await sending.drain(timeout_s=30)
    refused = spool.rejected()
    assert [session for session, _, _ in refused] == [unknown.uid] * len(unknowns)
    assert refused[0] == (unknown.uid, 404, "no patient 'p-000000' on this server: register the patient first")
    assert all(status == 409 and "has not been started" in reason for _, status, reason in refused[1:])
    assert assert_holds(clinic, known).status == assert_holds(clinic, after).status == "complete"
    assert clinic.session_count() == 2
    assert spool.sessions() == []


@pytest.mark.parametrize("revoked", [False, True], ids=["unknown token", "revoked token"])
async def test_a_refused_token_stops_the_uploader_and_nothing_is_deleted(
    clinic: Clinic, spool: Spool, revoked: bool
) -> None:
    walk(spool, seconds=2)
    spooled = spool.pending(1000)
    token = clinic.token if revoked else "dosis_hub_" + "x" * 43
    if revoked:
        revoke_hub(clinic.store, "gym-north")
    async with aclosing(uploader(spool, clinic, token=token)) as sending:
        for _ in range(2):  # again: nothing is set aside however often it tries
            with pytest.raises(HubRefused, match="a registered hub's token is required"):
                await sending.step()
        with pytest.raises(HubRefused):
            await sending.patient_known(PATIENT)
    assert spool.pending(1000) == spooled
    assert spool.rejected() == []
    assert clinic.session_count() == 0


class ServerOnAPort:
    """The app served by uvicorn on a fixed loopback port: refusing connections until started."""

    def __init__(self, clinic: Clinic) -> None:
        (self.port,) = free_ports(1)
        self.url = f"http://127.0.0.1:{self.port}"
        # ws="none": ingest has no websockets, and uvicorn's websockets backends warn.
        config = uvicorn.Config(
            create_app(clinic.store), host="127.0.0.1", port=self.port, log_level="warning", ws="none"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert self._thread.is_alive(), "uvicorn did not start"
            assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


async def test_messages_wait_while_the_server_is_down_and_each_waiting_session_says_why(
    clinic: Clinic, spool: Spool
) -> None:
    first = walk(spool, seconds=2)
    second = walk(spool, seconds=2, started_at_ns=T0_NS + 30 * SECOND_NS, finish=False)
    spooled = spool.pending(1000)
    server = ServerOnAPort(clinic)
    # Three messages a batch: the batch that fails holds only the first session's, but both wait.
    async with aclosing(uploader(spool, clinic, url=server.url, batch_messages=3)) as sending:
        for _ in range(4):
            assert await sending.step()
        assert spool.pending(1000) == spooled
        assert spool.rejected() == []
        server.start()
        try:
            assert await sending.drain(timeout_s=30)
        finally:
            server.stop()
    assert assert_holds(clinic, first).status == "complete"
    assert assert_holds(clinic, second).status == "live"
    for recording in (first, second):
        session = clinic.session(recording.uid)
        (outage,) = [e for e in session.events if e.kind == "server_unreachable"]
        assert outage.seq == 2  # numbered after the session's own link_lost
        assert "the hub could not deliver to the server for" in outage.message
        assert "ConnectError" in outage.message
    assert spool.rejected() == []
    second.sink.finish(status="complete", ended_at_ns=T0_NS + 32 * SECOND_NS)


async def test_a_server_whose_signal_database_is_down_is_retried_and_nothing_is_set_aside(
    clinic: Clinic, spool: Spool
) -> None:
    (closed_port,) = free_ports(1)
    signals_down = Settings(influx_url=f"http://127.0.0.1:{closed_port}", influx_api="v1")
    store_without_signals = Store(clinic.store.url, settings=signals_down)
    app = create_app(store_without_signals)
    recording = walk(spool, seconds=2)
    spooled = spool.pending(1000)
    rng = RecordedRandom(3)
    sending = Uploader(
        spool,
        IN_PROCESS_URL,
        clinic.token,
        initial_delay_s=0.001,
        max_delay_s=0.01,
        rng=rng,
        transport=httpx.ASGITransport(app=app),
    )
    async with aclosing(sending):
        for _ in range(3):
            assert await sending.step()
        assert (spool.pending(1000), spool.rejected()) == (spooled, [])  # a 503 says "again", not "never"
        assert len(rng.draws) == 3
        app.state.store = clinic.store  # the signal database is back
        assert await sending.drain(timeout_s=30)
    store_without_signals.close()
    session = assert_holds(clinic, recording)
    (outage,) = [e for e in session.events if e.kind == "server_unreachable"]
    assert "(HTTP 503: the time-series database is unavailable; try again)" in outage.message


async def test_the_backoff_is_full_jitter_under_a_doubling_capped_ceiling(clinic: Clinic, spool: Spool) -> None:
    walk(spool, seconds=1)
    rng = RecordedRandom(7)
    (closed_port,) = free_ports(1)
    async with aclosing(uploader(spool, clinic, url=f"http://127.0.0.1:{closed_port}", rng=rng)) as sending:
        for _ in range(6):
            assert await sending.step()
    ceilings = [0.002, 0.004, 0.008, 0.01, 0.01, 0.01]  # 1 ms doubled per attempt, never above 10 ms
    assert [b for _, b, _ in rng.draws] == pytest.approx(ceilings)
    assert all(a == 0 <= delay <= b for a, b, delay in rng.draws)  # full jitter: anywhere from no wait up
    same_seed = random.Random(7)  # the delays come from the generator given, nothing else
    assert [delay for _, _, delay in rng.draws] == [same_seed.uniform(0, b) for _, b, _ in rng.draws]


async def test_drain_gives_up_at_its_timeout_and_keeps_every_message(clinic: Clinic, spool: Spool) -> None:
    (closed_port,) = free_ports(1)
    async with aclosing(uploader(spool, clinic, url=f"http://127.0.0.1:{closed_port}")) as sending:
        assert await sending.drain(timeout_s=0)  # nothing spooled: nothing to wait for
        walk(spool, seconds=1)
        spooled = spool.pending(1000)
        assert not await sending.drain(timeout_s=0.2)
        assert sending.sent_count == 0
    assert spool.pending(1000) == spooled
    assert spool.rejected() == []


async def test_a_second_uploader_on_the_spool_does_not_send_while_the_first_holds_the_lock(
    clinic: Clinic, spool: Spool
) -> None:
    recording = walk(spool, seconds=3)
    async with (
        aclosing(uploader(spool, clinic, batch_messages=2)) as first,
        aclosing(uploader(spool, clinic)) as second,
    ):
        assert await first.step()
        left = spool.pending(1000)
        assert not await second.step()
        assert not await second.drain(timeout_s=0.3)
        assert (spool.pending(1000), second.sent_count) == (left, 0)
        await first.aclose()  # the first process ends: its lock goes with it
        assert await second.drain(timeout_s=30)
        assert (first.sent_count, second.sent_count) == (2, len(left))
    assert_holds(clinic, recording)


async def test_the_hub_can_ask_whether_the_server_knows_a_patient(clinic: Clinic, spool: Spool) -> None:
    async with aclosing(uploader(spool, clinic)) as asking:
        assert await asking.patient_known(PATIENT) is True
        assert await asking.patient_known("p-000000") is False
    (closed_port,) = free_ports(1)
    async with aclosing(uploader(spool, clinic, url=f"http://127.0.0.1:{closed_port}")) as asking:
        assert await asking.patient_known(PATIENT) is None  # cannot be asked now
