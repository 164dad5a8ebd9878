"""Pure signal analysis: arrays and plain values in, values out; no I/O, no clocks."""

from monitor.analysis.heart_rate import HeartRateSummary, heart_rate_summary, resample_hr_1hz

__all__ = ["HeartRateSummary", "heart_rate_summary", "resample_hr_1hz"]
