"""The test database servers work through the clients the product uses, and survive a restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from monitor.store import Patient, SignalChunk, Store, TrainingSession

if TYPE_CHECKING:
    from servers import InfluxDB1Server, PostgresServer, VictoriaMetricsServer


T0_NS = 1_793_610_000_000_000_000  # 2026-11-02 08:20 UTC


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[Store]:
    store = Store(postgres_url)
    yield store
    store.close()


def _add_session(store: Store, pseudonym: str, started_at: datetime) -> int:
    with store.session() as db:
        patient = Patient(pseudonym=pseudonym, display_name="Test Patient")
        patient.sessions.append(TrainingSession(kind="walking", started_at=started_at))
        db.add(patient)
        db.commit()
        return patient.sessions[0].id


def test_store_on_postgres_round_trips_sessions_with_utc_times(postgres_store: Store) -> None:
    started = datetime(2026, 11, 2, 9, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Copenhagen"))
    session_id = _add_session(postgres_store, "p-pg01", started)
    with postgres_store.session() as db:
        stored = db.get_one(TrainingSession, session_id)
        assert stored.patient.pseudonym == "p-pg01"
        assert stored.started_at == started
        assert stored.started_at.tzinfo is UTC
        # The server answers in its own zone, so UtcDateTime's conversion is what made it UTC.
        raw = db.execute(text("SELECT started_at FROM training_session")).scalar_one()
        assert raw.utcoffset() != timedelta(0)


def test_postgres_enforces_unique_constraints(postgres_store: Store) -> None:
    with postgres_store.session() as db:
        db.add_all([Patient(pseudonym="p-same", display_name="A"), Patient(pseudonym="p-same", display_name="B")])
        with pytest.raises(IntegrityError, match="patient_pseudonym_key"):
            db.commit()


def test_signal_chunks_round_trip_exactly_on_postgres_and_a_retried_append_is_stored_once(
    postgres_store: Store,
) -> None:
    session_id = _add_session(postgres_store, "p-pg02", datetime.fromtimestamp(T0_NS / 1e9, UTC))
    rng = np.random.default_rng(7)
    acc_t_ns = T0_NS + np.arange(400) * 5_000_000
    acc_mg = rng.integers(-32768, 32768, (400, 3)).astype(float)
    rr_t_ns = T0_NS + np.cumsum(rng.integers(500_000_000, 1_200_000_000, 50))
    # The H10 sends RR in 1/1024 s; every such value in ms is exact in float32.
    rr_ms = rng.integers(500, 1300, 50) * 1000 / 1024
    postgres_store.signals.append(session_id, "acc_mg", "h10", acc_t_ns[:200], acc_mg[:200])
    postgres_store.signals.append(session_id, "acc_mg", "h10", acc_t_ns[200:], acc_mg[200:])
    postgres_store.signals.append(session_id, "acc_mg", "h10", acc_t_ns[200:], acc_mg[200:])  # retried
    postgres_store.signals.append(session_id, "rr_ms", "h10", rr_t_ns, rr_ms)

    acc = postgres_store.signals.read(session_id, "acc_mg")
    np.testing.assert_array_equal(acc.t_ns, acc_t_ns)
    np.testing.assert_array_equal(acc.values, acc_mg)
    rr = postgres_store.signals.read(session_id, "rr_ms")
    np.testing.assert_array_equal(rr.t_ns, rr_t_ns)
    np.testing.assert_array_equal(rr.values[:, 0], rr_ms)
    with postgres_store.session() as db:
        assert db.scalar(select(func.count()).select_from(SignalChunk)) == 3


def test_postgres_keeps_committed_rows_across_a_restart(postgres_server: PostgresServer, postgres_url: str) -> None:
    store = Store(postgres_url)
    _add_session(store, "p-pg03", datetime.fromtimestamp(T0_NS / 1e9, UTC))
    store.close()

    postgres_server.stop()
    engine = create_engine(postgres_url)
    with pytest.raises(OperationalError):
        engine.connect()
    engine.dispose()
    postgres_server.start()

    store = Store(postgres_url)
    with store.session() as db:
        assert db.scalars(select(Patient.pseudonym)).all() == ["p-pg03"]
    store.close()


def _influxql(client: httpx.Client, database: str, query: str) -> list[list[Any]]:
    response = client.get("/query", params={"db": database, "q": query, "epoch": "ns"})
    response.raise_for_status()
    values: list[list[Any]] = response.json()["results"][0]["series"][0]["values"]
    return values


def test_influxdb1_round_trips_line_protocol_with_nanosecond_times(
    influxdb1_server: InfluxDB1Server, influxdb1_url: str, influxdb1_database: str
) -> None:
    # influxdb-client's WriteApi posts to /api/v2/write, which InfluxDB 1.6 does not have:
    # line protocol goes to the v1 /write.
    lines = (
        f"hr,device=h10,session_id=s1 bpm=112i,rr=536.25 {T0_NS + 860_123_456}\n"
        f"hr,device=h10,session_id=s1 bpm=113i,rr=530.2734375 {T0_NS + 1_390_999_999}\n"
    )
    expected = [
        [T0_NS + 860_123_456, 112, 536.25, "h10", "s1"],
        [T0_NS + 1_390_999_999, 113, 530.2734375, "h10", "s1"],
    ]
    query = "SELECT bpm, rr, device, session_id FROM hr"
    with httpx.Client(base_url=influxdb1_url, timeout=10) as client:
        written = client.post("/write", params={"db": influxdb1_database, "precision": "ns"}, content=lines)
        assert written.status_code == 204, written.text
        assert _influxql(client, influxdb1_database, query) == expected

        influxdb1_server.stop()
        with pytest.raises(httpx.ConnectError):
            client.get("/ping")
        influxdb1_server.start()
        assert _influxql(client, influxdb1_database, query) == expected


def test_victoriametrics_stores_influxdb_client_writes_per_field_in_milliseconds(
    victoriametrics_server: VictoriaMetricsServer, victoriametrics_url: str
) -> None:
    lines = [
        f"hr,device=h10,session_id=s-vm1 bpm=112i,rr=536.25 {T0_NS + 860_123_456}",
        f"hr,device=h10,session_id=s-vm1 bpm=113i,rr=530.2734375 {T0_NS + 1_390_999_999}",
    ]
    with (
        InfluxDBClient(url=victoriametrics_url, token="unused", org="unused") as client,
        client.write_api(write_options=SYNCHRONOUS) as write_api,
    ):
        write_api.write(bucket="dosis", record=lines, write_precision=WritePrecision.NS)
        write_api.write(bucket="dosis", record=lines, write_precision=WritePrecision.NS)  # a retried batch
    labels = {"device": "h10", "session_id": "s-vm1"}
    # Nanoseconds are cut to the millisecond: ...390_999_999 ns is ...390 ms, not 391.
    timestamps = [T0_NS // 10**6 + 860, T0_NS // 10**6 + 1390]
    expected = [
        {"metric": {"__name__": "hr_bpm", **labels}, "values": [112, 113], "timestamps": timestamps},
        {"metric": {"__name__": "hr_rr", **labels}, "values": [536.25, 530.2734375], "timestamps": timestamps},
    ]
    assert victoriametrics_server.export('{session_id="s-vm1"}') == expected

    victoriametrics_server.stop()
    victoriametrics_server.start()
    assert victoriametrics_server.export('{session_id="s-vm1"}') == expected
