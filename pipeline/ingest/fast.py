"""The fast path: DuckDB's own CSV reader loads regular log files (see `survey.py`).

Measured on generated logs (`bench/bench_ingest.py`), DuckDB's multi-threaded CSV reader
splits the text in a fraction of the CPU time of the NumPy + Polars path (`w3c.py`),
and the text never crosses into Python. It cannot say which line a row came from, where
a field count is wrong, or resume mid-file, so it only takes regular files, and:

- reads them, in order, into a temporary table with `preserve_insertion_order` on, so
  that `rowid` order is line order (sampled lines from the survey prove it each time);
- when every `'` in a file opens or closes a value (the survey checks), strips them while
  reading (quote `'`, no escape; anything else is a read error) and nulls `''`, `-` and
  empty (`nullstr`); a file with curly quotes or a `'` inside a value ('Dave's.msg') is
  read as plain text, and SQL strips the quotes as `w3c.clean_value` does;
- types the values with the rules of `w3c._type_values`, in SQL, and stores many files
  with one INSERT, so that DuckDB compresses many row groups on all cores.

Whatever DuckDB refuses (a wrong field count, invalid UTF-8, a stray quote) or counts
differently from the survey goes through the general path instead. Both paths apply the
same rules; the tests compare them on the same inputs.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import duckdb
import pyarrow as pa

from pipeline import derive, schema
from pipeline.duck import registered
from pipeline.ingest import record
from pipeline.ingest.record import NULL_TOKENS, QUOTES
from pipeline.ingest.source import FileCounts, is_gzip
from pipeline.ingest.survey import WholeFile

#: Inserts the new version of a record into `conflicts` (follow with SELECT ..., run id).
INTO_CONFLICTS = f"INSERT INTO conflicts ({', '.join(schema.REQUEST_COLUMN_NAMES)}, run_id) "
#: Stored record `r` and new record `b` hold the same values (lineage columns aside).
SAME_VALUES = " AND ".join(
    f"r.{c} IS NOT DISTINCT FROM b.{c}"
    for c in schema.REQUEST_COLUMN_NAMES
    if c not in ("source_file", "source_line")
)


class FastPathMiss(Exception):
    """DuckDB could not read the file as the survey expected: use the general path."""


class Staged:
    """Regular files read by DuckDB, in order, into one temporary table (`_lines_<n>`),
    waiting to be stored. Line numbers come from `rowid`: DuckDB reads the files in
    parallel and keeps their order when `preserve_insertion_order` is on; sampled lines
    prove it. (Rows added inside a transaction get rowids from a high base.)"""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        files: list[WholeFile],
        table: str,
        *,
        raw: bool = False,
    ) -> None:
        """Read `files` (see `fits`); `raw`: keep every field as text, to rebuild lines."""
        self.files, self.table, self.raw = files, table, raw
        first = files[0]
        self.fields = first.done.header.fields or ()
        self.header_lines, self.crlf = first.header_lines, first.crlf
        # Quotes only at the values' edges: DuckDB's reader strips them (quote = ', no
        # escape). Otherwise (curly quotes, a ' inside a value) SQL strips them.
        self.strip_in_sql = raw or not first.plain_quotes
        self.curly = raw or first.curly
        self.gzip = is_gzip(first.path)
        self.base = self._read(con)
        self.days = None if raw else self._days(con)

    @property
    def keys(self) -> list[str]:
        return [f.done.key for f in self.files]

    @staticmethod
    def fits(group: list[WholeFile], whole: WholeFile) -> bool:
        """Can `whole` be read in the same read_csv call as `group`?"""
        if not group:
            return True
        first = group[0]
        return (
            first.done.header.fields == whole.done.header.fields
            and (first.header_lines, first.crlf) == (whole.header_lines, whole.crlf)
            and (first.plain_quotes, first.curly) == (whole.plain_quotes, whole.curly)
            and is_gzip(first.path) == is_gzip(whole.path)
        )

    def _read(self, con: duckdb.DuckDBPyConnection) -> int:
        con.execute("SET preserve_insertion_order = true")
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {self.table} AS "  # noqa: S608
                f"SELECT * FROM {self._reader(self.raw)}",
                {"paths": [str(f.path) for f in self.files]},
            )
        except duckdb.Error as e:  # a wrong field count, invalid UTF-8, ...
            raise FastPathMiss(str(e)) from e
        finally:
            con.execute("SET preserve_insertion_order = false")
        n, base = con.execute(f"SELECT count(*), min(rowid) FROM {self.table}").fetchall()[0]  # noqa: S608
        expected = sum(f.data_lines for f in self.files)
        if n != expected:
            self.drop(con)
            raise FastPathMiss(f"DuckDB read {n} lines, the survey counted {expected}")
        self._check_order(con, int(base or 0))
        return int(base or 0)

    def _reader(self, raw: bool) -> str:
        """read_csv(...) of the files' data lines: every field as text; the value rule's
        null tokens already NULL (the reader's `nullstr`, nearly free), unless `raw`."""
        names = [f"f{i}" for i in range(len(self.fields))]
        columns = "{" + ", ".join(f"'{r}': 'VARCHAR'" for r in names) + "}"
        new_line = r"\r\n" if self.crlf else r"\n"
        compression = "gzip" if self.gzip else "none"
        # A quoted '' or '-' is NULL too (the reader's allow_quoted_nulls).
        tokens = _NULL_FIELDS if self.strip_in_sql else _NULL_TOKENS
        nulls = f"force_not_null = {names}" if raw else f"nullstr = {tokens}"
        quote = "''" if self.strip_in_sql else "''''"
        return (
            f"read_csv($paths, columns = {columns}, delim = '\t', header = false, "
            f"auto_detect = false, quote = {quote}, escape = '', skip = {self.header_lines}, "
            f"new_line = '{new_line}', {nulls}, "
            f"compression = '{compression}', filename = true)"
        )

    def _offsets(self, base: int) -> list[tuple[int, int]]:
        """(first rowid, rowid - line number) of each file."""
        out, start = [], base
        for f in self.files:
            out.append((start, start - self.header_lines - 1))
            start += f.data_lines
        return out

    def _check_order(self, con: duckdb.DuckDBPyConnection, base: int) -> None:
        """Sampled lines must sit at their rowid with the text the survey saw."""
        rows = [
            (first + s[0], s[1], s[2])
            for (first, _), f in zip(self._offsets(base), self.files, strict=True)
            for s in f.samples
        ]
        if not rows:
            return
        samples = pa.table({k: [r[i] for r in rows] for i, k in enumerate(("rid", "k", "v"))})
        pick = " ".join(f"WHEN {i} THEN l.f{i}" for i in range(len(self.fields)))
        with registered(con, "_samples", samples):
            found = con.execute(
                f"SELECT count(*) FROM _samples s JOIN {self.table} l ON l.rowid = s.rid "  # noqa: S608
                f"WHERE CASE s.k {pick} END = s.v"
            ).fetchall()[0][0]
        if found != len(rows):
            self.drop(con)
            raise FastPathMiss("DuckDB did not keep the files' line order")

    def _days(self, con: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
        """The first and last `date` field, as text. When both are plain ISO dates, every
        line that can be stored falls in between (ISO dates sort as text; a quoted or
        odd value sorts outside them and gives no span)."""
        if "date" not in self.fields:
            return None
        column = f"f{self.fields.index('date')}"
        low, high = con.execute(
            f"SELECT min({column}), max({column}) FROM {self.table}"  # noqa: S608
        ).fetchall()[0]
        try:
            return date.fromisoformat(low), date.fromisoformat(high)
        except (TypeError, ValueError):
            return None

    def query(self) -> str:
        """SELECT typed columns, source_file, source_line and _problem (and the line as
        read, `_raw`, when `raw`): the rules of `w3c._type_values`, in SQL. Only names we
        generate appear in it."""
        raw = self.raw
        names = [f"f{i}" for i in range(len(self.fields))]
        chosen = {names[i]: column for i, column in record.chosen_columns(self.fields).items()}
        cleaned = ", ".join(
            f"{_clean(r, nulls=raw, curly=self.curly) if self.strip_in_sql else r} AS {c}"
            for r, c in chosen.items()
        )
        line = f", concat_ws(chr(9), {', '.join(names)}) AS _line" if raw else ""
        offsets = self._offsets(self.base)
        shift = " ".join(f"WHEN rowid >= {first} THEN {off}" for first, off in reversed(offsets))
        numbered = (
            f"SELECT {cleaned}, filename AS source_file, "  # noqa: S608
            f"rowid - CASE {shift} END AS source_line{line} FROM {self.table}"
        )
        typed, problem = _typed(set(chosen.values()))
        keep = f", CASE WHEN {problem} IS NOT NULL THEN _line END AS _raw" if raw else ""
        return (
            f"SELECT {typed}, source_file, source_line, "  # noqa: S608
            f"{problem} AS _problem{keep} FROM ({numbered})"
        )

    def keep_rejects(self, con: duckdb.DuckDBPyConnection, files: list[WholeFile]) -> None:
        """Read `files` again as raw text and store their rejected lines."""
        raw = Staged(con, files, f"{self.table}_raw", raw=True)
        try:
            # (Regular files have no line over RAW_LINE_MAX_BYTES: `survey.py` checks.)
            into = "INSERT INTO rejects (source_file, source_line, reason, raw_line, raw_bytes, "
            sql = (
                f"{into}raw_sha256) SELECT source_file, source_line, _problem, _raw, "  # noqa: S608
                f"strlen(_raw), sha256(_raw) FROM ({raw.query()}) WHERE _problem IS NOT NULL"
            )
            con.execute(sql).fetchall()
        finally:
            raw.drop(con)

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"DROP TABLE IF EXISTS {self.table}")


def store_group(
    con: duckdb.DuckDBPyConnection, group: list[Staged], run_id: int
) -> dict[str, FileCounts]:
    """Store staged files with one INSERT (inside the caller's transaction), so that
    DuckDB compresses many row groups in parallel; return what each file contributed.
    Records whose key is stored with other values go to `conflicts` (run `run_id`)."""

    params: dict[str, object] = {}
    spans = [s.days for s in group]
    span = ""
    if all(spans):
        params["lo"] = datetime.combine(min(d[0] for d in spans if d), time.min)
        params["hi"] = datetime.combine(max(d[1] for d in spans if d), time.max)
        span = "r.ts BETWEEN $lo AND $hi AND "
    columns = ", ".join(schema.REQUEST_COLUMN_NAMES)
    union = " UNION ALL ".join(s.query() for s in group)
    # Stored copies first (none to look for when nothing is stored in the time span,
    # as on a first load); then an INSERT that does not read `requests` (one that does
    # keeps the whole transaction in memory, uncompressed).
    stored_in_span = con.execute(
        f"SELECT count(*) FROM requests r WHERE {span}true",  # noqa: S608
        params,
    ).fetchall()[0][0]
    skip = ""
    if stored_in_span:
        # Stored copies, their values compared in the same join; the new versions that
        # differ are copied to `conflicts` (one more read of the group) only if any do.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _seen AS "  # noqa: S608
            f"SELECT b.row_id, b.ts, NOT ({SAME_VALUES}) AS differs FROM ({union}) b "
            f"JOIN requests r ON {span}r.row_id = b.row_id AND r.ts = b.ts "
            "WHERE b._problem IS NULL",
            params,
        )
        skip = "ANTI JOIN _seen USING (row_id, ts) "
        if con.execute("SELECT bool_or(differs) FROM _seen").fetchall()[0][0]:
            picked = ", ".join(f"b.{c}" for c in schema.REQUEST_COLUMN_NAMES)
            con.execute(
                f"{INTO_CONFLICTS}SELECT {picked}, $run FROM ({union}) b "  # noqa: S608
                "WHERE b._problem IS NULL AND EXISTS (SELECT 1 FROM requests r "
                f"WHERE {span}r.row_id = b.row_id AND r.ts = b.ts AND NOT ({SAME_VALUES}))",
                {**params, "run": run_id},
            ).fetchall()
    con.execute(
        f"INSERT INTO requests SELECT {columns}, {int(run_id)}::BIGINT AS run_id "  # noqa: S608
        f"FROM ({union}) s {skip}"
        "WHERE _problem IS NULL"
    ).fetchall()
    con.execute("DROP TABLE IF EXISTS _seen")
    keys = [k for s in group for k in s.keys]
    # The rows just stored: by file, and inside the time span (zone maps skip the rest of
    # a big warehouse, so that one new blob costs the same whatever is stored already).
    mine = f"{span}r.source_file IN (SELECT key FROM _group)"  # noqa: S608
    with registered(con, "_group", pa.table({"key": keys, "ord": list(range(len(keys)))})):
        _drop_repeats(con, mine, params, run_id)
        con.execute(
            f"INSERT INTO {derive.ARRIVED} SELECT row_id, ts, correlation_id, request_type "  # noqa: S608
            f"FROM requests r WHERE {mine}",
            params,
        )
        stats = con.execute(
            "SELECT r.source_file, count(*), min(r.ts), max(r.ts) FROM requests r "  # noqa: S608
            f"WHERE {mine} GROUP BY r.source_file",
            params,
        ).fetchall()
    stored = {row[0]: row[1:] for row in stats}
    for staged in group:
        short = [f for f in staged.files if stored.get(f.done.key, (0,))[0] < f.data_lines]
        if short:  # rejects or duplicates: read again to keep the raw lines of rejects
            staged.keep_rejects(con, short)
    rejected = dict(
        con.execute(
            "SELECT source_file, count(*) FROM rejects "
            "WHERE source_file IN (SELECT unnest($keys)) GROUP BY source_file",
            {"keys": keys},
        ).fetchall()
    )
    conflicts = dict(
        con.execute(
            "SELECT source_file, count(*) FROM conflicts WHERE run_id = $run "
            "AND source_file IN (SELECT unnest($keys)) GROUP BY source_file",
            {"keys": keys, "run": run_id},
        ).fetchall()
    )
    return {
        f.done.key: _counts(
            f, stored.get(f.done.key), rejected.get(f.done.key, 0), conflicts.get(f.done.key, 0)
        )
        for s in group
        for f in s.files
    }


def _counts(whole: WholeFile, stored: Any, rejected: int, conflicts: int) -> FileCounts:
    n, lo, hi = stored if stored else (0, None, None)
    lines = whole.data_lines
    dups = lines - n - rejected - conflicts
    return FileCounts(lines, n, dups, rejected, conflicts, lo, hi, read_by_duckdb=True)


def _drop_repeats(
    con: duckdb.DuckDBPyConnection, mine: str, params: dict[str, object], run_id: int
) -> None:
    """The INSERT cannot see its own rows: where the group repeats a record (in one file
    or across files), keep the first, in file order then line order; a repeat with other
    values than the first goes to `conflicts` (run `run_id`). `mine` selects the group's
    rows of `requests r`."""
    total, ids = con.execute(
        f"SELECT count(*), count(DISTINCT r.row_id) FROM requests r WHERE {mine}",  # noqa: S608
        params,
    ).fetchall()[0]
    if total == ids:  # (distinct row-ids are enough; else look closer)
        return
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ranked AS "  # noqa: S608
        "SELECT r.rowid AS id, r.*, row_number() OVER ("
        "  PARTITION BY r.row_id, r.ts ORDER BY g.ord, r.source_line) AS k"
        f" FROM requests r JOIN _group g ON r.source_file = g.key WHERE {mine}",
        params,
    )
    try:
        picked = ", ".join(f"b.{c}" for c in schema.REQUEST_COLUMN_NAMES)
        con.execute(
            f"{INTO_CONFLICTS}SELECT {picked}, $run FROM _ranked b "  # noqa: S608
            "JOIN _ranked r ON r.row_id = b.row_id AND r.ts = b.ts AND r.k = 1 "
            f"WHERE b.k > 1 AND NOT ({SAME_VALUES})",
            {"run": run_id},
        ).fetchall()
        con.execute(
            "DELETE FROM requests WHERE rowid IN (SELECT id FROM _ranked WHERE k > 1)"
        ).fetchall()
    finally:
        con.execute("DROP TABLE IF EXISTS _ranked")


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_NULL_TOKENS = "[" + ", ".join(_sql_text(t) for t in NULL_TOKENS) + "]"
#: Fields that the value rule turns into NULL: empty, `-`, and those inside one quote pair.
_NULL_FIELDS = (
    "["
    + ", ".join(
        _sql_text(t)
        for t in [*NULL_TOKENS, *(a + t + b for t in NULL_TOKENS for a in QUOTES for b in QUOTES)]
    )
    + "]"
)


def _clean(c: str, *, nulls: bool, curly: bool) -> str:
    """Strip one pair of surrounding quotes; with `nulls`, also turn the null tokens into
    NULL (otherwise the reader's `nullstr` did that already). Without `curly` quotes in
    the file, a cheaper test of the bytes does (measured: about half the cost)."""
    if not curly:
        value = (
            f"CASE WHEN strlen({c}) >= 2 AND starts_with({c}, '''') AND ends_with({c}, '''') "
            f"THEN {c}[2:-2] ELSE {c} END"
        )
    else:
        opens = " OR ".join(f"starts_with({c}, {_sql_text(q)})" for q in QUOTES)
        closes = " OR ".join(f"ends_with({c}, {_sql_text(q)})" for q in QUOTES)
        value = (
            f"CASE WHEN ({opens}) AND ({closes}) AND length({c}) >= 2 "
            f"THEN substring({c}, 2, length({c}) - 2) ELSE {c} END"
        )
    if nulls:
        tokens = ", ".join(_sql_text(t) for t in NULL_TOKENS)
        value = f"CASE WHEN {value} IN ({tokens}) THEN NULL ELSE {value} END"
    return value


def _typed(cols: set[str]) -> tuple[str, str]:
    """Typed select list of every `requests` value column, and the `_problem` expression."""
    ts = _timestamp("date || ' ' || time", record.TS_SHAPE, record.TS_FORMAT)
    out = {"ts": ts}
    problems = [
        f"CASE WHEN ({ts}) IS NULL THEN "
        + _reason(record.INVALID_TS, "coalesce(date, '')", "coalesce(time, '')")
        + " END"
    ]
    for field in record.TIMESTAMP_FIELDS:
        if field.column in cols:
            name = field.column
            out[name] = _timestamp(name, field.shape, field.format)
            problems.append(
                f"CASE WHEN {name} IS NOT NULL AND ({out[name]}) IS NULL "
                f"THEN {_reason(record.invalid(name), name)} END"
            )
    words = f"{_sql_text(record.BOOLEAN_TRUE)}, {_sql_text(record.BOOLEAN_FALSE)}"
    for name in record.BOOLEAN_FIELDS:
        if name in cols:
            out[name] = f"lower({name}) = {_sql_text(record.BOOLEAN_TRUE)}"
            reason = _reason(record.invalid(name), name)
            problems.append(f"CASE WHEN lower({name}) NOT IN ({words}) THEN {reason} END")
    corr, kind, date, time = (k if k in cols else "NULL" for k in record.FALLBACK_KEY)
    fallback = f"{corr} || '/' || coalesce({kind}, '') || '/' || {date} || 'T' || {time}"
    out["row_id"] = f"coalesce(row_id, {fallback})" if "row_id" in cols else fallback
    problems.append(f"CASE WHEN ({out['row_id']}) IS NULL THEN {_sql_text(record.NO_KEY)} END")
    select = []
    for c in schema.REQUEST_COLUMNS:
        if c.name in ("source_file", "source_line"):
            continue
        expr = out.get(c.name, c.name if c.name in cols else "NULL")
        select.append(f"CAST({expr} AS {c.duckdb_type}) AS {c.name}")
    return ", ".join(select), f"coalesce({', '.join(problems)})"


def _timestamp(text: str, shape: str, fmt: str) -> str:
    """SQL: `text` as an instant when it has `shape` and parses with `fmt`, else NULL."""
    return (
        f"CASE WHEN regexp_full_match({text}, {_sql_text(shape)}) "
        f"THEN try_strptime({text}, {_sql_text(fmt)}) END"
    )


def _reason(template: str, *values: str) -> str:
    """SQL text of a reject reason: `template`'s `{}` filled with the SQL `values`."""
    parts = template.split("{}")
    out = [_sql_text(parts[0])]
    for value, text in zip(values, parts[1:], strict=True):
        out += [value, _sql_text(text)]
    return " || ".join(out)
