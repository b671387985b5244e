"""Key Vault AuditEvent logs go into `keyvault_events` exactly once, every record accounted for."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from kv_builder import RMS, jsonl, record, write_blob

from pipeline.ingest import IngestSummary, ingest_paths
from pipeline.ingest.keyvault import parse_time
from pipeline.warehouse import open_warehouse

T0 = datetime(2026, 11, 3, 14, 0, 11, 591000)


def ingest(db: Path, *paths: Path, **options: Any) -> IngestSummary:
    with open_warehouse(db) as con:
        return ingest_paths(con, list(paths), **options)


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def calls(n: int, start: datetime = T0, **kw: Any) -> list[dict[str, object]]:
    return [record(start + timedelta(seconds=7 * i), **kw) for i in range(n)]


def test_a_json_lines_blob_in_the_storage_layout_is_stored_with_typed_columns(
    tmp_path: Path,
) -> None:
    blob = write_blob(tmp_path / "kv", T0, jsonl([record(T0, upn="admin@contoso.com")]))
    db = tmp_path / "w.duckdb"
    summary = ingest(db, tmp_path / "kv")
    assert (summary.kv_files, summary.kv_records, summary.kv_stored) == (1, 1, 1)
    assert summary.rows_stored == 0  # RMS rows are counted apart
    got = rows(
        db,
        "SELECT ts, operation, result_type, result_signature, http_status, duration_ms, "
        "caller_ip, appid, object_id, upn, key_vault, key_name, key_version, algorithm, "
        "correlation_id, source_file, source_line, source_offset, run_id, "
        "json_extract_string(raw_json, '$.operationName') FROM keyvault_events",
    )
    assert got == [
        (
            T0,
            "KeyDecrypt",
            "Success",
            "OK",
            200,
            23,
            "40.1.2.3",
            RMS,
            "oid-rms",
            "admin@contoso.com",
            "contoso-byok",
            "tenantkey",
            "v1",
            "RSA-OAEP",
            None,
            str(blob),
            1,
            0,
            1,
            "KeyDecrypt",
        )
    ]
    kind = rows(db, "SELECT kind, sha256 IS NOT NULL, data_lines FROM ingested_files")
    assert kind == [("keyvault", True, 1)]


def test_the_older_records_object_form_and_gzip_are_read_too(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"records": calls(3)}, indent=2), encoding="utf-8")
    gz = write_blob(tmp_path / "kv", T0, jsonl(calls(2, T0 + timedelta(hours=1))), gz=True)
    db = tmp_path / "w.duckdb"
    summary = ingest(db, old, gz)
    assert (summary.kv_files, summary.kv_stored, summary.kv_rejected) == (2, 5, 0)
    lines = rows(db, "SELECT source_line FROM keyvault_events WHERE source_file LIKE '%old.json'")
    assert sorted(r[0] for r in lines) == [3, 29, 55]  # the line each record starts on


def test_a_records_object_on_one_line_keeps_each_records_byte_offset(tmp_path: Path) -> None:
    old = tmp_path / "PT1H.json"
    text = json.dumps({"records": calls(3)})
    old.write_text(text, encoding="utf-8")
    db = tmp_path / "w.duckdb"
    ingest(db, old)
    got = rows(db, "SELECT source_line, source_offset, raw_json FROM keyvault_events ORDER BY ts")
    assert [r[0] for r in got] == [1, 1, 1]
    for _, offset, raw in got:
        assert text.encode()[offset : offset + len(raw.encode())].decode() == raw


def test_a_growing_blob_read_again_stores_each_record_once(tmp_path: Path) -> None:
    recs = calls(6)
    blob = write_blob(tmp_path / "kv", T0, jsonl(recs[:3]) + json.dumps(recs[3])[:40])
    db = tmp_path / "w.duckdb"
    first = ingest(db, tmp_path / "kv")
    assert (first.kv_stored, first.bytes_pending) == (3, 40)
    blob.write_text(jsonl(recs), encoding="utf-8")  # the hour's blob grew
    second = ingest(db, tmp_path / "kv")
    assert (second.kv_records, second.kv_stored, second.kv_duplicates) == (3, 3, 0)
    assert rows(db, "SELECT count(*), count(DISTINCT record_id) FROM keyvault_events") == [(6, 6)]
    reads = rows(db, "SELECT byte_start, byte_end FROM file_reads ORDER BY run_id")
    assert reads[1][0] == reads[0][1] > 0  # the second read started where the first ended
    third = ingest(db, tmp_path / "kv")
    assert (third.kv_files, third.files_skipped) == (0, 1)


def test_a_growing_records_object_is_read_on_inside_the_array(tmp_path: Path) -> None:
    recs = calls(4)
    full = json.dumps({"records": recs}, indent=1)
    path = tmp_path / "PT1H.json"
    cut = full.index(json.dumps(recs[2]["time"])) + 20  # inside the third record
    path.write_text(full[:cut], encoding="utf-8")
    db = tmp_path / "w.duckdb"
    assert ingest(db, path).kv_stored == 2
    path.write_text(full, encoding="utf-8")
    second = ingest(db, path)
    assert (second.kv_stored, second.kv_duplicates, second.kv_rejected) == (2, 0, 0)
    assert rows(db, "SELECT count(*) FROM keyvault_events") == [(4,)]


def test_the_same_blob_under_two_paths_is_stored_once(tmp_path: Path) -> None:
    blob = write_blob(tmp_path / "a", T0, jsonl(calls(5)))
    copy = tmp_path / "b" / "PT1H.json"
    copy.parent.mkdir()
    shutil.copy(blob, copy)
    db = tmp_path / "w.duckdb"
    summary = ingest(db, tmp_path / "a", copy)
    assert (summary.kv_stored, summary.kv_duplicates) == (5, 0 + 5)
    assert rows(db, "SELECT count(*) FROM keyvault_events") == [(5,)]
    assert rows(db, "SELECT count(*) FROM ingested_files WHERE kind = 'keyvault'") == [(2,)]


def test_a_blob_rewritten_with_other_bytes_is_read_again_without_duplicates(
    tmp_path: Path,
) -> None:
    recs = calls(3)
    blob = write_blob(tmp_path / "kv", T0, jsonl(recs))
    db = tmp_path / "w.duckdb"
    ingest(db, blob)
    blob.write_text(jsonl([recs[1], recs[0], recs[2], *calls(1, T0 + timedelta(minutes=9))]))
    again = ingest(db, blob)
    assert (again.kv_stored, again.kv_duplicates) == (1, 3)
    assert again.files_changed == [str(blob)]
    assert rows(db, "SELECT count(*) FROM integrity_events") == [(1,)]


def test_bad_lines_go_to_rejects_with_their_line_and_reason(tmp_path: Path) -> None:
    good = calls(2)
    no_time = {k: v for k, v in good[0].items() if k != "time"}
    no_op = {k: v for k, v in good[0].items() if k != "operationName"}
    text = (
        jsonl(good[:1])
        + "{not json\n"
        + "\n"  # a blank line is no record
        + json.dumps(no_time)
        + "\n"
        + json.dumps({**good[0], "time": "yesterday"})
        + "\n"
        + json.dumps(no_op)
        + "\n"
        + "[1, 2]\n"
        + jsonl(good[1:])
    )
    blob = write_blob(tmp_path / "kv", T0, text)
    db = tmp_path / "w.duckdb"
    summary = ingest(db, blob)
    assert (summary.kv_records, summary.kv_stored, summary.kv_rejected) == (7, 2, 5)
    got = rows(db, "SELECT source_file, source_line, reason FROM rejects ORDER BY source_line")
    assert [(f, n) for f, n, _ in got] == [(str(blob), n) for n in (2, 4, 5, 6, 7)]
    reasons = [r for _, _, r in got]
    assert reasons[0].startswith("not valid JSON")
    assert reasons[1:] == [
        "missing time",
        "time is not an ISO 8601 instant: 'yesterday'",
        "missing operationName",
        "not a JSON object",
    ]
    manifest = rows(db, "SELECT rows_stored, duplicates, rejects, data_lines FROM ingested_files")
    assert manifest == [(2, 0, 5, 7)]


def test_a_broken_records_object_rejects_the_rest_with_its_line(tmp_path: Path) -> None:
    recs = calls(3)
    text = '{"records": [\n' + json.dumps(recs[0]) + ",\n" + json.dumps(recs[1])[:-5] + "@@,\n"
    text += json.dumps(recs[2]) + "]}\n"
    path = tmp_path / "PT1H.json.gz"
    import gzip

    path.write_bytes(gzip.compress(text.encode()))
    db = tmp_path / "w.duckdb"
    summary = ingest(db, path)
    assert (summary.kv_stored, summary.kv_rejected) == (1, 1)
    got = rows(db, "SELECT source_line, reason FROM rejects")
    assert got[0][0] == 3 and got[0][1].startswith("not valid JSON")


def test_a_folder_of_rms_and_key_vault_logs_is_ingested_in_one_call(tmp_path: Path) -> None:
    sample = Path(__file__).parent.parent / "sample-logs"
    rms = tmp_path / "in" / "rms"
    rms.mkdir(parents=True)
    shutil.copy(sample / "rmslog-2026-11-03.log", rms)
    shutil.copy(sample / "ground-truth.json", rms)  # other JSON beside the logs: passed over
    write_blob(tmp_path / "in" / "kv", T0, jsonl(calls(4)))
    # Kind by content: a Key Vault blob named like an RMS log is still read as Key Vault.
    (tmp_path / "in" / "kv" / "odd-name.log").write_text(jsonl(calls(1, T0 + timedelta(hours=2))))
    db = tmp_path / "w.duckdb"
    summary = ingest(db, tmp_path / "in")
    assert summary.files_refused == 0
    assert summary.rows_stored > 0 and summary.kv_stored == 5
    assert summary.files_ignored == 1
    kinds = rows(db, "SELECT kind, count(*) FROM ingested_files GROUP BY 1 ORDER BY 1")
    assert kinds == [("keyvault", 2), ("rms", 1)]


def test_a_json_file_that_is_no_key_vault_log_given_by_name_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"hello": "world"}\n')
    db = tmp_path / "w.duckdb"
    summary = ingest(db, other)
    assert summary.files_refused == 1
    assert "not an RMS usage log" in summary.refused[0]


def test_the_cli_prints_key_vault_counts_apart(tmp_path: Path, cli: Any) -> None:
    write_blob(tmp_path / "kv", T0, jsonl(calls(3)) + "oops\n")
    result = cli("ingest", tmp_path / "kv", "--db", tmp_path / "w.duckdb")
    assert result.exit_code == 0
    assert "Key Vault: 1 files, 4 records: 3 stored, 0 duplicates, 1 rejected" in result.stderr


def test_times_keep_microseconds_and_zones_become_utc() -> None:
    assert parse_time("2026-11-03T14:02:11.5910000Z") == datetime(2026, 11, 3, 14, 2, 11, 591000)
    assert parse_time("2026-11-03T16:02:11+02:00") == datetime(2026, 11, 3, 14, 2, 11)
    assert parse_time("2026-11-03T14:02:11") == datetime(2026, 11, 3, 14, 2, 11)
    assert parse_time("2026-13-03T14:02:11Z") is None
    assert parse_time("soon") is None


def test_a_grown_blob_is_read_on_from_the_state_watch_keeps_between_cycles(
    tmp_path: Path,
) -> None:
    recs = calls(5)
    blob = write_blob(tmp_path / "kv", T0, jsonl(recs[:2]))
    db = tmp_path / "w.duckdb"
    resume: dict[str, Any] = {}
    assert ingest(db, tmp_path / "kv", resume=resume).kv_stored == 2
    assert set(resume) == {str(blob)}
    with blob.open("a", encoding="utf-8") as f:
        f.write(jsonl(recs[2:]))
    again = ingest(db, tmp_path / "kv", resume=resume)
    assert (again.kv_records, again.kv_stored, again.kv_duplicates) == (3, 3, 0)
    lines = rows(db, "SELECT source_line FROM keyvault_events ORDER BY ts")
    assert [n for (n,) in lines] == [1, 2, 3, 4, 5]


def test_watch_ingests_key_vault_blobs_in_its_folder(tmp_path: Path) -> None:
    from threading import Event

    from pipeline.ingest import watch_folder

    write_blob(tmp_path / "kv", T0, jsonl(calls(3)))
    stop = Event()
    status = watch_folder(
        tmp_path / "kv",
        tmp_path / "w.duckdb",
        stop=stop,
        interval=0.05,
        on_cycle=lambda st: stop.set(),
    )
    assert (status.kv_files, status.kv_stored) == (1, 3)


def test_a_finished_blob_without_a_final_line_end_keeps_its_last_record(tmp_path: Path) -> None:
    recs = calls(3)
    blob = write_blob(tmp_path / "kv", T0, jsonl(recs[:2]) + json.dumps(recs[2]))
    db = tmp_path / "w.duckdb"
    first = ingest(db, blob)
    assert (first.kv_stored, first.bytes_pending) == (3, 0)
    with blob.open("a", encoding="utf-8") as f:  # it grows after all: the next line
        f.write("\n" + jsonl(calls(1, T0 + timedelta(minutes=5))))
    again = ingest(db, blob)
    assert (again.kv_stored, again.kv_duplicates, again.kv_rejected) == (1, 0, 0)
    lines = rows(db, "SELECT source_line FROM keyvault_events ORDER BY ts")
    assert [n for (n,) in lines] == [1, 2, 3, 4]
