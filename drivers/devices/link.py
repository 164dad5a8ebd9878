"""One wearable's Bluetooth link: connect, stream, survive drop-outs.

:class:`Wearable` is the base of every device driver. It talks to the device only
through bleak's public ``BleakClient`` API, so it runs on every OS bleak supports and
against the virtual wearables in ``drivers/virtual``. Subclasses say which streams to
start; this class keeps them running:

- a lost link is reconnected with exponential backoff and full jitter, the streams are
  restarted, and the gap is reported as :class:`LinkEvent` s;
- a device that stays connected but stops notifying for ``silence_timeout_s`` is
  treated the same way (the watchdog);
- after ``give_up_after_s`` without a link the stream ends with a ``gave_up`` event;
- a notification that cannot be parsed becomes a :class:`MalformedNotification`, and
  the session goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from drivers.errors import MalformedPayload
from drivers.readings import NotificationDecoder, Reading

logger = logging.getLogger(__name__)

LinkEventKind = Literal["connected", "disconnected", "silent", "reconnected", "gave_up", "stream_stopped"]


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """Something happened to the link; ``detail`` says what, for the session's record."""

    device: str
    t_host_ns: int
    kind: LinkEventKind
    detail: str = ""


@dataclass(frozen=True, slots=True)
class MalformedNotification:
    device: str
    t_host_ns: int
    characteristic: str
    payload: bytes
    message: str


DeviceEvent = Reading | LinkEvent | MalformedNotification
NotificationTap = Callable[[int, str, str, bytes], None]
"""Called with (host time ns, device, characteristic UUID, payload) for every notification."""


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    initial_delay_s: float = 0.5
    max_delay_s: float = 30.0
    give_up_after_s: float = 600.0
    silence_timeout_s: float = 5.0
    """No notification for this long while connected counts as a lost link."""
    connect_timeout_s: float = 10.0

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: many straps dropping together must not reconnect in lockstep."""
        return rng.uniform(0, min(self.max_delay_s, self.initial_delay_s * 2**attempt))


class WearableError(RuntimeError):
    """The wearable could not be connected or refused to stream; the message says why."""


@dataclass
class _State:
    closing: bool = False
    last_notification: float = field(default_factory=time.monotonic)
    lost: asyncio.Event = field(default_factory=asyncio.Event)


class Wearable:
    """Base of the device drivers: ``async with Driver(address) as w: async for event in w: …``."""

    model = "Bluetooth LE wearable"

    def __init__(
        self,
        device: str | BLEDevice,
        *,
        backend: type[BaseBleakClient] | None = None,
        policy: ReconnectPolicy | None = None,
        name: str | None = None,
        tap: NotificationTap | None = None,
        rng: random.Random | None = None,
        client_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.address = device if isinstance(device, str) else device.address
        self.name = name or (device if isinstance(device, str) else (device.name or device.address))
        self.policy = policy or ReconnectPolicy()
        self.decoder = NotificationDecoder(self.name)
        self._tap = tap
        self._rng = rng or random.Random()
        self._events: asyncio.Queue[DeviceEvent | None] = asyncio.Queue()
        self._state = _State()
        self._supervisor: asyncio.Task[None] | None = None
        self.client = BleakClient(
            device,
            disconnected_callback=self._on_disconnect,
            timeout=self.policy.connect_timeout_s,
            backend=backend,
            **(client_kwargs or {}),
        )

    @property
    def label(self) -> str:
        """What the device is, for people: "Polar H10 0A1B2C3D", "heart-rate strap HRM-Pro"."""
        return self.name if self.name.startswith(self.model) else f"{self.model} {self.name}"

    # Subclasses start and stop their streams on a connected client.
    async def _start_streams(self) -> None:
        raise NotImplementedError

    async def _stop_streams(self) -> None:
        """Best effort: the link may already be gone."""

    async def __aenter__(self) -> Wearable:
        try:
            await self.client.connect()
            await self._start_streams()
        except WearableError:
            await self._disconnect_quietly()
            raise
        except (BleakError, TimeoutError, OSError) as error:
            await self._disconnect_quietly()
            raise WearableError(f"{self.name}: could not connect and start streaming: {error}") from error
        self._emit(LinkEvent(self.name, time.time_ns(), "connected", self.model))
        self._state.last_notification = time.monotonic()
        self._supervisor = asyncio.create_task(self._supervise(), name=f"supervise {self.name}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the streams (an H10 left streaming drains its battery), then disconnect."""
        self._state.closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self.client.is_connected:
            with contextlib.suppress(BleakError, TimeoutError, OSError, WearableError):
                await asyncio.wait_for(self._stop_streams(), self.policy.connect_timeout_s)
        await self._disconnect_quietly()
        self._events.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[DeviceEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[DeviceEvent]:
        while (event := await self._events.get()) is not None:
            yield event

    def _emit(self, event: DeviceEvent) -> None:
        self._events.put_nowait(event)

    def notification_handler(self, uuid: str) -> Callable[[BleakGATTCharacteristic, bytearray], None]:
        """A bleak callback that decodes one characteristic's notifications into events."""

        def handle(_: BleakGATTCharacteristic, data: bytearray) -> None:
            t_ns = time.time_ns()
            self._state.last_notification = time.monotonic()
            payload = bytes(data)
            if self._tap is not None:
                self._tap(t_ns, self.name, uuid, payload)
            try:
                reading = self.decoder.decode(t_ns, uuid, payload)
            except MalformedPayload as error:
                self._emit(MalformedNotification(self.name, t_ns, uuid, payload, str(error)))
                return
            if reading is not None:
                self._emit(reading)

        return handle

    def _on_disconnect(self, _: BleakClient) -> None:
        if not self._state.closing:
            self._state.lost.set()

    async def _disconnect_quietly(self) -> None:
        with contextlib.suppress(BleakError, TimeoutError, OSError):
            await self.client.disconnect()

    async def _supervise(self) -> None:
        state = self._state
        # close() cancels this watch, and the watch also ends by itself once closing: an await
        # that completes just as the cancel arrives can swallow it (asyncio.wait_for, here and in
        # Bumble, before Python 3.12), and a watch that went on would keep close() waiting for ever.
        while not state.closing:
            silence_s = self.policy.silence_timeout_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.lost.wait(), timeout=silence_s / 4)
            if state.lost.is_set():
                kind: LinkEventKind = "disconnected"
                detail = "link lost"
            elif time.monotonic() - state.last_notification > silence_s:
                kind, detail = "silent", f"connected but no notification for {silence_s:g} s"
                await self._disconnect_quietly()
            else:
                continue
            lost_ns = time.time_ns()
            self._emit(LinkEvent(self.name, lost_ns, kind, detail))
            if not await self._reconnect(lost_ns) and not state.closing:
                self._emit(
                    LinkEvent(self.name, time.time_ns(), "gave_up", f"no link for {self.policy.give_up_after_s:g} s")
                )
                self._events.put_nowait(None)
                return

    async def _reconnect(self, lost_ns: int) -> bool:
        """Reconnect and restart the streams; False once the policy gives up."""
        deadline = time.monotonic() + self.policy.give_up_after_s
        attempt = 0
        while time.monotonic() < deadline and not self._state.closing:
            await asyncio.sleep(self.policy.delay_s(attempt, self._rng))
            attempt += 1
            self._state.lost.clear()
            try:
                await self.client.connect()
                self.decoder.reset()
                await self._start_streams()
            except (BleakError, TimeoutError, OSError, WearableError) as error:
                logger.info("reconnect attempt %d to a wearable failed: %s", attempt, type(error).__name__)
                await self._disconnect_quietly()
                continue
            self._state.last_notification = time.monotonic()
            now_ns = time.time_ns()
            gap = f"gap of {(now_ns - lost_ns) / 1e9:.1f} s after {attempt} attempt(s)"
            self._emit(LinkEvent(self.name, now_ns, "reconnected", gap))
            return True
        return False
