"""What an export holds: its tables, their columns with types, units and meanings, and their rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from monitor.store import (
    SIGNALS,
    Device,
    Patient,
    SessionAnalysis,
    SessionEvent,
    TrainingSession,
)
from monitor.store.clinical import prescription_versions
from monitor.store.models import (
    AdviceDecision,
    ClinicalProfile,
    MorningReportRow,
    PrescriptionVersion,
    SessionLoadRow,
    SessionReportRow,
)

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
