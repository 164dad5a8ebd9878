from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import MalformedPayload
from drivers.polar_pmd import (
    ControlPointRequest,
    ControlPointResponse,
    MeasurementStopped,
    Opcode,
    ResponseAssembler,
    Status,
    encode_features,
    encode_settings,
    parse_control_point_indication,
    parse_control_point_response,
    parse_features,
    parse_settings,
    settings_request,
    start_request,
    status_text,
    stop_request,
)

H10_ACC_SETTINGS = bytes.fromhex("f00102000000041900320064 00c800".replace(" ", "") + "01011000" + "0203020004000800")


def test_h10_acc_settings_response() -> None:
    response = parse_control_point_response(H10_ACC_SETTINGS)
    assert (response.opcode, response.measurement, response.status, response.more) == (1, "acc", 0, False)
    # No CHANNELS TLV on the H10.
    assert parse_settings(response.params) == {
        "sample_rate": [25, 50, 100, 200],
        "resolution": [16],
        "range": [2, 4, 8],
    }
    assert encode_settings(parse_settings(response.params)) == response.params


def test_h10_ecg_settings_response() -> None:
    response = parse_control_point_response(bytes.fromhex("f0010000000001820001010e00"))
    assert response.measurement == "ecg"
    assert parse_settings(response.params) == {"sample_rate": [130], "resolution": [14]}


def test_h10_start_response_has_a_trailing_reserved_byte() -> None:
    response = parse_control_point_response(bytes.fromhex("f00202000001"))
    assert response.ok
    assert response.params == b"\x01"
    assert parse_settings(response.params) == {}


def test_verity_start_response_carries_a_factor() -> None:
    response = parse_control_point_response(bytes.fromhex("f002020000050140da7f39"))
    assert parse_settings(response.params)["factor"] == [pytest.approx(0.000244, rel=1e-3)]


@pytest.mark.parametrize(
    ("request_bytes", "expected_hex"),
    [
        (start_request("ecg", sample_rate=130, resolution=14), "02000001820001010e00"),
        (start_request("acc", range=8, sample_rate=200, resolution=16), "0202020108000001c80001011000"),
        (start_request("ppi"), "0203"),
        (stop_request("acc"), "0302"),
        (settings_request("acc"), "0102"),
    ],
)
def test_requests_match_the_documented_bytes(request_bytes: bytes, expected_hex: str) -> None:
    assert request_bytes.hex() == expected_hex


def test_request_round_trip_with_offline_bit() -> None:
    request = ControlPointRequest(Opcode.REQUEST_MEASUREMENT_START, "ppg", {"sample_rate": [55], "channels": [4]}, True)
    assert bytes(request)[1] == 0x81
    assert ControlPointRequest.from_bytes(bytes(request)) == request


def test_error_status_has_no_params_and_a_readable_name() -> None:
    response = parse_control_point_response(bytes.fromhex("f002000a"))
    assert not response.ok
    assert response.status == Status.INVALID_MTU
    assert status_text(response.status) == "INVALID_MTU (10)"
    assert status_text(99) == "unknown status 99"
    assert bytes(response) == bytes.fromhex("f002000a")


def test_unsolicited_stop_notification() -> None:
    stopped = parse_control_point_indication(bytes.fromhex("010200"))
    assert stopped == MeasurementStopped(("acc", "ecg"))
    assert bytes(stopped) == bytes.fromhex("010200")
    assert isinstance(parse_control_point_indication(bytes.fromhex("f00202000001")), ControlPointResponse)


def test_multi_part_response_concatenates_params() -> None:
    assembler = ResponseAssembler()
    parts = [
        ControlPointResponse(1, "ppg", 0, True, bytes.fromhex("000137")),
        ControlPointResponse(1, "ppg", 0, True, bytes.fromhex("00")),
        ControlPointResponse(1, "ppg", 0, False, bytes.fromhex("01011600")),
    ]
    assert assembler.add(parts[0]) is None
    assert assembler.add(parts[1]) is None
    whole = assembler.add(parts[2])
    assert whole is not None
    assert parse_settings(whole.params) == {"sample_rate": [55], "resolution": [22]}
    assert assembler.add(ControlPointResponse(2, "acc", 0, False, b"\x01")) == ControlPointResponse(
        2, "acc", 0, False, b"\x01"
    )


def test_a_part_for_another_request_is_malformed() -> None:
    assembler = ResponseAssembler()
    assembler.add(ControlPointResponse(1, "ppg", 0, True, b"\x00"))
    with pytest.raises(MalformedPayload, match="inside a response"):
        assembler.add(ControlPointResponse(2, "acc", 0, False))


@pytest.mark.parametrize(
    ("payload", "features"),
    [("0f0500", {"ecg", "acc"}), ("0f6e02", {"ppg", "acc", "ppi", "gyro", "mag", "sdk_mode"})],
)
def test_features(payload: str, features: set[str]) -> None:
    assert parse_features(bytes.fromhex(payload)) == features
    assert encode_features(features) == bytes.fromhex(payload)


@pytest.mark.parametrize(
    ("parse", "payload", "message"),
    [
        (parse_settings, "0901 0000", "unknown PMD setting type 9"),
        (parse_settings, "0002 1900", "announces 2 values"),
        (parse_control_point_response, "f00102", "not a PMD control point response"),
        (parse_control_point_response, "010200", "not a PMD control point response"),
        (parse_control_point_response, "f001040000", "unknown PMD measurement type 4"),
        (parse_features, "0e0500", "must start with 0F"),
        (parse_control_point_indication, "01", "measurement-stopped"),
        (ControlPointRequest.from_bytes, "2002", "unknown PMD opcode"),
    ],
)
def test_malformed_control_point_messages(parse: object, payload: str, message: str) -> None:
    assert callable(parse)
    with pytest.raises(MalformedPayload, match=message):
        parse(bytes.fromhex(payload))


@pytest.mark.parametrize(
    "parse",
    [parse_settings, parse_control_point_indication, parse_features, ControlPointRequest.from_bytes],
)
@given(payload=st.binary(max_size=48))
def test_random_payloads_raise_only_malformed_payload(parse: object, payload: bytes) -> None:
    assert callable(parse)
    with contextlib.suppress(MalformedPayload):
        parse(payload)


settings_strategy = st.dictionaries(
    st.sampled_from(["sample_rate", "resolution", "range", "channels", "range_milliunit"]),
    st.lists(st.integers(0, 255), min_size=1, max_size=5),
)


@given(settings_strategy)
def test_settings_round_trip(settings: dict[str, list[int]]) -> None:
    assert parse_settings(encode_settings(settings)) == settings  # type: ignore[arg-type]


@given(
    st.sampled_from(list(Opcode)),
    st.sampled_from(["ecg", "ppg", "acc", "ppi", "gyro", "mag"]),
    st.integers(0, 14),
    st.booleans(),
    st.binary(max_size=20),
)
def test_response_round_trip(opcode: Opcode, measurement: str, status: int, more: bool, params: bytes) -> None:
    response = ControlPointResponse(opcode, measurement, status, more, params)
    parsed = parse_control_point_response(bytes(response))
    if status == 0:
        assert parsed == response
    else:
        assert parsed == ControlPointResponse(opcode, measurement, status)
