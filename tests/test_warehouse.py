"""The warehouse: schema version (numbered migrations, derived objects, ingest runs), and
the connection's memory limit and private spill folder."""

from __future__ import annotations

import inspect
import io
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import query, warehouse
from pipeline.errors import ExitCode, WarehouseError
from pipeline.ingest import ingest_paths
from pipeline.warehouse import (
    ENV_MEMORY,
    MIGRATIONS,
    SCHEMA_VERSION,
    ensure_schema,
    memory_budget_bytes,
    open_warehouse,
)


def _pre_versioning_warehouse(path: Path) -> None:
    """A warehouse as rmslog wrote it before schema versions: the first tables, one row."""
    con = duckdb.connect(str(path))
    for statement in MIGRATIONS[0].statements:
        con.execute(statement)
    con.execute(
        "INSERT INTO requests (ts, row_id, request_type, source_file, source_line) "
        "VALUES ('2026-11-02 08:00:00', 'r1', 'AcquireLicense', 'old.log', 5)"
    )
    con.close()


def test_a_new_warehouse_is_at_the_latest_version_and_a_second_open_writes_nothing(
    tmp_path: Path,
) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    first = ensure_schema(con)
    assert first.applied == tuple(m.version for m in MIGRATIONS)
    assert first.derived_refreshed
    assert ensure_schema(con) == warehouse.SchemaChange((), False)
    versions = con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
    assert [v for (v,) in versions] == list(range(1, SCHEMA_VERSION + 1))


def test_migrations_are_numbered_one_by_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_a_warehouse_from_before_versioning_is_upgraded_in_place_keeping_its_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.duckdb"
    _pre_versioning_warehouse(path)
    with open_warehouse(path) as con:
        rows = con.execute("SELECT row_id, run_id FROM requests").fetchall()
        assert rows == [("r1", None)]
        assert warehouse.schema_version_of(con) == SCHEMA_VERSION
        assert con.execute("SELECT count(*) FROM request_types").fetchall()[0][0] > 40


def test_a_read_only_open_of_an_older_warehouse_says_how_to_upgrade_it(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    _pre_versioning_warehouse(path)
    with pytest.raises(WarehouseError, match="run a writing command once"):
        warehouse.connect(path, read_only=True)


def test_a_warehouse_newer_than_this_rmslog_is_refused(tmp_path: Path, cli: Any) -> None:
    path = tmp_path / "new.duckdb"
    with open_warehouse(path) as con:
        con.execute(
            "INSERT INTO schema_version VALUES ($v, 'from the future', now()::TIMESTAMP, '99')",
            {"v": SCHEMA_VERSION + 1},
        )
    with pytest.raises(WarehouseError, match="newer than this rmslog"):
        warehouse.connect(path)
    result = cli("detect", "--db", str(path))
    assert result.exit_code == ExitCode.WAREHOUSE
    assert "upgrade rmslog" in result.stderr


def test_a_read_only_open_checks_the_version_and_the_derived_objects(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with open_warehouse(path):
        pass
    warehouse.connect(path, read_only=True).close()  # current: opens
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE schema_meta SET value = 'other' WHERE key = 'derived_fingerprint'")
    with pytest.raises(WarehouseError, match="run a writing command once"):
        warehouse.connect(path, read_only=True)
    with duckdb.connect(str(path)) as con:
        con.execute(
            "INSERT INTO schema_version VALUES ($v, 'from the future', now()::TIMESTAMP, '99')",
            {"v": SCHEMA_VERSION + 1},
        )
    with pytest.raises(WarehouseError, match="newer than this rmslog"):
        warehouse.connect(path, read_only=True)


def test_each_ingest_run_marks_the_rows_it_stored(tmp_path: Path, small_logs: Path) -> None:
    files = sorted(small_logs.glob("*.log"))
    with open_warehouse(tmp_path / "w.duckdb") as con:
        ingest_paths(con, files[:1])
        ingest_paths(con, files)
        ingest_paths(con, files)  # nothing new: no run row
        runs = con.execute(
            "SELECT run_id, started_at <= finished_at FROM ingest_runs ORDER BY 1"
        ).fetchall()
        assert runs == [(1, True), (2, True)]
        by_run = con.execute(
            "SELECT run_id, count(DISTINCT source_file) FROM requests GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert by_run == [(1, 1), (2, len(files) - 1)]


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


@pytest.mark.parametrize("read_only", [False, True])
def test_a_warehouse_connection_never_reads_a_python_variable_by_its_name(
    tmp_path: Path, read_only: bool
) -> None:
    db = tmp_path / "w.duckdb"
    warehouse.connect(db).close()
    hidden = pa.table({"x": [1]})
    with warehouse.open_warehouse(db, read_only=read_only) as con:
        with pytest.raises(duckdb.CatalogException, match="hidden"):
            con.sql("SELECT x FROM hidden").fetchall()
        assert con.from_arrow(hidden).fetchall() == [(1,)]  # the explicit way works
        con.register("shown", hidden)
        assert con.sql("SELECT x FROM shown").fetchall() == [(1,)]


def test_every_wait_for_a_busy_warehouse_has_one_default() -> None:
    from pipeline import cli
    from pipeline.ingest import watch

    assert cli.WAIT_SECONDS == query.DEFAULT_WAIT_SECONDS == warehouse.WAIT_SECONDS
    assert inspect.signature(watch.watch_folder).parameters["wait_seconds"].default == (
        warehouse.WAIT_SECONDS
    )


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


@pytest.mark.slow
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
    written = query.query_to(db, sql, None, "csv", out)
    lines = out.getvalue().decode().splitlines()
    assert written.rows == 120_001 and lines[0] == "i,s" and len(lines) == 120_002
    assert lines[-1] == "120000,'=cmd"  # neutralised in every batch
    out = io.BytesIO()
    query.query_to(db, sql, None, "json", out)
    rows = json.loads(out.getvalue())
    assert len(rows) == 120_001 and rows[-1] == {"i": 120000, "s": "=cmd"}
    target = tmp_path / "out.parquet"
    assert query.query_to(db, sql, None, "parquet", target).rows == 120_001
    assert pq.read_table(target).num_rows == 120_001


def test_a_table_shows_its_first_rows_and_counts_the_rest_without_keeping_them(
    tmp_path: Path,
) -> None:
    db = empty_warehouse(tmp_path)
    out = io.BytesIO()
    written = query.query_to(db, "SELECT range AS i FROM range(70000)", None, "table", out)
    assert (written.rows, written.shown) == (70_000, 1_000)
    text = out.getvalue().decode()
    assert " 999 " in text and " 1000 " not in text


def test_an_empty_result_writes_a_header_or_an_empty_array(tmp_path: Path) -> None:
    db = empty_warehouse(tmp_path)
    for fmt, expected in (("csv", "a,b\n"), ("json", "[]\n")):
        out = io.BytesIO()
        query.query_to(db, "SELECT 1 AS a, 2 AS b WHERE false", None, fmt, out)
        assert out.getvalue().decode() == expected
