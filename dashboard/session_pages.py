"""A session's page: heart rate with zones and ceiling, α1, cadence or sets, the patient's report, data quality.

Every number is in the page's own tables (no JavaScript needed to read it); static/session.js
draws the charts from ``/api/sessions/{id}/traces`` and the raw signals for the range the reader
zooms into from ``/api/sessions/{id}/signals/{signal}``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dashboard import queries, session_queries
from dashboard.auth import SessionAccess
from dashboard.deps import DbDep, StoreDep
from dashboard.i18n import N_
from dashboard.templating import render
from monitor.analysis.dfa import HRVT1_ALPHA1
from monitor.store.signals import SIGNALS

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

ZONE_WORDS = {
    "very_light": N_("Very light"),
    "light": N_("Light"),
    "moderate": N_("Moderate"),
    "vigorous": N_("Vigorous"),
    "near_maximal": N_("Near maximal"),
}
RED_FLAG_WORDS = {
    "weight_loss": N_("Unexplained weight loss"),
    "numbness": N_("Numbness or tingling in the legs"),
    "fever": N_("Fever"),
    "dizziness": N_("Dizziness"),
    "redness": N_("Redness over the area"),
}
RAW_SIGNALS = ("acc_mg", "hr_bpm", "rr_ms", "ecg_uv", "ppi_ms")
"""The signals offered for the zoomed raw view, in this order, where the session has them."""


@router.get("/sessions/{session_id}")
def session_page(request: Request, training_session: SessionAccess, db: DbDep, store: StoreDep) -> HTMLResponse:
    traces = session_queries.session_traces(db, store, training_session)
    heart = (training_session.analysis.heart if training_session.analysis else None) or {}
    raw = [
        (signal, channel)
        for signal in RAW_SIGNALS
        if store.signals.devices(training_session.id, signal)
        for channel in SIGNALS[signal].columns[: 3 if signal == "acc_mg" else 1]
    ]
    return render(
        request,
        "session.html",
        {
            "session": queries.session_detail(training_session),
            "traces": traces,
            "zone_words": ZONE_WORDS,
            "red_flag_words": RED_FLAG_WORDS,
            "raw_signals": raw,
            "hrvt1_alpha1": HRVT1_ALPHA1,
            "hrvt1_bpm": heart.get("hrvt1_bpm"),
            "time_zone_key": getattr(store.tz, "key", "UTC"),
        },
    )
