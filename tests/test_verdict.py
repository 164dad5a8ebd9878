from __future__ import annotations

from datetime import UTC, date, datetime

from monitor.tolerance import MorningReport, Prescription, SessionReport, Verdict, pain_monitoring_verdict

NOW = datetime(2026, 9, 2, 18, tzinfo=UTC)
P = Prescription(sessions_per_week=3, kinds=("walking",), volume_per_session=20, volume_unit="minutes", volume_goal=30)


def morning(pain: float | None = 1, stiffness: float | None = 1) -> MorningReport:
    return MorningReport(date(2026, 9, 3), NOW, pain=pain, stiffness=stiffness)


def verdict(
    report: SessionReport | None, next_morning: MorningReport | None = None, morning_of: MorningReport | None = None
) -> Verdict:
    return pain_monitoring_verdict(report=report, next_morning=next_morning, morning_of=morning_of, prescription=P)


def test_within_the_safe_zone_is_green_and_acceptable_pain_is_amber() -> None:
    assert verdict(SessionReport(NOW, pain_before=1, pain_during=2, pain_after=2), morning()).level == "green"
    amber = verdict(SessionReport(NOW, pain_before=1, pain_during=5, pain_after=3), morning())
    assert amber.level == "amber"
    assert amber.findings[0].english() == "Pain reached 5/10: acceptable (up to 5/10) but above the safe 2/10."


def test_each_broken_rule_makes_it_red_with_its_numbers() -> None:
    red = verdict(
        SessionReport(NOW, pain_before=1, pain_during=6, pain_after=7), morning(pain=3, stiffness=4), morning(1, 2)
    )
    assert red.level == "red"
    assert [f.key for f in red.findings] == [
        "verdict.pain_during_above_limit",
        "verdict.pain_after_above_limit",
        "verdict.morning_pain_above_before",
        "verdict.morning_stiffness_above_before",
    ]
    assert red.findings[2].english() == "Pain the next morning was 3/10, higher than the 1/10 before the session."


def test_a_broken_rule_is_red_even_with_reports_missing() -> None:
    assert verdict(SessionReport(NOW, pain_during=8)).level == "red"


def test_missing_reports_are_unknown_never_green() -> None:
    assert verdict(None).level == "unknown"
    no_morning = verdict(SessionReport(NOW, pain_before=0, pain_during=0, pain_after=0))
    assert no_morning.level == "unknown"
    missing = [f.as_dict()["params"] for f in no_morning.findings]
    assert missing == [{"report": {"key": "report.morning_pain", "params": {}}}]
    no_before = verdict(SessionReport(NOW, pain_during=0, pain_after=0), morning(pain=0))
    assert no_before.level == "unknown"  # next-morning pain cannot be compared


def test_a_personal_limit_replaces_the_default() -> None:
    strict = P.with_changes(pain_during_limit=3)
    report = SessionReport(NOW, pain_before=1, pain_during=4, pain_after=2)
    result = pain_monitoring_verdict(report=report, next_morning=morning(), morning_of=None, prescription=strict)
    assert result.level == "red"
