"""What a hub sends the server: a session as a sequence of messages, in order, each safe to resend.

``POST /api/ingest`` takes an :class:`IngestBatch`. A session is a ``start``, then
``chunk``, ``event`` and ``problems`` messages as the recording goes, then an ``end``; all
name the session by the UUID the hub gave it. The server applies a batch in order and
each message idempotently: a chunk by its start time, an event by its number, the problem
count and the end as values. So a hub that does not know whether a batch arrived sends it
again, and nothing is stored twice.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from monitor.store.signals import SIGNALS

MAX_BATCH_MESSAGES = 500
MAX_CHUNK_SAMPLES = 20_000
"""Ten seconds of 2 kHz: far above a 1 s chunk of any signal Dosis records."""
MAX_INGEST_BODY_BYTES = 8 * 1024 * 1024
"""What ``POST /api/ingest`` takes in one body, checked as it arrives. A hub's batch is at most 1 MB or one
message alone, and the largest message a hub spools (``MAX_CHUNK_SAMPLES`` of four channels) is about 2.4 MB."""

# A time in ns on the Unix epoch, between 2000 and 2100: anything else is a broken clock.
TimeNs = Annotated[int, Field(ge=946_684_800_000_000_000, le=4_102_444_800_000_000_000)]
Text = Annotated[str, Field(max_length=500)]
Int32 = Annotated[int, Field(le=2**31 - 1)]
"""Stored in an INTEGER column (PostgreSQL's is 32 bits; SQLite's driver cannot bind past 64)."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    session: UUID


class StartMessage(_Message):
    type: Literal["start"] = "start"
    patient: Annotated[str, Field(min_length=1, max_length=32)]
    """The patient's pseudonym; the server must already know it."""
    kind: Literal["walking", "strength"]
    started_at_ns: TimeNs
    source: Annotated[str, Field(max_length=200)] = ""
    devices: Annotated[str, Field(max_length=400)] = ""


class ChunkMessage(_Message):
    type: Literal["chunk"] = "chunk"
    signal: Annotated[str, Field(max_length=32)]
    """A name of ``monitor.store.signals.SIGNALS``."""
    device: Annotated[str, Field(min_length=1, max_length=64)]
    t_ns: Annotated[list[TimeNs], Field(min_length=1, max_length=MAX_CHUNK_SAMPLES)]
    values: Annotated[list[list[float]], Field(min_length=1, max_length=MAX_CHUNK_SAMPLES)]
    """One row per sample, the signal's channels in its unit."""

    @model_validator(mode="after")
    def _fits_the_signal(self) -> ChunkMessage:
        if self.signal not in SIGNALS:
            raise ValueError(f"unknown signal {self.signal!r}; known: {', '.join(SIGNALS)}")
        channels = SIGNALS[self.signal].channels
        if len(self.values) != len(self.t_ns):
            raise ValueError(f"{len(self.t_ns)} times but {len(self.values)} rows of values")
        if any(len(row) != channels for row in self.values):
            raise ValueError(f"{self.signal} has {channels} channels per sample")
        if any(not math.isfinite(v) for row in self.values for v in row):
            raise ValueError("values must be finite numbers")
        if any(b < a for a, b in zip(self.t_ns, self.t_ns[1:], strict=False)):
            raise ValueError("times must not decrease")
        return self


class EventMessage(_Message):
    type: Literal["event"] = "event"
    seq: Annotated[Int32, Field(ge=1)]
    """The hub's number for the event within the session."""
    kind: Annotated[str, Field(min_length=1, max_length=32)]
    message: Text
    t_ns: TimeNs | None = None


class ProblemsMessage(_Message):
    type: Literal["problems"] = "problems"
    count: Annotated[Int32, Field(ge=0)]


class EndMessage(_Message):
    type: Literal["end"] = "end"
    status: Literal["complete", "interrupted"]
    ended_at_ns: TimeNs


IngestMessage = Annotated[
    StartMessage | ChunkMessage | EventMessage | ProblemsMessage | EndMessage, Field(discriminator="type")
]


class IngestBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: Annotated[list[IngestMessage], Field(min_length=1, max_length=MAX_BATCH_MESSAGES)]


class IngestAccepted(BaseModel):
    applied: int
    """Messages applied (or found already applied), all of the batch."""
