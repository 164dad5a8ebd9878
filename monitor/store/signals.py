"""Time series behind one interface: append chunks, read a time range, delete.

The relational implementation keeps one BLOB per 1–10 s chunk in ``signal_chunk``
(SQLite by default). Writes are idempotent on (session, signal, device, chunk start),
so a retried write never duplicates samples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from monitor.store.models import SignalChunk


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """How a signal is stored: ``int16`` counts of ``scale`` units, or ``float32``."""

    unit: str
    encoding: str
    columns: tuple[str, ...]
    scale: float = 1.0

    @property
    def channels(self) -> int:
        return len(self.columns)


SIGNALS: dict[str, SignalSpec] = {
    # Heart rate as the sensor reported it, one row per notification; contact is
    # 1 detected, 0 not detected, -1 not supported by the sensor.
    "hr_bpm": SignalSpec("bpm", "int16", ("bpm", "contact")),
    # RR intervals at their beat times; float32 holds raw/1024*1000 ms exactly.
    "rr_ms": SignalSpec("ms", "float32", ("rr",)),
    # Acceleration, 1 mG is the resolution of the H10's 16-bit frames.
    "acc_mg": SignalSpec("mG", "int16", ("x", "y", "z")),
    # ECG as the H10 sends it (int24 µV, ±20 mV range), kept whole in float32.
    "ecg_uv": SignalSpec("µV", "float32", ("ecg",)),
    # Optical pulse-to-pulse intervals at their beat times, with the device's own error
    # estimate and flags (1 = blocked as unreliable; 1 = skin contact).
    "ppi_ms": SignalSpec("ms", "float32", ("pp", "error", "blocker", "skin_contact")),
}

# Evenly spaced within this much, a chunk stores no per-sample times (a 200 Hz
# sample period is 5 ms; an H10 timestamp tick is 30.5 µs).
UNIFORM_TOLERANCE_NS = 100_000


@dataclass(frozen=True, slots=True)
class Signal:
    t_ns: npt.NDArray[np.int64] = field(repr=False)
    values: npt.NDArray[np.float64] = field(repr=False)
    """Shape (n, channels), in the signal's unit."""

    def __len__(self) -> int:
        return len(self.t_ns)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Samples of one signal of one device in one session, to append."""

    session_id: int
    signal: str
    device: str
    t_ns: npt.ArrayLike
    values: npt.ArrayLike


class SignalStoreUnavailable(ConnectionError):
    """The signal database could not be reached or failed: retry later.

    Part of the failed write may be stored; retrying all of it is safe, since writes are
    idempotent.
    """


class SignalStore(Protocol):
    def append(self, session_id: int, signal: str, device: str, t_ns: npt.ArrayLike, values: npt.ArrayLike) -> None: ...

    def append_many(self, chunks: Iterable[Chunk]) -> None:
        """All of ``chunks`` in one write (a backfill, several signals flushed together)."""
        ...

    def read(
        self,
        session_id: int,
        signal: str,
        *,
        device: str | None = None,
        t_from_ns: int | None = None,
        t_to_ns: int | None = None,
    ) -> Signal: ...

    def read_decimated(
        self,
        session_id: int,
        signal: str,
        *,
        max_points: int,
        channel: int = 0,
        device: str | None = None,
        t_from_ns: int | None = None,
        t_to_ns: int | None = None,
    ) -> Decimated:
        """One channel in at most ``max_points`` equal time buckets with its min and max, for charts."""
        ...

    def devices(self, session_id: int, signal: str) -> list[str]:
        """The devices with samples of ``signal`` in the session, sorted; KeyError for a signal not in SIGNALS."""
        ...

    def delete_session(self, session_id: int) -> None: ...

    def delete_sessions(self, session_ids: Iterable[int]) -> None:
        """Every sample of these sessions (a patient's, when they leave)."""
        ...

    def apply_retention(self, *, older_than_ns: int) -> int:
        """Delete raw samples before ``older_than_ns`` (summaries live elsewhere); returns chunks or points removed."""
        ...

    def flush(self) -> None:
        """Return once every append so far is stored (a batching writer holds some back)."""
        ...

    def close(self) -> None:
        """Flush, then let go of connections."""
        ...


@dataclass(frozen=True, slots=True)
class Decimated:
    """Min and max of one channel per time bucket; buckets without samples are left out."""

    t_ns: npt.NDArray[np.int64] = field(repr=False)
    """Start of each bucket."""
    min: npt.NDArray[np.float64] = field(repr=False)
    max: npt.NDArray[np.float64] = field(repr=False)
    bucket_ns: int

    def __len__(self) -> int:
        return len(self.t_ns)


def decimate(
    signal: Signal, *, max_points: int, channel: int = 0, t_from_ns: int | None = None, t_to_ns: int | None = None
) -> Decimated:
    """Min/max per bucket of ``channel``: a chart of them shows every peak the full data has.

    The buckets split ``[t_from_ns, t_to_ns]`` (default: the data's span) into at most
    ``max_points`` equal whole-ns widths, the first starting at ``t_from_ns``.
    """
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    empty = Decimated(np.empty(0, np.int64), np.empty(0), np.empty(0), 1)
    if len(signal) == 0:
        return empty
    start = int(signal.t_ns[0]) if t_from_ns is None else t_from_ns
    end = int(signal.t_ns[-1]) if t_to_ns is None else t_to_ns
    bucket_ns = max(1, -(-(end - start + 1) // max_points))
    index = (signal.t_ns - start) // bucket_ns
    inside = (index >= 0) & (signal.t_ns <= end)
    index, values = index[inside], signal.values[inside, channel]
    if len(index) == 0:
        return Decimated(empty.t_ns, empty.min, empty.max, bucket_ns)
    buckets, first = np.unique(index, return_index=True)
    return Decimated(
        start + buckets * bucket_ns,
        np.minimum.reduceat(values, first),
        np.maximum.reduceat(values, first),
        bucket_ns,
    )


def encode_chunk(signal: str, t_ns: npt.ArrayLike, values: npt.ArrayLike) -> dict[str, object]:
    """Column values for one chunk; raises ValueError on data that does not fit."""
    spec = SIGNALS[signal]
    times = np.asarray(t_ns, dtype=np.int64)
    if len(times) == 0:
        raise ValueError("a chunk needs at least one sample")
    data = np.asarray(values, dtype=np.float64).reshape(len(times), -1)
    if data.shape[1] != spec.channels:
        raise ValueError(f"{signal} has {spec.channels} channels, got {data.shape[1]}")
    if np.any(np.diff(times) < 0):
        raise ValueError(f"{signal} times must not decrease")
    if spec.encoding == "int16":
        counts = np.rint(data / spec.scale)
        if counts.min() < -32768 or counts.max() > 32767:
            raise ValueError(f"{signal} values outside the int16 range of the store")
        blob = counts.astype("<i2").tobytes()
    else:
        if np.any(np.abs(data) > np.finfo(np.float32).max):
            raise ValueError(f"{signal} values outside the float32 range of the store")
        blob = data.astype("<f4").tobytes()
    t_start, t_end = int(times[0]), int(times[-1])
    uniform = bool(np.max(np.abs(times - _evenly_spaced(t_start, t_end, len(times)))) <= UNIFORM_TOLERANCE_NS)
    return {
        "signal": signal,
        "t_start_ns": t_start,
        "t_end_ns": t_end,
        "n_samples": len(times),
        "channels": spec.channels,
        "encoding": spec.encoding,
        "scale": spec.scale,
        "times": None if uniform else (times - t_start).astype("<i8").tobytes(),
        "values": blob,
    }


def _evenly_spaced(t_start_ns: int, t_end_ns: int, n: int) -> npt.NDArray[np.int64]:
    # Offsets first: float64 cannot hold Unix-epoch ns exactly.
    return t_start_ns + np.rint(np.linspace(0, t_end_ns - t_start_ns, n)).astype(np.int64)


def decode_chunk(chunk: SignalChunk) -> Signal:
    if chunk.times is None:
        times = _evenly_spaced(chunk.t_start_ns, chunk.t_end_ns, chunk.n_samples)
    else:
        times = chunk.t_start_ns + np.frombuffer(chunk.times, dtype="<i8")
    dtype = "<i2" if chunk.encoding == "int16" else "<f4"
    values = np.frombuffer(chunk.values, dtype=dtype).astype(np.float64).reshape(-1, chunk.channels)
    if chunk.encoding == "int16":
        values *= chunk.scale
    return Signal(times, values)


class SqlSignalStore:
    """Signal chunks as BLOBs in the relational database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._insert = insert(SignalChunk).on_conflict_do_nothing(
            index_elements=["session_id", "signal", "device", "t_start_ns"]
        )

    def append(self, session_id: int, signal: str, device: str, t_ns: npt.ArrayLike, values: npt.ArrayLike) -> None:
        self.append_many([Chunk(session_id, signal, device, t_ns, values)])

    def append_many(self, chunks: Iterable[Chunk]) -> None:
        rows = [
            encode_chunk(c.signal, c.t_ns, c.values) | {"session_id": c.session_id, "device": c.device} for c in chunks
        ]
        if rows:
            with self._engine.begin() as connection:
                connection.execute(self._insert, rows)

    def read(
        self,
        session_id: int,
        signal: str,
        *,
        device: str | None = None,
        t_from_ns: int | None = None,
        t_to_ns: int | None = None,
    ) -> Signal:
        """Samples with ``t_from_ns <= t <= t_to_ns``, in time order."""
        query = select(SignalChunk).where(SignalChunk.session_id == session_id, SignalChunk.signal == signal)
        if device is not None:
            query = query.where(SignalChunk.device == device)
        if t_from_ns is not None:
            query = query.where(SignalChunk.t_end_ns >= t_from_ns)
        if t_to_ns is not None:
            query = query.where(SignalChunk.t_start_ns <= t_to_ns)
        with Session(self._engine) as session:
            parts = [decode_chunk(chunk) for chunk in session.scalars(query.order_by(SignalChunk.t_start_ns))]
        channels = SIGNALS[signal].channels
        if not parts:
            return Signal(np.empty(0, np.int64), np.empty((0, channels)))
        times = np.concatenate([p.t_ns for p in parts])
        values = np.concatenate([p.values for p in parts])
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
        keep = np.ones(len(times), dtype=bool)
        if t_from_ns is not None:
            keep &= times >= t_from_ns
        if t_to_ns is not None:
            keep &= times <= t_to_ns
        return Signal(times[keep], values[keep])

    def read_decimated(
        self,
        session_id: int,
        signal: str,
        *,
        max_points: int,
        channel: int = 0,
        device: str | None = None,
        t_from_ns: int | None = None,
        t_to_ns: int | None = None,
    ) -> Decimated:
        full = self.read(session_id, signal, device=device, t_from_ns=t_from_ns, t_to_ns=t_to_ns)
        return decimate(full, max_points=max_points, channel=channel, t_from_ns=t_from_ns, t_to_ns=t_to_ns)

    def devices(self, session_id: int, signal: str) -> list[str]:
        if signal not in SIGNALS:
            raise KeyError(f"{signal!r} is not a signal; the signals are {', '.join(SIGNALS)}")
        query = select(SignalChunk.device).where(SignalChunk.session_id == session_id, SignalChunk.signal == signal)
        with Session(self._engine) as session:
            # Sorted here, not by the database's collation, so that every store sorts alike.
            return sorted(session.scalars(query.distinct()))

    def delete_session(self, session_id: int) -> None:
        self.delete_sessions([session_id])

    def delete_sessions(self, session_ids: Iterable[int]) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(SignalChunk).where(SignalChunk.session_id.in_(list(session_ids))))

    def apply_retention(self, *, older_than_ns: int) -> int:
        """Whole chunks that ended before ``older_than_ns``; a chunk straddling it is kept."""
        with self._engine.begin() as connection:
            result = connection.execute(delete(SignalChunk).where(SignalChunk.t_end_ns < older_than_ns))
        return int(result.rowcount)

    def flush(self) -> None:
        """Nothing to do: every append is committed before it returns."""

    def close(self) -> None:
        """Nothing to do: the engine belongs to the Store."""
