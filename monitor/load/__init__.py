"""Training load: per session (TRIMP, sRPE, external load) and over days and weeks; pure, no I/O.

The names exported here are public API that outside checks call; keep them stable.
"""

from monitor.load.longitudinal import (
    AcuteChronic,
    MonotonyStrain,
    WeeklyTotals,
    acute_chronic,
    adherence,
    daily_load,
    ewma_load,
    monotony_strain,
    week_over_week_change,
    weekly_totals,
)
from monitor.load.session_load import SessionLoad, StrengthSet, session_load, srpe_au
from monitor.load.trimp import trimp_banister, trimp_edwards

__all__ = [
    "AcuteChronic",
    "MonotonyStrain",
    "SessionLoad",
    "StrengthSet",
    "WeeklyTotals",
    "acute_chronic",
    "adherence",
    "daily_load",
    "ewma_load",
    "monotony_strain",
    "session_load",
    "srpe_au",
    "trimp_banister",
    "trimp_edwards",
    "week_over_week_change",
    "weekly_totals",
]
