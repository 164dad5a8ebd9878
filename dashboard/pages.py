"""The clinician's Patients and Patient pages, and their forms; charts are drawn by static/patient.js.

Everything works without JavaScript: sorting and filtering are links and a GET form, the chart
has a server-rendered table, and the prescription and the advice decision are plain forms
that post back here and redirect to the page (or show it again with what was wrong).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any, cast, get_args
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from dashboard import clinical_queries, queries, templating
from dashboard.auth import CurrentClinician, PatientAccess
from dashboard.clinical_schemas import LoadOut, PatientDaysOut
from dashboard.deps import DbDep, StoreDep
from dashboard.i18n import N_, gettext_for
from dashboard.patient_api import AttentionCacheDep, overview
from monitor.store import Patient, Store
from monitor.store.clinical import Decision, add_prescription
from monitor.tolerance import Prescription

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

CHART_WEEKS = 12
SORTS: dict[str, str] = {
    "need": N_("Needs attention"),
    "name": N_("Name"),
    "last_session": N_("Last session"),
    "adherence": N_("Adherence this week"),
    "load_change": N_("Load change"),
}
FILTERS: dict[str, str] = {
    "all": N_("All patients"),
    "attention": N_("Needing attention"),
    "awaiting": N_("Advice to decide"),
}
DECISIONS = get_args(Decision)
NOTE_LENGTH = 1000
"""A note's column holds this much; the forms' text areas say so too (``maxlength``)."""


class PrescriptionForm(BaseModel):
    """The prescription form as posted: text, checked here so a mistake is shown on the page, not as JSON."""

    sessions_per_week: str = ""
    kinds: list[str] = []
    volume_per_session: str = ""
    volume_unit: str = ""
    volume_goal: str = ""
    intensity: str = ""
    intensity_unit: str = ""
    hr_ceiling_bpm: str = ""
    hr_ceiling_percent_hrr: str = ""
    pain_during_limit: str = ""
    pain_after_limit: str = ""
    valid_from: str = ""
    note: str = Field(default="", max_length=NOTE_LENGTH)


class DecisionForm(BaseModel):
    decision: str = ""
    sessions_per_week: str = ""
    volume_per_session: str = ""
    intensity: str = ""
    note: str = Field(default="", max_length=NOTE_LENGTH)


class FormError(ValueError):
    """What is wrong with a posted form, in the reader's language."""


@router.get("/")
def patients_page(
    request: Request,
    user: CurrentClinician,
    db: DbDep,
    store: StoreDep,
    cache: AttentionCacheDep,
    sort: str = "need",
    filter: str = "all",
) -> HTMLResponse:
    # Unknown values from a hand-edited address fall back to the defaults rather than an error page.
    chosen_sort = cast(queries.Sort, sort if sort in SORTS else "need")
    chosen_filter = cast(queries.Filter, filter if filter in FILTERS else "all")
    everyone = overview(request, user, db, store, cache)
    rows = queries.sort_and_filter(everyone, sort=chosen_sort, filter=chosen_filter)
    return templating.render(
        request,
        "patients.html",
        {
            "patients": rows,
            "total": len(everyone),
            "sort": chosen_sort,
            "filter": chosen_filter,
            "sorts": SORTS,
            "filters": FILTERS,
        },
    )


@router.get("/patients/{pseudonym}")
def patient_page(request: Request, patient: PatientAccess, db: DbDep, store: StoreDep) -> HTMLResponse:
    return _patient_page(request, patient, db, store)


@router.post("/patients/{pseudonym}/prescriptions")
def post_prescription(
    request: Request,
    patient: PatientAccess,
    user: CurrentClinician,
    form: Annotated[PrescriptionForm, Form()],
    db: DbDep,
    store: StoreDep,
) -> Response:
    """A new version of the prescription from the page's form."""
    _ = gettext_for(request)
    history = clinical_queries.prescription_history(db, patient)
    try:
        prescription = _prescription(form, base=history[0].prescription if history else None, gettext=_)
        valid_from = _date(form.valid_from, name=_("Valid from"), gettext=_)
    except ValueError as error:
        return _patient_page(
            request,
            patient,
            db,
            store,
            prescription_error=str(error),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    add_prescription(db, patient.id, prescription, valid_from=valid_from, clinician_id=user.user_id, note=form.note)
    db.commit()
    return _back_to(patient, "prescription")


@router.post("/patients/{pseudonym}/weeks/{start}/decision")
def post_decision(
    request: Request,
    patient: PatientAccess,
    start: date,
    user: CurrentClinician,
    form: Annotated[DecisionForm, Form()],
    db: DbDep,
    store: StoreDep,
) -> Response:
    """Confirm, change or reject a week's advice (the same rules as the JSON API's decision)."""
    _ = gettext_for(request)
    try:
        if form.decision not in DECISIONS:
            raise FormError(_("Choose to confirm, change or reject the advice."))
        prescription = None
        if form.decision == "changed":
            weeks = clinical_queries.patient_weeks(db, patient, tz=store.tz, weeks=clinical_queries.DECISION_WEEKS)
            week = next((w for w in weeks if w.start == start), None)
            if week is not None:
                changed = PrescriptionForm(
                    sessions_per_week=form.sessions_per_week,
                    volume_per_session=form.volume_per_session,
                    intensity=form.intensity,
                )
                prescription = _prescription(changed, base=week.advice.proposed, gettext=_)
        clinical_queries.decide_week(
            db,
            patient,
            start,
            decision=form.decision,  # type: ignore[arg-type]
            prescription=prescription,
            note=form.note,
            clinician_id=user.user_id,
            tz=store.tz,
        )
    except clinical_queries.DecisionRefused as refused:
        return _patient_page(
            request, patient, db, store, decision_error=refused.detail, status_code=refused.status_code
        )
    except ValueError as error:
        return _patient_page(
            request, patient, db, store, decision_error=str(error), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    return _back_to(patient, "advice")


def not_found_page(request: Request, message: str) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    home = "/me" if getattr(user, "kind", None) == "patient" else "/"
    return templating.render(
        request, "not_found.html", {"message": message, "home_path": home}, status_code=status.HTTP_404_NOT_FOUND
    )


def _back_to(patient: Patient, section: str) -> RedirectResponse:
    """After a form: the page again (a reload does not post twice), at the section the form was in."""
    return RedirectResponse(f"/patients/{quote(patient.pseudonym)}#{section}", status_code=status.HTTP_303_SEE_OTHER)


def _patient_page(
    request: Request,
    patient: Patient,
    db: Session,
    store: Store,
    *,
    prescription_error: str | None = None,
    decision_error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    weeks = list(reversed(clinical_queries.patient_weeks(db, patient, tz=store.tz, weeks=CHART_WEEKS)))
    history = clinical_queries.prescription_history(db, patient)
    load = clinical_queries.patient_load(db, patient, tz=store.tz, weeks=CHART_WEEKS)
    days = clinical_queries.patient_days(db, patient, tz=store.tz, weeks=CHART_WEEKS)
    to_decide = next((w for w in weeks if w.complete and w.decision is None), None)
    last_decided = next((w for w in weeks if w.decision is not None), None)
    open_flags = [f for w in weeks if not w.complete or w is to_decide for f in w.flags]
    return templating.render(
        request,
        "patient.html",
        {
            "patient": patient,
            "weeks": weeks,
            "this_week": weeks[0] if weeks else None,
            "to_decide": to_decide,
            "last_decided": last_decided,
            "open_flags": open_flags,
            "history": history,
            "latest": history[0].prescription if history else None,
            "today": datetime.now(store.tz).date(),
            "sessions": queries.patient_sessions(db, patient),
            "chart_rows": _chart_rows(load, days),
            "chart_weeks": CHART_WEEKS,
            "load": load,
            "days": days,
            "prescription_error": prescription_error,
            "decision_error": decision_error,
        },
        status_code=status_code,
    )


def _chart_rows(load: LoadOut, days: PatientDaysOut) -> list[dict[str, Any]]:
    """The chart's data a day a row, for its table."""
    return [
        {
            "day": day,
            "sessions": days.sessions[i],
            "srpe_au": load.daily_au[i],
            "trimp_banister": days.trimp_banister[i],
            "acute_au": load.acute_au[i],
            "chronic_au": load.chronic_au[i],
            "pain_during": days.pain_during[i],
            "pain_after": days.pain_after[i],
            "pain_next_morning": days.pain_next_morning[i],
        }
        for i, day in enumerate(days.days)
    ]


def _number(text: str, *, name: str, gettext: Any) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):  # nan, inf and 1e400 read as floats, and no field takes them
        raise FormError(gettext("%(name)s must be a number, not “%(text)s”.") % {"name": name, "text": text})
    return number


def _date(text: str, *, name: str, gettext: Any) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise FormError(gettext("%(name)s must be a date (YYYY-MM-DD).") % {"name": name}) from None


def _prescription(form: PrescriptionForm, *, base: Prescription | None, gettext: Any) -> Prescription:
    """The prescription the form describes: fields left empty keep ``base``'s values (the version in force)."""
    given: dict[str, Any] = {}
    for field, label in (
        ("sessions_per_week", gettext("Sessions a week")),
        ("volume_per_session", gettext("Volume per session")),
        ("volume_goal", gettext("Volume goal")),
        ("intensity", gettext("Intensity")),
        ("hr_ceiling_bpm", gettext("Heart-rate ceiling (bpm)")),
        ("hr_ceiling_percent_hrr", gettext("Heart-rate ceiling (% HRR)")),
        ("pain_during_limit", gettext("Pain limit during")),
        ("pain_after_limit", gettext("Pain limit after")),
    ):
        value = _number(getattr(form, field), name=label, gettext=gettext)
        if value is not None:
            given[field] = int(value) if field == "sessions_per_week" else value
    if form.kinds:
        given["kinds"] = tuple(form.kinds)
    if form.volume_unit:
        given["volume_unit"] = form.volume_unit
    if form.intensity_unit.strip():
        given["intensity_unit"] = form.intensity_unit.strip()
    # A ceiling is in bpm or in % HRR: giving one replaces the other.
    if "hr_ceiling_bpm" in given:
        given.setdefault("hr_ceiling_percent_hrr", None)
    elif "hr_ceiling_percent_hrr" in given:
        given["hr_ceiling_bpm"] = None
    try:
        return base.with_changes(**given) if base is not None else Prescription(**given)
    except TypeError:
        raise FormError(gettext("Fill in every field of the first prescription.")) from None
