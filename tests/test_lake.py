"""The Parquet lake: stored rows, by day, in Hive layout, exactly once, readable elsewhere."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
from conftest import DATA
from kv_builder import jsonl, record, write_blob

from pipeline.ingest import ingest_paths
from pipeline.ingest.lake import Lake
from pipeline.ingest.survey import survey_file
from pipeline.warehouse import open_warehouse


def lake_frame(lake: Path) -> pl.DataFrame:
    return pl.scan_parquet(lake / "requests", hive_partitioning=True).collect()


def lake_state(lake: Path, table: str, key: str) -> list[tuple[object, ...]]:
    """A manifest-like lake table as the warehouse holds it: each key's newest row."""
    return duckdb.execute(
        f"SELECT * EXCLUDE (run_id) FROM read_parquet($f) "  # noqa: S608 -- fixed names
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY run_id DESC) = 1",
        {"f": str(lake / table / "*.parquet")},
    ).fetchall()


def test_the_lake_holds_the_stored_rows_partitioned_by_day(tmp_path: Path) -> None:
    db, lake = tmp_path / "w.duckdb", tmp_path / "lake"
    with open_warehouse(db) as con:
        summary = ingest_paths(con, [DATA / "duplicates", DATA / "tree"], lake=lake)
        stored = con.sql("SELECT row_id FROM requests ORDER BY 1").fetchall()
    assert summary.lake_files == len(list(lake.glob("*/**/part-*.parquet"))) > 0
    assert list(lake.glob("requests/day=*/part-*.parquet"))
    days = sorted(p.name for p in (lake / "requests").iterdir())
    assert days == ["day=2024-05-06", "day=2024-05-07", "day=2024-05-08"]
    frame = lake_frame(lake)  # Polars, with Hive partitioning
    assert sorted(frame["row_id"].to_list()) == [r[0] for r in stored]
    assert (frame["day"] == frame["ts"].dt.date()).all()
    per_day = duckdb.execute(  # DuckDB, with Hive partitioning
        "SELECT day, count(*) FROM read_parquet($f, hive_partitioning = true) GROUP BY 1 "
        "ORDER BY 1",
        {"f": str(lake / "requests" / "**" / "*.parquet")},
    ).fetchall()
    assert per_day == [(date(2024, 5, 6), 1), (date(2024, 5, 7), 3), (date(2024, 5, 8), 5)]


def test_running_again_adds_nothing_and_a_grown_file_adds_only_its_new_rows(
    tmp_path: Path,
) -> None:
    db, lake, log = tmp_path / "w.duckdb", tmp_path / "lake", tmp_path / "rmslog-2024-05-08.log"
    shutil.copy(DATA / "duplicates" / "000000007", log)
    with open_warehouse(db) as con:
        # one requests part, one manifest part (ingested_files) each time
        assert ingest_paths(con, [log], lake=lake).lake_files == 2
        assert ingest_paths(con, [log], lake=lake).lake_files == 0
        log.write_bytes((DATA / "duplicates" / "rmslog-2024-05-08.log").read_bytes())
        assert ingest_paths(con, [log], lake=lake).lake_files == 2
        manifest = con.sql("SELECT * FROM ingested_files").fetchall()
    assert sorted(lake_frame(lake)["row_id"].to_list()) == [f"dup-{i}" for i in range(5)]
    assert lake_state(lake, "ingested_files", "path") == manifest


def test_staged_parts_are_published_if_their_commit_happened_and_dropped_if_not(
    tmp_path: Path,
) -> None:
    db, lake = tmp_path / "w.duckdb", tmp_path / "lake"
    files = [DATA / "variants" / "v10.log", DATA / "variants" / "v15.log"]
    with open_warehouse(db) as con:
        for path, commit in zip(files, (True, False), strict=True):
            whole = survey_file(path, str(path), 1 << 20)
            assert whole is not None
            con.execute("BEGIN")
            con.execute(
                "INSERT INTO ingested_files (path, size, sha256, bytes_consumed, "
                "rows_stored, duplicates, rejects, ingested_at) "
                "VALUES ($p, 0, $s, $c, 0, 0, 0, now())",
                {"p": str(path), "s": whole.done.sha256, "c": whole.done.consumed},
            )
            con.execute(
                "INSERT INTO requests (ts, row_id, source_file, source_line, run_id) "
                "VALUES ('2016-01-06 10:00:00', $p, $p, 4, 1)",
                {"p": str(path)},
            )
            span = (datetime(2016, 1, 1), datetime(2016, 12, 31))
            Lake(lake).stage(con, [whole.done], span, 1)  # then the process "dies" here
            con.execute("COMMIT" if commit else "ROLLBACK")
        assert len(list((lake / "_staging").iterdir())) == 2
        ingest_paths(con, [], lake=lake)  # the next run with the lake settles them
    assert not list((lake / "_staging").iterdir())
    assert lake_frame(lake)["row_id"].to_list() == [str(files[0])]


def lake_table(lake: Path, table: str) -> list[tuple[object, ...]]:
    """A lake table's rows, sorted (the partition column `day` dropped)."""
    files = str(lake / table / "**" / "*.parquet")
    return duckdb.execute(
        "SELECT * EXCLUDE (day) FROM read_parquet($f, hive_partitioning = true) ORDER BY ALL"
        if "/day=" in str(next((lake / table).glob("**/*.parquet")))
        else "SELECT * FROM read_parquet($f) ORDER BY ALL",
        {"f": files},
    ).fetchall()


def test_key_vault_records_and_a_changed_file_reach_the_lake_as_the_warehouse_holds_them(
    tmp_path: Path,
) -> None:
    db, lake, logs = tmp_path / "w.duckdb", tmp_path / "lake", tmp_path / "logs"
    log = logs / "rmslog-2024-05-08.log"
    log.parent.mkdir()
    shutil.copy(DATA / "duplicates" / "000000007", log)
    hour = datetime(2026, 11, 2, 10)
    write_blob(logs / "kv", hour, jsonl([record(hour), record(hour, "KeySign", status=403)]))
    with open_warehouse(db) as con:
        ingest_paths(con, [logs], lake=lake)
        text = (DATA / "duplicates" / "rmslog-2024-05-08.log").read_text(encoding="utf-8")
        log.write_text(text.replace("'kim'", "'kim.l'", 1), encoding="utf-8")  # edited
        ingest_paths(con, [logs], lake=lake)
        # read again with nothing new: no part
        assert ingest_paths(con, [logs], lake=lake).lake_files == 0

        def table(sql: str) -> list[tuple[object, ...]]:
            return con.sql(sql).fetchall()

        assert lake_table(lake, "requests") == table(
            "SELECT * EXCLUDE (run_id) FROM requests ORDER BY ALL"
        )
        kv = table("SELECT * EXCLUDE (run_id) FROM keyvault_events ORDER BY ALL")
        assert lake_table(lake, "keyvault_events") == kv and len(kv) == 2
        events = table("SELECT * FROM integrity_events ORDER BY ALL")
        assert lake_table(lake, "integrity_events") == events and len(events) == 1
        conflicts = table("SELECT * FROM conflicts ORDER BY ALL")
        assert lake_table(lake, "conflicts") == conflicts and len(conflicts) == 1
        manifest = table("SELECT * FROM ingested_files ORDER BY ALL")
    assert sorted(lake_state(lake, "ingested_files", "path")) == manifest
    days = sorted(p.name for p in (lake / "keyvault_events").iterdir())
    assert days == ["day=2026-11-02"]
