"""Exports: golden files, formula neutralisation, xlsx typing, atomic writes, chart escaping.

Golden files live in `tests/data/golden/report-2026-11-27/`. After an intended change,
regenerate them with `RMSLOG_UPDATE_GOLDEN=1 pytest tests/test_report_exports.py` and
review the diff like code.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl
import pytest

from pipeline.report import TABLES, PeriodKind, ReportOptions, build_report, charts, period_of
from pipeline.report.compare import SCHEMA as COMPARISON_SCHEMA
from pipeline.report.data import LOCATION
from pipeline.report.exports import neutralise_frame, sources_digest, write_atomically
from pipeline.sqlfiles import sql_file
from pipeline.warehouse import open_warehouse

GOLDEN = Path(__file__).parent / "data" / "golden" / "report-2026-11-27"
UPDATE = os.environ.get("RMSLOG_UPDATE_GOLDEN") == "1"
NOW = datetime(2026, 11, 28, 6, 0)
ALL_FORMATS = ("html", "csv", "json", "parquet", "xlsx")


@pytest.fixture(scope="module")
def exported(hostile_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exports")
    period = period_of(PeriodKind.DAY, date(2026, 11, 27))
    options = ReportOptions(period=period, formats=ALL_FORMATS, generated_at=NOW)
    with open_warehouse(hostile_db, read_only=True) as con:
        build_report(con, out, options)
    return out


def _golden_names() -> list[str]:
    return [f"report-2026-11-27-{t}.csv" for t in TABLES] + ["report-2026-11-27.json"]


@pytest.mark.parametrize("name", _golden_names())
def test_exports_match_their_golden_files(exported: Path, name: str) -> None:
    got = (exported / name).read_text(encoding="utf-8")
    golden = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(got, encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8")


def test_every_table_is_exported_with_the_columns_its_query_names(exported: Path) -> None:
    # No location database is set here, so the location column is left out.
    for table in TABLES:
        frame = pl.read_parquet(exported / f"report-2026-11-27-{table}.parquet")
        if table == "comparison":  # computed from the summary query: its own schema
            assert tuple(frame.columns) == tuple(COMPARISON_SCHEMA.names())
            continue
        named = tuple(c for c in sql_file("report", table).columns if c != LOCATION)
        assert tuple(frame.columns) == named, table


def test_csv_cells_that_start_like_formulas_are_neutralised(exported: Path) -> None:
    users = (exported / "report-2026-11-27-top-users.csv").read_text(encoding="utf-8")
    assert "\n'=1+1@evil.example," in users and "\n'-2+3@evil.example," in users
    documents = (exported / "report-2026-11-27-top-documents.csv").read_text(encoding="utf-8")
    assert "'+SUM(1,2).pdf" in documents and ",'@cmd.pdf," in documents
    assert '"\'=HYPERLINK(""http://evil.example"",""click"").xlsx"' in documents
    for path in exported.glob("*.csv"):
        for line in path.read_text(encoding="utf-8").splitlines():
            for cell in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", line):
                assert not re.match(r"^\"?[=+@\t\r]", cell), (path.name, cell)


@pytest.mark.parametrize("first", ["=", "+", "-", "@", "\t", "\r", "＝"])
def test_every_formula_trigger_is_prefixed_in_cells_and_headers(first: str) -> None:
    frame = pl.DataFrame({f"{first}head": [f"{first}cmd", "plain", None], "n": [-1, 2, 3]})
    safe = neutralise_frame(frame)
    assert safe.columns == [f"'{first}head", "n"]
    assert safe[f"'{first}head"].to_list() == [f"'{first}cmd", "plain", None]
    assert safe["n"].to_list() == [-1, 2, 3]  # numbers stay numbers


def test_json_keeps_values_as_logged(exported: Path) -> None:
    doc = json.loads((exported / "report-2026-11-27.json").read_text(encoding="utf-8"))
    assert doc["format"] == "rmslog-report/1" and doc["period"]["label"] == "2026-11-27"
    assert set(doc["tables"]) == set(TABLES)
    users = [r["user_id"] for r in doc["tables"]["top-users"]]
    assert "=1+1@evil.example" in users and "</script><img src=x onerror=alert(1)>" in users


def _xlsx_part(path: Path, part: str) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read(part).decode("utf-8")


def test_xlsx_holds_strings_as_strings_and_no_formula(exported: Path) -> None:
    book = exported / "report-2026-11-27.xlsx"
    with zipfile.ZipFile(book) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == len(TABLES) + 1  # the cover first
        for name in sheets:
            xml = z.read(name).decode("utf-8")
            assert "<f>" not in xml and "<f " not in xml, name
            assert "<hyperlink" not in xml, name
    strings = _xlsx_part(book, "xl/sharedStrings.xml")
    assert "&apos;=1+1@evil.example" in strings or "'=1+1@evil.example" in strings
    assert "'=HYPERLINK(&quot;http://evil.example&quot;" in strings or (
        '\'=HYPERLINK("http://evil.example"' in strings
    )
    assert "&lt;img src=x onerror=alert(1)&gt;.docx" in strings
    workbook = _xlsx_part(book, "xl/workbook.xml")
    assert all(f'name="{t}"' in workbook for t in TABLES)


def test_xlsx_numbers_are_numbers(exported: Path) -> None:
    book = exported / "report-2026-11-27.xlsx"
    # The cover first, then the tables in TABLES order.
    sheet = f"xl/worksheets/sheet{TABLES.index('top-users') + 2}.xml"
    xml = _xlsx_part(book, sheet)
    # row 2 = kim: key_calls 2 as a number cell (no t="s"), share 0.3333
    assert re.search(r'<c r="B2"[^>]*><v>2</v></c>', xml)
    assert re.search(r'<c r="C2"[^>]*><v>0.3333</v></c>', xml)


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "report-x.csv"
    target.write_text("old", encoding="utf-8")

    def half_then_fail(path: Path) -> None:
        path.write_text("new but cut short", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, half_then_fail)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report-x.csv"]


def test_plotly_escapes_script_breakout_in_chart_data() -> None:
    hostile = "</script><img src=x onerror=alert(1)>.docx"
    raw = go.Figure(go.Bar(x=[1], y=[hostile])).to_html(full_html=False, include_plotlyjs=False)
    assert "</script><img" not in raw and "\\u003c\\u002fscript\\u003e" in raw
    ours = charts.top_users(pl.DataFrame({"user_id": [hostile], "key_calls": [3]}))
    assert "<img" not in ours and "&lt;\\u002fscript&gt;&lt;img" in ours


def test_every_exported_timestamp_carries_its_zone(exported: Path) -> None:
    findings = (exported / "report-2026-11-27-findings.csv").read_text(encoding="utf-8")
    assert ",2026-11-27 09:30:00+00:00,2026-11-27 09:30:00+00:00," in findings
    doc = json.loads((exported / "report-2026-11-27.json").read_text(encoding="utf-8"))
    assert doc["period"]["start"] == "2026-11-27T00:00:00+00:00"
    assert doc["tables"]["findings"][0]["first_ts"] == "2026-11-27T09:30:00+00:00"
    styles = _xlsx_part(exported / "report-2026-11-27.xlsx", "xl/styles.xml")
    assert 'formatCode="yyyy-mm-dd hh:mm:ss&quot;UTC&quot;"' in styles or (
        "hh:mm:ss &quot;UTC&quot;" in styles
    )


def test_xlsx_opens_with_a_cover_sheet_and_every_table_has_an_autofilter_and_widths(
    exported: Path,
) -> None:
    book = exported / "report-2026-11-27.xlsx"
    workbook = _xlsx_part(book, "xl/workbook.xml")
    assert workbook.index('name="cover"') < workbook.index('name="summary"')
    cover = _xlsx_part(book, "xl/worksheets/sheet1.xml")
    strings = _xlsx_part(book, "xl/sharedStrings.xml")
    for label in ("period start (UTC)", "tenant time zone", "detect run", "sources sha256"):
        assert label in strings
    manifest = pl.read_csv(exported / "report-2026-11-27-evidence-manifest.csv")
    assert sources_digest(manifest) in strings
    assert "<autoFilter" not in cover
    findings = _xlsx_part(book, f"xl/worksheets/sheet{TABLES.index('findings') + 2}.xml")
    assert re.search(r'<autoFilter ref="A1:[A-Z]+\d+"/>', findings)
    assert "<cols><col " in findings and 'customWidth="1"' in findings


def test_the_command_line_writes_every_export_with_zoned_times_and_the_xlsx_cover(
    cli: Any, hostile_db: Path, tmp_path: Path
) -> None:
    result = cli(
        "report", "--db", hostile_db, "--out", tmp_path, "--from", "2026-11-27", "--no-detect",
        "--format", ",".join(ALL_FORMATS),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    listed = result.stdout.splitlines()
    assert listed[0] == str(tmp_path / "report-2026-11-27.html")
    assert str(tmp_path / "report-2026-11-27.xlsx") in listed
    assert str(tmp_path / "report-2026-11-27-findings.csv") in listed
    findings = (tmp_path / "report-2026-11-27-findings.csv").read_text(encoding="utf-8")
    assert ",2026-11-27 09:30:00+00:00,2026-11-27 09:30:00+00:00," in findings
    doc = json.loads((tmp_path / "report-2026-11-27.json").read_text(encoding="utf-8"))
    assert (doc["period"]["start"], doc["clock"]) == ("2026-11-27T00:00:00+00:00", "UTC")
    book = tmp_path / "report-2026-11-27.xlsx"
    assert 'name="cover"' in _xlsx_part(book, "xl/workbook.xml")
    strings = _xlsx_part(book, "xl/sharedStrings.xml")
    assert "times in this workbook" in strings and "sources sha256" in strings
    sheet = _xlsx_part(book, f"xl/worksheets/sheet{TABLES.index('findings') + 2}.xml")
    assert re.search(r'<autoFilter ref="A1:[A-Z]+\d+"/>', sheet)
