"""Parse RMS W3C usage-log text into typed rows and rejects (pure: bytes in, frames out).

The parser is header-driven: every `#Fields:` line defines the columns of the data
lines after it, so one file may hold several blobs one after another, in any of the
three field lists. All per-line work is done by Polars expressions.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipeline import schema
from pipeline.errors import LogFormatError

_BOM = "\ufeff"
#: Values that mean "no value" once one pair of surrounding quotes is stripped.
NULL_TOKENS = ("", "-")
#: One pair of surrounding quotes, straight or curly (mixed pairs are accepted too).
_QUOTED = r"(?s)^['‘’](.*)['‘’]$"


@dataclass(frozen=True, slots=True)
class Header:
    """The header state in force at some point of a file."""

    software: str | None = None
    fields: tuple[str, ...] | None = None

    def fields_line(self) -> str | None:
        return "#Fields: " + " ".join(self.fields) if self.fields else None


@dataclass(frozen=True, slots=True)
class Parsed:
    rows: pl.DataFrame  # columns of schema.REQUESTS_ARROW_SCHEMA
    rejects: pl.DataFrame  # source_file, source_line, reason, raw_line
    header: Header  # header state in force after the last line
    data_lines: int


REJECT_SCHEMA = {
    "source_file": pl.String,
    "source_line": pl.Int64,
    "reason": pl.String,
    "raw_line": pl.String,
}


def clean_value(expr: pl.Expr) -> pl.Expr:
    """Strip one pair of surrounding quotes; empty, `''` and `-` become null."""
    stripped = expr.str.replace(_QUOTED, "$1")
    return pl.when(stripped.is_in(NULL_TOKENS)).then(None).otherwise(stripped)


def parse_fields_line(line: str) -> tuple[str, ...]:
    """`#Fields: date time ...` -> canonical field names."""
    names = line.split(":", 1)[1].split()
    return tuple(schema.canonical_field(n) for n in names)


def split_lines(text: str, first_line: int) -> pl.DataFrame:
    """One row per line: `line` (1-based, from `first_line`) and `raw` without CR/LF."""
    if text.startswith(_BOM):
        text = text[1:]
    if text.endswith("\n"):
        text = text[:-1]
    raw = pl.Series("raw", [text]).str.split("\n").explode().str.strip_suffix("\r")
    return (
        pl.DataFrame({"raw": raw})
        .with_row_index("line", offset=first_line)
        .with_columns(pl.col("line").cast(pl.Int64))
    )


def parse_text(
    text: str, source_file: str, *, first_line: int = 1, header: Header | None = None
) -> Parsed:
    """Parse log text whose first line is line `first_line` of `source_file`.

    `header` is the header state in force before the text (when resuming a grown file).
    Raises LogFormatError when the text declares itself as a non-RMS W3C log.
    """
    lines = split_lines(text, first_line) if text else split_lines("", first_line).clear()
    header = header or Header()
    directives = lines.filter(pl.col("raw").str.starts_with("#"))
    software = header.software
    for line_no, raw in directives.filter(
        pl.col("raw").str.to_lowercase().str.starts_with("#software:")
    ).iter_rows():
        software = raw.split(":", 1)[1].strip()
        if software.upper() != "RMS":
            raise LogFormatError(
                f"{source_file}:{line_no}: not an RMS usage log (#Software: {software}); "
                "refusing the whole file"
            )
    # Segment the data lines by the #Fields line in force above them.
    fields_rows = directives.filter(pl.col("raw").str.to_lowercase().str.starts_with("#fields:"))
    seg = lines.join(
        fields_rows.select(pl.col("line").alias("seg_line"), pl.col("raw").alias("seg_fields")),
        left_on="line",
        right_on="seg_line",
        how="left",
        coalesce=False,
    ).with_columns(
        pl.col("seg_fields").forward_fill(),
    )
    data = seg.filter(~pl.col("raw").str.starts_with("#") & (pl.col("raw").str.strip_chars() != ""))
    rows: list[pl.DataFrame] = []
    rejects: list[pl.DataFrame] = []
    inherited = header.fields_line()
    if inherited is not None:
        data = data.with_columns(pl.col("seg_fields").fill_null(inherited))
    for (fields_line,), part in data.group_by("seg_fields", maintain_order=True):
        if fields_line is None:
            rejects.append(_reject(part, source_file, "data line before any #Fields header"))
            continue
        ok, bad = _parse_segment(part, parse_fields_line(str(fields_line)), source_file)
        rows.append(ok)
        rejects.append(bad)
    last_fields = fields_rows["raw"][-1] if fields_rows.height else None
    final_fields = parse_fields_line(last_fields) if last_fields else header.fields
    return Parsed(
        rows=pl.concat(rows) if rows else _empty_rows(),
        rejects=pl.concat(rejects) if rejects else pl.DataFrame(schema=REJECT_SCHEMA),
        header=Header(software=software, fields=final_fields),
        data_lines=data.height,
    )


def _empty_rows() -> pl.DataFrame:
    return pl.DataFrame(schema=schema.REQUESTS_POLARS_SCHEMA)


def _reject(part: pl.DataFrame, source_file: str, reason: str | pl.Expr) -> pl.DataFrame:
    reason_expr = pl.lit(reason) if isinstance(reason, str) else reason
    return part.select(
        pl.lit(source_file).alias("source_file"),
        pl.col("line").alias("source_line"),
        reason_expr.cast(pl.String).alias("reason"),
        pl.col("raw").alias("raw_line"),
    )


def _parse_segment(
    part: pl.DataFrame, fields: tuple[str, ...], source_file: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed rows and rejects for data lines that share one #Fields list."""
    missing = {"date", "time"} - set(fields)
    if missing:
        raise LogFormatError(
            f"{source_file}: #Fields lacks {', '.join(sorted(missing))}; cannot place records"
        )
    n = len(fields)
    split = part.with_columns(pl.col("raw").str.split("\t").alias("cells"))
    split = split.with_columns(pl.col("cells").list.len().alias("n_cells"))
    wrong = split.filter(pl.col("n_cells") != n)
    good = split.filter(pl.col("n_cells") == n)
    values = good.select(
        "line",
        "raw",
        *[
            clean_value(pl.col("cells").list.get(i)).alias(schema.column_name(f))
            for i, f in enumerate(fields)
        ],
    )
    typed = _type_values(values, source_file)
    problem = pl.col("_problem")
    bad_rows = typed.filter(problem.is_not_null())
    rejects = pl.concat(
        [
            _reject(
                wrong,
                source_file,
                pl.format(
                    "expected {} tab-separated fields, found {}", pl.lit(n), pl.col("n_cells")
                ),
            ),
            _reject(bad_rows, source_file, problem),
        ]
    )
    rows = typed.filter(problem.is_null()).select(
        [_column_or_null(typed, c) for c in schema.REQUEST_COLUMNS]
    )
    return rows, rejects


def _column_or_null(frame: pl.DataFrame, col: schema.Column) -> pl.Expr:
    dtype = schema.REQUESTS_POLARS_SCHEMA[col.name]
    if col.name in frame.columns:
        return pl.col(col.name).cast(dtype)
    return pl.lit(None, dtype=dtype).alias(col.name)


def _type_values(values: pl.DataFrame, source_file: str) -> pl.DataFrame:
    cols = set(values.columns)
    ts = pl.concat_str(pl.col("date"), pl.lit(" "), pl.col("time")).str.strptime(
        pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False
    )
    exprs: list[pl.Expr] = [ts.alias("ts")]
    problems: list[pl.Expr] = [
        pl.when(ts.is_null()).then(pl.format("invalid date/time '{} {}'", "date", "time"))
    ]
    if "date_published" in cols:
        published = pl.col("date_published").str.strptime(
            pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S", strict=False
        )
        exprs.append(published.alias("date_published"))
        problems.append(
            pl.when(pl.col("date_published").is_not_null() & published.is_null()).then(
                pl.format("invalid date-published '{}'", "date_published")
            )
        )
    if "admin_action" in cols:
        lowered = pl.col("admin_action").str.to_lowercase()
        exprs.append(
            pl.when(lowered == "true")
            .then(True)
            .when(lowered == "false")
            .then(False)
            .otherwise(None)
            .alias("admin_action")
        )
        problems.append(
            pl.when(lowered.is_not_null() & ~lowered.is_in(["true", "false"])).then(
                pl.format("invalid admin-action '{}'", "admin_action")
            )
        )
    # Without a row-id the record is keyed by what identifies it (documented in the README).
    fallback_id = pl.format("{}/{}/{}T{}", "correlation_id", "request_type", "date", "time")
    row_id = pl.coalesce(pl.col("row_id"), fallback_id) if "row_id" in cols else fallback_id
    exprs.append(row_id.alias("row_id"))
    problems.append(
        pl.when(row_id.is_null()).then(pl.lit("no row-id and no correlation-id to key the record"))
    )
    return values.with_columns(
        *exprs,
        pl.lit(source_file).alias("source_file"),
        pl.col("line").alias("source_line"),
        pl.coalesce(problems).alias("_problem"),
    )
