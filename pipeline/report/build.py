"""`build_report`: collect the period's tables, write the HTML and the exports, judge --fail-on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from pipeline.errors import UsageError
from pipeline.report.data import ReportData, ReportOptions, collect_report_data
from pipeline.report.exports import EXPORT_FORMATS, export_name, write_atomically, write_exports
from pipeline.report.html import render_html
from pipeline.severity import SEVERITIES, severity_at_least
from pipeline.triage import CLOSED, hand_off, json_value


@dataclass(frozen=True)
class ReportResult:
    html: Path
    files: tuple[Path, ...]  # the HTML first, then the exports
    key_calls: int
    findings: int  # findings overlapping the period
    #: of those, at or above --fail-on, neither closed (false-positive, benign) nor
    #: suppressed (0 without --fail-on)
    failing_findings: int
    log_records: int = 0  # log records of the period; 0: no log covers it (`--require-data`)
    #: The period's new and changed findings in the hand-off schema (`report --json`).
    changes: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    #: The period's UTC bounds (start included, end excluded), also for all data.
    bounds: tuple[datetime, datetime] | None = None

    @property
    def failed(self) -> bool:
        """True when `--fail-on` was given and a finding at or above it exists."""
        return self.failing_findings > 0


def parse_formats(text: str) -> tuple[str, ...]:
    """`html,csv,xlsx` -> the export formats (the HTML report is always written)."""
    asked = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = sorted(set(asked) - {"html", *EXPORT_FORMATS})
    if unknown:
        raise UsageError(
            f"unknown --format {', '.join(unknown)}; choose from html, {', '.join(EXPORT_FORMATS)}"
        )
    return tuple(f for f in EXPORT_FORMATS if f in asked)


def check_fail_on(level: str | None) -> str | None:
    if level is not None and level not in SEVERITIES:
        raise UsageError(f"--fail-on must be one of {', '.join(SEVERITIES)}, not {level!r}")
    return level


def build_report(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    options: ReportOptions | None = None,
    *,
    label: str | None = None,
) -> ReportResult:
    """Write `report-<label>.html` (and the exports asked for) into `out_dir`.

    Each file is written to a temp file and renamed over the old one, so re-running a
    period replaces its files and a failed run leaves the previous ones intact.
    """
    options = options or ReportOptions()
    fail_on = check_fail_on(options.fail_on)
    label = label or options.period.label
    data = collect_report_data(con, options)
    out_dir.mkdir(parents=True, exist_ok=True)
    formats = tuple(f for f in options.formats if f != "html")
    html = render_html(data, [export_name(label, None, f) for f in formats])
    exports = write_exports(data, out_dir, label, formats)
    target = out_dir / export_name(label, None, "html")
    write_atomically(target, lambda p: p.write_text(html, encoding="utf-8"))
    findings = data["findings"]
    # One ranking for detect and report: an unknown severity counts as the worst. Findings
    # closed as false-positive or benign, and suppressed ones, do not count (pipeline.triage).
    counted = findings.filter(~findings["suppressed"] & ~findings["status"].is_in(CLOSED))
    failing = sum(severity_at_least(s, fail_on) for s in counted["severity"]) if fail_on else 0
    return ReportResult(
        html=target,
        files=(target, *exports),
        key_calls=int(data["summary"]["key_calls"][0]),
        findings=findings.height,
        failing_findings=failing,
        log_records=int(data["summary"]["requests"][0]),
        changes=tuple(report_changes(data)),
        bounds=(data.start, data.end),
    )


def report_changes(data: ReportData) -> list[dict[str, Any]]:
    """The report's findings (its scope, its period, the suppressed ones too) as `report
    --json` hands them on, in the schema of `detect --json` (`pipeline.triage.hand_off`),
    relative to the previous period of equal length: `new` when the finding's first record
    lies in this period, `changed` when it began earlier and continued into this period.
    A finding that ended before the period is not the report's and is not listed; a report
    over all data has no previous period, so every finding is new. What the report
    withholds (pseudonymised entities, summaries and notes) is withheld here too."""
    since = data.start if data.period.start is not None else None
    return [
        hand_off(
            {
                **row,
                "change": "new" if since is None or row["first_ts"] >= since else "changed",
                "firing": True,  # the report lists the findings detect keeps, all firing
            }
        )
        for row in data["findings"].iter_rows(named=True)
    ]


def hand_off_head(options: ReportOptions, result: ReportResult) -> dict[str, Any]:
    """`report --json` before its `changes`: what was reported on, and the files."""
    start, end = result.bounds or (None, None)
    hide_people = options.pseudonym_key is not None
    return {
        "period": options.period.label,
        "start": json_value(start),
        "end": json_value(end),  # excluded
        "scope": options.scope.describe(hide_people=hide_people),
        "pseudonymized": hide_people,
        "files": [str(p) for p in result.files],
        "log_records": result.log_records,
        "key_calls": result.key_calls,
        "findings": result.findings,
        "failing_findings": result.failing_findings,
        "findings_current": options.detection is None or options.detection.status.current,
    }
