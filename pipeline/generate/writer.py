"""Write simulated records as W3C usage-log files, quoted as the service writes them."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl

from pipeline.schema import LOG_VERSIONS, VERSION_HEADER, column_name

#: Fields written inside single quotes (the public Splunk forwarder's convention, S7).
QUOTED_FIELDS = frozenset(
    {
        "user-id",
        "result",
        "owner-email",
        "issuer",
        "file-name",
        "date-published",
        "c-info",
        "admin-action",
        "acting-as-user",
    }
)


def header_lines(log_version: str) -> str:
    fields = LOG_VERSIONS[log_version]
    return f"#Software: RMS\n#Version: {VERSION_HEADER[log_version]}\n#Fields: {' '.join(fields)}\n"


def _cell(field: str) -> pl.Expr:
    if field == "date":
        return pl.col("ts").dt.strftime("%Y-%m-%d")
    if field == "time":
        return pl.col("ts").dt.strftime("%H:%M:%S")
    col = pl.col(column_name(field))
    if field == "date-published":
        value = col.dt.strftime("%Y-%m-%dT%H:%M:%S")
    elif field == "admin-action":
        value = pl.when(col).then(pl.lit("True"))
    else:
        value = col.cast(pl.String)
    if field in QUOTED_FIELDS:
        return pl.lit("'") + value.fill_null("") + pl.lit("'")
    return value.fill_null("")


def format_lines(records: pl.DataFrame, log_version: str) -> pl.Series:
    """One W3C data line per record, in the field order of `log_version`."""
    cells = [_cell(f) for f in LOG_VERSIONS[log_version]]
    return records.select(pl.concat_str(cells, separator="\t").alias("line"))["line"]


def write_log(path: Path, header: str, lines: pl.Series, *, gz: bool = False) -> Path:
    """Write one log file: header then lines, LF-terminated; `.gz` when asked."""
    body = header + (lines.str.join("\n").item() + "\n" if len(lines) else "")
    data = body.encode("utf-8")
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_daily(out_dir: Path, records: pl.DataFrame, log_version: str, *, gz: bool) -> list[Path]:
    """One `rmslog-YYYY-MM-DD.log` per UTC day with activity, as Get-AipServiceUserLog writes."""
    header = header_lines(log_version)
    written = []
    dated = records.with_columns(pl.col("ts").dt.date().alias("_day"))
    for (day,), part in dated.group_by("_day", maintain_order=True):
        lines = format_lines(part, log_version)
        written.append(write_log(out_dir / f"rmslog-{day}.log", header, lines, gz=gz))
    return written
