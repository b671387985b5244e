"""key_usage: every tenant-key call joined to the request that caused it, whatever the log."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from w3c_builder import Rec, licence, write_log

from pipeline.detect import run_detections
from pipeline.generate import GenerateOptions, generate_logs
from pipeline.ingest import ingest_paths
from pipeline.schema import Topology

CASES = [
    # (log version, topology name, key operations as logged, canonical operations)
    ("1.0", "byok-legacy", ("Decrypt", "SignDigest"), ("KMSPDecrypt", "KMSPSignDigest")),
    ("1.0", "byok-legacy", ("KMSPDecrypt", "KMSPSignDigest"), ("KMSPDecrypt", "KMSPSignDigest")),
    ("1.1", "byok-legacy", ("KMSPDecrypt", "KMSPSignDigest"), ("KMSPDecrypt", "KMSPSignDigest")),
    (
        "1.1",
        "byok-keyvault",
        ("KeyVaultDecryptRequest", "KeyVaultSignDigest"),
        ("KeyVaultDecryptRequest", "KeyVaultSignDigest"),
    ),
    (
        "1.1-admin",
        "byok-legacy",
        ("KMSPDecrypt", "KMSPSignDigest"),
        ("KMSPDecrypt", "KMSPSignDigest"),
    ),
    (
        "1.1-admin",
        "byok-keyvault",
        ("KeyVaultDecryptRequest", "KeyVaultSignDigest"),
        ("KeyVaultDecryptRequest", "KeyVaultSignDigest"),
    ),
]
DOC = "{7a1e4c2b-3f5d-4b6a-9c8e-1d0f2e3a4b5c}"


def _key_usage(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return con.sql(
        "SELECT operation, key_topology, origin_request_type, user_id, content_id, file_name, "
        "c_ip, is_orphan FROM key_usage ORDER BY operation"
    ).fetchall()


@pytest.mark.parametrize(("version", "topology", "logged", "canonical"), CASES)
def test_every_key_call_is_attributed_on_every_topology_and_log_version(
    warehouse: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    version: str,
    topology: str,
    logged: tuple[str, ...],
    canonical: tuple[str, ...],
) -> None:
    records = licence(
        "2026-11-02 10:00:00",
        "kim@contoso.example",
        "c1",
        logged,
        content=DOC,
        owner="lee@contoso.example",
        file="Budget.xlsx",
        ip="203.0.113.9",
    )
    ingest_paths(warehouse, [write_log(tmp_path / "a.log", records, version)])
    file_name = None if version == "1.0" else "Budget.xlsx"  # 1.0 has no file-name field
    expected = [
        (
            op,
            topology,
            "AcquireLicense",
            "kim@contoso.example",
            DOC,
            file_name,
            "203.0.113.9",
            False,
        )
        for op in canonical
    ]
    assert _key_usage(warehouse) == expected


def test_microsoft_managed_tenant_has_licensing_but_no_key_calls(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = licence("2026-11-02 10:00:00", "kim@contoso.example", "c1", ())
    ingest_paths(warehouse, [write_log(tmp_path / "a.log", records)])
    assert warehouse.sql("SELECT count(*) FROM requests").fetchall() == [(1,)]
    assert _key_usage(warehouse) == []


def test_key_call_whose_origin_sits_in_the_previous_days_file_is_attributed(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    origin, decrypt, sign = licence(
        "2026-11-02 23:59:59", "kim@contoso.example", "c1", ("KMSPDecrypt", "KMSPSignDigest")
    )
    sign.ts = "2026-11-03 00:00:00"
    day1 = write_log(tmp_path / "rmslog-2026-11-02.log", [origin, decrypt])
    day2 = write_log(tmp_path / "rmslog-2026-11-03.log", [sign], version="1.1")
    ingest_paths(warehouse, [day1, day2])
    rows = warehouse.sql(
        "SELECT operation, user_id, source_file, origin_source_file FROM key_usage ORDER BY ts"
    ).fetchall()
    assert rows == [
        ("KMSPDecrypt", "kim@contoso.example", str(day1), str(day1)),
        ("KMSPSignDigest", "kim@contoso.example", str(day2), str(day1)),
    ]


def test_key_call_is_an_orphan_until_its_late_origin_is_ingested_then_the_finding_goes(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    origin, decrypt = licence("2026-11-02 10:00:00", "kim@contoso.example", "c1", ("KMSPDecrypt",))
    decrypt.row = "k1"
    later = Rec("2026-11-02 12:00:00", "Certify", user="ana@contoso.example", corr="c2")
    ingest_paths(warehouse, [write_log(tmp_path / "key.log", [decrypt, later])])
    assert warehouse.sql("SELECT row_id FROM key_usage WHERE is_orphan").fetchall() == [("k1",)]
    first = run_detections(warehouse, ["orphan-key-calls"])
    assert first.findings_by_rule == {"orphan-key-calls": 1}

    ingest_paths(warehouse, [write_log(tmp_path / "late.log", [origin])])
    assert warehouse.sql("SELECT user_id, is_orphan FROM key_usage").fetchall() == [
        ("kim@contoso.example", False)
    ]
    second = run_detections(warehouse, ["orphan-key-calls"])
    assert second.findings_by_rule == {"orphan-key-calls": 0}
    assert second.removed_by_rule == {"orphan-key-calls": 1}
    assert warehouse.sql("SELECT count(*) FROM findings").fetchall() == [(0,)]


def test_a_key_causing_request_wins_over_an_earlier_lookup_sharing_the_correlation_id(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    lookup = Rec(
        "2026-11-02 09:59:58", "FindServiceLocationsForUser", user="kim@contoso.example", corr="c1"
    )
    records = [
        lookup,
        *licence("2026-11-02 10:00:00", "kim@contoso.example", "c1", ("KMSPDecrypt",)),
    ]
    ingest_paths(warehouse, [write_log(tmp_path / "a.log", records)])
    assert warehouse.sql("SELECT origin_request_type FROM key_usage").fetchall() == [
        ("AcquireLicense",)
    ]


def test_key_call_without_correlation_id_is_an_orphan(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    records = [
        Rec("2026-11-02 10:00:00", "AcquireLicense", user="kim@contoso.example", corr=None),
        Rec("2026-11-02 10:00:00", "KMSPDecrypt", corr=None, row="k1"),
    ]
    ingest_paths(warehouse, [write_log(tmp_path / "a.log", records)])
    assert warehouse.sql("SELECT row_id, is_orphan, user_id FROM key_usage").fetchall() == [
        ("k1", True, None)
    ]


@pytest.mark.parametrize(
    ("topology", "version"),
    [(Topology.BYOK_KEYVAULT, "1.1-admin"), (Topology.BYOK_LEGACY, "1.0")],
)
@pytest.mark.slow
def test_generated_blobs_with_late_records_leave_no_key_call_unattributed(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, topology: Topology, version: str
) -> None:
    options = GenerateOptions(
        start=date(2026, 11, 2),
        days=3,
        users=30,
        seed=3,
        topology=topology,
        log_version=version,
        layout="blobs",
        blob_minutes=15,
    )
    generate_logs(tmp_path, options)
    ingest_paths(warehouse, [tmp_path])
    rows = warehouse.sql(
        "SELECT count(*), count(*) FILTER (is_orphan), "
        "count(*) FILTER (origin_source_file <> source_file), count(DISTINCT key_topology) "
        "FROM key_usage"
    ).fetchall()
    calls, orphans, across_files, topologies = rows[0]
    assert calls > 1000 and orphans == 0 and topologies == 1
    assert across_files > 0  # origins in another blob than their key calls were found
