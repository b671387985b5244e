from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline import query
from pipeline.errors import QueryError
from pipeline.ingest import ingest_paths
from pipeline.sqlfiles import SqlFile, sql_files
from pipeline.warehouse import open_warehouse

NAMED = sql_files("named")


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory, small_logs: Path) -> Path:
    db = tmp_path_factory.mktemp("db") / "w.duckdb"
    with open_warehouse(db) as con:
        ingest_paths(con, [small_logs])
    return db


@pytest.mark.parametrize("named", NAMED, ids=lambda f: f.name)
def test_every_named_query_runs_and_returns_the_columns_its_header_names(
    sample_db: Path, named: SqlFile
) -> None:
    con = query.open_sandbox(sample_db)
    frame = query.run_named(con, named.name)
    assert tuple(frame.columns) == named.columns
    assert named.description


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY (SELECT 1) TO '/tmp/rmslog-escape.csv'",
        "ATTACH '/tmp/other.duckdb'",
        "INSTALL httpfs",
        "SET threads = 1",
        "DELETE FROM requests",
    ],
)
def test_the_sandbox_refuses_writes_files_extensions_and_settings(
    sample_db: Path, sql: str
) -> None:
    con = query.open_sandbox(sample_db)
    with pytest.raises(QueryError):
        query.run_sql(con, sql)
    assert not Path("/tmp/rmslog-escape.csv").exists()


def test_parameters_are_bound_not_spliced(sample_db: Path) -> None:
    con = query.open_sandbox(sample_db)
    hostile = "x' OR '1'='1"
    frame = query.run_sql(
        con, "SELECT count(*) AS n FROM requests WHERE user_id = $u", {"u": hostile}
    )
    assert frame["n"].item() == 0


def test_an_unknown_parameter_is_refused(warehouse: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(QueryError, match="has no parameter 'nope'"):
        query.run_named(warehouse, "key-calls-per-day", {"nope": "1"})
