"""Incremental detect: only the days data arrived in are re-judged, with a full run's result.

The contract: after any sequence of ingests, each followed by `detect`, the findings
(ids, windows, summaries, evidence) are exactly those of one `detect --full` over the
same data. Rule headers state how far each rule reads around a day; they are checked.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from w3c_builder import Rec, licence, write_log

from pipeline.detect import list_rules, run_detections
from pipeline.detect.rules import Rule
from pipeline.errors import QueryError
from pipeline.generate import SCENARIOS, GenerateOptions, generate_logs
from pipeline.ingest import ingest_paths
from pipeline.schema import Topology
from pipeline.settings import Settings
from pipeline.sqlfiles import read_sql_file
from pipeline.warehouse import open_warehouse

#: Rules that judge another log than RMS's (`-- needs:`), in full whenever data arrives.
KV_RULES = {r.id for r in list_rules() if "needs" in r.file.meta}
FINDING_COLUMNS = (
    "finding_id, rule, severity, first_ts, last_ts, entity, summary, evidence_row_ids, window_start"
)


def _history(user: str) -> list[Rec]:
    """Three ordinary days before 2026-11-02: enough history (`min_history_days`) for the
    rules to judge `user` on the past instead of a learning period."""
    return [Rec(f"2026-10-{d} 12:00:00", "Certify", user=user) for d in (29, 30, 31)]


def _findings(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return con.sql(f"SELECT {FINDING_COLUMNS} FROM findings ORDER BY finding_id").fetchall()  # noqa: S608


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings]:
    """Twelve days of a BYOK Key Vault tenant with every scenario, one file per day."""
    out = tmp_path_factory.mktemp("incremental") / "logs"
    run = generate_logs(
        out,
        GenerateOptions(
            start=date(2026, 11, 2),
            days=12,
            users=40,
            seed=5,
            topology=Topology.BYOK_KEYVAULT,
            scenarios=SCENARIOS,
        ),
    )
    return out, Settings(timezone=run.timezone)


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]]:
    with (
        open_warehouse(tmp_path / "full.duckdb") as a,
        open_warehouse(tmp_path / "inc.duckdb") as b,
    ):
        yield a, b


@pytest.mark.slow
def test_detect_after_each_daily_ingest_in_shuffled_order_equals_one_full_run(
    tenant: tuple[Path, Settings],
    two: tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection],
) -> None:
    logs, settings = tenant
    files = sorted(logs.glob("*.log"))
    full, inc = two
    random.Random(3).shuffle(files)
    modes: list[str] = []
    for f in files:
        ingest_paths(inc, [f])
        summary = run_detections(inc, settings=settings)
        # (the Key Vault rules, `-- needs: keyvault_events`, judge whole on each arrival)
        modes += [m for r, m in summary.mode_by_rule.items() if r not in KV_RULES]
    ingest_paths(full, [logs])
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=2)  # all grace passed
    expected = run_detections(full, settings=settings, full=True)
    assert _findings(inc) == _findings(full)
    # A pinned later clock judges the calls that were awaiting their origin, in both.
    run_detections(full, settings=settings, full=True, now=later)
    last = run_detections(inc, settings=settings, now=later)
    assert _findings(inc) == _findings(full)
    assert last.mode_by_rule["denied-burst"] == "unchanged"
    # The comparison means something: several rules fired, most runs were incremental.
    assert len({r for r, n in expected.findings_by_rule.items() if n}) >= 5
    assert modes.count("incremental") > len(modes) // 2


@pytest.mark.slow
def test_late_records_re_judge_their_days_and_a_finding_that_no_longer_fires_goes(
    tenant: tuple[Path, Settings],
    two: tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection],
    tmp_path: Path,
) -> None:
    logs, settings = tenant
    full, inc = two
    for f in sorted(logs.glob("*.log")):
        ingest_paths(inc, [f])
        run_detections(inc, settings=settings)
    # Days after everything was judged: a burst of denials on the third day, and the
    # origins of the orphan key calls (explaining them removes their finding).
    burst = [
        Rec(f"2026-11-04 13:{i:02d}:00", "AcquireLicense", user="late@x", result="AccessDenied")
        for i in range(30)
    ]
    orphans = inc.sql(
        "SELECT k.correlation_id, k.ts FROM key_usage k, findings f "
        "WHERE f.rule = 'orphan-key-calls' AND list_contains(f.evidence_row_ids, k.row_id)"
    ).fetchall()
    assert orphans, "the generated tenant has an orphan-key-calls finding"
    origins = [
        Rec(f"{ts:%Y-%m-%d %H:%M:%S}", "AcquireLicense", user="kim@x", corr=corr)
        for corr, ts in orphans
    ]
    late = write_log(tmp_path / "late.log", burst + origins)
    before = {r[1] for r in _findings(inc) if r[1] == "orphan-key-calls"}
    ingest_paths(inc, [late])
    summary = run_detections(inc, settings=settings)
    assert summary.mode_by_rule["denied-burst"] == "incremental"
    assert summary.removed_by_rule["orphan-key-calls"] >= 1 and before
    assert summary.new_by_rule["denied-burst"] >= 1
    ingest_paths(full, [logs, late])
    run_detections(full, settings=settings, full=True)
    assert _findings(inc) == _findings(full)


def test_nothing_arrived_means_nothing_re_judged_and_full_re_judges_every_day(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = [
        Rec(f"2026-11-03 10:{i:02d}:00", "AcquireLicense", user="ana@x", result="AccessDenied")
        for i in range(12)
    ]
    records += _history("ana@x")
    ingest_paths(warehouse, [write_log(tmp_path / "a.log", records)])
    first = run_detections(warehouse)
    assert set(first.mode_by_rule.values()) == {"full"}  # never ran: every rule judges all
    again = run_detections(warehouse)
    # Only orphan-key-calls looks again: calls that arrived within its grace window settle.
    assert again.mode_by_rule.pop("orphan-key-calls") == "incremental"
    # source-changed reads integrity_events, not records: every run judges it (cheap).
    assert again.mode_by_rule.pop("source-changed") == "full"
    assert set(again.mode_by_rule.values()) == {"unchanged"}
    assert again.findings == first.findings == 1
    forced = run_detections(warehouse, full=True)
    assert set(forced.mode_by_rule.values()) == {"full"} and forced.findings == 1


def test_changed_parameters_re_judge_every_day_of_that_rule(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = [
        Rec(f"2026-11-03 10:{i:02d}:00", "AcquireLicense", user="ana@x", result="AccessDenied")
        for i in range(12)
    ]
    records += _history("ana@x")
    ingest_paths(warehouse, [write_log(tmp_path / "a.log", records)])
    run_detections(warehouse)
    raised = run_detections(warehouse, params={"denied-burst.min_failures": "20"})
    assert raised.mode_by_rule["denied-burst"] == "full"
    assert raised.mode_by_rule["admin-browsing"] == "unchanged"
    assert raised.removed_by_rule["denied-burst"] == 1 and raised.findings == 0


def test_every_detect_run_is_recorded_with_its_rules_parameters_settings_and_data(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    orphan = Rec("2026-11-03 10:00:00", "KeyVaultDecryptRequest", corr="lonely", row="k1")
    tail = Rec("2026-11-03 10:29:00", "KeyVaultDecryptRequest", corr="recent", row="k2")
    later = licence("2026-11-03 10:30:00", "kim@x", "c9", ("KeyVaultSignDigest",))
    ingest_paths(warehouse, [write_log(tmp_path / "a.log", [orphan, tail, *later])])
    summary = run_detections(warehouse, settings=Settings(timezone="Europe/Berlin"))
    row = warehouse.sql(
        "SELECT run_id, mode, rules, params, settings, covered_ingest_run, covered_rows, "
        "newest_ts, findings, awaiting_origin FROM detect_runs"
    ).fetchall()
    assert len(row) == 1
    run_id, mode, rules, params, settings, covered, rows, newest, findings, awaiting = row[0]
    assert run_id == summary.run_id and mode == "full"  # the first run judges every day
    assert rules == [r.id for r in list_rules()]
    assert '"grace_minutes": 15' in params and '"tenant.timezone": "Europe/Berlin"' in settings
    assert covered is not None and rows == 4 and newest == datetime(2026, 11, 3, 10, 30)
    # k1 is judged (a record 30 minutes newer is stored); k2 just arrived, 1 minute before it.
    assert findings == 1 and awaiting == 1


# --------------------------------------------------------------------------- headers


def _rule_with(tmp_path: Path, change: tuple[str, str]) -> Path:
    source = next(r.file.path for r in list_rules() if r.id == "denied-burst")
    target = tmp_path / "denied-burst.sql"
    shutil.copy(source, target)
    text = target.read_text(encoding="utf-8")
    assert change[0] in text
    target.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    return target


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("-- severity: medium", "-- severity: critical"), "unknown severity 'critical'"),
        (("-- lookback_days: baseline_days\n", ""), "header lacks '-- lookback_days: ...'"),
        (("-- lookahead_days: baseline_days\n", ""), "header lacks '-- lookahead_days: ...'"),
        (("-- lookback_days: baseline_days", "-- lookback_days: a fortnight"), "lookback_days"),
        (
            ("-- lookahead_days: baseline_days", "-- lookahead_days: baseline_quantile"),
            "INTEGER parameter",
        ),
        (("-- id: denied-burst", "-- id: burst"), "must be the file name's stem"),
        (("-- severity: medium", "-- severity: Medium"), "unknown severity 'Medium'"),
        (
            ("-- severity: medium", "-- severity: medium\n-- lookback_day: 3"),
            "unknown header '-- lookback_day:'",
        ),
        (
            ("-- severity: medium", "-- severity: medium\n-- judge: daily"),
            "'-- judge: daily' must be one of every-run",
        ),
        (("\nFROM judged", "\nFROM judged;\nSELECT 1"), "exactly one SELECT statement"),
    ],
)
def test_a_rule_header_that_is_incomplete_or_wrong_is_refused_with_a_clear_message(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Rule(read_sql_file(_rule_with(tmp_path, change)))


def test_a_refused_rule_header_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(QueryError) as caught:
        Rule(read_sql_file(_rule_with(tmp_path, ("-- severity: medium", "-- severity: worst"))))
    assert str(caught.value).startswith("detection rule denied-burst.sql: unknown severity")


def test_every_shipped_rule_states_its_reach() -> None:
    for rule in list_rules():
        assert {"lookback_days", "lookahead_days"} <= set(rule.file.meta), rule.id


def test_a_rule_whose_sql_changed_since_its_last_run_re_judges_every_day(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    from pipeline.detect.status import detection_status

    records = [Rec("2026-11-03 10:00:00", "Certify", user="ana@x")]
    ingest_paths(warehouse, [write_log(tmp_path / "a.log", records)])
    run_detections(warehouse)
    # As after an upgrade that changed denied-burst.sql: the recorded fingerprint differs.
    warehouse.execute(
        "UPDATE detect_runs SET rule_modes = "
        'json_merge_patch(rule_modes, \'{"denied-burst": {"sql": "older"}}\')'
    ).fetchall()
    status = detection_status(warehouse, Settings(), datetime(2026, 12, 1))
    assert "rule(s) denied-burst changed since they last ran" in status.stale
    again = run_detections(warehouse)
    assert again.mode_by_rule["denied-burst"] == "full"
    assert again.mode_by_rule["admin-browsing"] == "unchanged"


def test_a_rule_that_declares_judge_bounds_judges_only_the_days_around_what_arrived(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.detect.rules as rules

    days = [date(2026, 10, 1) + timedelta(days=n) for n in range(40)]
    early = [Rec(f"{d} 12:00:00", "Certify", user="ana@x") for d in days[:-1]]
    ingest_paths(warehouse, [write_log(tmp_path / "a.log", early)])
    run_detections(warehouse)
    ingest_paths(
        warehouse,
        [write_log(tmp_path / "b.log", [Rec(f"{days[-1]} 12:00:00", "Certify", user="ana@x")])],
    )
    seen: dict[str, list[tuple[object, object]]] = {}
    evaluate = rules._evaluate

    def spy(con, rule, values, runtime, read, into, judge=rules.JUDGE_ALL):  # type: ignore[no-untyped-def]
        seen.setdefault(rule.id, []).append((read, judge))
        evaluate(con, rule, values, runtime, read, into, judge)

    monkeypatch.setattr(rules, "_evaluate", spy)
    summary = run_detections(warehouse)
    assert summary.mode_by_rule["new-network"] == "incremental"
    [(read, judge)] = seen["new-network"]
    assert read is not None
    # Read: the 14 baseline days before the first day judged (the last day - 14) ...
    assert read[0] == datetime(2026, 10, 12)
    # ... judged: from a day before that first day judged, not from the first day read.
    assert judge[0] == datetime(2026, 10, 25)
    assert judge[1] <= read[1]
    # A rule that does not declare them judges every record it reads.
    [(_, judge)] = seen["denied-burst"]
    assert judge == rules.JUDGE_ALL
