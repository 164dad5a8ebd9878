"""What the JSON API returns; the pages render the same objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int] = Field(description='Where: e.g. ["body", "pain_after"] or ["path", "session_id"]')
    msg: str
    type: str


class Unprocessable(BaseModel):
    """A 422: a field that does not fit the schema (where and what), or a rule the input breaks (a sentence)."""

    detail: str | list[FieldError]


Responses = dict[int | str, dict[str, Any]]
ERROR_RESPONSES: Responses = {
    400: {"model": ErrorDetail, "description": "The body could not be read (not UTF-8, a broken form)."},
    413: {"model": ErrorDetail, "description": "The body is larger than this server takes."},
    422: {"model": Unprocessable, "description": "The input does not fit: where and what, or why."},
    503: {"model": ErrorDetail, "description": "A database is unavailable; try again after Retry-After seconds."},
}
"""What any operation may answer besides its own responses, in the OpenAPI schema."""
SIGNED_IN_RESPONSES: Responses = {
    401: {"model": ErrorDetail, "description": "Sign in first."},
    403: {"model": ErrorDetail, "description": "Not for this role, or a request from another site or an old form."},
}


def as_json(responses: Responses) -> Responses:
    """``responses`` declared as JSON on a route whose own media type is another (an event stream's errors are JSON).

    FastAPI gives a response's ``model`` the route's media type; the models are the app's schemas already.
    """
    return {
        code: {
            "description": response["description"],
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{response['model'].__name__}"}}},
        }
        for code, response in responses.items()
    }


class PatientOverview(BaseModel):
    pseudonym: str
    display_name: str
    session_count: int
    last_session_id: int | None
    last_session_at: datetime | None = Field(description="Start of the newest session, UTC.")
    last_session_kind: str | None
    last_session_hr_mean_bpm: float | None


class SessionSummary(BaseModel):
    id: int
    patient_pseudonym: str
    kind: str = Field(description="walking or strength")
    status: str = Field(description="live while recording, then complete or interrupted")
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    hr_mean_bpm: float | None
    hr_max_bpm: float | None
    hr_coverage: float | None = Field(description="Share of the session's seconds with a valid heart rate, 0..1.")
    beat_count: int | None
    steps: int | None = Field(description="Steps counted in a walking session (batch analysis).")
    reps: int | None = Field(description="Repetitions over all sets of a strength session (batch analysis).")
    sets: int | None = Field(description="Sets found in a strength session (batch analysis).")
    rmssd_ms: float | None = Field(description="RMSSD after artifact correction; None when withheld (> 5 % artifacts).")
    alpha1: float | None = Field(description="DFA α1 of the session's corrected beats (boxes 4-16).")
    rr_artifact_fraction: float | None = Field(description="Share of beats the artifact correction changed, 0..1.")
    walking_min: float | None = Field(description="Minutes within walking bouts (batch analysis).")
    minutes_at_100_spm: int | None = Field(description="Whole minutes at ≥ 100 steps/min (moderate walking).")
    volume_kg: float | None = Field(description="Repetitions × the weight the patient entered; None without one.")
    time_under_tension_s: float | None = Field(description="Σ over the sets (batch analysis).")
    srpe_au: float | None = Field(description="Session load: the patient's CR-10 effort × minutes.")
    trimp_banister: float | None = Field(description="Banister TRIMP, second by second (needs sex, rest and max HR).")
    trimp_edwards: float | None = Field(description="Edwards TRIMP (minutes in zones of % HRmax × 1-5).")
    time_above_ceiling_s: float | None = Field(description="Seconds above the heart-rate ceiling prescribed that day.")
    ceiling_bpm: float | None
    acc_sample_count: int | None
    malformed_count: int = Field(
        description="Notifications that could not be used, kept current while live; the first 100 are listed as events."
    )
    source: str
    devices: str


class SessionEventOut(BaseModel):
    kind: str
    message: str
    t_ns: int | None = Field(description="When it happened, ns since the Unix epoch.")
    at: datetime | None = Field(description="t_ns as a UTC time.")


class SessionDetail(SessionSummary):
    patient_display_name: str
    events: list[SessionEventOut]


class HeartRateSeries(BaseModel):
    """Heart rate on the 1 Hz grid the session summary is computed from."""

    t_s: list[int] = Field(description="Whole seconds since the Unix epoch, one per second.")
    bpm: list[float | None] = Field(description="Heart rate at each second; null where there was none (a gap).")


class ZoneOut(BaseModel):
    name: str = Field(
        description="ACSM band by % heart-rate reserve: very_light, light, moderate, vigorous, near_maximal."
    )
    lower_bpm: float
    upper_bpm: float | None = Field(description="None for the top band.")
    seconds: float = Field(description="Seconds of the session's 1 Hz heart rate in the band.")


class Alpha1Trace(BaseModel):
    """DFA α1 over the last 2 minutes of corrected beats, every 5 s."""

    t_s: list[float] = Field(description="Window ends, seconds since the Unix epoch.")
    alpha1: list[float | None]


class CadenceOut(BaseModel):
    t_s: list[float] = Field(description="Start of each whole minute, seconds since the Unix epoch.")
    spm: list[float] = Field(description="Steps in that minute.")


class SetOut(BaseModel):
    number: int
    start_s: float = Field(description="Seconds since the Unix epoch.")
    end_s: float
    reps: int
    time_under_tension_s: float
    rest_before_s: float | None


class GapOut(BaseModel):
    start_s: float = Field(description="First second without a valid heart rate, since the Unix epoch.")
    duration_s: float


class SelfReportOut(BaseModel):
    pain_before: float | None
    pain_during: float | None
    pain_after: float | None
    effort_cr10: float | None
    red_flags: list[str]
    reported_at: datetime | None


class SessionTraces(BaseModel):
    """Everything the session page draws besides the raw signals, computed from the stored session."""

    heart_rate: HeartRateSeries
    ceiling_bpm: float | None = Field(description="The heart-rate ceiling prescribed on the session's day.")
    zones: list[ZoneOut] = Field(description="Empty without the patient's rest and max heart rate.")
    alpha1: Alpha1Trace | None = Field(description="None with too few beats or more than 5 % corrected.")
    cadence: CadenceOut | None = Field(description="Walking sessions analysed since cadence was kept.")
    sets: list[SetOut] | None = Field(description="Strength sessions.")
    gaps: list[GapOut] = Field(description="Runs of at least 5 s without a valid heart rate.")
    report: SelfReportOut | None


class DecimatedSignal(BaseModel):
    """One channel of a raw signal, min and max per time bucket (every peak the full data has)."""

    signal: str
    channel: str
    unit: str
    bucket_ns: int
    t_ns: list[int] = Field(description="Start of each bucket that has samples, ns since the Unix epoch.")
    min: list[float]
    max: list[float]
