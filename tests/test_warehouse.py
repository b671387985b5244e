"""The warehouse connection: a memory limit and a private folder to spill to, always."""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pipeline import query
from pipeline.errors import WarehouseError
from pipeline.warehouse import ENV_MEMORY, memory_budget_bytes, open_warehouse

#: A sort of 3M 32-character strings: about 200 MB to hold, so it spills under 60 MiB.
BIG_SORT = (
    "SELECT count(*) AS n, max(s) AS top FROM "
    "(SELECT md5(range::VARCHAR) AS s FROM range(3000000) ORDER BY s DESC)"
)


def empty_warehouse(tmp_path: Path) -> Path:
    db = tmp_path / "w.duckdb"
    with open_warehouse(db):
        pass
    return db


def test_the_budget_defaults_to_one_gib_and_duckdb_gets_part_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_MEMORY, raising=False)
    assert memory_budget_bytes() == 1 << 30
    with open_warehouse(empty_warehouse(tmp_path)) as con:
        limit = con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert limit == "614.0 MiB"


def test_the_user_sets_the_budget_with_rmslog_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = empty_warehouse(tmp_path)
    monkeypatch.setenv(ENV_MEMORY, "2GiB")
    with open_warehouse(db, read_only=True) as con:
        limit = con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert limit == "1.1 GiB"  # 60% of 2 GiB = 1228 MiB


def test_a_budget_that_is_not_a_size_is_refused_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_MEMORY, "lots")
    with pytest.raises(WarehouseError, match="RMSLOG_MEMORY_LIMIT='lots' is not a size"):
        memory_budget_bytes()


def test_the_query_sandbox_spills_to_its_private_folder_instead_of_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = empty_warehouse(tmp_path)
    monkeypatch.setenv(ENV_MEMORY, "100MB")  # DuckDB gets 57 MiB
    with query.sandbox(db) as con:
        folder = con.sql("SELECT current_setting('temp_directory')").fetchall()[0][0]
        assert query.run_sql(con, BIG_SORT).row(0)[0] == 3_000_000
    assert "rmslog-spill-" in folder
    assert not Path(f"{db}.tmp").exists()  # not DuckDB's shared default beside the file
    # Without a folder to spill to, the same sort runs out of memory: the limit is real.
    con = duckdb.connect(str(db), read_only=True, config={"memory_limit": "57MiB"})
    try:
        con.execute("SET temp_directory = ''")
        with pytest.raises(duckdb.OutOfMemoryException):
            con.sql(BIG_SORT).fetchall()
    finally:
        con.close()


def test_query_output_streams_every_row_in_every_format(tmp_path: Path) -> None:
    db = empty_warehouse(tmp_path)
    sql = "SELECT range AS i, '=cmd' AS s FROM range(120001)"  # several batches
    out = io.BytesIO()
    written = query.stream_query(db, sql, None, "csv", out)
    lines = out.getvalue().decode().splitlines()
    assert written.rows == 120_001 and lines[0] == "i,s" and len(lines) == 120_002
    assert lines[-1] == "120000,'=cmd"  # neutralised in every batch
    out = io.BytesIO()
    query.stream_query(db, sql, None, "json", out)
    rows = json.loads(out.getvalue())
    assert len(rows) == 120_001 and rows[-1] == {"i": 120000, "s": "=cmd"}
    target = tmp_path / "out.parquet"
    assert query.stream_query(db, sql, None, "parquet", target).rows == 120_001
    assert pq.read_table(target).num_rows == 120_001


def test_a_table_shows_its_first_rows_and_counts_the_rest_without_keeping_them(
    tmp_path: Path,
) -> None:
    db = empty_warehouse(tmp_path)
    out = io.BytesIO()
    written = query.stream_query(db, "SELECT range AS i FROM range(70000)", None, "table", out)
    assert (written.rows, written.shown) == (70_000, 1_000)
    text = out.getvalue().decode()
    assert " 999 " in text and " 1000 " not in text


def test_an_empty_result_writes_a_header_or_an_empty_array(tmp_path: Path) -> None:
    db = empty_warehouse(tmp_path)
    for fmt, expected in (("csv", "a,b\n"), ("json", "[]\n")):
        out = io.BytesIO()
        query.stream_query(db, "SELECT 1 AS a, 2 AS b WHERE false", None, fmt, out)
        assert out.getvalue().decode() == expected
