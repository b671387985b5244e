"""Build the self-contained HTML report from the warehouse."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import duckdb
import jinja2
import polars as pl

from pipeline.report import charts
from pipeline.sqlfiles import sql_file


@dataclass(frozen=True)
class ReportResult:
    html: Path
    key_calls: int
    findings: int


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def _frame(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, object]) -> pl.DataFrame:
    query = sql_file("report", name)
    bound = {p.name: params.get(p.name, p.default) for p in query.params}
    frame: pl.DataFrame = con.sql(query.sql, params=bound).pl()
    return frame


def build_report(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    label: str = "all",
) -> ReportResult:
    """Write `report-<label>.html` into `out_dir`, atomically; return where it is."""
    params: dict[str, object] = {
        "from_ts": start or datetime(1970, 1, 1),
        "to_ts": end or datetime(9999, 12, 31),
    }
    per_day = _frame(con, "key-calls-per-day", params)
    summary = _frame(con, "summary", params).row(0, named=True)
    operations = (
        per_day.group_by("operation", "key_topology")
        .agg(pl.col("calls").sum())
        .sort("calls", descending=True)
    )
    html = (
        _env()
        .get_template("report.html.j2")
        .render(
            period_label=label,
            generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            version=version("rmslog"),
            summary=summary,
            operations=operations.iter_rows(named=True),
            key_chart=charts.key_calls_per_day(per_day),
            plotly_js=charts.plotly_js(),
        )
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"report-{label}.html"
    _write_atomically(target, html)
    return ReportResult(target, int(summary["key_calls"]), int(summary["findings"]))


def _write_atomically(target: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
