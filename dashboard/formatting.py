"""How the pages write times and numbers (English, UTC, until translations arrive)."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.tolerance.messages import format_number

MISSING = "—"


def utc_datetime(moment: datetime | None) -> str:
    if moment is None:
        return MISSING
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def utc_time(moment: datetime | None) -> str:
    if moment is None:
        return MISSING
    return moment.astimezone(UTC).strftime("%H:%M:%S")


def duration_mm_ss(duration_s: float | None) -> str:
    """Minutes may exceed 59: a 75-minute session is 75:00."""
    if duration_s is None:
        return MISSING
    minutes, seconds = divmod(round(duration_s), 60)
    return f"{minutes:02d}:{seconds:02d}"


def bpm(hr_bpm: float | None) -> str:
    return MISSING if hr_bpm is None else f"{hr_bpm:.0f} bpm"


def percent(share: float | None) -> str:
    return MISSING if share is None else f"{share * 100:.0f} %"


def count(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def number(value: float | None) -> str:
    return MISSING if value is None else format_number(value)


FILTERS = {
    "number": number,
    "utc_datetime": utc_datetime,
    "utc_time": utc_time,
    "duration_mm_ss": duration_mm_ss,
    "bpm": bpm,
    "percent": percent,
    "count": count,
}
