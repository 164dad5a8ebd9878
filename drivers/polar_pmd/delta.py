"""Delta-compressed PMD frame content (frame-type bit 7 set): decode and encode.

Layout (polar-ble-sdk ``BlePMDClient.parseDeltaFramesAll``/``parseDeltaFrame``;
online_measurement.pdf §4.3)::

    reference sample   channels × ceil(resolution / 8) bytes, little-endian, sign-extended
                       from bit resolution − 1
    blocks, repeated   [bit width u8][sample count u8][ceil(width × count × channels / 8) bytes]

A block holds ``count × channels`` deltas of ``width`` bits in two's complement, packed
least-significant bit first (bit 0 of byte 0 first; each value from its low bit to its
high bit) and interleaved by channel. Each delta is added to the previous sample; the
bits left over in a block's last byte are padding.

The SDK sums in 32-bit ``Int``, so samples wrap modulo 2**32. That wrap is part of the
format: the SDK's 32-bit test vectors rely on it, float channels (GYRO type 1) are
delta-coded on their IEEE-754 bit patterns, and it lets a 32-bit delta carry any step
between two int32 samples. Hence bit widths are 1..32 and samples are int32.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from drivers.errors import MalformedPayload

MAX_BIT_WIDTH = 32
MAX_BLOCK_SAMPLES = 255
"""The sample count is one byte, so the encoder starts a new block every 255 samples."""

_POWERS_OF_TWO = np.int64(1) << np.arange(MAX_BIT_WIDTH, dtype=np.int64)


def reference_size(channels: int, resolution: int) -> int:
    """Bytes of the reference sample that starts delta-coded content."""
    return channels * -(-resolution // 8)


def decode_delta(content: bytes, *, channels: int, resolution: int) -> npt.NDArray[np.int32]:
    """The samples of delta-coded content, shape (n, channels); raises :class:`MalformedPayload`."""
    if not 1 <= resolution <= MAX_BIT_WIDTH:
        raise MalformedPayload(f"delta-coded resolution of {resolution} bits; 1..{MAX_BIT_WIDTH} expected")
    size = len(content)
    offset = reference_size(channels, resolution)
    if size < offset:
        raise MalformedPayload(f"delta-coded content of {size} bytes; its reference sample alone is {offset}")
    octets = np.frombuffer(content, dtype=np.uint8)
    reference = octets[:offset].reshape(channels, -1).astype(np.int64) @ _POWERS_OF_TWO[: offset // channels * 8 : 8]
    parts = [sign_extend(reference, resolution).reshape(1, channels)]
    while offset < size:
        if offset + 2 > size:
            raise MalformedPayload("delta block header cut short")
        bit_width, count = content[offset], content[offset + 1]
        if not 1 <= bit_width <= MAX_BIT_WIDTH:
            raise MalformedPayload(f"delta block of {bit_width}-bit values; 1..{MAX_BIT_WIDTH} expected")
        n_bits = bit_width * count * channels
        end = offset + 2 + -(-n_bits // 8)
        if end > size:
            raise MalformedPayload(f"delta block of {count} samples needs {end - size} more bytes")
        bits = np.unpackbits(octets[offset + 2 : end], bitorder="little")[:n_bits].reshape(-1, bit_width)
        parts.append(sign_extend(bits.astype(np.int64) @ _POWERS_OF_TWO[:bit_width], bit_width).reshape(-1, channels))
        offset = end
    # int64 sums cannot overflow here; casting them to int32 wraps like the SDK's Int.
    return np.cumsum(np.concatenate(parts), axis=0).astype(np.int32)


def encode_delta(samples: npt.NDArray[np.integer], *, resolution: int) -> bytes:
    """Delta-coded content for ``samples`` (n ≥ 1, channels), the smallest bit width per block.

    The first sample must fit ``resolution`` signed bits and every sample int32; raises
    ValueError otherwise.
    """
    if not 1 <= resolution <= MAX_BIT_WIDTH:
        raise ValueError(f"resolution of {resolution} bits is outside 1..{MAX_BIT_WIDTH}")
    values = np.asarray(samples, dtype=np.int64)
    if values.ndim != 2 or not values.size:
        raise ValueError(f"samples must have shape (n >= 1, channels >= 1), not {values.shape}")
    if values.min() < -(1 << 31) or values.max() >= 1 << 31:
        raise ValueError("samples outside the int32 range of delta-coded content")
    reference, limit = values[0], 1 << (resolution - 1)
    if reference.min() < -limit or reference.max() >= limit:
        raise ValueError(f"first sample {reference.tolist()} outside the {resolution}-bit range")
    width_bytes = reference_size(1, resolution)
    parts = [reference.astype("<i8").view(np.uint8).reshape(-1, 8)[:, :width_bytes].tobytes()]
    # Wrapping each step to int32 is what lets 32 bits carry it (see the module docstring).
    deltas = np.diff(values, axis=0).astype(np.int32).astype(np.int64)
    for start in range(0, len(deltas), MAX_BLOCK_SAMPLES):
        block = deltas[start : start + MAX_BLOCK_SAMPLES]
        # Two's complement needs one bit more than the magnitude of v >= 0 or of ~v = -v - 1.
        bit_width = int(np.maximum(block, ~block).max()).bit_length() + 1
        unsigned = block.reshape(-1, 1) & ((1 << bit_width) - 1)
        bits = (unsigned >> np.arange(bit_width)) & 1
        parts += [bytes([bit_width, len(block)]), np.packbits(bits.astype(np.uint8), bitorder="little").tobytes()]
    return b"".join(parts)


def sign_extend(unsigned: npt.NDArray[np.int64], bits: int) -> npt.NDArray[np.int64]:
    """The two's-complement value of the low ``bits`` bits of each element; higher bits are ignored."""
    sign = 1 << (bits - 1)
    return ((unsigned & ((sign << 1) - 1)) ^ sign) - sign
