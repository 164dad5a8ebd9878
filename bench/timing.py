"""Wall-clock timing shared by the bench scripts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def run_times_s(run: Callable[[], Any], *, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def median_s(run: Callable[[], Any], *, repeat: int = 7) -> float:
    return statistics.median(run_times_s(run, repeat=repeat))


def fastest_s(run: Callable[[], Any], *, repeat: int = 5) -> float:
    """The fastest run: on a shared machine, noise only ever adds time."""
    return min(run_times_s(run, repeat=repeat))
