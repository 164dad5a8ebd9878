"""Polar Measurement Data (PMD): data frames, per-sample timestamps and the control point.

The public names tests and tools rely on live here: ``decode_frame``,
``parse_control_point_response``, ``parse_settings`` and friends. The delta codec of
compressed frames is in :mod:`drivers.polar_pmd.delta`.
"""

from drivers.polar_pmd.constants import (
    H10_UNSET_CLOCK_NS,
    MEASUREMENT_NAMES,
    MEASUREMENT_TYPES,
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    POLAR_EPOCH_UNIX_NS,
)
from drivers.polar_pmd.control import (
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
from drivers.polar_pmd.frames import RECORD_DTYPES, PmdDataFrame, decode_frame
from drivers.polar_pmd.timestamps import SampleTimestamps, clock_was_set, ppi_sample_times_ns

__all__ = [
    "H10_UNSET_CLOCK_NS",
    "MEASUREMENT_NAMES",
    "MEASUREMENT_TYPES",
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_SERVICE_UUID",
    "POLAR_EPOCH_UNIX_NS",
    "RECORD_DTYPES",
    "ControlPointRequest",
    "ControlPointResponse",
    "MeasurementStopped",
    "Opcode",
    "PmdDataFrame",
    "ResponseAssembler",
    "SampleTimestamps",
    "Status",
    "clock_was_set",
    "decode_frame",
    "encode_features",
    "encode_settings",
    "parse_control_point_indication",
    "parse_control_point_response",
    "parse_features",
    "parse_settings",
    "ppi_sample_times_ns",
    "settings_request",
    "start_request",
    "status_text",
    "stop_request",
]
