"""Report stage: the auditor's HTML report (self-contained, offline) and its exports."""

from pipeline.report.build import ReportResult, build_report, parse_formats
from pipeline.report.data import TABLES, ReportData, ReportOptions, collect_report_data
from pipeline.report.period import EVERYTHING, Period, PeriodKind, period_of, resolve_period
from pipeline.report.pseudonym import load_pseudonym_key

__all__ = [
    "EVERYTHING",
    "TABLES",
    "Period",
    "PeriodKind",
    "ReportData",
    "ReportOptions",
    "ReportResult",
    "build_report",
    "collect_report_data",
    "load_pseudonym_key",
    "parse_formats",
    "period_of",
    "resolve_period",
]
