"""The delta codec of compressed PMD frames, against Polar's SDK vectors and a bit-string oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from drivers import MalformedPayload
from drivers.polar_pmd.delta import MAX_BLOCK_SAMPLES, decode_delta, encode_delta, reference_size

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1

# polar-ble-sdk BlePmdClientParsersTest.test_parseDeltaFrameAllSamples_multipleDeltas:
# 16-bit reference, then nine blocks of 3- and 4-bit deltas, 140 samples in all.
SDK_MULTIPLE_DELTAS = bytes.fromhex(
    "c9ff12001100030941fe2b0f9c0bbf15004f00041ef1ef00f0c123e4edf4d1f1f1f5ff22de3100f1fe21021f0e2b1f00"
    "e220000e02e11e20fff1f102c5d002e0e102030a312efbba902baa0e23409e030414e3eff30f021f01e00f049e13e2d0"
    "04e222e2c20e200f2002fe000f1c32ee030a890007087c00ce2fe83a9e03041e010011194f002f12fd13ff0e100000f1"
    "c012e4ef21000001f1ffff0210102b510b4e31fc2ebf3114ec0e2f52ef030a069e040e02a888eee0079a00040a1f211e"
    "4e2efec6c002ef030102ee11030af8130000f040bfa5e7007600"
)
# polar-ble-sdk BlePmdClientParsersTest.test_parseDeltaFrameAllSamples_withResolution32: 17
# samples of 32-bit deltas whose sums overflow a 32-bit int, as the SDK's Int arithmetic does.
SDK_RESOLUTION_32 = bytes.fromhex(
    "02000000193299e900dafeff2011173299e9e7a7651638db0646e7a7651638db064673413bb87a260401c90aff597707"
    "d13287bf019f213e0d91e50176ad213e0d91e50176ad920138cde50176ad920138cd00548487920138cd0054848778cb"
    "ee400054848778cbee40f1decc8b78cbee40f1decc8b173299e9f1decc8b173299e9e7a76516173299e9e7a7651638db"
    "0646e7a7651638db064673413bb87a260401c90aff597707d13287bf019f213e0d91e50176ad213e0d91e50176ad9201"
    "38cde50176ad920138cd00548487920138cd0054848778cbee40"
)


def wrap_int32(value: int) -> int:
    return (value - INT32_MIN) % (1 << 32) + INT32_MIN


def pack_block(deltas: list[list[int]], width: int) -> bytes:
    """The oracle: a delta block built bit by bit as a string, least significant bit first."""
    bits = "".join(format(d & ((1 << width) - 1), f"0{width}b")[::-1] for row in deltas for d in row)
    bits += "0" * (-len(bits) % 8)
    return bytes([width, len(deltas)]) + bytes(int(bits[i : i + 8][::-1], 2) for i in range(0, len(bits), 8))


def block_widths(content: bytes, channels: int, resolution: int) -> list[tuple[int, int]]:
    """(bit width, sample count) of each block of well-formed content."""
    offset, blocks = reference_size(channels, resolution), []
    while offset < len(content):
        width, count = content[offset], content[offset + 1]
        blocks.append((width, count))
        offset += 2 + -(-width * count * channels // 8)
    return blocks


def test_sdk_multiple_blocks_of_3_and_4_bit_deltas() -> None:
    samples = decode_delta(SDK_MULTIPLE_DELTAS, channels=3, resolution=16)
    assert samples.shape == (1 + 9 + 30 + 10 + 20 + 10 + 30 + 10 + 10 + 10, 3)
    assert samples[:2].tolist() == [[-55, 18, 17], [-54, 18, 18]]
    widths = [(3, 9), (4, 30), (3, 10), (4, 20), (3, 10), (4, 30), (3, 10), (4, 10), (3, 10)]
    assert block_widths(SDK_MULTIPLE_DELTAS, 3, 16) == widths


def test_sdk_32_bit_deltas_wrap_like_a_32_bit_int() -> None:
    samples = decode_delta(SDK_RESOLUTION_32, channels=3, resolution=32)
    assert samples.shape == (18, 3)
    reference = [0x00000002, 0xE9993219, 0xFFFEDA00]
    first_deltas = [0xE9993217, 0x1665A7E7, 0x4606DB38]
    assert samples[0].tolist() == [wrap_int32(v) for v in reference]
    assert samples[1].tolist() == [wrap_int32(r + d) for r, d in zip(reference, first_deltas, strict=True)]


@pytest.mark.parametrize(
    ("reference", "channels", "resolution", "expected"),
    [
        # BlePmdClientParsersTest "parse reference sample when resolution16 and type is unsigned int"
        ("ffff0000ff7f0080", 4, 16, [-1, 0, 32767, -32768]),
        # ... "when resolution32 and type is decimal IEEE 754": the bit patterns, as int32
        ("00000000ffffffff00000080", 3, 32, [0, -1, INT32_MIN]),
        # A 22-bit reference (Verity PPG) in 3 bytes: bit 21 is the sign.
        ("ffff1f000020d3d2ff", 3, 22, [0x1FFFFF, -(1 << 21), -11565]),
    ],
)
def test_reference_samples(reference: str, channels: int, resolution: int, expected: list[int]) -> None:
    assert decode_delta(bytes.fromhex(reference), channels=channels, resolution=resolution).tolist() == [expected]


blocks = st.integers(1, 32).flatmap(
    lambda width: st.tuples(
        st.just(width),
        st.integers(0, 12).flatmap(
            lambda count: st.lists(
                st.lists(st.integers(-(1 << (width - 1)), (1 << (width - 1)) - 1), min_size=4, max_size=4),
                min_size=count,
                max_size=count,
            )
        ),
    )
)


@given(st.integers(1, 4), st.integers(1, 32).flatmap(lambda r: st.tuples(st.just(r), st.data())), st.lists(blocks))
def test_decoder_matches_the_bit_string_oracle_for_any_width(
    channels: int, resolution_and_data: tuple[int, st.DataObject], block_list: list[tuple[int, list[list[int]]]]
) -> None:
    resolution, data = resolution_and_data
    limit = 1 << (resolution - 1)
    reference = data.draw(st.lists(st.integers(-limit, limit - 1), min_size=channels, max_size=channels))
    size = reference_size(1, resolution)
    content = b"".join((v & ((1 << 8 * size) - 1)).to_bytes(size, "little") for v in reference)
    expected, previous = [reference], reference
    for width, rows in block_list:
        deltas = [row[:channels] for row in rows]
        content += pack_block(deltas, width)
        for row in deltas:
            previous = [wrap_int32(p + d) for p, d in zip(previous, row, strict=True)]
            expected.append(previous)
    assert decode_delta(content, channels=channels, resolution=resolution).tolist() == expected


@given(st.integers(1, 32), st.integers(1, 4), st.data())
def test_encoder_picks_the_smallest_width_that_fits(width: int, channels: int, data: st.DataObject) -> None:
    low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
    deltas = data.draw(hnp.arrays(np.int64, (data.draw(st.integers(1, 40)), channels), elements=st.integers(low, high)))
    deltas[0, 0] = data.draw(st.sampled_from([low, high])) if width > 1 else low  # needs all `width` bits
    samples = np.vstack([np.zeros((1, channels), np.int64), np.cumsum(deltas, axis=0)]).astype(np.int32)
    content = encode_delta(samples, resolution=32)
    assert block_widths(content, channels, 32) == [(width, len(deltas))]
    np.testing.assert_array_equal(decode_delta(content, channels=channels, resolution=32), samples)


@given(
    st.integers(1, 32).flatmap(
        lambda resolution: st.tuples(
            st.just(resolution),
            hnp.arrays(
                np.int32,
                st.tuples(st.integers(1, 600), st.integers(1, 4)),
                elements=st.integers(INT32_MIN, INT32_MAX),
            ),
        )
    )
)
def test_encoder_round_trips_any_int32_samples(resolution_and_samples: tuple[int, np.ndarray]) -> None:
    resolution, samples = resolution_and_samples
    limit = 1 << (resolution - 1)
    samples[0] = np.clip(samples[0], -limit, limit - 1)
    content = encode_delta(samples, resolution=resolution)
    np.testing.assert_array_equal(decode_delta(content, channels=samples.shape[1], resolution=resolution), samples)
    counts = [count for _, count in block_widths(content, samples.shape[1], resolution)]
    assert all(count <= MAX_BLOCK_SAMPLES for count in counts)
    assert sum(counts) == len(samples) - 1


def test_long_runs_are_split_into_blocks_of_255() -> None:
    samples = np.arange(600 * 3, dtype=np.int32).reshape(600, 3)
    assert block_widths(encode_delta(samples, resolution=16), 3, 16) == [(3, 255), (3, 255), (3, 89)]


@pytest.mark.parametrize(
    ("content", "resolution", "message"),
    [
        (b"", 16, "reference sample alone"),
        (bytes(5), 16, "reference sample alone"),
        (bytes(6) + b"\x03", 16, "header cut short"),
        (bytes(6) + b"\x00\x01", 16, "0-bit values"),
        (bytes(6) + b"\x21\x01" + bytes(13), 16, "33-bit values"),
        (bytes(6) + b"\x03\x02" + bytes(2), 16, "needs 1 more bytes"),
        (bytes(6), 0, "resolution of 0 bits"),
        (bytes(15), 33, "resolution of 33 bits"),
    ],
)
def test_malformed_content(content: bytes, resolution: int, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        decode_delta(content, channels=3, resolution=resolution)


@given(st.binary(max_size=80), st.integers(1, 4), st.integers(1, 32))
def test_random_content_raises_only_malformed_payload(content: bytes, channels: int, resolution: int) -> None:
    try:
        samples = decode_delta(content, channels=channels, resolution=resolution)
    except MalformedPayload:
        return
    assert samples.shape[1] == channels


@pytest.mark.parametrize(
    ("samples", "resolution", "message"),
    [
        (np.array([[1 << 15, 0, 0]]), 16, "16-bit range"),
        (np.array([[0, 0, 0], [1 << 31, 0, 0]]), 32, "int32"),
        (np.zeros((0, 3)), 16, "shape"),
        (np.zeros(3), 16, "shape"),
        (np.zeros((1, 3)), 33, "resolution"),
    ],
)
def test_encoder_range_checks(samples: np.ndarray, resolution: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_delta(samples, resolution=resolution)
