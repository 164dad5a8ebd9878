"""Retention and erasure on real replayed sessions: SQL signals on SQLite and PostgreSQL, and InfluxDB 1.x.

What each backend removes is worked out from what it held before: the SQL store drops whole
chunks that ended before the cut-off, InfluxDB every point before it.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pytest
from sqlalchemy import Row, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import monitor.cli.maintenance  # noqa: F401  (registers its commands on the app)
from dashboard.queries import heart_rate_series, session_detail
from monitor.cli.common import app
from monitor.composites import STRENGTH_CAPTURE, WALKING_CAPTURE
from monitor.replay import replay_capture
from monitor.settings import Settings
from monitor.sinks import PatientInStore
from monitor.store import Patient, SessionEvent, Signal, SignalStoreUnavailable, Store, TrainingSession
from monitor.store.audit import record_audit
from monitor.store.clinical import add_prescription, save_morning_report, save_session_report
from monitor.store.lifecycle import (
    RETENTION_EVENT,
    ErasureReport,
    apply_retention,
    delete_patient,
)
from monitor.store.models import AdviceDecision, AuditEvent, Base, ClinicalProfile, SignalChunk
from monitor.tolerance import MorningReport, Prescription, SessionReport

if TYPE_CHECKING:
    from servers import InfluxDB1Server

NOW = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)
DAYS = 30
CUTOFF = NOW - timedelta(days=DAYS)
CUTOFF_NS = int(CUTOFF.timestamp()) * 1_000_000_000
SIGNALS_RECORDED = ("hr_bpm", "rr_ms", "acc_mg")
"""What the bundled H10 captures hold."""


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


@dataclass
class Clinic:
    store: Store
    backend: str
    influx: tuple[str, str] | None = None
    """InfluxDB's URL and database, when the signals are there."""

    def replay(self, patient_id: int, capture: Path, start: datetime) -> int:
        target = PatientInStore(self.store, patient_id)
        return asyncio.run(replay_capture(capture, target, start_at_ns=ns(start))).session.id

    def signals(self, session_ids: list[int]) -> dict[tuple[int, str], Signal]:
        return {(s, name): self.store.signals.read(s, name) for s in session_ids for name in SIGNALS_RECORDED}

    def chunk_bounds(self) -> list[tuple[int, str, int, int]]:
        """(session, signal, start, end) of every SQL chunk."""
        with self.store.session() as db:
            query = select(SignalChunk.session_id, SignalChunk.signal, SignalChunk.t_start_ns, SignalChunk.t_end_ns)
            return [(s, signal, start, end) for s, signal, start, end in db.execute(query)]


@pytest.fixture(params=["sqlite", "postgresql", "influxdb1"])
def clinic(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Clinic]:
    """Relational rows in SQLite or PostgreSQL with the signals beside them, or SQLite with InfluxDB 1.x."""
    sqlite_url = f"sqlite:///{tmp_path / 'dosis.sqlite3'}"
    if request.param == "influxdb1":
        url, database = request.getfixturevalue("influxdb1_url"), request.getfixturevalue("influxdb1_database")
        settings = Settings(influx_url=url, influx_api="v1", influx_server="influxdb", influx_database=database)
        clinic = Clinic(Store(sqlite_url, settings=settings), "influxdb1", (url, database))
    elif request.param == "postgresql":
        clinic = Clinic(Store(request.getfixturevalue("postgres_url")), "postgresql")
    else:
        clinic = Clinic(Store(sqlite_url), "sqlite")
    yield clinic
    clinic.store.close()


def add_patient(db: Session, pseudonym: str) -> int:
    patient = Patient(pseudonym=pseudonym, display_name=f"Patient {pseudonym}")
    db.add(patient)
    db.flush()
    db.add(
        ClinicalProfile(
            patient_id=patient.id, sex="female", birth_year=1970, hr_rest_bpm=62.0, updated_at=NOW - timedelta(days=90)
        )
    )
    prescription = Prescription(
        sessions_per_week=2,
        kinds=("walking", "strength"),
        volume_per_session=20,
        volume_unit="minutes",
        volume_goal=30,
        hr_ceiling_bpm=110,
    )
    version = add_prescription(db, patient.id, prescription, valid_from=date(2026, 10, 5), clinician_id=None)
    db.add(
        AdviceDecision(
            patient_id=patient.id,
            week_start=date(2026, 10, 5),
            advice={"action": "hold", "message": {"key": "advice.hold", "params": {}}, "changes": {}},
            decision="confirmed",
            prescription_version_id=version.id,
            decided_at=NOW - timedelta(days=60),
            decided_by=None,
        )
    )
    save_morning_report(db, patient.id, MorningReport(date(2026, 11, 3), NOW - timedelta(days=37), pain=2))
    return patient.id


def table_rows(db: Session) -> dict[str, list[Row[Any]]]:
    """Every row of every table but the signal chunks, in key order."""
    return {
        table.name: list(db.execute(select(table).order_by(*table.primary_key.columns)))
        for table in Base.metadata.sorted_tables
        if table.name != "signal_chunk"
    }


def retention_events(db: Session) -> list[tuple[int, str]]:
    query = select(SessionEvent.session_id, SessionEvent.message).where(SessionEvent.kind == RETENTION_EVENT)
    return [(session_id, message) for session_id, message in db.execute(query.order_by(SessionEvent.session_id))]


def audit(db: Session) -> list[tuple[str, str, str | None, str]]:
    query = select(AuditEvent.actor, AuditEvent.action, AuditEvent.patient_pseudonym, AuditEvent.detail)
    return [
        (actor, action, pseudonym, detail)
        for actor, action, pseudonym, detail in db.execute(query.order_by(AuditEvent.id))
    ]


@dataclass
class RetentionScene:
    old: int
    """Recorded three days before the cut-off."""
    spanning: int
    """Started a minute before the cut-off, ended a minute after."""
    recent: int
    """Two days after the cut-off, so kept on the next day's run too."""


@pytest.fixture
def scene(clinic: Clinic) -> RetentionScene:
    with clinic.store.session() as db:
        ann, bo = add_patient(db, "p-ann"), add_patient(db, "p-bo")
        db.commit()
    scene = RetentionScene(
        old=clinic.replay(ann, WALKING_CAPTURE, CUTOFF - timedelta(days=3)),
        spanning=clinic.replay(ann, STRENGTH_CAPTURE, CUTOFF - timedelta(seconds=60)),
        recent=clinic.replay(bo, WALKING_CAPTURE, CUTOFF + timedelta(days=2)),
    )
    with clinic.store.session() as db:
        report = SessionReport(CUTOFF - timedelta(days=3, hours=-1), pain_during=3, effort_cr10=5)
        save_session_report(db, scene.old, report)
        db.commit()
    return scene


def kept_from_ns(clinic: Clinic, chunks: list[tuple[int, str, int, int]], cutoff_ns: int) -> dict[tuple[int, str], int]:
    """Per session and signal, the first time the SQL store keeps: the start of the first chunk not wholly before."""
    if clinic.backend == "influxdb1":
        return {}
    kept: dict[tuple[int, str], int] = {}
    for session_id, signal, start, end in chunks:
        if end >= cutoff_ns:
            kept[(session_id, signal)] = min(start, kept.get((session_id, signal), start))
    return kept


def expected_after(clinic: Clinic, before: dict[tuple[int, str], Signal], cutoff_ns: int) -> dict[tuple[int, str], Any]:
    kept = kept_from_ns(clinic, clinic.chunk_bounds(), cutoff_ns)
    expected = {}
    for key, signal in before.items():
        # SQL: a signal with no chunk ending after the cut-off keeps nothing.
        first_kept = cutoff_ns if clinic.backend == "influxdb1" else kept.get(key, 2**63 - 1)
        keep = signal.t_ns >= first_kept
        expected[key] = (signal.t_ns[keep], signal.values[keep])
    return expected


def assert_signals(clinic: Clinic, expected: dict[tuple[int, str], Any]) -> None:
    for (session_id, name), (t_ns, values) in expected.items():
        after = clinic.store.signals.read(session_id, name)
        np.testing.assert_array_equal(after.t_ns, t_ns, err_msg=f"{name} of session {session_id}")
        np.testing.assert_array_equal(after.values, values, err_msg=f"{name} of session {session_id}")


def test_retention_deletes_the_raw_signals_before_the_cutoff_and_marks_each_session_once(
    clinic: Clinic, scene: RetentionScene
) -> None:
    sessions = [scene.old, scene.spanning, scene.recent]
    before = clinic.signals(sessions)
    chunks = clinic.chunk_bounds()
    with clinic.store.session() as db:
        rows_before = table_rows(db)
    expected = expected_after(clinic, before, CUTOFF_NS)
    # The scene has what it should: a session wholly before, one across and one after the cut-off.
    assert all(len(before[(scene.old, name)]) > 0 for name in SIGNALS_RECORDED)
    spanning_acc = before[(scene.spanning, "acc_mg")].t_ns
    assert spanning_acc[0] < CUTOFF_NS < spanning_acc[-1]
    assert before[(scene.recent, "hr_bpm")].t_ns[0] > CUTOFF_NS

    report = apply_retention(clinic.store, retention_days=DAYS, now=NOW)

    assert report.cutoff == CUTOFF
    assert report.session_ids == (scene.old, scene.spanning)
    if clinic.backend == "influxdb1":
        assert report.removed_unit == "points"
        assert report.removed == sum(int(np.sum(s.t_ns < CUTOFF_NS)) for s in before.values())
    else:
        assert report.removed_unit == "chunks"
        assert report.removed == sum(1 for *_, end in chunks if end < CUTOFF_NS)
        # A chunk across the cut-off is kept whole: some of the spanning session's samples before it remain.
        assert np.sum(expected[(scene.spanning, "acc_mg")][0] < CUTOFF_NS) > 0
    assert_signals(clinic, expected)
    assert all(len(expected[(scene.old, name)][0]) == 0 for name in SIGNALS_RECORDED)
    assert all(len(expected[(scene.recent, name)][0]) == len(before[(scene.recent, name)]) for name in SIGNALS_RECORDED)

    with clinic.store.session() as db:
        rows_after = table_rows(db)
        events = retention_events(db)
        audit_rows = audit(db)
        detail = session_detail(db.get_one(TrainingSession, scene.old))
        chart = heart_rate_series(clinic.store, scene.old)
    # Summaries, analyses, loads, reports, prescriptions: every row is as it was.
    for table, rows in rows_before.items():
        if table not in ("session_event", "audit_event"):
            assert rows_after[table] == rows, table
    assert rows_after["session_event"][: len(rows_before["session_event"])] == rows_before["session_event"]
    message = "Raw signals older than 30 days were deleted on 2026-12-10 (data retention); the summary, load and "
    assert events == [(scene.old, message + "reports are kept."), (scene.spanning, message + "reports are kept.")]
    assert audit_rows == [
        ("system:retention", "retention", "p-ann", "raw signals older than 30 days deleted from 2 sessions")
    ]
    # What the dashboard shows for the old session: its summary, an empty chart, and why.
    assert detail.hr_mean_bpm is not None
    assert detail.trimp_banister is not None
    assert chart.t_s == []
    assert detail.events[-1].kind == RETENTION_EVENT

    again = apply_retention(clinic.store, retention_days=DAYS, now=NOW)
    assert (again.removed, again.session_ids) == (0, ())
    assert_signals(clinic, expected)
    with clinic.store.session() as db:
        assert table_rows(db) == rows_after

    # A day later the cut-off has passed the spanning session's end: the rest of it goes, unmarked again.
    next_day = apply_retention(clinic.store, retention_days=DAYS, now=NOW + timedelta(days=1))
    assert next_day.session_ids == ()
    assert next_day.removed > 0
    assert all(len(clinic.store.signals.read(scene.spanning, name)) == 0 for name in SIGNALS_RECORDED)
    assert_signals(clinic, {k: v for k, v in expected.items() if k[0] == scene.recent})
    with clinic.store.session() as db:
        assert retention_events(db) == events
        assert audit(db) == audit_rows


@pytest.mark.parametrize(
    ("retention_days", "now", "message"),
    [(0, NOW, "at least 1"), (30, NOW.replace(tzinfo=None), "needs a timezone")],
)
def test_retention_refuses_a_bad_period_or_a_naive_now(
    clinic: Clinic, scene: RetentionScene, retention_days: int, now: datetime, message: str
) -> None:
    before = clinic.signals([scene.old])
    with pytest.raises(ValueError, match=message):
        apply_retention(clinic.store, retention_days=retention_days, now=now)
    after = clinic.signals([scene.old])
    assert all(np.array_equal(after[k].t_ns, before[k].t_ns) for k in before)


@dataclass
class ErasureScene:
    ann: int
    ann_sessions: list[int]
    bo_sessions: list[int]


@pytest.fixture
def erasure(clinic: Clinic) -> ErasureScene:
    """Two patients with the same kinds of data: sessions, events, reports, mornings, prescriptions, decisions."""
    with clinic.store.session() as db:
        ann, bo = add_patient(db, "p-ann"), add_patient(db, "p-bo")
        record_audit(db, actor="clinician:1", action="view", patient_pseudonym="p-ann", detail="weeks")
        db.commit()
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    scene = ErasureScene(
        ann,
        [clinic.replay(ann, WALKING_CAPTURE, start), clinic.replay(ann, STRENGTH_CAPTURE, start + timedelta(days=2))],
        [clinic.replay(bo, WALKING_CAPTURE, start + timedelta(hours=1))],
    )
    with clinic.store.session() as db:
        for session_id in (scene.ann_sessions[0], scene.bo_sessions[0]):
            save_session_report(db, session_id, SessionReport(start + timedelta(hours=2), pain_after=1))
            db.add(SessionEvent(session_id=session_id, seq=1, kind="gap", message="no data for 12 s"))
        db.commit()
    return scene


def belongs_to(table: str, row: Row[Any], patient_id: int, session_ids: list[int]) -> bool:
    mapping = row._mapping
    if table == "patient":
        return bool(mapping["id"] == patient_id)
    if "patient_id" in mapping:
        return bool(mapping["patient_id"] == patient_id)
    return "session_id" in mapping and mapping["session_id"] in session_ids


def test_erasure_removes_every_row_and_sample_of_the_patient_and_nothing_else(
    clinic: Clinic, erasure: ErasureScene
) -> None:
    every_session = erasure.ann_sessions + erasure.bo_sessions
    before = clinic.signals(every_session)
    with clinic.store.session() as db:
        rows_before = table_rows(db)
    chunks_before = clinic.chunk_bounds()
    # Every table that holds patient data holds some of Ann's, so the deletion is tried on each.
    of_ann = {
        t for t, rows in rows_before.items() if any(belongs_to(t, r, erasure.ann, erasure.ann_sessions) for r in rows)
    }
    assert of_ann >= {
        "patient",
        "clinical_profile",
        "prescription_version",
        "advice_decision",
        "morning_report",
        "session_event",
        "session_analysis",
        "session_load",
        "session_report",
    }

    report = delete_patient(clinic.store, "p-ann", actor="cli:tester")

    assert report == ErasureReport(
        "p-ann", sessions=2, session_reports=1, morning_reports=1, prescription_versions=1, advice_decisions=1
    )
    with clinic.store.session() as db:
        rows_after = table_rows(db)
        sessions_after = list(db.scalars(select(TrainingSession.id).order_by(TrainingSession.id)))
        audit_rows = audit(db)
    assert sessions_after == erasure.bo_sessions
    for table, rows in rows_before.items():
        if table != "audit_event":
            expected = [r for r in rows if not belongs_to(table, r, erasure.ann, erasure.ann_sessions)]
            assert rows_after[table] == expected, table
    # The audit log keeps the earlier access and says who erased whom, and how much.
    assert audit_rows == [
        ("clinician:1", "view", "p-ann", "weeks"),
        ("cli:tester", "delete", "p-ann", report.detail()),
    ]
    assert report.detail().startswith("sessions=2 (with their signals) session_reports=1")

    for (session_id, name), signal in before.items():
        after = clinic.store.signals.read(session_id, name)
        if session_id in erasure.ann_sessions:
            assert len(signal) > 0
            assert len(after) == 0, f"{name} of session {session_id}"
        else:
            np.testing.assert_array_equal(after.t_ns, signal.t_ns)
            np.testing.assert_array_equal(after.values, signal.values)
    if clinic.influx is not None:
        # Nor is the pseudonym left in InfluxDB's index of tag values.
        assert influx_patients(*clinic.influx) == ["p-bo"]
    else:
        assert {c[0] for c in clinic.chunk_bounds()} == set(erasure.bo_sessions)
        assert len(clinic.chunk_bounds()) == sum(1 for c in chunks_before if c[0] in erasure.bo_sessions)


def influx_patients(url: str, database: str) -> list[str]:
    response = httpx.post(
        f"{url}/query", params={"db": database}, data={"q": 'SHOW TAG VALUES WITH KEY = "patient"'}, timeout=10
    )
    response.raise_for_status()
    series = response.json()["results"][0].get("series", [])
    return sorted({value for s in series for _, value in s["values"]})


def test_erasing_an_unknown_patient_is_a_clear_error_that_changes_nothing(
    clinic: Clinic, erasure: ErasureScene
) -> None:
    with clinic.store.session() as db:
        rows_before = table_rows(db)
    with pytest.raises(LookupError, match="no patient with pseudonym 'p-nobody'"):
        delete_patient(clinic.store, "p-nobody", actor="cli:tester")
    with clinic.store.session() as db:
        assert table_rows(db) == rows_before


def test_erasure_deletes_nothing_while_influxdb_is_down(
    tmp_path: Path, influxdb1_server: InfluxDB1Server, influxdb1_database: str
) -> None:
    settings = Settings(influx_url=influxdb1_server.url, influx_api="v1", influx_database=influxdb1_database)
    clinic = Clinic(Store(f"sqlite:///{tmp_path / 'dosis.sqlite3'}", settings=settings), "influxdb1")
    with clinic.store.session() as db:
        ann = add_patient(db, "p-ann")
        db.commit()
    session_id = clinic.replay(ann, WALKING_CAPTURE, datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    with clinic.store.session() as db:
        rows_before = table_rows(db)
    influxdb1_server.stop()
    try:
        with pytest.raises(SignalStoreUnavailable, match=r"nothing of theirs was deleted; try again"):
            delete_patient(clinic.store, "p-ann", actor="cli:tester")
    finally:
        influxdb1_server.start()
    with clinic.store.session() as db:
        assert table_rows(db) == rows_before
    assert len(clinic.store.signals.read(session_id, "hr_bpm")) > 0

    assert delete_patient(clinic.store, "p-ann", actor="cli:tester").sessions == 1
    assert len(clinic.store.signals.read(session_id, "hr_bpm")) == 0
    clinic.store.close()


# The command line, on the database DOSIS_DATA_DIR points at.


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOSIS_DATA_DIR", str(tmp_path))
    for name in ("DOSIS_DATABASE_URL", "DOSIS_INFLUX_URL", "DOSIS_RETENTION_DAYS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def one_line(output: str) -> str:
    """The output without the line breaks the console puts in at its width."""
    return " ".join(output.split())


def cli_store(data_dir: Path) -> Store:
    return Store(f"sqlite:///{data_dir / 'dosis.sqlite3'}")


def test_retention_command_uses_the_setting_unless_given_days(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = cli_store(data_dir)
    clinic = Clinic(store, "sqlite")
    with store.session() as db:
        ann = add_patient(db, "p-ann")
        db.commit()
    now = datetime.now(UTC)
    old = clinic.replay(ann, WALKING_CAPTURE, now - timedelta(days=40))
    recent = clinic.replay(ann, STRENGTH_CAPTURE, now - timedelta(days=10))
    chunks = clinic.chunk_bounds()
    store.close()

    refused = CliRunner().invoke(app, ["retention"])
    assert refused.exit_code == 2
    assert "give --days or set DOSIS_RETENTION_DAYS" in one_line(refused.output)

    monkeypatch.setenv("DOSIS_RETENTION_DAYS", "30")
    by_setting = CliRunner().invoke(app, ["retention"])
    assert by_setting.exit_code == 0, by_setting.output
    old_chunks = sum(1 for c in chunks if c[0] == old)
    assert f"(30 days): {old_chunks} chunks; sessions newly marked: 1." in one_line(by_setting.output)

    by_option = CliRunner().invoke(app, ["retention", "--days", "5"])
    assert by_option.exit_code == 0, by_option.output
    assert f"(5 days): {len(chunks) - old_chunks} chunks; sessions newly marked: 1." in one_line(by_option.output)
    store = cli_store(data_dir)
    with store.session() as db:
        assert [s for s, _ in retention_events(db)] == [old, recent]
        assert {actor for actor, *_ in audit(db)} == {f"cli:{getpass.getuser()}"}
    assert store.signals.read(recent, "acc_mg").t_ns.size == 0
    store.close()


def test_delete_patient_command_needs_yes(data_dir: Path) -> None:
    store = cli_store(data_dir)
    with store.session() as db:
        add_patient(db, "p-ann")
        db.commit()
    store.close()

    unconfirmed = CliRunner().invoke(app, ["delete-patient", "p-ann"])
    assert unconfirmed.exit_code == 2
    assert "add --yes to confirm" in one_line(unconfirmed.output)
    unknown = CliRunner().invoke(app, ["delete-patient", "p-nobody", "--yes"])
    assert unknown.exit_code == 2
    assert "no patient with pseudonym 'p-nobody'" in one_line(unknown.output)
    store = cli_store(data_dir)
    with store.session() as db:
        assert db.scalar(select(Patient.pseudonym)) == "p-ann"
    store.close()

    confirmed = CliRunner().invoke(app, ["delete-patient", "p-ann", "--yes"])
    assert confirmed.exit_code == 0, confirmed.output
    assert "Deleted patient p-ann: sessions=0" in one_line(confirmed.output)
    store = cli_store(data_dir)
    with store.session() as db:
        assert db.scalar(select(Patient.pseudonym)) is None
        assert audit(db) == [
            (f"cli:{getpass.getuser()}", "delete", "p-ann", ErasureReport("p-ann", 0, 0, 1, 1, 1).detail())
        ]
    store.close()
