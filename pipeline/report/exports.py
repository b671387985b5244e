"""Exports of every report table: CSV, JSON, Parquet and xlsx, written atomically.

Log fields (file names, user ids) are attacker-controlled. A spreadsheet treats a cell
that starts with `=`, `+`, `-`, `@`, TAB or CR as a formula, so CSV and xlsx cells that
start so (or with their full-width forms) are prefixed with `'` (headers too, see
`pipeline.safe`); xlsx strings are written as strings, never
turned into formulas or links. JSON and Parquet are for programs and keep values as they
are. File names: `report-<label>.json`, `report-<label>.xlsx` (one sheet per table),
`report-<label>-<table>.csv` and `report-<label>-<table>.parquet`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from pipeline.files import write_atomically as write_atomically  # build.py imports it here
from pipeline.report.data import ReportData
from pipeline.safe import neutralise_cell, neutralise_formulas

EXPORT_FORMATS = ("csv", "json", "parquet", "xlsx")
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_CHARS = 32_767
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def neutralise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text cell and every header that a spreadsheet would run gets a leading `'`."""
    safe = neutralise_formulas(frame)
    return safe.rename({c: neutralise_cell(c) for c in safe.columns if neutralise_cell(c) != c})


def export_name(label: str, table: str | None, suffix: str) -> str:
    return f"report-{label}{'-' + table if table else ''}.{suffix}"


def write_exports(
    data: ReportData, out_dir: Path, label: str, formats: tuple[str, ...]
) -> list[Path]:
    """Write the requested export formats; return the files written."""
    written: list[Path] = []
    for fmt in formats:
        if fmt in ("csv", "parquet"):
            for table, frame in data.tables.items():
                target = out_dir / export_name(label, table, fmt)
                write_atomically(target, partial(_write_table, frame, fmt))
                written.append(target)
        elif fmt in ("json", "xlsx"):
            target = out_dir / export_name(label, None, fmt)
            write_atomically(target, partial(_WHOLE[fmt], data))
            written.append(target)
    return written


#: CSV timestamps carry their zone: every report time is UTC (`2026-11-27 09:30:00+00:00`).
CSV_DATETIME_FORMAT = DATETIME_FORMAT + "%:z"


def in_utc(frame: pl.DataFrame) -> pl.DataFrame:
    """The report's naive timestamps (all UTC) marked as UTC, so that CSV and JSON write
    their zone (`+00:00`) and no reader takes them for local time."""
    import polars.selectors as cs

    return frame.with_columns(cs.datetime(time_zone=None).dt.replace_time_zone("UTC"))


def _write_table(frame: pl.DataFrame, fmt: str, path: Path) -> None:
    if fmt == "csv":
        neutralise_frame(in_utc(frame)).write_csv(path, datetime_format=CSV_DATETIME_FORMAT)
    else:
        frame.write_parquet(path)


def write_json(data: ReportData, path: Path) -> None:
    path.write_text(json_document(data), encoding="utf-8")


def _iso_utc(t: datetime) -> str:
    """A naive UTC time as ISO 8601 with its zone, as Polars writes the tables' times."""
    return t.replace(tzinfo=UTC, microsecond=0).isoformat()


def json_document(data: ReportData) -> str:
    """All tables in one JSON document, with the period and how it was made."""
    head = {
        "format": "rmslog-report/1",
        "period": {
            "label": data.period.label,
            "start": _iso_utc(data.start),
            "end": _iso_utc(data.end),
        },
        "generated_at": _iso_utc(data.generated_at),
        "timezone": data.settings.timezone,
        # `--clock`: the zone whose hours or days `key-calls-over-time` buckets are
        "clock": data.clock_zone,
        "settings": data.settings.as_dict(),
        "detection": data.detection.status.as_dict(),
        "awaiting_origin": data.awaiting_origin,
        "pseudonymized": data.pseudonymized,
        "scope": data.scope.as_dict()
        if not data.pseudonymized
        else data.scope.describe(hide_people=True),
    }
    # Each table is serialised by Polars; only the envelope is built here.
    tables = ",\n".join(
        f"    {json.dumps(name)}: {in_utc(frame).write_json()}"
        for name, frame in data.tables.items()
    )
    return (
        json.dumps(head, indent=2, default=str)[:-2] + ',\n  "tables": {\n' + tables + "\n  }\n}\n"
    )


def write_xlsx(data: ReportData, path: Path) -> None:
    """One sheet per table; strings stay strings (no formula, number or URL guessing)."""
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    workbook = xlsxwriter.Workbook(str(path), options)
    workbook.set_properties(
        {"title": f"rmslog report {data.period.label}", "created": data.generated_at}
    )
    formats = {
        # A spreadsheet date has no zone: the format shows it (every report time is UTC).
        "stamp": workbook.add_format({"num_format": 'yyyy-mm-dd hh:mm:ss "UTC"'}),
        "day": workbook.add_format({"num_format": "yyyy-mm-dd"}),
    }
    bold = workbook.add_format({"bold": True})
    _write_cover(workbook.add_worksheet(COVER_SHEET), data, bold)
    for table, frame in data.tables.items():
        sheet = workbook.add_worksheet(table[:31])
        safe = neutralise_frame(frame).head(XLSX_MAX_ROWS - 1)
        for col, name in enumerate(safe.columns):
            sheet.write_string(0, col, name, bold)
            _write_column(sheet, col, safe.get_column(name), formats)
            sheet.set_column(col, col, _width(name, safe.get_column(name)))
        sheet.freeze_panes(1, 0)
        if safe.width:
            sheet.autofilter(0, 0, max(safe.height, 1), safe.width - 1)
    workbook.close()


#: The first sheet of the xlsx export: what the workbook is (period, zone, settings, scope,
#: detection run, the source files' digest); the tables follow, one sheet each.
COVER_SHEET = "cover"


def sources_digest(manifest: pl.DataFrame) -> str:
    """sha256 over the sorted `path<TAB>sha256` lines of the evidence manifest: one value that
    changes when any source file read (or its hash) does."""
    lines = sorted(f"{p}\t{h}\n" for p, h in manifest.select("path", "sha256").iter_rows())
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _write_cover(sheet: Any, data: ReportData, bold: Any) -> None:
    run = data.detection.status.last_run
    rows = [
        ("rmslog report", data.period.label),
        ("period", data.period.describe()),
        ("period start (UTC)", _iso_utc(data.start)),
        ("period end (UTC, excluded)", _iso_utc(data.end)),
        ("generated at (UTC)", _iso_utc(data.generated_at)),
        ("times in this workbook", "UTC (the cells' format says so)"),
        ("tenant time zone", data.settings.timezone),
        ("key-calls-over-time buckets", f"{data.bucket}s of {data.clock_zone} (--clock)"),
        ("settings", data.settings.describe()),
        ("scope", data.scope.describe(hide_people=data.pseudonymized) or "whole tenant"),
        ("pseudonymised", "yes" if data.pseudonymized else "no"),
        ("detection", data.detection.status.describe()),
        ("detect run", "none" if run is None else str(run.run_id)),
        ("source files", str(data.tables["evidence-manifest"].height)),
        ("sources sha256", sources_digest(data.tables["evidence-manifest"])),
        ("sheets", ", ".join(name[:31] for name in data.tables)),
    ]
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 100)
    for row, (key, value) in enumerate(rows):
        sheet.write_string(row, 0, key, bold)
        sheet.write_string(row, 1, neutralise_cell(value)[:XLSX_MAX_CHARS])


def _width(name: str, series: pl.Series) -> float:
    """A column width from the header and the first rows' text, between 8 and 60."""
    sample = series.head(200).cast(pl.String).fill_null("")
    longest = max([len(name), *(len(v) for v in sample.to_list())])
    return float(min(60, max(8, longest + 2)))


def _write_column(sheet: Any, col: int, series: pl.Series, formats: dict[str, Any]) -> None:
    """The cells of one column, typed. xlsx has no bulk API; report tables are small."""
    fmt = None
    if series.dtype == pl.String:
        write, values = sheet.write_string, series.str.slice(0, XLSX_MAX_CHARS)
    elif series.dtype.is_numeric():
        write, values = sheet.write_number, series
    elif series.dtype == pl.Boolean:
        write, values = sheet.write_boolean, series
    elif series.dtype == pl.Date or isinstance(series.dtype, pl.Datetime):
        write, values = sheet.write_datetime, series
        fmt = formats["day" if series.dtype == pl.Date else "stamp"]
    else:
        write, values = sheet.write_string, series.cast(pl.String)
    for row, value in enumerate(values, start=1):
        if value is not None:
            write(row, col, value, fmt)


_WHOLE: dict[str, Callable[[ReportData, Path], None]] = {"json": write_json, "xlsx": write_xlsx}
