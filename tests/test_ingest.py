from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from pipeline.ingest import ingest_paths


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.sql(sql).fetchall()[0][0])


def test_ingesting_the_same_folder_twice_changes_nothing(
    warehouse: duckdb.DuckDBPyConnection, small_logs: Path
) -> None:
    first = ingest_paths(warehouse, [small_logs])
    assert first.rows_stored > 0
    assert first.data_lines == first.rows_stored + first.duplicates + first.rejected
    second = ingest_paths(warehouse, [small_logs])
    assert (second.rows_stored, second.files_skipped) == (0, first.files)
    assert _count(warehouse, "SELECT count(*) FROM requests") == first.rows_stored


def test_the_same_records_under_another_name_are_duplicates(
    warehouse: duckdb.DuckDBPyConnection, small_logs: Path, tmp_path: Path
) -> None:
    one = sorted(small_logs.glob("*.log"))[0]
    copy = tmp_path / "copy-of-day-one.log"
    shutil.copy(one, copy)
    first = ingest_paths(warehouse, [one])
    again = ingest_paths(warehouse, [copy])
    assert again.rows_stored == 0
    assert again.duplicates == first.rows_stored


def test_a_grown_file_is_read_from_where_it_stopped(
    warehouse: duckdb.DuckDBPyConnection, small_logs: Path, tmp_path: Path
) -> None:
    lines = sorted(small_logs.glob("*.log"))[0].read_text(encoding="utf-8").splitlines(True)
    growing = tmp_path / "rmslog-growing.log"
    growing.write_text("".join(lines[:10]) + lines[10][:20], encoding="utf-8")  # torn last line
    first = ingest_paths(warehouse, [growing])
    assert first.rows_stored == 7  # three header lines, then 7 complete data lines
    growing.write_text("".join(lines), encoding="utf-8")
    second = ingest_paths(warehouse, [growing])
    assert second.rows_stored == len(lines) - 10
    assert second.duplicates == 0
    stored = warehouse.sql("SELECT source_line FROM requests ORDER BY source_line").fetchall()
    assert [r[0] for r in stored] == list(range(4, len(lines) + 1))


def test_a_non_rms_file_is_refused_and_counted(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    iis = tmp_path / "u_ex240506.log"
    iis.write_text("#Software: Microsoft Internet Information Services 10.0\n", encoding="utf-8")
    summary = ingest_paths(warehouse, [tmp_path])
    assert summary.files_refused == 1
    assert "u_ex240506.log:1: not an RMS usage log" in summary.refused[0]
