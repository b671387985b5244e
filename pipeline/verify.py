"""`rmslog verify`: do the source files still hold the bytes the warehouse was read from?

Every read that `ingest` recorded (`file_reads`: a byte range and its SHA-256) and every
file's manifest row (`ingested_files`: the SHA-256 of its first `bytes_consumed` bytes)
is checked again against the file on disk, in one streaming pass per file (a `.gz` is
checked on its decompressed text, as it was read). A file is `unchanged` when every
range still hashes as stored, `changed` when one does not (or the file is now shorter),
`missing` when it cannot be opened. The file is looked for at its real path first (the
absolute path `ingest` resolved), then at the path as given (relative to the folder
`verify` runs in).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipeline.errors import LogFormatError
from pipeline.ingest.source import CHUNK_BYTES, open_log, read_block

UNCHANGED, CHANGED, MISSING = "unchanged", "changed", "missing"


@dataclass(frozen=True, slots=True)
class Range:
    start: int
    end: int
    sha256: str


@dataclass(frozen=True, slots=True)
class FileCheck:
    """The verdict on one file of the manifest."""

    path: str  # ingested_files.path
    checked_at: str | None  # the file actually opened (None when missing)
    status: str  # unchanged | changed | missing
    ranges: int  # byte ranges checked
    ranges_changed: int
    bytes_checked: int  # the longest range end
    detail: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def verify_files(con: duckdb.DuckDBPyConnection) -> Iterator[FileCheck]:
    """Check every file of the manifest, in path order (one file in memory at a time)."""
    files = con.execute(
        "SELECT path, real_path, bytes_consumed, sha256 FROM ingested_files ORDER BY path"
    ).fetchall()
    for path, real, consumed, sha in files:
        reads = con.execute(
            "SELECT DISTINCT byte_start, byte_end, sha256 FROM file_reads "
            "WHERE path = $p AND byte_end > byte_start",
            {"p": path},
        ).fetchall()
        ranges = {Range(int(a), int(b), str(h)) for a, b, h in reads}
        if consumed:
            ranges.add(Range(0, int(consumed), str(sha)))
        yield _check(path, real, sorted(ranges, key=lambda r: (r.start, r.end)))


def _check(path: str, real: str | None, ranges: list[Range]) -> FileCheck:
    candidates = [Path(p) for p in (real, path) if p]
    where = next((p for p in candidates if p.is_file()), None)
    end = max((r.end for r in ranges), default=0)
    if where is None:
        tried = " or ".join(dict.fromkeys(str(p) for p in candidates))
        return FileCheck(path, None, MISSING, len(ranges), len(ranges), end, f"not found: {tried}")
    try:
        found = _hash_ranges(where, ranges, end)
    except LogFormatError as e:
        return FileCheck(path, str(where), CHANGED, len(ranges), len(ranges), end, str(e))
    bad = [r for r in ranges if found.get(r) != r.sha256]
    if not bad:
        return FileCheck(path, str(where), UNCHANGED, len(ranges), 0, end, "")
    first = bad[0]
    what = found.get(first)
    detail = f"bytes {first.start}-{first.end}: stored sha256 {first.sha256}, " + (
        f"now {what}" if what else "the file is now shorter"
    )
    return FileCheck(path, str(where), CHANGED, len(ranges), len(bad), end, detail)


def _hash_ranges(path: Path, ranges: list[Range], end: int) -> dict[Range, str]:
    """SHA-256 of each range of the file's (decompressed) bytes, in one pass; a range
    past the end of the file gets no hash."""
    hashers: dict[Range, Any] = {r: hashlib.sha256() for r in ranges}
    pos = 0
    stream = open_log(path)
    try:
        while pos < end:
            block = read_block(stream, min(CHUNK_BYTES, end - pos), path)
            if not block:
                break
            stop = pos + len(block)
            for r, h in hashers.items():
                lo, hi = max(r.start, pos), min(r.end, stop)
                if lo < hi:
                    h.update(block[lo - pos : hi - pos])
            pos = stop
    finally:
        stream.close()
    return {r: h.hexdigest() for r, h in hashers.items() if r.end <= pos}
