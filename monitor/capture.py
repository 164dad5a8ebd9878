"""Capture files: a wearable session as the raw BLE notifications it sent.

Format ``dosis-capture`` version 1, JSON Lines (UTF-8, optionally gzip-compressed
when the file name ends in ``.gz``). Documented in ``docs/capture-format.md``.

Line 1 is the header: the devices, the characteristics they notified on and the PMD
stream settings a replay needs to decode the frames, plus where the data came from.
Every further line is one notification::

    {"t_ns": 1763726400012000000, "device": "h10", "char": "00002a37-…", "hex": "10 4b…"}

``t_ns`` is the host's receive time in ns since the Unix epoch. A reader reports a
bad line with its line number and goes on with the next one.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drivers.readings import NotificationDecoder, PmdStream

FORMAT_NAME: Literal["dosis-capture"] = "dosis-capture"
FORMAT_VERSION: Literal[1] = 1


class CaptureFormatError(ValueError):
    """The file is not a capture this version can read (bad or missing header)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PmdStreamSettings(_Model):
    sample_rate_hz: float = Field(gt=0)
    resolution_bits: int = Field(default=16, ge=1, le=32)
    range_g: int | None = None
    factor: float = 1.0


class CaptureDevice(_Model):
    id: str = Field(min_length=1)
    model: str
    name: str = ""
    address: str = ""
    characteristics: list[str]
    acc: PmdStreamSettings | None = None
    ecg: PmdStreamSettings | None = None

    def decoder(self) -> NotificationDecoder:
        return NotificationDecoder(self.id, acc=_stream(self.acc), ecg=_stream(self.ecg))


def _stream(settings: PmdStreamSettings | None) -> PmdStream | None:
    if settings is None:
        return None
    return PmdStream(settings.sample_rate_hz, settings.resolution_bits, settings.range_g, settings.factor)


class CaptureSource(_Model):
    """A recording some of the capture's data was made from."""

    signal: str
    recording: str
    licence: str
    attribution: str


class CaptureHeader(_Model):
    format: Literal["dosis-capture"] = FORMAT_NAME
    version: Literal[1] = FORMAT_VERSION
    description: str = ""
    kind: Literal["walking", "strength"] | None = None
    composite: bool = False
    devices: list[CaptureDevice] = Field(min_length=1)
    sources: list[CaptureSource] = []
    ground_truth: dict[str, Any] = {}
    """Free-form facts about the source data that tests and validation may use."""


@dataclass(frozen=True, slots=True)
class CaptureRecord:
    line_no: int
    t_ns: int
    device: str
    characteristic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class CaptureProblem:
    line_no: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line_no}: {self.message}"


def _open_text(path: Path, mode: Literal["r", "w"]) -> IO[str]:
    if path.suffix == ".gz":
        if mode == "w":
            # mtime=0 keeps a rebuilt capture byte-identical to the committed one.
            raw = gzip.GzipFile(filename=path, mode="wb", mtime=0)
            return io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(mode, encoding="utf-8", newline="\n")


class CaptureReader:
    """Reads a capture lazily; use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file = _open_text(self.path, "r")
        try:
            self.header = self._read_header()
        except CaptureFormatError:
            self._file.close()
            raise
        self._devices = {device.id for device in self.header.devices}

    def _read_header(self) -> CaptureHeader:
        try:
            first = self._file.readline()
        except (UnicodeDecodeError, OSError, EOFError) as error:
            raise CaptureFormatError(f"{self.path}: unreadable: {error}") from error
        if not first.strip():
            raise CaptureFormatError(f"{self.path}: the file is empty; line 1 must be the capture header")
        try:
            return CaptureHeader.model_validate_json(first)
        except ValidationError as error:
            raise CaptureFormatError(f"{self.path}: line 1 is not a valid {FORMAT_NAME} header: {error}") from error

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def records(self) -> Iterator[CaptureRecord | CaptureProblem]:
        """Every notification line in order; a bad line yields a problem instead."""
        line_no = 1
        try:
            for line_no, line in enumerate(self._file, start=2):
                if line.strip():
                    yield self._parse_line(line_no, line)
        except (OSError, EOFError, UnicodeDecodeError) as error:
            # A truncated gzip stream or bad bytes: keep what came before.
            yield CaptureProblem(line_no + 1, f"unreadable from here on: {error}")

    def _parse_line(self, line_no: int, line: str) -> CaptureRecord | CaptureProblem:
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            return CaptureProblem(line_no, f"not JSON: {error.msg}")
        if not isinstance(item, dict):
            return CaptureProblem(line_no, "not a JSON object")
        t_ns, device, characteristic, payload_hex = (item.get(k) for k in ("t_ns", "device", "char", "hex"))
        if not isinstance(t_ns, int) or isinstance(t_ns, bool) or t_ns < 0:
            return CaptureProblem(line_no, f"t_ns must be a non-negative integer, not {t_ns!r}")
        if not isinstance(device, str) or device not in self._devices:
            return CaptureProblem(line_no, f"device {device!r} is not declared in the header")
        if not isinstance(characteristic, str):
            return CaptureProblem(line_no, "char must be a UUID string")
        if not isinstance(payload_hex, str):
            return CaptureProblem(line_no, "hex must be a string of hex digits")
        try:
            payload = bytes.fromhex(payload_hex)
        except ValueError:
            return CaptureProblem(line_no, f"hex is not hexadecimal: {payload_hex[:40]!r}")
        return CaptureRecord(line_no, t_ns, device, characteristic.lower(), payload)


class CaptureWriter:
    """Writes a capture as notifications arrive, so a long recording never sits in memory."""

    def __init__(self, path: str | Path, header: CaptureHeader) -> None:
        self._file = _open_text(Path(path), "w")
        self._file.write(header.model_dump_json() + "\n")
        self.count = 0

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, t_ns: int, device: str, characteristic: str, payload: bytes) -> None:
        record = {"t_ns": t_ns, "device": device, "char": characteristic, "hex": payload.hex()}
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.count += 1

    def close(self) -> None:
        self._file.close()


def write_capture(path: str | Path, header: CaptureHeader, notifications: Iterable[tuple[int, str, str, bytes]]) -> int:
    """Write ``(t_ns, device, characteristic, payload)`` notifications; returns their count."""
    with CaptureWriter(path, header) as writer:
        for notification in notifications:
            writer.write(*notification)
    return writer.count
