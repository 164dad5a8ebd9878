"""The pain-monitoring model's scale: 0-10 ratings and their zones.

Thomeé 1997; Silbernagel et al. 2007/2020 (docs/algorithms.md A4). Pain during and after
a session may reach 5/10; the zones the project pins are ≤ 2 green (safe), > 2 and ≤ 5
amber (acceptable) and > 5 red (high risk): "may reach 5" means 5 itself is acceptable.
"""

from __future__ import annotations

import math
from typing import Literal

Zone = Literal["green", "amber", "red"]

NRS_MIN = 0.0
NRS_MAX = 10.0
GREEN_MAX = 2.0
AMBER_MAX = 5.0
DEFAULT_PAIN_LIMIT = AMBER_MAX
"""Pain during and after a session may reach 5/10."""


def check_nrs(value: float, *, name: str) -> float:
    """``value`` if it is a rating on the 0-10 scale, else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueError(f"{name} must be a number from 0 to 10, got {value!r}")
    if not NRS_MIN <= value <= NRS_MAX:
        raise ValueError(f"{name} must be from 0 to 10, got {value}")
    return float(value)


def pain_zone(nrs: float) -> Zone:
    """Green (≤ 2), amber (> 2 and ≤ 5) or red (> 5) for a 0-10 pain rating."""
    value = check_nrs(nrs, name="pain")
    if value <= GREEN_MAX:
        return "green"
    if value <= AMBER_MAX:
        return "amber"
    return "red"
