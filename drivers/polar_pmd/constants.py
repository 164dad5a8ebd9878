"""Polar Measurement Data (PMD) identifiers shared by frames and the control point."""

from __future__ import annotations

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

POLAR_EPOCH_UNIX_NS = 946_684_800_000_000_000
"""The sensor clock counts ns from 2000-01-01T00:00:00Z; add this to get Unix ns."""
H10_UNSET_CLOCK_NS = 599_616_000_000_000_000
"""Where an H10 whose time was never set starts counting at power-up (2019-01-01)."""

# Measurement type codes (``PmdMeasurementType.kt``); the control point uses them all.
MEASUREMENT_NAMES = {
    0: "ecg",
    1: "ppg",
    2: "acc",
    3: "ppi",
    5: "gyro",
    6: "mag",
    7: "skin_temp",
    9: "sdk_mode",
    10: "location",
    11: "pressure",
    12: "temperature",
    13: "offline_recording",
    14: "offline_hr",
}
MEASUREMENT_TYPES = {name: code for code, name in MEASUREMENT_NAMES.items()}
DATA_MEASUREMENTS = {code: MEASUREMENT_NAMES[code] for code in (0, 1, 2, 3, 5, 6)}
"""The measurements that arrive as data frames on ``PMD_DATA_UUID``."""
