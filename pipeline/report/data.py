"""The tables behind the report: one SQL file under `queries/report/` each.

`collect_report_data` materialises the period's tenant-key operations once (the
`report_key_usage` temp table, pseudonymised on request), then runs every table query
with bound parameters. The frames it returns are what the HTML shows and what every
export writes, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

from pipeline.detect.rules import DetectSummary, bound_params
from pipeline.detect.status import DetectionStatus, detection_status
from pipeline.errors import QueryError
from pipeline.report.period import EVERYTHING, Period
from pipeline.report.pseudonym import pseudonym_params
from pipeline.settings import Settings
from pipeline.sqlfiles import SqlFile, sql_file

SUBDIR = "report"

#: Report tables in the order the report presents them; names are the SQL file names.
TABLES = (
    "summary",
    "key-calls-by-operation",
    "key-calls-over-time",
    "key-calls-by-weekday-hour",
    "top-users",
    "top-apps",
    "top-documents",
    "top-ips",
    "findings",
    "finding-evidence",
    "coverage-gaps",
    "rejected-lines",
    "late-arrivals",
    "refused-files",
    "source-changes",
    "evidence-manifest",
)

#: Periods up to this many days are charted per hour, longer ones per day.
HOURLY_UP_TO_DAYS = 3


@dataclass(frozen=True)
class ReportDetection:
    """What the report says about detection: the settings used, whether the findings cover
    the warehouse's data, and the detect run the report made first (None when it made none)."""

    settings: Settings
    status: DetectionStatus
    ran: DetectSummary | None = None


@dataclass(frozen=True)
class ReportOptions:
    """What to report on and how. The CLI builds one from its options."""

    period: Period = EVERYTHING
    formats: tuple[str, ...] = ("html",)
    fail_on: str | None = None  # low | medium | high
    pseudonym_key: bytes | None = field(default=None, repr=False)
    settings: Settings = field(default_factory=Settings)
    top: int = 20
    evidence_limit: int = 1000  # evidence records per finding in the exports
    generated_at: datetime | None = None  # UTC; None = now (tests pin it)
    #: None: the report checks the findings' status itself (and runs no detect).
    detection: ReportDetection | None = None


@dataclass(frozen=True)
class ReportData:
    period: Period
    start: datetime  # concrete bounds, also for the all-data period
    end: datetime
    bucket: str  # "hour" or "day"
    generated_at: datetime
    settings: Settings
    pseudonymized: bool
    evidence_limit: int
    tables: dict[str, pl.DataFrame]
    detection: ReportDetection
    #: Orphan key calls of the period whose origin may still arrive (not judged yet).
    awaiting_origin: int = 0

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.tables[name]


def collect_report_data(con: duckdb.DuckDBPyConnection, options: ReportOptions) -> ReportData:
    """Run every report query for the options' period; return the frames by table name."""
    generated_at = options.generated_at or datetime.now(UTC).replace(tzinfo=None)
    start, end = _bounds(con, options.period, generated_at.date())
    bucket = "hour" if end - start <= timedelta(days=HOURLY_UP_TO_DAYS) else "day"
    params: dict[str, object] = {
        "from_ts": start,
        "to_ts": end,
        "now": generated_at,
        "bucket": bucket,
        "top": options.top,
        "evidence_limit": options.evidence_limit,
        "ingest_gap": "5 minutes",
        **options.settings.sql_params(),
        **pseudonym_params(options.pseudonym_key),
    }
    _ensure_refused_files(con)
    detection = options.detection or ReportDetection(
        options.settings, detection_status(con, options.settings, generated_at)
    )
    awaiting = _awaiting_origin(con, params, options.settings, generated_at)
    _run(con, sql_file(SUBDIR, "period-key-usage"), params)
    try:
        tables = {name: _frame(con, sql_file(SUBDIR, name), params) for name in TABLES}
    finally:
        con.execute("DROP TABLE IF EXISTS temp.report_key_usage").fetchall()
    return ReportData(
        period=options.period,
        start=start,
        end=end,
        bucket=bucket,
        generated_at=generated_at,
        settings=options.settings,
        pseudonymized=options.pseudonym_key is not None,
        evidence_limit=options.evidence_limit,
        tables=tables,
        detection=detection,
        awaiting_origin=awaiting,
    )


def _awaiting_origin(
    con: duckdb.DuckDBPyConnection, params: dict[str, object], settings: Settings, now: datetime
) -> int:
    """Orphan key calls of the period not judged yet, as orphan-key-calls judges them now."""
    try:
        grace = bound_params(["orphan-key-calls"], None, settings)["orphan-key-calls"]
        newest = con.execute("SELECT max(ts) FROM requests").fetchall()[0][0]
        query = sql_file(SUBDIR, "awaiting-origin")
        bind = {**params, "grace_minutes": grace["grace_minutes"], "newest_ts": newest or now}
        return int(con.execute(query.sql, _bind(query, bind)).fetchall()[0][0])
    except duckdb.CatalogException:
        return 0  # a warehouse from before ingest runs were recorded: nothing is pending


def _bounds(
    con: duckdb.DuckDBPyConnection, period: Period, today: date
) -> tuple[datetime, datetime]:
    """The period's UTC instants; for all data, the whole UTC days that hold records."""
    if period.start is not None and period.end is not None:
        return _midnight(period.start), _midnight(period.end)
    first, last = con.execute("SELECT min(ts), max(ts) FROM requests").fetchall()[0]
    if first is None:
        return _midnight(today), _midnight(today)
    return _midnight(first.date()), _midnight(last.date() + timedelta(days=1))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _bind(query: SqlFile, params: dict[str, object]) -> dict[str, object]:
    return {p.name: params.get(p.name, p.default) for p in query.params}


def _run(con: duckdb.DuckDBPyConnection, query: SqlFile, params: dict[str, object]) -> None:
    try:
        con.execute(query.sql, _bind(query, params)).fetchall()
    except duckdb.Error as e:
        raise QueryError(f"report query {query.name} ({query.path}) failed: {e}") from e


def _frame(
    con: duckdb.DuckDBPyConnection, query: SqlFile, params: dict[str, object]
) -> pl.DataFrame:
    try:
        frame: pl.DataFrame = con.sql(query.sql, params=_bind(query, params)).pl()
    except duckdb.Error as e:
        raise QueryError(f"report query {query.name} ({query.path}) failed: {e}") from e
    return frame


def _ensure_refused_files(con: duckdb.DuckDBPyConnection) -> None:
    """A warehouse made before `refused_files` existed: report an empty one, not a crash."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'refused_files'"
    ).fetchall()[0][0]
    if not exists:
        con.execute(
            "CREATE TEMP TABLE refused_files (path VARCHAR, reason VARCHAR, refused_at TIMESTAMP)"
        ).fetchall()
