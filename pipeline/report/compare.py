"""The previous-period comparison: the summary's figures for the period of equal length just
before, the change, and whether the change is unusual against a baseline of earlier periods.

The baseline is the `BASELINE_PERIODS` periods of equal length before the report's (the
previous one included) that hold log records; a figure is marked unusual when at least
`MIN_BASELINE` of them exist and it lies more than `UNUSUAL_SD` standard deviations from
their mean (or differs at all from a baseline that never varied). The figures come from
the same `summary` query as section 1, so in a scoped report they are the scope's.
"""

from __future__ import annotations

import statistics
from datetime import datetime

import duckdb
import polars as pl

from pipeline.sqlfiles import sql_file

BASELINE_PERIODS = 8
MIN_BASELINE = 3
UNUSUAL_SD = 3.0
METRICS = ("requests", "users", "key_calls", "orphan_key_calls", "failed_key_calls", "findings")

SCHEMA = pl.Schema(
    {
        "metric": pl.String(),
        "current": pl.Int64(),
        "previous": pl.Int64(),
        "change": pl.Int64(),
        "change_pct": pl.Float64(),
        "previous_start": pl.Datetime("us"),
        "previous_end": pl.Datetime("us"),
        "baseline_periods": pl.Int64(),
        "baseline_mean": pl.Float64(),
        "baseline_sd": pl.Float64(),
        "unusual": pl.Boolean(),
    }
)


def comparison(
    con: duckdb.DuckDBPyConnection,
    params: dict[str, object],
    start: datetime,
    end: datetime,
    *,
    whole_history: bool,
) -> pl.DataFrame:
    """One row per summary figure; empty for a report over all data (no previous period)."""
    length = end - start
    if whole_history or length.total_seconds() <= 0:
        return pl.DataFrame(schema=SCHEMA)
    query = sql_file("report", "summary")
    figures: list[dict[str, int]] = []
    for k in range(BASELINE_PERIODS + 1):
        bound = {**params, "from_ts": start - k * length, "to_ts": end - k * length}
        cursor = con.execute(
            query.sql, {p.name: bound.get(p.name, p.default) for p in query.params}
        )
        names = [d[0] for d in cursor.description or []]
        row = dict(zip(names, cursor.fetchall()[0], strict=True))
        figures.append({m: int(row[m] or 0) for m in METRICS})
    current, previous = figures[0], figures[1]
    baseline = [f for f in figures[1:] if f["requests"]]
    rows = []
    for metric in METRICS:
        values = [f[metric] for f in baseline]
        mean = statistics.fmean(values) if values else None
        sd = statistics.pstdev(values) if len(values) > 1 else None
        unusual = False
        if mean is not None and sd is not None and len(values) >= MIN_BASELINE:
            deviation = abs(current[metric] - mean)
            unusual = deviation > UNUSUAL_SD * sd if sd > 0 else deviation > 0
        change = current[metric] - previous[metric]
        rows.append(
            {
                "metric": metric,
                "current": current[metric],
                "previous": previous[metric],
                "change": change,
                "change_pct": round(change / previous[metric], 4) if previous[metric] else None,
                "previous_start": start - length,
                "previous_end": start,
                "baseline_periods": len(values),
                "baseline_mean": None if mean is None else round(mean, 2),
                "baseline_sd": None if sd is None else round(sd, 2),
                "unusual": unusual,
            }
        )
    return pl.DataFrame(rows, schema=SCHEMA)
