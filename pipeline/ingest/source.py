"""Read one log file as parsed chunks of complete lines, from where the manifest stopped.

Plain and `.gz` files are streamed in chunks of about `CHUNK_BYTES`, cut after the last
LF, so memory stays flat whatever the file size. The header state travels from chunk
to chunk. A file already in the manifest is resumed only when the bytes it consumed
are unchanged (same SHA-256); otherwise it is read again from the start.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from pipeline.errors import LogFormatError
from pipeline.ingest.lines import BOM
from pipeline.ingest.w3c import Header, Parsed, check_text, parse_bytes, parse_fields_line

#: Bytes read per chunk; each chunk is parsed and stored before the next is needed.
CHUNK_BYTES = 8 << 20


@dataclass(frozen=True, slots=True)
class Known:
    """A file's row in the manifest (`ingested_files`)."""

    size: int
    sha256: str
    bytes_consumed: int
    fields_header: str | None

    def header(self) -> Header:
        """Header state in force at `bytes_consumed` (only RMS files are ever committed)."""
        if not self.fields_header:
            return Header()
        return Header(software="RMS", fields=parse_fields_line(self.fields_header))


@dataclass(slots=True)
class Resume:
    """Where a file stopped, remembered by a long-running caller (watch) after a commit,
    so that a grown file is not hashed again from its first byte."""

    consumed: int
    sha256: str
    hasher: Any  # hashlib sha256 state at `consumed`
    lines: int
    header: Header


@dataclass(frozen=True, slots=True)
class Chunk:
    key: str
    parsed: Parsed
    first: bool  # the first chunk read from the file in this run
    last: bool  # no more chunks follow (FileDone does)


@dataclass(frozen=True, slots=True)
class Changed:
    """Bytes already read no longer hash as they did: what the manifest expected, and
    what the file holds now in the same range (it may be shorter)."""

    byte_end: int  # the manifest's bytes_consumed
    expected_sha256: str
    found_sha256: str  # of the `found_bytes` first bytes now in the file
    found_bytes: int


@dataclass(frozen=True, slots=True)
class FileDone:
    """The end of a file's new complete lines: what the manifest must say after commit."""

    key: str
    size: int
    sha256: str  # of bytes [0, consumed)
    consumed: int
    start_line: int  # first line read in this run
    header: Header
    pending: int  # bytes after the last LF, waiting for their line to end
    resume: Resume = field(compare=False)
    read_start: int = 0  # first byte read in this run
    range_sha256: str = ""  # of bytes [read_start, consumed): this read's bytes
    changed: Changed | None = None  # bytes read before had changed: read again from 0
    path_given: str = ""  # the path as this run was given it (or found it in a folder)
    kind: str = "rms"  # `ingested_files.kind`: `rms`, or `keyvault` (pipeline.ingest.keyvault)


@dataclass
class FileCounts:
    """What one file contributed in this run (counted once its transaction commits)."""

    data_lines: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    conflicts: int = 0  # same key as a stored record, other values: kept in `conflicts`
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    read_by_duckdb: bool = False  # the fast path read it (`fast.py`)
    keyvault: bool = False  # Key Vault records (`keyvault_events`), not RMS rows

    def widen(self, lo: datetime, hi: datetime) -> None:
        """Stretch the file's time span over stored records from `lo` to `hi`."""
        self.first_ts = min(lo, self.first_ts) if self.first_ts else lo
        self.last_ts = max(hi, self.last_ts) if self.last_ts else hi


@dataclass(frozen=True, slots=True)
class FileSkipped:
    key: str


Event = Chunk | FileDone | FileSkipped


def is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def open_log(path: Path) -> IO[bytes]:
    try:
        if is_gzip(path):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return path.open("rb")
    except OSError as e:
        raise LogFormatError(f"{path}: cannot read: {e}") from e


def read_block(stream: IO[bytes], n: int, path: Path) -> bytes:
    try:
        return stream.read(n)
    except (OSError, EOFError, zlib.error) as e:
        raise LogFormatError(f"{path}: cannot read: {e}") from e


@dataclass
class _Cursor:
    """Position in the file's text: bytes consumed, lines before them, hash, header."""

    pos: int = 0
    lines: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)
    header: Header = field(default_factory=Header)
    range_hasher: Any = None  # of the bytes read after a resume point, when there is one


def read_file(
    path: Path,
    key: str,
    known: Known | None,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    resume: Resume | None = None,
) -> Iterator[Event]:
    """Chunks of the file's unread complete lines, then FileDone (or FileSkipped when an
    already-known file has nothing new). Raises LogFormatError for unreadable or non-RMS
    files; the caller then discards the chunks it was given for this file."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise LogFormatError(f"{path}: cannot read: {e}") from e
    stream = open_log(path)
    try:
        cursor, changed = _position(path, stream, known, resume)
        if changed is not None:
            stream.close()
            stream = open_log(path)
        start, start_line = cursor.pos, cursor.lines + 1
        if start:
            cursor.range_hasher = hashlib.sha256()
        pending = yield from _chunks(path, key, stream, cursor, chunk_bytes)
    finally:
        stream.close()
    if known is not None and changed is None and cursor.pos == start:
        yield FileSkipped(key)
        return
    sha = cursor.hasher.hexdigest()
    state = Resume(cursor.pos, sha, cursor.hasher.copy(), cursor.lines, cursor.header)
    ranged = cursor.range_hasher.hexdigest() if start else sha
    yield FileDone(
        key,
        size,
        sha,
        cursor.pos,
        start_line,
        cursor.header,
        pending,
        state,
        read_start=start,
        range_sha256=ranged,
        changed=changed,
        path_given=str(path),
    )


def _position(
    path: Path, stream: IO[bytes], known: Known | None, resume: Resume | None
) -> tuple[_Cursor, Changed | None]:
    """Cursor after the bytes the manifest says were consumed; or, when those bytes
    changed, a fresh cursor (read again from the start) and what changed."""
    if known is None or known.bytes_consumed == 0:
        return _Cursor(), None
    if (
        resume is not None
        and not is_gzip(path)
        and (resume.consumed, resume.sha256) == (known.bytes_consumed, known.sha256)
    ):
        stream.seek(resume.consumed)
        return _Cursor(resume.consumed, resume.lines, resume.hasher.copy(), resume.header), None
    cursor = _Cursor(header=known.header())
    left = known.bytes_consumed
    while left:
        block = read_block(stream, min(left, CHUNK_BYTES), path)
        if not block:
            break
        cursor.hasher.update(block)
        cursor.lines += block.count(b"\n")
        cursor.pos += len(block)
        left -= len(block)
    found = cursor.hasher.hexdigest()
    if left or found != known.sha256:
        return _Cursor(), Changed(known.bytes_consumed, known.sha256, found, cursor.pos)
    return cursor, None


def _chunks(
    path: Path, key: str, stream: IO[bytes], cursor: _Cursor, chunk_bytes: int
) -> Generator[Event, None, int]:
    """Parse complete lines chunk by chunk; return how many bytes wait after the last LF.

    One block is read ahead so that each chunk knows whether it is the file's last.
    A `.gz` file is complete by construction, so its last line counts even without LF.
    """
    carry, first = b"", True
    block = read_block(stream, chunk_bytes, path)
    while block or (carry and is_gzip(path)):
        data = carry + block if carry else block
        cut = data.rfind(b"\n") + 1 if block else len(data)
        if cut == 0:  # one line longer than a chunk: read on
            carry, block = data, read_block(stream, chunk_bytes, path)
            continue
        body, carry = data[:cut], data[cut:]
        parsed = parse_bytes(body, key, first_line=cursor.lines + 1, header=cursor.header)
        cursor.hasher.update(body)
        if cursor.range_hasher is not None:
            cursor.range_hasher.update(body)
        cursor.lines += body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
        cursor.pos += len(body)
        cursor.header = parsed.header
        block = read_block(stream, chunk_bytes, path) if block else b""
        last = not block and not (carry and is_gzip(path))
        yield Chunk(key, parsed, first=first, last=last)
        first = False
    _check_pending(carry, key, cursor)
    return len(carry)


def _check_pending(carry: bytes, key: str, cursor: _Cursor) -> None:
    """The bytes after the last LF wait for their line to end, unless they already show
    that the file is no log: a NUL, or a file with no complete line whose first bytes
    are not a `#` header line (a binary file without LF would otherwise wait forever)."""
    if not carry:
        return
    check_text(carry, key, cursor.lines + 1)
    if cursor.pos == 0 and not carry.removeprefix(BOM).lstrip(b"\r\n").startswith(b"#"):
        raise LogFormatError(
            f"{key}:1: does not start with an RMS header ('#Software: RMS'); "
            "not an RMS usage log, refusing the whole file"
        )
