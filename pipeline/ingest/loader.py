"""Load files into the warehouse exactly once: manifest, resume, dedup, atomic commits.

A reader thread surveys regular files for DuckDB to read (`survey.py`, `fast.py`) and
parses the others chunk by chunk with NumPy and Polars (`source.py`, `w3c.py`), while
this thread stores with DuckDB (all three release the GIL); at most two parsed chunks
wait, so memory stays bounded and both cores work. A file's rows, rejects and manifest
row commit together (`store.py`): kill the process at any moment and the next run picks
up exactly where the last commit left off.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline.errors import LogFormatError, WarehouseError
from pipeline.ingest.lake import Lake
from pipeline.ingest.source import (
    CHUNK_BYTES,
    Chunk,
    FileCounts,
    FileDone,
    FileSkipped,
    Known,
    Resume,
    read_file,
)
from pipeline.ingest.store import Batch, IngestRun, Store
from pipeline.ingest.survey import FAST_MIN_BYTES, WholeFile, survey_file
from pipeline.warehouse import begin_ingest_run, duckdb_memory_mib, finish_ingest_run

#: In folders, files named like RMS logs are taken: `*.log`, numbered blobs, and their `.gz`.
LOG_SUFFIXES = (".log", ".log.gz")
#: DuckDB memory while ingesting (at most; less when its share of the process budget,
#: `$RMSLOG_MEMORY_LIMIT`, is smaller): big files stream through; the rest spills to disk.
#: Python holds up to two parsed 8 MiB chunks (as Arrow) beside it.
MEMORY_LIMIT_MIB = 400

OnFile = Callable[[str, str, str], None]
"""Called with (file key, path given, "ingested" | "skipped" | "refused") after each file."""


@dataclass
class IngestSummary:
    """What one ingest did. `data_lines == rows_stored + duplicates + conflicts + rejected`."""

    files: int = 0  # files with new lines read and committed
    files_skipped: int = 0  # already ingested, unchanged
    files_refused: int = 0
    data_lines: int = 0
    rows_stored: int = 0
    duplicates: int = 0
    conflicts: int = 0  # same key as a stored record, other values (table `conflicts`)
    rejected: int = 0
    seconds: float = 0.0
    refused: list[str] = field(default_factory=list)
    bytes_pending: int = 0  # bytes after the last LF of files, waiting for their line to end
    pending: list[str] = field(default_factory=list)  # files with such bytes
    newest_ts: datetime | None = None  # latest record time stored in this run
    lake_files: int = 0  # Parquet files published to the lake
    files_read_by_duckdb: int = 0  # of `files`, those DuckDB's CSV reader read (fast path)
    files_ignored: int = 0  # files under the folders given not named like logs: not read
    folders_without_logs: list[str] = field(default_factory=list)  # folders given, no log
    files_changed: list[str] = field(default_factory=list)  # bytes read before had changed
    run_id: int = 0  # this run's id in `file_reads`, `conflicts`, `integrity_events`

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def is_log_name(path: Path) -> bool:
    name = path.name.lower()
    stem = name.removesuffix(".gz")
    return name.endswith(LOG_SUFFIXES) or (stem.isdigit() and not name.startswith("."))


def check_paths(paths: Iterable[Path | str]) -> None:
    """Raise LogFormatError naming every path that is neither a file nor a folder, before
    anything is opened or created (a typo must not leave an empty warehouse behind)."""
    missing = [str(p) for p in paths if not Path(p).is_file() and not Path(p).is_dir()]
    if missing:
        named = "; ".join(f"{p}: no such file or folder" for p in missing)
        raise LogFormatError(f"{named}; nothing ingested")


@dataclass
class Found:
    """What `discover` found: the log files, and what it passed over in folders."""

    files: list[Path] = field(default_factory=list)
    ignored: int = 0  # files under the folders not named like logs
    folders_without_logs: list[str] = field(default_factory=list)


def discover(paths: Iterable[Path], found: Found | None = None) -> Iterator[Path]:
    """Files named on the command line, and log files found recursively under folders.
    `found`, when given, counts the files passed over and the folders without a log."""
    for p in paths:
        if p.is_dir():
            inside = [f for f in p.rglob("*") if f.is_file()]
            logs = sorted(f for f in inside if is_log_name(f))
            if found is not None:
                found.ignored += len(inside) - len(logs)
                if not logs:
                    found.folders_without_logs.append(str(p))
            yield from logs
        elif p.is_file():
            yield p
        else:
            raise LogFormatError(f"{p}: no such file or folder")


def ingest_paths(
    con: duckdb.DuckDBPyConnection,
    paths: Iterable[Path | str],
    *,
    lake: Path | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    fast_min_bytes: int = FAST_MIN_BYTES,
    stop: threading.Event | None = None,
    on_file: OnFile | None = None,
    resume: dict[str, Resume] | None = None,
) -> IngestSummary:
    """Ingest files and folders (recursively, `.gz` too) into the warehouse on `con`.

    `lake`: also publish the stored rows as day-partitioned Parquet, after each commit.
    `fast_min_bytes`: regular files at least this big are read by DuckDB (`fast.py`).
    `stop`: when set, no new file is started (what was read still commits).
    `resume`: a dict kept by a long-running caller between calls (see `Resume`).
    """
    started = time.perf_counter()
    found = Found()
    files = list(dict.fromkeys(discover((Path(p) for p in paths), found)))
    summary = IngestSummary(
        files_ignored=found.ignored, folders_without_logs=found.folders_without_logs
    )
    tally = _Tally(summary, on_file, resume)
    run = IngestRun(begin_ingest_run(con), datetime.now(UTC).replace(tzinfo=None))

    def fallback(store: Store, whole: WholeFile) -> None:  # DuckDB could not read it
        for item in _general(whole.path, whole.done.key, None, chunk_bytes, None):
            _handle(store, tally, item, chunk_bytes)

    store = Store(con, Lake(lake) if lake else None, tally.committed, run, fallback)
    with _ingest_settings(con):
        if store.lake is not None:
            store.lake.recover(con)
        jobs = _identify(con, files)
        tally.given = {key: str(f) for f, key, _ in jobs}
        reader = _Reader(jobs, chunk_bytes, fast_min_bytes, stop or threading.Event(), resume)
        try:
            with reader as events:
                for event in events:
                    _handle(store, tally, event, chunk_bytes)
                store.close()
            finish_ingest_run(con, run.run_id)
            con.execute("CHECKPOINT")
        except duckdb.Error as e:
            store.abort()
            raise WarehouseError(f"could not store rows: {e}") from e
        except BaseException:
            store.abort()
            raise
    summary.lake_files = store.lake_files
    summary.run_id = run.run_id
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _handle(store: Store, tally: _Tally, event: _Item, chunk_bytes: int) -> None:
    if isinstance(event, Batch):
        store.add(event)
    elif isinstance(event, FileDone):
        store.finish(event)
    elif isinstance(event, WholeFile):
        store.add_whole(event)
    elif isinstance(event, FileSkipped):
        tally.skipped(event.key)
    else:
        store.refuse(event.key, event.reason)
        tally.refused(event)


def _general(
    path: Path, key: str, known: Known | None, chunk_bytes: int, resume: Resume | None
) -> Iterator[_Item]:
    """The general path's events for one file; a refusal ends them."""
    try:
        for event in read_file(path, key, known, chunk_bytes=chunk_bytes, resume=resume):
            yield Batch.of(event) if isinstance(event, Chunk) else event
    except LogFormatError as e:
        yield _Refused(key, str(e))


def real_path(path: Path) -> str:
    """A file's identity: its absolute path with every symlink resolved, so that the same
    file named by a relative, absolute or symlinked path is one file."""
    return str(path.resolve())


def _identify(
    con: duckdb.DuckDBPyConnection, files: list[Path]
) -> list[tuple[Path, str, Known | None]]:
    """(path given, key, manifest row) per distinct file. The key (`ingested_files.path`,
    `source_file`) is the path the file was first ingested under, found by its real path;
    a new file's key is the path as given now. Rows from before `real_path` existed are
    adopted when their path, resolved from the current folder, is the same file."""
    jobs: dict[str, Path] = {}
    for f in files:
        jobs.setdefault(real_path(f), f)
    reals = list(jobs)
    found = {
        r[0]: (r[1], Known(*r[2:]))
        for r in con.execute(
            "SELECT real_path, path, size, sha256, bytes_consumed, fields_header "
            "FROM ingested_files WHERE real_path IN (SELECT unnest($reals))",
            {"reals": reals},
        ).fetchall()
    }
    if len(found) < len(reals):
        legacy = con.execute(
            "SELECT path, size, sha256, bytes_consumed, fields_header FROM ingested_files "
            "WHERE real_path IS NULL"
        ).fetchall()
        for row in legacy:
            real = real_path(Path(row[0]))
            if real in jobs and real not in found:
                con.execute(
                    "UPDATE ingested_files SET real_path = $real WHERE path = $path",
                    {"real": real, "path": row[0]},
                ).fetchall()
                found[real] = (row[0], Known(*row[1:]))
    out = []
    for real, f in jobs.items():
        key, known = found.get(real, (str(f), None))
        out.append((f, key, known))
    return out


@contextmanager
def _ingest_settings(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Parallel, order-free appends (lineage columns keep the order), bounded memory, and
    no checkpoint at each commit: measured on a 10M-row warehouse, the checkpoint that a
    100k-row commit set off took 0.5 s; one CHECKPOINT at the end of the run takes 0.1 s.
    (Committed rows are safe in the write-ahead log until then.)"""
    settings = {
        "preserve_insertion_order": "false",
        "memory_limit": f"{min(MEMORY_LIMIT_MIB, duckdb_memory_mib())}MiB",
        "wal_autocheckpoint": "1GB",
    }
    before = {n: con.execute(f"SELECT current_setting('{n}')").fetchall()[0][0] for n in settings}
    for name, value in settings.items():
        con.execute(f"SET {name} = '{value}'")
    try:
        yield
    finally:
        for name, value in before.items():
            con.execute(f"SET {name} = $v", {"v": value})


class _Tally:
    """Summary bookkeeping: counts land only when their transaction has committed."""

    def __init__(
        self, summary: IngestSummary, on_file: OnFile | None, resume: dict[str, Resume] | None
    ) -> None:
        self.summary, self.on_file, self.resume = summary, on_file, resume
        self.given: dict[str, str] = {}  # file key -> the path as given

    def committed(self, done: FileDone, counts: FileCounts) -> None:
        s = self.summary
        s.files += 1
        s.files_read_by_duckdb += counts.read_by_duckdb
        s.data_lines += counts.data_lines
        s.rows_stored += counts.stored
        s.duplicates += counts.duplicates
        s.rejected += counts.rejected
        s.conflicts += counts.conflicts
        if done.changed is not None:
            s.files_changed.append(done.key)
        if done.pending:
            s.bytes_pending += done.pending
            s.pending.append(done.key)
        if counts.last_ts is not None:
            s.newest_ts = max(counts.last_ts, s.newest_ts) if s.newest_ts else counts.last_ts
        if self.resume is not None:
            self.resume[done.key] = done.resume
        self._notify(done.key, "ingested")

    def skipped(self, key: str) -> None:
        self.summary.files_skipped += 1
        self._notify(key, "skipped")

    def refused(self, refused: _Refused) -> None:
        self.summary.files_refused += 1
        self.summary.refused.append(refused.reason)
        self._notify(refused.key, "refused")

    def _notify(self, key: str, outcome: str) -> None:
        if self.on_file is not None:
            self.on_file(key, self.given.get(key, key), outcome)


@dataclass(frozen=True, slots=True)
class _Refused:
    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


_END = object()
_Item = Batch | FileDone | FileSkipped | WholeFile | _Refused


class _Reader:
    """Reads and parses files on a thread, handing events over a queue: at most two parsed
    chunks wait (they are big); surveys of regular files and other small events may run
    further ahead, so that DuckDB always has the next files to read."""

    def __init__(
        self,
        jobs: list[tuple[Path, str, Known | None]],
        chunk_bytes: int,
        fast_min_bytes: int,
        stop: threading.Event,
        resume: dict[str, Resume] | None,
    ) -> None:
        self.jobs, self.chunk_bytes, self.fast_min_bytes = jobs, chunk_bytes, fast_min_bytes
        self.stop, self.resume = stop, resume
        self.queue: queue.Queue[object] = queue.Queue(maxsize=64)
        self.batches = threading.Semaphore(2)
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rmslog-reader", daemon=True)

    def __enter__(self) -> Iterator[_Item]:
        self.thread.start()
        return self._events()

    def __exit__(self, *exc: object) -> None:
        self.cancel.set()
        while self.thread.is_alive():
            with suppress(queue.Empty):
                self.queue.get(timeout=0.05)

    def _events(self) -> Iterator[_Item]:
        while (item := self.queue.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            if isinstance(item, Batch):
                self.batches.release()
            yield item  # type: ignore[misc]

    def _run(self) -> None:
        try:
            for path, key, known in self.jobs:
                if self.stop.is_set() or self.cancel.is_set():
                    break
                for item in self._read_one(path, key, known):
                    if not self._put(item):
                        return
        except BaseException as e:  # handed to the consumer, which re-raises it
            self._put(_Failed(e))
        finally:
            self._put(_END)

    def _read_one(self, path: Path, key: str, known: Known | None) -> Iterator[_Item]:
        if known is None and _size(path) >= self.fast_min_bytes:
            try:
                whole = survey_file(path, key, self.chunk_bytes)
            except LogFormatError as e:
                yield _Refused(key, str(e))
                return
            if whole is not None:
                yield whole
                return
        resume = self.resume.get(key) if self.resume is not None else None
        yield from _general(path, key, known, self.chunk_bytes, resume)

    def _put(self, item: object) -> bool:
        if isinstance(item, Batch):
            while not self.batches.acquire(timeout=0.1):
                if self.cancel.is_set():
                    return False
        while not self.cancel.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # the general path reports it
