"""A session, or all of one patient's data, as CSV and Parquet files with a manifest that explains them.

For clinical records, and for a patient's rights of access and to data portability (GDPR
art. 15 and 20). The files hold exactly what is stored: Parquet keeps the stored types
(int16 counts, float32 intervals, int64 ns times), and CSV writes each number as the
shortest decimal that reads back as the same float64. Signals are read through the signal
store (SQL or InfluxDB alike), one signal of one session at a time, so a long history needs
no more memory than its longest session.

The files are written into a hidden folder beside ``out_dir``, readable by its owner only,
and renamed into place once complete, in the transaction that adds the export to the audit
log: a failed export leaves neither files nor an audit row behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from monitor.store import (
    SIGNALS,
    Device,
    Patient,
    SessionAnalysis,
    SessionEvent,
    Store,
    TrainingSession,
)
from monitor.store.audit import record_audit
from monitor.store.clinical import prescription_versions
from monitor.store.models import (
    AdviceDecision,
    ClinicalProfile,
    MorningReportRow,
    PrescriptionVersion,
    SessionLoadRow,
    SessionReportRow,
)

Format = Literal["csv", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "parquet")
MANIFEST_VERSION = 1


class ExportError(ValueError):
    """An export that cannot be made as asked; nothing was written."""


@dataclass(frozen=True, slots=True)
class ExportedFile:
    path: str
    """Relative to the export folder, with ``/`` between folders."""
    table: str
    rows: int


@dataclass(frozen=True, slots=True)
class ExportSummary:
    out_dir: Path
    patient_pseudonym: str
    session_ids: tuple[int, ...]
    files: tuple[ExportedFile, ...]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


TYPES: dict[str, dict[str, str]] = {
    "int64": {"csv": "integer", "parquet": "int64"},
    "int16": {"csv": "integer", "parquet": "int16"},
    "float64": {"csv": "the shortest decimal that reads back as the same float64; nan for NaN", "parquet": "double"},
    "float32": {"csv": "the decimal of the float64 the float32 equals, so it reads back exactly", "parquet": "float"},
    "string": {"csv": "text in double quotes", "parquet": "string (UTF-8)"},
    "json": {"csv": "JSON text in double quotes", "parquet": "string holding JSON"},
    "timestamp_ns": {"csv": "ISO 8601 in UTC, 2026-11-02T09:00:00.000000001Z", "parquet": "timestamp (ns, UTC)"},
    "timestamp_us": {"csv": "ISO 8601 in UTC, 2026-11-02T09:00:00.000001Z", "parquet": "timestamp (µs, UTC)"},
    "date": {"csv": "ISO 8601 date, 2026-11-02", "parquet": "date32"},
    "null": {"csv": 'an empty field without quotes (empty text is "")', "parquet": "null"},
}
_ARROW_TYPES = {
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


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    """A key of :data:`TYPES`."""
    meaning: str
    unit: str | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.type]


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    meaning: str
    columns: tuple[Column, ...]

    def schema(self) -> pa.Schema:
        """Units and meanings go into the Parquet file too, as field metadata."""
        return pa.schema(
            pa.field(c.name, c.arrow_type, metadata={"meaning": c.meaning} | ({"unit": c.unit} if c.unit else {}))
            for c in self.columns
        )


_RED_FLAGS = "the red-flag questions answered yes, as a JSON list"
_NRS = "NRS 0-10"
_CLINIC_DAY = "a day in the clinic's timezone"

PATIENT = TableSpec(
    "patient",
    "The patient as the clinic knows them.",
    (
        Column("pseudonym", "string", "the key Dosis keeps the patient's data under"),
        Column("display_name", "string", "the patient's name as the clinic entered it"),
        Column("clinician_id", "int64", "the clinician responsible"),
    ),
)
CLINICAL_PROFILE = TableSpec(
    "clinical_profile",
    "What training load is computed from; no row when none was entered.",
    (
        Column("sex", "string", "male or female, for Banister's TRIMP"),
        Column("birth_year", "int64", "for the estimated maximal heart rate (Tanaka) when none was measured"),
        Column("hr_rest_bpm", "float64", "resting heart rate", "bpm"),
        Column("hr_max_bpm", "float64", "measured maximal heart rate; empty: estimated from the birth year", "bpm"),
        Column("updated_at", "timestamp_us", "when the profile was last changed"),
    ),
)
PRESCRIPTIONS = TableSpec(
    "prescriptions",
    "Every version of the prescription; versions are never changed, only added.",
    (
        Column("version", "int64", "1 for the first, counting up"),
        Column("valid_from", "date", f"the first day it applies to, {_CLINIC_DAY}"),
        Column("fields", "json", "the prescription: sessions per week, kinds, volume, intensity, heart-rate ceiling"),
        Column("created_at", "timestamp_us", "when it was prescribed"),
        Column("created_by_clinician_id", "int64", "who prescribed it; empty: the system or a deleted clinician"),
        Column("note", "string", "the clinician's note"),
    ),
)
ADVICE_DECISIONS = TableSpec(
    "advice_decisions",
    "What the clinician did with each week's advice.",
    (
        Column("week_start", "date", f"the Monday of the week the advice was about, {_CLINIC_DAY}"),
        Column("decision", "string", "confirmed, changed or rejected"),
        Column("advice", "json", "the advice as it was shown: action, message and proposed changes"),
        Column("prescription_version", "int64", "the prescription version the decision created; empty: rejected"),
        Column("decided_at", "timestamp_us", "when the clinician decided"),
        Column("decided_by_clinician_id", "int64", "who decided"),
        Column("note", "string", "the clinician's note"),
    ),
)
MORNING_REPORTS = TableSpec(
    "morning_reports",
    "Pain and stiffness on waking, and the red-flag questions, one report a day.",
    (
        Column("day", "date", _CLINIC_DAY),
        Column("pain", "float64", "pain on waking", _NRS),
        Column("stiffness", "float64", "stiffness on waking", _NRS),
        Column("red_flags", "json", _RED_FLAGS),
        Column("reported_at", "timestamp_us", "when the report was given"),
    ),
)
SESSIONS = TableSpec(
    "sessions",
    "Each training session: its summary, heart-rate load and the analysis of its signals.",
    (
        Column("session_id", "int64", "the session's number; signal files are named by it"),
        Column("uid", "string", "the recording hub's key for the session (a UUID); empty: recorded by the server"),
        Column("patient_pseudonym", "string", "whose session it is"),
        Column("hub", "string", "the name of the hub that streamed it; empty: recorded by the server"),
        Column("kind", "string", "walking or strength"),
        Column("status", "string", "live while recording, then complete or interrupted"),
        Column("started_at", "timestamp_us", "when recording started"),
        Column("ended_at", "timestamp_us", "when recording ended"),
        Column("duration_s", "float64", "from start to end", "s"),
        Column("source", "string", "how it was recorded: live, or a replay of which capture"),
        Column("devices", "string", "the wearables, as named when recording"),
        Column("malformed_count", "int64", "notifications or capture lines that could not be used"),
        Column("hr_mean_bpm", "float64", "mean heart rate", "bpm"),
        Column("hr_max_bpm", "float64", "maximal heart rate", "bpm"),
        Column("hr_coverage", "float64", "share of the session's seconds with a valid heart rate, 0 to 1"),
        Column("beat_count", "int64", "RR intervals recorded"),
        Column("acc_sample_count", "int64", "acceleration samples recorded"),
        Column("trimp_banister", "float64", "Banister's training impulse", "AU"),
        Column("trimp_edwards", "float64", "Edwards's training impulse", "AU"),
        Column("time_above_ceiling_s", "float64", "time above the prescribed heart-rate ceiling", "s"),
        Column("ceiling_bpm", "float64", "the heart-rate ceiling prescribed on the day", "bpm"),
        Column("analysis_version", "int64", "the version of the analysis that wrote the analysis columns"),
        Column("analysis_activity", "json", "steps, cadence and walking time, or sets and repetitions; intensity"),
        Column("analysis_heart", "json", "beats, artefacts, HRV (RMSSD, SDNN in ms), DFA alpha1, HRVT1 in bpm"),
    ),
)
SESSION_EVENTS = TableSpec(
    "session_events",
    "What a session said about its data while recording: unusable notifications, link gaps, failed analyses.",
    (
        Column("session_id", "int64", "the session"),
        Column("event_id", "int64", "the event's number, in the order events were stored"),
        Column("seq", "int64", "the recording hub's number for the event; empty: recorded by the server"),
        Column("t_ns", "int64", "when it happened, Unix time UTC; empty: not known", "ns"),
        Column("time_utc", "timestamp_ns", "t_ns as a UTC time"),
        Column("kind", "string", "malformed, gap, analysis_failed, ..."),
        Column("message", "string", "what happened"),
    ),
)
SESSION_REPORTS = TableSpec(
    "session_reports",
    "The patient's report on a session.",
    (
        Column("session_id", "int64", "the session"),
        Column("pain_before", "float64", "pain before the session", _NRS),
        Column("pain_during", "float64", "the worst pain during the session", _NRS),
        Column("pain_after", "float64", "pain after the session", _NRS),
        Column("effort_cr10", "float64", "perceived effort of the whole session", "CR-10"),
        Column("weight_kg", "float64", "the weight lifted", "kg"),
        Column("red_flags", "json", _RED_FLAGS),
        Column("reported_at", "timestamp_us", "when the report was given"),
    ),
)


def _row(spec: TableSpec, source: object, **given: Any) -> dict[str, Any]:
    """The spec's columns from ``given``, else the attribute of ``source`` of that name; JSON columns as text."""
    row = {}
    for column in spec.columns:
        value = given[column.name] if column.name in given else getattr(source, column.name)
        row[column.name] = (
            json.dumps(value, ensure_ascii=False) if column.type == "json" and value is not None else value
        )
    return row


def _patient_rows(db: Session, patient: Patient, sessions: ColumnElement[bool]) -> list[dict[str, Any]]:
    return [_row(PATIENT, patient)]


def _profile_rows(db: Session, patient: Patient, sessions: ColumnElement[bool]) -> list[dict[str, Any]]:
    profile = db.get(ClinicalProfile, patient.id)
    return [] if profile is None else [_row(CLINICAL_PROFILE, profile)]


def _prescription_rows(db: Session, patient: Patient, sessions: ColumnElement[bool]) -> list[dict[str, Any]]:
    return [_row(PRESCRIPTIONS, v, created_by_clinician_id=v.created_by) for v in prescription_versions(db, patient.id)]


def _advice_rows(db: Session, patient: Patient, sessions: ColumnElement[bool]) -> list[dict[str, Any]]:
    query = (
        select(AdviceDecision, PrescriptionVersion.version)
        .outerjoin(PrescriptionVersion, PrescriptionVersion.id == AdviceDecision.prescription_version_id)
        .where(AdviceDecision.patient_id == patient.id)
        .order_by(AdviceDecision.week_start)
    )
    return [
        _row(ADVICE_DECISIONS, d, prescription_version=created, decided_by_clinician_id=d.decided_by)
        for d, created in db.execute(query)
    ]


def _morning_rows(db: Session, patient: Patient, sessions: ColumnElement[bool]) -> list[dict[str, Any]]:
    query = select(MorningReportRow).where(MorningReportRow.patient_id == patient.id).order_by(MorningReportRow.day)
    return [_row(MORNING_REPORTS, m) for m in db.scalars(query)]


def _session_rows(db: Session, patient: Patient, sessions: ColumnElement[bool]) -> list[dict[str, Any]]:
    query = (
        select(TrainingSession, SessionLoadRow, SessionAnalysis, Device.name)
        .outerjoin(SessionLoadRow, SessionLoadRow.session_id == TrainingSession.id)
        .outerjoin(SessionAnalysis, SessionAnalysis.session_id == TrainingSession.id)
        .outerjoin(Device, Device.id == TrainingSession.hub_id)
        .where(sessions)
        .order_by(TrainingSession.started_at, TrainingSession.id)
    )
    load = ("trimp_banister", "trimp_edwards", "time_above_ceiling_s", "ceiling_bpm")
    return [
        _row(
            SESSIONS,
            s,
            session_id=s.id,
            patient_pseudonym=patient.pseudonym,
            hub=hub,
            # getattr of None (no load or analysis written) gives None.
            **{name: getattr(load_row, name, None) for name in load},
            analysis_version=getattr(analysis, "version", None),
            analysis_activity=getattr(analysis, "activity", None),
            analysis_heart=getattr(analysis, "heart", None),
        )
        for s, load_row, analysis, hub in db.execute(query)
    ]


def _event_rows(db: Session, patient: Patient, sessions: ColumnElement[bool]) -> list[dict[str, Any]]:
    query = select(SessionEvent).join(TrainingSession).where(sessions)
    return [
        _row(SESSION_EVENTS, e, event_id=e.id, time_utc=e.t_ns)
        for e in db.scalars(query.order_by(SessionEvent.session_id, SessionEvent.id))
    ]


def _report_rows(db: Session, patient: Patient, sessions: ColumnElement[bool]) -> list[dict[str, Any]]:
    query = (
        select(SessionReportRow)
        .join(TrainingSession, TrainingSession.id == SessionReportRow.session_id)
        .where(sessions)
        .order_by(TrainingSession.started_at, TrainingSession.id)
    )
    return [_row(SESSION_REPORTS, r) for r in db.scalars(query)]


Rows = Callable[[Session, Patient, ColumnElement[bool]], list[dict[str, Any]]]
"""A table's rows for the patient and the training sessions the condition selects."""

SESSION_TABLES: tuple[tuple[TableSpec, Rows], ...] = (
    (SESSIONS, _session_rows),
    (SESSION_EVENTS, _event_rows),
    (SESSION_REPORTS, _report_rows),
)
PATIENT_TABLES: tuple[tuple[TableSpec, Rows], ...] = (
    (PATIENT, _patient_rows),
    (CLINICAL_PROFILE, _profile_rows),
    (PRESCRIPTIONS, _prescription_rows),
    (ADVICE_DECISIONS, _advice_rows),
    (MORNING_REPORTS, _morning_rows),
    *SESSION_TABLES,
)

CHANNELS: dict[tuple[str, str], tuple[str, str | None]] = {
    ("hr_bpm", "bpm"): ("heart rate as the sensor reported it", "bpm"),
    ("hr_bpm", "contact"): ("skin contact: 1 detected, 0 not detected, -1 the sensor cannot tell", None),
    ("rr_ms", "rr"): ("the RR interval that ended with this beat", "ms"),
    ("acc_mg", "x"): ("acceleration along the sensor's x axis", "mG"),
    ("acc_mg", "y"): ("acceleration along the sensor's y axis", "mG"),
    ("acc_mg", "z"): ("acceleration along the sensor's z axis", "mG"),
    ("ecg_uv", "ecg"): ("ECG voltage", "µV"),
    ("ppi_ms", "pp"): ("the pulse-to-pulse interval that ended with this pulse", "ms"),
    ("ppi_ms", "error"): ("the device's estimate of the interval's error", "ms"),
    ("ppi_ms", "blocker"): ("1: the device flags the interval as unreliable", None),
    ("ppi_ms", "skin_contact"): ("1: the device was in contact with the skin", None),
}
"""Meaning and unit of each channel of :data:`~monitor.store.signals.SIGNALS`."""


def signal_table(signal: str) -> TableSpec:
    """The samples of one signal of one session, every device's, one device after the other."""
    spec = SIGNALS[signal]
    # int16 counts of a whole unit are whole numbers; of a fraction of one, decimals.
    channel_type = "float32" if spec.encoding == "float32" else "int16" if spec.scale == 1.0 else "float64"
    return TableSpec(
        f"signal_{signal}",
        f"The {signal} samples of one session as stored, each device's in time order.",
        (
            Column("t_ns", "int64", "the sample's time, Unix time UTC", "ns"),
            Column("time_utc", "timestamp_ns", "t_ns as a UTC time"),
            *(Column(name, channel_type, *CHANNELS[signal, name]) for name in spec.columns),
            Column("device", "string", "the device that recorded it; empty: the signal store does not say"),
        ),
    )


@dataclass(frozen=True, slots=True)
class _Scope:
    """What an export covers: one session, or a patient and all their sessions."""

    description: str
    patient: Patient
    sessions: ColumnElement[bool]
    """Which training sessions, as a condition on :class:`TrainingSession`."""
    tables: tuple[tuple[TableSpec, Rows], ...]


def export_session(
    store: Store,
    session_id: int,
    out_dir: str | Path,
    *,
    formats: Collection[Format],
    actor: str,
) -> ExportSummary:
    """One session: its summary, events, the patient's report on it, and its signals.

    ``actor`` is who exports, for the audit log (``cli:<os user>``, ``clinician:<id>``).
    """
    with store.session() as db:
        session = db.get(TrainingSession, session_id)
        if session is None:
            raise ExportError(f"no session {session_id}")
        scope = _Scope(f"session {session_id}", session.patient, TrainingSession.id == session_id, SESSION_TABLES)
    return _export(store, scope, Path(out_dir).resolve(), formats=formats, actor=actor)


def export_patient(
    store: Store,
    pseudonym: str,
    out_dir: str | Path,
    *,
    formats: Collection[Format],
    actor: str,
) -> ExportSummary:
    """Everything stored about a patient: profile, prescriptions, decisions, reports, and every session."""
    with store.session() as db:
        patient = db.scalar(select(Patient).where(Patient.pseudonym == pseudonym))
        if patient is None:
            raise ExportError(f"no patient {pseudonym!r}")
        scope = _Scope("patient record", patient, TrainingSession.patient_id == patient.id, PATIENT_TABLES)
    return _export(store, scope, Path(out_dir).resolve(), formats=formats, actor=actor)


def _export(store: Store, scope: _Scope, out_dir: Path, *, formats: Collection[Format], actor: str) -> ExportSummary:
    chosen = tuple(f for f in FORMATS if f in formats)
    if not chosen or len(chosen) != len(set(formats)):
        given = ", ".join(map(str, formats)) or "none"
        raise ExportError(f"formats must be some of {', '.join(FORMATS)}, not {given}")
    _check_out_dir(out_dir)
    exported_at = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        session_ids, files, tables = _write_files(store, scope, work, chosen)
        manifest = _manifest(store, scope, session_ids, files, tables, chosen, exported_at)
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", "utf-8")
        detail = (
            f"{scope.description} with {len(session_ids)} sessions as {'+'.join(chosen)}: "
            f"{len(files) + 1} files, {sum(f.rows for f in files)} rows"
        )
        with store.session() as db:
            record_audit(db, actor=actor, action="export", patient_pseudonym=scope.patient.pseudonym, detail=detail)
            db.flush()
            _put_in_place(work, out_dir)
            try:
                db.commit()
            except BaseException:
                shutil.rmtree(out_dir, ignore_errors=True)
                raise
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ExportSummary(out_dir, scope.patient.pseudonym, tuple(session_ids), tuple(files))


def _write_files(
    store: Store, scope: _Scope, work: Path, formats: Sequence[Format]
) -> tuple[list[int], list[ExportedFile], list[TableSpec]]:
    """The scope's tables, then its sessions' signals; the sessions, the files written, and their tables."""
    with store.session() as db:
        query = select(TrainingSession.id).where(scope.sessions)
        session_ids = list(db.scalars(query.order_by(TrainingSession.started_at, TrainingSession.id)))
        files = [
            file
            for spec, rows in scope.tables
            for file in _write(
                work, spec, spec.name, formats, [_arrow_table(spec, rows(db, scope.patient, scope.sessions))]
            )
        ]
    signal_tables = {signal: signal_table(signal) for signal in SIGNALS}
    exported: set[str] = set()
    # Session by session, one signal at a time: memory holds at most one signal of one session.
    for session_id in session_ids:
        for signal, spec in signal_tables.items():
            stem = f"signals/session-{session_id}_{signal}"
            written = _write(work, spec, stem, formats, _signal_parts(store, session_id, signal, spec))
            if written:
                files += written
                exported.add(signal)
    return session_ids, files, [spec for spec, _ in scope.tables] + [signal_tables[s] for s in SIGNALS if s in exported]


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.is_dir():
        if any(out_dir.iterdir()):
            raise ExportError(f"{out_dir} exists and is not empty; export into a new or empty folder")
    elif out_dir.exists():
        raise ExportError(f"{out_dir} exists and is not a folder")
    elif not out_dir.parent.is_dir():
        raise ExportError(f"there is no folder {out_dir.parent} to export into")


def _put_in_place(work: Path, out_dir: Path) -> None:
    if out_dir.is_dir():
        out_dir.rmdir()  # empty, as checked; if something was put there since, this fails and keeps it
    work.rename(out_dir)


def _arrow_table(spec: TableSpec, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=spec.schema())


def _signal_parts(store: Store, session_id: int, signal: str, spec: TableSpec) -> Iterator[pa.Table]:
    """The session's samples of ``signal`` as ``spec`` has them, one device after another, each in time order."""
    channels = [c for c in spec.columns if c.name in SIGNALS[signal].columns]
    for device in _recorded_devices(store, session_id, signal):
        samples = store.signals.read(session_id, signal, device=device)
        if len(samples) == 0:
            continue
        times = pa.array(samples.t_ns, pa.int64())
        columns = [times, times.cast(spec.schema().field("time_utc").type)]
        for index, channel in enumerate(channels):
            values = samples.values[:, index]
            # A channel missing from a point (InfluxDB can have that) is a null, not a NaN count.
            missing = np.isnan(values) if pa.types.is_integer(channel.arrow_type) else None
            # Checked: a value that is not whole raises rather than go into an int column.
            columns.append(pa.array(values, channel.arrow_type, mask=missing))
        columns.append(pa.array([device] * len(samples), pa.string()))
        yield pa.Table.from_arrays(columns, schema=spec.schema())


def _recorded_devices(store: Store, session_id: int, signal: str) -> list[str]:
    """The devices that recorded ``signal`` in the session, as every signal store can list them."""
    return store.signals.devices(session_id, signal)


def _write(
    work: Path, spec: TableSpec, stem: str, formats: Sequence[Format], parts: Iterable[pa.Table]
) -> list[ExportedFile]:
    """The parts as one file per format; no files when there are no parts."""
    paths = {f: work / f"{stem}.{f}" for f in formats}
    writers: list[Any] = []
    rows = 0
    try:
        for part in parts:
            if not writers:
                paths[formats[0]].parent.mkdir(exist_ok=True)
                writers = [_writer(f, path, spec.schema()) for f, path in paths.items()]
            for writer in writers:
                writer.write_table(_for_csv(part) if isinstance(writer, pa_csv.CSVWriter) else part)
            rows += part.num_rows
    finally:
        for writer in writers:
            writer.close()
    return (
        [ExportedFile(path.relative_to(work).as_posix(), spec.name, rows) for path in paths.values()] if writers else []
    )


def _writer(format: Format, path: Path, schema: pa.Schema) -> Any:
    if format == "csv":
        return pa_csv.CSVWriter(str(path), _for_csv(schema.empty_table()).schema)
    return pq.ParquetWriter(str(path), schema)


def _for_csv(table: pa.Table) -> pa.Table:
    """Times as ISO 8601 text, and float32 as the float64 it equals, so that its decimal reads back exactly."""
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            # Arrow writes "2026-11-02 09:00:00.000000001Z"; ISO 8601 puts a T between date and time.
            column = pc.replace_substring(column.cast(pa.string()), pattern=" ", replacement="T", max_replacements=1)
        elif pa.types.is_float32(column.type):
            column = column.cast(pa.float64())
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def _manifest(
    store: Store,
    scope: _Scope,
    session_ids: list[int],
    files: list[ExportedFile],
    tables: Sequence[TableSpec],
    formats: Sequence[Format],
    exported_at: datetime,
) -> dict[str, Any]:
    return {
        "format": "dosis-export",
        "manifest_version": MANIFEST_VERSION,
        "dosis_version": version("dosis"),
        "exported_at": exported_at.isoformat().replace("+00:00", "Z"),
        "contents": scope.description,
        "patient_pseudonym": scope.patient.pseudonym,
        "session_ids": session_ids,
        "formats": list(formats),
        "times": (
            "Moments are in UTC. The t_ns columns hold times as stored: Unix time in nanoseconds "
            "(leap seconds not counted); time_utc gives each again as ISO 8601. Other moments "
            "(started_at, reported_at, ...) are stored to the microsecond. Dates (day, valid_from, "
            f"week_start) are days in the clinic's timezone, {store.tz}."
        ),
        "types": TYPES,
        "tables": {
            spec.name: {
                "meaning": spec.meaning,
                "columns": [
                    {"name": c.name, "type": c.type, "unit": c.unit, "meaning": c.meaning} for c in spec.columns
                ],
            }
            for spec in tables
        },
        "files": [{"path": f.path, "table": f.table, "rows": f.rows} for f in files],
    }
