"""Scoped reports: `report --user/--document/--ip/--app` restrict every section to the
records in scope, with the values bound, never formatted into SQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline.errors import ExitCode


@pytest.fixture(scope="module")
def detected_db(small_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small generated tenant (3 days, 8 users), ingested and detected, all scenarios."""
    from datetime import date

    from pipeline.detect import run_detections
    from pipeline.generate import GenerateOptions, generate_logs, parse_scenarios
    from pipeline.ingest import ingest_paths
    from pipeline.warehouse import open_warehouse

    root = tmp_path_factory.mktemp("scoped")
    logs = root / "logs"
    generate_logs(
        logs,
        GenerateOptions(
            start=date(2026, 11, 2), days=4, users=8, seed=11, scenarios=parse_scenarios("all")
        ),
    )
    db = root / "w.duckdb"
    with open_warehouse(db) as con:
        ingest_paths(con, [logs])
        run_detections(con)
    return db


def _report(cli: Any, db: Path, out: Path, *scope: str) -> dict[str, Any]:
    result = cli("report", "--db", db, "--out", out, "--format", "html,json", *scope)
    assert result.exit_code == 0, result.stderr
    (doc,) = out.glob("report-*.json")
    return dict(json.loads(doc.read_text(encoding="utf-8")))


def _sql(db: Path, sql: str, params: dict[str, object]) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def _busiest_user(db: Path) -> str:
    return str(
        _sql(
            db,
            "SELECT user_id FROM key_usage WHERE user_id IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
            {},
        )[0][0]
    )


def _user_with_findings(db: Path) -> str:
    """A user whose records are evidence of a finding, and who is not alone in them."""
    return str(
        _sql(
            db,
            "SELECT r.user_id FROM (SELECT unnest(evidence_row_ids) AS row_id FROM findings) e "
            "JOIN requests r USING (row_id) WHERE r.user_id IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
            {},
        )[0][0]
    )


def test_a_user_scoped_report_contains_nothing_outside_its_scope(
    cli: Any, detected_db: Path, tmp_path: Path
) -> None:
    user = _user_with_findings(detected_db)
    doc = _report(cli, detected_db, tmp_path, "--user", user)
    t = doc["tables"]
    assert doc["scope"]["users"] == [user]
    ((calls,),) = _sql(
        detected_db, "SELECT count(*) FROM key_usage WHERE user_id = $u", {"u": user}
    )
    assert calls > 0
    assert t["summary"][0]["key_calls"] == calls
    assert sum(r["key_calls"] for r in t["key-calls-by-operation"]) == calls
    assert sum(r["key_calls"] for r in t["key-calls-over-time"]) == calls
    assert sum(r["key_calls"] for r in t["key-calls-by-weekday-hour"]) == calls
    assert {r["user_id"] for r in t["top-users"]} == {user}
    assert t["summary"][0]["users"] == 1
    ips = {
        r[0]
        for r in _sql(detected_db, "SELECT c_ip FROM key_usage WHERE user_id = $u", {"u": user})
    }
    assert {r["c_ip"] for r in t["top-ips"]} <= ips
    # Every evidence record shown belongs to the user; each finding listed has some.
    assert {r["user_id"] for r in t["finding-evidence"]} <= {user}
    assert {r["finding_id"] for r in t["finding-evidence"]} == {
        r["finding_id"] for r in t["findings"]
    }
    assert t["findings"] and all(r["example_raw_line"] is None for r in t["rejected-lines"])
    html = (tmp_path / "report-all.html").read_text(encoding="utf-8")
    assert "Scoped report:" in html
    # The whole-tenant report has more: the scope did restrict.
    whole = _report(cli, detected_db, tmp_path / "whole")
    assert whole["tables"]["summary"][0]["key_calls"] > calls
    assert len(whole["tables"]["top-users"]) > 1


def test_scopes_of_one_kind_add_up_and_kinds_combine(
    cli: Any, detected_db: Path, tmp_path: Path
) -> None:
    users = [
        r[0]
        for r in _sql(
            detected_db,
            "SELECT user_id FROM key_usage WHERE user_id IS NOT NULL GROUP BY 1 ORDER BY 1 LIMIT 2",
            {},
        )
    ]
    both = _report(cli, detected_db, tmp_path / "a", "--user", users[0], "--user", users[1])
    ((expected,),) = _sql(
        detected_db, "SELECT count(*) FROM key_usage WHERE list_contains($u, user_id)", {"u": users}
    )
    assert both["tables"]["summary"][0]["key_calls"] == expected
    app, ip = _sql(
        detected_db,
        "SELECT c_info_field(c_info, 'AppName'), c_ip FROM key_usage "
        "WHERE user_id = $u AND c_info IS NOT NULL AND c_ip IS NOT NULL LIMIT 1",
        {"u": users[0]},
    )[0]
    narrow = _report(cli, detected_db, tmp_path / "b", "--user", users[0], "--app", app, "--ip", ip)
    ((expected,),) = _sql(
        detected_db,
        "SELECT count(*) FROM key_usage WHERE user_id = $u AND c_ip = $ip "
        "AND c_info_field(c_info, 'AppName') = $app",
        {"u": users[0], "ip": ip, "app": app},
    )
    assert narrow["tables"]["summary"][0]["key_calls"] == expected > 0
    assert [r["app_name"] for r in narrow["tables"]["top-apps"]] == [app]


def test_a_document_scope_matches_its_content_id_or_its_file_name(
    cli: Any, detected_db: Path, tmp_path: Path
) -> None:
    content_id, file_name = _sql(
        detected_db,
        "SELECT content_id, any_value(file_name) FROM key_usage "
        "WHERE content_id IS NOT NULL AND file_name IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC "
        "LIMIT 1",
        {},
    )[0]
    by_id = _report(cli, detected_db, tmp_path / "a", "--document", content_id)
    assert {r["content_id"] for r in by_id["tables"]["top-documents"]} == {content_id}
    by_name = _report(cli, detected_db, tmp_path / "b", "--document", file_name)
    assert file_name in {r["file_name"] for r in by_name["tables"]["top-documents"]}


def test_hostile_scope_values_are_bound_not_spliced(
    cli: Any, detected_db: Path, tmp_path: Path
) -> None:
    hostile = "x' OR '1'='1"
    doc = _report(
        cli, detected_db, tmp_path, "--user", hostile, "--app", "'; DROP TABLE requests; --"
    )
    assert doc["tables"]["summary"][0]["key_calls"] == 0
    assert doc["tables"]["findings"] == []
    html = (tmp_path / "report-all.html").read_text(encoding="utf-8")
    assert "user x&#39; OR &#39;1&#39;=&#39;1" in html
    assert _sql(detected_db, "SELECT count(*) > 0 FROM requests", {}) == [(True,)]


def test_a_scoped_report_does_not_change_what_the_connection_reads_afterwards(
    detected_db: Path, tmp_path: Path
) -> None:
    from pipeline.report import ReportOptions, build_report
    from pipeline.report.scope import Scope
    from pipeline.warehouse import open_warehouse

    user = _busiest_user(detected_db)
    with open_warehouse(detected_db, read_only=True) as con:
        before = con.execute("SELECT count(*) FROM key_usage").fetchall()
        scoped = build_report(con, tmp_path / "s", ReportOptions(scope=Scope(users=(user,))))
        after = con.execute("SELECT count(*) FROM key_usage").fetchall()
        whole = build_report(con, tmp_path / "w", ReportOptions())
    assert before == after
    assert scoped.key_calls < whole.key_calls


def test_fail_on_in_a_scoped_report_counts_the_scopes_findings_only(
    cli: Any, detected_db: Path, tmp_path: Path
) -> None:
    nobody = cli(
        "report", "--db", detected_db, "--out", tmp_path, "--user", "nobody@x", "--fail-on", "low"
    )
    assert nobody.exit_code == 0
    everyone = cli("report", "--db", detected_db, "--out", tmp_path, "--fail-on", "low")
    assert everyone.exit_code == ExitCode.FINDINGS
