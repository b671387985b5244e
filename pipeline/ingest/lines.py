"""Where the lines of a byte buffer are, and what kind each one is (NumPy, no per-line Python).

The parser works on raw bytes so that line numbers, torn last lines and CRLF endings are
exact. This module finds every line's byte range, its kind (data, `#` directive, blank)
and its TAB count, and cuts chosen lines back out as one buffer for a CSV reader.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.ingest.record import QUOTES

BOM = b"\xef\xbb\xbf"
_NL, _CR, _TAB, _HASH = 10, 13, 9, 35

DATA, DIRECTIVE, BLANK = 0, 1, 2

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Lines:
    """The lines of one buffer; index i is line `first_line + i` of the file.

    A line's content is `buf[starts[i]:ends[i]]`: a leading UTF-8 BOM and one trailing CR
    are not part of it. `stops[i]` is where the LF is (content plus the CR, if any).
    """

    buf: bytes
    starts: Ints
    ends: Ints
    stops: Ints
    bom: npt.NDArray[np.bool_]
    kinds: npt.NDArray[np.int8]  # DATA, DIRECTIVE or BLANK
    tabs: Ints  # TAB characters in the line

    def __len__(self) -> int:
        return len(self.starts)

    def text(self, i: int) -> str:
        """One line's content as text (for the few `#` directive lines)."""
        return self.buf[self.starts[i] : self.ends[i]].decode("utf-8", errors="replace")

    def cut(self, idx: Ints) -> bytes:
        """Lines `idx` (without BOM, with their CR if any) each ending with LF, as one buffer.

        Readers drop one CR before each LF, which is exactly how a line's content ends.
        """
        if len(idx) == 0:
            return b""
        consecutive = idx[-1] - idx[0] == len(idx) - 1
        if consecutive and not self.bom[idx[1:]].any():  # the common case: one slice
            return self.buf[int(self.starts[idx[0]]) : int(self.stops[idx[-1]])] + b"\n"
        a = np.frombuffer(self.buf, dtype=np.uint8)
        starts = self.starts[idx]
        sizes = self.stops[idx] - starts + 1  # each line plus its LF
        dest = np.zeros(len(idx), dtype=np.int64)
        np.cumsum(sizes[:-1], out=dest[1:])
        offset = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(dest, sizes)
        out = np.full(len(offset), _NL, dtype=np.uint8)
        body = offset < np.repeat(sizes - 1, sizes)
        out[body] = a[(np.repeat(starts, sizes) + offset)[body]]
        return out.tobytes()


def scan_lines(buf: bytes) -> Lines:
    """Split `buf` into lines. A final line without LF is a line too: callers that must
    read complete lines only cut the buffer after its last LF first."""
    a = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(a == _NL)
    starts = np.concatenate((np.zeros(1, dtype=np.int64), nl + 1))
    stops = np.concatenate((nl, np.array([len(a)], dtype=np.int64)))
    if starts[-1] == len(a):  # nothing after the last LF
        starts, stops = starts[:-1], stops[:-1]
    tabs = _count_per_line(a == _TAB, starts, len(a))
    last = np.maximum(stops - 1, 0)
    has_cr = (stops > starts) & (a[last] == _CR) if len(a) else stops > starts
    ends = stops - has_cr
    bom = np.zeros(len(starts), dtype=np.bool_)
    if BOM in buf:
        at = np.where(ends - starts >= 3, starts, 0)
        bom = (ends - starts >= 3) & (a[at] == 0xEF) & (a[at + 1] == 0xBB) & (a[at + 2] == 0xBF)
        starts = starts + 3 * bom
    kinds = np.full(len(starts), DATA, dtype=np.int8)
    empty = ends == starts
    kinds[empty] = BLANK
    if len(a):
        kinds[~empty & (a[np.minimum(starts, len(a) - 1)] == _HASH)] = DIRECTIVE
    return Lines(buf, starts, ends, stops, bom, kinds, tabs)


def _count_per_line(mask: npt.NDArray[np.bool_], starts: Ints, size: int) -> Ints:
    """How many True bytes fall in each line (a line runs from its start to the next)."""
    hits = np.flatnonzero(mask)
    bounds = np.searchsorted(hits, np.append(starts, size))
    return np.diff(bounds).astype(np.int64)


def strip_quotes(body: bytes) -> bytes:
    """Drop one pair of surrounding quotes (`'`, `‘` or `’`, mixed too) from every TAB-separated
    field of `body` (lines that each end with LF; one CR before the LF is not part of a field).

    Byte-level twin of `w3c.clean_value`'s quote rule (`record.QUOTES`), done with NumPy
    on all fields at once.
    """
    a = np.frombuffer(body, dtype=np.uint8)
    seps = np.flatnonzero((a == _TAB) | (a == _NL))
    if len(seps) == 0:
        return body
    starts = np.empty(len(seps), dtype=np.int64)
    starts[0] = 0
    starts[1:] = seps[:-1] + 1
    ends = seps.copy()
    line_end = a[seps] == _NL
    crlf = line_end & (ends > starts) & (a[np.maximum(ends - 1, 0)] == _CR)
    ends[crlf] -= 1
    # Candidates: at least two bytes, opening with ' or the first byte of a curly quote.
    first = a[np.minimum(starts, len(a) - 1)]
    cand = np.flatnonzero((ends - starts >= 2) & ((first == _QUOTE) | (first == _CURLY_LEAD)))
    if len(cand) == 0:
        return body
    s, e = starts[cand], ends[cand]
    open_len = _quote_len(a, s, e, at_start=True)
    close_len = _quote_len(a, s, e, at_start=False)
    pair = (open_len > 0) & (close_len > 0) & (e - s >= open_len + close_len)
    if not pair.any():
        return body
    keep = np.ones(len(a), dtype=np.bool_)
    for width in (1, 3):
        o = pair & (open_len == width)
        c = pair & (close_len == width)
        for k in range(width):
            keep[s[o] + k] = False
            keep[e[c] - width + k] = False
    return a[keep].tobytes()


# The quote rule's characters (`record.QUOTES`) as bytes: one straight quote byte, and
# curly quotes of three UTF-8 bytes that share their first two.
_STRAIGHT = [q.encode() for q in QUOTES if len(q.encode()) == 1]
_CURLY = [q.encode() for q in QUOTES if len(q.encode()) == 3]
if len(_STRAIGHT) != 1 or len(_STRAIGHT) + len(_CURLY) != len(QUOTES):
    raise AssertionError("strip_quotes handles one 1-byte quote and 3-byte curly ones")
if len({c[:2] for c in _CURLY}) != 1:
    raise AssertionError("strip_quotes expects curly quotes sharing their first two bytes")
_QUOTE = _STRAIGHT[0][0]
_CURLY_LEAD, _CURLY_NEXT = _CURLY[0][0], _CURLY[0][1]
_CURLY_LAST = np.array([c[2] for c in _CURLY], dtype=np.uint8)


def _quote_len(a: npt.NDArray[np.uint8], s: Ints, e: Ints, *, at_start: bool) -> Ints:
    """Byte length (1 or 3) of the quote opening (or closing) each field, else 0."""
    n = e - s
    pos = s if at_start else e - 1
    straight = a[pos] == _QUOTE
    base = s if at_start else e - 3
    ok = n >= 3
    base = np.where(ok, base, s)
    curly = (
        ok
        & (a[base] == _CURLY_LEAD)
        & (a[base + 1] == _CURLY_NEXT)
        & np.isin(a[base + 2], _CURLY_LAST)
    )
    return np.where(straight, 1, np.where(curly, 3, 0)).astype(np.int64)
