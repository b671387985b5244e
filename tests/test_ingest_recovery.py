"""Exactly once under real failures: SIGKILL mid-ingest, and two processes at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import rmslog, warehouse_contents

from pipeline.errors import ExitCode
from pipeline.generate import GenerateOptions, generate_logs
from pipeline.schema import Topology

ONE_COMMIT_PER_FILE = {**os.environ, "RMSLOG_COMMIT_LINES": "1"}


def committed_files(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.sql("SELECT count(*) FROM ingested_files").fetchall()[0][0])
    except duckdb.CatalogException:
        return 0  # killed while creating the warehouse, before its schema committed
    finally:
        con.close()


def lake_rows(lake: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the lake (records by day, custody, manifest parts), rows sorted,
    without what differs between runs as in `warehouse_contents` (run ids, read times)."""
    from pipeline.ingest.lake import TABLES

    varying = {
        "ingested_files": "EXCLUDE (ingested_at, run_id)",
        "conflicts": "EXCLUDE (run_id)",
        "integrity_events": "EXCLUDE (detected_at, run_id)",
    }
    con = duckdb.connect()
    try:
        return {
            table: con.execute(
                f"SELECT * {varying.get(table, '')} "  # noqa: S608 -- fixed names
                "FROM read_parquet($f, hive_partitioning = true) ORDER BY ALL",
                {"f": str(lake / table / "**" / "*.parquet")},
            ).fetchall()
            for table in TABLES
            if (lake / table).is_dir()
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def kv_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Key Vault AuditEvent blobs of a small simulated tenant (2 days: 48 hourly files)."""
    out = tmp_path_factory.mktemp("kv")
    generate_logs(
        out,
        GenerateOptions(
            start=date(2026, 9, 1),
            days=2,
            users=6,
            seed=5,
            topology=Topology.BYOK_KEYVAULT,
            keyvault_logs=True,
        ),
    )
    return out / "insights-logs-auditevent"


@pytest.mark.slow
def test_killing_ingest_mid_way_and_running_it_again_equals_one_clean_run(
    many_logs: Path, kv_logs: Path, tmp_path: Path
) -> None:
    clean_db, clean_lake = tmp_path / "clean.duckdb", tmp_path / "clean-lake"
    started = time.monotonic()
    subprocess.run(
        rmslog("ingest", many_logs, kv_logs, "--db", clean_db, "--lake", clean_lake),
        env=ONE_COMMIT_PER_FILE,
        check=True,
        capture_output=True,
    )
    clean_seconds = time.monotonic() - started
    total = committed_files(clean_db)

    db, lake = tmp_path / "killed.duckdb", tmp_path / "killed-lake"
    seen: list[int] = []
    for fraction in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.1, 1.2):
        child = subprocess.Popen(
            rmslog("ingest", many_logs, kv_logs, "--db", db, "--lake", lake),
            env=ONE_COMMIT_PER_FILE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(clean_seconds * fraction)
        child.send_signal(signal.SIGKILL)
        child.wait()
        if db.exists():
            seen.append(committed_files(db))
        if any(0 < n < total for n in seen) and seen[-1] == total:
            break
    assert any(0 < n < total for n in seen), f"no kill landed mid-way: {seen} of {total}"

    rerun = subprocess.run(
        rmslog("ingest", many_logs, kv_logs, "--db", db, "--lake", lake, "--json"),
        env=ONE_COMMIT_PER_FILE,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(rerun.stdout)["files_refused"] == 0
    assert warehouse_contents(db) == warehouse_contents(clean_db)
    tables = lake_rows(lake)
    assert tables == lake_rows(clean_lake)
    assert tables["requests"] and tables["keyvault_events"] and tables["ingested_files"]
    assert not list((lake / "_staging").glob("*"))


def hold_warehouse(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process that keeps the warehouse open for writing for `seconds`."""
    code = (
        "import sys, time\n"
        "from pipeline.warehouse import connect\n"
        "con = connect(sys.argv[1])\n"
        "print('holding', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
    )
    holder = subprocess.Popen(
        [*rmslog()[:1], "-c", code, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return holder


@pytest.mark.slow
def test_a_second_ingest_fails_with_exit_code_4_while_the_warehouse_is_busy(
    small_logs: Path, tmp_path: Path
) -> None:
    db = tmp_path / "w.duckdb"
    holder = hold_warehouse(db, 30)
    try:
        result = subprocess.run(
            rmslog("ingest", small_logs, "--db", db), capture_output=True, text=True
        )
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == ExitCode.WAREHOUSE
    assert f"warehouse {db} is in use by another rmslog process (PID {holder.pid})" in result.stderr
    assert "use --wait SECONDS" in result.stderr
    assert committed_files(db) == 0


@pytest.mark.slow
def test_a_second_ingest_with_wait_goes_on_once_the_first_is_done(
    small_logs: Path, tmp_path: Path
) -> None:
    db = tmp_path / "w.duckdb"
    holder = hold_warehouse(db, 2)
    result = subprocess.run(
        rmslog("ingest", small_logs, "--db", db, "--wait", "60", "--json"),
        capture_output=True,
        text=True,
    )
    holder.wait()
    assert result.returncode == ExitCode.OK, result.stderr
    assert json.loads(result.stdout)["files"] == committed_files(db) > 0


@pytest.mark.parametrize("wait", ["0", "60"])
@pytest.mark.slow
def test_two_ingests_of_the_same_logs_at_once_never_store_a_record_twice(
    wait: str, many_logs: Path, tmp_path: Path
) -> None:
    db, clean = tmp_path / "w.duckdb", tmp_path / "clean.duckdb"
    subprocess.run(rmslog("ingest", many_logs, "--db", clean), check=True, capture_output=True)
    children = [
        subprocess.Popen(
            rmslog("ingest", many_logs, "--db", db, "--wait", wait),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    codes = sorted(child.wait() for child in children)
    if wait == "0":  # one wins the lock, the other says so and stores nothing
        assert codes in ([0, 0], [0, ExitCode.WAREHOUSE])
    else:
        assert codes == [0, 0]
    assert warehouse_contents(db) == warehouse_contents(clean)
