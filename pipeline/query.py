"""Read-only SQL over the warehouse: ad-hoc statements and named queries in `queries/named/`.

The connection is opened read-only and locked down before any user SQL runs: no file
access, no extensions, no settings changes. Parameters are always bound, never spliced.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipeline.errors import QueryError
from pipeline.sqlfiles import SqlFile, sql_file, sql_files
from pipeline.warehouse import connect

NAMED = "named"

_LOCKDOWN = (
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET lock_configuration = true",
)


def open_sandbox(db: Path | str) -> duckdb.DuckDBPyConnection:
    """A read-only connection to `db` that cannot touch files, extensions or settings."""
    con = connect(db, read_only=True)
    for statement in _LOCKDOWN:
        con.execute(statement)
    return con


def run_sql(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object] | None = None
) -> pl.DataFrame:
    """Run one statement with bound parameters and return its rows."""
    try:
        frame: pl.DataFrame = con.sql(sql, params=params or None).pl()
        return frame
    except duckdb.Error as e:
        raise QueryError(f"query failed: {str(e).splitlines()[0]}") from e
    except AttributeError as e:  # a statement with no result set (e.g. SET, PRAGMA)
        raise QueryError("query returned no rows to show; only SELECT-like statements run") from e


def named_queries() -> list[SqlFile]:
    """Every named query, for `rmslog queries`."""
    return sql_files(NAMED)


def run_named(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, str] | None = None
) -> pl.DataFrame:
    """Run a named query, binding its declared parameters (defaults where not given)."""
    query = sql_file(NAMED, name)
    values: dict[str, object] = dict(query.defaults())
    for key, value in (params or {}).items():
        if key not in values:
            raise QueryError(f"query {name} has no parameter {key!r}; it has {list(values)}")
        values[key] = value
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise QueryError(f"query {name} needs --param for: {', '.join(missing)}")
    return run_sql(con, query.sql, values)
