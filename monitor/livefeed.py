"""The sessions running now, for the clinic's live view: publish/subscribe inside one process.

Two kinds of publisher: the live recorder (``PatientInStore(store, patient, live=feed)``
makes its :class:`~monitor.session.SessionRecorder` report every reading to a
:class:`SessionWatch`), and the hubs' ingest (``apply_batch(..., live=feed)`` hands it the
chunks a hub streams). Subscribers are the dashboard's live streams.

Each running session keeps a small preview, updated as readings arrive: the latest heart
rate, the online metrics of :mod:`monitor.analysis.online` (the 1 Hz heart rate with its
zone and time above the ceiling; cadence or the latest set's repetitions), the sensor's
link, and the alerts a clinician in the gym must see. The feed holds no names: a viewer
looks up who the patients are, and whether it may see them, in the store.

Publishing never waits for a viewer. Each subscriber has a bounded queue that drops its
oldest update when full, filled through the subscriber's own event loop
(``call_soon_threadsafe``), so a recorder in another thread, or a sync route in the thread
pool, may publish. A viewer that falls behind loses intermediate updates, never the
current state: :meth:`LiveFeed.snapshot` gives that whole.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from drivers.readings import AccelerationBatch, HeartRateReading, Reading
from monitor.analysis.acceleration import to_g
from monitor.analysis.heart_rate import HR_MAX_BPM, HR_MIN_BPM
from monitor.analysis.online import OnlineCadence, OnlineHeartRate, OnlineSets
from monitor.sinks import SessionChunk
from monitor.store import Patient, Store, TrainingSession
from monitor.store.clinical import heart_rate_limits_on

logger = logging.getLogger(__name__)

CEILING_ALERT_AFTER_S = 10.0
"""Heart rate above the prescribed ceiling for longer than this raises the live alert."""
NO_DATA_ALERT_AFTER_S = 5.0
"""No reading from a session's sensors for longer than this raises the live alert."""
FORGET_AFTER_S = 15 * 60.0
"""A session silent this long leaves the live view: a hub that stopped sending without an end."""
SUBSCRIBER_QUEUE_SIZE = 64
"""Updates a viewer may fall behind by before its oldest are dropped (a few seconds of a full gym)."""
CADENCE_EVERY_S = 5.0
"""How often a walk's cadence is recounted from its last minute of acceleration. Each count
filters that minute (0.8 ms at 200 Hz): done every second, the live view's largest cost per
session. An average over a minute moves little in five seconds."""
REPS_EVERY_S = 1.0
"""How often a strength session's latest set is recounted: repetitions show as they are done."""
_CONTACT_CODE = {True: 1, False: 0, None: -1}
"""As the recorder stores sensor contact in ``hr_bpm``'s second channel."""

SensorState = Literal["connected", "dropped_out"]
Alert = Literal["above_ceiling", "sensor_dropped_out", "no_data"]
SENSOR_STATE_AFTER: dict[str, SensorState] = {
    "connected": "connected",
    "reconnected": "connected",
    "disconnected": "dropped_out",
    "silent": "dropped_out",
    "gave_up": "dropped_out",
}
"""The sensor's state after each kind of link event (drivers.devices.LinkEvent); other events leave it."""


@dataclass(frozen=True, slots=True)
class LiveSessionInfo:
    """What a running session is, fixed when it starts."""

    session_id: int
    patient_id: int
    pseudonym: str
    kind: str
    started_at_ns: int
    hr_rest_bpm: float | None
    hr_max_bpm: float | None
    ceiling_bpm: float | None
    """The heart-rate ceiling prescribed on the session's day, in bpm; None: none prescribed."""


def load_session_info(store: Store, session_id: int) -> LiveSessionInfo:
    """A stored session's info: its patient, and the heart-rate limits on its day."""
    with store.session() as db:
        session, patient = db.execute(
            select(TrainingSession, Patient).join(Patient).where(TrainingSession.id == session_id)
        ).one()
        limits = heart_rate_limits_on(db, patient.id, session.started_at.astimezone(store.tz).date())
        return LiveSessionInfo(
            session_id=session.id,
            patient_id=patient.id,
            pseudonym=patient.pseudonym,
            kind=session.kind,
            started_at_ns=int(session.started_at.timestamp() * 1e9),
            hr_rest_bpm=limits.hr_rest_bpm,
            hr_max_bpm=limits.hr_max_bpm,
            ceiling_bpm=limits.ceiling_bpm,
        )


@dataclass(frozen=True, slots=True)
class LiveStatus:
    """One running session as it is at ``at_ns``."""

    info: LiveSessionInfo
    at_ns: int
    hr_bpm: float | None
    """The latest valid heart rate, None when there is none or it is older than the no-data limit."""
    hr_t_ns: int | None
    """When that reading arrived."""
    zone: str | None
    """ACSM %HRR zone of the last whole second; None without a heart rate or the patient's rest and max."""
    above_ceiling_s: int
    """Whole seconds the heart rate has now been above the ceiling without a break."""
    time_above_ceiling_s: float
    """Seconds above the ceiling in the whole session so far."""
    cadence_spm: float | None
    """Steps per minute over the last minute (walking)."""
    reps: int | None
    """Repetitions of the latest set (strength)."""
    sensor: SensorState
    last_data_ns: int
    alerts: tuple[Alert, ...]

    @property
    def elapsed_s(self) -> float:
        return max(0.0, (self.at_ns - self.info.started_at_ns) / 1e9)


@dataclass(frozen=True, slots=True)
class SessionChanged:
    status: LiveStatus


@dataclass(frozen=True, slots=True)
class SessionEnded:
    session_id: int
    patient_id: int
    status: str
    """``complete`` or ``interrupted`` as its recorder ended it; ``silent``: forgotten after :data:`FORGET_AFTER_S`."""


LiveUpdate = SessionChanged | SessionEnded


@dataclass(frozen=True, slots=True)
class AlertLimits:
    ceiling_after_s: float = CEILING_ALERT_AFTER_S
    no_data_after_s: float = NO_DATA_ALERT_AFTER_S


@dataclass
class _Activity:
    """The acceleration window of a walking or strength session, and what it gave last."""

    cadence: OnlineCadence | None
    sets: OnlineSets | None
    every_s: float
    """How often the preview is recomputed."""
    computed_ns: int = 0
    cadence_spm: float | None = None
    reps: int | None = None

    @staticmethod
    def for_kind(kind: str, fs_hz: float) -> _Activity | None:
        if kind == "walking":
            return _Activity(OnlineCadence(fs_hz=fs_hz), None, CADENCE_EVERY_S)
        if kind == "strength":
            return _Activity(None, OnlineSets(fs_hz=fs_hz), REPS_EVERY_S)
        return None

    def update(self, acc_g: npt.NDArray[np.float64], now_ns: int) -> None:
        online = self.cadence or self.sets
        assert online is not None
        online.update(acc_g)
        if now_ns - self.computed_ns < self.every_s * 1e9:
            return
        self.computed_ns = now_ns
        try:
            if self.cadence is not None:
                self.cadence_spm = self.cadence.cadence_spm()
            elif self.sets is not None:
                latest = self.sets.latest_set()
                self.reps = latest.reps.count if latest else None
        except Exception:  # a preview must not stop the recording; the batch analysis at the end decides
            logger.exception("a live activity preview failed")


class SessionWatch:
    """One running session's preview, fed by its publisher: readings (or chunks), link events, the end.

    Every call returns at once: it updates a few numbers (and, every second or five, the
    acceleration window's cadence or repetitions) and queues the new status for each viewer.
    """

    def __init__(self, feed: LiveFeed, info: LiveSessionInfo) -> None:
        self.feed = feed
        self.info = info
        self._lock = threading.Lock()
        # Without the patient's rest and max there are no zones, but the 1 Hz heart rate and
        # the ceiling still are: the plausible range stands in, and its zones are not shown.
        self._zones_known = info.hr_rest_bpm is not None and info.hr_max_bpm is not None
        self._heart = OnlineHeartRate(
            hr_rest_bpm=info.hr_rest_bpm if info.hr_rest_bpm is not None else HR_MIN_BPM,
            hr_max_bpm=info.hr_max_bpm if info.hr_max_bpm is not None else HR_MAX_BPM,
            ceiling_bpm=info.ceiling_bpm,
        )
        self._hr: tuple[int, float] | None = None
        """(arrival, bpm) of the latest valid heart rate."""
        self._last_hr_ns = 0
        self._zone: str | None = None
        self._above_ceiling_s = 0
        self._sensor: SensorState = "connected"
        self._last_data_ns = max(info.started_at_ns, feed.clock())
        self._last_acc_ns = 0
        self._activity: _Activity | None = None

    # Publisher side

    def reading(self, reading: Reading) -> None:
        """A reading as the live recorder receives it."""
        if isinstance(reading, HeartRateReading):
            with self._lock:
                self._heart_rate(reading.t_host_ns, reading.bpm, _CONTACT_CODE[reading.sensor_contact])
            self._publish()
            return
        with self._lock:
            self._last_data_ns = max(self._last_data_ns, reading.t_host_ns)
            if isinstance(reading, AccelerationBatch):
                self._acceleration(reading.t_sensor_ns, reading.acc_mg, now_ns=reading.t_host_ns)

    def chunk(self, chunk: SessionChunk) -> None:
        """A chunk as a hub streams it (about a second of one signal); a chunk sent again changes nothing."""
        if not len(chunk.t_ns):
            return
        with self._lock:
            if chunk.signal == "hr_bpm":
                for t_ns, (bpm, contact) in zip(chunk.t_ns.tolist(), chunk.values[:, :2].tolist(), strict=True):
                    if t_ns > self._last_hr_ns:
                        self._heart_rate(t_ns, bpm, int(contact))
            else:
                self._last_data_ns = max(self._last_data_ns, int(chunk.t_ns[-1]))
                new = chunk.t_ns > self._last_acc_ns
                if chunk.signal == "acc_mg" and new.any():
                    self._acceleration(chunk.t_ns[new], chunk.values[new], now_ns=int(chunk.t_ns[-1]))
        if chunk.signal == "hr_bpm":
            self._publish()

    def event(self, kind: str, t_ns: int | None = None) -> None:
        """A link event (:data:`SENSOR_STATE_AFTER`); others are ignored."""
        state = SENSOR_STATE_AFTER.get(kind)
        if state is None:
            return
        with self._lock:
            self._sensor = state
            if state == "connected" and t_ns is not None:
                self._last_data_ns = max(self._last_data_ns, t_ns)
        self._publish()

    def finished(self, status: str) -> None:
        self.feed._end(self, status)

    def _heart_rate(self, t_ns: int, bpm: float, contact: int) -> None:
        self._last_data_ns = max(self._last_data_ns, t_ns)
        self._last_hr_ns = max(self._last_hr_ns, t_ns)
        for second in self._heart.add(t_s=t_ns / 1e9, hr_bpm=bpm, sensor_contact=contact):
            self._zone = second.zone if self._zones_known else None
            self._above_ceiling_s = self._above_ceiling_s + 1 if second.above_ceiling else 0
        if HR_MIN_BPM <= bpm <= HR_MAX_BPM and contact != 0:  # the validity rule of resample_hr_1hz
            self._hr = (t_ns, float(bpm))

    def _acceleration(self, t_sensor_ns: npt.NDArray[np.int64], acc_mg: npt.ArrayLike, *, now_ns: int) -> None:
        self._last_acc_ns = int(t_sensor_ns[-1])
        if self._activity is None:
            if len(t_sensor_ns) < 2 or t_sensor_ns[-1] <= t_sensor_ns[0]:
                return
            # The sensor's own rate, from its timestamps (an H10's "50 Hz" is 50.9).
            fs_hz = (len(t_sensor_ns) - 1) * 1e9 / float(t_sensor_ns[-1] - t_sensor_ns[0])
            self._activity = _Activity.for_kind(self.info.kind, fs_hz)
            if self._activity is None:
                return
        self._activity.update(to_g(acc_mg, unit="mg"), now_ns)

    def _publish(self) -> None:
        self.feed._publish(SessionChanged(self.status()))

    # Viewer side

    def status(self, now_ns: int | None = None) -> LiveStatus:
        now_ns = self.feed.clock() if now_ns is None else now_ns
        limits = self.feed.alert_limits
        with self._lock:
            silent = now_ns - self._last_data_ns > limits.no_data_after_s * 1e9
            hr = self._hr if self._hr and now_ns - self._hr[0] <= limits.no_data_after_s * 1e9 else None
            alerts: list[Alert] = []
            if self._sensor == "dropped_out":
                alerts.append("sensor_dropped_out")
            elif silent:
                alerts.append("no_data")
            elif self._above_ceiling_s > limits.ceiling_after_s:
                alerts.append("above_ceiling")
            activity = self._activity
            return LiveStatus(
                info=self.info,
                at_ns=now_ns,
                hr_bpm=hr[1] if hr else None,
                hr_t_ns=hr[0] if hr else None,
                zone=self._zone if hr else None,
                above_ceiling_s=self._above_ceiling_s,
                time_above_ceiling_s=self._heart.time_above_s,
                cadence_spm=activity.cadence_spm if activity else None,
                reps=activity.reps if activity else None,
                sensor=self._sensor,
                last_data_ns=self._last_data_ns,
                alerts=tuple(alerts),
            )

    def last_data_ns(self) -> int:
        with self._lock:
            return self._last_data_ns


class Subscription:
    """One viewer's bounded queue of updates; made by :meth:`LiveFeed.subscribe` in the viewer's loop."""

    def __init__(self, feed: LiveFeed, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.feed = feed
        self.loop = loop
        self.queue: asyncio.Queue[LiveUpdate] = asyncio.Queue(maxsize=size)
        self.dropped = 0
        """Updates dropped because the viewer fell behind."""

    def offer(self, update: LiveUpdate) -> None:
        """Queue ``update``, dropping the oldest when full; runs in the viewer's loop."""
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(update)

    async def next(self, timeout_s: float) -> LiveUpdate | None:
        """The next update, or None when none comes within ``timeout_s``."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout=max(0.0, timeout_s))
        except TimeoutError:
            return None

    def close(self) -> None:
        self.feed._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(eq=False)
class LiveFeed:
    """Every session running now in this process, and the viewers watching them."""

    alert_limits: AlertLimits = field(default_factory=AlertLimits)
    queue_size: int = SUBSCRIBER_QUEUE_SIZE
    clock: Callable[[], int] = time.time_ns
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _watches: dict[int, SessionWatch] = field(default_factory=dict, init=False, repr=False)
    _subscribers: set[Subscription] = field(default_factory=set, init=False, repr=False)

    def watch(self, store: Store, session_id: int) -> SessionWatch:
        """The watch of a stored live session, started (and announced) if it is not running yet."""
        with self._lock:
            existing = self._watches.get(session_id)
        return existing or self.open(load_session_info(store, session_id))

    def open(self, info: LiveSessionInfo) -> SessionWatch:
        """Start watching a session; a session already watched keeps its watch."""
        with self._lock:
            watch = self._watches.get(info.session_id)
            if watch is not None:
                return watch
            watch = self._watches[info.session_id] = SessionWatch(self, info)
        watch._publish()
        return watch

    def snapshot(self) -> list[LiveStatus]:
        """Every session running now, oldest first; sessions silent for :data:`FORGET_AFTER_S` are forgotten."""
        now_ns = self.clock()
        with self._lock:
            watches = list(self._watches.values())
        running = []
        for watch in watches:
            if now_ns - watch.last_data_ns() > FORGET_AFTER_S * 1e9:
                watch.finished("silent")
            else:
                running.append(watch.status(now_ns))
        return sorted(running, key=lambda s: (s.info.started_at_ns, s.info.session_id))

    def subscribe(self) -> Subscription:
        """A queue of every update from now on, for a viewer in the running event loop; close it when done."""
        subscription = Subscription(self, asyncio.get_running_loop(), self.queue_size)
        with self._lock:
            self._subscribers.add(subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    def _publish(self, update: LiveUpdate) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            try:
                subscription.loop.call_soon_threadsafe(subscription.offer, update)
            except RuntimeError:  # the viewer's loop has closed without unsubscribing
                self._unsubscribe(subscription)

    def _end(self, watch: SessionWatch, status: str) -> None:
        with self._lock:
            if self._watches.get(watch.info.session_id) is not watch:
                return
            del self._watches[watch.info.session_id]
        self._publish(SessionEnded(watch.info.session_id, watch.info.patient_id, status))
