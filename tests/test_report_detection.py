"""A report states whether detection covered its data: it runs detect first, or says it did not.

Issue 10, item 1: `ingest && report --fail-on high` used to say "all clear" although
detection never ran. Item 5: orphan key calls at the end of a closed period were never
judged. Item 6: the demo reported on UTC what it detected on the tenant's clock.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from w3c_builder import Rec, licence, write_log

from pipeline.detect import list_rules, run_detections
from pipeline.errors import ExitCode
from pipeline.ingest import ingest_paths
from pipeline.warehouse import open_warehouse

SAMPLE_LOGS = Path(__file__).parent.parent / "sample-logs"
BANNER = "Findings are not up to date."


@pytest.fixture
def ingested(cli: Any, tmp_path: Path) -> Path:
    """The committed sample logs ingested into a fresh warehouse; detect never ran."""
    db = tmp_path / "w.duckdb"
    assert cli("ingest", SAMPLE_LOGS, "--db", db).exit_code == 0
    return db


def _html(out: Path) -> str:
    return next(out.glob("report-*.html")).read_text(encoding="utf-8")


def test_ingest_then_report_fail_on_high_detects_first_instead_of_saying_all_clear(
    cli: Any, ingested: Path, tmp_path: Path
) -> None:
    result = cli("report", "--out", tmp_path / "r", "--db", ingested, "--fail-on", "high")
    assert result.exit_code == ExitCode.FINDINGS
    assert "report: bringing findings up to date first (detect has never run" in result.stderr
    html = _html(tmp_path / "r")
    assert BANNER not in html
    assert "This report brought the findings up to date first." in html
    every_rule = len(list_rules())
    assert "Detection last ran at" in html
    assert f"(detect run 1, full, {every_rule} rule(s))" in html
    assert "Settings: time zone UTC, working hours 08:00-18:00" in html
    assert "No finding of the detection rules overlaps this period." not in html


@pytest.mark.slow
def test_no_detect_on_a_warehouse_never_detected_puts_a_banner_and_fail_on_exits_9(
    cli: Any, ingested: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r"
    args = ("report", "--out", out, "--db", ingested, "--no-detect")
    result = cli(*args, "--fail-on", "high")
    assert result.exit_code == ExitCode.STALE == 9
    assert "the findings do not cover this warehouse's data" in result.stderr
    html = _html(out)
    assert BANNER in html and "detect has never run on this warehouse" in html
    assert "Detection has never run on this warehouse." in html
    assert "this is not an all-clear" in html
    plain = cli(*args)
    assert plain.exit_code == 0 and "warning:" in plain.stderr  # no --fail-on: written, warned
    with open_warehouse(ingested, read_only=True) as con:
        assert con.sql("SELECT count(*) FROM detect_runs").fetchall() == [(0,)]


@pytest.mark.slow
def test_records_arriving_after_detect_make_findings_stale_until_report_brings_them_up(
    cli: Any, ingested: Path, tmp_path: Path
) -> None:
    assert cli("detect", "--db", ingested).exit_code == 0
    out = tmp_path / "r"
    current = cli("report", "--out", out, "--db", ingested, "--no-detect", "--fail-on", "high")
    assert current.exit_code == ExitCode.FINDINGS and BANNER not in _html(out)
    late = [Rec("2026-11-16 00:05:00", "AcquireLicense", user="kim@x")]
    assert cli("ingest", write_log(tmp_path / "late.log", late), "--db", ingested).exit_code == 0
    stale = cli("report", "--out", out, "--db", ingested, "--no-detect", "--fail-on", "high")
    assert stale.exit_code == ExitCode.STALE
    assert "1 record(s) arrived after detection last covered the data" in _html(out)
    fresh = cli("report", "--out", out, "--db", ingested, "--fail-on", "high")
    assert fresh.exit_code == ExitCode.FINDINGS
    assert "bringing findings up to date first (1 record(s) arrived" in fresh.stderr
    assert "(incremental," in fresh.stderr and BANNER not in _html(out)


@pytest.mark.slow
def test_changed_settings_make_findings_stale(cli: Any, ingested: Path, tmp_path: Path) -> None:
    assert cli("detect", "--db", ingested).exit_code == 0
    assert cli("settings", "set", "tenant.timezone", "Asia/Tokyo", "--db", ingested).exit_code == 0
    out = tmp_path / "r"
    result = cli("report", "--out", out, "--db", ingested, "--no-detect", "--fail-on", "low")
    assert result.exit_code == ExitCode.STALE
    assert "last ran with other parameters or settings" in _html(out)


# --------------------------------------------------------------------------- orphan key calls


def test_orphan_key_calls_at_the_end_of_a_closed_period_are_judged_once_their_grace_passed(
    warehouse: Any, tmp_path: Path
) -> None:
    # The last record of the period is an orphan: no newer record will ever come.
    records = licence("2026-11-03 10:00:00", "kim@x", "c1", ("KMSPDecrypt",))
    records.append(Rec("2026-11-03 23:59:00", "KMSPDecrypt", corr="lonely", row="k-last"))
    ingest_paths(warehouse, [write_log(tmp_path / "a.log", records)])
    now = datetime.now(UTC).replace(tzinfo=None)  # detect's clock: naive UTC
    fresh = run_detections(warehouse, ["orphan-key-calls"])
    assert fresh.findings == 0 and fresh.awaiting_origin == 1
    later = run_detections(warehouse, ["orphan-key-calls"], now=now + timedelta(minutes=16))
    assert later.findings == 1 and later.awaiting_origin == 0
    assert later.mode_by_rule == {"orphan-key-calls": "incremental"}
    evidence = warehouse.sql("SELECT evidence_row_ids FROM findings").fetchall()
    assert evidence == [(["k-last"],)]


def test_detect_json_and_the_report_count_key_calls_awaiting_origin(
    cli: Any, tmp_path: Path
) -> None:
    db = tmp_path / "w.duckdb"
    records = licence("2026-11-03 10:00:00", "kim@x", "c1", ("KMSPDecrypt",))
    records.append(Rec("2026-11-03 10:05:00", "KMSPDecrypt", corr="lonely"))
    assert cli("ingest", write_log(tmp_path / "a.log", records), "--db", db).exit_code == 0
    result = cli("detect", "--db", db, "--json")
    summary = json.loads(result.stdout)
    assert summary["awaiting_origin"] == 1 and summary["findings_by_rule"]["orphan-key-calls"] == 0
    assert "1 tenant-key call(s) awaiting origin" in result.stderr
    out = tmp_path / "r"
    assert cli("report", "--out", out, "--db", db).exit_code == 0
    html = _html(out)
    assert "1 orphan call is awaiting origin" in html
    assert "1 tenant-key call(s) of this period are awaiting origin" in html


# --------------------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipeline.run import run_demo

    folder = tmp_path_factory.mktemp("demo")
    run_demo(folder)
    return folder


@pytest.mark.slow
def test_the_demo_reports_working_hours_on_the_tenants_clock_and_labels_it(demo: Path) -> None:
    html = (demo / "report" / "report-demo.html").read_text(encoding="utf-8")
    truth = json.loads((demo / "logs" / "ground-truth.json").read_text(encoding="utf-8"))
    zone = truth["options"]["timezone"]
    assert zone != "UTC"
    with open_warehouse(demo / "rmslog.duckdb", read_only=True) as con:
        outside, total = con.sql(
            """
            SELECT count(*) FILTER (NOT (isodow(l) BETWEEN 1 AND 5 AND hour(l) BETWEEN 8 AND 17)),
                   count(*)
            FROM (SELECT timezone($z, timezone('UTC', ts)) AS l FROM key_usage)
            """,
            params={"z": zone},
        ).fetchall()[0]
    share = f"{100 * outside / total:.1f}%"
    assert (
        f"({share}) fell outside working hours (Mon, Tue, Wed, Thu, Fri 08:00–18:00, {zone})"
        in html
    )
    assert 5 < 100 * outside / total < 35  # a working tenant, not half its calls "at night"
    assert f"hour, tenant clock ({zone})".replace("/", "\\u002f") in html  # plotly JSON
    assert f"When in the week (tenant clock, {zone})" in html
    assert "hour (UTC)" not in html and "(local time)" not in html


@pytest.mark.slow
def test_detect_on_a_copy_of_the_demo_warehouse_without_its_settings_file_changes_nothing(
    cli: Any, demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "copy.duckdb"
    shutil.copy(demo / "rmslog.duckdb", copy)
    monkeypatch.chdir(tmp_path)  # no rmslog.toml here
    monkeypatch.delenv("RMSLOG_CONFIG", raising=False)
    result = cli("detect", "--db", copy, "--full", "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert sum(summary["new_by_rule"].values()) == 0
    assert sum(summary["removed_by_rule"].values()) == 0
