"""How the pages write dates, times, numbers and durations: in the reader's language, in the clinic's time zone.

Each function takes the Babel locale (and the time zone, for moments) as keyword arguments, and
its options (a date's format, a number's decimals) as positional ones, as Jinja filters get them;
:func:`filters` binds them into the Jinja filters of one language and time zone, so templates
write ``{{ session.started_at | datetime }}``, ``{{ week.start | date("full") }}``,
``{{ share | percent }}``. A missing value (None) is written as :data:`MISSING`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_timezone_location
from babel.lists import format_list
from babel.numbers import format_decimal, format_percent
from babel.units import format_unit

from monitor.tolerance.messages import ENGLISH, Message, render

MISSING = "—"
SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3600


def _local(moment: datetime, tz: tzinfo) -> datetime:
    if moment.tzinfo is None:
        # The store hands out UTC-aware times; a naive one is a bug, and guessing its zone would show a wrong time.
        raise ValueError(f"{moment!r} has no time zone")
    return moment.astimezone(tz)


def datetime_text(moment: datetime | None, *, locale: Locale, tz: tzinfo) -> str:
    """Date and minute in ``tz``: "21 Nov 2026, 09:05", "21. nov. 2026 09.05" (da), "21. nov. 2026, 09:05" (nb)."""
    if moment is None:
        return MISSING
    local = _local(moment, tz)
    pattern = locale.datetime_formats["medium"]  # how this language joins a date and a time
    return str(pattern).format(
        format_time(local, "short", locale=locale), format_date(local.date(), "medium", locale=locale)
    )


def date_text(day: date | datetime | None, format: str = "medium", *, locale: Locale, tz: tzinfo) -> str:
    """A date ("full": "lørdag den 21. november 2026" in Danish); a moment is first taken to ``tz``."""
    if day is None:
        return MISSING
    if isinstance(day, datetime):
        day = _local(day, tz).date()
    return format_date(day, format, locale=locale)


def epoch_time_text(t_s: float | None, *, locale: Locale, tz: tzinfo) -> str:
    """Seconds since the Unix epoch as the time of day with seconds: "09:05:07"."""
    if t_s is None:
        return MISSING
    return time_text(datetime.fromtimestamp(t_s, UTC), "medium", locale=locale, tz=tz)


def time_text(moment: datetime | None, format: str = "short", *, locale: Locale, tz: tzinfo) -> str:
    """The time of day in ``tz``: "09:05" ("09.05" in Danish); ``format="medium"`` adds seconds."""
    if moment is None:
        return MISSING
    return format_time(_local(moment, tz), format, locale=locale)


def number_text(value: float | None, decimals: int = 1, *, locale: Locale) -> str:
    """At most ``decimals`` decimals, none when whole, as clinicians read them: "1,234.5", "1.234,5" (da)."""
    if value is None:
        return MISSING
    pattern = "#,##0." + "#" * decimals if decimals > 0 else "#,##0"
    return format_decimal(value, pattern, locale=locale)


class TranslatedMessages(Mapping[str, str]):
    """The engine's catalogue (monitor/tolerance/messages.py) in a reader's language, looked up as it is used."""

    def __init__(self, gettext: Callable[[str], str]) -> None:
        self._gettext = gettext

    def __getitem__(self, key: str) -> str:
        return self._gettext(ENGLISH[key])

    def __iter__(self) -> Iterator[str]:
        return iter(ENGLISH)

    def __len__(self) -> int:
        return len(ENGLISH)


def message_text(message: Any, *, locale: Locale, gettext: Callable[[str], str]) -> str:
    """An engine message (a ``MessageOut`` or its JSON) in the reader's language, numbers in their locale."""
    if message is None:
        return MISSING
    data = message.model_dump() if hasattr(message, "model_dump") else message
    return render(
        Message.from_dict(data), TranslatedMessages(gettext), number=lambda value: number_text(value, locale=locale)
    )


def count_text(value: int | None, *, locale: Locale) -> str:
    return MISSING if value is None else format_decimal(value, "#,##0", locale=locale)


def percent_text(share: float | None, *, locale: Locale) -> str:
    """A share of 1 as a whole percentage: "93%", "93 %" (da, nb)."""
    return MISSING if share is None else format_percent(share, locale=locale)


def bpm_text(hr_bpm: float | None, *, locale: Locale, gettext: Callable[[str], str]) -> str:
    if hr_bpm is None:
        return MISSING
    return gettext("%(bpm)s bpm") % {"bpm": format_decimal(round(hr_bpm), "#,##0", locale=locale)}


def duration_text(duration_s: float | None, *, locale: Locale) -> str:
    """A length of time in words, to the minute ("1 hr, 15 mins"; "1 t. og 15 min." in Danish); seconds under one."""
    if duration_s is None:
        return MISSING
    if duration_s < SECONDS_PER_MINUTE - 0.5:
        return format_unit(round(duration_s), "duration-second", length="short", locale=locale)
    hours, minutes = divmod(round(duration_s / SECONDS_PER_MINUTE), SECONDS_PER_HOUR // SECONDS_PER_MINUTE)
    parts = [format_unit(hours, "duration-hour", length="short", locale=locale)] if hours else []
    if minutes or not hours:
        parts.append(format_unit(minutes, "duration-minute", length="short", locale=locale))
    return format_list(parts, style="unit-short", locale=locale)


def duration_mm_ss(duration_s: float | None) -> str:
    """Minutes may exceed 59: a 75-minute session is 75:00 (the same in every language)."""
    if duration_s is None:
        return MISSING
    minutes, seconds = divmod(round(duration_s), 60)
    return f"{minutes:02d}:{seconds:02d}"


def time_zone_name(tz: tzinfo, *, locale: Locale) -> str:
    """The zone as a reader knows it: "Denmark Time", "Danmark-tid" (da); "UTC" for UTC."""
    key = getattr(tz, "key", None)
    if isinstance(tz, ZoneInfo) and key not in {"UTC", "Etc/UTC"}:
        return get_timezone_location(tz, locale=locale)
    return datetime.now(tz).tzname() or MISSING


def filters(*, locale: Locale, tz: tzinfo, gettext: Callable[[str], str]) -> dict[str, Callable[..., str]]:
    """The Jinja filters of one language and time zone."""
    in_zone: dict[str, Any] = {"locale": locale, "tz": tz}
    return {
        "datetime": functools.partial(datetime_text, **in_zone),
        "date": functools.partial(date_text, **in_zone),
        "time": functools.partial(time_text, **in_zone),
        "number": functools.partial(number_text, locale=locale),
        "count": functools.partial(count_text, locale=locale),
        "percent": functools.partial(percent_text, locale=locale),
        "bpm": functools.partial(bpm_text, locale=locale, gettext=gettext),
        "duration": functools.partial(duration_text, locale=locale),
        "duration_mm_ss": duration_mm_ss,
        "epoch_time": functools.partial(epoch_time_text, **in_zone),
        "message": functools.partial(message_text, locale=locale, gettext=gettext),
    }
