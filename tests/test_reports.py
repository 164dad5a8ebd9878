from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from monitor.tolerance import MorningReport, SessionReport

NOW = datetime(2026, 9, 2, 18, tzinfo=UTC)


def test_reports_keep_their_time_and_checked_ratings() -> None:
    late = SessionReport(datetime(2026, 9, 4, 9, tzinfo=UTC), pain_during=3, effort_cr10=5)
    assert (late.pain_during, late.pain_after, late.effort_cr10) == (3.0, None, 5.0)
    morning = MorningReport(date(2026, 9, 3), NOW, pain=1, stiffness=2, red_flags=frozenset({"fever"}))
    assert morning.red_flags == {"fever"}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SessionReport(NOW, pain_during=11), "pain_during must be from 0 to 10"),
        (lambda: SessionReport(NOW, effort_cr10=-1), "effort_cr10"),
        (lambda: SessionReport(NOW, weight_kg=0), "weight_kg"),
        (lambda: SessionReport(NOW, weight_kg=501), "weight_kg"),
        (lambda: SessionReport(datetime(2026, 9, 2), pain_during=1), "timezone"),
        (lambda: MorningReport(date(2026, 9, 3), NOW, stiffness=12), "stiffness"),
        (lambda: MorningReport(date(2026, 9, 3), NOW, red_flags=frozenset({"headache"})), "unknown red-flag"),
    ],
)
def test_bad_reports_are_refused_with_a_reason(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]
