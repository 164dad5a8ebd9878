"""Pure signal analysis: arrays and plain values in, values out; no I/O, no clocks.

The names exported here are public API that outside checks call; keep them stable.
"""

from monitor.analysis.heart_rate import HeartRateSummary, heart_rate_summary, resample_hr_1hz
from monitor.analysis.reps import RepCount, count_reps, segment_sets
from monitor.analysis.steps import StepCount, count_steps

__all__ = [
    "HeartRateSummary",
    "RepCount",
    "StepCount",
    "count_reps",
    "count_steps",
    "heart_rate_summary",
    "resample_hr_1hz",
    "segment_sets",
]
