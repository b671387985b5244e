"""The auditor's work on findings through the command line: `triage`, `findings`,
`suppress`, `suppressions`, `unsuppress`, and how they change `--fail-on`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from w3c_builder import Rec, write_log

from pipeline import triage
from pipeline.errors import ExitCode, UsageError
from pipeline.warehouse import ensure_schema, open_warehouse

HOSTILE = '=HYPERLINK("http://evil/")<script>alert(1)</script>\x1b[31m'


@pytest.fixture
def night_reads_db(cli: Any, tmp_path: Path) -> Path:
    """kim reads 24 documents at 01:00 UTC after three ordinary days: one off-hours-reading
    finding (medium) once detect has run."""
    records = [Rec(f"2026-11-0{d} 12:00:00", "Certify", user="kim@x") for d in (1, 2, 3)]
    records += [
        Rec(f"2026-11-04 01:{2 * i:02d}:00", "AcquireLicense", user="kim@x", content=f"{{d{i}}}")
        for i in range(24)
    ]
    db = tmp_path / "w.duckdb"
    assert cli("ingest", write_log(tmp_path / "a.log", records), "--db", db).exit_code == 0
    assert cli("detect", "--db", db).exit_code == 0
    return db


def _findings(cli: Any, db: Path, *args: str) -> list[dict[str, Any]]:
    result = cli("findings", "--db", db, "--json", *args)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _the_finding(cli: Any, db: Path) -> str:
    (finding,) = _findings(cli, db)
    assert finding["rule"] == "off-hours-reading"
    return str(finding["finding_id"])


def test_a_finding_is_open_until_triaged_and_every_change_is_kept_with_who_and_when(
    cli: Any, night_reads_db: Path
) -> None:
    fid = _the_finding(cli, night_reads_db)
    assert _findings(cli, night_reads_db)[0]["status"] == "open"
    first = cli(
        "triage", fid, "--db", night_reads_db, "--status", "investigating",
        "--owner", "alice", "--note", "asked kim", "--by", "auditor-1",
    )  # fmt: skip
    assert first.exit_code == 0, first.stderr
    second = cli("triage", fid, "--db", night_reads_db, "--note", "kim was travelling")
    assert second.exit_code == 0
    (row,) = _findings(cli, night_reads_db)
    # The status and owner carry over from the change before; the note is the newest.
    assert (row["status"], row["owner"], row["note"]) == (
        "investigating",
        "alice",
        "kim was travelling",
    )
    trail = json.loads(cli("triage", fid, "--db", night_reads_db, "--json").stdout)
    assert [(c["status"], c["note"], c["changed_by"]) for c in trail] == [
        ("investigating", "asked kim", "auditor-1"),
        ("investigating", "kim was travelling", triage.who()),
    ]


def test_triage_survives_detect_reruns_and_a_finding_that_stops_firing_keeps_its_history(
    cli: Any, night_reads_db: Path, tmp_path: Path
) -> None:
    fid = _the_finding(cli, night_reads_db)
    assert cli("triage", fid, "--db", night_reads_db, "--status", "resolved").exit_code == 0
    assert cli("detect", "--db", night_reads_db).exit_code == 0
    assert cli("detect", "--db", night_reads_db, "--full").exit_code == 0
    assert _findings(cli, night_reads_db)[0]["status"] == "resolved"
    # In Singapore 01:00 UTC is 09:00: the finding stops firing ...
    assert (
        cli(
            "settings", "set", "tenant.timezone", "Asia/Singapore", "--db", night_reads_db
        ).exit_code
        == 0
    )
    assert cli("detect", "--db", night_reads_db, "--full").exit_code == 0
    (gone,) = _findings(cli, night_reads_db)
    assert (gone["finding_id"], gone["firing"], gone["status"]) == (fid, False, "resolved")
    # ... can still be worked, and comes back with the same id and its history.
    assert cli("triage", fid, "--db", night_reads_db, "--note", "closed after move").exit_code == 0
    assert cli("settings", "unset", "tenant.timezone", "--db", night_reads_db).exit_code == 0
    assert cli("detect", "--db", night_reads_db, "--full").exit_code == 0
    (back,) = _findings(cli, night_reads_db)
    assert (back["finding_id"], back["firing"], back["status"], back["note"]) == (
        fid,
        True,
        "resolved",
        "closed after move",
    )


def test_triage_of_an_unknown_finding_exits_with_the_usage_code_and_says_so(
    cli: Any, night_reads_db: Path
) -> None:
    result = cli("triage", "no-such-id", "--db", night_reads_db, "--status", "benign")
    assert result.exit_code == ExitCode.USAGE
    assert "no finding 'no-such-id'" in result.stderr
    shown = cli("triage", "no-such-id", "--db", night_reads_db)
    assert shown.exit_code == ExitCode.USAGE
    assert "no finding 'no-such-id'" in shown.stderr


def test_an_unknown_status_is_refused_and_nothing_is_recorded(
    cli: Any, night_reads_db: Path
) -> None:
    fid = _the_finding(cli, night_reads_db)
    result = cli("triage", fid, "--db", night_reads_db, "--status", "fixed")
    assert result.exit_code == ExitCode.USAGE
    assert "--status must be one of open, investigating" in result.stderr
    assert json.loads(cli("triage", fid, "--db", night_reads_db, "--json").stdout) == []


def test_fail_on_counts_only_findings_not_closed_as_false_positive_or_benign(
    cli: Any, night_reads_db: Path, tmp_path: Path
) -> None:
    fid = _the_finding(cli, night_reads_db)
    detect = cli("detect", "--db", night_reads_db, "--fail-on", "medium")
    assert detect.exit_code == ExitCode.FINDINGS
    assert "1 finding(s) at or above --fail-on medium" in detect.stderr
    out = tmp_path / "r"
    report = ("report", "--db", night_reads_db, "--out", out, "--fail-on", "medium")
    assert cli(*report).exit_code == ExitCode.FINDINGS
    # resolved still counts: the finding was real.
    assert cli("triage", fid, "--db", night_reads_db, "--status", "resolved").exit_code == 0
    assert cli("detect", "--db", night_reads_db, "--fail-on", "medium").exit_code == 1
    assert cli("triage", fid, "--db", night_reads_db, "--status", "benign").exit_code == 0
    assert cli("detect", "--db", night_reads_db, "--fail-on", "medium").exit_code == 0
    assert cli(*report).exit_code == 0
    html = (out / "report-all.html").read_text(encoding="utf-8")
    assert "Status <strong>benign</strong>" in html


def test_findings_filters_by_status_rule_and_severity(cli: Any, night_reads_db: Path) -> None:
    fid = _the_finding(cli, night_reads_db)
    assert cli("triage", fid, "--db", night_reads_db, "--status", "investigating").exit_code == 0
    assert len(_findings(cli, night_reads_db, "--status", "investigating")) == 1
    assert _findings(cli, night_reads_db, "--status", "open") == []
    assert len(_findings(cli, night_reads_db, "--rule", "off-hours-reading")) == 1
    assert _findings(cli, night_reads_db, "--rule", "denied-burst") == []
    assert len(_findings(cli, night_reads_db, "--severity", "medium")) == 1
    assert _findings(cli, night_reads_db, "--severity", "high") == []
    text = cli("findings", "--db", night_reads_db)
    assert text.exit_code == 0
    assert fid in text.stdout and "investigating" in text.stdout
    assert "1 finding(s)" in text.stderr
    bad = cli("findings", "--db", night_reads_db, "--status", "closed")
    assert bad.exit_code == ExitCode.USAGE


def test_hostile_owner_and_note_are_escaped_in_html_neutralised_in_csv_and_on_the_terminal(
    cli: Any, night_reads_db: Path, tmp_path: Path
) -> None:
    fid = _the_finding(cli, night_reads_db)
    result = cli(
        "triage", fid, "--db", night_reads_db, "--owner", HOSTILE, "--note", HOSTILE,
        "--by", HOSTILE,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    text = cli("findings", "--db", night_reads_db)
    assert "\x1b" not in text.stdout and "\\x1b[31m" in text.stdout
    trail = cli("triage", fid, "--db", night_reads_db)
    assert "\x1b" not in trail.stdout
    out = tmp_path / "r"
    assert (
        cli("report", "--db", night_reads_db, "--out", out, "--format", "html,csv").exit_code == 0
    )
    html = (out / "report-all.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    csv = (out / "report-all-findings.csv").read_text(encoding="utf-8")
    assert ",=HYPERLINK" not in csv and "'=HYPERLINK" in csv


# Suppressions


def test_a_suppressed_finding_is_still_listed_in_the_appendix_and_does_not_fail(
    cli: Any, night_reads_db: Path, tmp_path: Path
) -> None:
    fid = _the_finding(cli, night_reads_db)
    until = (datetime.now() + timedelta(days=30)).date().isoformat()
    made = cli(
        "suppress", "--db", night_reads_db, "--rule", "off-hours-reading", "--entity", "kim@x",
        "--reason", "<b>night shift</b>", "--owner", "alice", "--until", until, "--json",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    sid = json.loads(made.stdout)["suppression_id"]
    (row,) = _findings(cli, night_reads_db)
    assert (row["finding_id"], row["suppressed"], row["suppressed_until"]) == (fid, True, until)
    assert cli("detect", "--db", night_reads_db, "--fail-on", "low").exit_code == 0
    out = tmp_path / "r"
    assert cli("report", "--db", night_reads_db, "--out", out, "--fail-on", "low").exit_code == 0
    html = (out / "report-all.html").read_text(encoding="utf-8")
    appendix = html[html.index('id="suppressed"') :]
    assert fid in appendix and "&lt;b&gt;night shift&lt;/b&gt;" in appendix and until in appendix
    assert f'id="finding-{fid}"' not in html  # no card: the appendix lists it
    listed = json.loads(cli("suppressions", "--db", night_reads_db, "--json").stdout)
    assert [(s["suppression_id"], s["state"]) for s in listed] == [(sid, "active")]
    # Lifted: the finding counts again, and the suppression stays on record.
    assert cli("unsuppress", str(sid), "--db", night_reads_db, "--by", "bob").exit_code == 0
    assert cli("detect", "--db", night_reads_db, "--fail-on", "low").exit_code == 1
    assert json.loads(cli("suppressions", "--db", night_reads_db, "--json").stdout) == []
    (kept,) = json.loads(cli("suppressions", "--db", night_reads_db, "--all", "--json").stdout)
    assert (kept["state"], kept["lifted_by"]) == ("lifted", "bob")
    again = cli("unsuppress", str(sid), "--db", night_reads_db)
    assert again.exit_code == ExitCode.USAGE and "already lifted" in again.stderr


def test_an_expired_suppression_stops_applying_by_itself_on_the_command_line(
    cli: Any, night_reads_db: Path
) -> None:
    db = night_reads_db
    today = datetime.now(UTC).date()
    # Made three weeks ago through yesterday (the command line refuses a day already past).
    with open_warehouse(db) as con:
        triage.add_suppression(
            con, rule="off-hours-reading", entity="kim@x", reason="trip", owner="al",
            until=today - timedelta(days=1), by="al",
            now=datetime.now(UTC).replace(tzinfo=None) - timedelta(days=21),
        )  # fmt: skip
    (row,) = _findings(cli, db)
    assert row["suppressed"] is False
    assert cli("detect", "--db", db, "--fail-on", "medium").exit_code == ExitCode.FINDINGS
    assert json.loads(cli("suppressions", "--db", db, "--json").stdout) == []
    (kept,) = json.loads(cli("suppressions", "--db", db, "--all", "--json").stdout)
    assert (kept["state"], kept["until"]) == ("expired", (today - timedelta(days=1)).isoformat())
    # One through today still applies today.
    made = cli(
        "suppress", "--db", db, "--rule", "off-hours-reading", "--entity", "kim@x",
        "--reason", "trip, extended", "--owner", "al", "--until", today.isoformat(),
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    (row,) = _findings(cli, db)
    assert (row["suppressed"], row["suppression_reason"]) == (True, "trip, extended")
    assert cli("detect", "--db", db, "--fail-on", "medium").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "no-such-rule"], "unknown rule 'no-such-rule'"),
        (["--until", "2020-01-01"], "--until 2020-01-01 is in the past"),
        (["--reason", " "], "--reason must not be empty"),
    ],
)
def test_a_bad_suppression_is_refused_with_the_usage_code(
    cli: Any, night_reads_db: Path, args: list[str], message: str
) -> None:
    base = {
        "--rule": "off-hours-reading",
        "--entity": "kim@x",
        "--reason": "why",
        "--owner": "alice",
        "--until": "2099-12-31",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = cli("suppress", "--db", night_reads_db, *[x for kv in base.items() for x in kv])
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr
    assert cli("unsuppress", "99", "--db", night_reads_db).exit_code == ExitCode.USAGE


def test_a_suppression_expires_by_itself_after_its_last_day() -> None:
    con = duckdb.connect(":memory:")
    ensure_schema(con)
    con.execute(
        "INSERT INTO findings (finding_id, rule, severity, first_ts, last_ts, entity) "
        "VALUES ('f1', 'denied-burst', 'high', '2026-11-01', '2026-11-01', 'bob')"
    )
    made_at = datetime(2026, 12, 1, 9, 0)
    triage.add_suppression(
        con, rule="denied-burst", entity="bob", reason="test", owner="al",
        until=date(2026, 12, 3), by="x", now=made_at,
    )  # fmt: skip
    last_minute = datetime(2026, 12, 3, 23, 59)
    next_day = datetime(2026, 12, 4, 0, 0)
    assert triage.failing_findings(con, "high", now=last_minute) == 0
    assert triage.failing_findings(con, "high", now=next_day) == 1
    assert [
        s.state(next_day) for s in triage.list_suppressions(con, now=next_day, everything=True)
    ] == ["expired"]
    assert next(iter(triage.list_findings(con, now=next_day)))["suppressed"] is False
    with pytest.raises(UsageError, match="in the past"):
        triage.add_suppression(
            con, rule="denied-burst", entity="bob", reason="t", owner="al",
            until=date(2026, 12, 3), by="x", now=next_day,
        )  # fmt: skip


# Hand-off: detect --json names the findings a run made new, changed or removed


def test_detect_json_lists_the_findings_the_run_added_changed_or_removed(
    cli: Any, tmp_path: Path
) -> None:
    records = [Rec(f"2026-11-0{d} 12:00:00", "Certify", user="kim@x") for d in (1, 2, 3)]
    night = [
        Rec(f"2026-11-04 01:{2 * i:02d}:00", "AcquireLicense", user="kim@x", content=f"{{d{i}}}")
        for i in range(24)
    ]
    db = tmp_path / "w.duckdb"
    assert (
        cli("ingest", write_log(tmp_path / "a.log", records + night[:20]), "--db", db).exit_code
        == 0
    )
    first = json.loads(cli("detect", "--db", db, "--json").stdout)
    assert [(c["change"], c["rule"], c["status"]) for c in first["changes"]] == [
        ("new", "off-hours-reading", "open")
    ]
    assert list(first["changes"][0]) == list(triage.CHANGE_COLUMNS)  # the one schema, in order
    assert first["changes"][0]["first_ts"] == "2026-11-04T01:00:00+00:00"  # UTC, zone given
    assert json.loads(cli("detect", "--db", db, "--json", "--full").stdout)["changes"] == []
    # Four more reads that night: the same finding (same id) grows.
    assert cli("ingest", write_log(tmp_path / "b.log", night[20:]), "--db", db).exit_code == 0
    grown = json.loads(cli("detect", "--db", db, "--json").stdout)["changes"]
    assert [(c["change"], c["finding_id"]) for c in grown] == [
        ("changed", first["changes"][0]["finding_id"])
    ]
    assert cli("settings", "set", "tenant.timezone", "Asia/Singapore", "--db", db).exit_code == 0
    gone = json.loads(cli("detect", "--db", db, "--json", "--full").stdout)["changes"]
    assert [(c["change"], c["finding_id"]) for c in gone] == [
        ("removed", first["changes"][0]["finding_id"])
    ]


# Hand-off: report --json names the findings new in its period or continued into it


@pytest.fixture
def midnight_reads_db(cli: Any, tmp_path: Path) -> Path:
    """kim reads 24 documents from 23:00 on 3 November to 00:22 on the 4th: one
    off-hours-reading finding that spans midnight (UTC)."""
    records = [Rec(f"2026-11-0{d} 12:00:00", "Certify", user="kim@x") for d in (1, 2, 3)]
    for day, hour, prefix in (("03", "23", "d"), ("04", "00", "e")):
        records += [
            Rec(f"2026-11-{day} {hour}:{2 * i:02d}:00", "AcquireLicense", user="kim@x",
                content=f"{{{prefix}{i}}}")
            for i in range(12)
        ]  # fmt: skip
    db = tmp_path / "w.duckdb"
    assert cli("ingest", write_log(tmp_path / "a.log", records), "--db", db).exit_code == 0
    return db


def _report_json(cli: Any, db: Path, out: Path, *args: str, code: int = 0) -> dict[str, Any]:
    result = cli("report", "--db", db, "--out", out, "--json", *args)
    assert result.exit_code == code, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)  # stdout holds the JSON and nothing else
    assert doc["files"] and all(f in result.stderr for f in doc["files"])  # paths: stderr
    return doc


def test_report_json_lists_the_periods_new_and_continued_findings_in_detect_jsons_schema(
    cli: Any, midnight_reads_db: Path, tmp_path: Path
) -> None:
    db, out = midnight_reads_db, tmp_path / "r"
    started = _report_json(cli, db, out, "--from", "2026-11-03")
    (new,) = started["changes"]
    assert list(new) == list(triage.CHANGE_COLUMNS)  # the one schema, in its order
    detect_change = json.loads(cli("detect", "--db", db, "--json", "--full").stdout)
    assert detect_change["changes"] == []  # report brought the findings up to date first
    assert (new["change"], new["rule"], new["status"], new["firing"]) == (
        "new",
        "off-hours-reading",
        "open",
        True,
    )
    assert (new["first_ts"], new["last_ts"]) == (
        "2026-11-03T23:00:00+00:00",
        "2026-11-04T00:22:00+00:00",
    )
    assert (started["period"], started["start"], started["end"]) == (
        "2026-11-03",
        "2026-11-03T00:00:00+00:00",
        "2026-11-04T00:00:00+00:00",
    )
    assert started["files"] == [str(out / "report-2026-11-03.html")]
    assert (out / "report-2026-11-03.html").is_file()
    # The next day: the same finding began in the previous period and continued into this one.
    fid = new["finding_id"]
    assert (
        cli("triage", fid, "--db", db, "--status", "investigating", "--note", "n1").exit_code == 0
    )
    assert cli("triage", fid, "--db", db, "--owner", "alice", "--note", "n2").exit_code == 0
    (continued,) = _report_json(cli, db, out, "--from", "2026-11-04")["changes"]
    assert (continued["change"], continued["finding_id"]) == ("changed", fid)
    assert (continued["status"], continued["owner"], continued["note"]) == (
        "investigating",
        "alice",
        "n2",
    )
    # It ended before the 5th: not that report's finding. A scope without kim: none either.
    assert _report_json(cli, db, out, "--from", "2026-11-05")["changes"] == []
    scoped = _report_json(cli, db, out, "--from", "2026-11-04", "--user", "al@x")
    assert (scoped["changes"], scoped["scope"]) == ([], "user al@x")
    # A report over all data has no previous period: every finding is new.
    (whole,) = _report_json(cli, db, out)["changes"]
    assert whole["change"] == "new"


def test_report_json_is_whole_on_stdout_whatever_the_exit_code(
    cli: Any, midnight_reads_db: Path, tmp_path: Path
) -> None:
    db, out = midnight_reads_db, tmp_path / "r"
    stale = _report_json(
        cli, db, out, "--from", "2026-11-04", "--no-detect", "--fail-on", "high",
        code=ExitCode.STALE,
    )  # fmt: skip
    assert (stale["findings_current"], stale["changes"]) == (False, [])  # detect never ran
    failing = _report_json(
        cli, db, out, "--from", "2026-11-04", "--fail-on", "medium", code=ExitCode.FINDINGS
    )
    assert (failing["failing_findings"], len(failing["changes"])) == (1, 1)
    empty = _report_json(
        cli, db, out, "--from", "2026-12-01", "--require-data", code=ExitCode.NO_DATA
    )
    assert (empty["log_records"], empty["changes"]) == (0, [])
    bad = cli("report", "--db", db, "--out", out, "--json", "--format", "pdf")
    assert bad.exit_code == ExitCode.USAGE and bad.stdout == ""
    assert "unknown --format pdf" in bad.stderr


def test_report_json_keeps_hostile_text_as_data_and_withholds_what_a_pseudonymised_report_does(
    cli: Any, midnight_reads_db: Path, tmp_path: Path
) -> None:
    db, out = midnight_reads_db, tmp_path / "r"
    (finding,) = _report_json(cli, db, out, "--from", "2026-11-04")["changes"]
    fid = finding["finding_id"]
    made = cli("triage", fid, "--db", db, "--owner", HOSTILE, "--note", HOSTILE + "\nline 2")
    assert made.exit_code == 0
    result = cli("report", "--db", db, "--out", out, "--json", "--from", "2026-11-04")
    assert "\x1b" not in result.stdout and "<script>" in result.stdout  # JSON, not HTML
    (row,) = json.loads(result.stdout)["changes"]
    assert (row["owner"], row["note"]) == (HOSTILE, HOSTILE + "\nline 2")  # exactly, as data
    key = tmp_path / "key"
    key.write_text("k" * 32)
    hidden = _report_json(
        cli, db, out, "--from", "2026-11-04", "--pseudonymize", "--pseudonym-key-file", key,
        "--user", "kim@x",
    )  # fmt: skip
    (row,) = hidden["changes"]
    assert row["entity"] != "kim@x" and "kim@x" not in json.dumps(hidden)
    assert row["note"].startswith("note withheld") and row["summary"].startswith("summary withheld")
    assert row["owner"] == HOSTILE  # the owner is the auditor's, never pseudonymised


def test_report_json_pipes_to_another_program_as_one_json_document(
    midnight_reads_db: Path, tmp_path: Path
) -> None:
    report = subprocess.run(
        [sys.executable, "-m", "pipeline", "report", "--db", str(midnight_reads_db),
         "--out", str(tmp_path / "r"), "--from", "2026-11-04", "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    reader = subprocess.run(
        [sys.executable, "-c", "import json,sys; d=json.load(sys.stdin); "
         "print(len(d['changes']), d['changes'][0]['change'])"],
        input=report.stdout, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert reader.stdout.split() == ["1", "changed"]
    assert "report-2026-11-04.html" in report.stderr
