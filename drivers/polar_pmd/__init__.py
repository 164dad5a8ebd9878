"""Polar Measurement Data (PMD): data frames, per-sample timestamps and the control point.

The public names tests and tools rely on live here: ``decode_frame``,
``parse_control_point_response``, ``parse_settings`` and friends.
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
from drivers.polar_pmd.frames import PmdDataFrame, decode_frame
from drivers.polar_pmd.timestamps import SampleTimestamps

__all__ = [
    "H10_UNSET_CLOCK_NS",
    "MEASUREMENT_NAMES",
    "MEASUREMENT_TYPES",
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_SERVICE_UUID",
    "POLAR_EPOCH_UNIX_NS",
    "ControlPointRequest",
    "ControlPointResponse",
    "MeasurementStopped",
    "Opcode",
    "PmdDataFrame",
    "ResponseAssembler",
    "SampleTimestamps",
    "Status",
    "decode_frame",
    "encode_features",
    "encode_settings",
    "parse_control_point_indication",
    "parse_control_point_response",
    "parse_features",
    "parse_settings",
    "settings_request",
    "start_request",
    "status_text",
    "stop_request",
]
