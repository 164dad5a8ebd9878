"""Tolerance: the pain-monitoring model, prescriptions, flags and weekly progression advice.

Pure functions on plain records (no I/O); messages are translation keys with parameters.
"""

from monitor.tolerance.advice import Advice, weekly_advice
from monitor.tolerance.engine import WeekAssessment, assess_history
from monitor.tolerance.flags import Flag
from monitor.tolerance.messages import Message
from monitor.tolerance.pain import pain_zone
from monitor.tolerance.prescription import Prescription
from monitor.tolerance.reports import RED_FLAG_QUESTIONS, MorningReport, SessionReport
from monitor.tolerance.verdict import Verdict, pain_monitoring_verdict
from monitor.tolerance.week import SessionRecord

__all__ = [
    "RED_FLAG_QUESTIONS",
    "Advice",
    "Flag",
    "Message",
    "MorningReport",
    "Prescription",
    "SessionRecord",
    "SessionReport",
    "Verdict",
    "WeekAssessment",
    "assess_history",
    "pain_monitoring_verdict",
    "pain_zone",
    "weekly_advice",
]
