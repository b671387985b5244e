"""The report's plain sentences: the numbers of the summary, said in words.

Every sentence is built from the same frames as the tables and exports. The template
escapes them (they may quote log values), so these are plain strings, never markup.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from pipeline.report.charts import WEEKDAYS
from pipeline.report.data import ReportData


def _n(value: int, word: str, plural: str | None = None) -> str:
    return f"{value:,} {word if value == 1 else plural or word + 's'}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0%"


def _ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def summary_sentences(data: ReportData) -> list[str]:
    """The summary section: period, coverage, key use, findings, completeness."""
    return [
        _records_sentence(data),
        _key_use_sentence(data),
        _working_hours_sentence(data),
        _findings_sentence(data),
        coverage_sentence(data),
        _completeness_sentence(data),
    ]


def _records_sentence(data: ReportData) -> str:
    s = data["summary"].row(0, named=True)
    if not s["requests"]:
        return (
            f"No logs cover this period: the warehouse holds no log record for "
            f"{data.period.describe()}, so this report cannot say what happened in it."
        )
    return (
        f"The warehouse holds {_n(s['requests'], 'log record')} for "
        f"{data.period.describe()}, from {_ts(s['first_ts'])} to {_ts(s['last_ts'])} UTC, "
        f"made by {_n(s['users'], 'distinct user id')}."
    )


def _key_use_sentence(data: ReportData) -> str:
    s = data["summary"].row(0, named=True)
    total = int(s["key_calls"])
    if not total:
        if not s["requests"]:  # silence is not evidence: nothing was logged, or downloaded
            return "No logs cover this period, so nothing can be said about the tenant key's use."
        elapsed, empty = coverage_hours(data)
        if empty:
            return (
                f"The tenant key was not used in the {elapsed - empty:,} of {elapsed:,} hours "
                "that logs cover (no KMSP* or KeyVault* operation); the other hours have no "
                "log record at all."
            )
        return "The tenant key was not used in this period (no KMSP* or KeyVault* operation)."
    ops = data["key-calls-by-operation"]
    parts = ", ".join(
        f"{op} {calls:,} ({_pct(calls, total)})"
        for op, calls in ops.select("operation", "key_calls").iter_rows()
    )
    topologies = " and ".join(sorted(set(ops["key_topology"].drop_nulls().to_list())))
    orphans, failed = int(s["orphan_key_calls"]), int(s["failed_key_calls"])
    awaiting = data.awaiting_origin
    pending = (
        f" {_n(awaiting, 'orphan call')} {'is' if awaiting == 1 else 'are'} awaiting origin "
        "(not judged yet: the originating request may still arrive)."
        if awaiting
        else ""
    )
    return (
        f"The tenant key was used {_n(total, 'time')} through the {topologies} topology: "
        f"{parts}. {_n(orphans, 'call')} ({_pct(orphans, total)}) had no originating request "
        f"(orphans) and {_n(failed, 'call')} did not succeed.{pending}"
    )


def _working_hours_sentence(data: ReportData) -> str:
    heat, st = data["key-calls-by-weekday-hour"], data.settings
    total = int(heat["key_calls"].sum())
    outside = int(heat.filter(~pl.col("in_working_hours"))["key_calls"].sum())
    days = ", ".join(WEEKDAYS[d - 1] for d in sorted(st.work_days))
    hours = f"({days} {st.work_start:02d}:00–{st.work_end:02d}:00, {st.timezone})"
    if not outside:
        return f"No tenant-key call fell outside working hours {hours}."
    return (
        f"{_n(outside, 'tenant-key call')} ({_pct(outside, total)}) fell outside working "
        f"hours {hours}."
    )


def _findings_sentence(data: ReportData) -> str:
    findings = data["findings"]
    if not data.detection.status.current:
        found = (
            f"{_n(findings.height, 'finding')} overlap"
            if findings.height
            else "no finding overlaps"
        )
        return (
            f"Detection does not cover all of this warehouse's data "
            f"({'; '.join(data.detection.status.stale)}): {found} this period so far, "
            "which is no all-clear."
        )
    if findings.is_empty():
        return "No finding overlaps this period."
    counts = findings.group_by("severity").len().sort("severity")
    by = dict(counts.iter_rows())
    order = [s for s in ("high", "medium", "low") if s in by] + sorted(
        s for s in by if s not in ("high", "medium", "low")
    )
    detail = ", ".join(f"{by[s]:,} {s}" for s in order)
    return f"{_n(findings.height, 'finding')} overlap this period: {detail}."


def coverage_hours(data: ReportData) -> tuple[int, int]:
    """(hours of the period that have passed, hours among them with no record)."""
    until = min(data.end, data.generated_at.replace(minute=0, second=0, microsecond=0))
    elapsed = max(0, int((until - data.start) / timedelta(hours=1)))
    return elapsed, int(data["coverage-gaps"]["hours"].sum())


def coverage_sentence(data: ReportData) -> str:
    elapsed, empty = coverage_hours(data)
    gaps = data["coverage-gaps"]
    if not elapsed:
        return "No hour of this period has passed yet, so no log can be expected."
    if not empty:
        return f"Every one of the {elapsed:,} hours of the period has log records."
    whole = int(gaps["whole_days"].sum())
    days = f", including {_n(whole, 'whole UTC day')}" if whole else ""
    return (
        f"Logs cover {elapsed - empty:,} of {elapsed:,} hours ({_pct(elapsed - empty, elapsed)}); "
        f"{_n(empty, 'hour')} in {_n(gaps.height, 'gap')} have no record at all{days}."
    )


def _completeness_sentence(data: ReportData) -> str:
    rejected = int(data["rejected-lines"]["lines"].sum())
    late = int(data["late-arrivals"]["late_records"].sum())
    refused = data["refused-files"].height
    files = data["evidence-manifest"].height
    changed = data["source-changes"].height
    changes = (
        f" {_n(changed, 'source file')} changed after it was read: what is stored from "
        f"{'it' if changed == 1 else 'them'} is no longer backed by the file."
        if changed
        else ""
    )
    return (
        f"{_n(files, 'source file')} fed this period; {_n(rejected, 'line')} "
        f"{'was' if rejected == 1 else 'were'} rejected, {_n(late, 'record')} arrived late "
        f"and {_n(refused, 'file')} {'is' if refused == 1 else 'are'} refused and not ingested."
        f"{changes}"
    )
