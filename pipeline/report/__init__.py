"""Report stage: the auditor's HTML report (self-contained, offline) and its exports."""

from pipeline.report.html import ReportResult, build_report

__all__ = ["ReportResult", "build_report"]
