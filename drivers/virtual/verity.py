"""A virtual Polar Verity Sense: compressed ACC at 52 Hz and PPI, made from an H10-style replay.

The Verity Sense offers ACC at 26-416 Hz, but without SDK mode only its defaults, 52 Hz
and ±8 g (``wearable-protocols.md`` §3.4), which is what this device serves; it sends
ACC as delta-compressed frame type 0x81 (polar-ble-sdk#331). Its PPI frames carry
timestamp 0 ("no time", as devices may send). Features read ``0F 6E 00`` (PPG, ACC, PPI,
gyro, magnetometer), but only ACC and PPI are served: the rest answer NOT_SUPPORTED.

Not simulated: the ~25 s before the first PPI samples, and PPI HR updating only every 5 s.
"""

from __future__ import annotations

import numpy as np

from drivers.gatt import HEART_RATE_MEASUREMENT_UUID, parse_heart_rate
from drivers.polar_pmd import PMD_DATA_UUID, RECORD_DTYPES, PmdDataFrame, SampleTimestamps, decode_frame
from drivers.polar_pmd.constants import MEASUREMENT_TYPES
from drivers.polar_pmd.control import encode_settings
from drivers.virtual.pmd_server import MeasurementSpec, PmdProfile, PolarPeripheral
from drivers.virtual.replay import Replay, ReplayItem
from monitor.capture import PmdStreamSettings

VERITY_UNSET_CLOCK_NS = 536_580_000_000_000_000
"""2017-01-01T10:00:00Z in ns since 2000-01-01: where an unset Verity Sense clock starts."""
VERITY_ACC_RATE_HZ = 52
VERITY_ACC_RANGE_G = 8
# Factor 1.0 makes the compressed raw values mG, so the project's decoder gives back the
# source's samples. Real devices' factors for frame type 0x81 are not verified here.
_ACC_FACTOR = 1.0
_ACC_RESOLUTION_BITS = 16
_ACC_FRAME_SAMPLES = 36
_PPI_ERROR_ESTIMATE_MS = 10
_ACC = MEASUREMENT_TYPES["acc"]

VERITY_PROFILE = PmdProfile(
    features=frozenset({"ppg", "acc", "ppi", "gyro", "mag"}),
    measurements={
        "acc": MeasurementSpec(
            {
                "sample_rate": [VERITY_ACC_RATE_HZ],
                "resolution": [_ACC_RESOLUTION_BITS],
                "range": [VERITY_ACC_RANGE_G],
                "channels": [3],
            },
            start_params=encode_settings({"factor": [_ACC_FACTOR]}),
        ),
        "ppi": MeasurementSpec({}),
    },
)


def verity_replay(source: Replay) -> Replay:
    """What a Verity Sense worn through ``source`` (an H10 replay with ACC) would send.

    ACC is resampled linearly to 52 Hz on the source's sensor clock and cut into
    compressed frames, each sent when its last sample falls due; every heart-rate
    notification with RR intervals also becomes a PPI frame, and stays as it is.
    """
    if source.acc is None:
        raise ValueError("the source replay has no ACC settings (the capture header's 'acc')")
    acc = source.acc
    stamps = SampleTimestamps()
    times_ns, samples = [], []
    heart_rate = [item for item in source.items if item.characteristic == HEART_RATE_MEASUREMENT_UUID]
    ppi = [ppi_item for item in heart_rate if (ppi_item := _ppi_item(item)) is not None]
    items = heart_rate + ppi
    for item in source.items:
        if item.characteristic == PMD_DATA_UUID and item.payload[0] & 0x3F == _ACC:
            frame = decode_frame(item.payload, resolution=acc.resolution_bits, factor=acc.factor)
            times_ns.append(stamps.sample_times_ns(frame, nominal_rate_hz=acc.sample_rate_hz))
            samples.append(frame.samples)
    if not samples:
        raise ValueError("the source replay has no ACC frames")
    source_times_ns, source_mg = np.concatenate(times_ns), np.concatenate(samples)
    # Times relative to the first sample: float64 cannot hold sensor ns (~6e17) to the ns.
    start_ns = int(source_times_ns[0])
    source_s = (source_times_ns - start_ns) / 1e9
    grid_s = np.arange(0, source_s[-1], 1 / VERITY_ACC_RATE_HZ)
    grid_ns = start_ns + np.rint(grid_s * 1e9).astype(np.int64)
    mg = np.column_stack([np.interp(grid_s, source_s, source_mg[:, axis]) for axis in range(3)])
    for end in range(_ACC_FRAME_SAMPLES, len(grid_ns) + 1, _ACC_FRAME_SAMPLES):
        timestamp_ns = int(grid_ns[end - 1])
        frame = PmdDataFrame(
            "acc",
            timestamp_ns,
            1,
            mg[end - _ACC_FRAME_SAMPLES : end],
            compressed=True,
            factor=_ACC_FACTOR,
            resolution=_ACC_RESOLUTION_BITS,
        )
        items.append(ReplayItem(source.sensor_scenario_ns(timestamp_ns, 0), PMD_DATA_UUID, bytes(frame)))
    settings = PmdStreamSettings(
        sample_rate_hz=VERITY_ACC_RATE_HZ,
        resolution_bits=_ACC_RESOLUTION_BITS,
        range_g=VERITY_ACC_RANGE_G,
        factor=_ACC_FACTOR,
    )
    return Replay(items, acc=settings)


def _ppi_item(heart_rate: ReplayItem) -> ReplayItem | None:
    measurement = parse_heart_rate(heart_rate.payload)
    if not measurement.rr_ms:
        return None
    records = np.zeros(len(measurement.rr_ms), dtype=RECORD_DTYPES[("ppi", 0)])
    records["hr"] = measurement.bpm
    records["pp_ms"] = np.rint(measurement.rr_ms)
    records["pp_error_ms"] = _PPI_ERROR_ESTIMATE_MS
    records["skin_contact"] = records["skin_contact_supported"] = True
    return ReplayItem(heart_rate.t_ns, PMD_DATA_UUID, bytes(PmdDataFrame("ppi", 0, 0, records)))


class VirtualVeritySense(PolarPeripheral):
    """A Polar Verity Sense armband: heart rate, compressed ACC at 52 Hz and PPI.

    ``replay`` is in the Verity's own terms; make one from an H10 capture with
    :func:`verity_replay`. Its clock starts at the Verity's unset default, 2017-01-01T10:00Z.
    """

    profile = VERITY_PROFILE
    clock_epoch_ns = VERITY_UNSET_CLOCK_NS

    default_name = "Polar Sense 0A1B2C3E"
    default_address = "C0:DE:00:0A:1B:2D"
