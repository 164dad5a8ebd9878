"""Virtual Polar sensors: the H10 chest strap (and the Verity Sense armband)."""

from __future__ import annotations

from drivers.polar_pmd.control import Settings
from drivers.virtual.pmd_server import MeasurementSpec, PmdProfile, PolarPeripheral

# The H10's settings never change (polar-ble-sdk#253); its START responses end with a
# reserved 01 byte (``wearable-protocols.md`` §3.4).
_H10_ACC: Settings = {"sample_rate": [25, 50, 100, 200], "resolution": [16], "range": [2, 4, 8]}
_H10_ECG: Settings = {"sample_rate": [130], "resolution": [14]}
_H10_RESERVED = b"\x01"
H10_PROFILE = PmdProfile(
    features=frozenset({"ecg", "acc"}),
    measurements={
        "acc": MeasurementSpec(_H10_ACC, start_params=_H10_RESERVED),
        "ecg": MeasurementSpec(_H10_ECG, start_params=_H10_RESERVED),
    },
)


class VirtualPolarH10(PolarPeripheral):
    """A Polar H10 chest strap: heart rate, and PMD ACC (and ECG) streams from a replay.

    Its clock is an H10 whose time was never set: 2019-01-01 plus the time since
    :meth:`start`. ACC streams only at the replay's sample rate (the capture header's);
    the H10's other rates are answered INVALID_SAMPLE_RATE, and ECG NOT_SUPPORTED unless
    the replay holds ECG frames. Any offered range is accepted; samples are not clipped.
    """

    profile = H10_PROFILE

    default_name = "Polar H10 0A1B2C3D"
    default_address = "C0:DE:00:0A:1B:2C"
