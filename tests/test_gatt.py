from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import MalformedPayload
from drivers.gatt import (
    BODY_SENSOR_LOCATIONS,
    RSC_MEASUREMENT_UUID,
    RUNNING_SPEED_CADENCE_SERVICE_UUID,
    HeartRateMeasurement,
    RscMeasurement,
    encode_body_sensor_location,
    parse_body_sensor_location,
    parse_heart_rate,
    parse_running_speed_cadence,
    rr_ticks_to_ms,
)


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


@pytest.mark.parametrize(
    ("value", "name"), list(enumerate(["other", "chest", "wrist", "finger", "hand", "ear lobe", "foot"]))
)
def test_body_sensor_locations(value: int, name: str) -> None:
    assert parse_body_sensor_location(bytes([value])) == name
    assert encode_body_sensor_location(name) == bytes([value])


@pytest.mark.parametrize(("hex_payload", "message"), [("", "1 expected"), ("0100", "1 expected"), ("07", "reserved")])
def test_malformed_body_sensor_locations(hex_payload: str, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        parse_body_sensor_location(bytes.fromhex(hex_payload))


@given(st.binary(max_size=3))
def test_random_body_sensor_locations_raise_only_malformed_payload(payload: bytes) -> None:
    with contextlib.suppress(MalformedPayload):
        assert parse_body_sensor_location(payload) in BODY_SENSOR_LOCATIONS


def test_unknown_body_sensor_location_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="not one of"):
        encode_body_sensor_location("ear_lobe")


def test_rsc_uuids() -> None:
    assert RUNNING_SPEED_CADENCE_SERVICE_UUID == "00001814-0000-1000-8000-00805f9b34fb"
    assert RSC_MEASUREMENT_UUID == "00002a53-0000-1000-8000-00805f9b34fb"


def test_rsc_nordic_vector() -> None:
    # Nordic RunningSpeedAndCadenceMeasurementDataCallback test: all fields present.
    rsc = parse_running_speed_cadence(bytes.fromhex("07 0003 12 5600 010000f0"))
    assert rsc == RscMeasurement(speed_mps=3.0, cadence_spm=18, running=True, stride_m=0.86, distance_m=0xF0000001 / 10)
    assert bytes(rsc).hex() == "070003125600010000f0"


@pytest.mark.parametrize(
    ("hex_payload", "expected"),
    [
        ("00 0001 5a", RscMeasurement(1.0, 90, running=False)),  # walking, no optional fields
        ("05 8002 b4 2c01", RscMeasurement(2.5, 180, running=True, stride_m=3.0)),
        ("02 0000 00 0a000000", RscMeasurement(0.0, 0, running=False, distance_m=1.0)),
        ("fc 0001 5a", RscMeasurement(1.0, 90, running=True)),  # reserved flag bits are ignored
    ],
)
def test_rsc_optional_fields(hex_payload: str, expected: RscMeasurement) -> None:
    assert parse_running_speed_cadence(bytes.fromhex(hex_payload)) == expected


@pytest.mark.parametrize(
    ("hex_payload", "message"),
    [
        ("", "at least 4"),
        ("00 0001", "at least 4"),
        ("07 0003 12 5600 010000", "flags 0x07 announce 10"),  # Nordic: 9 bytes with flags 07 is invalid
        ("01 0003 12", "announce 6"),
        ("00 0003 12 00", "announce 4"),  # a byte left over
    ],
)
def test_malformed_rsc_lengths(hex_payload: str, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        parse_running_speed_cadence(bytes.fromhex(hex_payload))


@given(st.binary(max_size=14))
def test_random_rsc_payloads_raise_only_malformed_payload(payload: bytes) -> None:
    try:
        rsc = parse_running_speed_cadence(payload)
    except MalformedPayload:
        return
    assert parse_running_speed_cadence(bytes(rsc)) == rsc


rsc_measurements = st.builds(
    RscMeasurement,
    speed_mps=st.integers(0, 0xFFFF).map(lambda ticks: ticks / 256),
    cadence_spm=st.integers(0, 0xFF),
    running=st.booleans(),
    stride_m=st.none() | st.integers(0, 0xFFFF).map(lambda ticks: ticks / 100),
    distance_m=st.none() | st.integers(0, 0xFFFFFFFF).map(lambda ticks: ticks / 10),
)


@given(rsc_measurements)
def test_rsc_encoder_and_parser_round_trip(rsc: RscMeasurement) -> None:
    assert parse_running_speed_cadence(bytes(rsc)) == rsc


@pytest.mark.parametrize(
    "kwargs",
    [
        {"speed_mps": -0.1},
        {"speed_mps": 256.0},
        {"speed_mps": float("nan")},
        {"cadence_spm": 256},
        {"stride_m": 655.36},
        {"distance_m": float("inf")},
        {"distance_m": 429496729.6},
    ],
)
def test_rsc_encoder_range_checks(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="outside"):
        bytes(RscMeasurement(**({"speed_mps": 1.0, "cadence_spm": 90, "running": True} | kwargs)))
