"""Key Vault reconciliation: the view and the four rules, each positive and negative."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import duckdb
from kv_builder import RMS, jsonl, record
from w3c_builder import Rec, write_log

from pipeline.detect import run_detections
from pipeline.ingest import ingest_paths
from pipeline.ingest.keyvault import RMS_APPID
from pipeline.settings import Settings, store_settings

T0 = datetime(2026, 11, 3, 9, 0, 0)
ROGUE = "11111111-2222-3333-4444-555555555555"
_N = count()


def kv_file(tmp_path: Path, records: list[dict[str, object]]) -> Path:
    path = tmp_path / f"kv{next(_N)}" / "PT1H.json"
    path.parent.mkdir()
    path.write_text(jsonl(records), encoding="utf-8")
    return path


def rms_file(tmp_path: Path, recs: list[Rec]) -> Path:
    return write_log(tmp_path / f"rms{next(_N)}.log", recs)


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def decrypts(
    start: datetime, n: int, every: float = 2.0
) -> tuple[list[Rec], list[dict[str, object]]]:
    """n RMS decrypts and Key Vault's record of each, a second later."""
    times = [start + timedelta(minutes=i * every) for i in range(n)]
    rms = [Rec(stamp(t), "KeyVaultDecryptRequest", corr=f"c{next(_N)}", c_info=None) for t in times]
    kv = [record(t + timedelta(seconds=1)) for t in times]
    return rms, kv


def world(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    rms: list[Rec],
    kv: list[dict[str, object]],
) -> None:
    """Ingest both logs, with a last record of each well after the rest (so the windows
    before have settled)."""
    tail = max([datetime.fromisoformat(r.ts) for r in rms] + [T0]) + timedelta(hours=3)
    rms = [*rms, Rec(stamp(tail), "Certify", user="kim@contoso.example")]
    kv = [*kv, record(tail, "VaultGet")]
    ingest_paths(con, [rms_file(tmp_path, rms), kv_file(tmp_path, kv)])


def detect(con: duckdb.DuckDBPyConnection, rule: str, **kw: Any) -> list[tuple[Any, ...]]:
    run_detections(con, [rule], **kw)
    return con.execute(
        "SELECT entity, severity, summary, evidence_row_ids, first_ts FROM findings "
        "WHERE rule = $r ORDER BY first_ts",
        {"r": rule},
    ).fetchall()


# --------------------------------------------------------------------------- the view


def test_the_view_pairs_rms_key_calls_with_key_vault_operations_per_minute_and_hour(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rms, kv = decrypts(T0, 30)  # 09:00 .. 09:58, every 2 minutes
    kv.append(record(T0 + timedelta(minutes=5), appid=ROGUE, oid="oid-rogue"))
    kv.append(record(T0 + timedelta(minutes=7), status=403))
    rms.append(Rec(stamp(T0 + timedelta(minutes=10)), "KeyVaultSignDigest", corr="s1"))
    world(warehouse, tmp_path, rms, kv)
    hours = warehouse.execute(
        "SELECT window_start, operation, rms_request_type, rms_calls, kv_calls, "
        "kv_other_calls, kv_failures, settled FROM keyvault_reconciliation "
        "WHERE grain = 'hour' ORDER BY operation"
    ).fetchall()
    assert hours == [
        (T0, "KeyDecrypt", "KeyVaultDecryptRequest", 30, 31, 1, 1, True),
        (T0, "KeySign", "KeyVaultSignDigest", 1, 0, 0, 0, True),
    ]
    minute = warehouse.execute(
        "SELECT rms_calls, kv_calls, kv_other_calls FROM keyvault_reconciliation "
        "WHERE grain = 'minute' AND window_start = $t AND operation = 'KeyDecrypt'",
        {"t": T0 + timedelta(minutes=4)},
    ).fetchall()
    assert minute == [(1, 1, 0)]


def test_windows_too_recent_for_both_logs_to_have_arrived_are_not_settled(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rms, kv = decrypts(T0, 10)
    ingest_paths(warehouse, [rms_file(tmp_path, rms), kv_file(tmp_path, kv)])
    settled = warehouse.execute(
        "SELECT DISTINCT settled FROM keyvault_reconciliation WHERE grain = 'hour'"
    ).fetchall()
    assert settled == [(False,)]


def test_the_rms_identities_and_tenant_keys_come_from_the_settings(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rms, kv = decrypts(T0, 4)
    kv += [record(T0 + timedelta(minutes=1), appid=ROGUE), record(T0, key="otherkey")]
    world(warehouse, tmp_path, rms, kv)
    sql = (
        "SELECT kv_calls, kv_other_calls FROM keyvault_reconciliation "
        "WHERE grain = 'hour' AND operation = 'KeyDecrypt' AND window_start = $t"
    )
    assert warehouse.execute(sql, {"t": T0}).fetchall() == [(5, 1)]
    store_settings(warehouse, Settings(rms_appids=(RMS, ROGUE.upper()), tenant_keys=("TenantKey",)))
    assert warehouse.execute(sql, {"t": T0}).fetchall() == [(5, 0)]
    assert Settings().rms_appids == (RMS_APPID,)


# --------------------------------------------------------------------------- foreign-key-use


def test_another_identity_decrypting_with_the_key_is_one_finding_naming_it(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rms, kv = decrypts(T0, 5)
    rogue = [
        record(
            T0 + timedelta(minutes=m),
            appid=ROGUE,
            oid="oid-rogue",
            upn="eve@contoso.example",
            ip="203.0.113.9",
        )
        for m in (3, 20, 50)
    ]
    # another episode, the next day (episodes of one identity on one day are one finding)
    later = record(T0 + timedelta(days=1), appid=ROGUE, oid="oid-rogue", ip="203.0.113.9")
    world(warehouse, tmp_path, rms, kv + rogue + [later])
    found = detect(warehouse, "foreign-key-use")
    assert [(e, s) for e, s, *_ in found] == [("oid-rogue", "high"), ("oid-rogue", "high")]
    summary = found[0][2]
    for part in (ROGUE, "oid-rogue", "eve@contoso.example", "203.0.113.9", "KeyDecrypt"):
        assert part in summary
    assert found[0][2].startswith("3 use(s)")
    assert len(found[0][3]) == 3  # the Key Vault records as evidence
    ids = {r[0] for r in warehouse.execute("SELECT record_id FROM keyvault_events").fetchall()}
    assert set(found[0][3]) <= ids


def test_rms_using_the_key_and_others_failing_to_are_not_foreign_use(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rms, kv = decrypts(T0, 5)
    refused = record(T0, appid=ROGUE, oid="oid-rogue", status=403)
    world(warehouse, tmp_path, rms, [*kv, refused, record(T0, "KeyBackup", appid=ROGUE)])
    assert detect(warehouse, "foreign-key-use") == []


# --------------------------------------------------------------------------- key-log-mismatch


def test_an_hour_of_key_vault_log_lost_is_a_mismatch(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rms, kv = decrypts(T0, 90)  # 09:00 .. 11:58
    lost = [k for k in kv if not str(k["time"]).startswith("2026-11-03T10:")]
    world(warehouse, tmp_path, rms, lost)
    found = detect(warehouse, "key-log-mismatch")
    assert len(found) == 1
    entity, severity, summary, evidence, first = found[0]
    assert (entity, severity, first) == ("tenant-key", "medium", T0 + timedelta(hours=1))
    assert summary.startswith("1 hour(s) from 2026-11-03 10:00 UTC")
    assert "30 KeyVaultDecryptRequest vs 0 KeyDecrypt" in summary
    assert len(evidence) == 30  # the RMS calls of that hour


def test_calls_rms_did_not_log_are_a_mismatch_too(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rms, kv = decrypts(T0, 30)
    world(warehouse, tmp_path, rms[:5], kv)
    found = detect(warehouse, "key-log-mismatch")
    assert len(found) == 1 and "5 KeyVaultDecryptRequest vs 30 KeyDecrypt" in found[0][2]


def test_logs_that_agree_or_have_not_settled_are_no_mismatch(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rms, kv = decrypts(T0, 90)
    world(warehouse, tmp_path, rms, kv[:-3])  # a few calls short at the end of an hour: fine
    assert detect(warehouse, "key-log-mismatch") == []
    # RMS logged an hour Key Vault has not delivered yet: not judged (not settled)
    late, _ = decrypts(T0 + timedelta(hours=6), 30)
    ingest_paths(warehouse, [rms_file(tmp_path, late)])
    assert detect(warehouse, "key-log-mismatch") == []


# --------------------------------------------------------------------------- key-management


def test_a_key_backup_is_high_and_an_update_medium(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rms, kv = decrypts(T0, 3)
    admin = {
        "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        "oid": "oid-admin",
        "upn": "admin@contoso.example",
    }
    kv += [
        record(T0 + timedelta(minutes=30), "KeyBackup", **admin),  # type: ignore[arg-type]
        record(T0 + timedelta(days=1), "KeyUpdate", **admin),  # type: ignore[arg-type]
    ]
    world(warehouse, tmp_path, rms, kv)
    found = detect(warehouse, "key-management")
    assert [(e, s) for e, s, *_ in found] == [("tenantkey", "high"), ("tenantkey", "medium")]
    assert "KeyBackup on key tenantkey" in found[0][2] and "admin@contoso.example" in found[0][2]


def test_a_new_key_version_is_a_finding(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rms, kv = decrypts(T0, 3)
    kv.append(record(T0 + timedelta(hours=1), version="v2"))
    world(warehouse, tmp_path, rms, kv)
    found = detect(warehouse, "key-management")
    assert len(found) == 1
    assert found[0][1] == "medium" and "new version(s) v2" in found[0][2]


def test_using_the_key_is_no_management(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rms, kv = decrypts(T0, 5)
    world(warehouse, tmp_path, rms, [*kv, record(T0, "KeyGet"), record(T0, "KeySign")])
    assert detect(warehouse, "key-management") == []


# --------------------------------------------------------------------------- key-access-failures


def test_a_run_of_403s_is_a_finding(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    rms, kv = decrypts(T0, 3)
    kv += [record(T0 + timedelta(minutes=20 + i), status=403) for i in range(8)]
    world(warehouse, tmp_path, rms, kv)
    found = detect(warehouse, "key-access-failures")
    assert len(found) == 1
    assert found[0][0] == "oid-rms" and found[0][2].startswith("8 refused key call(s) (403;")


def test_a_few_scattered_refusals_are_not_a_burst(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rms, kv = decrypts(T0, 3)
    kv += [record(T0 + timedelta(minutes=30 * i), status=401) for i in range(8)]
    world(warehouse, tmp_path, rms, kv)
    assert detect(warehouse, "key-access-failures") == []


# --------------------------------------------------------------------------- no Key Vault logs


def test_without_key_vault_logs_the_rules_say_not_applicable_not_all_clear(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rms, _ = decrypts(T0, 30)
    ingest_paths(warehouse, [rms_file(tmp_path, rms)])
    rules = ["foreign-key-use", "key-log-mismatch", "key-management", "key-access-failures"]
    summary = run_detections(warehouse, rules)
    assert summary.findings == 0
    assert set(summary.not_applicable_by_rule) == set(rules)
    assert "no Key Vault logs" in summary.not_applicable_by_rule["foreign-key-use"]
    rms2, kv = decrypts(T0 + timedelta(days=1), 3)
    world(warehouse, tmp_path, rms2, kv)
    assert run_detections(warehouse, rules).not_applicable_by_rule == {}


def test_the_cli_says_which_rules_had_no_key_vault_logs(tmp_path: Path, cli: Any) -> None:
    rms, _ = decrypts(T0, 3)
    db = tmp_path / "w.duckdb"
    assert cli("ingest", rms_file(tmp_path, rms), "--db", db).exit_code == 0
    result = cli("detect", "--db", db, "--rule", "foreign-key-use")
    assert result.exit_code == 0
    said = " ".join(result.stderr.split())
    assert "foreign-key-use: 0 finding(s)" in said
    assert "not applicable: no Key Vault logs in the warehouse" in said


def test_incremental_detect_after_more_key_vault_logs_equals_a_full_run(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rules = ["foreign-key-use", "key-log-mismatch", "key-management", "key-access-failures"]
    rms, kv = decrypts(T0, 90)
    lost = [k for k in kv if not str(k["time"]).startswith("2026-11-03T10:")]
    world(warehouse, tmp_path, rms[:40], lost[:40])
    run_detections(warehouse, rules)
    extra = [record(T0 + timedelta(minutes=m), appid=ROGUE, oid="o2") for m in (1, 2)]
    extra += [record(T0 + timedelta(minutes=70 + i), status=403) for i in range(6)]
    extra.append(record(T0 + timedelta(minutes=90), "KeyDelete"))
    world(warehouse, tmp_path, rms[40:], lost[40:] + extra)
    run_detections(warehouse, rules)
    sql = "SELECT finding_id, rule, severity, summary, evidence_row_ids FROM findings ORDER BY 1"
    incremental = warehouse.execute(sql).fetchall()
    run_detections(warehouse, rules, full=True)
    assert warehouse.execute(sql).fetchall() == incremental
    assert {r[1] for r in incremental} == set(rules)


def test_with_nothing_stored_since_the_rules_are_unchanged_and_a_key_vault_ingest_re_judges(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rules = ["foreign-key-use", "key-log-mismatch", "key-management", "key-access-failures"]
    rms, kv = decrypts(T0, 5)
    world(warehouse, tmp_path, rms, kv)
    assert set(run_detections(warehouse, rules).mode_by_rule.values()) == {"full"}
    assert set(run_detections(warehouse, rules).mode_by_rule.values()) == {"unchanged"}
    rogue = record(T0 + timedelta(minutes=1), appid=ROGUE, oid="oid-rogue")
    ingest_paths(warehouse, [kv_file(tmp_path, [rogue])])  # Key Vault records only
    again = run_detections(warehouse, rules)
    assert set(again.mode_by_rule.values()) == {"full"}
    assert again.new_by_rule["foreign-key-use"] == 1
    store_settings(warehouse, Settings(arrival_minutes=45))  # a setting the view reads
    assert (
        run_detections(warehouse, rules, settings=Settings(arrival_minutes=45)).mode_by_rule[
            "key-log-mismatch"
        ]
        == "full"
    )


def test_an_administrator_reading_the_key_in_the_portal_is_no_foreign_use(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rms, kv = decrypts(T0, 3)
    portal = [
        record(T0, op, appid=ROGUE, upn="admin@contoso.example") for op in ("KeyGet", "KeyList")
    ]
    world(warehouse, tmp_path, rms, kv + portal)
    assert detect(warehouse, "foreign-key-use") == []
