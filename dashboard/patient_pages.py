"""The patient's own pages, phone first and working without JavaScript: start page, session and morning reports.

Every answer is a radio button in a plain form that posts back here. The server then redirects
to the page again (a reload does not post twice), or shows it with the answers as given and
what to fix (422). The progress chart is SVG laid out by dashboard/progress_chart.py, with a table of the same numbers.
What the pages read and save is ``dashboard.patient_self_api``'s, as the JSON API does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from dashboard import templating
from dashboard.auth import CurrentPatientUser, OwnPatient
from dashboard.clinical_schemas import MorningReportIn, SessionReportIn
from dashboard.deps import DbDep, StoreDep
from dashboard.i18n import N_, gettext_for
from dashboard.patient_self_api import (
    RECENT_DAYS,
    TREND_EARLIER_WEEKS,
    TREND_RECENT_WEEKS,
    OwnSession,
    me,
    morning_out,
    morning_row,
    own_session_out,
    save_own_morning_report,
    save_own_session_report,
    today_in,
)
from dashboard.progress_chart import sessions_chart
from dashboard.queries import NotFoundError
from monitor.store import Patient, Store, TrainingSession
from monitor.tolerance.reports import MAX_WEIGHT_KG, RED_FLAG_QUESTIONS

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

Gettext = Callable[[str], str]


@dataclass(frozen=True)
class Option:
    value: str
    """As the form posts it."""
    number: float
    word: str | None
    """The scale's word for this number (untranslated), if it has one."""


@dataclass(frozen=True)
class Question:
    name: str
    text: str
    options: tuple[Option, ...]
    hint: str | None = None
    ladder: bool = False
    """One answer a line (a scale with many words), rather than a grid of numbers."""


def _value(number: float) -> str:
    return f"{number:g}"


def _options(numbers: Iterable[float], words: Mapping[float, str]) -> tuple[Option, ...]:
    return tuple(Option(_value(n), n, words.get(n)) for n in numbers)


PAIN = _options(range(11), {0: N_("No pain"), 10: N_("Worst imaginable pain")})
STIFFNESS = _options(range(11), {0: N_("No stiffness"), 10: N_("Worst imaginable stiffness")})
EFFORT = _options(
    (0, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
    {
        0: N_("Nothing at all"),
        0.5: N_("Extremely weak"),
        1: N_("Very weak"),
        2: N_("Weak"),
        3: N_("Moderate"),
        5: N_("Strong"),
        7: N_("Very strong"),
        10: N_("Extremely strong"),
    },
)


def _by_name(*questions: Question) -> dict[str, Question]:
    return {question.name: question for question in questions}


SESSION_QUESTIONS = _by_name(
    Question("pain_before", N_("How much pain did you have just before the session?"), PAIN),
    Question("pain_during", N_("What was your worst pain during the session?"), PAIN),
    Question("pain_after", N_("How much pain did you have after the session?"), PAIN),
    Question(
        "effort_cr10",
        N_("How hard was the session, all in all?"),
        EFFORT,
        hint=N_("Answer about half an hour after the session."),
        ladder=True,
    ),
)
MORNING_QUESTIONS = _by_name(
    Question("pain", N_("How much pain did you have when you woke up?"), PAIN),
    Question("stiffness", N_("How stiff were you when you woke up?"), STIFFNESS),
)
RED_FLAG_TEXTS = {
    "weight_loss": N_("Have you lost weight without trying to?"),
    "numbness": N_("Have you had numbness or tingling in your legs?"),
    "fever": N_("Have you had a fever?"),
    "dizziness": N_("Have you felt dizzy?"),
    "redness": N_("Is the skin red over the painful area?"),
}
RED_FLAG_NAMES = {
    "weight_loss": N_("weight loss you cannot explain"),
    "numbness": N_("numbness or tingling in the legs"),
    "fever": N_("fever"),
    "dizziness": N_("dizziness"),
    "redness": N_("redness over the painful area"),
}
KIND_WORDS = {"walking": N_("Walking"), "strength": N_("Strength training")}
PART_WORDS = {
    "pain_before": N_("Pain before"),
    "pain_during": N_("Pain during"),
    "pain_after": N_("Pain after"),
    "effort_cr10": N_("Effort"),
}
YES, NO = "yes", "no"
SAVED = "yes"
"""The query after a saved form (``?saved=yes``): the page thanks the patient."""


class RedFlagAnswers(BaseModel):
    """A yes/no radio group for each of ``RED_FLAG_QUESTIONS`` (a test keeps them equal)."""

    weight_loss: str = ""
    numbness: str = ""
    fever: str = ""
    dizziness: str = ""
    redness: str = ""


class SessionForm(RedFlagAnswers):
    pain_before: str = ""
    pain_during: str = ""
    pain_after: str = ""
    effort_cr10: str = ""
    weight_kg: str = ""


class MorningForm(RedFlagAnswers):
    pain: str = ""
    stiffness: str = ""


class FormErrors(ValueError):
    """What is wrong with a posted form, field by field, in the reader's language."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def _ratings(
    form: BaseModel, questions: Iterable[Question], _: Gettext
) -> tuple[dict[str, float | None], dict[str, str]]:
    ratings: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for question in questions:
        text = getattr(form, question.name).strip().replace(",", ".")
        try:
            number = float(text) if text else None
        except ValueError:
            number = math.nan
        if number is not None and number not in {option.number for option in question.options}:
            errors[question.name] = _("Choose one of the answers shown.")
        ratings[question.name] = number
    return ratings, errors


def _red_flags(form: RedFlagAnswers, _: Gettext) -> tuple[list[str], dict[str, str], bool]:
    """The questions answered yes, errors, and whether any was answered at all."""
    answers = {key: getattr(form, key).strip() for key in RED_FLAG_QUESTIONS}
    errors = {key: _("Answer yes or no.") for key, answer in answers.items() if answer not in ("", YES, NO)}
    return [key for key, answer in answers.items() if answer == YES], errors, any(answers.values())


def _weight_kg(text: str, _: Gettext) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        weight = float(text)
    except ValueError:
        raise FormErrors({"weight_kg": _("Write the weight as a number of kilograms, for example 12.5.")}) from None
    if not 0 < weight <= MAX_WEIGHT_KG:
        raise FormErrors(
            {"weight_kg": _("The weight must be more than 0 and at most %(max)s kg.") % {"max": _value(MAX_WEIGHT_KG)}}
        )
    return weight


def _nothing_chosen(_: Gettext) -> FormErrors:
    return FormErrors({"form": _("Choose at least one answer before you save.")})


def _session_answers(form: SessionForm, _: Gettext) -> SessionReportIn:
    ratings, errors = _ratings(form, SESSION_QUESTIONS.values(), _)
    red_flags, flag_errors, any_flag = _red_flags(form, _)
    errors |= flag_errors
    try:
        weight_kg = _weight_kg(form.weight_kg, _)
    except FormErrors as invalid:
        errors |= invalid.errors
        weight_kg = None
    if errors:
        raise FormErrors(errors)
    if not any_flag and weight_kg is None and all(r is None for r in ratings.values()):
        raise _nothing_chosen(_)
    return SessionReportIn.model_validate({**ratings, "weight_kg": weight_kg, "red_flags": red_flags})


def _morning_answers(form: MorningForm, day: date, _: Gettext) -> MorningReportIn:
    ratings, errors = _ratings(form, MORNING_QUESTIONS.values(), _)
    red_flags, flag_errors, any_flag = _red_flags(form, _)
    if errors | flag_errors:
        raise FormErrors(errors | flag_errors)
    if not any_flag and all(r is None for r in ratings.values()):
        raise _nothing_chosen(_)
    return MorningReportIn.model_validate({"day": day, **ratings, "red_flags": red_flags})


def _shown(report: BaseModel | None, names: Sequence[str], form: BaseModel | None = None) -> dict[str, str]:
    """What the form shows: the saved answers as their radio buttons' values and, over them, a refused
    post's answers exactly as given, so none is lost."""
    saved = {name: getattr(report, name, None) for name in names}
    shown = {name: "" if value is None else _value(value) for name, value in saved.items()}
    posted = {name: str(getattr(form, name, "")).strip() for name in names}
    return shown | {name: text for name, text in posted.items() if text}


def _page(request: Request, name: str, context: Mapping[str, Any], status_code: int) -> HTMLResponse:
    words = {
        "red_flag_texts": RED_FLAG_TEXTS,
        "red_flag_names": RED_FLAG_NAMES,
        "kind_words": KIND_WORDS,
        "part_words": PART_WORDS,
    }
    return templating.render(request, name, {**words, **context}, status_code=status_code)


@router.get("/me")
def home_page(request: Request, patient: OwnPatient, db: DbDep, store: StoreDep) -> HTMLResponse:
    mine = me(db, patient, tz=store.tz)
    context = {
        "me": mine,
        "chart": sessions_chart(mine.progress.weeks),
        "recent_days": RECENT_DAYS,
        "recent_weeks": TREND_RECENT_WEEKS,
        "earlier_weeks": TREND_EARLIER_WEEKS,
    }
    return _page(request, "me.html", context, status.HTTP_200_OK)


@router.get("/me/sessions/{session_id}")
def session_page(request: Request, training_session: OwnSession, saved: str = "") -> HTMLResponse:
    return _session_page(request, training_session, saved=saved == SAVED)


@router.post("/me/sessions/{session_id}")
def post_session_report(
    request: Request, training_session: OwnSession, form: Annotated[SessionForm, Form()], db: DbDep
) -> Response:
    try:
        answers = _session_answers(form, gettext_for(request))
    except FormErrors as invalid:
        return _session_page(request, training_session, form=form, errors=invalid.errors)
    save_own_session_report(db, training_session, answers)
    return RedirectResponse(f"/me/sessions/{training_session.id}?saved={SAVED}", status.HTTP_303_SEE_OTHER)


def _session_page(
    request: Request,
    training_session: TrainingSession,
    *,
    saved: bool = False,
    form: SessionForm | None = None,
    errors: Mapping[str, str] | None = None,
) -> HTMLResponse:
    session = own_session_out(training_session)
    names = [*SESSION_QUESTIONS, "weight_kg", *RED_FLAG_QUESTIONS]
    context = {"session": session, "shown": _shown(session.report, names, form)}
    return _report_page(request, "me_session.html", SESSION_QUESTIONS, context, saved=saved, errors=errors)


@router.get("/me/morning")
def this_morning(user: CurrentPatientUser, store: StoreDep) -> RedirectResponse:
    """Today's morning report, at an address that stays the same (for a bookmark or the home screen)."""
    return RedirectResponse(f"/me/mornings/{today_in(store.tz).isoformat()}", status.HTTP_303_SEE_OTHER)


def _has_come(day: date, store: Store) -> date:
    """Today, when the morning of ``day`` has come; there is no page for a morning ahead."""
    today = today_in(store.tz)
    if day > today:
        raise NotFoundError(f"the morning of {day} has not come yet")
    return today


@router.get("/me/mornings/{day}")
def morning_page(
    request: Request, patient: OwnPatient, day: date, db: DbDep, store: StoreDep, saved: str = ""
) -> HTMLResponse:
    return _morning_page(request, patient, day, db, today=_has_come(day, store), saved=saved == SAVED)


@router.post("/me/mornings/{day}")
def post_morning_report(
    request: Request, patient: OwnPatient, day: date, form: Annotated[MorningForm, Form()], db: DbDep, store: StoreDep
) -> Response:
    today = _has_come(day, store)
    try:
        answers = _morning_answers(form, day, gettext_for(request))
    except FormErrors as invalid:
        return _morning_page(request, patient, day, db, today=today, form=form, errors=invalid.errors)
    save_own_morning_report(db, patient.id, answers, today=today)
    return RedirectResponse(f"/me/mornings/{day.isoformat()}?saved={SAVED}", status.HTTP_303_SEE_OTHER)


def _morning_page(
    request: Request,
    patient: Patient,
    day: date,
    db: Session,
    *,
    today: date,
    saved: bool = False,
    form: MorningForm | None = None,
    errors: Mapping[str, str] | None = None,
) -> HTMLResponse:
    report = morning_out(morning_row(db, patient.id, day), day)
    shown = _shown(report, [*MORNING_QUESTIONS, *RED_FLAG_QUESTIONS], form)
    context = {"report": report, "today": today, "shown": shown}
    return _report_page(request, "me_morning.html", MORNING_QUESTIONS, context, saved=saved, errors=errors)


def _report_page(
    request: Request,
    name: str,
    questions: Mapping[str, Question],
    context: Mapping[str, Any],
    *,
    saved: bool,
    errors: Mapping[str, str] | None,
) -> HTMLResponse:
    """A report form as saved (200), or as posted with what to fix (422)."""
    _ = gettext_for(request)
    labels = {name: _(question.text) for name, question in questions.items()}
    labels |= {key: _(text) for key, text in RED_FLAG_TEXTS.items()}
    labels["weight_kg"] = _("Weight you lifted, in kilograms (optional)")
    status_code = status.HTTP_422_UNPROCESSABLE_CONTENT if errors else status.HTTP_200_OK
    page = {**context, "questions": questions, "labels": labels, "errors": errors or {}, "saved": saved}
    return _page(request, name, page, status_code)
