"""The warehouse's schema version: numbered migrations, derived objects, ingest runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline import warehouse
from pipeline.errors import ExitCode, WarehouseError
from pipeline.ingest import ingest_paths
from pipeline.warehouse import MIGRATIONS, SCHEMA_VERSION, ensure_schema, open_warehouse


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
