"""Relational state: clinicians, patients, training sessions, their events and signals.

Patients are keyed by a pseudonym; time-series rows refer to sessions only, so raw
signals carry no personal data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in UTC, timezone-aware on the way in and out, on every backend.

    SQLite keeps no timezone and hands back naive datetimes; converting here keeps
    that out of every caller.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value} stored; give a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime}


class Clinician(Base):
    """A clinician's account; an admin also manages the other accounts."""

    __tablename__ = "clinician"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    """argon2id (pwdlib); None: cannot sign in until a password is set."""
    is_admin: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[str | None] = mapped_column(String(8), default=None)
    """The pages' language (``en``, ``da``, ``nb``); None follows the browser."""
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    failed_logins: Mapped[int] = mapped_column(default=0)
    """Wrong passwords since the last sign-in; enough of them lock the account for a while."""
    locked_until: Mapped[datetime | None] = mapped_column(default=None)

    patients: Mapped[list[Patient]] = relationship(back_populates="clinician")


class Patient(Base):
    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinician.id"))
    locale: Mapped[str | None] = mapped_column(String(8), default=None)
    """The patient's pages' language; None follows the phone's browser."""

    clinician: Mapped[Clinician | None] = relationship(back_populates="patients")
    sessions: Mapped[list[TrainingSession]] = relationship(
        back_populates="patient", order_by="TrainingSession.started_at", cascade="all, delete-orphan"
    )


class TrainingSession(Base):
    """One walking or strength session, with its summary once it has ended."""

    __tablename__ = "training_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(36), unique=True)
    """The key the recording hub gave the session (a UUID), by which its ingest is idempotent."""
    hub_id: Mapped[int | None] = mapped_column(ForeignKey("device.id", ondelete="SET NULL"))
    """The hub that streamed it; None when recorded by the server's own process."""
    recorder: Mapped[str | None] = mapped_column(String(64))
    """The process that records it next to the database (``monitor.process_mark``); None for a hub's."""
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="live")
    """``live`` while recording, then ``complete`` or ``interrupted``."""
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(200), default="")
    devices: Mapped[str] = mapped_column(String(400), default="")
    malformed_count: Mapped[int] = mapped_column(Integer, default=0)
    """Notifications or capture lines that could not be used; kept current while live."""

    duration_s: Mapped[float | None] = mapped_column(Float)
    hr_mean_bpm: Mapped[float | None] = mapped_column(Float)
    hr_max_bpm: Mapped[float | None] = mapped_column(Float)
    hr_coverage: Mapped[float | None] = mapped_column(Float)
    """Share of the session's seconds with a valid heart rate, 0..1."""
    beat_count: Mapped[int | None] = mapped_column(Integer)
    acc_sample_count: Mapped[int | None] = mapped_column(Integer)

    patient: Mapped[Patient] = relationship(back_populates="sessions")
    analysis: Mapped[SessionAnalysis | None] = relationship(back_populates="session", cascade="all, delete-orphan")
    load: Mapped[SessionLoadRow | None] = relationship(cascade="all, delete-orphan")
    report: Mapped[SessionReportRow | None] = relationship(cascade="all, delete-orphan")
    events: Mapped[list[SessionEvent]] = relationship(
        back_populates="session", order_by="SessionEvent.id", cascade="all, delete-orphan"
    )


class SessionAnalysis(Base):
    """The batch analysis of a session's stored signals (``monitor.analysis.session``).

    A table of its own, one row per session, so later analyses add fields to ``activity``
    without changing the session table; ``version`` says which analysis wrote it.
    """

    __tablename__ = "session_analysis"

    session_id: Mapped[int] = mapped_column(ForeignKey("training_session.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    activity: Mapped[dict[str, Any]] = mapped_column(JSON)
    heart: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    session: Mapped[TrainingSession] = relationship(back_populates="analysis")


class SessionEvent(Base):
    """Something the session should say about its data: a skipped payload, a gap."""

    __tablename__ = "session_event"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_session.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int | None] = mapped_column(Integer)
    """The recorder's number for the event, so a re-sent one is stored once."""
    t_ns: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(500))

    session: Mapped[TrainingSession] = relationship(back_populates="events")


class SignalChunk(Base):
    """1–10 s of one signal of one session as a numpy BLOB.

    ``values`` holds ``n_samples × channels`` numbers of ``encoding`` (``int16`` counts
    to multiply by ``scale``, or ``float32``). ``times`` is NULL when the samples are
    evenly spaced from ``t_start_ns`` to ``t_end_ns``, else int64 ns offsets from
    ``t_start_ns``.
    """

    __tablename__ = "signal_chunk"
    __table_args__ = (UniqueConstraint("session_id", "signal", "device", "t_start_ns"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_session.id", ondelete="CASCADE"), index=True)
    signal: Mapped[str] = mapped_column(String(32))
    device: Mapped[str] = mapped_column(String(64))
    t_start_ns: Mapped[int] = mapped_column(BigInteger)
    t_end_ns: Mapped[int] = mapped_column(BigInteger)
    n_samples: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    encoding: Mapped[str] = mapped_column(String(8))
    scale: Mapped[float] = mapped_column(Float, default=1.0)
    times: Mapped[bytes | None] = mapped_column(LargeBinary)
    values: Mapped[bytes] = mapped_column(LargeBinary)


class ClinicalProfile(Base):
    """What load needs to know about a patient: sex for Banister's coefficients, rest and max heart rate."""

    __tablename__ = "clinical_profile"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), primary_key=True)
    sex: Mapped[str | None] = mapped_column(String(8))
    """``male`` or ``female`` (Banister TRIMP); None: TRIMP is not computed."""
    birth_year: Mapped[int | None] = mapped_column(Integer)
    hr_rest_bpm: Mapped[float | None] = mapped_column(Float)
    hr_max_bpm: Mapped[float | None] = mapped_column(Float)
    """Measured; None: Tanaka's estimate from the birth year is used."""
    updated_at: Mapped[datetime]


class PrescriptionVersion(Base):
    """One version of a patient's prescription; versions are never changed, only added."""

    __tablename__ = "prescription_version"
    __table_args__ = (UniqueConstraint("patient_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date)
    """The first day it applies to; weeks from then on are judged against it."""
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    """``monitor.tolerance.Prescription`` as JSON."""
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("clinician.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(1000), default="")


class SessionReportRow(Base):
    """The patient's report on one session: pain before, during, after, effort; with when it was given."""

    __tablename__ = "session_report"

    session_id: Mapped[int] = mapped_column(ForeignKey("training_session.id", ondelete="CASCADE"), primary_key=True)
    pain_before: Mapped[float | None] = mapped_column(Float)
    pain_during: Mapped[float | None] = mapped_column(Float)
    pain_after: Mapped[float | None] = mapped_column(Float)
    effort_cr10: Mapped[float | None] = mapped_column(Float)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    red_flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    reported_at: Mapped[datetime]


class MorningReportRow(Base):
    """Pain and stiffness on waking, and the red-flag questions, one per patient and day."""

    __tablename__ = "morning_report"
    __table_args__ = (UniqueConstraint("patient_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    pain: Mapped[float | None] = mapped_column(Float)
    stiffness: Mapped[float | None] = mapped_column(Float)
    red_flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    reported_at: Mapped[datetime]


class SessionLoadRow(Base):
    """A session's heart-rate load, written when it ends (against the ceiling prescribed then)."""

    __tablename__ = "session_load"

    session_id: Mapped[int] = mapped_column(ForeignKey("training_session.id", ondelete="CASCADE"), primary_key=True)
    trimp_banister: Mapped[float | None] = mapped_column(Float)
    trimp_edwards: Mapped[float | None] = mapped_column(Float)
    time_above_ceiling_s: Mapped[float | None] = mapped_column(Float)
    ceiling_bpm: Mapped[float | None] = mapped_column(Float)


class AdviceDecision(Base):
    """What a clinician did with a week's advice: confirmed, changed or rejected, and when."""

    __tablename__ = "advice_decision"
    __table_args__ = (UniqueConstraint("patient_id", "week_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    week_start: Mapped[date] = mapped_column(Date)
    advice: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The advice as it was shown: action, message and proposed changes."""
    decision: Mapped[str] = mapped_column(String(16))
    """``confirmed``, ``changed`` or ``rejected``."""
    prescription_version_id: Mapped[int | None] = mapped_column(ForeignKey("prescription_version.id"))
    """The version the decision created (confirmed or changed); None when rejected."""
    decided_at: Mapped[datetime]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("clinician.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(1000), default="")


class Device(Base):
    """A registered device: a hub that streams sessions to this server with its own token."""

    __tablename__ = "device"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``hub``."""
    name: Mapped[str] = mapped_column(String(100), unique=True)
    """Where it is, e.g. ``gym-north``; never a patient's name."""
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the device's bearer token (256 random bits, so no slow hash is needed)."""
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Who did what with whose data: every access to, export or deletion of patient data."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    """``clinician:<id>``, ``hub:<name>``, ``cli:<os user>``."""
    action: Mapped[str] = mapped_column(String(32))
    """e.g. ``view``, ``export``, ``delete``, ``ingest``."""
    patient_pseudonym: Mapped[str | None] = mapped_column(String(32), index=True)
    """The pseudonym, not a foreign key: the record outlives a deleted patient, and names nobody."""
    detail: Mapped[str] = mapped_column(String(500), default="")


class PatientSignIn(Base):
    """A patient's personal sign-in code, given by their clinician; revocable."""

    __tablename__ = "patient_sign_in"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    code_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the code (60 random bits, tried at a limited rate, so no slow hash is needed)."""
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("clinician.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class WebSession(Base):
    """A signed-in browser: the cookie holds a random token, this row its hash and its limits."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinician.id", ondelete="CASCADE"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"), index=True)
    sign_in_id: Mapped[int | None] = mapped_column(ForeignKey("patient_sign_in.id", ondelete="CASCADE"))
    """The code a patient signed in with: revoking it ends the sessions it opened."""
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    """The absolute limit; an idle session ends sooner (settings)."""
