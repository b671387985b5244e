"""The DuckDB warehouse: opening it, and the tables and views every stage relies on.

Public names (tables, views, columns) are a contract documented in the README's data
dictionary; `tests/test_docs.py` keeps the two in step.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipeline import interrupts, schema
from pipeline.errors import WarehouseError
from pipeline.sqlfiles import sql_files

DEFAULT_DB = "rmslog.duckdb"
ENV_DB = "RMSLOG_DB"


def default_db_path() -> Path:
    """`$RMSLOG_DB`, else `./rmslog.duckdb`."""
    return Path(os.environ.get(ENV_DB) or DEFAULT_DB)


def _requests_ddl() -> str:
    cols = ",\n    ".join(f"{c.name} {c.duckdb_type}" for c in schema.REQUEST_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS requests (\n    {cols}\n)"


_TABLES = (
    _requests_ddl(),
    """CREATE TABLE IF NOT EXISTS rejects (
        source_file VARCHAR NOT NULL,
        source_line BIGINT NOT NULL,
        reason VARCHAR NOT NULL,
        raw_line VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS ingested_files (
        path VARCHAR PRIMARY KEY,
        size BIGINT NOT NULL,
        sha256 VARCHAR NOT NULL,
        bytes_consumed BIGINT NOT NULL,
        rows_stored BIGINT NOT NULL,
        duplicates BIGINT NOT NULL,
        rejects BIGINT NOT NULL,
        first_ts TIMESTAMP,
        last_ts TIMESTAMP,
        ingested_at TIMESTAMP NOT NULL,
        fields_header VARCHAR
    )""",
    # Files `ingest` refused whole (not an RMS log, unreadable): the report's completeness
    # section lists them so an auditor sees what never reached `requests`.
    """CREATE TABLE IF NOT EXISTS refused_files (
        path VARCHAR PRIMARY KEY,
        reason VARCHAR NOT NULL,
        refused_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS findings (
        finding_id VARCHAR PRIMARY KEY,
        rule VARCHAR NOT NULL,
        severity VARCHAR NOT NULL,
        first_ts TIMESTAMP,
        last_ts TIMESTAMP,
        entity VARCHAR,
        summary VARCHAR,
        evidence_row_ids VARCHAR[]
    )""",
    """CREATE OR REPLACE TABLE request_types (
        name VARCHAR PRIMARY KEY,
        canonical VARCHAR NOT NULL,
        category VARCHAR NOT NULL,
        key_topology VARCHAR,
        causes_key_use BOOLEAN NOT NULL,
        description VARCHAR
    )""",
)


def _load_request_types(con: duckdb.DuckDBPyConnection) -> None:
    rows = [
        (
            rt.name,
            rt.canonical or rt.name,
            str(rt.category),
            str(rt.key_topology) if rt.key_topology else None,
            rt.causes_key_use,
            rt.description,
        )
        for rt in schema.REQUEST_TYPES
    ]
    con.executemany("INSERT INTO request_types VALUES (?, ?, ?, ?, ?, ?)", rows)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table and view if missing; refresh the request-type catalogue."""
    con.execute("BEGIN")
    for ddl in _TABLES:
        con.execute(ddl)
    _load_request_types(con)
    for view in sql_files("views"):
        con.execute(view.sql)
    con.execute("COMMIT")


class WarehouseBusy(WarehouseError):
    """Another process holds the warehouse (DuckDB allows one writer, or many readers)."""


def connect(
    path: Path | str, *, read_only: bool = False, wait_seconds: float = 0.0
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; wait up to `wait_seconds` while another process holds the lock."""
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(f"warehouse {path} does not exist; run `rmslog ingest` first")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as e:
            if "lock" not in str(e).lower():
                raise WarehouseError(f"cannot open warehouse {path}: {e}") from e
            if time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            raise WarehouseBusy(_lock_message(path, e, wait_seconds)) from e
        except duckdb.Error as e:
            raise WarehouseError(f"cannot open warehouse {path}: {e}") from e
    interrupts.track(con)  # Ctrl-C and SIGTERM stop its statement at once
    if not read_only:
        ensure_schema(con)
    return con


def _lock_message(path: Path, e: Exception, waited: float) -> str:
    pid = re.search(r"\(PID (\d+)\)", str(e))
    who = f" (PID {pid.group(1)})" if pid else ""
    after = f" after waiting {waited:g}s" if waited else ""
    return (
        f"warehouse {path} is in use by another rmslog process{who}{after}; "
        "wait for it to finish or use --wait SECONDS"
    )


@contextmanager
def open_warehouse(
    path: Path | str, *, read_only: bool = False, wait_seconds: float = 0.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """`connect` as a context manager that always closes the connection."""
    con = connect(path, read_only=read_only, wait_seconds=wait_seconds)
    try:
        yield con
    finally:
        con.close()
