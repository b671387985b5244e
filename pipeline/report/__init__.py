"""Report stage: the auditor's HTML report (self-contained, offline) and its exports."""

from pipeline.report.build import ReportResult, build_report, check_fail_on, parse_formats
from pipeline.report.data import (
    TABLES,
    ReportData,
    ReportDetection,
    ReportOptions,
    collect_report_data,
)
from pipeline.report.period import EVERYTHING, Period, PeriodKind, period_of, resolve_period
from pipeline.report.pseudonym import load_pseudonym_key

__all__ = [
    "EVERYTHING",
    "TABLES",
    "Period",
    "PeriodKind",
    "ReportData",
    "ReportDetection",
    "ReportOptions",
    "ReportResult",
    "build_report",
    "check_fail_on",
    "collect_report_data",
    "load_pseudonym_key",
    "parse_formats",
    "period_of",
    "resolve_period",
]
