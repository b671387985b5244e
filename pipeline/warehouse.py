"""The DuckDB warehouse: opening it, and the tables and views every stage relies on.

Public names (tables, views, columns) are a contract: each is described in
`pipeline/dictionary.toml`, from which `make docs` writes docs/reference/data-dictionary.md
(a table or column without a description fails it, and `tests/test_docs.py`).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

import duckdb

from pipeline import derive, interrupts, schema
from pipeline.dberrors import is_lock_conflict
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


def duckdb_memory_mib() -> int:
    """DuckDB's share of the budget, in MiB (at least 64)."""
    return max(64, int(memory_budget_bytes() * DUCKDB_SHARE) >> 20)


def duckdb_memory_limit() -> str:
    """DuckDB's share of the budget as a DuckDB `memory_limit` value."""
    return f"{duckdb_memory_mib()}MiB"


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
    query sandbox keeps it after it turns file access off), and DuckDB's replacement scans
    off: SQL never reads a Python variable by its name; a Python object reaches SQL as a
    relation (`con.from_arrow(...)`) or a registered view."""
    return {
        "memory_limit": duckdb_memory_limit(),
        "temp_directory": _spill_folder(),
        "python_enable_replacements": False,
    }


def _requests_ddl() -> str:
    cols = ",\n    ".join(f"{c.name} {c.duckdb_type}" for c in schema.REQUEST_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS requests (\n    {cols}\n)"


@dataclass(frozen=True)
class Migration:
    """One numbered step of the warehouse's schema; applied once, in order, never edited
    after it has shipped (a change is a new migration appended at the end)."""

    version: int
    summary: str
    statements: tuple[str, ...]


_FIRST_TABLES = (
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
)


def _custody_statements() -> tuple[str, ...]:
    """Chain of custody: every read of a source file, the changes found to bytes already
    read, records whose key is stored with other values, and rejected lines cut to
    64 KiB with their full length and hash; a file's identity is its real path."""
    return (
        "ALTER TABLE rejects ADD COLUMN raw_bytes BIGINT",
        "ALTER TABLE rejects ADD COLUMN raw_sha256 VARCHAR",
        "ALTER TABLE ingested_files ADD COLUMN conflicts BIGINT DEFAULT 0",
        "ALTER TABLE ingested_files ADD COLUMN data_lines BIGINT",
        "ALTER TABLE ingested_files ADD COLUMN real_path VARCHAR",
        "UPDATE ingested_files SET conflicts = 0, data_lines = rows_stored + duplicates + rejects",
        """CREATE TABLE file_reads (
            run_id BIGINT NOT NULL,
            path VARCHAR NOT NULL,
            path_given VARCHAR NOT NULL,
            byte_start BIGINT NOT NULL,
            byte_end BIGINT NOT NULL,
            sha256 VARCHAR NOT NULL,
            prefix_sha256 VARCHAR NOT NULL,
            data_lines BIGINT NOT NULL,
            rows_stored BIGINT NOT NULL,
            duplicates BIGINT NOT NULL,
            conflicts BIGINT NOT NULL,
            rejects BIGINT NOT NULL,
            read_at TIMESTAMP NOT NULL
        )""",
        """CREATE TABLE integrity_events (
            run_id BIGINT NOT NULL,
            path VARCHAR NOT NULL,
            event VARCHAR NOT NULL,
            byte_end BIGINT NOT NULL,
            expected_sha256 VARCHAR NOT NULL,
            found_sha256 VARCHAR,
            found_bytes BIGINT NOT NULL,
            detected_at TIMESTAMP NOT NULL
        )""",
        # The new version of a record: the columns of `requests` (as of this migration).
        """CREATE TABLE conflicts (
            ts TIMESTAMP,
            row_id VARCHAR,
            request_type VARCHAR,
            user_id VARCHAR,
            result VARCHAR,
            correlation_id VARCHAR,
            content_id VARCHAR,
            owner_email VARCHAR,
            issuer VARCHAR,
            template_id VARCHAR,
            file_name VARCHAR,
            date_published TIMESTAMP,
            c_info VARCHAR,
            c_ip VARCHAR,
            admin_action BOOLEAN,
            acting_as_user VARCHAR,
            source_file VARCHAR,
            source_line BIGINT,
            run_id BIGINT NOT NULL
        )""",
    )


#: The warehouse's schema history. Version 1 is the schema before versioning existed
#: (`IF NOT EXISTS`, so such a warehouse is adopted as it is).
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "requests, rejects, ingested_files, refused_files, findings", _FIRST_TABLES),
    Migration(
        2,
        "ingest runs: which run stored each row, and when it arrived",
        (
            """CREATE TABLE ingest_runs (
                run_id BIGINT PRIMARY KEY,
                started_at TIMESTAMP NOT NULL,
                finished_at TIMESTAMP,
                pid INTEGER NOT NULL,
                rmslog_version VARCHAR NOT NULL
            )""",
            "ALTER TABLE requests ADD COLUMN run_id BIGINT",
        ),
    ),
    Migration(
        3,
        "detection status and tenant settings: detect_runs, settings, findings.window_start",
        (
            # Every detect run: rules, bound parameters and settings (JSON text), and the
            # data it covered; what makes the next run incremental and a report honest.
            """CREATE TABLE detect_runs (
                run_id BIGINT PRIMARY KEY,
                started_at TIMESTAMP NOT NULL,
                finished_at TIMESTAMP NOT NULL,
                mode VARCHAR NOT NULL,
                rules VARCHAR[] NOT NULL,
                params VARCHAR NOT NULL,
                settings VARCHAR NOT NULL,
                covered_ingest_run BIGINT,
                covered_rows BIGINT NOT NULL,
                newest_ts TIMESTAMP,
                findings BIGINT NOT NULL,
                new_findings BIGINT NOT NULL,
                removed_findings BIGINT NOT NULL,
                rule_modes VARCHAR NOT NULL,
                awaiting_origin BIGINT
            )""",
            # The tenant settings: one row per key that is not at its default (JSON value).
            """CREATE TABLE settings (
                key VARCHAR PRIMARY KEY,
                value VARCHAR NOT NULL,
                updated_at TIMESTAMP NOT NULL
            )""",
            # The instant a finding's id is made from, and the day incremental detect files
            # it under (NULL for findings stored before: the next detect re-judges them all).
            "ALTER TABLE findings ADD COLUMN window_start TIMESTAMP",
        ),
    ),
    Migration(
        4,
        "chain of custody: file_reads, integrity_events, conflicts, file identity, reject excerpts",
        _custody_statements(),
    ),
    Migration(
        derive.MIGRATION_VERSION,
        "key_usage kept up to date as a table, and rollups for reports and named queries",
        derive.MIGRATION_STATEMENTS,
    ),
    Migration(
        6,
        "Key Vault AuditEvent records: keyvault_events, and the kind of each ingested file",
        (
            # One row per Key Vault audit record. `record_id` (SHA-256 of the record's
            # canonical JSON) is its identity: the same record read twice, from a grown
            # blob or a second download, is a duplicate. `ts` is UTC without a zone, as
            # requests.ts; `source_offset` is the record's first byte in the (unzipped) file.
            """CREATE TABLE keyvault_events (
                ts TIMESTAMP NOT NULL,
                record_id VARCHAR NOT NULL,
                operation VARCHAR NOT NULL,
                operation_version VARCHAR,
                category VARCHAR,
                result_type VARCHAR,
                result_signature VARCHAR,
                result_description VARCHAR,
                http_status INTEGER,
                duration_ms BIGINT,
                caller_ip VARCHAR,
                appid VARCHAR,
                object_id VARCHAR,
                upn VARCHAR,
                resource_id VARCHAR,
                key_vault VARCHAR,
                key_id VARCHAR,
                key_name VARCHAR,
                key_version VARCHAR,
                algorithm VARCHAR,
                correlation_id VARCHAR,
                client_info VARCHAR,
                request_uri VARCHAR,
                is_access_policy_match BOOLEAN,
                source_file VARCHAR NOT NULL,
                source_line BIGINT NOT NULL,
                source_offset BIGINT NOT NULL,
                run_id BIGINT NOT NULL,
                raw_json VARCHAR NOT NULL
            )""",
            # `rms` (an RMS usage log) or `keyvault` (Key Vault AuditEvent records).
            "ALTER TABLE ingested_files ADD COLUMN kind VARCHAR DEFAULT 'rms'",
        ),
    ),
    Migration(
        7,
        "the auditor's work: finding_triage (append-only audit trail) and suppressions",
        (
            """CREATE TABLE finding_triage (
            change_id BIGINT PRIMARY KEY,
            finding_id VARCHAR NOT NULL,
            rule VARCHAR,
            entity VARCHAR,
            status VARCHAR NOT NULL,
            owner VARCHAR,
            note VARCHAR,
            changed_at TIMESTAMP NOT NULL,
            changed_by VARCHAR NOT NULL
        )""",
            """CREATE TABLE suppressions (
            suppression_id BIGINT PRIMARY KEY,
            rule VARCHAR NOT NULL,
            entity VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            owner VARCHAR NOT NULL,
            until DATE NOT NULL,
            created_at TIMESTAMP NOT NULL,
            created_by VARCHAR NOT NULL,
            lifted_at TIMESTAMP,
            lifted_by VARCHAR
        )""",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version

_META_TABLES = (
    """CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER PRIMARY KEY,
        summary VARCHAR NOT NULL,
        applied_at TIMESTAMP NOT NULL,
        rmslog_version VARCHAR NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS schema_meta (
        key VARCHAR PRIMARY KEY,
        value VARCHAR NOT NULL
    )""",
)
_REQUEST_TYPES_DDL = """CREATE OR REPLACE TABLE request_types (
        name VARCHAR PRIMARY KEY,
        canonical VARCHAR NOT NULL,
        category VARCHAR NOT NULL,
        key_topology VARCHAR,
        causes_key_use BOOLEAN NOT NULL,
        description VARCHAR,
        opens_document BOOLEAN NOT NULL
    )"""


#: SQL shared by name: the DuckDB macros in queries/macros/ (service accounts, sessions,
#: baselines, pseudonyms), created with the schema as derived objects.
MACROS = "macros"


def _request_type_rows() -> list[tuple[object, ...]]:
    return [
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


def _request_type_table() -> list[tuple[object, ...]]:
    """The rows of `request_types`: those `_request_type_rows` gives key usage (its
    fingerprint), and whether the type opens a document (which key usage does not read)."""
    return [
        (*row, rt.opens_document)
        for row, rt in zip(_request_type_rows(), schema.REQUEST_TYPES, strict=True)
    ]


def _derived_fingerprint() -> str:
    """What the derived objects (request-type catalogue, views) are made of: when it
    changes, they are re-created; otherwise an open leaves them alone."""
    parts = [_REQUEST_TYPES_DDL, repr(_request_type_table())]
    parts += [f"{m.name}\n{m.sql}" for m in sql_files(MACROS)]
    parts += [f"{v.name}\n{v.sql}" for v in sql_files("views")]
    parts += derive.definition()
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def rmslog_version() -> str:
    try:
        return metadata.version("rmslog")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def schema_version_of(con: duckdb.DuckDBPyConnection) -> int | None:
    """The version a warehouse is at; None before versioning (or for a new file)."""
    known = con.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE database_name = current_database() AND table_name = 'schema_version'"
    ).fetchall()[0][0]
    if not known:
        return None
    row = con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0]
    return int(row) if row is not None else None


@dataclass(frozen=True)
class SchemaChange:
    """What `ensure_schema` did: migrations applied, derived objects re-created."""

    applied: tuple[int, ...]
    derived_refreshed: bool


def ensure_schema(con: duckdb.DuckDBPyConnection) -> SchemaChange:
    """Bring the warehouse to `SCHEMA_VERSION` in one transaction: apply the missing
    migrations, then re-create the catalogue and views if their definition changed.
    An open of an up-to-date warehouse writes nothing."""
    current = schema_version_of(con) or 0
    _refuse_newer(current)
    fingerprint = _derived_fingerprint()
    if current == SCHEMA_VERSION and _stored_fingerprint(con) == fingerprint:
        return SchemaChange((), False)
    con.execute("BEGIN")
    try:
        for ddl in _META_TABLES:
            con.execute(ddl)
        applied = []
        for migration in MIGRATIONS[current:]:
            for statement in migration.statements:
                con.execute(statement)
            con.execute(
                "INSERT INTO schema_version VALUES ($v, $s, now()::TIMESTAMP, $r)",
                {"v": migration.version, "s": migration.summary, "r": rmslog_version()},
            )
            applied.append(migration.version)
        refreshed = _stored_fingerprint(con) != fingerprint
        if refreshed:
            con.execute(_REQUEST_TYPES_DDL)
            con.executemany(
                "INSERT INTO request_types VALUES (?, ?, ?, ?, ?, ?, ?)", _request_type_table()
            )
            for macro in sql_files(MACROS):
                con.execute(macro.sql)
            for view in sql_files("views"):
                con.execute(view.sql)
            _refresh_derived_tables(con, derive.MIGRATION_VERSION in applied)
            con.execute(
                "INSERT OR REPLACE INTO schema_meta VALUES ('derived_fingerprint', $f)",
                {"f": fingerprint},
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return SchemaChange(tuple(applied), refreshed)


def _refresh_derived_tables(con: duckdb.DuckDBPyConnection, created: bool) -> None:
    """Rebuild `key_usage` and the rollups from every request when they were just created
    (migration 3) or what they are computed with changed (the request-type catalogue, the
    SQL in queries/derive/): a full recomputation, so only then, not when a view changes."""
    parts = [repr(_request_type_rows()), *derive.definition()]
    wanted = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    stored = con.execute(
        "SELECT value FROM schema_meta WHERE key = 'derive_fingerprint'"
    ).fetchall()
    if created or not stored or stored[0][0] != wanted:
        derive.rebuild(con)
        con.execute(
            "INSERT OR REPLACE INTO schema_meta VALUES ('derive_fingerprint', $f)", {"f": wanted}
        )


def _stored_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    known = con.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE database_name = current_database() AND table_name = 'schema_meta'"
    ).fetchall()[0][0]
    if not known:
        return None
    row = con.execute("SELECT value FROM schema_meta WHERE key = 'derived_fingerprint'").fetchall()
    return str(row[0][0]) if row else None


def _refuse_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise WarehouseError(
            f"the warehouse is at schema version {version}, newer than this rmslog "
            f"({rmslog_version()}) knows ({SCHEMA_VERSION}); upgrade rmslog to open it"
        )


def check_readable(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A read-only open cannot migrate: refuse a warehouse this rmslog cannot read.

    Every read command (`query` too) pays this, so a versioned warehouse answers in one
    statement; the catalogue (`duckdb_tables()`, several times dearer on a fresh
    connection) is searched only for a warehouse older than its version tables."""
    try:
        found, stored = con.execute(
            "SELECT (SELECT max(version) FROM schema_version), "
            "(SELECT value FROM schema_meta WHERE key = 'derived_fingerprint')"
        ).fetchall()[0]
    except duckdb.CatalogException:
        found, stored = schema_version_of(con), _stored_fingerprint(con)
    version = int(found or 0)
    _refuse_newer(version)
    if version < SCHEMA_VERSION or stored != _derived_fingerprint():
        raise WarehouseError(
            f"warehouse {path} was written by another rmslog version (schema version "
            f"{version}, this rmslog's is {SCHEMA_VERSION}): run a writing command once "
            f"(e.g. `rmslog detect --db {path}`) to upgrade it in place"
        )


def begin_ingest_run(con: duckdb.DuckDBPyConnection) -> int:
    """The id the next ingest run stores its rows under (one writer at a time holds the
    warehouse, so max + 1 cannot be taken twice). Its `ingest_runs` row is written by
    `record_ingest_run` inside the run's first transaction."""
    row = con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM ingest_runs").fetchall()
    return int(row[0][0])


def record_ingest_run(con: duckdb.DuckDBPyConnection, run_id: int, started_at: datetime) -> None:
    """Write the run's row (call inside a transaction that stores rows of the run)."""
    con.execute(
        "INSERT OR IGNORE INTO ingest_runs VALUES ($id, $t, NULL, $pid, $v)",
        {"id": run_id, "t": started_at, "pid": os.getpid(), "v": rmslog_version()},
    )


def finish_ingest_run(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Mark a run finished (no-op for a run that stored nothing and so has no row)."""
    con.execute(
        "UPDATE ingest_runs SET finished_at = now()::TIMESTAMP WHERE run_id = $id",
        {"id": run_id},
    )


#: Seconds a command waits by default while another process holds the warehouse (`--wait`;
#: `pipeline.cli.WAIT_SECONDS` repeats the number so that `--help` need not load DuckDB,
#: and a test keeps the two equal).
WAIT_SECONDS = 5.0


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
        except duckdb.Error as e:
            if not is_lock_conflict(e):
                raise WarehouseError(f"cannot open warehouse {path}: {e}") from e
            if time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            raise WarehouseBusy(_lock_message(path, e, wait_seconds)) from e
    interrupts.track(con)  # Ctrl-C and SIGTERM stop its statement at once
    try:
        if read_only:
            check_readable(con, path)
        else:
            ensure_schema(con)
    except BaseException:
        con.close()
        raise
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
