"""The live group view: every session of the clinician's patients running now, over server-sent events.

``GET /live`` is the page: a card per session, rendered on the server, so it reads without
JavaScript (as it was when loaded); ``static/live.js`` then follows ``GET /api/live/stream``
and keeps the cards current. ``GET /api/live`` is the same snapshot as JSON.

The sessions come from :class:`monitor.livefeed.LiveFeed`, which holds no names: each
viewer looks up, in the store, which of the running sessions' patients it may see
(:func:`~dashboard.auth.visible_to`) and what they are called, and the first time a
patient is shown to it, writes that view to the audit log (once per page, snapshot or
stream connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field
from sqlalchemy import select

from dashboard.auth import CurrentClinician, SettingsDep, audit_view, session_cookie_name, user_for_token, visible_to
from dashboard.deps import DbDep, LiveFeedDep, StoreDep
from dashboard.i18n import gettext_for
from dashboard.schemas import ERROR_RESPONSES, SIGNED_IN_RESPONSES, as_json
from dashboard.session_pages import ZONE_WORDS
from dashboard.templating import render
from monitor.livefeed import Alert, LiveFeed, LiveStatus, SensorState, SessionChanged, SessionEnded, Subscription
from monitor.settings import Settings
from monitor.sinks import ns_to_datetime
from monitor.store import Patient, Store
from monitor.store.accounts import SignedIn

router = APIRouter(tags=["live"])

STREAM_TICK_S = 1.0
"""The stream sends every session whole this often (elapsed time, alerts that come with silence)."""
SIGN_IN_RECHECK_S = 30.0
"""How often a stream checks that its viewer is still signed in (and which patients are theirs)."""
RECONNECT_MS = 2000
"""How soon a browser reconnects a stream that broke."""


class LiveSessionOut(BaseModel):
    """One session running now, as it was at ``at`` (a preview: the session page has the result)."""

    session_id: int
    pseudonym: str
    display_name: str
    kind: str
    started_at: datetime
    elapsed_s: float
    hr_bpm: float | None = Field(description="The latest valid heart rate; None when none came recently.")
    hr_at: datetime | None = Field(description="When that heart rate arrived.")
    zone: str | None = Field(description="ACSM %HRR zone of the last whole second: very_light … near_maximal.")
    ceiling_bpm: float | None = Field(description="The heart-rate ceiling prescribed for the day.")
    above_ceiling_s: int = Field(description="Seconds the heart rate has now been above the ceiling, unbroken.")
    time_above_ceiling_s: float = Field(description="Seconds above the ceiling in the whole session so far.")
    cadence_spm: float | None = Field(description="Steps per minute over the last minute (walking).")
    reps: int | None = Field(description="Repetitions of the latest set (strength).")
    sensor: SensorState
    last_data_at: datetime
    alerts: list[Alert] = Field(
        description="above_ceiling (for longer than the alert's limit), sensor_dropped_out, no_data."
    )


class LiveOut(BaseModel):
    at: datetime
    sessions: list[LiveSessionOut]
    ceiling_alert_after_s: float
    no_data_alert_after_s: float


class LiveEndedOut(BaseModel):
    session_id: int
    status: str


class Viewer:
    """Which running sessions' patients one clinician may see, looked up once each; views are audited."""

    def __init__(self, request: Request, user: SignedIn, store: Store) -> None:
        self.request = request
        self.user = user
        self.store = store
        self.patients: dict[int, tuple[str, str] | None] = {}
        """Patient id → (pseudonym, display name), or None: not this clinician's."""
        self.audited: set[str] = set()

    def unknown(self, statuses: Sequence[LiveStatus]) -> set[int]:
        return {s.info.patient_id for s in statuses} - self.patients.keys()

    def look_up(self, patient_ids: set[int]) -> None:
        """Find out whether the patients are this clinician's, and write a view of each that is (blocking)."""
        if not patient_ids:
            return
        with self.store.session() as db:
            rows = db.execute(
                select(Patient.id, Patient.pseudonym, Patient.display_name).where(
                    Patient.id.in_(patient_ids), visible_to(self.user)
                )
            ).all()
            for patient_id, pseudonym, display_name in rows:
                if pseudonym not in self.audited:
                    audit_view(db, self.request, self.user, pseudonym)
                    self.audited.add(pseudonym)
                self.patients[patient_id] = (pseudonym, display_name)
        for patient_id in patient_ids - {row[0] for row in rows}:
            self.patients[patient_id] = None

    def shown(self, statuses: Sequence[LiveStatus]) -> list[LiveSessionOut]:
        """The statuses of this clinician's patients (looked up already), as the API sends them."""
        shown = []
        for status in statuses:
            names = self.patients.get(status.info.patient_id)
            if names is not None:
                shown.append(_session_out(status, *names))
        return shown

    def forget(self) -> None:
        """Look every patient up again: a patient may have moved to another clinician."""
        self.patients.clear()


def _session_out(status: LiveStatus, pseudonym: str, display_name: str) -> LiveSessionOut:
    info = status.info
    return LiveSessionOut(
        session_id=info.session_id,
        pseudonym=pseudonym,
        display_name=display_name,
        kind=info.kind,
        started_at=ns_to_datetime(info.started_at_ns),
        elapsed_s=round(status.elapsed_s, 1),
        hr_bpm=status.hr_bpm,
        hr_at=ns_to_datetime(status.hr_t_ns) if status.hr_t_ns is not None else None,
        zone=status.zone,
        ceiling_bpm=info.ceiling_bpm,
        above_ceiling_s=status.above_ceiling_s,
        time_above_ceiling_s=status.time_above_ceiling_s,
        cadence_spm=status.cadence_spm,
        reps=status.reps,
        sensor=status.sensor,
        last_data_at=ns_to_datetime(status.last_data_ns),
        alerts=list(status.alerts),
    )


def snapshot_for(request: Request, user: SignedIn, store: Store, feed: LiveFeed) -> LiveOut:
    """The sessions running now of the user's patients; each patient shown is a view in the audit log."""
    statuses = feed.snapshot()
    viewer = Viewer(request, user, store)
    viewer.look_up(viewer.unknown(statuses))
    return _live_out(viewer, feed, statuses)


def _live_out(viewer: Viewer, feed: LiveFeed, statuses: Sequence[LiveStatus]) -> LiveOut:
    return LiveOut(
        at=ns_to_datetime(statuses[0].at_ns if statuses else feed.clock()),
        sessions=viewer.shown(statuses),
        ceiling_alert_after_s=feed.alert_limits.ceiling_after_s,
        no_data_alert_after_s=feed.alert_limits.no_data_after_s,
    )


@router.get("/live", include_in_schema=False, response_class=HTMLResponse)
def live_page(request: Request, user: CurrentClinician, store: StoreDep, feed: LiveFeedDep) -> HTMLResponse:
    live = snapshot_for(request, user, store, feed)
    _ = gettext_for(request)
    zone_words = {code: _(word) for code, word in ZONE_WORDS.items()}
    time_zone_key = getattr(store.tz, "key", "UTC")  # the clinic's zone, as the server writes times
    return render(request, "live.html", {"live": live, "zone_words": zone_words, "time_zone_key": time_zone_key})


@router.get("/api/live")
def live_snapshot(request: Request, user: CurrentClinician, store: StoreDep, feed: LiveFeedDep) -> LiveOut:
    """Every session of your patients running now (each patient shown is a view in the audit log)."""
    return snapshot_for(request, user, store, feed)


@router.get(
    "/api/live/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "`snapshot` (a LiveOut) every second, `session` (a LiveSessionOut) as "
            "readings arrive, `ended` (a LiveEndedOut) when a session ends."
        },
        **as_json(ERROR_RESPONSES | SIGNED_IN_RESPONSES),
    },
)
async def live_stream(
    request: Request,
    user: CurrentClinician,
    db: DbDep,
    store: StoreDep,
    settings: SettingsDep,
    feed: LiveFeedDep,
    limit: Annotated[
        int | None, Query(ge=1, description="End the stream after this many events; default: never.")
    ] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Your patients' running sessions as server-sent events: whole every second, each update as it comes."""
    # The stream may last all day: it must not hold the request's database connection (nor pin SQLite's WAL).
    db.close()
    token = request.cookies.get(session_cookie_name(settings), "")
    with feed.subscribe() as subscription:
        stream = _LiveStream(Viewer(request, user, store), feed, subscription, settings, token)
        sent = 0
        while limit is None or sent < limit:
            event = await stream.next_event()
            if event is None:
                return
            yield event
            sent += 1


class _LiveStream:
    """One connection's events: a snapshot on every tick, and the updates of visible sessions between."""

    def __init__(
        self, viewer: Viewer, feed: LiveFeed, subscription: Subscription, settings: Settings, token: str
    ) -> None:
        self.viewer = viewer
        self.feed = feed
        self.subscription = subscription
        self.settings = settings
        self.token = token
        loop = asyncio.get_running_loop()
        self.next_tick = loop.time()
        self.recheck_at = loop.time() + SIGN_IN_RECHECK_S
        self.first = True

    async def next_event(self) -> ServerSentEvent | None:
        """The next event to send; None when the viewer is no longer signed in."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if now >= self.next_tick:
                # On time as a rule; after a stall (a slow viewer, a busy server), a whole tick from now.
                self.next_tick += STREAM_TICK_S
                if self.next_tick <= now:
                    self.next_tick = now + STREAM_TICK_S
                if now >= self.recheck_at:
                    self.recheck_at = now + SIGN_IN_RECHECK_S
                    if not await run_in_threadpool(self._still_signed_in):
                        return None
                    self.viewer.forget()
                return await self._snapshot()
            update = await self.subscription.next(self.next_tick - now)
            if isinstance(update, SessionChanged):
                unknown = self.viewer.unknown([update.status])
                if unknown:
                    await run_in_threadpool(self.viewer.look_up, unknown)
                shown = self.viewer.shown([update.status])
                if shown:
                    return ServerSentEvent(event="session", data=shown[0])
            elif isinstance(update, SessionEnded) and self.viewer.patients.get(update.patient_id):
                return ServerSentEvent(
                    event="ended", data=LiveEndedOut(session_id=update.session_id, status=update.status)
                )

    async def _snapshot(self) -> ServerSentEvent:
        statuses = self.feed.snapshot()
        unknown = self.viewer.unknown(statuses)
        if unknown:
            await run_in_threadpool(self.viewer.look_up, unknown)
        retry, self.first = (RECONNECT_MS if self.first else None), False
        return ServerSentEvent(event="snapshot", data=_live_out(self.viewer, self.feed, statuses), retry=retry)

    def _still_signed_in(self) -> bool:
        with self.viewer.store.session() as db:
            now_user = user_for_token(db, self.settings, self.token) if self.token else None
        return now_user is not None and now_user.session_id == self.viewer.user.session_id
