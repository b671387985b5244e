"""Read-only SQL over the warehouse: ad-hoc statements and named queries in `queries/named/`.

Two locks keep a query from doing anything but reading the warehouse:

1. The statement itself: exactly one statement, and only a SELECT-like one (SELECT, WITH,
   FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE, PIVOT, EXPLAIN of those). Writes, ATTACH,
   INSTALL/LOAD, SET/RESET/USE/PRAGMA, COPY/EXPORT, CALL and PREPARE are refused before
   DuckDB runs anything.
2. The connection: the warehouse opens read-only, with a memory limit and a private
   folder to spill to (set before the lock, the only files it may touch); file and
   network access is off (so `read_csv('/etc/passwd')`, `glob()`, URLs fail), extensions
   cannot be installed or loaded, and the configuration is locked.
3. The names: functions and views that would show host paths or settings
   (`duckdb_settings()`, `duckdb_databases()`, `current_setting(...)`, `pg_settings`, ...)
   and `query(...)`, which would run SQL built from a string, are refused by name.

A statement runs at most `timeout_seconds` (`rmslog query --timeout`): a timer thread
interrupts it, and the query fails with `QueryError`.

A refusal raises `QueryRefusedError` (its own exit code); a query that merely fails raises
`QueryError`. Parameters are always bound, never spliced. Each call opens the warehouse,
reads, and closes it, so `rmslog watch` can take the write lock between queries.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING

import duckdb

from pipeline.dberrors import is_sandbox_refusal
from pipeline.errors import QueryError, QueryRefusedError, UsageError
from pipeline.files import atomic_open, write_bytes_atomically
from pipeline.safe import CONTROL_CHARS
from pipeline.sqlfiles import SqlFile, sql_file, sql_files
from pipeline.warehouse import WAIT_SECONDS, connect

if TYPE_CHECKING:  # loaded when a result becomes a DataFrame: a small query needs neither
    import polars as pl
    import pyarrow as pa

    # Loaded by named queries only: an ad-hoc statement needs no tenant settings.
    from pipeline.settings import Settings


def __getattr__(name: str) -> frozenset[str]:
    """`SETTINGS_PARAMS`, re-exported from `pipeline.params` when first asked for: it needs
    the settings module, which an ad-hoc statement never loads."""
    if name == "SETTINGS_PARAMS":
        from pipeline.params import SETTINGS_PARAMS

        return SETTINGS_PARAMS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


NAMED = "named"
DEFAULT_WAIT_SECONDS = WAIT_SECONDS
#: Seconds a statement may run before it is interrupted (`rmslog query --timeout`).
DEFAULT_TIMEOUT_SECONDS = 300.0
FORMATS = ("table", "csv", "json", "parquet")
TABLE_MAX_ROWS = 1000
#: Rows per Arrow batch when a result streams to a file or stdout.
BATCH_ROWS = 50_000

# The connection comes with a private spill folder (`warehouse.connection_config`), set
# before external access is disabled: DuckDB still spills there then. The lock goes last.
_LOCKDOWN = (
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET python_enable_replacements = false",
    "SET lock_configuration = true",
)

_ST = duckdb.StatementType
_REFUSALS: dict[duckdb.StatementType, str] = {
    **dict.fromkeys(
        (_ST.INSERT, _ST.UPDATE, _ST.DELETE, _ST.MERGE_INTO, _ST.CREATE, _ST.CREATE_FUNC),
        "it would write; the warehouse is read-only here",
    ),
    **dict.fromkeys(
        (_ST.DROP, _ST.ALTER, _ST.VACUUM, _ST.ANALYZE, _ST.TRANSACTION),
        "it would change the database; the warehouse is read-only here",
    ),
    **dict.fromkeys(
        (_ST.COPY, _ST.EXPORT, _ST.COPY_DATABASE),
        "it reads or writes files; save a result with --out FILE instead",
    ),
    **dict.fromkeys((_ST.ATTACH, _ST.DETACH), "only the warehouse may be read"),
    _ST.LOAD: "extensions cannot be installed or loaded",
    _ST.EXTENSION: "extensions cannot be installed or loaded",
    **dict.fromkeys((_ST.SET, _ST.VARIABLE_SET), "settings, variables and the schema are fixed"),
    _ST.PRAGMA: "use the table functions instead, e.g. SELECT * FROM pragma_table_info('requests')",
    _ST.CALL: "use SELECT * FROM function(...) instead",
}
#: Names that show host paths, the machine or settings, or run SQL given as a string.
REVEALING = frozenset(
    {
        "duckdb_settings",
        "duckdb_databases",
        "duckdb_extensions",
        "duckdb_temporary_files",
        "duckdb_secrets",
        "duckdb_secret_types",
        "which_secret",
        "duckdb_logs",
        "duckdb_log_contexts",
        "duckdb_external_file_cache",
        "current_setting",
        "getenv",
        "pg_settings",
        "pragma_database_list",
        "pragma_user_agent",
        "pragma_platform",
        "query",
        "query_table",
    }
)
_LEADING_NOISE = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_EXPLAIN = re.compile(r"^EXPLAIN(?:\s+ANALYZE)?\b", re.IGNORECASE)
_PIVOT = re.compile(r"^(?:UN)?PIVOT\b", re.IGNORECASE)
_CONTROL = re.compile(CONTROL_CHARS)


# --------------------------------------------------------------------------- sandbox


def open_sandbox(db: Path | str, *, wait_seconds: float = 0.0) -> duckdb.DuckDBPyConnection:
    """A read-only connection to `db` that cannot touch files, extensions or settings.

    Close it soon: while it is open, `rmslog watch` cannot write. Prefer `sandbox()`.
    """
    con = connect(db, read_only=True, wait_seconds=wait_seconds)
    try:
        for statement in _LOCKDOWN:
            con.execute(statement)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def sandbox(
    db: Path | str, *, wait_seconds: float = DEFAULT_WAIT_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    """`open_sandbox` as a context manager that always closes the connection."""
    con = open_sandbox(db, wait_seconds=wait_seconds)
    try:
        yield con
    finally:
        con.close()


def check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    """The single statement in `sql`, or `QueryRefusedError` unless it only reads."""
    statements = _parse(con, sql)
    if not statements:
        raise QueryError("no SQL statement given")
    if len(statements) > 1:
        raise QueryRefusedError(
            f"the read-only sandbox runs one statement at a time; got {len(statements)}"
        )
    statement = statements[0]
    _check_type(con, statement)
    _check_names(statement.query)
    return statement


def _check_names(sql: str) -> None:
    """Refuse a statement naming a function or view of `REVEALING` (quoted or not)."""
    tokens = duckdb.tokenize(sql)
    ends = [p for p, _ in tokens[1:]] + [len(sql)]
    for (start, kind), end in zip(tokens, ends, strict=True):
        if kind != duckdb.token_type.identifier:
            continue
        name = sql[start:end].strip().strip('"').lower()
        if name in REVEALING:
            raise QueryRefusedError(
                f"the read-only sandbox refused it: {name} would show host paths, "
                "settings or run SQL from a string"
            )


def _parse(con: duckdb.DuckDBPyConnection, sql: str) -> list[duckdb.Statement]:
    try:
        statements = list(con.extract_statements(sql))
    except duckdb.Error as e:
        raise QueryError(f"query failed: {_first_line(e)}") from e
    for statement in statements:
        try:
            statement.type  # noqa: B018 - the client raises on a type it does not know
        except ValueError as e:
            raise QueryRefusedError(
                f"the read-only sandbox refused this {_keyword(statement.query)} statement: "
                "only SELECT-like statements run"
            ) from e
    return statements


def _check_type(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> None:
    kind = statement.type
    if kind == _ST.SELECT:
        return
    text = _LEADING_NOISE.sub("", statement.query, count=1)
    if kind == _ST.EXPLAIN and (m := _EXPLAIN.match(text)):
        inner = _parse(con, text[m.end() :])
        if len(inner) == 1 and inner[0].type == _ST.SELECT:
            return
    if kind == _ST.MULTI and _PIVOT.match(text):
        return
    reason = _REFUSALS.get(kind, "only SELECT-like statements run")
    raise QueryRefusedError(
        f"the read-only sandbox refused this {_keyword(statement.query)} statement: {reason}"
    )


def _keyword(text: str) -> str:
    """The statement's first word, as the user wrote it (`PRAGMA`, `INSTALL`, `USE`)."""
    words = _LEADING_NOISE.sub("", text, count=1).split(None, 1)
    return words[0].upper() if words else "empty"


def _first_line(e: Exception) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0]


def _wrap(e: duckdb.Error) -> QueryError:
    """A DuckDB error as a refusal (the connection lock caught it) or a plain failure."""
    line = _first_line(e)
    if is_sandbox_refusal(e):
        return QueryRefusedError(f"the read-only sandbox refused it: {line}")
    return QueryError(f"query failed: {line}")


# --------------------------------------------------------------------------- running


@contextmanager
def time_limit(con: duckdb.DuckDBPyConnection, seconds: float | None) -> Iterator[None]:
    """Interrupt what `con` runs after `seconds` (None or 0: no limit); the interrupted
    statement's error becomes a `QueryError` that names the limit."""
    if not seconds:
        yield
        return
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        con.interrupt()

    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    timer.start()
    try:
        yield
    except (duckdb.Error, QueryError, RuntimeError) as e:
        if fired.is_set():
            raise QueryError(
                f"query stopped after {seconds:g}s (--timeout); narrow it or raise the limit"
            ) from e
        raise
    finally:
        timer.cancel()


def _bound(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object] | None
) -> dict[str, object]:
    statement = check_statement(con, sql)
    given = dict(params or {})
    missing = sorted(set(statement.named_parameters) - set(given))
    if missing:
        raise QueryError(f"the query needs --param for: {', '.join(missing)}")
    extra = sorted(set(given) - set(statement.named_parameters))
    if extra:
        raise QueryError(f"the query has no parameter {extra[0]!r}")
    return given


def run_sql(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object] | None = None
) -> pl.DataFrame:
    """Run one read-only statement with bound `$name` parameters and return its rows."""
    given = _bound(con, sql, params)
    try:
        frame: pl.DataFrame = con.sql(sql, params=given or None).pl()
    except duckdb.Error as e:
        raise _wrap(e) from e
    return frame


def stream_sql(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object] | None = None
) -> pa.RecordBatchReader:
    """Run one read-only statement; its rows as a stream of Arrow batches of at most
    `BATCH_ROWS` rows, produced as they are read (DuckDB spills what does not fit)."""
    given = _bound(con, sql, params)
    try:
        reader: pa.RecordBatchReader = con.sql(sql, params=given or None).to_arrow_reader(
            BATCH_ROWS
        )
        return reader
    except duckdb.Error as e:
        raise _wrap(e) from e


def query(
    db: Path | str,
    sql: str,
    params: Mapping[str, object] | None = None,
    *,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS,
) -> pl.DataFrame:
    """Open the warehouse in the sandbox, run `sql`, close it, return the rows."""
    with sandbox(db, wait_seconds=wait_seconds) as con, time_limit(con, timeout_seconds):
        return run_sql(con, sql, params)


def named_queries() -> list[SqlFile]:
    """Every named query in `queries/named/`, for `rmslog queries`."""
    return sql_files(NAMED)


def describe_named() -> list[dict[str, object]]:
    """Every named query as plain data: name, title, description, parameters, columns."""
    from pipeline.params import SETTINGS_PARAMS

    return [
        {
            "name": q.name,
            "title": q.meta.get("title", ""),
            "description": q.description,
            "params": [
                {
                    "name": p.name,
                    "type": p.type,
                    "default": p.default,
                    "required": p.default is None and p.name not in SETTINGS_PARAMS,
                    "from_settings": p.name in SETTINGS_PARAMS,
                    "description": p.description,
                }
                for p in q.params
            ],
            "columns": list(q.columns),
        }
        for q in named_queries()
    ]


def bind_named(
    named: SqlFile, params: Mapping[str, object] | None = None, settings: Settings | None = None
) -> dict[str, object]:
    """Values for every parameter `named` declares: given, else its header default.

    Parameters named after a tenant setting (`timezone`, `work_days`, ...) always come from
    `settings`, as in the detection rules. String values (from the command line or the
    header) are converted to the declared type.
    """
    given = dict(params or {})
    declared = {p.name: p for p in named.params}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise QueryError(
            f"query {named.name} has no parameter {unknown[0]!r}; it has {list(declared)}"
        )
    from pipeline.params import SETTINGS_PARAMS, bind_params
    from pipeline.settings import Settings

    overridden = sorted(set(given) & SETTINGS_PARAMS)
    if overridden:
        raise UsageError(
            f"--param {overridden[0]} is a tenant setting; set it in the settings file (--config)"
        )
    return bind_params(named.params, given, settings or Settings(), what=f"query {named.name}")


def run_named(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: Mapping[str, object] | None = None,
    *,
    settings: Settings | None = None,
) -> pl.DataFrame:
    """Run a named query on `con`, binding its declared parameters (see `bind_named`)."""
    named = sql_file(NAMED, name)
    if settings is None:  # the warehouse's tenant settings, as every command uses
        from pipeline.settings import effective_settings

        settings = effective_settings(con).settings
    return run_sql(con, named.sql, bind_named(named, params, settings))


def query_named(
    db: Path | str,
    name: str,
    params: Mapping[str, object] | None = None,
    *,
    settings: Settings | None = None,
    config: Path | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS,
) -> pl.DataFrame:
    """Open the warehouse in the sandbox, run the named query, close it, return the rows.

    Without `settings`, the warehouse's stored tenant settings apply (`config`, a TOML
    file, instead when given), as for `detect` and `report`.
    """
    with sandbox(db, wait_seconds=wait_seconds) as con, time_limit(con, timeout_seconds):
        if settings is None:
            from pipeline.settings import effective_settings

            settings = effective_settings(con, config).settings
        return run_named(con, name, params, settings=settings)


def query_to(
    db: Path | str,
    sql: str | None,
    params: Mapping[str, object] | None,
    fmt: str,
    target: Path | IO[bytes],
    *,
    name: str | None = None,
    settings: Settings | None = None,
    config: Path | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS,
    max_rows: int = TABLE_MAX_ROWS,
) -> Written:
    """Run `sql` (or the named query `name`) in the sandbox and write its rows as `fmt` to
    `target`. The table format reads rows straight from DuckDB (no Polars, no Arrow: a
    small query starts at once) and keeps only the `max_rows` it shows, counting the rest;
    csv, json and parquet stream batch by batch, so memory stays that of one batch
    whatever the size of the result. Settings as for `query_named`."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    with sandbox(db, wait_seconds=wait_seconds) as con, time_limit(con, timeout_seconds):
        if name is not None:
            named = sql_file(NAMED, name)
            if settings is None:  # the warehouse's settings, as for `query_named`
                from pipeline.settings import effective_settings

                settings = effective_settings(con, config).settings
            sql, params = named.sql, bind_named(named, params, settings)
        if fmt != "table":
            reader = stream_sql(con, sql or "", params)
            try:
                return write_stream(reader, fmt, target, max_rows=max_rows)
            except duckdb.Error as e:
                raise _wrap(e) from e
        given = _bound(con, sql or "", params)
        try:
            con.execute(sql or "", given or None)
            columns = [d[0] for d in con.description or []]
            shown = con.fetchmany(max_rows)
            rows = len(shown)
            while more := con.fetchmany(100_000):
                rows += len(more)
        except duckdb.Error as e:
            raise _wrap(e) from e
        _write_bytes(target, (text_table(columns, shown) + "\n").encode())
        return Written(rows, len(shown))


# --------------------------------------------------------------------------- output


@dataclass(frozen=True, slots=True)
class Written:
    """What `write_stream` wrote: every row of the result, of which `shown` were printed
    (the table format shows at most `max_rows`; the others write all)."""

    rows: int
    shown: int


def write_stream(
    reader: pa.RecordBatchReader,
    fmt: str,
    target: Path | IO[bytes],
    *,
    max_rows: int = TABLE_MAX_ROWS,
) -> Written:
    """Write a stream of Arrow batches as table, csv, json or parquet, one batch at a
    time, with the same safety rules as `write_result` (CSV formulas neutralised, control
    characters out of the table). The table keeps its first `max_rows` rows and counts
    the rest without keeping them."""
    if fmt == "table":
        return _stream_table(reader, target, max_rows)
    with _binary(target) as out:
        write = _stream_parquet if fmt == "parquet" else partial(_stream_text, fmt=fmt)
        rows = write(reader, out)
    return Written(rows, rows)


@contextmanager
def _binary(target: Path | IO[bytes]) -> Iterator[IO[bytes]]:
    if isinstance(target, Path):
        with atomic_open(target) as f:
            yield f
    else:
        yield target


def _frames(reader: pa.RecordBatchReader) -> Iterator[pl.DataFrame]:
    import polars as pl

    for batch in reader:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        yield frame


def _empty(reader: pa.RecordBatchReader) -> pl.DataFrame:
    import polars as pl

    frame = pl.from_arrow(reader.schema.empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _stream_text(reader: pa.RecordBatchReader, out: IO[bytes], *, fmt: str) -> int:
    from pipeline.safe import neutralise_formulas

    rows, first = 0, True
    if fmt == "json":
        out.write(b"[")
    for frame in _frames(reader):
        if frame.height == 0:
            continue
        if fmt == "csv":
            neutralise_formulas(frame).write_csv(out, include_header=first)
        else:  # one JSON array for the whole result: the batches' arrays, joined
            text = frame.write_json()
            out.write((text[1:-1] if first else "," + text[1:-1]).encode())
        rows, first = rows + frame.height, False
    if fmt == "csv" and first:  # no rows: the header alone
        neutralise_formulas(_empty(reader)).write_csv(out)
    if fmt == "json":
        out.write(b"]\n")
    return rows


def _stream_parquet(reader: pa.RecordBatchReader, out: IO[bytes]) -> int:
    import pyarrow.parquet as pq

    rows = 0
    with pq.ParquetWriter(out, reader.schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def _stream_table(reader: pa.RecordBatchReader, target: Path | IO[bytes], max_rows: int) -> Written:
    import polars as pl

    kept: list[pl.DataFrame] = []
    rows = 0
    for frame in _frames(reader):
        if rows < max_rows:
            kept.append(frame.head(max_rows - rows))
        rows += frame.height
    shown = pl.concat(kept) if kept else _empty(reader)
    _write_bytes(target, (render_table(shown, max_rows) + "\n").encode())
    return Written(rows, min(rows, max_rows))


def write_result(
    frame: pl.DataFrame, fmt: str, target: Path | IO[bytes], *, max_rows: int = TABLE_MAX_ROWS
) -> None:
    """Write `frame` as table, csv, json or parquet to a file path or a binary stream.

    Log content is attacker-controlled: CSV cells that a spreadsheet would run as formulas
    get a leading `'`, and the table replaces control characters (terminal escapes).
    """
    from pipeline.safe import neutralise_formulas

    if fmt == "csv":
        with _binary(target) as out:
            neutralise_formulas(frame).write_csv(out)
    elif fmt == "json":
        _write_bytes(target, (frame.write_json() + "\n").encode())
    elif fmt == "parquet":
        with _binary(target) as out:
            frame.write_parquet(out)
    elif fmt == "table":
        _write_bytes(target, (render_table(frame, max_rows) + "\n").encode())
    else:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def _write_bytes(target: Path | IO[bytes], data: bytes) -> None:
    if isinstance(target, Path):
        write_bytes_atomically(target, [data])
    else:
        target.write(data)


def _cell(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def text_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A boxed plain-text table, safe to print on a terminal (control characters replaced):
    what `render_table` draws, without Polars."""
    cells = [[_CONTROL.sub("\ufffd", _cell(v)) for v in row] for row in rows]
    heads = [_CONTROL.sub("\ufffd", c) for c in columns]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(heads)]

    def line(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def row(values: Sequence[str]) -> str:
        return "│" + "┆".join(f" {v:<{w}} " for v, w in zip(values, widths, strict=True)) + "│"

    out = [line("┌", "─", "┬", "┐"), row(heads), line("╞", "═", "╪", "╡")]
    out += [row(r) for r in cells]
    out.append(line("└", "─", "┴", "┘"))
    return "\n".join(out)


def render_table(frame: pl.DataFrame, max_rows: int = TABLE_MAX_ROWS) -> str:
    """A plain-text table of the first `max_rows` rows, safe to print on a terminal."""
    import polars as pl

    from pipeline.safe import strip_control_chars

    shown = strip_control_chars(frame.head(max_rows))
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        fmt_str_lengths=200,
        tbl_width_chars=10_000,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
    ):
        return str(shown)
