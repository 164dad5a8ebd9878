"""Pure signal analysis: arrays and plain values in, values out; no I/O, no clocks.

The names exported here are public API that outside checks call; keep them stable.
"""

from monitor.analysis.dfa import OnlineHrv, dfa_alpha1, dfa_alpha1_windows, hrvt1_bpm
from monitor.analysis.heart_rate import HeartRateSummary, heart_rate_summary, resample_hr_1hz
from monitor.analysis.reps import RepCount, count_reps, segment_sets
from monitor.analysis.rr import Hrv, RrCorrection, correct_rr, hrv
from monitor.analysis.steps import StepCount, count_steps

__all__ = [
    "HeartRateSummary",
    "Hrv",
    "OnlineHrv",
    "RepCount",
    "RrCorrection",
    "StepCount",
    "correct_rr",
    "count_reps",
    "count_steps",
    "dfa_alpha1",
    "dfa_alpha1_windows",
    "heart_rate_summary",
    "hrv",
    "hrvt1_bpm",
    "resample_hr_1hz",
    "segment_sets",
]
