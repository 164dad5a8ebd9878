"""PMD data frames: Polar's SDK test vectors, encoder round trips and malformed input.

Vectors are the byte arrays of polar-ble-sdk's Android unit tests (``AccDataTest``,
``EcgDataTest``, ``PpgDataTest``, ``PpiDataTest``, ``GyrDataTest``, ``MagDataTest``); where
a test's comment disagrees with its bytes, the bytes and the assertions win.
"""

from __future__ import annotations

import contextlib
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from drivers import MalformedPayload
from drivers.polar_pmd import MEASUREMENT_TYPES, RECORD_DTYPES, PmdDataFrame, decode_frame

H10_TS = 599_616_035_000_000_000  # 35 s after the H10's unset-clock default
SDK_TS = 2_000_000_000  # the timestamp of most SDK vectors, 00 94 35 77 00 00 00 00

# AccDataTest "process acc compressed data type 0": 10-bit deltas, 1 + 56 samples.
SDK_ACC_COMPRESSED_TYPE_0 = bytes.fromhex(
    "7107f06a9e8d0a38be5cbeba2f96b3ee4be5adfb42b9ebbe4cfeba2f92bfee4be4b1fb12b9ecbd3c3ebb2f8fd3de4be3"
    "b5f7d2b8edbd307e7b2f8be3ce8be2baf7a2b8eebc20be7b2f88f3cecbe1bdef52f8efbc18fe3b2f8403bfcbe0c2ef32"
    "b8f0bb044ebc2e8113af0be0c6eff2f7f1b9fc7dbc2e7d279f4bdfcaebc2f7f2b8eccd7c2e7b378f4bdecee392f7f3b8"
    "e00dfd2d774b7fcbddd2df6237f5b7d44dbd2d745b6fcbdcd7d73237f6b5c88d7d2d716b4f4bdcdcd3f236f7b4bcddfd"
    "2c6f7b3f4bdbe0cfd236f8b2b02dbe2c6c8f1fcbdae3c7a276f9"
)
# PpgDataTest "test compressed PPG frame type 0": 24-bit references, 10-bit deltas, 1 + 41 samples.
SDK_PPG_COMPRESSED_TYPE_0 = bytes.fromhex(
    "2c2d00c27700d3d2ff3d88ff0a29b2f0ee3411b2ecee7411b1e8feb411b1e8feb411b1e0fe3412b0dc0e7512b0d80eb5"
    "12afd41ef512afd01e3513aecc2e7513aec82eb513adc43ef513adbc3e7514adbc3e7514acb84eb514acb44ef514abb0"
    "5e3515aaac6e7515aaa86eb515aaa46ef515a9a07e3516a99c7e7516a8988eb516a7949ef516a7909e3517a78c9e7517"
    "a688aeb517a588beb517a580be3518a47cce7518a478ceb518a378deb518a270ee3519a26cee7519a26cee7519a168fe"
    "b519a0600e361a9f601e361a9f5c1e761a9f581eb61a9d543ef61a"
)
# AccDataTest "process acc compressed data type 1". Its comment says reference x = -22 and
# "10 samples"; the bytes (F1 FF = -15, count 01) and its assertions say -15 and 1.
SDK_ACC_COMPRESSED_TYPE_1 = bytes.fromhex("f1ff 1400 f003  06 01  7b0f08")
# GyrDataTest "process gyro compressed data type 1": float32 references 1.0, 10.0, 20.0,
# then 28-bit deltas of their bit patterns.
SDK_GYRO_COMPRESSED_TYPE_1 = bytes.fromhex("0000803f 00002041 0000a041  1c 01  0000a001000008cdccec0d")
# MagDataTest "process magnetometer compressed data type 1": x, y, z in mG and a status.
SDK_MAG_COMPRESSED_TYPE_1 = bytes.fromhex("37ff 51fd 6cf6 0000  03 01  f802")


def pmd(measurement: str, frame_byte: int, content: bytes, timestamp_ns: int = SDK_TS) -> bytes:
    return struct.pack("<BQB", MEASUREMENT_TYPES[measurement], timestamp_ns, frame_byte) + content


def test_h10_acc_sample_in_mg() -> None:
    # wearable-protocols.md §5: the old spec annotates `45 FF` as -184 mG; it is -187.
    frame = decode_frame(pmd("acc", 0x01, bytes.fromhex("45ff e803 0100"), H10_TS))
    assert (frame.measurement, frame.frame_type, frame.compressed, frame.timestamp_ns) == ("acc", 1, False, H10_TS)
    assert frame.samples.tolist() == [[-187, 1000, 1]]


def test_sdk_acc_raw_type_1() -> None:
    # AccDataTest "process acc raw data type 1", its first two samples.
    frame = decode_frame(pmd("acc", 0x01, bytes.fromhex("f7ff ffff e703  f8ff feff e503")))
    assert frame.samples.tolist() == [[-9, -1, 999], [-8, -2, 997]]


def test_acc_frame_types_0_and_2_widths() -> None:
    assert decode_frame(pmd("acc", 0x00, bytes([0xFF, 0x7F, 0x80]))).samples.tolist() == [[-1, 127, -128]]
    int24 = bytes.fromhex("0280ff ffff7f 000080")
    assert decode_frame(pmd("acc", 0x02, int24)).samples.tolist() == [[-32766, 0x7FFFFF, -0x800000]]


def test_sdk_acc_compressed_type_0_is_in_g_times_factor() -> None:
    factor = 2.44e-4  # the Verity's ACC factor; mG = raw × factor × 1000
    frame = decode_frame(pmd("acc", 0x80, SDK_ACC_COMPRESSED_TYPE_0), factor=factor)
    assert (frame.frame_type, frame.compressed, frame.samples.shape) == (0, True, (57, 3))
    raw = [[1905, 27376, -29282], [1905 + 190, 27376 - 105, -29282 - 85]]
    # The SDK truncates the products to Int; Dosis keeps the fraction.
    assert frame.samples[:2] == pytest.approx(np.array(raw) * factor * 1000, rel=1e-12)
    assert np.abs(frame.samples).max() <= 8 * 1000  # the test's ±8 G range check


def test_sdk_acc_compressed_type_1_six_bit_deltas() -> None:
    frame = decode_frame(pmd("acc", 0x81, SDK_ACC_COMPRESSED_TYPE_1, timestamp_ns=0x65))
    # bleakheart 0.2.0 reads the bits MSB-first and gets [15, 4, 1004] for the second sample.
    assert frame.samples.tolist() == [[-15, 20, 1008], [-20, 17, 1008]]


def test_ecg_type_0_in_microvolts_and_factor_applied() -> None:
    # EcgDataTest "process raw ecg data type 0"; its comment says `02 08 FF`, the bytes are `02 80 FF`.
    assert decode_frame(pmd("ecg", 0x00, bytes.fromhex("0280ff028000"))).samples.tolist() == [[-32766], [32770]]
    assert decode_frame(pmd("ecg", 0x00, bytes.fromhex("0280ff640000")), factor=0.5).samples.tolist() == [
        [-16383.0],
        [50.0],
    ]


@pytest.mark.parametrize(
    ("frame_byte", "content", "expected"),
    [
        # EcgDataTest "process raw ecg data type 1" (its comment swaps the bytes of the values).
        (
            0x01,
            "0280ff 800200",
            {
                "microvolts": [2, 640],
                "over_sampling": [True, False],
                "skin_contact": [3, 0],
                "contact_impedance": [3, 0],
            },
        ),
        # "process raw ecg data type 2"
        (0x02, "8080fc ffff03", {"microvolts": [32896, 262143], "ecg_tag": [7, 0], "pace_tag": [7, 0]}),
        # "process raw ecg data type 3"
        (
            0x03,
            "001203 111004 00  0280f0 111004 ff",
            {"data0": [201216, -1015806], "data1": [266257, 266257], "status": [0, 255]},
        ),
    ],
)
def test_sdk_ecg_record_types(frame_byte: int, content: str, expected: dict[str, list[Any]]) -> None:
    samples = decode_frame(pmd("ecg", frame_byte, bytes.fromhex(content))).samples
    assert samples.dtype == RECORD_DTYPES["ecg", frame_byte]
    assert {name: samples[name].tolist() for name in expected} == expected


def test_sdk_ppg_raw_type_0() -> None:
    # PpgDataTest "test raw PPG frame type 0": ppg0, ppg1, ppg2, ambient as int24.
    content = bytes.fromhex("010203 040506 ffff7f 000000  ffffff 0fefef 000080 0fefef")
    assert decode_frame(pmd("ppg", 0x00, content)).samples.tolist() == [
        [197121, 394500, 8388607, 0],
        [-1, -1052913, -8388608, -1052913],
    ]


@pytest.mark.parametrize("resolution", [None, 22, 24])
def test_sdk_ppg_compressed_type_0_ten_bit_deltas(resolution: int | None) -> None:
    # The SDK reads 24-bit references, the Verity documents 22 bits: the same here.
    frame = decode_frame(pmd("ppg", 0x80, SDK_PPG_COMPRESSED_TYPE_0), resolution=resolution)
    assert frame.samples.shape == (42, 4)
    # bleakheart 0.2.0 reads the bits MSB-first and gets [11255, 30416, -11680, -30642].
    assert frame.samples[:2].tolist() == [[11564, 30658, -11565, -30659], [11742, 30590, -11743, -30591]]


def test_sdk_ppi_records() -> None:
    # PpiDataTest "process ppi raw data type 0"; its frame timestamp is 0 (no time).
    frame = decode_frame(pmd("ppi", 0x00, bytes.fromhex("80 8080 8080 ff  00 0100 0100 00"), timestamp_ns=0))
    assert frame.samples.dtype == RECORD_DTYPES["ppi", 0]
    assert frame.samples.tolist() == [(128, 32896, 32896, True, True, True), (0, 1, 1, False, False, False)]
    assert frame.samples.dtype.names == (
        "hr",
        "pp_ms",
        "pp_error_ms",
        "blocker",
        "skin_contact",
        "skin_contact_supported",
    )


def test_sdk_gyro_compressed_type_0_three_bit_deltas() -> None:
    # GyrDataTest "process gyro compressed data type 0", timestamp 2**63 - 1.
    frame = decode_frame(pmd("gyro", 0x80, bytes.fromhex("eaff 0800 0d00  03 01  df00"), timestamp_ns=2**63 - 1))
    assert frame.timestamp_ns == 2**63 - 1
    assert frame.samples.tolist() == [[-22, 8, 13], [-23, 11, 16]]


@pytest.mark.parametrize("factor", [1.0, 0.5])
def test_sdk_gyro_compressed_type_1_float_bit_patterns(factor: float) -> None:
    # GyrDataTest "process gyro compressed data type 1" (and "... with factor").
    frame = decode_frame(pmd("gyro", 0x81, SDK_GYRO_COMPRESSED_TYPE_1), factor=factor)
    expected = np.array([[1.0, 10.0, 20.0], [10.0, 20.0, np.float32(1.1)]]) * factor
    np.testing.assert_array_equal(frame.samples, expected)


def test_sdk_mag_compressed_type_0_six_bit_deltas() -> None:
    # MagDataTest "process magnetometer compressed data type 0"
    frame = decode_frame(pmd("mag", 0x80, bytes.fromhex("e2e6 fa15 490a  06 01  7f20fc")))
    assert frame.samples.tolist() == [[-6430, 5626, 2633], [-6431, 5627, 2635]]


@pytest.mark.parametrize("factor", [1.0, 1.1])
def test_sdk_mag_compressed_type_1_gauss_and_calibration_status(factor: float) -> None:
    # MagDataTest "process magnetometer compressed data type 1" (and "... with factor"):
    # x, y, z in mG × factor / 1000; the status (0 unknown, 1 poor) is not scaled.
    samples = decode_frame(pmd("mag", 0x81, SDK_MAG_COMPRESSED_TYPE_1), factor=factor).samples
    assert samples[:, :3] == pytest.approx(np.array([[-201, -687, -2452], [-201, -688, -2449]]) * factor / 1000)
    assert samples[:, 3].tolist() == [0, 1]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x02\x00", "header alone"),
        (pmd("acc", 0x01, b""), "not a positive multiple"),
        (pmd("acc", 0x01, bytes(7)), "not a positive multiple"),
        (pmd("ppi", 0x00, bytes(7)), "not a positive multiple of 6"),
        (struct.pack("<BQB", 0x0F, 0, 0) + bytes(6), "unknown PMD measurement"),
        (pmd("acc", 0x83, bytes(12)), "compressed type 3"),
        (pmd("acc", 0x05, bytes(6)), "uncompressed type 5"),
        (pmd("ppg", 0x87, bytes(60)), "compressed type 7"),  # 17-channel PPG of other devices
        (pmd("acc", 0x81, bytes(5)), "reference sample alone"),
        (pmd("acc", 0x81, bytes(6) + b"\x06\x02\x7b"), "needs 4 more bytes"),
    ],
)
def test_malformed_frames(payload: bytes, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        decode_frame(payload)


def test_channel_count_mismatch_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="3 channels"):
        decode_frame(pmd("acc", 0x01, bytes(6)), channels=4)
    assert decode_frame(pmd("ppg", 0x80, SDK_PPG_COMPRESSED_TYPE_0), channels=4).samples.shape[1] == 4


def test_a_resolution_outside_1_to_32_bits_is_malformed_for_delta_frames_only() -> None:
    with pytest.raises(MalformedPayload, match="resolution of 40 bits"):
        decode_frame(pmd("acc", 0x81, SDK_ACC_COMPRESSED_TYPE_1), resolution=40)
    assert decode_frame(pmd("acc", 0x01, bytes(6)), resolution=40).samples.shape == (1, 3)


def bounded_ints(bits: int) -> st.SearchStrategy[int]:
    return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def int_samples(channels: int, bits: int, first_bits: int | None = None) -> st.SearchStrategy[np.ndarray]:
    """(n, channels) int64 samples of ``bits`` signed bits, the first row of ``first_bits``."""
    rows = hnp.arrays(np.int64, st.tuples(st.integers(1, 300), st.just(channels)), elements=bounded_ints(bits))
    first = st.lists(bounded_ints(first_bits or bits), min_size=channels, max_size=channels)
    return st.tuples(rows, first).map(lambda pair: np.vstack([pair[1], pair[0][1:]]))


def records(key: tuple[str, int]) -> st.SearchStrategy[np.ndarray]:
    dtype = RECORD_DTYPES[key]
    fields: dict[str, st.SearchStrategy[Any]] = {
        "hr": st.integers(0, 255),
        "pp_ms": st.integers(0, 0xFFFF),
        "pp_error_ms": st.integers(0, 0xFFFF),
        "microvolts": st.integers(0, (1 << 14) - 1 if key == ("ecg", 1) else (1 << 18) - 1),
        "skin_contact": st.booleans() if key == ("ppi", 0) else st.integers(0, 3),
        "contact_impedance": st.integers(0, 3),
        "ecg_tag": st.integers(0, 7),
        "pace_tag": st.integers(0, 7),
        "data0": bounded_ints(24),
        "data1": bounded_ints(24),
        "status": st.integers(0, 255),
    }
    row = st.tuples(*(fields.get(name, st.booleans()) for name in dtype.names or ()))
    return st.lists(row, min_size=1, max_size=40).map(lambda rows: np.array(rows, dtype=dtype))


# (measurement, frame-type byte) -> samples exactly as the decoder returns them.
FRAMES: dict[tuple[str, int], st.SearchStrategy[np.ndarray]] = {
    ("acc", 0x00): int_samples(3, 8),
    ("acc", 0x01): int_samples(3, 16),
    ("acc", 0x02): int_samples(3, 24),
    ("ecg", 0x00): int_samples(1, 24),
    ("ppg", 0x00): int_samples(4, 24),
    ("acc", 0x80): int_samples(3, 32, first_bits=16).map(lambda raw: raw * 1000.0),
    ("acc", 0x81): int_samples(3, 32, first_bits=16),
    ("ppg", 0x80): int_samples(4, 32, first_bits=22),
    ("gyro", 0x80): int_samples(3, 32, first_bits=16),
    ("mag", 0x80): int_samples(3, 32, first_bits=16),
    ("mag", 0x81): int_samples(4, 32, first_bits=16).map(lambda raw: raw * np.array([0.001, 0.001, 0.001, 1.0])),
    ("gyro", 0x81): hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 300), st.just(3)),
        elements=st.floats(width=32, allow_nan=False, allow_infinity=False),
    ),
    **{key: records(key) for key in RECORD_DTYPES},
}


@given(
    st.sampled_from(sorted(FRAMES)).flatmap(lambda key: st.tuples(st.just(key), FRAMES[key])),
    st.integers(0, 2**64 - 1),
)
def test_encoder_round_trips_every_frame_type(frame: tuple[tuple[str, int], np.ndarray], timestamp_ns: int) -> None:
    (measurement, frame_byte), samples = frame
    encoded = bytes(PmdDataFrame(measurement, timestamp_ns, frame_byte & 0x7F, samples, frame_byte >= 0x80))
    decoded = decode_frame(encoded)
    assert (decoded.measurement, decoded.timestamp_ns) == (measurement, timestamp_ns)
    assert (decoded.frame_type, decoded.compressed) == (frame_byte & 0x7F, frame_byte >= 0x80)
    np.testing.assert_array_equal(decoded.samples, samples)
    assert decoded.samples.dtype == (samples.dtype if samples.dtype.names else np.float64)


SDK_PAYLOADS = [
    pmd("acc", 0x80, SDK_ACC_COMPRESSED_TYPE_0),
    pmd("acc", 0x81, SDK_ACC_COMPRESSED_TYPE_1),
    pmd("ppg", 0x80, SDK_PPG_COMPRESSED_TYPE_0),
    pmd("gyro", 0x81, SDK_GYRO_COMPRESSED_TYPE_1),
    pmd("mag", 0x81, SDK_MAG_COMPRESSED_TYPE_1),
    pmd("ecg", 0x00, bytes.fromhex("0280ff028000")),
    pmd("ppg", 0x00, bytes.fromhex("010203 040506 ffff7f 000000")),
    pmd("acc", 0x01, bytes.fromhex("f7ff ffff e703  f8ff feff e503")),
]


@given(st.sampled_from(SDK_PAYLOADS), st.floats(1e-4, 10.0))
def test_decoded_frames_re_encode_with_their_factor(payload: bytes, factor: float) -> None:
    frame = decode_frame(payload, factor=factor)
    again = decode_frame(bytes(frame), factor=factor)
    assert frame.factor == factor
    np.testing.assert_array_equal(again.samples, frame.samples)


def test_compressed_encoding_uses_the_smallest_widths() -> None:
    # The SDK's ACC frame uses 10-bit deltas throughout; re-encoding finds 9 bits enough.
    encoded = bytes(decode_frame(pmd("acc", 0x80, SDK_ACC_COMPRESSED_TYPE_0)))
    assert encoded[10 + 6 : 10 + 8] == bytes([9, 56])
    assert len(encoded) < len(pmd("acc", 0x80, SDK_ACC_COMPRESSED_TYPE_0))


SUPPORTED_HEADERS = [*sorted(FRAMES), ("acc", 0x83), ("ppg", 0x87), ("ppi", 0x80)]


@given(st.sampled_from(SUPPORTED_HEADERS), st.binary(max_size=300), st.sampled_from([None, 1, 8, 16, 22, 24, 32]))
def test_random_content_raises_only_malformed_payload(
    header: tuple[str, int], content: bytes, resolution: int | None
) -> None:
    try:
        frame = decode_frame(pmd(*header, content), resolution=resolution)
    except MalformedPayload:
        return
    assert len(frame.samples) >= 1


@given(st.binary(max_size=64))
def test_random_payloads_raise_only_malformed_payload(payload: bytes) -> None:
    try:
        frame = decode_frame(payload)
    except MalformedPayload:
        return
    assert len(frame.samples) >= 1


@given(st.sampled_from(SDK_PAYLOADS), st.data())
def test_mutated_sdk_frames_raise_only_malformed_payload(payload: bytes, data: st.DataObject) -> None:
    mutated = bytearray(payload)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(mutated)))
        kind = data.draw(st.sampled_from(["flip", "truncate", "append", "insert"]))
        if kind == "flip" and position < len(mutated):
            mutated[position] ^= data.draw(st.integers(1, 255))
        elif kind == "truncate":
            del mutated[position:]
        elif kind == "append":
            mutated += data.draw(st.binary(min_size=1, max_size=20))
        else:
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=4))
    with contextlib.suppress(MalformedPayload):
        decode_frame(bytes(mutated), resolution=data.draw(st.sampled_from([None, 16, 32])))


PPI_FIELDS = RECORD_DTYPES["ppi", 0].names or ()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (PmdDataFrame("acc", 0, 1, np.array([[40000.0, 0, 0]])), "16-bit range"),
        (PmdDataFrame("acc", 0, 1, np.zeros((2, 2))), "shape"),
        (PmdDataFrame("acc", 0, 1, np.zeros((0, 3))), "shape"),
        (PmdDataFrame("acc", 0, 1, np.array([[np.nan, 0, 0]])), "finite"),
        (PmdDataFrame("acc", 0, 1, np.zeros((1, 3)), factor=0.0), "factor non-zero"),
        (PmdDataFrame("acc", -1, 1, np.zeros((1, 3))), "64-bit"),
        (PmdDataFrame("acc", 2**64, 1, np.zeros((1, 3))), "64-bit"),
        (PmdDataFrame("ppi", 0, 0, np.zeros((1, 3)), compressed=True), "cannot encode ppi frame type 0x80"),
        (PmdDataFrame("skin_temp", 0, 0, np.zeros((1, 1))), "cannot encode"),
        (PmdDataFrame("acc", 0, 1, np.array([[1e300, 0, 0]])), "range"),
        (PmdDataFrame("acc", 0, 1, np.array([[40000.0, 0, 0]]), compressed=True), "16-bit range"),
        (PmdDataFrame("acc", 0, 1, np.array([[0, 0, 0], [2.0**31, 0, 0]]), compressed=True), "int32"),
        (PmdDataFrame("ppg", 0, 0, np.array([[1 << 21, 0, 0, 0]]), compressed=True), "22-bit range"),
        (PmdDataFrame("gyro", 0, 1, np.array([[1e39, 0, 0]]), compressed=True), "float32"),
        (PmdDataFrame("ppi", 0, 0, np.zeros((1, 6))), "record array"),
        (PmdDataFrame("ppi", 0, 0, np.zeros(1, dtype=[("hr", "u1")])), "lack the fields"),
        (
            PmdDataFrame("ppi", 0, 0, np.array([(0, 70000, 0, 0, 0, 0)], dtype=[(n, "i4") for n in "abcdef"])),
            "lack the fields",
        ),
        (
            PmdDataFrame("ppi", 0, 0, np.array([(60, 70000, 0, 0, 0, 0)], dtype=[(n, "i4") for n in PPI_FIELDS])),
            "pp_ms outside 0..65535",
        ),
    ],
)
def test_encoder_range_checks(frame: PmdDataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bytes(frame)
