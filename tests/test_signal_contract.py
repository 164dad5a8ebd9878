"""One contract every SignalStore passes: SQLite, PostgreSQL, InfluxDB 1.x and 2.x, and VictoriaMetrics.

Each backend runs on its real server; InfluxDB 2.x only where one is given (``INFLUXDB_URL``,
see ``influxdb2_bucket`` in servers.py), as none can be installed here. Where a backend keeps
less than the others the test says exactly how much less: VictoriaMetrics cuts times down to
the millisecond, and leaves retention to its ``-retentionPeriod``. Then what only the InfluxDB
store has: ingest over a server outage, refused writes, and which tags reach the server.
"""

from __future__ import annotations

import functools
import itertools
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx
import numpy as np
import numpy.typing as npt
import pytest

from monitor.store import Patient, Store, TrainingSession
from monitor.store.influx import Api, InfluxSignalStore
from monitor.store.signals import SIGNALS, UNIFORM_TOLERANCE_NS, Chunk, SignalStore, SignalStoreUnavailable, decimate

if TYPE_CHECKING:
    from servers import InfluxDB1Server, InfluxDB2Bucket, VictoriaMetricsServer

T0 = 1_793_610_000_000_000_000  # 2026-11-02 08:20 UTC
SECOND = 1_000_000_000

# The tests share one VictoriaMetrics with every other test module: session ids from a
# random start keep this run's series apart from any other writer's.
_session_ids = itertools.count(10**9 + secrets.randbelow(10**9) * 1000)


@dataclass
class Backend:
    store: SignalStore
    new_session: Callable[[], int]
    settle: Callable[[], None]
    """Makes everything appended readable (a batching writer and VictoriaMetrics hold writes back)."""
    time_step_ns: int
    """Times are kept to whole multiples of this: 1 ns, or 1 ms on VictoriaMetrics (cut down, not rounded)."""
    evenly_spaced_within_ns: int
    """The SQL store gives a chunk evenly spaced within this back exactly evenly spaced (its times move by ≤ this)."""
    retention_removes: Literal["chunks", "points", "nothing"]

    def kept(self, t_ns: npt.ArrayLike) -> npt.NDArray[np.int64]:
        return np.asarray(t_ns, dtype=np.int64) // self.time_step_ns * self.time_step_ns


def _sql_backend(url: str) -> Iterator[Backend]:
    store = Store(url)
    with store.session() as db:
        patient = Patient(pseudonym="p-contract", display_name="Test Patient")
        db.add(patient)
        db.commit()

    def new_session() -> int:
        with store.session() as db:
            session = TrainingSession(patient_id=patient.id, kind="walking", started_at=datetime.fromtimestamp(0, UTC))
            db.add(session)
            db.commit()
            return session.id

    yield Backend(
        store.signals,
        new_session,
        settle=lambda: None,
        time_step_ns=1,
        evenly_spaced_within_ns=UNIFORM_TOLERANCE_NS,
        retention_removes="chunks",
    )
    store.close()


def _pseudonymous_sessions(pseudonyms: dict[int, str]) -> Callable[[], int]:
    def new_session() -> int:
        session_id = next(_session_ids)
        pseudonyms[session_id] = f"p-{session_id:x}"
        return session_id

    return new_session


def _victoriametrics_flush(url: str) -> None:
    # VictoriaMetrics makes samples searchable about once a second; the tests cannot wait that long.
    httpx.get(f"{url}/internal/force_flush", timeout=10).raise_for_status()


def _victoriametrics_store(url: str, patient_for_session: Callable[[int], str], **options: Any) -> InfluxSignalStore:
    return InfluxSignalStore(
        url, "dosis", patient_for_session, api="v2", server="victoriametrics", flush_interval_ms=50, **options
    )


def _influxdb2_store(bucket: InfluxDB2Bucket, patient_for_session: Callable[[int], str]) -> InfluxSignalStore:
    """As production runs it: batched v2 writes, InfluxQL reads through v1 compatibility."""
    return InfluxSignalStore(
        bucket.url,
        bucket.bucket,
        patient_for_session,
        api="v2",
        server="influxdb",
        token=bucket.token,
        org=bucket.org,
        flush_interval_ms=50,
    )


@pytest.fixture(params=["sqlite", "postgresql", "influxdb1", "influxdb2", "victoriametrics"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A signal store on each backend, the servers' fixtures asked for only when their backend runs."""
    if request.param == "sqlite":
        yield from _sql_backend(f"sqlite:///{tmp_path / 'dosis.sqlite3'}")
        return
    if request.param == "postgresql":
        yield from _sql_backend(request.getfixturevalue("postgres_url"))
        return
    pseudonyms: dict[int, str] = {}
    if request.param.startswith("influxdb"):
        if request.param == "influxdb1":
            url, database = request.getfixturevalue("influxdb1_url"), request.getfixturevalue("influxdb1_database")
            store = InfluxSignalStore(url, database, pseudonyms.__getitem__)
        else:
            store = _influxdb2_store(request.getfixturevalue("influxdb2_bucket"), pseudonyms.__getitem__)
        yield Backend(
            store,
            _pseudonymous_sessions(pseudonyms),
            settle=store.flush,
            time_step_ns=1,
            evenly_spaced_within_ns=0,
            retention_removes="points",
        )
    else:
        url = request.getfixturevalue("victoriametrics_url")
        store = _victoriametrics_store(url, pseudonyms.__getitem__)

        def settle() -> None:
            store.flush()
            _victoriametrics_flush(url)

        yield Backend(
            store,
            _pseudonymous_sessions(pseudonyms),
            settle=settle,
            time_step_ns=1_000_000,
            evenly_spaced_within_ns=0,
            retention_removes="nothing",
        )
    store.close()


def _samples(signal: str, n: int, rng: np.random.Generator) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """``n`` samples of ``signal`` as the wearables send them, at their rates."""
    if signal == "acc_mg":
        return T0 + np.arange(n) * 5_000_000, rng.integers(-32768, 32768, (n, 3)).astype(float)
    if signal == "hr_bpm":
        return T0 + np.arange(n) * SECOND, np.column_stack([rng.integers(40, 221, n), rng.integers(-1, 2, n)])
    if signal == "ecg_uv":
        t_ns = T0 + np.rint(np.arange(n) * SECOND / 130).astype(np.int64)  # 130 Hz: between whole ms
        return t_ns, rng.integers(-20000, 20001, (n, 1)).astype(float)
    beats = rng.integers(300, 2000, n)
    beat_times = T0 + np.cumsum(beats * SECOND // 1024)
    if signal == "rr_ms":  # the H10 sends RR intervals in 1/1024 s
        return beat_times, (beats * 1000 / 1024)[:, None]
    assert signal == "ppi_ms"  # the Verity sends whole ms, an error estimate in ms and two flags
    return beat_times, np.column_stack([beats, rng.integers(5, 60, n), rng.integers(0, 2, n), rng.integers(0, 2, n)])


def test_every_signal_round_trips_exactly(backend: Backend) -> None:
    session_id = backend.new_session()
    rng = np.random.default_rng(1)
    written = {signal: _samples(signal, 400, rng) for signal in SIGNALS}
    for signal, (t_ns, values) in written.items():
        backend.store.append(session_id, signal, "h10", t_ns[:250], values[:250])
        backend.store.append(session_id, signal, "h10", t_ns[250:], values[250:])
    # Any float32 comes back as written, not only whole µV and 1/1024 s: here with many more digits.
    any_float32 = rng.uniform(-3000, 3000, (400, 1)).astype(np.float32).astype(float)
    backend.store.append(session_id, "ecg_uv", "lab", written["ecg_uv"][0], any_float32)
    backend.settle()
    for signal, (t_ns, values) in written.items():
        read = backend.store.read(session_id, signal, device="h10")
        assert len(read) == len(t_ns), signal
        assert np.max(np.abs(read.t_ns - backend.kept(t_ns))) <= backend.evenly_spaced_within_ns, signal
        np.testing.assert_array_equal(read.values, values, err_msg=signal)
        assert read.values.dtype == np.float64
    np.testing.assert_array_equal(backend.store.read(session_id, "ecg_uv", device="lab").values, any_float32)


def test_time_range_and_device_reads(backend: Backend) -> None:
    session_id = backend.new_session()
    odd_name = 'strap ,=\' "x" åø'  # every character line protocol, InfluxQL and selectors escape
    t_ns = T0 + np.arange(20) * SECOND
    bpm = np.column_stack([np.arange(20) + 60, np.ones(20)])
    backend.store.append(session_id, "hr_bpm", "Polar H10 0A1B2C3D", t_ns[:10], bpm[:10])
    backend.store.append(session_id, "hr_bpm", "Polar H10 0A1B2C3D", t_ns[10:], bpm[10:])
    backend.store.append(session_id, "hr_bpm", odd_name, t_ns[:5], bpm[:5] + 100)
    backend.settle()

    part = backend.store.read(
        session_id, "hr_bpm", device="Polar H10 0A1B2C3D", t_from_ns=int(t_ns[8]), t_to_ns=int(t_ns[12])
    )
    np.testing.assert_array_equal(part.t_ns, t_ns[8:13])
    assert part.values[:, 0].tolist() == [68, 69, 70, 71, 72]
    odd = backend.store.read(session_id, "hr_bpm", device=odd_name, t_from_ns=int(t_ns[3]))
    assert odd.values[:, 0].tolist() == [163, 164]
    everything = backend.store.read(session_id, "hr_bpm")
    assert np.all(np.diff(everything.t_ns) >= 0)
    # Two devices' samples at one time come in no set order.
    assert sorted(zip(everything.t_ns.tolist(), everything.values[:, 0].tolist(), strict=True)) == sorted(
        [(t, v) for t, v in zip(t_ns.tolist(), bpm[:, 0].tolist(), strict=True)]
        + [(t, v + 100) for t, v in zip(t_ns[:5].tolist(), bpm[:5, 0].tolist(), strict=True)]
    )
    assert len(backend.store.read(session_id, "hr_bpm", t_to_ns=T0 - 1)) == 0
    assert len(backend.store.read(session_id, "hr_bpm", device="nobody")) == 0
    assert len(backend.store.read(backend.new_session(), "hr_bpm")) == 0


def test_decimated_reads_keep_the_peaks_and_are_decimate_of_the_read(backend: Backend) -> None:
    session_id = backend.new_session()
    t_ns = T0 + np.arange(1000) * 5_000_000  # 5 s at 200 Hz
    z = np.zeros(1000)
    z[137], z[862] = 1500, -1200  # one-sample spikes a plain subsample would miss
    backend.store.append(session_id, "acc_mg", "h10", t_ns, np.column_stack([z, z, z]))
    other = np.zeros((1000, 3))
    other[500] = 9000
    backend.store.append(session_id, "acc_mg", "strap", t_ns + 1_000_000, other)
    backend.settle()

    windows: list[dict[str, Any]] = [
        {"max_points": 50, "device": "h10"},
        {"max_points": 10, "device": "h10", "t_from_ns": T0 + SECOND, "t_to_ns": T0 + 2 * SECOND},
        {"max_points": 7, "t_from_ns": T0 + 2 * SECOND},
        {"max_points": 3000},  # more points than samples: a bucket per sample
    ]
    for window in windows:
        chart = backend.store.read_decimated(session_id, "acc_mg", channel=2, **window)
        bounds = {k: v for k, v in window.items() if k != "max_points"}
        expected = decimate(
            backend.store.read(session_id, "acc_mg", **bounds),
            max_points=window["max_points"],
            channel=2,
            t_from_ns=window.get("t_from_ns"),
            t_to_ns=window.get("t_to_ns"),
        )
        assert chart.bucket_ns == expected.bucket_ns, window
        np.testing.assert_array_equal(chart.t_ns, expected.t_ns, err_msg=str(window))
        np.testing.assert_array_equal(chart.min, expected.min, err_msg=str(window))
        np.testing.assert_array_equal(chart.max, expected.max, err_msg=str(window))

    chart = backend.store.read_decimated(session_id, "acc_mg", max_points=50, channel=2, device="h10")
    assert len(chart) == 50
    assert (chart.max.max(), chart.min.min()) == (1500, -1200)
    assert chart.max[137 * 5_000_000 // chart.bucket_ns] == 1500
    both = backend.store.read_decimated(session_id, "acc_mg", max_points=50, channel=2)
    assert (both.max.max(), both.min.min()) == (9000, -1200)
    quiet = backend.store.read_decimated(
        session_id, "acc_mg", max_points=10, channel=2, device="h10", t_from_ns=T0 + SECOND, t_to_ns=T0 + 2 * SECOND
    )
    assert (len(quiet), quiet.t_ns[0], quiet.max.max(), quiet.min.min()) == (10, T0 + SECOND, 0, 0)
    nothing = backend.store.read_decimated(session_id, "acc_mg", max_points=10, device="nobody")
    assert (len(nothing), nothing.bucket_ns) == (0, 1)
    with pytest.raises(ValueError, match="max_points"):
        backend.store.read_decimated(session_id, "acc_mg", max_points=0)


def test_deleting_sessions_leaves_the_others(backend: Backend) -> None:
    first, second, kept = (backend.new_session() for _ in range(3))
    for session_id in (first, second, kept):
        backend.store.append(session_id, "hr_bpm", "h10", [T0, T0 + SECOND], [[70, 1], [71, 1]])
        backend.store.append(session_id, "rr_ms", "h10", [T0 + 5 * 10**8], [850.0])
    backend.settle()

    backend.store.delete_session(first)
    assert (len(backend.store.read(first, "hr_bpm")), len(backend.store.read(first, "rr_ms"))) == (0, 0)
    assert len(backend.store.read(second, "hr_bpm")) == 2
    backend.store.delete_sessions([second, kept + 1000])
    backend.store.delete_sessions([])
    assert len(backend.store.read(second, "rr_ms")) == 0
    assert backend.store.read(kept, "hr_bpm").values.tolist() == [[70, 1], [71, 1]]
    assert backend.store.read(kept, "rr_ms").values.tolist() == [[850.0]]


def test_devices_are_those_with_samples_of_the_signal_in_the_session(backend: Backend) -> None:
    session_id, other = backend.new_session(), backend.new_session()
    odd_name = 'strap ,=\' "x" åø'  # every character line protocol, InfluxQL and selectors escape
    for device in ("verity", odd_name, "h10", "Polar H10 0A1B2C3D"):
        backend.store.append(session_id, "hr_bpm", device, [T0, T0 + SECOND], [[70, 1], [71, 1]])
    backend.store.append(session_id, "rr_ms", "h10", [T0 + 5 * 10**8], [850.0])
    backend.store.append(other, "hr_bpm", "strap", [T0], [[60, 1]])
    backend.settle()

    assert backend.store.devices(session_id, "hr_bpm") == ["Polar H10 0A1B2C3D", "h10", odd_name, "verity"]
    assert backend.store.devices(session_id, "rr_ms") == ["h10"]
    assert backend.store.devices(session_id, "acc_mg") == []
    assert backend.store.devices(other, "hr_bpm") == ["strap"]
    assert backend.store.devices(backend.new_session(), "hr_bpm") == []
    with pytest.raises(KeyError, match="heart_rate"):
        backend.store.devices(session_id, "heart_rate")

    backend.store.delete_session(session_id)
    assert (backend.store.devices(session_id, "hr_bpm"), backend.store.devices(session_id, "rr_ms")) == ([], [])
    assert backend.store.devices(other, "hr_bpm") == ["strap"]


def test_a_device_whose_samples_all_expired_is_no_longer_listed(backend: Backend) -> None:
    session_id = backend.new_session()
    backend.store.append(session_id, "hr_bpm", "strap", [T0, T0 + SECOND], [[60, 1], [61, 1]])
    backend.store.append(session_id, "hr_bpm", "h10", [T0 + SECOND, T0 + 5 * SECOND], [[70, 1], [71, 1]])
    backend.settle()

    backend.store.apply_retention(older_than_ns=T0 + 2 * SECOND)
    kept = ["h10", "strap"] if backend.retention_removes == "nothing" else ["h10"]
    assert backend.store.devices(session_id, "hr_bpm") == kept


def test_retention_removes_what_ended_before_the_cut_off(backend: Backend) -> None:
    session_id = backend.new_session()
    for k in range(5):  # five chunks of two samples, one a second
        backend.store.append(
            session_id, "hr_bpm", "h10", [T0 + k * SECOND, T0 + k * SECOND + 5 * 10**8], [[60 + k, 1]] * 2
        )
    backend.settle()

    removed = backend.store.apply_retention(older_than_ns=T0 + 2 * SECOND)
    left = backend.store.read(session_id, "hr_bpm").values[:, 0].tolist()
    if backend.retention_removes == "nothing":
        assert (removed, left) == (0, [60, 60, 61, 61, 62, 62, 63, 63, 64, 64])
    else:
        assert removed == {"chunks": 2, "points": 4}[backend.retention_removes]
        assert left == [62, 62, 63, 63, 64, 64]
    assert backend.store.apply_retention(older_than_ns=T0) == 0


def test_rewrites_are_stored_once(backend: Backend) -> None:
    session_id = backend.new_session()
    t_ns = T0 + np.arange(10) * SECOND
    bpm = np.column_stack([np.arange(60, 70), np.ones(10)])
    batch = [
        Chunk(session_id, "acc_mg", "h10", T0 + np.arange(3) * 5_000_000, [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
        Chunk(session_id, "rr_ms", "h10", [T0 + 7 * 10**8], [700.0]),
    ]
    for _ in range(3):
        backend.store.append(session_id, "hr_bpm", "h10", t_ns, bpm)
    backend.store.append_many(batch)
    backend.store.append_many(batch)
    backend.settle()

    np.testing.assert_array_equal(backend.store.read(session_id, "hr_bpm").values, bpm)
    assert backend.store.read(session_id, "acc_mg").values.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert backend.store.read(session_id, "rr_ms").values.tolist() == [[700.0]]


def test_append_many_writes_a_batch_and_refuses_a_bad_one_whole(backend: Backend) -> None:
    session_id = backend.new_session()
    backend.store.append_many(
        [
            Chunk(session_id, "acc_mg", "h10", T0 + np.arange(2) * 5_000_000, [[1, 2, 3], [4, 5, 6]]),
            Chunk(session_id, "acc_mg", "verity", [T0 + 2_500_000], [[0, 0, 1000]]),
            Chunk(session_id, "hr_bpm", "h10", [T0], [[72, 1]]),
        ]
    )
    backend.store.append_many([])
    with pytest.raises(ValueError, match="3 channels"):
        backend.store.append_many(
            [
                Chunk(session_id, "acc_mg", "h10", [T0 + SECOND], [[7, 8, 9]]),
                Chunk(session_id, "acc_mg", "h10", [T0 + 2 * SECOND], [[1, 2]]),
            ]
        )
    backend.settle()

    acc = backend.store.read(session_id, "acc_mg")
    np.testing.assert_array_equal(acc.t_ns, backend.kept([T0, T0 + 2_500_000, T0 + 5_000_000]))
    assert acc.values[:, 2].tolist() == [3, 1000, 6]  # nothing of the refused batch
    assert backend.store.read(session_id, "acc_mg", device="verity").values.tolist() == [[0, 0, 1000]]
    assert backend.store.read(session_id, "hr_bpm").values.tolist() == [[72, 1]]


def _influxql(url: str, database: str, query: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Token {token}"} if token else {}
    params = {"db": database, "epoch": "ns"}
    response = httpx.post(f"{url}/query", params=params, data={"q": query}, headers=headers, timeout=10)
    response.raise_for_status()
    return response.json()["results"][0]


def test_influxdb1_ingest_through_an_outage_stores_every_sample_once(
    influxdb1_server: InfluxDB1Server, influxdb1_url: str, influxdb1_database: str
) -> None:
    store = InfluxSignalStore(influxdb1_url, influxdb1_database, lambda _: "p-outage", timeout_s=2)
    rng = np.random.default_rng(3)
    acc = rng.integers(-4000, 4000, (30 * 200, 3)).astype(float)
    t_ns = T0 + np.arange(30 * 200) * 5_000_000
    spool: list[int] = []
    for second in range(30):  # one 1 s chunk a second, as a live session appends them
        if second == 10:
            influxdb1_server.stop()
        if second == 20:
            influxdb1_server.start()
        part = slice(second * 200, (second + 1) * 200)
        try:
            store.append(1, "acc_mg", "h10", t_ns[part], acc[part])
        except SignalStoreUnavailable:
            spool.append(second)
    assert spool == list(range(10, 20))
    influxdb1_server.stop()
    with pytest.raises(SignalStoreUnavailable, match="cannot be reached"):
        store.read(1, "acc_mg")
    influxdb1_server.start()

    for second in [9, *spool]:  # a chunk stored before is sent again too: a spool need not know where an outage began
        part = slice(second * 200, (second + 1) * 200)
        store.append(1, "acc_mg", "h10", t_ns[part], acc[part])
    counted = _influxql(influxdb1_url, influxdb1_database, 'SELECT count("x"), count("z") FROM "acc_mg"')
    assert counted["series"][0]["values"] == [[0, 6000, 6000]]
    read = store.read(1, "acc_mg")
    np.testing.assert_array_equal(read.t_ns, t_ns)
    np.testing.assert_array_equal(read.values, acc)
    store.close()


def test_batching_writer_keeps_failed_batches_until_victoriametrics_returns(
    victoriametrics_server: VictoriaMetricsServer, victoriametrics_url: str
) -> None:
    session_id = next(_session_ids)
    store = _victoriametrics_store(victoriametrics_url, lambda _: "p-outage", max_retries=0, timeout_s=2)
    t_ns = T0 + np.arange(3 * 200) * 5_000_000
    acc = np.random.default_rng(4).integers(-4000, 4000, (3 * 200, 3)).astype(float)
    store.append(session_id, "acc_mg", "h10", t_ns[:200], acc[:200])
    store.flush()

    victoriametrics_server.stop()
    try:
        store.append(session_id, "acc_mg", "h10", t_ns[200:400], acc[200:400])  # queued, then fails in the background
        with pytest.raises(SignalStoreUnavailable, match="200 lines are not written"):
            store.flush()
        with pytest.raises(SignalStoreUnavailable, match="flush"):  # the caller spools this one
            store.append(session_id, "acc_mg", "h10", t_ns[400:], acc[400:])
    finally:
        victoriametrics_server.start()
    store.flush()  # sends the failed batch again
    store.append(session_id, "acc_mg", "h10", t_ns[400:], acc[400:])
    store.close()

    _victoriametrics_flush(victoriametrics_url)
    exported = victoriametrics_server.export(f'{{__name__="acc_mg_x",session="{session_id}"}}')
    assert [len(series["timestamps"]) for series in exported] == [600]
    reader = _victoriametrics_store(victoriametrics_url, lambda _: "p-outage")
    read = reader.read(session_id, "acc_mg")
    reader.close()
    np.testing.assert_array_equal(read.t_ns, t_ns)
    np.testing.assert_array_equal(read.values, acc)


@pytest.mark.parametrize(
    ("api", "database", "message"),
    [
        ("v1", "no_such_database", "database not found"),
        ("v2", "dosis", r"refused 1 lines: \(404\)"),  # InfluxDB 1.6 has no /api/v2/write
    ],
)
def test_a_refused_write_is_not_unavailability(influxdb1_url: str, api: Api, database: str, message: str) -> None:
    store = InfluxSignalStore(influxdb1_url, database, lambda _: "p-1", api=api, flush_interval_ms=50)

    def write() -> None:
        store.append(1, "hr_bpm", "h10", [T0], [[60, 1]])
        store.flush()

    with pytest.raises(RuntimeError, match=message) as refused:
        write()
    assert not isinstance(refused.value, SignalStoreUnavailable)  # a spool would retry it forever
    store.close()  # nothing was kept to send again


@pytest.mark.parametrize(
    ("signal", "device", "t_ns", "values", "message"),
    [
        ("rr_ms", "h10", [T0, T0 + SECOND], [800.0, float("nan")], "NaN"),
        ("hr_bpm", "h10", [T0, T0], [[60, 1], [61, 1]], "two samples at one time"),
        ("hr_bpm", "C:\\strap", [T0], [[60, 1]], "backslash"),
        ("acc_mg", "h10", [T0], [[40000.0, 0, 0]], "int16 range"),
    ],
)
def test_data_influxdb_cannot_hold_is_refused_before_writing(
    influxdb1_url: str, influxdb1_database: str, signal: str, device: str, t_ns: list[int], values: Any, message: str
) -> None:
    store = InfluxSignalStore(influxdb1_url, influxdb1_database, lambda _: "p-1")
    with pytest.raises(ValueError, match=message):
        store.append_many([Chunk(1, "rr_ms", "h10", [T0 - SECOND], [900.0]), Chunk(1, signal, device, t_ns, values)])
    assert _influxql(influxdb1_url, influxdb1_database, "SHOW SERIES") == {"statement_id": 0}
    store.close()


@pytest.mark.parametrize("server", ["influxdb1", "influxdb2", "victoriametrics"])
def test_series_carry_the_pseudonym_session_and_device_and_no_name(
    request: pytest.FixtureRequest, tmp_path: Path, server: str
) -> None:
    clinic = Store(f"sqlite:///{tmp_path / 'dosis.sqlite3'}")
    session_id = next(_session_ids)
    with clinic.session() as db:
        patient = Patient(pseudonym="p-7f3c", display_name="Ingrid Marie Hansen")
        patient.sessions.append(TrainingSession(id=session_id, kind="walking", started_at=datetime.now(UTC)))
        db.add(patient)
        db.commit()

    def pseudonym(of_session: int) -> str:
        with clinic.session() as db:
            return db.get_one(TrainingSession, of_session).patient.pseudonym

    series_keys: Callable[[], list[str]] | None = None
    """SHOW SERIES: a series key is all InfluxDB indexes (measurement, tag keys and tag values)."""
    if server == "influxdb1":
        url, database = request.getfixturevalue("influxdb1_url"), request.getfixturevalue("influxdb1_database")
        store = InfluxSignalStore(url, database, pseudonym)
        series_keys = functools.partial(_series_keys, url, database)
    elif server == "influxdb2":
        bucket = request.getfixturevalue("influxdb2_bucket")
        store = _influxdb2_store(bucket, pseudonym)
        series_keys = functools.partial(_series_keys, bucket.url, bucket.bucket, bucket.token)
    else:
        url = request.getfixturevalue("victoriametrics_url")
        store = _victoriametrics_store(url, pseudonym)
    rng = np.random.default_rng(5)
    for signal in SIGNALS:
        store.append(session_id, signal, "Polar H10 0A1B2C3D", *_samples(signal, 3, rng))
    store.flush()
    if series_keys is not None:
        assert series_keys() == sorted(
            rf"{signal},device=Polar\ H10\ 0A1B2C3D,patient=p-7f3c,session={session_id}" for signal in SIGNALS
        )
    else:
        exported = request.getfixturevalue("victoriametrics_server").export(f'{{session="{session_id}"}}')
        assert sorted(series["metric"].pop("__name__") for series in exported) == sorted(
            f"{signal}_{column}" for signal, spec in SIGNALS.items() for column in spec.columns
        )
        assert all(
            series["metric"] == {"device": "Polar H10 0A1B2C3D", "patient": "p-7f3c", "session": str(session_id)}
            for series in exported
        )

    store.delete_session(session_id)  # with its session, the pseudonym leaves the server's index
    if series_keys is not None:
        assert series_keys() == []
    else:
        assert request.getfixturevalue("victoriametrics_server").export(f'{{session="{session_id}"}}') == []
    store.close()
    clinic.close()


def _series_keys(url: str, database: str, token: str | None = None) -> list[str]:
    result = _influxql(url, database, "SHOW SERIES", token)
    return sorted(row[0] for series in result.get("series", []) for row in series["values"])
