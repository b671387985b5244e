"""The report's Key Vault reconciliation section: counts, identities, management, hours
that disagree; hostile strings escaped in HTML and neutralised in CSV."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
from kv_builder import jsonl, record
from w3c_builder import Rec, write_log

from pipeline.detect import run_detections
from pipeline.ingest import ingest_paths
from pipeline.report import PeriodKind, ReportOptions, build_report, period_of
from pipeline.warehouse import open_warehouse

T0 = datetime(2026, 11, 3, 9, 0, 0)
ROGUE = "11111111-2222-3333-4444-555555555555"
HOSTILE_UPN = "<script>alert(1)</script>@evil.example"
FORMULA_IP = '=HYPERLINK("http://evil.example")'


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _world(tmp_path: Path, with_kv: bool = True) -> Path:
    times = [T0 + timedelta(minutes=2 * i) for i in range(90)]  # 09:00 .. 11:58
    rms = [
        Rec(_stamp(t), "KeyVaultDecryptRequest", corr=f"c{i}", c_info=None)
        for i, t in enumerate(times)
    ]
    rms.append(Rec(_stamp(T0 + timedelta(hours=5)), "Certify", user="kim@contoso.example"))
    kv = [record(t + timedelta(seconds=1)) for t in times if t.hour != 10]  # 10:00 lost
    kv += [
        record(
            T0 + timedelta(minutes=3), appid=ROGUE, oid="oid-rogue", upn=HOSTILE_UPN, ip=FORMULA_IP
        ),
        record(
            T0 + timedelta(minutes=30),
            "KeyBackup",
            appid=ROGUE,
            oid="oid-rogue",
            upn=HOSTILE_UPN,
            ip=FORMULA_IP,
        ),
        record(T0 + timedelta(hours=5), "VaultGet"),
    ]
    (tmp_path / "logs").mkdir()
    write_log(tmp_path / "logs" / "rmslog-2026-11-03.log", rms)
    if with_kv:
        (tmp_path / "logs" / "PT1H.json").write_text(jsonl(kv), encoding="utf-8")
    db = tmp_path / "w.duckdb"
    with open_warehouse(db) as con:
        ingest_paths(con, [tmp_path / "logs"])
    return db


def _report(db: Path, out: Path) -> str:
    options = ReportOptions(
        period=period_of(PeriodKind.DAY, date(2026, 11, 3)),
        formats=("html", "csv"),
        generated_at=datetime(2026, 11, 4, 6, 0),
    )
    with open_warehouse(db) as con:
        build_report(con, out, options)
    return next(out.glob("*.html")).read_text(encoding="utf-8")


def test_the_section_reconciles_counts_names_identities_and_the_hour_that_disagrees(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    html = _report(_world(tmp_path), out)
    assert "7. Key Vault reconciliation" in html
    by_day = pl.read_csv(out / "report-2026-11-03-keyvault-by-day.csv")
    assert by_day.select(
        "day", "rms_calls", "kv_calls", "kv_other_calls", "hours_disagreeing"
    ).rows() == [("2026-11-03", 90, 60, 1, 1)]
    hours = pl.read_csv(
        out / "report-2026-11-03-keyvault-mismatched-hours.csv", try_parse_dates=True
    )
    # CSV timestamps carry their zone (+00:00), so they parse as UTC.
    assert hours.select("window_start", "rms_calls", "kv_calls").rows() == [
        (datetime(2026, 11, 3, 10, 0, tzinfo=UTC), 30, 0)
    ]
    who = pl.read_csv(out / "report-2026-11-03-keyvault-identities.csv")
    assert who.select("is_rms", "object_id", "calls").rows() == [
        (False, "oid-rogue", 2),
        (True, "oid-rms", 60),
    ]
    mgmt = pl.read_csv(out / "report-2026-11-03-keyvault-management.csv")
    assert mgmt.select("operation", "key_name").rows() == [("KeyBackup", "tenantkey")]
    assert "NOT RMS" in html


def test_a_key_vault_findings_evidence_is_the_key_vault_record_itself(tmp_path: Path) -> None:
    db = _world(tmp_path)
    with open_warehouse(db) as con:
        run_detections(con, ["foreign-key-use"], full=True, now=datetime(2026, 11, 4, 6, 0))
    out = tmp_path / "out"
    _report(db, out)
    findings = pl.read_csv(out / "report-2026-11-03-findings.csv")
    assert findings.filter(pl.col("rule") == "foreign-key-use").height == 1
    evidence = pl.read_csv(out / "report-2026-11-03-finding-evidence.csv")
    rogue = evidence.filter(pl.col("c_info") == f"appid={ROGUE}")
    assert rogue.height >= 1
    assert rogue.select("request_type", "result").rows()[0] == ("KeyDecrypt", "OK")
    assert rogue["source_file"].str.ends_with("PT1H.json").all()


def test_hostile_upns_are_escaped_in_html_and_formulas_neutralised_in_csv(tmp_path: Path) -> None:
    out = tmp_path / "out"
    html = _report(_world(tmp_path), out)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@evil.example" in html
    with (out / "report-2026-11-03-keyvault-management.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["caller_ip"] == "'" + FORMULA_IP
    assert rows[0]["upn"] == HOSTILE_UPN


def test_without_key_vault_logs_the_section_says_not_applicable(tmp_path: Path) -> None:
    html = _report(_world(tmp_path, with_kv=False), tmp_path / "out")
    assert "No Key Vault logs in the warehouse." in html
    assert "not applicable" in html and "this is not an all-clear" in html


def test_the_identities_table_names_the_keys_and_shows_no_python_values(tmp_path: Path) -> None:
    html = _report(_world(tmp_path), tmp_path / "out")
    section = html[html.index('<section id="keyvault">') :]
    section = section[: section.index("</section>")]
    assert "tenantkey" in section
    assert "built-in method" not in section and ">None<" not in section
