"""Live sessions: device drivers' events into a session recorder."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any, TypeVar

from drivers.devices import DeviceEvent, LinkEvent, MalformedNotification, Wearable
from monitor.session import SessionRecorder
from monitor.sinks import SessionTarget

ResultT = TypeVar("ResultT")


def apply_event(recorder: SessionRecorder[Any], event: DeviceEvent) -> None:
    """One driver event into the session: readings are stored, the rest is written down."""
    if isinstance(event, MalformedNotification):
        recorder.report_problem(f"{event.device} {event.characteristic}: {event.message}", t_ns=event.t_host_ns)
    elif isinstance(event, LinkEvent):
        detail = f": {event.detail}" if event.detail else ""
        recorder.report_event(
            event.kind, f"{event.device} {event.kind.replace('_', ' ')}{detail}", t_ns=event.t_host_ns
        )
    else:
        recorder.consume(event)


async def record_session(
    target: SessionTarget[ResultT],
    wearables: Sequence[Wearable],
    *,
    kind: str,
    duration_s: float | None = None,
    source: str = "live recording",
    started: asyncio.Event | None = None,
) -> ResultT:
    """Record from the wearables until ``duration_s`` has passed, or until cancelled.

    The session ends ``complete`` at the end of the duration, and ``interrupted`` if it
    is cancelled or every wearable gave up reconnecting before then; what arrived is
    kept either way. ``started`` is set once the session has begun.
    """
    async with contextlib.AsyncExitStack() as stack:
        # Connect first: a wearable that cannot be reached leaves no empty session behind.
        for wearable in wearables:
            await stack.enter_async_context(wearable)
        started_at_ns = time.time_ns()
        recorder = SessionRecorder.start(
            target, kind=kind, started_at_ns=started_at_ns, source=source, devices=", ".join(w.label for w in wearables)
        )
        if started is not None:
            started.set()
        status = "interrupted"

        async def follow(wearable: Wearable) -> None:
            async for event in wearable:
                apply_event(recorder, event)

        followers = asyncio.gather(*(follow(w) for w in wearables))
        try:
            await asyncio.wait_for(asyncio.shield(followers), timeout=duration_s)
        except TimeoutError:
            status = "complete"
        finally:
            try:
                # The links close first, each ending its stream after the last reading it
                # received, and the followers store those before the session ends: a reading
                # that was on its way when the session ended is kept, not dropped.
                await stack.aclose()
                await followers
            finally:
                followers.cancel()  # only if closing was itself cancelled or failed
                with contextlib.suppress(asyncio.CancelledError):
                    await followers
                session = recorder.finish(status=status)
    return session
