"""Attribution and rollups kept up to date as rows arrive, not recomputed on every read.

`key_usage` and the rollup tables are derived from `requests` only, inside ingest's
transactions, so a crash or a re-run can never leave them out of step:

1. the store notes every row it inserts in the temp table `_arrived` (`ARRIVED`);
2. before the commit, `apply_arrivals` re-attributes the tenant-key calls of the
   correlation ids that arrived (new key calls, and older ones whose origin arrived
   now or changed), with the rule of `queries/derive/key-usage.sql` run on just the
   requests that carry those ids;
3. then it recomputes the rollups of the UTC days that arrived or changed, from
   `key_usage` and `requests` of those days (`queries/derive/<rollup>.sql`).

The work per commit is that of its correlation ids and days; one column of `requests`
(`correlation_id`) is scanned to find older rows that share an id with the new ones.
The same SQL over every request is the from-scratch recomputation (`rebuild`), which the
tests compare with the maintained tables.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import duckdb

from pipeline.sqlfiles import sql_file, sql_files

SUBDIR = "derive"
#: The temp table the store notes arrived rows in: row_id, ts, correlation_id.
ARRIVED = "_arrived"
#: Rollup tables and the column that places each row on a UTC day.
ROLLUPS = {
    "key_calls_by_time": "bucket_start",
    "key_calls_by_origin": "day",
    "requests_by_hour": "hour",
    "users_by_day": "day",
}
#: The columns of `requests` the attribution rule reads (a narrower copy is cheaper).
_SCOPE = (
    "ts, row_id, request_type, result, correlation_id, user_id, content_id, file_name, "
    "owner_email, template_id, c_info, c_ip, source_file, source_line"
)
#: The derived tables, for tests and tools that compare warehouses.
TABLES = ("key_usage", *ROLLUPS)


def create_macros(con: duckdb.DuckDBPyConnection, *, readers: bool = True) -> None:
    """(Re-)create the macros that compute rollup rows (`<rollup>_of(lo, hi)`) and, with
    `readers`, those that read them for any period (`key_calls_by_time_between`, ...;
    they need the rollup tables)."""
    for f in sql_files(SUBDIR):
        reader = f.name.endswith("_between")
        if f.name != "key-usage" and (readers or not reader):
            con.execute(f.sql)


def attribution_sql() -> str:
    """The attribution rule over the relation `key_usage_scope` (see the module doc)."""
    return sql_file(SUBDIR, "key-usage").sql


#: The warehouse migration that creates these tables.
MIGRATION_VERSION = 5
#: Migration 5: `key_usage` turns from a view into a maintained table, beside its
#: rollups. They are filled by `rebuild`, which the warehouse runs after a migration or a
#: change of the catalogue or of these rules (derived objects).
MIGRATION_STATEMENTS = (
    "DROP VIEW IF EXISTS key_usage",
    """CREATE TABLE key_usage (
        ts TIMESTAMP, row_id VARCHAR, operation VARCHAR, key_topology VARCHAR,
        result VARCHAR, correlation_id VARCHAR, origin_request_type VARCHAR,
        user_id VARCHAR, content_id VARCHAR, file_name VARCHAR, owner_email VARCHAR,
        template_id VARCHAR, c_info VARCHAR, c_ip VARCHAR, origin_ts TIMESTAMP,
        origin_row_id VARCHAR, is_orphan BOOLEAN, source_file VARCHAR,
        source_line BIGINT, origin_result VARCHAR, origin_source_file VARCHAR,
        origin_source_line BIGINT
    )""",
    """CREATE TABLE key_calls_by_time (
        bucket_start TIMESTAMP, operation VARCHAR, key_topology VARCHAR,
        calls BIGINT, failures BIGINT, orphans BIGINT
    )""",
    """CREATE TABLE key_calls_by_origin (
        day DATE, user_id VARCHAR, content_id VARCHAR, file_name VARCHAR,
        owner_email VARCHAR, c_ip VARCHAR, c_info VARCHAR, calls BIGINT,
        decrypts BIGINT, signs BIGINT, failures BIGINT, orphans BIGINT,
        first_ts TIMESTAMP, last_ts TIMESTAMP
    )""",
    """CREATE TABLE requests_by_hour (
        hour TIMESTAMP, requests BIGINT, first_ts TIMESTAMP, last_ts TIMESTAMP
    )""",
    "CREATE TABLE users_by_day (day DATE, user_id VARCHAR, requests BIGINT)",
)


def definition() -> list[str]:
    """The SQL these derived tables are computed with (for the warehouse's fingerprint of
    derived objects: when it changes, `rebuild` runs)."""
    return [f"{f.name}\n{f.sql}" for f in sql_files(SUBDIR)]


def rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """(Re-)create the macros, then recompute `key_usage` and every rollup from scratch
    from `requests`: after the migration that creates them, when the catalogue or the
    rules change, and for rows put in `requests` by other means than ingest (tests)."""
    create_macros(con)
    con.execute("DELETE FROM key_usage")
    con.execute("CREATE OR REPLACE TEMP VIEW key_usage_scope AS SELECT * FROM requests")
    try:
        con.execute(f"INSERT INTO key_usage {attribution_sql()}")
    finally:
        con.execute("DROP VIEW IF EXISTS key_usage_scope")
    for table in ROLLUPS:
        con.execute(f"DELETE FROM {table}")  # noqa: S608
        con.execute(f"INSERT INTO {table} SELECT * FROM {table}_of('-infinity', 'infinity')")  # noqa: S608


def reference(con: duckdb.DuckDBPyConnection, table: str) -> duckdb.DuckDBPyRelation:
    """`table` recomputed from scratch from `requests` (key_usage) or `key_usage` and
    `requests` (rollups), for comparison with the maintained table."""
    if table == "key_usage":
        con.execute("CREATE OR REPLACE TEMP VIEW key_usage_scope AS SELECT * FROM requests")
        return con.sql(attribution_sql())
    return con.sql(f"SELECT * FROM {table}_of('-infinity', 'infinity')")  # noqa: S608


def track_arrivals(con: duckdb.DuckDBPyConnection) -> None:
    """Create the (per-connection) table the store notes inserted rows in."""
    con.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _arrived "
        "(row_id VARCHAR, ts TIMESTAMP, correlation_id VARCHAR, request_type VARCHAR)"
    )


def apply_arrivals(con: duckdb.DuckDBPyConnection) -> None:
    """Bring `key_usage` and the rollups up to date with the rows noted in `_arrived`,
    then forget them. Runs inside the caller's transaction, before its COMMIT."""
    n, lo, hi = con.execute("SELECT count(*), min(ts), max(ts) FROM _arrived").fetchall()[0]
    if not n:
        return
    _attribute(con, lo, hi)
    days = [
        row[0]
        for row in con.execute(
            "SELECT DISTINCT CAST(ts AS DATE) FROM _arrived "
            "UNION SELECT CAST(ts AS DATE) FROM _gone ORDER BY 1"
        ).fetchall()
    ]
    for start, end in _runs(days):
        refresh_rollups(con, start, end)
    con.execute("DELETE FROM _arrived")
    con.execute("DROP TABLE IF EXISTS _gone")
    con.execute("DROP TABLE IF EXISTS key_usage_scope")


def _attribute(con: duckdb.DuckDBPyConnection, lo: datetime, hi: datetime) -> None:
    """Re-attribute every key call that shares a correlation id with an arrived row, and
    attribute arrived key calls without one (orphans by definition)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _corr AS "
        "SELECT DISTINCT correlation_id FROM _arrived WHERE correlation_id IS NOT NULL"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE key_usage_scope AS SELECT {_SCOPE} FROM requests "  # noqa: S608
        "WHERE correlation_id IN (SELECT correlation_id FROM _corr)"
    )
    con.execute(
        f"INSERT INTO key_usage_scope SELECT {_SCOPE} FROM requests "  # noqa: S608
        "SEMI JOIN (SELECT row_id, ts FROM _arrived a JOIN request_types t "
        "  ON t.name = a.request_type AND t.key_topology IS NOT NULL "
        "  WHERE a.correlation_id IS NULL) a "
        "ON requests.row_id = a.row_id AND requests.ts = a.ts "
        "WHERE requests.ts BETWEEN $lo AND $hi",
        {"lo": lo, "hi": hi},
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _gone AS SELECT rowid AS rid, ts FROM key_usage "
        "WHERE correlation_id IN (SELECT correlation_id FROM _corr)"
    )
    con.execute("DELETE FROM key_usage WHERE rowid IN (SELECT rid FROM _gone)")
    con.execute(f"INSERT INTO key_usage {attribution_sql()}")
    con.execute("DROP TABLE _corr")


def refresh_rollups(con: duckdb.DuckDBPyConnection, first: date, last: date) -> None:
    """Recompute every rollup's rows of the UTC days `first`..`last` (inclusive)."""
    lo = datetime.combine(first, time.min)
    hi = datetime.combine(last + timedelta(days=1), time.min)
    for table, column in ROLLUPS.items():
        con.execute(
            f"DELETE FROM {table} WHERE {column} >= $lo AND {column} < $hi",  # noqa: S608
            {"lo": lo, "hi": hi},
        )
        con.execute(
            f"INSERT INTO {table} SELECT * FROM {table}_of($lo, $hi)",  # noqa: S608
            {"lo": lo, "hi": hi},
        )


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days: [(first, last), ...]."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs
