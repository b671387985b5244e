"""The simulator's Key Vault AuditEvent logs (`generate --keyvault-logs`), read back as JSON."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from pipeline.errors import ExitCode, UsageError
from pipeline.generate import (
    ALL_SCENARIOS,
    SCENARIOS,
    VAULT_SCENARIOS,
    GenerateOptions,
    follow_logs,
    generate_logs,
    parse_scenarios,
    read_truth,
)
from pipeline.schema import Topology

RMS_APPID = "00000012-0000-0000-c000-000000000000"
OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
TOP_FIELDS = [
    "time",
    "resourceId",
    "operationName",
    "operationVersion",
    "category",
    "resultType",
    "resultSignature",
    "resultDescription",
    "durationMs",
    "callerIpAddress",
    "correlationId",
    "identity",
    "properties",
]
PROPERTIES = {
    "id",
    "clientInfo",
    "requestUri",
    "httpStatusCode",
    "isAccessPolicyMatch",
    "tlsVersion",
}
SIGNATURE = {200: ("Success", "OK"), 403: ("Failure", "Forbidden")}
RMS_OPERATION = {
    "KeyVaultDecryptRequest": "KeyDecrypt",
    "KeyVaultSignDigest": "KeySign",
    "KeyVaultGetKeyInfoRequest": "KeyGet",
}
BLOB = re.compile(
    r"insights-logs-auditevent/resourceId=(/SUBSCRIPTIONS/[^/]+/RESOURCEGROUPS/[^/]+/PROVIDERS/"
    r"MICROSOFT\.KEYVAULT/VAULTS/[^/]+)/y=(\d{4})/m=(\d\d)/d=(\d\d)/h=(\d\d)/m=00/PT1H\.json$"
)
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
KV = {
    "start": date(2026, 11, 2),
    "days": 7,
    "users": 30,
    "seed": 11,
    "topology": Topology.BYOK_KEYVAULT,
    "keyvault_logs": True,
}


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A week of a byok-keyvault tenant with every scenario, Key Vault logs included."""
    out = tmp_path_factory.mktemp("kv")
    generate_logs(out, GenerateOptions(**KV, scenarios=ALL_SCENARIOS))
    return out


def _blobs(folder: Path) -> list[Path]:
    return sorted((folder / "insights-logs-auditevent").rglob("PT1H.json"))


def _hour_of(blob: Path, folder: Path) -> datetime:
    m = BLOB.search(blob.relative_to(folder).as_posix())
    assert m, blob
    y, mo, d, h = (int(x) for x in m.groups()[1:])
    return datetime(y, mo, d, h)


def _time(text: str) -> datetime:
    """A record's time, naive UTC (microseconds; the 7th digit dropped)."""
    return datetime.strptime(text[:26], "%Y-%m-%dT%H:%M:%S.%f")


def _records(folder: Path) -> pl.DataFrame:
    """Every record: blob hour, time, operation, status, appid, upn, ip, key id."""
    rows = []
    for blob in _blobs(folder):
        hour = _hour_of(blob, folder)
        for line in blob.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            claim = r["identity"]["claim"]
            rows.append(
                {
                    "blob_hour": hour,
                    "time": _time(r["time"]),
                    "op": r["operationName"],
                    "status": r["properties"]["httpStatusCode"],
                    "appid": claim["appid"],
                    "upn": claim.get(UPN),
                    "ip": r["callerIpAddress"],
                    "id": r["properties"]["id"],
                }
            )
    return pl.DataFrame(rows, infer_schema_length=None)


def _rms(folder: Path) -> pl.DataFrame:
    """The RMS daily files' rows: ts, request_type, result (unquoted), c-ip."""
    rows = []
    for path in sorted(folder.glob("rmslog-*.log")):
        fields: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("#Fields: "):
                fields = line.removeprefix("#Fields: ").split(" ")
            if line.startswith("#"):
                continue
            v = dict(zip(fields, line.split("\t"), strict=True))
            rows.append(
                {
                    "ts": datetime.fromisoformat(f"{v['date']}T{v['time']}"),
                    "request_type": v["request-type"],
                    "result": v["result"].strip("'"),
                    "ip": v["c-ip"],
                }
            )
    return pl.DataFrame(rows, infer_schema_length=None)


def _truth(folder: Path) -> dict[str, Any]:
    return read_truth(folder / "ground-truth.json")


def _incident(folder: Path, scenario: str) -> dict[str, Any]:
    found = [i for i in _truth(folder)["incidents"] if i["scenario"] == scenario]
    assert len(found) == 1, scenario
    incident: dict[str, Any] = found[0]
    return incident


# --- shape ---------------------------------------------------------------------


def test_every_record_has_the_documented_fields_in_the_documented_form(tenant: Path) -> None:
    blobs = _blobs(tenant)
    assert len(blobs) > 100  # a week of hours with key calls
    vault = _truth(tenant)["world"]["keyvault"]
    n = 0
    for blob in blobs:
        resource = BLOB.search(blob.relative_to(tenant).as_posix()).group(1)
        text = blob.read_text(encoding="utf-8")
        assert text.endswith("\n") and "\n\n" not in text
        for line in text.splitlines():
            r = json.loads(line)
            n += 1
            assert list(r) == TOP_FIELDS
            assert TIME.match(r["time"]), r["time"]
            assert r["resourceId"] == resource == resource.upper() == vault["resource_id"]
            assert r["category"] == "AuditEvent" and r["operationVersion"] == "7.4"
            assert r["correlationId"] == "" and r["resultDescription"] == ""
            assert isinstance(r["durationMs"], str) and r["durationMs"].isdigit()
            props = r["properties"]
            assert PROPERTIES <= set(props) <= PROPERTIES | {"algorithm"}
            status = props["httpStatusCode"]
            assert (r["resultType"], r["resultSignature"]) == SIGNATURE[status]
            assert props["isAccessPolicyMatch"] is (status == 200)
            assert props["tlsVersion"] == "TLS1_2"
            assert props["requestUri"].startswith(("https://kv-", "https://management.azure.com/"))
            claim = r["identity"]["claim"]
            assert set(claim) <= {"appid", OID, UPN} and {"appid", OID} <= set(claim)
            if r["operationName"] in ("KeyDecrypt", "KeySign"):
                assert props["id"].startswith(vault["key_id"].rsplit("/", 1)[0] + "/")
                assert (
                    props["algorithm"]
                    == {"KeyDecrypt": "RSA-OAEP", "KeySign": "RS256"}[r["operationName"]]
                )
                assert re.fullmatch(r"https://.+/keys/aip-tenant-key/[0-9a-f]{32}", props["id"])
            else:
                assert "algorithm" not in props
    assert n > 1000


def test_the_older_records_form_holds_the_same_records(tmp_path: Path) -> None:
    one = KV | {"days": 1}
    generate_logs(tmp_path / "lines", GenerateOptions(**one))
    generate_logs(tmp_path / "records", GenerateOptions(**one, keyvault_format="records"))
    lines, records = _blobs(tmp_path / "lines"), _blobs(tmp_path / "records")
    assert [p.relative_to(tmp_path / "lines") for p in lines] == [
        p.relative_to(tmp_path / "records") for p in records
    ]
    for a, b in zip(lines, records, strict=True):
        doc = json.loads(b.read_text(encoding="utf-8"))
        assert list(doc) == ["records"]
        assert doc["records"] == [json.loads(x) for x in a.read_text(encoding="utf-8").splitlines()]


# --- agreement with the RMS log -------------------------------------------------


def _outside_lost_hour(frame: pl.DataFrame, column: str, lost: datetime) -> pl.DataFrame:
    """Rows away from the lost blob: records received in it may date from the hour before."""
    lo, hi = lost - timedelta(hours=1), lost + timedelta(hours=2)
    return frame.filter((pl.col(column) < lo) | (pl.col(column) >= hi))


def test_every_rms_key_call_is_one_vault_record_by_rms_at_its_time(tenant: Path) -> None:
    lost = datetime.fromisoformat(_incident(tenant, "key-log-mismatch")["keyvault"]["lost_hour"])
    rms = _outside_lost_hour(_rms(tenant), "ts", lost)
    kv = _outside_lost_hour(_records(tenant), "time", lost)
    by_rms = kv.filter(pl.col("appid") == RMS_APPID)
    assert by_rms.height > 1000
    for rtype, op in RMS_OPERATION.items():
        for ok in (True, False):
            calls = rms.filter(
                (pl.col("request_type") == rtype) & ((pl.col("result") == "Success") == ok)
            )
            records = by_rms.filter((pl.col("op") == op) & ((pl.col("status") == 200) == ok))
            assert calls.height == records.height, (rtype, ok)
            if not calls.height:
                continue
            # Sorted, each record sits within the RMS second plus Key Vault's jitter (0.3 s).
            base = np.sort(calls["ts"].dt.epoch("us").to_numpy())
            kv_us = np.sort(records["time"].dt.epoch("us").to_numpy())
            assert np.all(kv_us - base >= -300_000) and np.all(kv_us - base < 1_300_000)
    # RMS's calls come from the addresses RMS logs for its key calls (Microsoft's).
    key_ips = set(rms.filter(pl.col("request_type").is_in(list(RMS_OPERATION)))["ip"])
    assert set(by_rms["ip"]) <= key_ips
    assert all(ip.startswith("40.") for ip in key_ips)


def test_ordinary_traffic_besides_rms_is_only_the_monitoring_reads(tmp_path: Path) -> None:
    generate_logs(tmp_path, GenerateOptions(**KV | {"days": 2}))
    kv = _records(tmp_path)
    vault = _truth(tmp_path)["world"]["keyvault"]
    monitor = next(i for i in vault["identities"] if i["role"] == "monitoring")
    others = kv.filter(pl.col("appid") != RMS_APPID)
    assert set(others["appid"]) == {monitor["appid"]}
    assert set(others["op"]) == {"KeyGet", "KeyList"}
    assert others.height == 2 * 5  # four KeyGet and one KeyList a day
    assert set(kv["status"]) == {200}
    assert _truth(tmp_path)["incidents"] == []


def test_a_record_lands_in_the_blob_of_the_hour_it_was_received(tenant: Path) -> None:
    kv = _records(tenant)
    lag = kv["blob_hour"] - kv["time"]  # > 0: the record dates from before its blob's hour
    assert (lag <= timedelta(minutes=10)).all()
    assert (kv["time"] < kv["blob_hour"] + timedelta(hours=1)).all()
    late = kv.filter(pl.col("time") < pl.col("blob_hour"))
    assert late.height > 10  # records from the end of an hour in the next hour's blob
    assert late["time"].dt.minute().min() >= 50
    # Within a blob the records are in order of receipt, not of time: some go backwards.
    for blob in _blobs(tenant)[:40]:
        times = [json.loads(x)["time"] for x in blob.read_text(encoding="utf-8").splitlines()]
        if times != sorted(times):
            break
    else:
        pytest.fail("every blob is in time order; records should be in order of receipt")


# --- determinism and cost of the switch ------------------------------------------


def _all_bytes(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_same_seed_and_options_give_byte_identical_vault_logs(tmp_path: Path) -> None:
    options = GenerateOptions(**KV | {"days": 2}, scenarios=ALL_SCENARIOS)
    generate_logs(tmp_path / "a", options)
    generate_logs(tmp_path / "b", options)
    a = _all_bytes(tmp_path / "a")
    assert a == _all_bytes(tmp_path / "b")
    assert sum(name.endswith("PT1H.json") for name in a) > 20


def test_the_switch_adds_the_vault_logs_and_leaves_the_rms_logs_alone(tmp_path: Path) -> None:
    on = GenerateOptions(**KV | {"days": 2}, scenarios=SCENARIOS)
    off = GenerateOptions(**(KV | {"days": 2, "keyvault_logs": False}), scenarios=SCENARIOS)
    generate_logs(tmp_path / "on", on)
    generate_logs(tmp_path / "off", off)
    with_vault, without = _all_bytes(tmp_path / "on"), _all_bytes(tmp_path / "off")
    rms = [n for n in without if n.endswith(".log")]
    assert rms and all(with_vault[n] == without[n] for n in rms)
    assert not (tmp_path / "off" / "insights-logs-auditevent").exists()
    truth_on, truth_off = _truth(tmp_path / "on"), _truth(tmp_path / "off")
    assert truth_on["incidents"] == truth_off["incidents"]
    assert "keyvault_logs" not in truth_off["options"] and truth_on["options"]["keyvault_logs"]


# --- incidents ----------------------------------------------------------------


def _window(incident: dict[str, Any]) -> pl.Expr:
    lo = datetime.fromisoformat(incident["first_ts"])
    hi = datetime.fromisoformat(incident["last_ts"]) + timedelta(seconds=1)
    return (pl.col("time") >= lo) & (pl.col("time") < hi)


def test_every_vault_scenario_is_in_the_ground_truth_once_a_week(tenant: Path) -> None:
    truth = _truth(tenant)
    assert truth["options"]["scenarios"] == list(ALL_SCENARIOS)
    assert truth["skipped"] == []
    names = [i["scenario"] for i in truth["incidents"]]
    assert sorted(names) == sorted(ALL_SCENARIOS)
    for name in VAULT_SCENARIOS:
        assert _incident(tenant, name)["keyvault"] is not None


def test_foreign_key_use_is_another_identity_decrypting_from_outside_microsoft(
    tenant: Path,
) -> None:
    incident = _incident(tenant, "foreign-key-use")
    who = incident["keyvault"]["identity"]
    assert who["appid"] != RMS_APPID and who["oid"] == incident["entity"]
    people = {p["user_id"] for p in _truth(tenant)["world"]["people"]}
    assert who["upn"] in people  # an employee's account
    kv = _records(tenant)
    theirs = kv.filter(pl.col("appid") == who["appid"])
    assert theirs.height == incident["keyvault"]["records"] >= 4
    assert theirs.filter(~_window(incident)).is_empty()
    assert set(theirs["upn"]) == {who["upn"]} and set(theirs["ip"]) == {incident["keyvault"]["ip"]}
    assert "KeyDecrypt" in set(theirs["op"]) and set(theirs["status"]) == {200}
    assert not incident["keyvault"]["ip"].startswith(("40.", "20."))  # not Microsoft's
    assert incident["row_ids"] == []  # nothing of it is in the RMS log


def test_key_management_is_an_admin_backing_up_the_tenant_key(tenant: Path) -> None:
    incident = _incident(tenant, "key-management")
    who = incident["keyvault"]["identity"]
    admins = {
        p["user_id"] for p in _truth(tenant)["world"]["people"] if "admin" in p.get("roles", [])
    }
    assert who["upn"] in admins and incident["entity"] == "aip-tenant-key"
    # (the same admin may also change the access policy: VaultPatch, key-access-failures)
    kv = _records(tenant).filter(
        (pl.col("upn") == who["upn"]) & pl.col("op").str.starts_with("Key")
    )
    assert kv.height == incident["keyvault"]["records"]
    assert kv["op"][0] == "KeyBackup" and set(kv["op"]) <= {"KeyBackup", "KeyCreate"}
    key_id = _truth(tenant)["world"]["keyvault"]["key_id"]
    new = kv.filter(pl.col("op") == "KeyCreate")["id"].to_list()
    assert all(i.rsplit("/", 1)[0] == key_id.rsplit("/", 1)[0] and i != key_id for i in new)
    assert kv.filter(~_window(incident)).is_empty()


def test_key_log_mismatch_loses_one_blob_while_rms_keeps_logging(tenant: Path) -> None:
    incident = _incident(tenant, "key-log-mismatch")
    lost = datetime.fromisoformat(incident["keyvault"]["lost_hour"])
    assert incident["entity"] == "tenant-key"
    assert (incident["first_ts"], incident["last_ts"]) == (
        lost.isoformat(),
        (lost + timedelta(seconds=3599)).isoformat(),
    )
    hours = {_hour_of(b, tenant) for b in _blobs(tenant)}
    assert lost not in hours
    assert lost - timedelta(hours=1) in hours and lost + timedelta(hours=1) in hours
    rms = _rms(tenant).filter(
        pl.col("request_type").is_in(list(RMS_OPERATION))
        & (pl.col("ts") >= lost)
        & (pl.col("ts") < lost + timedelta(hours=1))
    )
    assert rms.height >= 20
    kv = _records(tenant).filter(pl.col("appid") == RMS_APPID)
    assert kv.filter(
        (pl.col("time") >= lost + timedelta(minutes=11)) & _window(incident)
    ).is_empty()


def test_key_access_failures_are_403s_to_rms_and_failed_calls_in_its_log(tenant: Path) -> None:
    incident = _incident(tenant, "key-access-failures")
    lo, hi = (datetime.fromisoformat(t) for t in incident["keyvault"]["failures"])
    rms_oid = next(
        i["oid"] for i in _truth(tenant)["world"]["keyvault"]["identities"] if i["role"] == "rms"
    )
    assert incident["entity"] == rms_oid and hi - lo >= timedelta(minutes=5)
    kv = _records(tenant)
    refused = kv.filter(pl.col("status") == 403)
    assert refused.height >= 8 and set(refused["appid"]) == {RMS_APPID}
    assert refused["time"].min() >= lo - timedelta(seconds=1)
    assert refused["time"].max() < hi + timedelta(seconds=1)
    patches = kv.filter(pl.col("op") == "VaultPatch")
    assert patches.height == 2 and set(patches["upn"]) == {incident["keyvault"]["identity"]["upn"]}
    rms = _rms(tenant)
    failed = rms.filter(pl.col("result") == "Forbidden")
    assert (
        failed.filter(pl.col("request_type") == "KeyVaultDecryptRequest").height
        == refused.filter(pl.col("op") == "KeyDecrypt").height
    )
    assert {"AcquireLicense", "KeyVaultDecryptRequest"} <= set(failed["request_type"])
    in_window = (pl.col("ts") >= lo) & (pl.col("ts") < hi)
    assert (
        rms.filter(in_window & pl.col("request_type").is_in(list(RMS_OPERATION)))[
            "result"
        ].to_list()
        == ["Forbidden"] * refused.height
    )
    assert len(incident["row_ids"]) >= 8  # the users' retries and their refused decrypts


# --- off by default, and misuse ------------------------------------------------


def test_vault_scenarios_are_skipped_with_a_reason_without_the_vault_logs(tmp_path: Path) -> None:
    options = GenerateOptions(
        **(KV | {"days": 2, "keyvault_logs": False}), scenarios=VAULT_SCENARIOS
    )
    result = generate_logs(tmp_path, options)
    assert set(result.skipped) == set(VAULT_SCENARIOS)
    assert all("--keyvault-logs" in reason for reason in result.skipped.values())
    assert result.incidents == [] and result.vault_files == []
    assert not (tmp_path / "insights-logs-auditevent").exists()
    assert parse_scenarios("all") == SCENARIOS
    assert parse_scenarios("all", keyvault=True) == ALL_SCENARIOS
    assert set(VAULT_SCENARIOS).isdisjoint(SCENARIOS)


def test_vault_logs_need_the_key_vault_topology(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--keyvault-logs needs --topology byok-keyvault"):
        GenerateOptions(**KV | {"topology": Topology.BYOK_LEGACY})
    with pytest.raises(UsageError, match="--keyvault-format: unknown value 'xml'"):
        GenerateOptions(**KV, keyvault_format="xml")


def test_a_vault_format_without_the_vault_logs_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    result = cli("generate", tmp_path, "--keyvault-format", "records")
    assert result.exit_code == ExitCode.USAGE
    assert "--keyvault-format needs --keyvault-logs" in result.stderr


def test_the_key_checks_of_a_move_to_key_vault_are_rms_key_gets(tmp_path: Path) -> None:
    generate_logs(tmp_path, GenerateOptions(**KV | {"days": 2}, byok_from=date(2026, 11, 3)))
    checks = _rms(tmp_path).filter(pl.col("request_type") == "KeyVaultGetKeyInfoRequest")
    gets = _records(tmp_path).filter((pl.col("appid") == RMS_APPID) & (pl.col("op") == "KeyGet"))
    assert checks.height == gets.height == 3
    base = np.sort(checks["ts"].dt.epoch("us").to_numpy())
    assert np.all(np.abs(np.sort(gets["time"].dt.epoch("us").to_numpy()) - base) < 1_300_000)
    # Before the move RMS makes no key call, in either log; the monitoring reads go on.
    before = _records(tmp_path).filter(pl.col("time") < datetime(2026, 11, 3))
    assert before.height and RMS_APPID not in set(before["appid"])


def test_vault_logs_with_follow_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="batch generation only"):
        follow_logs(tmp_path, GenerateOptions(**KV | {"layout": "blobs"}))
    result = cli("generate", tmp_path, "--follow", "--topology", "byok-keyvault", "--keyvault-logs")
    assert result.exit_code == ExitCode.USAGE
    assert "--keyvault-logs is for batch generation only" in result.stderr
    assert not any(tmp_path.iterdir())


def test_generate_cli_writes_the_vault_logs_and_says_so(cli: Any, tmp_path: Path) -> None:
    result = cli(
        "generate",
        tmp_path,
        "--days",
        "1",
        "--users",
        "10",
        "--topology",
        "byok-keyvault",
        "--keyvault-logs",
        "--scenarios",
        "all",
    )
    assert result.exit_code == 0, result.stderr
    assert "Key Vault records in" in result.stderr and "PT1H.json" in result.stderr
    assert _blobs(tmp_path)
    truth = _truth(tmp_path)
    assert truth["options"]["scenarios"] == list(ALL_SCENARIOS)
