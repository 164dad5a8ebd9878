"""Dates, times, numbers and durations in the reader's language and the clinic's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from babel import Locale

from dashboard import formatting, i18n
from dashboard.formatting import MISSING

EN, DA, NB = (Locale.parse(name) for name in ("en_GB", "da_DK", "nb_NO"))
COPENHAGEN = ZoneInfo("Europe/Copenhagen")
OSLO = ZoneInfo("Europe/Oslo")
SATURDAY = date(2026, 11, 21)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [(DA, "lørdag den 21. november 2026"), (NB, "lørdag 21. november 2026"), (EN, "Saturday, 21 November 2026")],
)
def test_a_full_date_in_each_language(locale: Locale, expected: str) -> None:
    assert formatting.date_text(SATURDAY, locale=locale, tz=UTC, format="full") == expected


@pytest.mark.parametrize(("locale", "expected"), [(DA, "1.234,5"), (NB, "1\xa0234,5"), (EN, "1,234.5")])
def test_a_number_in_each_language(locale: Locale, expected: str) -> None:
    # Norwegian groups thousands with a no-break space, so a number never breaks across lines.
    assert formatting.number_text(1234.5, locale=locale) == expected


def test_numbers_have_at_most_the_decimals_asked_for_and_none_when_whole() -> None:
    assert formatting.number_text(29.25, locale=EN) == "29.2"  # half to even, as Babel rounds
    assert formatting.number_text(30.0, locale=DA) == "30"
    assert formatting.number_text(0.456, locale=DA, decimals=2) == "0,46"
    assert formatting.number_text(12.7, locale=EN, decimals=0) == "13"
    assert formatting.count_text(12345, locale=DA) == "12.345"


def test_moments_are_shown_in_the_clinics_time_zone_across_a_clock_change() -> None:
    # Summer time starts in Denmark at 01:00 UTC on 29 March 2026: 02:00 local becomes 03:00.
    before = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    after = before + timedelta(hours=1)
    assert formatting.time_text(before, locale=DA, tz=COPENHAGEN) == "01.30"
    assert formatting.time_text(after, locale=DA, tz=COPENHAGEN) == "03.30"
    assert formatting.datetime_text(after, locale=DA, tz=COPENHAGEN) == "29. mar. 2026 03.30"
    assert formatting.datetime_text(after, locale=NB, tz=OSLO) == "29. mars 2026, 03:30"
    assert formatting.datetime_text(after, locale=EN, tz=UTC) == "29 Mar 2026, 01:30"
    assert formatting.time_text(after, locale=EN, tz=COPENHAGEN, format="medium") == "03:30:00"


def test_a_moment_late_in_the_evening_utc_is_the_next_day_in_copenhagen() -> None:
    late = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    assert formatting.date_text(late, locale=DA, tz=COPENHAGEN, format="full") == "lørdag den 21. november 2026"
    assert formatting.date_text(late, locale=EN, tz=UTC) == "20 Nov 2026"


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        formatting.datetime_text(datetime(2026, 11, 21, 9, 0), locale=EN, tz=UTC)


@pytest.mark.parametrize(("locale", "expected"), [(EN, "93%"), (DA, "93\xa0%"), (NB, "93\xa0%")])
def test_percent(locale: Locale, expected: str) -> None:
    assert formatting.percent_text(0.934, locale=locale) == expected


@pytest.mark.parametrize(
    ("duration_s", "locale", "expected"),
    [
        (40.2, EN, "40 secs"),
        (59.6, EN, "1 min"),
        (1234.0, EN, "21 mins"),
        (4500.0, EN, "1 hr, 15 mins"),
        (4500.0, DA, "1 t. og 15 min."),
        (4500.0, NB, "1 t, 15 min"),
        (7200.0, DA, "2 t."),
        (3599.9, NB, "1 t"),
    ],
)
def test_durations_in_words(duration_s: float, locale: Locale, expected: str) -> None:
    assert formatting.duration_text(duration_s, locale=locale) == expected


def test_duration_mm_ss_lets_minutes_pass_59() -> None:
    assert formatting.duration_mm_ss(4500.4) == "75:00"
    assert formatting.duration_mm_ss(61) == "01:01"


def test_heart_rate_unit_is_translated() -> None:
    assert formatting.bpm_text(96.4, locale=DA, gettext=i18n.translations("da").gettext) == "96 slag/min"
    assert formatting.bpm_text(96.5, locale=EN, gettext=i18n.translations("en").gettext) == "96 bpm"


def test_a_missing_value_is_a_dash_everywhere() -> None:
    filters = formatting.filters(locale=DA, tz=COPENHAGEN, gettext=str)
    assert {name: f(None) for name, f in filters.items()} == dict.fromkeys(filters, MISSING)


def test_time_zone_names_for_the_reader() -> None:
    assert formatting.time_zone_name(COPENHAGEN, locale=DA) == "Danmark-tid"
    assert formatting.time_zone_name(COPENHAGEN, locale=EN) == "Denmark Time"
    assert formatting.time_zone_name(ZoneInfo("UTC"), locale=NB) == "UTC"
    assert formatting.time_zone_name(UTC, locale=DA) == "UTC"
    assert formatting.time_zone_name(timezone(timedelta(hours=1), "CET"), locale=EN) == "CET"


def test_the_filters_of_a_language_and_zone() -> None:
    filters = formatting.filters(locale=DA, tz=COPENHAGEN, gettext=i18n.translations("da").gettext)
    moment = datetime(2026, 11, 21, 8, 5, 7, tzinfo=UTC)
    assert filters["datetime"](moment) == "21. nov. 2026 09.05"
    assert filters["date"](moment, "full") == "lørdag den 21. november 2026"
    assert filters["time"](moment) == "09.05"
    assert filters["number"](1234.5) == "1.234,5"
    assert filters["bpm"](121.0) == "121 slag/min"
    assert filters["epoch_time"](moment.timestamp()) == "09.05.07"
