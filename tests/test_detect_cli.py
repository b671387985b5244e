"""`rmslog detect` on the command line: settings file, parameters, --fail-on, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from w3c_builder import Rec, write_log

from pipeline.errors import ExitCode


@pytest.fixture
def night_reads_db(cli: Any, tmp_path: Path) -> Path:
    """A warehouse where kim reads 24 documents at 01:00 UTC on a Wednesday, after three
    ordinary days (history, so kim is judged rather than in a learning period)."""
    records = [Rec(f"2026-11-0{d} 12:00:00", "Certify", user="kim@x") for d in (1, 2, 3)]
    records += [
        Rec(f"2026-11-04 01:{2 * i:02d}:00", "AcquireLicense", user="kim@x", content=f"{{d{i}}}")
        for i in range(24)
    ]
    db = tmp_path / "w.duckdb"
    assert cli("ingest", write_log(tmp_path / "a.log", records), "--db", db).exit_code == 0
    return db


def test_detect_json_reports_findings_per_rule_and_fail_on_sets_exit_code_1(
    cli: Any, night_reads_db: Path
) -> None:
    result = cli("detect", "--db", night_reads_db, "--json", "--fail-on", "medium")
    assert result.exit_code == ExitCode.FINDINGS
    summary = json.loads(result.stdout)
    assert summary["findings_by_rule"]["off-hours-reading"] == 1
    assert "off-hours-reading: 1 finding(s), 1 new, 0 removed" in result.stderr
    assert cli("detect", "--db", night_reads_db, "--fail-on", "high").exit_code == 0


def test_the_settings_file_moves_working_hours_into_the_tenants_time_zone(
    cli: Any, night_reads_db: Path, tmp_path: Path
) -> None:
    # 01:00 UTC is 09:00 in Singapore: working time there.
    config = tmp_path / "rmslog.toml"
    config.write_text('[tenant]\ntimezone = "Asia/Singapore"\n', encoding="utf-8")
    result = cli("detect", "--db", night_reads_db, "--config", config, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["findings_by_rule"]["off-hours-reading"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "denied-burst.min_failures"], "--param must look like name=value"),
        (
            ["--param", "denied-burst.min_failures=lots"],
            "--param denied-burst.min_failures: expected INTEGER, got 'lots'",
        ),
        (["--param", "denied-burst.nope=1"], "rule denied-burst has no parameter 'nope'"),
        (["--config", "missing.toml"], "settings file missing.toml does not exist"),
    ],
)
def test_bad_detect_options_exit_with_the_usage_code_and_say_why(
    cli: Any, night_reads_db: Path, args: list[str], message: str
) -> None:
    result = cli("detect", "--db", night_reads_db, *args)
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr


def test_an_unknown_fail_on_severity_is_a_usage_error(cli: Any, night_reads_db: Path) -> None:
    result = cli("detect", "--db", night_reads_db, "--fail-on", "urgent")
    assert result.exit_code == ExitCode.USAGE
    assert "urgent" in result.stderr


def test_detect_on_a_warehouse_held_by_another_process_waits_then_exits_4(
    cli: Any, night_reads_db: Path
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            " time.sleep(30)",
            str(night_reads_db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = cli("detect", "--db", night_reads_db, "--wait", "0.5")
        assert result.exit_code == ExitCode.WAREHOUSE
        assert "in use by another rmslog process" in result.stderr
    finally:
        holder.kill()
        holder.wait()


def test_an_incremental_detect_raises_source_changed_when_no_record_arrived(
    cli: Any, tmp_path: Path
) -> None:
    from conftest import DATA

    log = tmp_path / "rmslog-2024-05-06.log"
    log.write_bytes((DATA / "refused" / "good.log").read_bytes())
    db = tmp_path / "w.duckdb"
    assert cli("ingest", log, "--db", db).exit_code == ExitCode.OK
    assert cli("detect", "--db", db, "--fail-on", "high").exit_code == ExitCode.OK
    log.write_bytes(log.read_bytes().replace(b"'kim'", b"'eve'"))  # no new record
    assert cli("ingest", log, "--db", db).exit_code == ExitCode.OK
    result = cli("detect", "--db", db, "--fail-on", "high")
    assert result.exit_code == ExitCode.FINDINGS
    assert "source-changed: 1 finding(s), 1 new" in result.stderr
