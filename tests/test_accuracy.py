"""The accuracy evaluator: matching findings to the generator's ground truth."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from w3c_builder import Rec, write_log

from bench.accuracy import (
    format_scores,
    parse_ground_truth,
    read_ground_truth,
    score_findings,
)
from pipeline.detect import run_detections
from pipeline.errors import UsageError
from pipeline.ingest import ingest_paths
from pipeline.settings import Settings

TRUTH = Path(__file__).parent / "data" / "ground-truth" / "ground-truth.json"
ANA, KIM = "ana@contoso.example", "kim@contoso.example"
DOC = "{7a1e4c2b-3f5d-4b6a-9c8e-1d0f2e3a4b5c}"
RULES = ["denied-burst", "revoked-document-opened", "orphan-key-calls"]


def _findings(*rows: tuple[str, str, str, str]) -> pl.DataFrame:
    """(rule, entity, first, last) -> a findings frame."""
    return pl.DataFrame(
        {
            "finding_id": [f"f{i}" for i in range(len(rows))],
            "rule": [r[0] for r in rows],
            "entity": [r[1] for r in rows],
            "first_ts": [datetime.fromisoformat(r[2]) for r in rows],
            "last_ts": [datetime.fromisoformat(r[3]) for r in rows],
        },
        schema_overrides={"first_ts": pl.Datetime("us"), "last_ts": pl.Datetime("us")},
    )


def test_ground_truth_gives_incidents_and_the_tenants_time_zone() -> None:
    truth = read_ground_truth(TRUTH)
    assert truth.timezone == "Europe/Berlin"
    assert truth.incidents.height == 3
    assert truth.incidents["first_ts"][0] == datetime(2026, 11, 3, 10)


def test_findings_match_incidents_by_rule_entity_and_overlapping_window() -> None:
    truth = read_ground_truth(TRUTH)
    findings = _findings(
        ("denied-burst", ANA, "2026-11-03 10:01:00", "2026-11-03 10:05:00"),  # match
        ("denied-burst", ANA, "2026-11-03 10:04:00", "2026-11-03 10:08:00"),  # same incident
        ("denied-burst", KIM, "2026-11-03 10:01:00", "2026-11-03 10:05:00"),  # wrong window
        ("orphan-key-calls", ANA, "2026-11-03 10:01:00", "2026-11-03 10:05:00"),  # no incident
        ("revoked-document-opened", ANA, "2026-11-03 10:00:00", "2026-11-03 12:00:00"),  # entity
    )
    scores = {s.rule: s for s in score_findings(findings, truth, RULES)}
    burst = scores["denied-burst"]
    assert (burst.incidents, burst.incidents_found, burst.findings, burst.findings_matched) == (
        2,
        1,
        3,
        2,
    )
    assert burst.precision == pytest.approx(2 / 3) and burst.recall == 0.5
    assert scores["orphan-key-calls"].precision == 0.0
    assert scores["orphan-key-calls"].recall is None
    assert scores["revoked-document-opened"].recall == 0.0
    assert scores["revoked-document-opened"].precision == 0.0


def test_the_slack_widens_both_windows_before_they_must_overlap() -> None:
    truth = read_ground_truth(TRUTH)
    ten_min_late = _findings(("denied-burst", KIM, "2026-11-04 14:15:00", "2026-11-04 14:20:00"))
    assert score_findings(ten_min_late, truth, ["denied-burst"])[0].findings_matched == 1
    strict = score_findings(ten_min_late, truth, ["denied-burst"], slack=timedelta(0))
    assert strict[0].findings_matched == 0
    far = _findings(("denied-burst", KIM, "2026-11-04 14:36:00", "2026-11-04 14:40:00"))
    assert score_findings(far, truth, ["denied-burst"])[0].findings_matched == 0


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"format": "something/2", "incidents": []}, "not 'rmslog-ground-truth/1'"),
        ({"format": "rmslog-ground-truth/1"}, "'incidents' must be a list"),
        (
            {"format": "rmslog-ground-truth/1", "incidents": [{"scenario": "denied-burst"}]},
            "incident #0 lacks one of scenario, entity, first_ts, last_ts",
        ),
        (
            {
                "format": "rmslog-ground-truth/1",
                "incidents": [
                    {"scenario": "x", "entity": "y", "first_ts": "yesterday", "last_ts": "now"}
                ],
            },
            "malformed incidents",
        ),
    ],
)
def test_a_malformed_ground_truth_is_refused_naming_the_problem(
    doc: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        parse_ground_truth(doc, "gt.json")


def test_rules_run_on_hand_made_incidents_score_full_precision_and_recall(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    burst_ana = [
        Rec(f"2026-11-03 10:0{i // 2}:{30 * (i % 2):02d}", "Certify", user=ANA, result="Denied")
        for i in range(12)
    ]
    burst_kim = [
        Rec(f"2026-11-04 14:0{i // 3}:{20 * (i % 3):02d}", "Certify", user=KIM, result="Denied")
        for i in range(12)
    ]
    revoked = [
        Rec("2026-11-03 10:00:00", "RevokeAccess", user="lee@contoso.example", content=DOC),
        Rec("2026-11-03 12:00:00", "AcquireLicense", user=ANA, content=DOC),
    ]
    noise = [Rec(f"2026-11-0{d} 11:00:00", "Certify", user=KIM) for d in (3, 4, 5)]
    # Three earlier days of both people: history, so neither is in a learning period.
    noise += [
        Rec(f"2026-10-{d} 11:00:00", "Certify", user=u) for u in (ANA, KIM) for d in (29, 30, 31)
    ]
    log = write_log(tmp_path / "a.log", burst_ana + burst_kim + revoked + noise)
    ingest_paths(warehouse, [log])
    truth = read_ground_truth(TRUTH)
    run_detections(warehouse, settings=Settings(timezone=truth.timezone))
    findings = warehouse.sql("SELECT * FROM findings").pl()
    scores = score_findings(findings, truth, RULES)
    assert [(s.rule, s.precision, s.recall) for s in scores] == [
        ("denied-burst", 1.0, 1.0),
        ("revoked-document-opened", 1.0, 1.0),
        ("orphan-key-calls", None, None),
    ]
    table = format_scores(scores)
    assert "denied-burst" in table and "n/a" in table
