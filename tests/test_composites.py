"""The bundled captures: reproducible from the recordings, and decodable to them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drivers.gatt import HEART_RATE_MEASUREMENT_UUID, parse_heart_rate
from drivers.polar_pmd import H10_UNSET_CLOCK_NS, PMD_DATA_UUID, decode_frame
from monitor.capture import CaptureReader, CaptureRecord
from monitor.composites import STRENGTH_CAPTURE, WALKING_CAPTURE, build_bundled_captures
from monitor.recordings import load_gudb_beats

RR_RESOLUTION_MS = 1000 / 1024


def records(path: Path) -> list[CaptureRecord]:
    with CaptureReader(path) as reader:
        items = list(reader.records())
    assert all(isinstance(item, CaptureRecord) for item in items)
    return [item for item in items if isinstance(item, CaptureRecord)]


def test_bundled_captures_rebuild_byte_for_byte(recordings: Path, tmp_path: Path) -> None:
    build_bundled_captures(recordings, tmp_path)
    for bundled in (WALKING_CAPTURE, STRENGTH_CAPTURE):
        assert (tmp_path / bundled.name).read_bytes() == bundled.read_bytes(), f"{bundled.name} is stale"


def test_headers_say_they_are_composites_and_name_their_sources() -> None:
    for path in (WALKING_CAPTURE, STRENGTH_CAPTURE):
        with CaptureReader(path) as reader:
            header = reader.header
        assert header.composite
        assert "Composite of two real recordings" in header.description
        assert {source.signal for source in header.sources} == {"rr_ms", "acc_mg"}
        assert all(source.licence and source.attribution for source in header.sources)
        assert header.devices[0].model == "Polar H10"


def test_every_notification_parses_and_carries_the_source_rr(recordings: Path) -> None:
    for path, task in ((WALKING_CAPTURE, "walking"), (STRENGTH_CAPTURE, "hand_bike")):
        items = records(path)
        rr_ms = [
            rr
            for r in items
            if r.characteristic == HEART_RATE_MEASUREMENT_UUID
            for rr in parse_heart_rate(r.payload).rr_ms
        ]
        frames = [decode_frame(r.payload) for r in items if r.characteristic == PMD_DATA_UUID]
        source = load_gudb_beats(recordings, "subject_01", task).rr_ms
        assert len(rr_ms) >= len(source) - 2  # beats after the last whole second are cut
        np.testing.assert_allclose(rr_ms, source[: len(rr_ms)], atol=RR_RESOLUTION_MS / 2)
        stamps = np.array([f.timestamp_ns for f in frames])
        assert all(f.measurement == "acc" and f.frame_type == 1 and len(f.samples) == 36 for f in frames)
        assert np.all(np.diff(stamps) > 0)
        assert H10_UNSET_CLOCK_NS < stamps[0] < H10_UNSET_CLOCK_NS + 60 * 10**9  # an H10 with its clock unset
        host_ns = np.array([r.t_ns for r in items])
        assert np.all(np.diff(host_ns) >= 0)
