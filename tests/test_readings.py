from __future__ import annotations

import numpy as np
import pytest

from drivers import MalformedPayload
from drivers.gatt import BODY_SENSOR_LOCATION_UUID, HEART_RATE_MEASUREMENT_UUID, HeartRateMeasurement
from drivers.polar_pmd import PMD_CONTROL_POINT_UUID, PMD_DATA_UUID, POLAR_EPOCH_UNIX_NS, PmdDataFrame
from drivers.readings import AccelerationBatch, HeartRateReading, NotificationDecoder, PmdStream

H10_TS = 599_616_035_000_000_000


def test_heart_rate_notification_becomes_a_reading() -> None:
    decoder = NotificationDecoder("strap")
    payload = bytes(HeartRateMeasurement(bpm=72, rr_ms=(800.78125,), sensor_contact=False))
    reading = decoder.decode(123, HEART_RATE_MEASUREMENT_UUID.upper(), payload)
    assert reading == HeartRateReading("strap", 123, 72, (800.78125,), False)


def test_acc_frame_becomes_samples_on_the_unix_sensor_clock() -> None:
    decoder = NotificationDecoder("h10", acc=PmdStream(sample_rate_hz=200))
    samples = np.array([[1.0, -2.0, 1000.0], [4.0, 5.0, 999.0]])
    reading = decoder.decode(5, PMD_DATA_UUID, bytes(PmdDataFrame("acc", H10_TS, 1, samples)))
    assert isinstance(reading, AccelerationBatch)
    np.testing.assert_array_equal(reading.acc_mg, samples)
    assert reading.t_sensor_ns.tolist() == [POLAR_EPOCH_UNIX_NS + H10_TS - 5_000_000, POLAR_EPOCH_UNIX_NS + H10_TS]


def test_control_point_and_unknown_characteristics_give_no_reading() -> None:
    decoder = NotificationDecoder("h10", acc=PmdStream(sample_rate_hz=200))
    assert decoder.decode(1, PMD_CONTROL_POINT_UUID, bytes.fromhex("f00202000001")) is None
    assert decoder.decode(1, BODY_SENSOR_LOCATION_UUID, b"\x01") is None


def test_pmd_data_without_a_started_stream_is_malformed() -> None:
    frame = bytes(PmdDataFrame("acc", H10_TS, 1, np.zeros((1, 3))))
    with pytest.raises(MalformedPayload, match="acc data arrived but that stream was not started"):
        NotificationDecoder("strap").decode(1, PMD_DATA_UUID, frame)
    ecg = bytes(PmdDataFrame("ecg", H10_TS, 0, np.zeros((2, 1))))
    with pytest.raises(MalformedPayload, match="ecg data arrived but that stream was not started"):
        NotificationDecoder("h10", acc=PmdStream(sample_rate_hz=200)).decode(1, PMD_DATA_UUID, ecg)
