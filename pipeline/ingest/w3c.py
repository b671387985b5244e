"""Parse RMS W3C usage-log bytes into typed rows and rejects (pure: bytes in, frames out).

The parser is header-driven: every `#Fields:` line defines the columns of the data
lines after it, so one file may hold several blobs one after another, in any of the
three field lists. NumPy finds the lines and counts their TABs (`lines.py`), Polars'
CSV reader splits the well-formed ones and Polars expressions type them; Python only
looks at the few `#` directive lines.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipeline import schema
from pipeline.errors import LogFormatError
from pipeline.ingest import record
from pipeline.ingest.lines import DATA, DIRECTIVE, Ints, Lines, scan_lines, strip_quotes
from pipeline.ingest.record import NULL_TOKENS as NULL_TOKENS  # re-exported
from pipeline.ingest.record import QUOTES as QUOTES  # re-exported

#: A rejected line keeps at most this many bytes of its text (cut at a character
#: boundary), with its full length and SHA-256, so one huge line cannot bloat the warehouse.
RAW_LINE_MAX_BYTES = 64 << 10
REJECT_SCHEMA = pl.Schema(
    {
        "source_file": pl.String,
        "source_line": pl.Int64,
        "reason": pl.String,
        "raw_line": pl.String,
        "raw_bytes": pl.Int64,
        "raw_sha256": pl.String,
    }
)


@dataclass(frozen=True, slots=True)
class Header:
    """The header state in force at some point of a file (carried across chunks)."""

    software: str | None = None
    fields: tuple[str, ...] | None = None

    def fields_line(self) -> str | None:
        return "#Fields: " + " ".join(self.fields) if self.fields else None


@dataclass(frozen=True, slots=True)
class Parsed:
    rows: pl.DataFrame  # columns of schema.REQUESTS_POLARS_SCHEMA, in order
    rejects: pl.DataFrame  # REJECT_SCHEMA
    header: Header  # header state in force after the last line
    data_lines: int  # lines that were neither blank nor `#` directives


def clean_value(expr: pl.Expr) -> pl.Expr:
    """The value rule as a Polars expression: strip one pair of surrounding quotes (straight
    or curly, mixed too); then empty, `''` and `-` become null. The parser applies the same
    rule to raw bytes (`lines.strip_quotes` + the CSV reader's null values), faster."""
    n = expr.str.len_chars()
    opens = pl.any_horizontal(expr.str.starts_with(q) for q in QUOTES)
    closes = pl.any_horizontal(expr.str.ends_with(q) for q in QUOTES)
    value = pl.when(opens & closes & (n >= 2)).then(expr.str.slice(1, n - 2)).otherwise(expr)
    return pl.when(value.is_in(NULL_TOKENS)).then(None).otherwise(value)


def parse_fields_line(line: str) -> tuple[str, ...]:
    """`#Fields: date time ...` -> canonical field names."""
    return tuple(schema.canonical_field(n) for n in line.split(":", 1)[1].split())


def parse_text(
    text: str, source_file: str, *, first_line: int = 1, header: Header | None = None
) -> Parsed:
    """`parse_bytes` for text (tests and small inputs)."""
    return parse_bytes(text.encode("utf-8"), source_file, first_line=first_line, header=header)


def parse_bytes(
    buf: bytes, source_file: str, *, first_line: int = 1, header: Header | None = None
) -> Parsed:
    """Parse log bytes whose first line is line `first_line` of `source_file`.

    `header` is the header state in force before the bytes (resuming a file, or the
    next chunk of a big one). Raises LogFormatError when the bytes hold a NUL (not
    text), a data line comes before any `#Fields` header, a `#Software` line names
    anything but RMS, or a `#Fields` line comes without `#Software: RMS` or lacks date
    and time: such a file is refused whole.
    """
    check_text(buf, source_file, first_line)
    lines = scan_lines(buf)
    state = header or Header()
    rows: list[pl.DataFrame] = []
    rejects: list[pl.DataFrame] = []
    seg_start = 0
    for i in _header_lines(lines):
        changed = _apply_directive(lines, i, state, source_file, first_line)
        if changed.fields is not state.fields:
            _parse_segment(
                lines, seg_start, i, state.fields, source_file, first_line, rows, rejects
            )
            seg_start = i + 1
        state = changed
    _parse_segment(
        lines, seg_start, len(lines), state.fields, source_file, first_line, rows, rejects
    )
    return Parsed(
        rows=pl.concat(rows) if rows else pl.DataFrame(schema=schema.REQUESTS_POLARS_SCHEMA),
        rejects=pl.concat(rejects) if rejects else pl.DataFrame(schema=REJECT_SCHEMA),
        header=state,
        data_lines=int(np.count_nonzero(lines.kinds == DATA)),
    )


def check_text(buf: bytes, source_file: str, first_line: int = 1) -> None:
    """Raise LogFormatError when `buf` holds a NUL byte: a log is text, and NUL is the
    mark of binary data (random bytes, a zip, an image) that no RMS log holds."""
    at = buf.find(b"\0")
    if at >= 0:
        line = first_line + buf.count(b"\n", 0, at)
        raise LogFormatError(
            f"{source_file}:{line}: NUL byte; not a text log, refusing the whole file"
        )


def read_header_block(buf: bytes, source_file: str) -> tuple[int, Header] | None:
    """The `#` lines that open a file: how many, and the header state after them; None
    when `buf` holds nothing but such lines. Raises LogFormatError like `parse_bytes`."""
    lines = scan_lines(buf)
    body = np.flatnonzero(lines.kinds != DIRECTIVE)
    if len(body) == 0:
        return None
    count, state = int(body[0]), Header()
    for i in _header_lines(lines):
        if i >= count:
            break
        state = _apply_directive(lines, i, state, source_file, 1)
    return count, state


def _apply_directive(
    lines: Lines, i: int, state: Header, source_file: str, first_line: int
) -> Header:
    """Header state after the `#Software` or `#Fields` line `i` (a new `fields` object
    for every `#Fields` line, even one that repeats the list)."""
    key, _, value = lines.text(i)[1:].partition(":")
    line_no = first_line + i
    if key.strip().lower() == "software":
        return Header(_check_software(value.strip(), source_file, line_no), state.fields)
    return Header(state.software, _check_fields(value, state, source_file, line_no))


def _header_lines(lines: Lines) -> list[int]:
    """Indexes of `#Software:` and `#Fields:` lines (other directives are ignored)."""
    found = []
    for i in np.flatnonzero(lines.kinds == DIRECTIVE).tolist():
        key = lines.text(i)[1:].partition(":")[0].strip().lower()
        if key in ("software", "fields"):
            found.append(i)
    return found


def _check_software(software: str, source_file: str, line_no: int) -> str:
    if software.upper() != "RMS":
        raise LogFormatError(
            f"{source_file}:{line_no}: not an RMS usage log (#Software: {software}); "
            "refusing the whole file"
        )
    return software


def _check_fields(value: str, state: Header, source_file: str, line_no: int) -> tuple[str, ...]:
    if state.software is None:
        raise LogFormatError(
            f"{source_file}:{line_no}: #Fields without a '#Software: RMS' line before it; "
            "not an RMS usage log, refusing the whole file"
        )
    fields = tuple(schema.canonical_field(n) for n in value.split())
    missing = {"date", "time"} - set(fields)
    if missing:
        raise LogFormatError(
            f"{source_file}:{line_no}: #Fields lacks {', '.join(sorted(missing))}; "
            "cannot place records in time, refusing the whole file"
        )
    return fields


def _parse_segment(
    lines: Lines,
    lo: int,
    hi: int,
    fields: tuple[str, ...] | None,
    source_file: str,
    first_line: int,
    rows: list[pl.DataFrame],
    rejects: list[pl.DataFrame],
) -> None:
    """Typed rows and rejects for the data lines in lines[lo:hi], which share `fields`."""
    idx = lo + np.flatnonzero(lines.kinds[lo:hi] == DATA)
    if len(idx) == 0:
        return
    if fields is None:
        raise LogFormatError(
            f"{source_file}:{first_line + int(idx[0])}: data line before any "
            "'#Software: RMS' and '#Fields' header; not an RMS usage log, refusing the whole file"
        )
    n = len(fields)
    fits = lines.tabs[idx] == n - 1
    bad = idx[~fits]
    if len(bad):
        found = pl.Series(lines.tabs[bad] + 1).cast(pl.String)
        reason = f"expected {n} tab-separated fields, found " + found
        rejects.append(_rejects(lines, bad, source_file, first_line, reason))
    good = idx[fits]
    if len(good):
        typed = _type_values(_read_fields(lines, good, fields, first_line), source_file)
        problem = pl.col("_problem")
        rows.append(typed.filter(problem.is_null()).select(_request_columns(typed)))
        failed = typed.filter(problem.is_not_null())
        if failed.height:
            where = failed["source_line"].to_numpy() - first_line
            rejects.append(_rejects(lines, where, source_file, first_line, failed["_problem"]))


def _read_fields(lines: Lines, idx: Ints, fields: tuple[str, ...], first_line: int) -> pl.DataFrame:
    """Lines that have exactly len(fields) fields -> one String column per known field,
    quotes stripped and blanks nulled (as `clean_value` says), plus `source_line`."""
    names = [f"f{i}" for i in range(len(fields))]
    raw = pl.read_csv(
        strip_quotes(lines.cut(idx)),
        separator="\t",
        has_header=False,
        quote_char=None,
        schema=dict.fromkeys(names, pl.String),
        null_values=[token for token in NULL_TOKENS if token],  # and empty fields are null
        encoding="utf8-lossy",
    )
    if raw.height != len(idx):  # the line index and the CSV reader must agree exactly
        raise AssertionError(f"CSV reader saw {raw.height} lines, expected {len(idx)}")
    chosen = record.chosen_columns(fields)
    return raw.select(
        *[pl.col(names[i]).alias(column) for i, column in chosen.items()],
        pl.Series("source_line", first_line + idx, dtype=pl.Int64),
    )


def _rejects(
    lines: Lines, idx: Ints, source_file: str, first_line: int, reason: str | pl.Expr | pl.Series
) -> pl.DataFrame:
    """Reject rows for lines `idx`: raw text (at most `RAW_LINE_MAX_BYTES`), the line's
    length in bytes and the SHA-256 of those bytes (without BOM and line end)."""
    starts, ends = lines.starts[idx], lines.ends[idx]
    sizes = ends - starts
    buf = lines.buf
    if len(sizes) and int(sizes.max()) > RAW_LINE_MAX_BYTES:
        raw = pl.Series(
            "raw_line", [_excerpt(buf, int(a), int(b)) for a, b in zip(starts, ends, strict=True)]
        )
    else:  # the common case: one decode, split by NumPy's line index
        text = lines.cut(idx).decode("utf-8", errors="replace")[:-1]
        raw = pl.Series("raw_line", [text]).str.split("\n").explode().str.strip_suffix("\r")
    sha = [hashlib.sha256(buf[a:b]).hexdigest() for a, b in zip(starts, ends, strict=True)]
    frame = pl.DataFrame(
        {"source_line": first_line + idx, "raw_line": raw, "raw_bytes": sizes, "raw_sha256": sha}
    )
    reason_expr = reason if isinstance(reason, pl.Expr) else pl.lit(reason)
    return frame.select(
        pl.lit(source_file).alias("source_file"),
        pl.col("source_line").cast(pl.Int64),
        reason_expr.cast(pl.String).alias("reason"),
        pl.col("raw_line"),
        pl.col("raw_bytes").cast(pl.Int64),
        pl.col("raw_sha256"),
    )


def _excerpt(buf: bytes, start: int, end: int) -> str:
    """The line's text, cut to `RAW_LINE_MAX_BYTES` at a UTF-8 character boundary."""
    stop = min(end, start + RAW_LINE_MAX_BYTES)
    if stop < end:
        while stop > start and buf[stop] & 0xC0 == 0x80:  # inside a multi-byte character
            stop -= 1
    return buf[start:stop].decode("utf-8", errors="replace")


def _request_columns(frame: pl.DataFrame) -> list[pl.Expr]:
    exprs = []
    for name, dtype in schema.REQUESTS_POLARS_SCHEMA.items():
        column = pl.col(name) if name in frame.columns else pl.lit(None)
        exprs.append(column.cast(dtype).alias(name))
    return exprs


def _type_values(values: pl.DataFrame, source_file: str) -> pl.DataFrame:
    """Typed columns and `_problem` (why a line cannot be stored, or null)."""
    cols = set(values.columns)
    stamp = pl.concat_str(pl.col("date"), pl.lit(" "), pl.col("time"))
    ts = _timestamp(stamp, record.TS_SHAPE, record.TS_FORMAT)
    exprs: list[pl.Expr] = [ts.alias("ts")]
    problems: list[pl.Expr] = [
        pl.when(ts.is_null()).then(
            pl.format(record.INVALID_TS, pl.col("date").fill_null(""), pl.col("time").fill_null(""))
        )
    ]
    for field in record.TIMESTAMP_FIELDS:
        if field.column in cols:
            raw = pl.col(field.column)
            typed = _timestamp(raw, field.shape, field.format)
            exprs.append(typed.alias(field.column))
            problems.append(
                pl.when(raw.is_not_null() & typed.is_null()).then(
                    pl.format(record.invalid(field.column), raw)
                )
            )
    for column in record.BOOLEAN_FIELDS:
        if column in cols:
            lowered = pl.col(column).str.to_lowercase()
            exprs.append(
                pl.when(lowered.is_not_null()).then(lowered == record.BOOLEAN_TRUE).alias(column)
            )
            words = [record.BOOLEAN_TRUE, record.BOOLEAN_FALSE]
            problems.append(
                pl.when(lowered.is_not_null() & ~lowered.is_in(words)).then(
                    pl.format(record.invalid(column), pl.col(column))
                )
            )

    # Without a row-id a record is keyed by what identifies it (`record.FALLBACK_KEY`).
    def col(name: str) -> pl.Expr:
        return pl.col(name) if name in cols else pl.lit(None, dtype=pl.String)

    corr, kind, date, time = record.FALLBACK_KEY
    fallback = pl.format("{}/{}/{}T{}", col(corr), col(kind).fill_null(""), date, time)
    row_id = pl.coalesce(pl.col("row_id"), fallback) if "row_id" in cols else fallback
    exprs.append(row_id.alias("row_id"))
    problems.append(pl.when(row_id.is_null()).then(pl.lit(record.NO_KEY)))
    return values.with_columns(
        *exprs, pl.lit(source_file).alias("source_file"), pl.coalesce(problems).alias("_problem")
    )


def _timestamp(text: pl.Expr, shape: str, fmt: str) -> pl.Expr:
    """`text` as an instant when it has `shape` and parses with `fmt`, else null."""
    return pl.when(text.str.contains(f"^(?:{shape})$")).then(
        text.str.strptime(pl.Datetime("us"), fmt, strict=False)
    )
