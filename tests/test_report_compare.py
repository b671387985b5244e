"""The previous-period comparison: the summary's figures for the period of equal length just
before, the change, and unusual changes against a baseline of earlier periods."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from w3c_builder import Rec, write_log


@pytest.fixture
def steady_then_spike(cli: Any, tmp_path: Path) -> Path:
    """2 tenant-key decrypts a day from 2026-11-01 to 11-09, and 20 on 11-10."""
    records = []
    for day in range(1, 11):
        for i in range(20 if day == 10 else 2):
            records.append(
                Rec(f"2026-11-{day:02d} 10:{i:02d}:00", "KMSPDecrypt", user="kim@x")
            )  # fmt: skip
    db = tmp_path / "w.duckdb"
    assert cli("ingest", write_log(tmp_path / "a.log", records), "--db", db).exit_code == 0
    return db


def _comparison(cli: Any, db: Path, out: Path, day: str) -> dict[str, dict[str, Any]]:
    args = ("report", "--db", db, "--out", out, "--from", day, "--format", "json")
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    doc = json.loads((out / f"report-{day}.json").read_text(encoding="utf-8"))
    return {r["metric"]: r for r in doc["tables"]["comparison"]}


def test_a_day_report_compares_with_the_day_before_and_marks_an_unusual_spike(
    cli: Any, steady_then_spike: Path, tmp_path: Path
) -> None:
    spike = _comparison(cli, steady_then_spike, tmp_path, "2026-11-10")
    calls = spike["key_calls"]
    assert (calls["current"], calls["previous"], calls["change"]) == (20, 2, 18)
    assert calls["change_pct"] == 9.0
    assert calls["previous_start"] == "2026-11-09T00:00:00+00:00"
    assert (calls["baseline_periods"], calls["baseline_mean"], calls["unusual"]) == (8, 2.0, True)
    assert spike["users"]["unusual"] is False  # one user, as every day
    steady = _comparison(cli, steady_then_spike, tmp_path, "2026-11-09")
    assert steady["key_calls"]["change"] == 0 and steady["key_calls"]["unusual"] is False
    html = (tmp_path / "report-2026-11-10.html").read_text(encoding="utf-8")
    assert 'id="comparison-table"' in html and "unusual" in html


def test_too_short_a_history_marks_nothing_unusual_and_no_previous_logs_has_no_percentage(
    cli: Any, steady_then_spike: Path, tmp_path: Path
) -> None:
    first = _comparison(cli, steady_then_spike, tmp_path, "2026-11-01")
    assert first["key_calls"]["previous"] == 0
    assert first["key_calls"]["change_pct"] is None
    assert first["key_calls"]["baseline_periods"] == 0
    assert first["key_calls"]["unusual"] is False
    third = _comparison(cli, steady_then_spike, tmp_path, "2026-11-03")
    assert third["key_calls"]["baseline_periods"] == 2 and third["key_calls"]["unusual"] is False


def test_a_report_over_all_data_has_no_previous_period(
    cli: Any, steady_then_spike: Path, tmp_path: Path
) -> None:
    result = cli("report", "--db", steady_then_spike, "--out", tmp_path, "--format", "json")
    assert result.exit_code == 0
    doc = json.loads((tmp_path / "report-all.json").read_text(encoding="utf-8"))
    assert doc["tables"]["comparison"] == []
