"""`dosis export` on real replayed sessions: the files hold exactly what the store holds.

The clinic is the demo's (sessions replayed from the bundled captures through the real
pipeline), with a second wearable, ECG, events and a hub added to one session, on SQLite,
PostgreSQL and SQLite with InfluxDB 1.x for the signals. CSV is read back with Python's
own number parsing, Parquet with its stored types.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import monitor.cli.exporting  # noqa: F401  (registers `dosis export` on the app)
from monitor.cli.common import app
from monitor.demo import seed_demo_clinic
from monitor.export import CHANNELS, ExportError, Format, export_patient, export_session
from monitor.settings import Settings
from monitor.store import SIGNALS, Device, Patient, SessionEvent, SignalStoreUnavailable, Store, TrainingSession
from monitor.store.models import (
    AdviceDecision,
    AuditEvent,
    ClinicalProfile,
    MorningReportRow,
    PrescriptionVersion,
    SessionAnalysis,
    SessionLoadRow,
    SessionReportRow,
)

CSV: tuple[Format, ...] = ("csv",)
PARQUET: tuple[Format, ...] = ("parquet",)
BOTH: tuple[Format, ...] = ("csv", "parquet")
PATIENT = "p-8c04d9"
"""The demo's patient with walking and strength sessions."""
DISPLAY_NAME = 'Lars "Lasse" Holm, Ærøskøbing'
"""Quotes, a comma and non-ASCII letters: CSV must quote and encode them."""
HUB = "gym-north"
PARQUET_TYPES = {
    "int64": pa.int64(),
    "int16": pa.int16(),
    "float64": pa.float64(),
    "float32": pa.float32(),
    "string": pa.string(),
    "json": pa.string(),
    "timestamp_ns": pa.timestamp("ns", "UTC"),
    "timestamp_us": pa.timestamp("us", "UTC"),
    "date": pa.date32(),
}
RELATIONAL = (
    "patient",
    "clinical_profile",
    "prescriptions",
    "advice_decisions",
    "morning_reports",
    "sessions",
    "session_events",
    "session_reports",
)


@dataclass
class Clinic:
    store: Store
    backend: str
    session_id: int
    """The session with a second wearable, ECG, events and a hub."""


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


def enrich(store: Store, session_id: int) -> None:
    """A Verity Sense beside the H10 (heart rate and PPI), ECG, events, a hub, and text CSV has to quote."""
    with store.session() as db:
        session = db.get_one(TrainingSession, session_id)
        start_ns = ns(session.started_at)
        hub = Device(kind="hub", name=HUB, token_sha256="0" * 64, created_at=session.started_at)
        db.add(hub)
        db.flush()
        session.hub_id, session.uid = hub.id, "0b6f6c1e-3f0e-4e55-9d7e-2f1c4a1b9e10"
        db.add(SessionEvent(session_id=session_id, seq=7, t_ns=start_ns + 1_234_567_891, kind="gap", message="a, b"))
        db.add(SessionEvent(session_id=session_id, t_ns=None, kind="malformed", message='line 3: "bad"'))
        patient = db.get_one(Patient, session.patient_id)
        patient.display_name = DISPLAY_NAME
        morning = db.scalars(select(MorningReportRow).where(MorningReportRow.patient_id == patient.id)).first()
        assert morning is not None
        morning.red_flags = ["night_pain", "numbness"]
        db.commit()
    rng = np.random.default_rng(15)
    hr_t_ns = start_ns + 500_000_000 + np.arange(60) * 1_000_000_000
    store.signals.append(session_id, "hr_bpm", "verity-1", hr_t_ns, np.c_[rng.integers(65, 90, 60), np.full(60, -1)])
    # Arbitrary float32 values: their shortest float32 decimals would not read back as these float64s.
    pp_ms = rng.uniform(600, 900, 80).astype(np.float32)
    ppi = np.c_[pp_ms, rng.uniform(5, 20, 80).astype(np.float32), rng.integers(0, 2, 80), np.ones(80)]
    pp_t_ns = start_ns + np.cumsum(pp_ms.astype(np.int64)) * 1_000_000
    store.signals.append(session_id, "ppi_ms", "verity-1", pp_t_ns, ppi)
    ecg_uv = (rng.normal(0, 400, 1300) + rng.uniform(0, 1, 1300)).astype(np.float32)
    store.signals.append(session_id, "ecg_uv", "h10", start_ns + np.arange(1300) * 7_692_308, ecg_uv)
    store.signals.flush()


def seeded(store: Store, backend: str) -> Clinic:
    asyncio.run(seed_demo_clinic(store, today=date(2026, 11, 4), weeks=2))  # week 1 decided
    with store.session() as db:
        session_id = db.scalars(
            select(TrainingSession.id)
            .join(Patient)
            .where(Patient.pseudonym == PATIENT)
            .order_by(TrainingSession.started_at)
        ).first()
    assert session_id is not None
    enrich(store, session_id)
    return Clinic(store, backend, session_id)


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "influxdb1"])
def clinic(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    """The seeded clinic on each backend, once per module: exports only read it (and add audit rows)."""
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('clinic') / 'dosis.sqlite3'}"
    if request.param == "postgresql":
        postgres = request.getfixturevalue("postgres_server")
        postgres.start()
        store = Store(postgres.database_url(postgres.create_database()))
    elif request.param == "influxdb1":
        server = request.getfixturevalue("influxdb1_server")
        server.start()
        settings = Settings(influx_url=server.url, influx_api="v1", influx_database=server.create_database())
        store = Store(sqlite_url, settings=settings)
    else:
        store = Store(sqlite_url)
    yield seeded(store, request.param)
    store.close()


@pytest.fixture(scope="module")
def sqlite_clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('sqlite_clinic') / 'dosis.sqlite3'}")
    yield seeded(store, "sqlite")
    store.close()


# Reading the files back.


def manifest(folder: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((folder / "manifest.json").read_text("utf-8"))
    return result


def parse_csv_value(text: str | None, kind: str) -> Any:
    """A CSV field by Python's own parsers: what a reader of the file gets."""
    if text is None:
        return None
    if kind in ("int64", "int16"):
        return int(text)
    if kind in ("float64", "float32"):
        return float(text)
    if kind == "json":
        return json.loads(text)
    if kind == "timestamp_us":
        assert text.endswith("Z")
        assert "T" in text
        return datetime.fromisoformat(text)
    if kind == "timestamp_ns":
        assert text.endswith("Z")
        assert "T" in text
        return int(np.datetime64(text.removesuffix("Z"), "ns").astype(np.int64))
    if kind == "date":
        return date.fromisoformat(text)
    return text


def read_table(path: Path, columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A table's rows as Python values, from CSV or Parquet; ns timestamps as int ns."""
    kinds = {c["name"]: c["type"] for c in columns}
    if path.suffix == ".csv":
        # Every field as text: an empty field without quotes is null, "" is empty text.
        options = pa_csv.ConvertOptions(
            column_types=dict.fromkeys(kinds, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        text = pa_csv.read_csv(path, convert_options=options)
        assert text.column_names == list(kinds)
        return [{k: parse_csv_value(v, kinds[k]) for k, v in row.items()} for row in text.to_pylist()]
    table = pq.read_table(path)
    assert [(f.name, f.type) for f in table.schema] == [(name, PARQUET_TYPES[kind]) for name, kind in kinds.items()]
    for name, kind in kinds.items():
        if kind == "timestamp_ns":
            table = table.set_column(table.column_names.index(name), name, table.column(name).cast(pa.int64()))
    return [
        {k: json.loads(v) if kinds[k] == "json" and v is not None else v for k, v in row.items()}
        for row in table.to_pylist()
    ]


def exported_tables(folder: Path, table: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(format, rows) of each file of a relational table."""
    info = manifest(folder)
    files = [f for f in info["files"] if f["table"] == table]
    assert sorted(f["path"] for f in files) == sorted(f"{table}.{fmt}" for fmt in info["formats"])
    for file in files:
        rows = read_table(folder / file["path"], info["tables"][table]["columns"])
        assert len(rows) == file["rows"]
        yield file["path"].rsplit(".", 1)[1], rows


@dataclass
class Samples:
    t_ns: npt.NDArray[np.int64]
    time_utc_ns: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    devices: list[str | None]


def read_signal(path: Path, columns: list[dict[str, Any]]) -> Samples:
    names = [c["name"] for c in columns]
    rows = read_table(path, columns)
    channels = names[2:-1]
    return Samples(
        np.array([r["t_ns"] for r in rows], dtype=np.int64),
        np.array([r["time_utc"] for r in rows], dtype=np.int64),
        np.array([[r[c] for c in channels] for r in rows], dtype=np.float64).reshape(len(rows), len(channels)),
        [r["device"] for r in rows],
    )


def devices_of(clinic: Clinic, session_id: int, signal: str) -> list[str]:
    """What each session was recorded with: the demo's H10, and the enriched session's extras."""
    extra = {"hr_bpm": ["h10", "verity-1"], "ppi_ms": ["verity-1"], "ecg_uv": ["h10"]}
    if session_id == clinic.session_id and signal in extra:
        return extra[signal]
    return ["h10"] if signal in ("hr_bpm", "rr_ms", "acc_mg") else []


def assert_signals_exact(clinic: Clinic, folder: Path, session_ids: list[int]) -> None:
    """Every signal of every session, in every format, sample for sample as the signal store reads it."""
    info = manifest(folder)
    files = {f["path"]: f for f in info["files"]}
    for session_id in session_ids:
        for signal in SIGNALS:
            devices = devices_of(clinic, session_id, signal)
            for fmt in info["formats"]:
                path = f"signals/session-{session_id}_{signal}.{fmt}"
                if not devices:
                    assert path not in files
                    continue
                exported = read_signal(folder / path, info["tables"][f"signal_{signal}"]["columns"])
                assert files[path]["rows"] == len(exported.t_ns)
                np.testing.assert_array_equal(exported.time_utc_ns, exported.t_ns)
                # Every store names the devices: one after another, each in time order.
                expected = [(d, clinic.store.signals.read(session_id, signal, device=d)) for d in devices]
                assert exported.devices == [d for d, s in expected for _ in range(len(s))]
                t_ns = np.concatenate([s.t_ns for _, s in expected])
                values = np.concatenate([s.values for _, s in expected])
                assert len(t_ns) > 0
                np.testing.assert_array_equal(exported.t_ns, t_ns)
                assert exported.values.tobytes() == values.tobytes()  # bit for bit, not close


# What the database holds, row by row, to compare with.


def expected_sessions(clinic: Clinic, session_ids: list[int]) -> list[dict[str, Any]]:
    rows = []
    with clinic.store.session() as db:
        for session_id in session_ids:
            s = db.get_one(TrainingSession, session_id)
            load = db.get(SessionLoadRow, session_id)
            analysis = db.get(SessionAnalysis, session_id)
            assert load is not None
            assert analysis is not None
            rows.append(
                {
                    "session_id": s.id,
                    "uid": s.uid,
                    "patient_pseudonym": PATIENT,
                    "hub": HUB if s.id == clinic.session_id else None,
                    "kind": s.kind,
                    "status": s.status,
                    "started_at": s.started_at,
                    "ended_at": s.ended_at,
                    "duration_s": s.duration_s,
                    "source": s.source,
                    "devices": s.devices,
                    "malformed_count": s.malformed_count,
                    "hr_mean_bpm": s.hr_mean_bpm,
                    "hr_max_bpm": s.hr_max_bpm,
                    "hr_coverage": s.hr_coverage,
                    "beat_count": s.beat_count,
                    "acc_sample_count": s.acc_sample_count,
                    "trimp_banister": load.trimp_banister,
                    "trimp_edwards": load.trimp_edwards,
                    "time_above_ceiling_s": load.time_above_ceiling_s,
                    "ceiling_bpm": load.ceiling_bpm,
                    "analysis_version": analysis.version,
                    "analysis_activity": analysis.activity,
                    "analysis_heart": analysis.heart,
                }
            )
    return rows


def expected_events(clinic: Clinic) -> list[dict[str, Any]]:
    with clinic.store.session() as db:
        events = db.scalars(select(SessionEvent).where(SessionEvent.session_id == clinic.session_id)).all()
    assert {e.kind for e in events} == {"gap", "malformed"}
    return [
        {
            "session_id": e.session_id,
            "event_id": e.id,
            "seq": e.seq,
            "t_ns": e.t_ns,
            "time_utc": e.t_ns,
            "kind": e.kind,
            "message": e.message,
        }
        for e in sorted(events, key=lambda e: e.id)
    ]


def expected_reports(clinic: Clinic, session_ids: list[int]) -> list[dict[str, Any]]:
    with clinic.store.session() as db:
        reports = [db.get(SessionReportRow, s) for s in session_ids]
    return [
        {
            "session_id": r.session_id,
            "pain_before": r.pain_before,
            "pain_during": r.pain_during,
            "pain_after": r.pain_after,
            "effort_cr10": r.effort_cr10,
            "weight_kg": r.weight_kg,
            "red_flags": r.red_flags,
            "reported_at": r.reported_at,
        }
        for r in reports
        if r is not None
    ]


def expected_patient_tables(clinic: Clinic) -> dict[str, list[dict[str, Any]]]:
    with clinic.store.session() as db:
        patient = db.scalars(select(Patient).where(Patient.pseudonym == PATIENT)).one()
        profile = db.get_one(ClinicalProfile, patient.id)
        versions = db.scalars(
            select(PrescriptionVersion)
            .where(PrescriptionVersion.patient_id == patient.id)
            .order_by(PrescriptionVersion.version)
        ).all()
        version_of = {v.id: v.version for v in versions}
        decisions = db.scalars(
            select(AdviceDecision).where(AdviceDecision.patient_id == patient.id).order_by(AdviceDecision.week_start)
        ).all()
        mornings = db.scalars(
            select(MorningReportRow).where(MorningReportRow.patient_id == patient.id).order_by(MorningReportRow.day)
        ).all()
    return {
        "patient": [{"pseudonym": PATIENT, "display_name": DISPLAY_NAME, "clinician_id": patient.clinician_id}],
        "clinical_profile": [
            {
                "sex": profile.sex,
                "birth_year": profile.birth_year,
                "hr_rest_bpm": profile.hr_rest_bpm,
                "hr_max_bpm": profile.hr_max_bpm,
                "updated_at": profile.updated_at,
            }
        ],
        "prescriptions": [
            {
                "version": v.version,
                "valid_from": v.valid_from,
                "fields": v.fields,
                "created_at": v.created_at,
                "created_by_clinician_id": v.created_by,
                "note": v.note,
            }
            for v in versions
        ],
        "advice_decisions": [
            {
                "week_start": d.week_start,
                "decision": d.decision,
                "advice": d.advice,
                "prescription_version": version_of.get(d.prescription_version_id or -1),
                "decided_at": d.decided_at,
                "decided_by_clinician_id": d.decided_by,
                "note": d.note,
            }
            for d in decisions
        ],
        "morning_reports": [
            {
                "day": m.day,
                "pain": m.pain,
                "stiffness": m.stiffness,
                "red_flags": m.red_flags,
                "reported_at": m.reported_at,
            }
            for m in mornings
        ],
    }


def session_ids_of(store: Store, pseudonym: str) -> list[int]:
    with store.session() as db:
        query = select(TrainingSession.id).join(Patient).where(Patient.pseudonym == pseudonym)
        return list(db.scalars(query.order_by(TrainingSession.started_at)))


def audit_rows(store: Store) -> list[AuditEvent]:
    with store.session() as db:
        return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))


# Exports.


def test_a_session_export_holds_its_signals_and_rows_exactly(clinic: Clinic, tmp_path: Path) -> None:
    out = tmp_path / "session"
    summary = export_session(clinic.store, clinic.session_id, out, formats=BOTH, actor="cli:tester")
    assert summary.session_ids == (clinic.session_id,)
    assert summary.patient_pseudonym == PATIENT
    info = manifest(out)
    assert info["session_ids"] == [clinic.session_id]
    assert {f["table"] for f in info["files"]} == {"sessions", "session_events", "session_reports"} | {
        f"signal_{s}" for s in ("hr_bpm", "rr_ms", "acc_mg", "ecg_uv", "ppi_ms")
    }
    assert_signals_exact(clinic, out, [clinic.session_id])
    for _, rows in exported_tables(out, "sessions"):
        assert rows == expected_sessions(clinic, [clinic.session_id])
    for _, rows in exported_tables(out, "session_events"):
        assert rows == expected_events(clinic)
    for _, rows in exported_tables(out, "session_reports"):
        assert rows == expected_reports(clinic, [clinic.session_id])
    # A session export is the session's: none of the patient's record beside it.
    assert not (out / "prescriptions.csv").exists()
    assert not (out / "patient.parquet").exists()


def test_a_patient_export_covers_every_table_and_every_session(clinic: Clinic, tmp_path: Path) -> None:
    out = tmp_path / "patient"
    summary = export_patient(clinic.store, PATIENT, out, formats=BOTH, actor="cli:tester")
    session_ids = session_ids_of(clinic.store, PATIENT)
    assert len(session_ids) >= 3
    assert list(summary.session_ids) == session_ids
    info = manifest(out)
    assert info["session_ids"] == session_ids
    assert info["patient_pseudonym"] == PATIENT
    assert set(RELATIONAL) < set(info["tables"])
    for table, expected in expected_patient_tables(clinic).items():
        assert expected, table
        for _, rows in exported_tables(out, table):
            assert rows == expected, table
    for _, rows in exported_tables(out, "sessions"):
        assert rows == expected_sessions(clinic, session_ids)
    for _, rows in exported_tables(out, "session_events"):
        assert rows == expected_events(clinic)
    for _, rows in exported_tables(out, "session_reports"):
        assert rows == expected_reports(clinic, session_ids)
        assert len(rows) >= 2
    assert_signals_exact(clinic, out, session_ids)
    # Every file is listed, and nothing but the files listed is there.
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert on_disk == {f["path"] for f in info["files"]} | {"manifest.json"}
    assert summary.rows == sum(f["rows"] for f in info["files"])


def test_the_manifest_explains_every_column(sqlite_clinic: Clinic, tmp_path: Path) -> None:
    out = tmp_path / "patient"
    export_patient(sqlite_clinic.store, PATIENT, out, formats=PARQUET, actor="cli:tester")
    info = manifest(out)
    assert info["format"] == "dosis-export"
    assert info["formats"] == ["parquet"]
    assert info["dosis_version"]
    assert abs(datetime.fromisoformat(info["exported_at"]) - datetime.now(UTC)).total_seconds() < 600
    assert "Unix time in nanoseconds" in info["times"]
    for table in info["tables"].values():
        for column in table["columns"]:
            assert column["type"] in info["types"], column
            assert column["meaning"], column
    acc = {c["name"]: c for c in info["tables"]["signal_acc_mg"]["columns"]}
    assert (acc["x"]["unit"], acc["x"]["type"]) == ("mG", "int16")
    assert (acc["t_ns"]["unit"], acc["t_ns"]["type"]) == ("ns", "int64")
    assert all(not f["path"].endswith(".csv") for f in info["files"])
    # Units and meanings travel inside the Parquet files too.
    field = pq.read_schema(out / f"signals/session-{sqlite_clinic.session_id}_rr_ms.parquet").field("rr")
    assert field.metadata == {b"meaning": b"the RR interval that ended with this beat", b"unit": b"ms"}


def test_every_stored_channel_has_a_meaning() -> None:
    assert set(CHANNELS) == {(signal, column) for signal, spec in SIGNALS.items() for column in spec.columns}


def test_a_patient_export_holds_no_other_patients_data(sqlite_clinic: Clinic, tmp_path: Path) -> None:
    out = tmp_path / "patient"
    export_patient(sqlite_clinic.store, PATIENT, out, formats=CSV, actor="cli:tester")
    with sqlite_clinic.store.session() as db:
        others = db.scalars(select(Patient).where(Patient.pseudonym != PATIENT)).all()
    assert others
    other_sessions = {s for p in others for s in session_ids_of(sqlite_clinic.store, p.pseudonym)}
    assert other_sessions
    exported = (out / "sessions.csv").read_text("utf-8")
    for file in out.rglob("*.csv"):
        text = file.read_text("utf-8")
        for other in others:
            assert other.pseudonym not in text, file
            assert other.display_name not in text, file
    assert not any(f"session-{s}_" in p.name for s in other_sessions for p in (out / "signals").iterdir())
    assert DISPLAY_NAME.replace('"', '""') in (out / "patient.csv").read_text("utf-8")
    assert exported.count(f'"{PATIENT}"') == len(session_ids_of(sqlite_clinic.store, PATIENT))


def test_each_export_is_in_the_audit_log_without_personal_data(sqlite_clinic: Clinic, tmp_path: Path) -> None:
    before = len(audit_rows(sqlite_clinic.store))
    export_session(sqlite_clinic.store, sqlite_clinic.session_id, tmp_path / "a", formats=CSV, actor="cli:ana")
    export_patient(sqlite_clinic.store, PATIENT, tmp_path / "b", formats=BOTH, actor="clinician:3")
    session_audit, patient_audit = audit_rows(sqlite_clinic.store)[before:]
    assert (session_audit.actor, session_audit.action, session_audit.patient_pseudonym) == (
        "cli:ana",
        "export",
        PATIENT,
    )
    assert f"session {sqlite_clinic.session_id}" in session_audit.detail
    assert "as csv" in session_audit.detail
    assert (patient_audit.actor, patient_audit.action, patient_audit.patient_pseudonym) == (
        "clinician:3",
        "export",
        PATIENT,
    )
    files = manifest(tmp_path / "b")["files"]
    assert f"{len(files) + 1} files, {sum(f['rows'] for f in files)} rows" in patient_audit.detail
    # Who exported is the audit log's to know, not the export's: staff names stay out of what a patient gets.
    assert "cli:ana" not in (tmp_path / "a" / "manifest.json").read_text("utf-8")
    for event in (session_audit, patient_audit):
        assert "Holm" not in event.detail
        assert str(tmp_path) not in event.detail
        assert abs((event.at - datetime.now(UTC)).total_seconds()) < 600


def test_an_export_folder_is_for_its_owner_only(sqlite_clinic: Clinic, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    export_session(sqlite_clinic.store, sqlite_clinic.session_id, out, formats=CSV, actor="cli:tester")
    assert out.stat().st_mode & 0o777 == 0o700
    assert (out / "sessions.csv").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]  # no work folder left beside it


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("no session", "no session 999999"),
        ("no patient", "no patient 'p-nobody'"),
        ("not empty", "exists and is not empty"),
        ("a file", "exists and is not a folder"),
        ("no parent", "there is no folder"),
        ("no format", "formats must be some of csv, parquet"),
        ("bad format", "formats must be some of csv, parquet, not csv, xlsx"),
    ],
)
def test_an_export_that_cannot_be_made_writes_nothing(
    sqlite_clinic: Clinic, tmp_path: Path, what: str, message: str
) -> None:
    store = sqlite_clinic.store
    out = tmp_path / "out"
    if what == "not empty":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    elif what == "a file":
        out.write_text("mine")
    elif what == "no parent":
        out = tmp_path / "missing" / "out"
    formats: tuple[Any, ...] = {"no format": (), "bad format": ("csv", "xlsx")}.get(what, CSV)
    export = (
        partial(export_session, session_id=999999)
        if what == "no session"
        else partial(export_patient, pseudonym="p-nobody" if what == "no patient" else PATIENT)
    )
    before = len(audit_rows(store))
    listing = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(ExportError, match=message):
        export(store=store, out_dir=out, formats=formats, actor="cli:tester")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == listing
    if what in ("not empty", "a file"):
        assert (out / "keep.txt" if what == "not empty" else out).read_text() == "mine"
    assert len(audit_rows(store)) == before


def test_an_export_that_fails_midway_leaves_no_files_and_no_audit_row(sqlite_clinic: Clinic, tmp_path: Path) -> None:
    """The relational tables are written, then the signal database cannot be reached."""
    closed_port = Settings(influx_url="http://127.0.0.1:9", influx_api="v1")
    store = Store(sqlite_clinic.store.url, settings=closed_port)
    before = len(audit_rows(store))
    try:
        with pytest.raises(SignalStoreUnavailable):
            export_patient(store, PATIENT, tmp_path / "out", formats=BOTH, actor="cli:tester")
    finally:
        store.close()
    assert list(tmp_path.iterdir()) == []
    assert len(audit_rows(sqlite_clinic.store)) == before


# The command line.


def words(output: str) -> str:
    """The output with its lines joined again (rich wraps long ones)."""
    return " ".join(output.split())


@pytest.fixture
def cli_env(sqlite_clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> Clinic:
    monkeypatch.setenv("DOSIS_DATABASE_URL", sqlite_clinic.store.url)
    monkeypatch.delenv("DOSIS_INFLUX_URL", raising=False)
    return sqlite_clinic


def test_dosis_export_of_a_patient_prints_what_it_wrote(cli_env: Clinic, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = CliRunner().invoke(app, ["export", "--patient", PATIENT, "--out", str(out), "--format", "csv"])
    assert result.exit_code == 0, result.output
    files = manifest(out)["files"]
    assert all(f["path"].endswith(".csv") for f in files)
    for file in files:
        assert file["path"] in result.output
    assert f"{len(files) + 1} files, {sum(f['rows'] for f in files)} rows" in words(result.output)
    last = audit_rows(cli_env.store)[-1]
    assert (last.actor, last.action, last.patient_pseudonym) == (f"cli:{getpass.getuser()}", "export", PATIENT)


def test_dosis_export_of_a_session_in_parquet(cli_env: Clinic, tmp_path: Path) -> None:
    out = tmp_path / "export"
    args = ["export", "--session", str(cli_env.session_id), "--out", str(out), "--format", "parquet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    info = manifest(out)
    assert info["session_ids"] == [cli_env.session_id]
    assert info["formats"] == ["parquet"]
    assert "sessions.parquet" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--session", "999999"], "no session 999999; nothing was exported"),
        (["--patient", "p-nobody"], "no patient 'p-nobody'"),
        (["--session", "1", "--patient", PATIENT], "not both"),
        ([], "give --session ID or --patient PSEUDONYM"),
        (["--patient", PATIENT, "--format", "xlsx"], "xlsx"),
    ],
)
def test_dosis_export_refuses_with_a_clear_error(
    cli_env: Clinic, tmp_path: Path, args: list[str], message: str
) -> None:
    before = len(audit_rows(cli_env.store))
    result = CliRunner().invoke(app, ["export", "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 2
    assert message in words(result.output)
    assert not (tmp_path / "out").exists()
    assert len(audit_rows(cli_env.store)) == before


def test_dosis_export_keeps_a_folder_that_is_not_empty(cli_env: Clinic, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["export", "--patient", PATIENT, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "exists and is not empty" in words(result.output)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
