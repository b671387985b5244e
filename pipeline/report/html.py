"""The self-contained HTML report: Jinja2 with autoescape, plotly.js embedded once."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import polars as pl

from pipeline.report import charts, narrative
from pipeline.report.data import LOCATION, ReportData

#: Most rows a table shows in the HTML; the exports always hold every row.
HTML_ROWS = {"finding-evidence": 20, "coverage-gaps": 200, "evidence-manifest": 1000}
#: Tables the template shows as tables (the others feed charts and sentences).
HTML_TABLES = (
    "comparison",
    "key-calls-by-operation",
    "top-users",
    "top-apps",
    "top-documents",
    "top-ips",
    "key-calls-by-country",
    "findings",
    "coverage-gaps",
    "rejected-lines",
    "late-arrivals",
    "refused-files",
    "source-changes",
    "evidence-manifest",
    "keyvault-by-day",
    "keyvault-identities",
    "keyvault-management",
    "keyvault-mismatched-hours",
)


def _local(zone: str) -> Any:
    """A filter: a naive UTC timestamp as the tenant's wall-clock time (`—` for none)."""
    tz = ZoneInfo(zone)

    def local(v: datetime | None) -> str:
        return "—" if v is None else f"{v.replace(tzinfo=UTC).astimezone(tz):%Y-%m-%d %H:%M:%S}"

    return local


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda v: "—" if v is None else f"{v:,}"
    env.filters["pct"] = lambda v: "—" if v is None else f"{100 * v:.1f}%"
    env.filters["ts"] = lambda v: "—" if v is None else f"{v:%Y-%m-%d %H:%M:%S}"
    return env


def _rows(frame: pl.DataFrame, limit: int | None = None) -> list[dict[str, Any]]:
    return (frame if limit is None else frame.head(limit)).to_dicts()


def _evidence_by_finding(evidence: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    shown = evidence.filter(pl.col("evidence_no") <= HTML_ROWS["finding-evidence"])
    return {
        str(key[0]): part.to_dicts()
        for key, part in shown.partition_by("finding_id", as_dict=True).items()
    }


def render_html(data: ReportData, exports: list[str]) -> str:
    """The report as one HTML document. With a tenant time zone other than UTC, its
    tables show the tenant's wall-clock time beside UTC (`local_zone`)."""
    tables = data.tables
    env = _env()
    env.filters["lt"] = _local(data.settings.timezone)
    # The findings' times: UTC and, with a tenant zone, its wall-clock time; under
    # `--clock local` the tenant's first. The tenant's columns carry class="local".
    clocks = [{"zone": "UTC", "fmt": env.filters["ts"], "local": False}]
    if data.local_zone:
        local = {"zone": data.local_zone, "fmt": env.filters["lt"], "local": True}
        clocks = [local, *clocks] if data.clock_zone != "UTC" else [*clocks, local]
    return env.get_template("report.html.j2").render(
        d=data,
        period=data.period,
        generated_at=f"{data.generated_at:%Y-%m-%d %H:%M} UTC",
        version=version("rmslog"),
        sentences=narrative.summary_sentences(data),
        coverage=narrative.coverage_sentence(data),
        summary=tables["summary"].row(0, named=True),
        keyvault=tables["keyvault-coverage"].row(0, named=True),
        t={name: _rows(tables[name], HTML_ROWS.get(name)) for name in HTML_TABLES},
        total={name: f.height for name, f in tables.items()},
        limits=HTML_ROWS,
        located=LOCATION in tables["top-ips"].columns,
        evidence=_evidence_by_finding(tables["finding-evidence"]),
        charts={
            "over_time": charts.key_calls_over_time(
                tables["key-calls-over-time"], data.bucket, data.clock_zone
            ),
            "heatmap": charts.weekday_hour_heatmap(
                tables["key-calls-by-weekday-hour"], data.settings
            ),
            "top_users": charts.top_users(tables["top-users"]),
        },
        plotly_js=charts.plotly_js(),
        exports=exports,
        metric_names={
            "requests": "Log records",
            "users": "Distinct user ids",
            "key_calls": "Tenant-key calls",
            "orphan_key_calls": "Orphan key calls",
            "failed_key_calls": "Failed key calls",
            "findings": "Findings",
        },
        local_zone=data.local_zone,
        clocks=clocks,
        work_days=", ".join(charts.WEEKDAYS[d - 1] for d in sorted(data.settings.work_days)),
    )
