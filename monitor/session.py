"""A training session as it is recorded: readings in, chunks and a summary out.

The recorder takes typed readings from any source (a bleak driver, a capture replay),
puts every device's samples on the wall clock, and hands signal chunks to its sink as it
goes (``monitor.sinks``: the store, so a live view can read them, or a hub's spool). The
summary at the end is computed from the stored signals, the same data a later
re-analysis sees.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from drivers.readings import AccelerationBatch, EcgBatch, HeartRateReading, PpiBatch, Reading
from monitor.clock import BeatClock, ClockAlignment
from monitor.sinks import SessionChunk, SessionObserver, SessionSink, SessionTarget

MAX_STORED_PROBLEMS = 100
"""Problems beyond this many are counted but not each written down."""
_CONTACT_CODE = {True: 1, False: 0, None: -1}
ResultT = TypeVar("ResultT")


@dataclass
class _ChunkBuffer:
    sensor_clock: bool = False
    """Times are the device's sensor clock, put on the wall clock when the chunk is written."""
    t_ns: list[npt.NDArray[np.int64]] = field(default_factory=list)
    values: list[npt.NDArray[np.float64]] = field(default_factory=list)

    def add(self, t_ns: npt.ArrayLike, values: npt.ArrayLike) -> None:
        self.t_ns.append(np.atleast_1d(np.asarray(t_ns, dtype=np.int64)))
        self.values.append(np.atleast_2d(np.asarray(values, dtype=np.float64)))

    def span_ns(self) -> int:
        return int(self.t_ns[-1][-1] - self.t_ns[0][0]) if self.t_ns else 0

    def take(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        times, values = np.concatenate(self.t_ns), np.concatenate(self.values)
        self.t_ns.clear()
        self.values.clear()
        return times, values


class SessionRecorder(Generic[ResultT]):
    """Records one session into a sink; :meth:`start` begins one."""

    def __init__(
        self, sink: SessionSink[ResultT], started_at_ns: int, *, observer: SessionObserver | None = None
    ) -> None:
        self.sink = sink
        self.observer = observer
        """Told of every reading and link event as it comes (the live view); None: nobody watches."""
        self.started_at_ns = started_at_ns
        self.last_t_ns = started_at_ns
        self.problem_count = 0
        self._written_problem_count = 0
        self.sample_counts: dict[str, int] = defaultdict(int)
        self._buffers: dict[tuple[str, str, bool], _ChunkBuffer] = {}
        self._last_written_ns: dict[tuple[str, str], int] = {}
        self._clocks: dict[str, ClockAlignment] = defaultdict(ClockAlignment)
        self._beat_clocks: dict[tuple[str, str], BeatClock] = defaultdict(BeatClock)

    @staticmethod
    def start(
        target: SessionTarget[ResultT], *, kind: str, started_at_ns: int, source: str = "", devices: str = ""
    ) -> SessionRecorder[ResultT]:
        """A new session of ``target`` (a patient in the store, or on a hub's server)."""
        sink = target.start_session(kind=kind, started_at_ns=started_at_ns, source=source, devices=devices)
        return SessionRecorder(sink, started_at_ns, observer=sink.observer)

    def consume(self, reading: Reading) -> None:
        self.last_t_ns = max(self.last_t_ns, reading.t_host_ns)
        if self.observer is not None:
            self.observer.reading(reading)
        if isinstance(reading, HeartRateReading):
            self._consume_heart_rate(reading)
        elif isinstance(reading, AccelerationBatch | EcgBatch):
            self._consume_sampled(reading)
        else:
            self._consume_ppi(reading)

    def _consume_heart_rate(self, reading: HeartRateReading) -> None:
        contact = _CONTACT_CODE[reading.sensor_contact]
        self._buffer("hr_bpm", reading.device).add(reading.t_host_ns, [reading.bpm, contact])
        beat_clock = self._beat_clocks[("rr_ms", reading.device)]
        beat_t_ns = beat_clock.beat_times_ns(t_host_ns=reading.t_host_ns, rr_ms=reading.rr_ms)
        if reading.rr_ms:
            self._buffer("rr_ms", reading.device).add(beat_t_ns, np.asarray(reading.rr_ms)[:, None])
        self._flush_full(reading.device)

    def _consume_sampled(self, reading: AccelerationBatch | EcgBatch) -> None:
        self._clocks[reading.device].observe(t_sensor_ns=int(reading.t_sensor_ns[-1]), t_host_ns=reading.t_host_ns)
        signal, values = (
            ("acc_mg", reading.acc_mg) if isinstance(reading, AccelerationBatch) else ("ecg_uv", reading.ecg_uv)
        )
        # Kept in sensor time until the chunk is written, so it gets the best offset yet.
        self._buffer(signal, reading.device, sensor_clock=True).add(
            reading.t_sensor_ns, values.reshape(len(values), -1)
        )
        self._flush_full(reading.device)

    def _consume_ppi(self, reading: PpiBatch) -> None:
        values = np.column_stack([reading.pp_ms, reading.pp_error_ms, reading.blocker, reading.skin_contact])
        if reading.t_sensor_ns is not None:
            self._clocks[reading.device].observe(t_sensor_ns=int(reading.t_sensor_ns[-1]), t_host_ns=reading.t_host_ns)
            self._buffer("ppi_ms", reading.device, sensor_clock=True).add(reading.t_sensor_ns, values)
        else:
            # No frame timestamp: place the beats as heart-rate notifications' beats are.
            beat_clock = self._beat_clocks[("ppi_ms", reading.device)]
            beat_t_ns = beat_clock.beat_times_ns(t_host_ns=reading.t_host_ns, rr_ms=reading.pp_ms)
            self._buffer("ppi_ms", reading.device).add(beat_t_ns, values)
        self._flush_full(reading.device)

    def report_event(self, kind: str, message: str, *, t_ns: int | None = None) -> None:
        """Keep something the session should say about its data, e.g. a link gap."""
        self.sink.event(kind, message, t_ns=t_ns)
        if self.observer is not None:
            self.observer.event(kind, t_ns)

    def report_problem(self, message: str, *, t_ns: int | None = None) -> None:
        """Count a notification that could not be used, and keep its description.

        The first problems are written at once, each with its message; past
        ``MAX_STORED_PROBLEMS`` a storm of them only updates the count with each chunk.
        """
        self.problem_count += 1
        if self.problem_count <= MAX_STORED_PROBLEMS:
            self.sink.event("malformed", message, t_ns=t_ns)
            self._write_problem_count()

    def _write_problem_count(self) -> None:
        self.sink.problem_count(self.problem_count)
        self._written_problem_count = self.problem_count

    def _buffer(self, signal: str, device: str, *, sensor_clock: bool = False) -> _ChunkBuffer:
        return self._buffers.setdefault((signal, device, sensor_clock), _ChunkBuffer(sensor_clock))

    def _flush_full(self, device: str) -> None:
        for (signal, buffered_device, _), buffer in self._buffers.items():
            if buffered_device == device and buffer.span_ns() >= self.sink.chunk_span_ns:
                self._flush(signal, device, buffer)

    def _flush(self, signal: str, device: str, buffer: _ChunkBuffer) -> None:
        if not buffer.t_ns:
            return
        t_ns, values = buffer.take()
        if buffer.sensor_clock:
            t_ns = self._clocks[device].to_wall_ns(t_ns)
        # A signal's time never goes back: when a better clock estimate moves a chunk
        # before the end of the one written earlier, the overlapping samples go just
        # after it (a correction of at most the estimate's change, a few ms).
        previous_ns = self._last_written_ns.get((signal, device))
        if previous_ns is not None:
            t_ns = np.maximum(t_ns, previous_ns + 1 + np.arange(len(t_ns)))
        self._last_written_ns[(signal, device)] = int(t_ns[-1])
        self.sink.append([SessionChunk(signal, device, t_ns, values)])
        self.sample_counts[signal] += len(t_ns)
        if self.problem_count != self._written_problem_count:
            self._write_problem_count()

    def finish(self, *, status: str = "complete", ended_at_ns: int | None = None) -> ResultT:
        """Hand on what is buffered and end the session; the store's sink returns its row."""
        if self.observer is not None:  # off the live view at once, not after the analysis
            self.observer.finished(status)
        for (signal, device, _), buffer in self._buffers.items():
            self._flush(signal, device, buffer)
        if self.problem_count != self._written_problem_count:
            self._write_problem_count()
        return self.sink.finish(status=status, ended_at_ns=ended_at_ns if ended_at_ns is not None else self.last_t_ns)
