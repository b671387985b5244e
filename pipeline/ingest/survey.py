"""Survey a log file before DuckDB reads it: hash it, and check that it is *regular*.

A regular file is read from its first byte and holds one `#Software: RMS` / `#Fields`
header block on top, then only complete data lines: no blank lines, no other `#`
lines, no CR but before LF (all lines or none), no NUL, no byte-order mark, no line
over `RAW_LINE_MAX_BYTES` (only the general path cuts a rejected line's text), and as
many TABs as the header's field count says. Only such files go to DuckDB's CSV reader
(`fast.py`), whose row numbers are then exactly line numbers minus the header. The
checks are NumPy byte scans, run on the reader thread while the previous file is stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from pipeline.ingest.lines import BOM
from pipeline.ingest.record import QUOTES
from pipeline.ingest.source import FileDone, Resume, open_log, read_block
from pipeline.ingest.w3c import RAW_LINE_MAX_BYTES, read_header_block

#: Files smaller than this take the general path (committed in groups there, with no
#: DuckDB read of their own).
FAST_MIN_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class WholeFile:
    """A regular file, surveyed and hashed, ready for DuckDB to read."""

    path: Path
    done: FileDone
    header_lines: int
    data_lines: int
    crlf: bool
    plain_quotes: bool  # every ' sits at a value's edge: DuckDB's reader can strip them
    curly: bool  # holds a curly quote
    samples: tuple[tuple[int, int, str], ...]  # (data line index, field index, raw text)


@dataclass
class _Survey:
    lines: int = 0
    cr: int = 0
    crlf: int = 0
    tabs: int = 0
    plain_quotes: bool = True
    curly: bool = False
    regular: bool = True
    data_seen: int = 0
    samples: list[tuple[int, int, str]] = field(default_factory=list)


def survey_file(path: Path, key: str, chunk_bytes: int) -> WholeFile | None:
    """Hash the file and decide whether it is regular (see the module doc). Byte searches
    only (memchr speed): DuckDB checks the field counts and the UTF-8 itself."""
    hasher = hashlib.sha256()
    size, pos, head, survey = path.stat().st_size, 0, None, _Survey()
    stream: IO[bytes] = open_log(path)
    try:
        carry = b""
        while block := read_block(stream, chunk_bytes, path):
            data = carry + block if carry else block
            cut = data.rfind(b"\n") + 1
            body, carry = data[:cut], data[cut:]
            if not body:
                continue
            start = 0
            if head is None:
                head = read_header_block(body[: 1 << 20], key)
                if head is None:
                    return None
                start = _line_offset(body, head[0])
            if not _check(body, start, survey):
                return None
            hasher.update(body)
            pos += len(body)
    finally:
        stream.close()
    if head is None or carry or survey.crlf not in (0, survey.lines):
        return None  # a torn last line waits; mixed line ends go the general path
    count, header = head
    if header.fields is None or header.software is None:
        return None
    if survey.tabs != (len(header.fields) - 1) * (survey.lines - count):
        return None  # some line has a wrong field count: the general path rejects it
    sha = hasher.hexdigest()
    resume = Resume(pos, sha, hasher.copy(), survey.lines, header)
    done = FileDone(
        key, size, sha, pos, 1, header, 0, resume, range_sha256=sha, path_given=str(path)
    )
    lines = survey.lines - count
    quotes = survey.plain_quotes and not survey.curly, survey.curly
    return WholeFile(path, done, count, lines, bool(survey.crlf), *quotes, tuple(survey.samples))


def _line_offset(body: bytes, lines: int) -> int:
    pos = 0
    for _ in range(lines):
        pos = body.index(b"\n", pos) + 1
    return pos


_CURLY = tuple(q.encode() for q in QUOTES if q != "'")


def _plain_quotes(a: npt.NDArray[np.uint8], start: int) -> bool:
    """No ' inside a value (as in 'Dave's notes.msg'): each one opens or closes a value,
    next to a TAB or a line end."""
    at = np.flatnonzero(a[start:] == 39) + start
    if len(at) == 0:
        return True
    before, after = a[at - 1], a[np.minimum(at + 1, len(a) - 1)]
    edge = (before == 9) | (before == 10) | (after == 9) | (after == 10) | (after == 13)
    return bool(edge.all())


def _check(body: bytes, start: int, survey: _Survey) -> bool:
    """Count the lines of `body` (which starts at a line start); False at the first
    irregularity after `start` (the end of the header block): a `#` or blank line, a CR
    but at a line end, NUL, a byte-order mark, a line over `RAW_LINE_MAX_BYTES`."""
    a = np.frombuffer(body, dtype=np.uint8)
    nl = np.flatnonzero(a == 10)
    if len(nl) and max(int(nl[0]), int(np.diff(nl).max(initial=0)) - 1) > RAW_LINE_MAX_BYTES:
        return False
    survey.lines += len(nl)
    if b"\r" in body:
        survey.cr += int(np.count_nonzero(a == 13))
        survey.crlf += int(np.count_nonzero(a[nl[nl > 0] - 1] == 13))
    starts = nl[nl >= start][:-1] + 1
    if start < len(a):
        starts = np.concatenate((np.array([start], dtype=starts.dtype), starts))
    first = a[starts]
    survey.tabs += int(np.count_nonzero(a[start:] == 9))
    if survey.plain_quotes:
        survey.plain_quotes = _plain_quotes(a, start)
    if not survey.curly:
        survey.curly = b"\xe2" in body and any(q in body for q in _CURLY)
    if (
        survey.cr != survey.crlf
        or np.any((first == 35) | (first == 10) | (first == 13))
        or b"\0" in body
        or (b"\xef" in body and body.find(BOM, start) >= 0)
    ):
        return False
    _sample(body, start, len(starts), survey)
    return True


def _sample(body: bytes, start: int, data_lines: int, survey: _Survey) -> None:
    """Keep the first line's longest unquoted field, to prove DuckDB's line order later."""
    if data_lines <= 0:
        return
    line = body[start : body.index(b"\n", start)].removesuffix(b"\r")
    cells = line.decode("utf-8", errors="replace").split("\t")
    plain = [i for i, c in enumerate(cells) if len(c) > 2 and not c.startswith(QUOTES)]
    if plain:  # a value that reads the same with or without quote handling
        best = max(plain, key=lambda i: len(cells[i]))
        survey.samples.append((survey.data_seen, best, cells[best]))
    survey.data_seen += data_lines
