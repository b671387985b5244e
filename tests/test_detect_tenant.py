"""Rules on a generated tenant: quiet on normal traffic (with and without the location
database the simulator writes beside the logs), each finds a hand-made incident hidden
in it (and nothing else), and together they find every incident the simulator injects in
each region and nothing else, scored through the accuracy evaluator against its
ground-truth.json."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest
from w3c_builder import Rec, licence, write_log

from bench.accuracy import parse_ground_truth, read_ground_truth, score_findings
from pipeline.detect import list_rules, run_detections
from pipeline.generate import SCENARIOS, GenerateOptions, generate_logs
from pipeline.ingest import ingest_paths
from pipeline.settings import Settings

#: The simulated tenant's working hours are in its region's zone (na: New York).
TENANT = Settings(timezone="America/New_York")


@pytest.fixture(scope="module")
def tenant_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten days (from a Monday) of a 40-user legacy-BYOK tenant."""
    out = tmp_path_factory.mktemp("tenant")
    result = generate_logs(out, GenerateOptions(start=date(2026, 11, 2), days=10, users=40, seed=5))
    assert result.timezone == TENANT.timezone
    return out


def _users(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(user_id, usual c_ip) of the generated people (not services), busiest first."""
    return [
        (str(u), str(ip))
        for u, ip in con.sql(
            "SELECT user_id, mode(c_ip) FROM requests WHERE user_id IS NOT NULL "
            "AND user_id NOT ILIKE 'microsoftrmsonline@%' AND user_id <> 'Aadrm_S-1-7-0' "
            "GROUP BY user_id ORDER BY count(*) DESC, user_id"
        ).fetchall()
    ]


def _address(con: duckdb.DuckDBPyConnection, user: str) -> str:
    """The address `user` used most on 2026-11-09 (office, home or phone)."""
    rows = con.execute(
        "SELECT mode(c_ip) FROM requests WHERE user_id = $u AND ts::DATE = DATE '2026-11-09'",
        {"u": user},
    ).fetchall()
    return str(rows[0][0])


def _attacker_ip(logs: Path) -> str:
    """An address in one of the simulated world's distant hosting networks (in geoip.mmdb)."""
    world = json.loads((logs / "ground-truth.json").read_text(encoding="utf-8"))["world"]
    network = next(n["network"] for n in world["networks"] if n["kind"] == "attacker")
    return network.replace("0.0/16", "77.9")


def _incidents(
    con: duckdb.DuckDBPyConnection, attacker_ip: str
) -> tuple[list[Rec], list[dict[str, object]]]:
    """One hand-made incident per rule, with ground truth in the generator's format.

    Times are UTC; the tenant is in New York (UTC-5 in November)."""
    users = _users(con)
    (reader, r_ip), (traveller, _), (denied, d_ip), (admin, a_ip), (leaker, l_ip) = users[:5]
    doc, owner = con.sql(
        "SELECT content_id, owner_email FROM requests WHERE content_id IS NOT NULL "
        "GROUP BY ALL ORDER BY count(*) DESC LIMIT 1"
    ).fetchall()[0]
    recs: list[Rec] = []
    truth: list[dict[str, object]] = []

    def incident(scenario: str, entity: str, records: list[Rec]) -> None:
        recs.extend(records)
        stamps = sorted(r.ts for r in records)
        truth.append(
            {
                "scenario": scenario,
                "entity": entity,
                "first_ts": stamps[0].replace(" ", "T"),
                "last_ts": stamps[-1].replace(" ", "T"),
                "row_ids": [],
            }
        )

    night = [
        *(
            r
            for i in range(60)
            for r in licence(
                f"2026-11-10 07:{i:02d}:00", reader, f"n{i}", ("KMSPDecrypt",), ip=r_ip
            )
        )
    ]
    incident("off-hours-reading", reader, night)
    incident(
        "impossible-travel",
        traveller,
        [
            Rec("2026-11-09 15:00:00", "Certify", user=traveller, ip=_address(con, traveller)),
            Rec("2026-11-09 15:09:00", "AcquireLicense", user=traveller, ip=attacker_ip),
        ],
    )
    incident(
        "denied-burst",
        denied,
        [
            Rec(
                f"2026-11-06 14:10:{3 * i:02d}",
                "AcquireLicense",
                user=denied,
                result="Denied",
                ip=d_ip,
            )
            for i in range(15)
        ],
    )
    incident(
        "orphan-key-calls",
        "tenant-key",
        [Rec(f"2026-11-07 03:0{i}:00", "KMSPDecrypt", corr=f"ghost-{i}") for i in range(3)],
    )
    victims = [u for u, _ in users[10:16]]
    incident(
        "admin-browsing",
        admin,
        [
            Rec(
                f"2026-11-09 16:{3 * i:02d}:00",
                "GetSingle",
                user=admin,
                admin=True,
                acting=v,
                ip=a_ip,
            )
            for i, v in enumerate(victims)
        ],
    )
    incident(
        "revoked-document-opened",
        str(doc),
        [
            Rec("2026-11-11 09:00:00", "RevokeAccess", user=str(owner), content=str(doc), ip=None),
            Rec("2026-11-11 09:40:00", "AcquireLicense", user=leaker, content=str(doc), ip=l_ip),
        ],
    )
    spike = [
        r
        for i in range(1500)
        for r in licence(
            f"2026-11-11 15:{i // 25:02d}:{i % 25:02d}",
            leaker,
            f"s{i}",
            ("KMSPDecrypt",),
            ip=l_ip,
        )
    ]
    incident("key-volume-spike", "tenant-key", spike)
    return recs, truth


@pytest.mark.parametrize("located", [True, False])
@pytest.mark.slow
def test_normal_traffic_of_a_generated_tenant_makes_no_finding(
    warehouse: duckdb.DuckDBPyConnection, tenant_logs: Path, located: bool
) -> None:
    ingest_paths(warehouse, [tenant_logs])
    mmdb = tenant_logs / "geoip.mmdb"
    settings = Settings(timezone=TENANT.timezone, geoip=str(mmdb) if located else None)
    summary = run_detections(warehouse, settings=settings)
    assert summary.findings == 0, warehouse.sql("SELECT rule, summary FROM findings").fetchall()
    assert summary.addresses > 100 and (summary.geoip is not None) == located


@pytest.mark.slow
def test_each_rule_finds_its_hidden_incident_and_nothing_else(
    warehouse: duckdb.DuckDBPyConnection, tenant_logs: Path, tmp_path: Path
) -> None:
    ingest_paths(warehouse, [tenant_logs])
    records, incidents = _incidents(warehouse, _attacker_ip(tenant_logs))
    ingest_paths(warehouse, [write_log(tmp_path / "incidents.log", records)])
    located = Settings(timezone=TENANT.timezone, geoip=str(tenant_logs / "geoip.mmdb"))
    run_detections(warehouse, settings=located)
    truth = parse_ground_truth({"format": "rmslog-ground-truth/1", "incidents": incidents})
    findings = warehouse.sql("SELECT * FROM findings").pl()
    # source-changed has no scenario; the Key Vault rules judge Key Vault logs, absent here
    rules = [r.id for r in list_rules() if r.id != "source-changed" and "needs" not in r.file.meta]
    scores = score_findings(findings, truth, rules)
    assert {(s.rule, s.precision, s.recall) for s in scores} == {(r, 1.0, 1.0) for r in rules}, (
        findings.select("rule", "entity", "first_ts", "summary").rows()
    )
    orphans = warehouse.sql("SELECT row_id FROM key_usage WHERE is_orphan ORDER BY ts").fetchall()
    evidence = warehouse.sql(
        "SELECT unnest(evidence_row_ids) FROM findings WHERE rule = 'orphan-key-calls'"
    ).fetchall()
    assert evidence == orphans and len(orphans) == 3


def _detect_simulated(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, region: str, scenarios: tuple[str, ...]
) -> tuple[list[tuple[str, float | None, float | None]], int]:
    """Two weeks of a 30-user tenant of `region` with `scenarios` injected, ingested and
    detected on the tenant's clock with its location database: each scored rule's
    (rule, precision, recall) against ground-truth.json, and how many findings all rules
    made."""
    logs = tmp_path / "logs"
    options = GenerateOptions(
        start=date(2026, 11, 2), days=14, users=30, seed=5, region=region, scenarios=scenarios
    )
    generate_logs(logs, options)
    truth = read_ground_truth(logs / "ground-truth.json")
    ingest_paths(warehouse, [logs])
    settings = Settings(timezone=str(truth.options["timezone"]), geoip=str(logs / "geoip.mmdb"))
    summary = run_detections(warehouse, settings=settings)
    # source-changed has no scenario; the Key Vault rules judge Key Vault logs, absent here
    rules = [r.id for r in list_rules() if r.id != "source-changed" and "needs" not in r.file.meta]
    scores = score_findings(warehouse.sql("SELECT * FROM findings").pl(), truth, rules)
    return [(s.rule, s.precision, s.recall) for s in scores], summary.findings


@pytest.mark.parametrize("region", ["na", "eu", "ap"])
@pytest.mark.slow
def test_the_rules_find_every_simulated_incident_and_nothing_else_in_each_region(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, region: str
) -> None:
    scores, findings = _detect_simulated(warehouse, tmp_path, region, SCENARIOS)
    assert scores == [(rule, 1.0, 1.0) for rule, _, _ in scores], warehouse.sql(
        "SELECT rule, entity, first_ts, summary FROM findings"
    ).fetchall()
    scored = warehouse.sql(
        "SELECT count(*) FROM findings WHERE rule IN (SELECT unnest($r))",
        params={"r": [rule for rule, _, _ in scores]},
    ).fetchall()[0][0]
    assert findings == scored  # no rule without a scenario fired either


@pytest.mark.parametrize("region", ["eu", "ap"])
@pytest.mark.slow
def test_a_clean_simulated_tenant_of_another_region_makes_no_finding(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, region: str
) -> None:
    _, findings = _detect_simulated(warehouse, tmp_path, region, ())
    assert findings == 0, warehouse.sql("SELECT rule, entity, summary FROM findings").fetchall()
