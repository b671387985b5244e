"""The DuckDB warehouse: opening it, and the tables and views every stage relies on.

Public names (tables, views, columns) are a contract documented in the README's data
dictionary; `tests/test_docs.py` keeps the two in step.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipeline import derive, schema
from pipeline.errors import WarehouseError
from pipeline.sqlfiles import sql_files

DEFAULT_DB = "rmslog.duckdb"
ENV_DB = "RMSLOG_DB"
#: The memory budget of one rmslog process, e.g. `2GiB` or `800MB` (default 1 GiB).
ENV_MEMORY = "RMSLOG_MEMORY_LIMIT"
DEFAULT_MEMORY_BYTES = 1 << 30
#: DuckDB gets this share of the budget; the rest is for Python, Arrow and Polars.
DUCKDB_SHARE = 0.6
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
}


def default_db_path() -> Path:
    """`$RMSLOG_DB`, else `./rmslog.duckdb`."""
    return Path(os.environ.get(ENV_DB) or DEFAULT_DB)


def memory_budget_bytes() -> int:
    """The process budget: `$RMSLOG_MEMORY_LIMIT` (`1GiB`, `800MB`, bytes), else 1 GiB."""
    text = os.environ.get(ENV_MEMORY, "").strip().lower().replace(" ", "")
    if not text:
        return DEFAULT_MEMORY_BYTES
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([a-z]*)", text)
    if not m or m.group(2) not in _UNITS:
        raise WarehouseError(
            f"${ENV_MEMORY}={os.environ[ENV_MEMORY]!r} is not a size; use e.g. 1GiB or 800MB"
        )
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def duckdb_memory_limit() -> str:
    """DuckDB's share of the budget (at least 64 MiB), as a DuckDB `memory_limit` value."""
    return f"{max(64, int(memory_budget_bytes() * DUCKDB_SHARE) >> 20)}MiB"


_spill: list[str] = []  # this process's spill folder, made on first use


def _spill_folder() -> str:
    """A private folder for one connection's spill files, inside a folder of this process
    that is removed when it exits. DuckDB creates it only when it spills, and deletes
    its files when the connection closes."""
    if not _spill:
        _spill.append(tempfile.mkdtemp(prefix="rmslog-spill-"))
        atexit.register(shutil.rmtree, _spill[0], ignore_errors=True)
    _spill.append("")
    return os.path.join(_spill[0], f"connection-{len(_spill) - 1}")


def connection_config() -> dict[str, str | bool | int | float | list[str]]:
    """What every warehouse connection is opened with: the memory limit, and a private
    temporary folder to spill to once it is reached (also read-only connections: the
    query sandbox keeps it after it turns file access off)."""
    return {"memory_limit": duckdb_memory_limit(), "temp_directory": _spill_folder()}


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
    if not con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'key_usage' AND NOT temporary"
    ).fetchall()[0][0]:
        derive.build(con)
    derive.create_macros(con)
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
            con = duckdb.connect(str(path), read_only=read_only, config=connection_config())
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
