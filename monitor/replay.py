"""Replay a capture through the same parsers and session code a live device feeds."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from drivers.errors import MalformedPayload
from drivers.readings import NotificationDecoder
from monitor.capture import CaptureFormatError, CaptureProblem, CaptureReader, CaptureRecord
from monitor.session import SessionRecorder
from monitor.sinks import SessionTarget

ResultT = TypeVar("ResultT")


@dataclass(frozen=True, slots=True)
class ReplayResult(Generic[ResultT]):
    session: ResultT
    """What the target's sink returns at the end: the stored session, or None from a hub's spool."""
    notifications: int
    problems: list[CaptureProblem]


def _first_time_ns(path: Path) -> int | None:
    with CaptureReader(path) as reader:
        for item in reader.records():
            if isinstance(item, CaptureRecord):
                return item.t_ns
    return None


async def replay_capture(
    path: str | Path,
    target: SessionTarget[ResultT],
    *,
    kind: str | None = None,
    start_at_ns: int | None = None,
    speed: float | None = None,
) -> ReplayResult[ResultT]:
    """Record a session from a capture file into ``target``.

    ``start_at_ns`` moves the capture's host times so that its first notification
    arrives then (sensor clocks are left alone, as they would be). ``speed`` paces the
    notifications, 1.0 being real time; None replays as fast as possible. A bad line
    or payload is reported with its line number, counted in the session and skipped.
    If the replay is cancelled, the session is kept and marked interrupted.
    """
    path = Path(path)
    first_ns = _first_time_ns(path)
    with CaptureReader(path) as reader:
        header = reader.header
        session_kind = kind or header.kind
        if session_kind is None:
            raise CaptureFormatError(f"{path}: the capture names no session kind; give one (--kind)")
        shift_ns = 0 if start_at_ns is None or first_ns is None else start_at_ns - first_ns
        decoders = {device.id: device.decoder() for device in header.devices}
        started_at_ns = (first_ns or time.time_ns()) + shift_ns
        recorder = SessionRecorder.start(
            target,
            kind=session_kind,
            started_at_ns=started_at_ns,
            source=f"replay of {path.name}",
            devices=", ".join(device.name or device.model for device in header.devices),
        )
        problems: list[CaptureProblem] = []
        last_ns: dict[str, int] = {}
        count = 0
        wall_start = time.monotonic()
        status = "interrupted"
        try:
            for item in reader.records():
                if isinstance(item, CaptureProblem):
                    problem: CaptureProblem | None = item
                else:
                    count += 1
                    t_ns = item.t_ns + shift_ns
                    if speed is not None and first_ns is not None:
                        delay = (item.t_ns - first_ns) / 1e9 / speed - (time.monotonic() - wall_start)
                        if delay > 0:
                            await asyncio.sleep(delay)
                    problem = _feed(recorder, decoders, last_ns, item, t_ns)
                if problem is not None:
                    problems.append(problem)
                    recorder.report_problem(str(problem))
            status = "complete"
        finally:
            session = recorder.finish(status=status)
    return ReplayResult(session, count, problems)


def _feed(
    recorder: SessionRecorder[ResultT],
    decoders: dict[str, NotificationDecoder],
    last_ns: dict[str, int],
    record: CaptureRecord,
    t_ns: int,
) -> CaptureProblem | None:
    decoder = decoders[record.device]
    if t_ns < last_ns.get(record.device, t_ns):
        return CaptureProblem(record.line_no, f"time goes back {(last_ns[record.device] - t_ns) / 1e6:.1f} ms")
    try:
        reading = decoder.decode(t_ns, record.characteristic, record.payload)
    except MalformedPayload as error:
        return CaptureProblem(record.line_no, f"malformed payload on {record.characteristic}: {error}")
    last_ns[record.device] = t_ns
    if reading is not None:
        recorder.consume(reading)
    return None
