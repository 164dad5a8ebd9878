"""Live sessions from virtual Polar H10s beside a served dashboard, and the latency from strap to page.

Shared by tests/test_live_browser.py and bench/bench_live.py. :class:`LiveRecording` records
virtual straps live into a store and its :class:`~monitor.livefeed.LiveFeed` as ``dosis demo``
does (:func:`monitor.demo.train_live`), in a thread with an event loop of its own, beside
uvicorn's thread. Each strap notes when it sends a heart rate (:class:`TimedH10`), the page
notes when each heart rate appears in it (:data:`WATCH_HEART_RATES_JS`), and
:func:`latencies_ms` pairs them up.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drivers.devices import ReconnectPolicy
from drivers.errors import MalformedPayload
from drivers.gatt import HEART_RATE_MEASUREMENT_UUID, parse_heart_rate
from drivers.polar_pmd import PMD_DATA_UUID, decode_frame
from drivers.virtual import Replay, VirtualPolarH10
from drivers.virtual.replay import AtEnd
from monitor.demo import CAPTURES, train_live
from monitor.livefeed import LiveFeed
from monitor.store import Store

START_TIMEOUT_S = 20.0


class TimedH10(VirtualPolarH10):
    """A virtual H10 that notes the wall-clock time it sends each heart-rate notification, and the value.

    It also counts the samples of the PMD data frames it sends, so that what was stored
    can be checked against what was sent.
    """

    def __init__(self, replay: Replay, **kwargs: Any) -> None:
        super().__init__(replay, **kwargs)
        self.sent: list[tuple[int, int]] = []
        """(time.time_ns() just before sending, bpm) of each heart-rate notification."""
        self.pmd_samples_sent = 0
        """Samples in the PMD data frames sent (ACC, as the H10's replays hold)."""

    async def _send(self, uuid: str, payload: bytes) -> None:
        if uuid == HEART_RATE_MEASUREMENT_UUID:
            self.sent.append((time.time_ns(), parse_heart_rate(payload).bpm))
        elif uuid == PMD_DATA_UUID:
            with contextlib.suppress(MalformedPayload):  # a malformed frame carries no samples to store
                self.pmd_samples_sent += len(decode_frame(payload).samples)
        await super()._send(uuid, payload)


@dataclass
class Wearer:
    patient_id: int
    kind: str
    """walking or strength: which bundled capture the strap replays."""
    strap: TimedH10 | None = field(default=None, init=False)


class LiveRecording:
    """The wearers' sessions recorded live for ``duration_s``, from entering until they end (or exit cancels them)."""

    def __init__(
        self,
        store: Store,
        feed: LiveFeed,
        wearers: Sequence[Wearer],
        *,
        duration_s: float,
        policy: ReconnectPolicy | None = None,
        at_end: AtEnd = "stop",
        speed: float = 1.0,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        self.store = store
        self.feed = feed
        self.wearers = list(wearers)
        self.duration_s = duration_s
        self.policy = policy
        """The drivers' reconnect policy; None: the default."""
        self.at_end = at_end
        """What the straps do at the end of their capture: stop, or play it again (for long runs)."""
        self.speed = speed
        """How many times faster than real time the straps replay (a soak's hours in minutes)."""
        self.start_timeout_s = start_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._recording = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="live recording", daemon=True)

    def __enter__(self) -> LiveRecording:
        self._thread.start()
        if not self._recording.wait(self.start_timeout_s) or self._error is not None:
            raise RuntimeError(f"the live sessions did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel(timeout_s=START_TIMEOUT_S)

    def cancel(self, *, timeout_s: float) -> None:
        """End the sessions now (``interrupted``, with everything received stored); wait up to ``timeout_s``."""
        if self._loop is not None and self._task is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=timeout_s)

    @property
    def running(self) -> bool:
        """Whether the sessions are still being recorded (or stored, once cancelled)."""
        return self._thread.is_alive()

    def call(self, action: Callable[[], object]) -> None:
        """Run ``action`` in the recording's loop (a strap's faults belong to its loop)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(action)

    def wait_ended(self, timeout_s: float) -> None:
        self._thread.join(timeout=timeout_s)
        if self._thread.is_alive():
            raise AssertionError(f"the live sessions were still running after {timeout_s} s")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except asyncio.CancelledError:
            pass
        except BaseException as error:  # reported by __enter__ or wait_ended
            self._error = error
            self._recording.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        started = [asyncio.Event() for _ in self.wearers]
        # One replay of each capture for every strap that plays it: a replay does not change as it plays.
        replays = {kind: Replay.from_capture(CAPTURES[kind]) for kind in {w.kind for w in self.wearers}}
        recordings = asyncio.gather(*(self._record(n, started[n], replays) for n in range(len(self.wearers))))
        all_started = asyncio.ensure_future(asyncio.gather(*(event.wait() for event in started)))
        either: list[asyncio.Future[Any]] = [all_started, recordings]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if recordings.done():
            all_started.cancel()
            await recordings  # raises what kept them from starting
        self._recording.set()
        await recordings

    async def _record(self, n: int, started: asyncio.Event, replays: Mapping[str, Replay]) -> None:
        wearer = self.wearers[n]
        wearer.strap = TimedH10(
            replays[wearer.kind],
            name=f"Polar H10 0A1B2C{n:02X}",
            address=f"C0:DE:00:0A:{0x1C + (n >> 8):02X}:{n & 0xFF:02X}",
            at_end=self.at_end,
            speed=self.speed,
        )
        await train_live(
            self.store,
            wearer.patient_id,
            wearer.kind,
            wearer.strap,
            live=self.feed,
            duration_s=self.duration_s,
            started=started,
            policy=self.policy,
        )


WATCH_HEART_RATES_JS = """() => {
    // When each new heart rate appears on the page: a card's data-hr-at (the reading's arrival
    // at the server) changes with its value, so each record pairs a reading with its moment.
    // What the cards show already is not new.
    window.dosisHeartRates = [];
    const cards = [...document.querySelectorAll(".live-card")];
    const shown = new Map(cards.map((card) => [card.dataset.sessionId, card.dataset.hrAt]));
    const note = (card) => {
        if (shown.get(card.dataset.sessionId) === card.dataset.hrAt) return;
        shown.set(card.dataset.sessionId, card.dataset.hrAt);
        window.dosisHeartRates.push({
            t_ms: Date.now(),
            session_id: Number(card.dataset.sessionId),
            hr_at: card.dataset.hrAt,
            text: card.querySelector('[data-field="hr"]').textContent,
        });
    };
    new MutationObserver((records) => {
        for (const record of records) {
            if (record.type === "attributes") note(record.target);
            else for (const node of record.addedNodes) if (node.dataset && node.dataset.sessionId) note(node);
        }
    }).observe(document.getElementById("live-cards"),
               { subtree: true, childList: true, attributes: true, attributeFilter: ["data-hr-at"] });
}"""


@dataclass(frozen=True)
class Seen:
    """A heart rate on the page: when the strap sent it, and how long it took to show."""

    session_id: int
    sent_ns: int
    bpm: int
    text: str
    latency_ms: float


def latencies_ms(page_records: Sequence[dict[str, Any]], sent: Mapping[int, Sequence[tuple[int, int]]]) -> list[Seen]:
    """Each reading's first appearance on the page, paired with the notification it came from.

    ``sent``: session id → its strap's (send time, bpm). A reading arrived at the server just
    after its notification was sent, so it came from the strap's last notification sent by then.
    """
    first: dict[tuple[int, str], dict[str, Any]] = {}
    for record in page_records:
        if record["hr_at"]:
            first.setdefault((record["session_id"], record["hr_at"]), record)
    sent_times = {session_id: [t_ns for t_ns, _ in notes] for session_id, notes in sent.items()}
    seen = []
    for (session_id, hr_at), record in first.items():
        arrived_ns = round(datetime.fromisoformat(hr_at).timestamp() * 1e6) * 1000
        earlier = bisect.bisect_right(sent_times.get(session_id, []), arrived_ns)
        if earlier:
            sent_ns, bpm = sent[session_id][earlier - 1]
            seen.append(Seen(session_id, sent_ns, bpm, record["text"], record["t_ms"] - sent_ns / 1e6))
    return seen
