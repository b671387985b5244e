"""Load files into the warehouse exactly once: manifest, resume, dedup, one transaction per file."""

from __future__ import annotations

import gzip
import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline.errors import LogFormatError, WarehouseError
from pipeline.ingest.w3c import Header, Parsed, parse_fields_line, parse_text

#: In folders, files named like RMS logs are taken: `*.log`, numbered blobs, and their `.gz`.
LOG_SUFFIXES = (".log", ".log.gz")


@dataclass
class IngestSummary:
    """What one ingest did. `data_lines == rows_stored + duplicates + rejected` always."""

    files: int = 0
    files_skipped: int = 0  # already ingested, unchanged
    files_refused: int = 0
    data_lines: int = 0
    rows_stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0
    refused: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def is_log_name(path: Path) -> bool:
    name = path.name.lower()
    stem = name.removesuffix(".gz")
    return name.endswith(LOG_SUFFIXES) or (stem.isdigit() and not name.startswith("."))


def discover(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named on the command line, and log files found recursively under folders."""
    for p in paths:
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file() and is_log_name(f))
        elif p.is_file():
            yield p
        else:
            raise LogFormatError(f"{p}: no such file or folder")


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        return gzip.decompress(data) if path.name.lower().endswith(".gz") else data
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise LogFormatError(f"{path}: cannot read: {e}") from e


@dataclass(frozen=True, slots=True)
class _Manifest:
    size: int
    sha256: str
    bytes_consumed: int
    fields_header: str | None


def _manifest(con: duckdb.DuckDBPyConnection, path: str) -> _Manifest | None:
    row = con.execute(
        "SELECT size, sha256, bytes_consumed, fields_header FROM ingested_files WHERE path = $p",
        {"p": path},
    ).fetchall()
    return _Manifest(*row[0]) if row else None


def ingest_file(con: duckdb.DuckDBPyConnection, path: Path, summary: IngestSummary) -> None:
    """Ingest the unread complete lines of one file in a single transaction."""
    key = str(path)
    raw = _read_bytes(path)
    end = raw.rfind(b"\n") + 1  # complete lines only
    if end == 0 and raw:
        end = 0
    known = _manifest(con, key)
    start, header = 0, Header()
    if known is not None:
        prefix_sha = hashlib.sha256(raw[: known.bytes_consumed]).hexdigest()
        if known.bytes_consumed == end and prefix_sha == known.sha256:
            summary.files_skipped += 1
            return
        if prefix_sha == known.sha256 and end > known.bytes_consumed:
            start = known.bytes_consumed
            fields = parse_fields_line(known.fields_header) if known.fields_header else None
            header = Header(software="RMS", fields=fields)
    first_line = raw[:start].count(b"\n") + 1
    text = raw[start:end].decode("utf-8", errors="replace")
    parsed = parse_text(text, key, first_line=first_line, header=header)
    _store(con, key, len(raw), hashlib.sha256(raw[:end]).hexdigest(), end, parsed, summary)


def _store(
    con: duckdb.DuckDBPyConnection,
    key: str,
    size: int,
    sha: str,
    consumed: int,
    parsed: Parsed,
    summary: IngestSummary,
) -> None:
    rows = parsed.rows.unique(subset="row_id", keep="first", maintain_order=True)
    in_file_dups = parsed.rows.height - rows.height
    con.execute("BEGIN")
    try:
        con.register("batch_rows", rows.to_arrow())
        con.register("batch_rejects", parsed.rejects.to_arrow())
        stored = _insert_new_rows(con)
        con.execute("INSERT INTO rejects SELECT * FROM batch_rejects")
        dups = in_file_dups + (rows.height - stored)
        rejected = parsed.rejects.height
        con.execute(
            """
            INSERT INTO ingested_files AS f VALUES
                ($path, $size, $sha, $consumed, $stored, $dups, $rejected,
                 $first_ts, $last_ts, $now, $fields)
            ON CONFLICT (path) DO UPDATE SET
                size = excluded.size, sha256 = excluded.sha256,
                bytes_consumed = excluded.bytes_consumed,
                rows_stored = f.rows_stored + excluded.rows_stored,
                duplicates = f.duplicates + excluded.duplicates,
                rejects = f.rejects + excluded.rejects,
                first_ts = least(f.first_ts, excluded.first_ts),
                last_ts = greatest(f.last_ts, excluded.last_ts),
                ingested_at = excluded.ingested_at,
                fields_header = excluded.fields_header
            """,
            {
                "path": key,
                "size": size,
                "sha": sha,
                "consumed": consumed,
                "stored": stored,
                "dups": dups,
                "rejected": rejected,
                "first_ts": rows["ts"].min() if rows.height else None,
                "last_ts": rows["ts"].max() if rows.height else None,
                "now": datetime.now(UTC).replace(tzinfo=None),
                "fields": parsed.header.fields_line(),
            },
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("batch_rows")
        con.unregister("batch_rejects")
    summary.files += 1
    summary.data_lines += parsed.data_lines
    summary.rows_stored += stored
    summary.duplicates += dups
    summary.rejected += rejected


def _insert_new_rows(con: duckdb.DuckDBPyConnection) -> int:
    """Insert batch rows whose row_id is not stored yet; return how many were inserted."""
    result = con.execute(
        """
        INSERT INTO requests
        SELECT b.* FROM batch_rows b
        WHERE NOT EXISTS (
            SELECT 1 FROM requests r
            WHERE r.row_id = b.row_id
              AND r.ts BETWEEN (SELECT min(ts) FROM batch_rows) - INTERVAL 1 DAY
                           AND (SELECT max(ts) FROM batch_rows) + INTERVAL 1 DAY
        )
        """
    ).fetchall()
    return int(result[0][0]) if result else 0


def _record_refusal(con: duckdb.DuckDBPyConnection, path: Path, reason: str) -> None:
    """Keep the refusal in `refused_files` (latest reason wins) so reports can show it."""
    con.execute(
        "INSERT OR REPLACE INTO refused_files VALUES ($p, $r, $now)",
        {"p": str(path), "r": reason, "now": datetime.now(UTC).replace(tzinfo=None)},
    ).fetchall()


def ingest_paths(con: duckdb.DuckDBPyConnection, paths: Iterable[Path | str]) -> IngestSummary:
    """Ingest files and folders (recursively, `.gz` too) into the warehouse on `con`."""
    started = time.perf_counter()
    summary = IngestSummary()
    for path in discover(Path(p) for p in paths):
        try:
            ingest_file(con, path, summary)
        except LogFormatError as e:
            summary.files_refused += 1
            summary.refused.append(str(e))
            _record_refusal(con, path, str(e))
        except duckdb.Error as e:
            raise WarehouseError(f"{path}: could not store rows: {e}") from e
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary
