"""Report stage: the auditor's HTML report (self-contained, offline) and its exports.

Names load on first use (PEP 562): `from pipeline.report.period import PeriodKind`
must not pull in Plotly, Jinja2 and Polars for the command line's `--help`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.report.build import (
        ReportResult,
        build_report,
        check_fail_on,
        hand_off_head,
        parse_formats,
    )
    from pipeline.report.data import (
        TABLES,
        ReportData,
        ReportDetection,
        ReportOptions,
        collect_report_data,
    )
    from pipeline.report.period import EVERYTHING, Period, PeriodKind, period_of, resolve_period
    from pipeline.report.pseudonym import load_pseudonym_key

#: Each public name and the module that defines it.
_HOME = {
    "ReportResult": "build",
    "build_report": "build",
    "parse_formats": "build",
    "check_fail_on": "build",
    "hand_off_head": "build",
    "ReportDetection": "data",
    "TABLES": "data",
    "ReportData": "data",
    "ReportOptions": "data",
    "collect_report_data": "data",
    "EVERYTHING": "period",
    "Period": "period",
    "PeriodKind": "period",
    "period_of": "period",
    "resolve_period": "period",
    "load_pseudonym_key": "pseudonym",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOME[name]}"), name)


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
    "hand_off_head",
    "load_pseudonym_key",
    "parse_formats",
    "period_of",
    "resolve_period",
]
