"""The tables behind the report: one SQL file under `queries/report/` each.

`collect_report_data` runs every table query with bound parameters. The tables about
tenant-key calls and coverage read the rollups that ingest maintains (`key_calls_by_time`,
`key_calls_by_origin`, `requests_by_hour`, `users_by_day`), so a report over a year reads
a year of rollups and its findings' evidence, not a year of raw rows; user ids and IPs
are pseudonymised after aggregation, on request. The frames it returns are what the HTML
shows and what every export writes, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

from pipeline.detect.rules import DetectSummary, bound_params
from pipeline.detect.status import DetectionStatus, detection_status
from pipeline.errors import QueryError
from pipeline.geo import register_ip_locations
from pipeline.params import bind_params
from pipeline.report.compare import comparison
from pipeline.report.period import EVERYTHING, Clock, Period
from pipeline.report.pseudonym import pseudonym_params
from pipeline.report.scope import Scope, apply_scope, drop_scope
from pipeline.settings import Settings
from pipeline.sqlfiles import SqlFile, sql_file

SUBDIR = "report"

#: Report tables in the order the report presents them; names are the SQL file names.
TABLES = (
    "summary",
    "comparison",  # not a SQL file: pipeline.report.compare, from the summary query
    "key-calls-by-operation",
    "key-calls-over-time",
    "key-calls-by-weekday-hour",
    "top-users",
    "top-apps",
    "top-documents",
    "top-ips",
    "key-calls-by-country",
    "findings",
    "finding-evidence",
    "coverage-gaps",
    "rejected-lines",
    "late-arrivals",
    "refused-files",
    "source-changes",
    "evidence-manifest",
    # Key Vault reconciliation (issue 13)
    "keyvault-coverage",
    "keyvault-by-day",
    "keyvault-identities",
    "keyvault-management",
    "keyvault-mismatched-hours",
)

#: Tables about the logs themselves, never scoped (`report --user` etc.): run before the
#: scope's views are installed (see `pipeline.report.scope`).
UNSCOPED = (
    "coverage-gaps",
    "rejected-lines",
    "late-arrivals",
    "refused-files",
    "source-changes",
    "evidence-manifest",
)

#: The column the IP tables gain where a location database is set: "Berlin, DE", a label
#: such as "private" or "Microsoft", or empty when the database does not know the address.
LOCATION = "location"

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
    #: `--user/--document/--ip/--app`: restrict the report to these records.
    scope: Scope = field(default_factory=Scope)
    #: `--clock`: UTC, or the tenant's zone, for the chart's time axis and the tables.
    clock: Clock = Clock.UTC


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
    scope: Scope = field(default_factory=Scope)
    #: The zone of the time axis and of the tables' first time column (`--clock`):
    #: "UTC", or the tenant's zone under `--clock local`.
    clock_zone: str = "UTC"

    @property
    def local_zone(self) -> str | None:
        """The tenant's zone when it is not UTC (its times are then shown beside UTC)."""
        zone = self.settings.timezone
        return None if zone in ("UTC", "Etc/UTC") else zone

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.tables[name]


def collect_report_data(con: duckdb.DuckDBPyConnection, options: ReportOptions) -> ReportData:
    """Run every report query for the options' period; return the frames by table name."""
    generated_at = options.generated_at or datetime.now(UTC).replace(tzinfo=None)
    start, end = _bounds(con, options.period, generated_at.date())
    bucket = "hour" if end - start <= timedelta(days=HOURLY_UP_TO_DAYS) else "day"
    zone = options.settings.timezone
    clock_zone = zone if options.clock is Clock.LOCAL and zone not in ("UTC", "Etc/UTC") else "UTC"
    params: dict[str, object] = {
        "from_ts": start,
        "to_ts": end,
        "now": generated_at,
        "bucket": bucket,
        "clock_zone": clock_zone,
        "top": options.top,
        "evidence_limit": options.evidence_limit,
        "ingest_gap": "5 minutes",
        **options.settings.sql_params(),
        **pseudonym_params(options.pseudonym_key),
        **_mismatch_params(options.settings),
    }
    _ensure_refused_files(con)
    located = _register_locations(con, options.settings)
    detection = options.detection or ReportDetection(
        options.settings, detection_status(con, options.settings, generated_at)
    )
    unscoped = {name: _frame(con, sql_file(SUBDIR, name), params) for name in UNSCOPED}
    if options.scope:
        # Raw rejected lines may hold records of anyone: a scoped report withholds them.
        unscoped["rejected-lines"] = unscoped["rejected-lines"].with_columns(
            pl.lit(None, dtype=pl.String).alias("example_raw_line")
        )
        apply_scope(con, options.scope)
    try:
        awaiting = _awaiting_origin(con, params, options.settings, generated_at)
        tables = {
            name: unscoped[name]
            if name in unscoped
            else _evidence(con, params)
            if name == "finding-evidence"
            else comparison(con, params, start, end, whole_history=options.period.start is None)
            if name == "comparison"
            else _frame(con, sql_file(SUBDIR, name), params)
            for name in TABLES
        }
    finally:
        if options.scope:
            drop_scope(con)
    if not located:  # no location database: no column of empty locations
        tables = {name: frame.drop(LOCATION, strict=False) for name, frame in tables.items()}
        tables["key-calls-by-country"] = tables["key-calls-by-country"].clear()
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
        scope=options.scope,
        clock_zone=clock_zone,
    )


def _mismatch_params(settings: Settings) -> dict[str, object]:
    """key-log-mismatch's parameters as detect binds them, for the Key Vault tables."""
    bound = bound_params(["key-log-mismatch"], None, settings)["key-log-mismatch"]
    return {
        "mismatch_min_calls": bound["min_calls"],
        "mismatch_max_share": bound["max_share"],
    }


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
    first, last = con.execute(
        "SELECT min(first_ts), max(last_ts) FROM requests_by_hour"
    ).fetchall()[0]
    if first is None:
        return _midnight(today), _midnight(today)
    return _midnight(first.date()), _midnight(last.date() + timedelta(days=1))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _bind(query: SqlFile, params: dict[str, object]) -> dict[str, object]:
    """The query's parameters from `params` (which holds the settings too), header defaults
    typed by the one binder."""
    return bind_params(query.params, params, what=f"report query {query.name}")


def _evidence(con: duckdb.DuckDBPyConnection, params: dict[str, object]) -> pl.DataFrame:
    """The findings' evidence records, looked for between the findings' earliest first_ts
    and latest last_ts (every rule's evidence lies inside its finding's window), so a
    report does not scan the whole history for them; should a record be missing there,
    the whole history is searched, as before."""
    query = sql_file(SUBDIR, "finding-evidence")
    lo, hi = con.execute(
        "SELECT min(first_ts), max(last_ts) FROM findings "
        "WHERE last_ts >= CAST($from_ts AS TIMESTAMP) AND first_ts < CAST($to_ts AS TIMESTAMP)",
        {"from_ts": params["from_ts"], "to_ts": params["to_ts"]},
    ).fetchall()[0]
    if lo is None or hi is None:
        return _frame(con, query, params)
    frame = _frame(con, query, {**params, "evidence_lo": lo, "evidence_hi": hi})
    if frame.get_column("ts").null_count():
        frame = _frame(con, query, params)  # a record outside the window, or gone
    return frame


def _frame(
    con: duckdb.DuckDBPyConnection, query: SqlFile, params: dict[str, object]
) -> pl.DataFrame:
    try:
        frame: pl.DataFrame = con.sql(query.sql, params=_bind(query, params)).pl()
    except duckdb.Error as e:
        raise QueryError(f"report query {query.name} ({query.path}) failed: {e}") from e
    return frame


def _register_locations(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Fill the temp table `ip_locations` the IP tables join (`pipeline.geo`); True when a
    location database is set. Without one the table is left empty: the report then shows
    no location column at all rather than a column of blanks or bare labels."""
    geoip = settings.geoip_path()
    if geoip is None:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ip_locations (c_ip VARCHAR, label VARCHAR, "
            "city VARCHAR, country_code VARCHAR, country VARCHAR)"
        ).fetchall()
        return False
    register_ip_locations(con, geoip, settings.corporate_networks, settings.service_networks)
    return True


def _ensure_refused_files(con: duckdb.DuckDBPyConnection) -> None:
    """A warehouse made before `refused_files` existed: report an empty one, not a crash."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'refused_files'"
    ).fetchall()[0][0]
    if not exists:
        con.execute(
            "CREATE TEMP TABLE refused_files (path VARCHAR, reason VARCHAR, refused_at TIMESTAMP)"
        ).fetchall()
