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

import json
from collections.abc import Callable
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


def _write_table(frame: pl.DataFrame, fmt: str, path: Path) -> None:
    if fmt == "csv":
        neutralise_frame(frame).write_csv(path, datetime_format=DATETIME_FORMAT)
    else:
        frame.write_parquet(path)


def write_json(data: ReportData, path: Path) -> None:
    path.write_text(json_document(data), encoding="utf-8")


def json_document(data: ReportData) -> str:
    """All tables in one JSON document, with the period and how it was made."""
    head = {
        "format": "rmslog-report/1",
        "period": {
            "label": data.period.label,
            "start": data.start.strftime(DATETIME_FORMAT),
            "end": data.end.strftime(DATETIME_FORMAT),
        },
        "generated_at": data.generated_at.strftime(DATETIME_FORMAT),
        "timezone": data.settings.timezone,
        "settings": data.settings.as_dict(),
        "detection": data.detection.status.as_dict(),
        "awaiting_origin": data.awaiting_origin,
        "pseudonymized": data.pseudonymized,
    }
    # Each table is serialised by Polars; only the envelope is built here.
    tables = ",\n".join(
        f"    {json.dumps(name)}: {frame.write_json()}" for name, frame in data.tables.items()
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
        "stamp": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        "day": workbook.add_format({"num_format": "yyyy-mm-dd"}),
    }
    bold = workbook.add_format({"bold": True})
    for table, frame in data.tables.items():
        sheet = workbook.add_worksheet(table[:31])
        safe = neutralise_frame(frame).head(XLSX_MAX_ROWS - 1)
        for col, name in enumerate(safe.columns):
            sheet.write_string(0, col, name, bold)
            _write_column(sheet, col, safe.get_column(name), formats)
        sheet.freeze_panes(1, 0)
    workbook.close()


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
