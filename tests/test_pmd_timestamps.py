from __future__ import annotations

import struct

import numpy as np
import pytest

from drivers.polar_pmd import (
    H10_UNSET_CLOCK_NS,
    PmdDataFrame,
    SampleTimestamps,
    clock_was_set,
    decode_frame,
    ppi_sample_times_ns,
)
from drivers.polar_pmd.timestamps import UNSET_CLOCK_WINDOW_NS

H10_TS = 599_616_035_000_000_000  # 35 s after the H10's unset-clock default
# polar-ble-sdk PpiDataTest "process ppi raw data type 0": (hr 128, pp 32896 ms, error 32896 ms,
# all flags set), then (hr 0, pp 1 ms, error 1 ms, no flags).
SDK_PPI_CONTENT = bytes.fromhex("80 8080 8080 ff  00 0100 0100 00")


def frame_at(timestamp_ns: int, n: int = 36) -> PmdDataFrame:
    return PmdDataFrame("acc", timestamp_ns, 1, np.zeros((n, 3)))


def test_first_frame_counts_back_from_its_timestamp_at_the_nominal_rate() -> None:
    times = SampleTimestamps().sample_times_ns(frame_at(H10_TS, n=4), nominal_rate_hz=50)
    assert times.tolist() == [H10_TS - 60_000_000, H10_TS - 40_000_000, H10_TS - 20_000_000, H10_TS]


def test_later_frames_follow_the_real_rate_between_frame_timestamps() -> None:
    # Real H10 frames at "50 Hz": 36 samples every ~707 ms, i.e. ~50.9 Hz.
    stamps = SampleTimestamps()
    stamps.sample_times_ns(frame_at(H10_TS), nominal_rate_hz=50)
    second = H10_TS + 707_100_000
    times = stamps.sample_times_ns(frame_at(second), nominal_rate_hz=50)
    interval = 707_100_000 / 36
    assert times[-1] == second
    assert times[0] == H10_TS + round(interval)
    np.testing.assert_allclose(np.diff(times), interval, atol=1)


def test_a_lost_frame_does_not_smear_samples_over_the_gap() -> None:
    stamps = SampleTimestamps()
    stamps.sample_times_ns(frame_at(H10_TS), nominal_rate_hz=50)
    after_gap = H10_TS + 2 * 720_000_000  # one frame of 36 samples at 50 Hz went missing
    times = stamps.sample_times_ns(frame_at(after_gap), nominal_rate_hz=50)
    np.testing.assert_array_equal(np.diff(times), 20_000_000)
    assert times[-1] == after_gap


def test_timestamp_state_is_per_measurement_and_frame_type_and_resets() -> None:
    stamps = SampleTimestamps()
    stamps.sample_times_ns(frame_at(H10_TS), nominal_rate_hz=50)
    other_type = PmdDataFrame("acc", H10_TS + 700_000_000, 2, np.zeros((36, 3)))
    nominal = stamps.sample_times_ns(other_type, nominal_rate_hz=50)
    assert np.diff(nominal).tolist() == [20_000_000] * 35
    stamps.reset()
    again = stamps.sample_times_ns(frame_at(H10_TS + 707_000_000), nominal_rate_hz=50)
    assert again[0] == H10_TS + 707_000_000 - 35 * 20_000_000


def ppi_frame(timestamp_ns: int, content: bytes = SDK_PPI_CONTENT) -> PmdDataFrame:
    return decode_frame(struct.pack("<BQB", 0x03, timestamp_ns, 0x00) + content)


@pytest.mark.parametrize(
    ("timestamp_ns", "content", "offsets_ns"),
    [
        # The SDK's PPI vector (pp 32896 ms, then 1 ms); the SDK fork's golden vector
        # ppi-raw-type0-two-samples stamps it 1999999000000, 2000000000000.
        (2_000_000_000_000, SDK_PPI_CONTENT, [-1_000_000, 0]),
        # pp 1000, 2000, 1200 ms: each beat comes pp(next beat) before the next one.
        (
            H10_TS,
            bytes.fromhex("3c e803 0500 06  3c d007 0500 06  3c b004 0500 06"),
            [-3_200_000_000, -1_200_000_000, 0],
        ),
    ],
)
def test_ppi_times_count_back_from_the_frame_timestamp_by_pp(
    timestamp_ns: int, content: bytes, offsets_ns: list[int]
) -> None:
    times = ppi_sample_times_ns(ppi_frame(timestamp_ns, content))
    assert times is not None
    assert (times - timestamp_ns).tolist() == offsets_ns


def test_ppi_frame_without_a_timestamp_has_no_sample_times() -> None:
    assert ppi_sample_times_ns(ppi_frame(0)) is None


def test_ppi_times_need_a_ppi_frame() -> None:
    with pytest.raises(ValueError, match="acc frame"):
        ppi_sample_times_ns(frame_at(H10_TS))


@pytest.mark.parametrize(
    ("timestamp_ns", "was_set"),
    [
        (H10_TS, False),  # real captured H10 frames, 35 s after power-up
        (H10_UNSET_CLOCK_NS, False),
        (H10_UNSET_CLOCK_NS + UNSET_CLOCK_WINDOW_NS - 1, False),
        (H10_UNSET_CLOCK_NS + UNSET_CLOCK_WINDOW_NS, True),
        (0, False),  # no time at all (PPI)
        (536_580_000_000_000_000, False),  # Verity Sense / OH1 default, 2017-01-01T10:00:00Z
        (694_512_749_912_654_440, True),  # TimeSystemExplained.md: after setLocalTime, 2022
    ],
)
def test_clock_was_set(timestamp_ns: int, was_set: bool) -> None:
    assert clock_was_set(timestamp_ns) is was_set


def test_a_frame_stamped_early_never_goes_back_before_the_previous_one() -> None:
    stamps = SampleTimestamps()
    first = PmdDataFrame("acc", 10_000_000_000, 1, np.zeros((36, 3)))
    first_times = stamps.sample_times_ns(first, nominal_rate_hz=50)
    # Only 200 ms later instead of 720 ms: bunched, but after the previous frame, in order.
    early = PmdDataFrame("acc", 10_200_000_000, 1, np.zeros((36, 3)))
    times = stamps.sample_times_ns(early, nominal_rate_hz=50)
    assert times[0] > first_times[-1]
    assert np.all(np.diff(times) > 0)
    assert times[-1] == 10_200_000_000
