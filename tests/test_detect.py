from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.detect import list_rules, run_detections
from pipeline.ingest import ingest_paths

HEAD = (
    "#Software: RMS\n#Version: 1.1\n#Fields: date time row-id request-type user-id result "
    "correlation-id content-id c-info c-ip\n"
)


def _write(path: Path, *lines: str) -> Path:
    path.write_text(HEAD + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _line(ts: str, row: str, kind: str, user: str, corr: str) -> str:
    day, time = ts.split(" ")
    return "\t".join([day, time, row, kind, f"'{user}'", "'Success'", corr, "", "''", "10.0.0.1"])


def test_every_rule_file_declares_id_title_severity_and_description() -> None:
    for rule in list_rules():
        meta = rule.file.meta
        assert {"id", "title", "severity", "description"} <= set(meta), rule.file.path
        assert meta["severity"] in ("low", "medium", "high")


def test_key_operation_without_origin_is_an_orphan_finding(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    log = _write(
        tmp_path / "a.log",
        _line("2026-11-02 10:00:00", "r1", "AcquireLicense", "kim@x", "c1"),
        _line("2026-11-02 10:00:00", "r2", "KMSPDecrypt", "", "c1"),
        _line("2026-11-02 11:30:00", "r3", "KMSPSignDigest", "", "c-lonely"),
    )
    ingest_paths(warehouse, [log])
    orphans = warehouse.sql("SELECT row_id FROM key_usage WHERE is_orphan").fetchall()
    assert orphans == [("r3",)]
    summary = run_detections(warehouse, ["orphan-key-calls"])
    assert summary.findings_by_rule == {"orphan-key-calls": 1}
    (evidence,) = warehouse.sql("SELECT evidence_row_ids FROM findings").fetchall()[0]
    assert evidence == ["r3"]


def test_attributed_key_operations_make_no_finding_and_reruns_do_not_duplicate(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    log = _write(
        tmp_path / "b.log",
        _line("2026-11-02 10:00:00", "r1", "Certify", "kim@x", "c1"),
        _line("2026-11-02 10:00:01", "r2", "SignDigest", "", "c1"),
    )
    ingest_paths(warehouse, [log])
    row = warehouse.sql("SELECT operation, user_id, origin_request_type FROM key_usage").fetchall()
    assert row == [("KMSPSignDigest", "kim@x", "Certify")]
    run_detections(warehouse)
    run_detections(warehouse)
    assert warehouse.sql("SELECT count(*) FROM findings").fetchall() == [(0,)]
