from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from drivers import MalformedPayload
from drivers.polar_pmd import PmdDataFrame, SampleTimestamps, decode_frame

H10_TS = 599_616_035_000_000_000  # 35 s after the H10's unset-clock default


def acc_payload(frame_type: int, content: bytes, timestamp_ns: int = H10_TS) -> bytes:
    return struct.pack("<BQB", 0x02, timestamp_ns, frame_type) + content


def test_h10_acc_sample_in_mg() -> None:
    # wearable-protocols.md §5: the old spec annotates `45 FF` as -184 mG; it is -187.
    frame = decode_frame(acc_payload(0x01, bytes.fromhex("45ff e803 0100".replace(" ", ""))))
    assert frame.measurement == "acc"
    assert frame.frame_type == 1
    assert not frame.compressed
    assert frame.timestamp_ns == H10_TS
    assert frame.samples.tolist() == [[-187, 1000, 1]]


def test_acc_frame_types_0_and_2_widths() -> None:
    assert decode_frame(acc_payload(0x00, bytes([0xFF, 0x7F, 0x80]))).samples.tolist() == [[-1, 127, -128]]
    int24 = bytes.fromhex("0280ffffff7f000080")
    assert decode_frame(acc_payload(0x02, int24)).samples.tolist() == [[-32766, 0x7FFFFF, -0x800000]]


def test_ecg_frame_in_microvolts_and_factor_applied() -> None:
    payload = struct.pack("<BQB", 0x00, H10_TS, 0x00) + bytes.fromhex("0280ff640000")
    frame = decode_frame(payload, factor=0.5)
    assert frame.measurement == "ecg"
    assert frame.samples.tolist() == [[-16383.0], [50.0]]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x02\x00", "header alone"),
        (acc_payload(0x01, b""), "not a positive multiple"),
        (acc_payload(0x01, bytes(7)), "not a positive multiple"),
        (struct.pack("<BQB", 0x0F, 0, 0) + bytes(6), "unknown PMD measurement"),
        (acc_payload(0x81, bytes(12)), "compressed"),
        (acc_payload(0x05, bytes(6)), "uncompressed type 5"),
    ],
)
def test_malformed_frames(payload: bytes, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        decode_frame(payload)


def test_channel_count_mismatch_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="3 channels"):
        decode_frame(acc_payload(0x01, bytes(6)), channels=4)


@given(st.binary(max_size=64))
def test_random_payloads_raise_only_malformed_payload(payload: bytes) -> None:
    try:
        frame = decode_frame(payload)
    except MalformedPayload:
        return
    assert frame.samples.shape[1] in (1, 3)


@given(
    st.sampled_from([(0, 8), (1, 16), (2, 24)]).flatmap(
        lambda spec: st.tuples(
            st.just(spec[0]),
            hnp.arrays(
                np.int64,
                st.tuples(st.integers(1, 40), st.just(3)),
                elements=st.integers(-(1 << (spec[1] - 1)), (1 << (spec[1] - 1)) - 1),
            ),
        )
    ),
    st.integers(0, 2**64 - 1),
)
def test_acc_encoder_round_trips(frame: tuple[int, np.ndarray], timestamp_ns: int) -> None:
    frame_type, samples = frame
    encoded = bytes(PmdDataFrame("acc", timestamp_ns, frame_type, samples.astype(float)))
    decoded = decode_frame(encoded)
    assert decoded.timestamp_ns == timestamp_ns
    assert decoded.frame_type == frame_type
    np.testing.assert_array_equal(decoded.samples, samples)


def test_encoder_rejects_out_of_range_samples() -> None:
    with pytest.raises(ValueError, match="16-bit range"):
        bytes(PmdDataFrame("acc", 0, 1, np.array([[40000.0, 0, 0]])))


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
