from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import MalformedPayload
from drivers.gatt import HeartRateMeasurement, parse_heart_rate, rr_ticks_to_ms


@pytest.mark.parametrize(
    ("hex_payload", "bpm", "rr_ticks", "contact", "energy"),
    [
        ("0055", 0x55, [], None, None),  # no RR
        ("04ff", 255, [], False, None),  # contact supported, not detected: HR still reported
        ("018080", 32896, [], None, None),  # 16-bit HR
        ("1100000000", 0, [0], None, None),  # RR = 0 is accepted (an artefact for analysis)
        ("110000ffff7f80", 0, [65535, 32895], None, None),  # Polar BleHrClientTest: two RRs
        ("1f0101320101000201ffff", 257, [1, 258, 65535], True, 306),  # Nordic: all fields
        ("16480c034d03", 72, [780, 845], True, None),  # typical H10: contact + RR
    ],
)
def test_parses_reference_vectors(
    hex_payload: str, bpm: int, rr_ticks: list[int], contact: bool | None, energy: int | None
) -> None:
    hr = parse_heart_rate(bytes.fromhex(hex_payload))
    assert hr.bpm == bpm
    assert hr.rr_ms == pytest.approx([t / 1024 * 1000 for t in rr_ticks], abs=0)
    assert hr.sensor_contact is contact
    assert hr.energy_kj == energy


def test_rr_is_unrounded_ms() -> None:
    # Polar rounds 65535 to 63999 ms; the project keeps raw / 1024 * 1000.
    assert parse_heart_rate(bytes.fromhex("1000ffff")).rr_ms == (63999.0234375,)
    ticks = range(0, 65536, 7)
    assert [rr_ticks_to_ms(t) for t in ticks] == [t / 1024 * 1000 for t in ticks]


@pytest.mark.parametrize(
    ("hex_payload", "message"),
    [
        ("", "at least 2"),
        ("10", "at least 2"),
        ("01 50", "uint16"),
        ("08 50 01", "energy"),
        ("17 01 01", "RR flagged"),  # RR flag but no RR bytes (Nordic rejects it too)
        ("10 50 00 04 01", "RR flagged"),  # odd trailing byte: Polar's loop would read past the end
        ("00 50 01", "trailing"),
    ],
)
def test_malformed_lengths_are_rejected(hex_payload: str, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        parse_heart_rate(bytes.fromhex(hex_payload))


@given(st.binary(max_size=40))
def test_random_payloads_raise_only_malformed_payload(payload: bytes) -> None:
    try:
        hr = parse_heart_rate(payload)
    except MalformedPayload:
        return
    assert bytes(hr) == payload or hr == parse_heart_rate(bytes(hr))


measurements = st.builds(
    HeartRateMeasurement,
    bpm=st.integers(0, 0xFFFF),
    rr_ms=st.lists(st.integers(0, 0xFFFF).map(rr_ticks_to_ms), max_size=9).map(tuple),
    sensor_contact=st.sampled_from([None, True, False]),
    energy_kj=st.none() | st.integers(0, 0xFFFF),
)


@given(measurements)
def test_encoder_and_parser_round_trip(measurement: HeartRateMeasurement) -> None:
    assert parse_heart_rate(bytes(measurement)) == measurement


@pytest.mark.parametrize(
    "kwargs", [{"bpm": -1}, {"bpm": 70000}, {"bpm": 60, "energy_kj": 65536}, {"bpm": 60, "rr_ms": (64001.0,)}]
)
def test_encoder_range_checks(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="outside"):
        bytes(HeartRateMeasurement(**kwargs))
