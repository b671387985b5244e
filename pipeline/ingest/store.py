"""The DuckDB side of ingest: transactions, dedup, rejects and the manifest.

A file's rows, rejects and manifest row always commit together. Files read in one chunk
(blobs, small daily files) join a group that commits once it holds `GROUP_LINES` data
lines, because a commit per small file would cost more than the file. A file read in
several chunks gets a transaction of its own, so that refusing it half-way (a
`#Software` line that is not RMS in its last chunk) rolls back that file alone.
Regular files that DuckDB reads itself (`fast.py`) are staged, then stored in groups.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import derive, schema
from pipeline.ingest.fast import INTO_CONFLICTS, SAME_VALUES, FastPathMiss, Staged, store_group
from pipeline.ingest.keyvault import KvBatch
from pipeline.ingest.lake import Lake
from pipeline.ingest.source import Chunk, FileCounts, FileDone
from pipeline.ingest.survey import WholeFile
from pipeline.warehouse import record_ingest_run


@dataclass(frozen=True, slots=True)
class IngestRun:
    """The run every row stored by this ingest carries (`requests.run_id`)."""

    run_id: int
    started_at: datetime


#: A group of small files commits once it holds this many data lines.
GROUP_LINES = 250_000
#: Regular files read by DuckDB store together up to this many data lines: one INSERT of
#: many row groups lets DuckDB compress them on all cores.
FAST_GROUP_LINES = 1_000_000
#: Environment variable that sets both group sizes (1 = a commit per file): less work
#: redone after a crash, at some cost in speed.
COMMIT_LINES_ENV = "RMSLOG_COMMIT_LINES"


def _group_lines(default: int) -> int:
    value = os.environ.get(COMMIT_LINES_ENV, "").strip()
    return max(1, int(value)) if value.isdigit() else default


@dataclass(frozen=True, slots=True)
class Batch:
    """A parsed chunk made ready for DuckDB (on the reader thread): repeats of a record
    inside the chunk set apart, frames converted to Arrow."""

    key: str
    rows: pa.Table  # rows of the chunk, first of each (row_id, ts)
    parsed_rows: int
    rejects: pa.Table
    data_lines: int
    first: bool
    last: bool
    repeats: pa.Table | None = None  # the other rows of the chunk (same key as a first)

    @classmethod
    def of(cls, chunk: Chunk) -> Batch:
        parsed = chunk.parsed
        rows, repeats = parsed.rows, None
        if rows.height:
            firsts = pl.struct("row_id", "ts").is_first_distinct()
            if not (mask := rows.select(firsts).to_series()).all():
                repeats = rows.filter(~mask).to_arrow()
                rows = rows.filter(mask)
        return cls(
            chunk.key,
            rows.to_arrow(),
            parsed.rows.height,
            parsed.rejects.to_arrow(),
            parsed.data_lines,
            chunk.first,
            chunk.last,
            repeats,
        )


OnCommit = Callable[[FileDone, FileCounts], None]
#: Stores a file DuckDB could not read through the general path (`loader.py`).
Fallback = Callable[["Store", WholeFile], None]
"""Called after a commit for every file in it."""


class Store:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        lake: Lake | None,
        on_commit: OnCommit,
        run: IngestRun,
        fallback: Fallback | None = None,
    ):
        """`fallback(store, whole)` stores a file DuckDB could not read (the general path)."""
        self.con, self.lake, self.on_commit, self.run = con, lake, on_commit, run
        self.lake_files = 0  # Parquet parts published so far
        self.group_lines = _group_lines(GROUP_LINES)
        self.fast_group_lines = _group_lines(FAST_GROUP_LINES)
        self.waiting: list[WholeFile] = []  # regular files for DuckDB, not read yet
        self.waiting_lines = self.tables = 0
        self.fallback: Fallback = fallback or _no_fallback
        derive.track_arrivals(con)
        self._reset()

    def _reset(self) -> None:
        self.in_tx = False
        self.solo = False  # the open transaction belongs to one multi-chunk file
        self.counts: dict[str, FileCounts] = {}
        self.done: list[FileDone] = []
        self.lines = 0

    def _begin(self, *, solo: bool) -> None:
        self.con.execute("BEGIN TRANSACTION")
        self.in_tx, self.solo = True, solo
        # The run's row commits with its first rows (and rolls back with them).
        record_ingest_run(self.con, self.run.run_id, self.run.started_at)

    def _open_for(self, first: bool, last: bool) -> None:
        """The transaction a chunk goes into: a file's first of several chunks opens its own
        (the earlier files commit first); any other chunk joins the open one."""
        self.flush_staged()
        if first and not last:
            self.flush()
            self._begin(solo=True)
        elif not self.in_tx:
            self._begin(solo=False)

    def add(self, batch: Batch) -> None:
        """Store one chunk: new rows, duplicates counted, rejects kept."""
        self._open_for(batch.first, batch.last)
        counts = self.counts.setdefault(batch.key, FileCounts())
        stored, conflicts = _insert_new_rows(self.con, batch.rows, batch.repeats, self.run.run_id)
        if batch.rejects.num_rows:
            self.con.from_arrow(batch.rejects).insert_into("rejects")
        counts.data_lines += batch.data_lines
        counts.stored += stored
        counts.conflicts += conflicts
        counts.duplicates += batch.parsed_rows - stored - conflicts
        counts.rejected += batch.rejects.num_rows
        self.lines += batch.data_lines
        if stored:
            counts.widen(*_stored_span(self.con, batch.key, batch.rows, stored))

    def add_kv(self, batch: KvBatch) -> None:
        """Store one chunk of Key Vault records: new ones, duplicates counted, rejects kept."""
        self._open_for(batch.first, batch.last)
        counts = self.counts.setdefault(batch.key, FileCounts(keyvault=True))
        stored = _insert_kv_records(self.con, batch.rows, self.run.run_id)
        if batch.rejects.num_rows:
            self.con.from_arrow(batch.rejects).insert_into("rejects")
        counts.data_lines += batch.data_lines
        counts.stored += stored
        counts.duplicates += batch.rows.num_rows - stored
        counts.rejected += batch.rejects.num_rows
        self.lines += batch.data_lines
        if batch.rows.num_rows:
            span = pc.min_max(batch.rows["ts"])
            counts.widen(span["min"].as_py(), span["max"].as_py())

    def add_whole(self, whole: WholeFile) -> None:
        """A regular file for DuckDB to read; it waits for its group (`flush_staged`)."""
        self.flush()
        self.waiting.append(whole)
        self.waiting_lines += whole.data_lines
        if self.waiting_lines >= self.fast_group_lines:
            self.flush_staged()

    def flush_staged(self) -> None:
        """Read the waiting regular files with DuckDB (one read per run of files with the
        same header), store them in one transaction with their manifest rows; files that
        DuckDB could not read go to `fallback`, after the commit."""
        if not self.waiting:
            return
        waiting, self.waiting, self.waiting_lines = self.waiting, [], 0
        staged, missed = self._stage(waiting)
        try:
            if staged:
                self._begin(solo=True)
                self.counts = store_group(self.con, staged, self.run.run_id)
                for s in staged:
                    for whole in s.files:
                        counts = self.counts[whole.done.key]
                        _upsert_manifest(self.con, whole.done, counts, self.run.run_id)
                        self.done.append(whole.done)
                # The staged lines are stored: free their memory for the derived tables.
                # (On an error `finally` drops them, after the rollback: statements in a
                # failed transaction fail, so the drop cannot move up there alone.)
                for s in staged:
                    s.drop(self.con)
                self.flush()
        except BaseException:
            self.abort()
            raise
        finally:
            for s in staged:
                s.drop(self.con)
        for whole in missed:
            self.fallback(self, whole)

    def _stage(self, files: list[WholeFile]) -> tuple[list[Staged], list[WholeFile]]:
        runs: list[list[WholeFile]] = []
        for whole in files:
            if runs and Staged.fits(runs[-1], whole):
                runs[-1].append(whole)
            else:
                runs.append([whole])
        staged: list[Staged] = []
        missed: list[WholeFile] = []
        for run in runs:
            if (whole_run := self._read(run)) is not None:
                staged.append(whole_run)
                continue
            for whole in run if len(run) > 1 else []:  # find the file DuckDB refused
                if (single := self._read([whole])) is not None:
                    staged.append(single)
                else:
                    missed.append(whole)
            if len(run) == 1:
                missed.extend(run)
        return staged, missed

    def _read(self, files: list[WholeFile]) -> Staged | None:
        self.tables += 1
        try:
            return Staged(self.con, files, f"_lines_{self.tables}")
        except FastPathMiss:
            return None

    def finish(self, done: FileDone) -> None:
        """The file's new lines are all stored: write its manifest row; commit when due."""
        self.flush_staged()
        if not self.in_tx:
            self._begin(solo=False)
        counts = self.counts.setdefault(done.key, FileCounts())
        _upsert_manifest(self.con, done, counts, self.run.run_id)
        self.done.append(done)
        if self.solo or self.lines >= self.group_lines:
            self.flush()

    def refuse(self, key: str, reason: str) -> None:
        """Forget what a refused file stored (only a multi-chunk file can have stored any,
        and it has its transaction to itself) and record the refusal in `refused_files`,
        for the report (with the open group, if any; the latest reason wins)."""
        if self.in_tx and self.solo and key in self.counts:
            self.abort()
        self.con.execute(
            "INSERT OR REPLACE INTO refused_files VALUES ($p, $r, $now)",
            {"p": key, "r": reason, "now": datetime.now(UTC).replace(tzinfo=None)},
        ).fetchall()

    def flush(self) -> None:
        """Commit the open transaction, publish its lake parts, report its files."""
        if not self.in_tx:
            return
        staged = None
        firsts = [c.first_ts for c in self.counts.values() if c.first_ts is not None]
        lasts = [c.last_ts for c in self.counts.values() if c.last_ts is not None]
        if self.lake and self.done:
            # Custody and manifest rows reach the lake even when no record was stored (a
            # changed file read again holds only duplicates and conflicts).
            span = (min(firsts), max(lasts)) if firsts and lasts else None
            staged = self.lake.stage(self.con, self.done, span, self.run.run_id)
        derive.apply_arrivals(self.con)  # key_usage and rollups commit with their rows
        self.con.execute("COMMIT")
        if self.lake and staged:
            self.lake_files += self.lake.publish(staged)
        done, counts = self.done, self.counts
        self._reset()
        for d in done:
            self.on_commit(d, counts[d.key])

    def close(self) -> None:
        """Commit whatever waits (the staged files first: their fallbacks join a group)."""
        self.flush_staged()
        self.flush()

    def abort(self) -> None:
        if self.in_tx:
            self._reset()
            self.con.execute("ROLLBACK")
        self.waiting = []


def _no_fallback(store: Store, whole: WholeFile) -> None:
    raise AssertionError(f"{whole.done.key}: no general path to fall back to")


def _int64_column(value: int, length: int) -> pa.Array:
    """`length` copies of `value`, built from a NumPy buffer: converting a Python value
    (`pa.scalar`, `pa.array([...])`) makes pyarrow import all of pandas (0.9 s)."""
    import numpy as np

    return pa.Array.from_buffers(
        pa.int64(), length, [None, pa.py_buffer(np.full(length, value, dtype=np.int64))]
    )


def _stored_between(
    con: duckdb.DuckDBPyConnection, table: str, bounds: dict[str, object], alias: str
) -> duckdb.DuckDBPyRelation:
    """The rows of `table` whose `ts` lies between `bounds["lo"]` and `bounds["hi"]` (a
    relation, read when used; zone maps on `ts` skip the rest of a big warehouse)."""
    return con.sql(
        f"SELECT * FROM {table} WHERE ts BETWEEN $lo AND $hi",  # noqa: S608 (our table names)
        params={"lo": bounds["lo"], "hi": bounds["hi"]},
    ).set_alias(alias)


def _batch(con: duckdb.DuckDBPyConnection, rows: pa.Table, alias: str) -> duckdb.DuckDBPyRelation:
    """An Arrow table as a relation of this connection, named `alias` in join conditions.

    Python objects reach SQL only this way, never by a variable's name: warehouse
    connections turn DuckDB's replacement scans off (`warehouse.connection_config`).
    Not `con.register` either: a registered view lives in the transaction, which then
    keeps every chunk's Arrow table alive until it commits (measured: a 40-chunk
    transaction peaked at 906 MiB against 343 MiB with a relation).
    """
    return con.from_arrow(rows).set_alias(alias)


def _insert_new_rows(
    con: duckdb.DuckDBPyConnection, rows: pa.Table, repeats: pa.Table | None, run_id: int
) -> tuple[int, int]:
    """Insert rows whose (row_id, ts) is not stored yet; keep in `conflicts` those whose
    key is stored with other values; return (rows inserted, conflicts).

    The same record always carries the same time, so only stored rows inside the
    batch's time span are looked at: zone maps on `ts` skip the rest of a big warehouse.
    Stored copies are found first, their values compared in the same join (only rows
    with a stored key are compared, so a first load pays nothing); the rows that differ
    are copied to `conflicts` only when there are some; then an INSERT that reads only
    the batch: one that also reads
    `requests` keeps a whole file's transaction in memory, uncompressed. `repeats` (rows
    of the batch whose key came earlier in it) are compared with what `requests` keeps.
    """
    if rows.num_rows == 0:
        return 0, 0
    rows = rows.append_column("run_id", _int64_column(run_id, rows.num_rows))
    span = pc.min_max(rows["ts"])
    bounds = {"lo": span["min"].as_py(), "hi": span["max"].as_py()}
    batch = _batch(con, rows, "b")
    seen = (
        batch.join(
            _stored_between(con, "requests", bounds, "r"), "r.row_id = b.row_id AND r.ts = b.ts"
        )
        .select(f"b.row_id, b.ts, NOT ({SAME_VALUES}) AS differs")
        .to_arrow_table()
    )
    conflicts = 0
    new = batch
    if seen.num_rows:
        if pc.any(seen["differs"]).as_py():
            conflicts = _keep_conflicts(con, rows, bounds)
        new = batch.join(_batch(con, seen, "s"), "s.row_id = b.row_id AND s.ts = b.ts", how="anti")
    new.insert_into("requests")
    new.select("row_id, ts, correlation_id, request_type").insert_into(derive.ARRIVED)
    if repeats is not None and repeats.num_rows:
        repeats = repeats.append_column("run_id", _int64_column(run_id, repeats.num_rows))
        span = pc.min_max(repeats["ts"])
        conflicts += _keep_conflicts(
            con, repeats, {"lo": span["min"].as_py(), "hi": span["max"].as_py()}
        )
    return int(rows.num_rows - seen.num_rows), conflicts


def _insert_kv_records(con: duckdb.DuckDBPyConnection, rows: pa.Table, run_id: int) -> int:
    """Insert the records whose `record_id` is not stored yet (nor earlier in `rows`);
    return how many. A record's time is part of it, so only stored records inside the
    batch's time span are looked at."""
    if rows.num_rows == 0:
        return 0
    ids = pl.Series("record_id", rows["record_id"])
    firsts = ids.is_first_distinct()
    if not firsts.all():
        rows = rows.filter(firsts.to_arrow())
    rows = rows.append_column("run_id", _int64_column(run_id, rows.num_rows))
    span = pc.min_max(rows["ts"])
    bounds = {"lo": span["min"].as_py(), "hi": span["max"].as_py()}
    new = _batch(con, rows, "b").join(
        _stored_between(con, "keyvault_events", bounds, "k"),
        "k.ts = b.ts AND k.record_id = b.record_id",
        how="anti",
    )
    return _count(new.query("new", "INSERT INTO keyvault_events BY NAME SELECT * FROM new"))


def _keep_conflicts(
    con: duckdb.DuckDBPyConnection, rows: pa.Table, bounds: dict[str, object]
) -> int:
    """Copy into `conflicts` the `rows` (with their `run_id`) whose key is stored with
    other values; return how many."""
    differing = _batch(con, rows, "b").join(
        _stored_between(con, "requests", bounds, "r"),
        f"r.row_id = b.row_id AND r.ts = b.ts AND NOT ({SAME_VALUES})",
        how="semi",
    )
    columns = ", ".join(schema.REQUEST_COLUMN_NAMES)
    return _count(differing.query("d", f"{INTO_CONFLICTS}SELECT {columns}, run_id FROM d"))  # noqa: S608


def _count(inserted: duckdb.DuckDBPyRelation | None) -> int:
    """The row count an INSERT run through `DuckDBPyRelation.query` returned."""
    assert inserted is not None, "an INSERT returns its count"
    return int(inserted.fetchall()[0][0])


def _stored_span(
    con: duckdb.DuckDBPyConnection, key: str, rows: pa.Table, stored: int
) -> tuple[datetime, datetime]:
    """Earliest and latest time among the rows just stored from this chunk."""
    if stored == rows.num_rows:
        span = pc.min_max(rows["ts"])
        return span["min"].as_py(), span["max"].as_py()
    lines, span = pc.min_max(rows["source_line"]), pc.min_max(rows["ts"])
    row = con.execute(
        "SELECT min(ts), max(ts) FROM requests WHERE ts BETWEEN $t0 AND $t1 "
        "AND source_file = $f AND source_line BETWEEN $lo AND $hi",
        {
            "f": key,
            "lo": lines["min"].as_py(),
            "hi": lines["max"].as_py(),
            "t0": span["min"].as_py(),
            "t1": span["max"].as_py(),
        },
    ).fetchall()[0]
    return row[0], row[1]


def _upsert_manifest(
    con: duckdb.DuckDBPyConnection, done: FileDone, counts: FileCounts, run_id: int
) -> None:
    """The file's manifest row (its state now), and, appended, this read in `file_reads`
    and, when bytes read before had changed, an `integrity_events` row."""
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute(
        """
        INSERT INTO ingested_files AS f (path, size, sha256, bytes_consumed, rows_stored,
            duplicates, rejects, first_ts, last_ts, ingested_at, fields_header, conflicts,
            data_lines, real_path, kind)
        VALUES ($path, $size, $sha, $consumed, $stored, $dups, $rejected,
             $first_ts, $last_ts, $now, $fields, $conflicts, $lines, $real, $kind)
        ON CONFLICT (path) DO UPDATE SET
            size = excluded.size, sha256 = excluded.sha256,
            bytes_consumed = excluded.bytes_consumed,
            rows_stored = f.rows_stored + excluded.rows_stored,
            duplicates = f.duplicates + excluded.duplicates,
            rejects = f.rejects + excluded.rejects,
            conflicts = coalesce(f.conflicts, 0) + excluded.conflicts,
            data_lines = coalesce(f.data_lines, 0) + excluded.data_lines,
            first_ts = least(f.first_ts, excluded.first_ts),
            last_ts = greatest(f.last_ts, excluded.last_ts),
            ingested_at = excluded.ingested_at,
            fields_header = excluded.fields_header,
            real_path = excluded.real_path,
            kind = excluded.kind
        """,
        {
            "path": done.key,
            "size": done.size,
            "sha": done.sha256,
            "consumed": done.consumed,
            "stored": counts.stored,
            "dups": counts.duplicates,
            "rejected": counts.rejected,
            "conflicts": counts.conflicts,
            "lines": counts.data_lines,
            "first_ts": counts.first_ts,
            "last_ts": counts.last_ts,
            "now": now,
            "fields": done.header.fields_line(),
            "real": str(Path(done.path_given or done.key).resolve()),
            "kind": done.kind,
        },
    ).fetchall()
    con.execute(
        "INSERT INTO file_reads VALUES ($run, $path, $given, $start, $end, $range_sha, $sha, "
        "$lines, $stored, $dups, $conflicts, $rejected, $now)",
        {
            "run": run_id,
            "path": done.key,
            "given": done.path_given or done.key,
            "start": done.read_start,
            "end": done.consumed,
            "range_sha": done.range_sha256 or done.sha256,
            "sha": done.sha256,
            "lines": counts.data_lines,
            "stored": counts.stored,
            "dups": counts.duplicates,
            "conflicts": counts.conflicts,
            "rejected": counts.rejected,
            "now": now,
        },
    ).fetchall()
    if (c := done.changed) is not None:
        con.execute(
            "INSERT INTO integrity_events VALUES ($run, $path, 'changed', $end, $expected, "
            "$found, $found_bytes, $now)",
            {
                "run": run_id,
                "path": done.key,
                "end": c.byte_end,
                "expected": c.expected_sha256,
                "found": c.found_sha256,
                "found_bytes": c.found_bytes,
                "now": now,
            },
        ).fetchall()
