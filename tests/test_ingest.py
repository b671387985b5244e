"""Ingest into a warehouse file: every line accounted for, exactly once, either path."""

from __future__ import annotations

import gzip
import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, warehouse_contents

from pipeline.errors import ExitCode
from pipeline.ingest import IngestSummary, ingest_paths
from pipeline.warehouse import open_warehouse

GENERAL = 1 << 60  # fast_min_bytes that sends every file through the general path
CASES = sorted(p.name for p in DATA.iterdir() if p.is_dir())


def ingest(db: Path, *paths: Path, **options: Any) -> IngestSummary:
    with open_warehouse(db) as con:
        summary = ingest_paths(con, list(paths), **options)
    assert summary.data_lines == (
        summary.rows_stored + summary.duplicates + summary.conflicts + summary.rejected
    )
    return summary


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("case", CASES)
def test_every_hand_made_case_gives_the_same_warehouse_through_both_paths(
    case: str, tmp_path: Path
) -> None:
    fast = ingest(tmp_path / "fast.duckdb", DATA / case, fast_min_bytes=0)
    general = ingest(tmp_path / "general.duckdb", DATA / case, fast_min_bytes=GENERAL)
    assert general.files_read_by_duckdb == 0
    assert (fast.files, fast.data_lines, fast.rows_stored, fast.duplicates, fast.rejected) == (
        general.files,
        general.data_lines,
        general.rows_stored,
        general.duplicates,
        general.rejected,
    )
    assert warehouse_contents(tmp_path / "fast.duckdb") == warehouse_contents(
        tmp_path / "general.duckdb"
    )


@pytest.mark.parametrize(
    ("path", "by_duckdb"),
    [
        ("variants", 3),
        ("line-ends/crlf.log", 1),  # CRLF throughout
        ("line-ends/crlf-bom.log", 0),  # blank lines
        ("line-ends/concatenated.log", 0),  # two blobs
        ("quotes/quotes.log", 1),  # curly quotes: read as text, stripped in SQL
        ("quotes/apostrophe.log", 1),  # a ' inside a value: the same
        ("quotes/unclosed.log", 0),  # a ' that never closes: DuckDB refuses, general path
        ("rejects/values.log", 1),  # value rejects, found in SQL
        ("rejects/rejects.log", 0),  # wrong field counts
        ("torn", 0),  # a line still being written
        ("tree", 3),  # the .gz without a final newline is not regular
    ],
)
def test_regular_files_are_read_by_duckdb_and_the_others_by_the_general_path(
    path: str, by_duckdb: int, tmp_path: Path
) -> None:
    assert ingest(tmp_path / "w.duckdb", DATA / path, fast_min_bytes=0).files_read_by_duckdb == (
        by_duckdb
    )


def test_the_three_field_lists_fill_the_columns_they_have(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    assert ingest(db, DATA / "variants").rows_stored == 6
    got = rows(
        db,
        "SELECT row_id, user_id, owner_email, file_name, date_published, admin_action, "
        "acting_as_user FROM requests ORDER BY row_id",
    )
    assert got[0][:5] == ("a10-1", "kim@fabrikam.example", None, None, None)
    assert got[2][2:4] == ("lee@fabrikam.example", "Budget.xlsx")
    assert got[4][5:] == (True, "kim@fabrikam.example")  # AdminAction / ActingAsUser


def test_quotes_are_stripped_once_and_blanks_become_null(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    ingest(db, DATA / "quotes")
    got = dict(rows(db, "SELECT row_id, file_name FROM requests"))
    assert got["q-straight"] == got["apos-1"] == "O'Brien's plan.docx"
    assert (got["open-1"], got["open-2"]) == (None, None)
    users = dict(rows(db, "SELECT row_id, user_id FROM requests WHERE row_id LIKE 'open-%'"))
    assert users == {"open-1": "'kim", "open-2": "lee"}
    assert got["q-curly"] == "Ünïcode Budget.xlsx"
    assert got["q-mixed"] == "'"
    blanks = rows(
        db,
        "SELECT user_id, owner_email, file_name, acting_as_user FROM requests "
        "WHERE row_id = 'q-blanks'",
    )
    assert blanks == [(None, None, None, None)]


def test_every_line_that_cannot_be_stored_is_kept_with_its_reason(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    summary = ingest(db, DATA / "rejects" / "rejects.log")
    assert (summary.data_lines, summary.rows_stored, summary.rejected) == (13, 3, 10)
    got = rows(
        db,
        "SELECT source_line, reason FROM rejects WHERE source_file LIKE '%rejects.log' ORDER BY 1",
    )
    assert got == [
        (5, "expected 17 tab-separated fields, found 3"),
        (6, "expected 17 tab-separated fields, found 18"),
        (7, "invalid date/time '2024-02-30 12:00:03'"),
        (8, "invalid date/time '2024-05-06 24:00:00'"),
        (9, "invalid date/time '2024-05-06 23:59:60'"),
        (10, "invalid date-published 'yesterday'"),
        (11, "invalid admin-action 'maybe'"),
        (13, "no row-id and no correlation-id to key the record"),
        (14, "expected 17 tab-separated fields, found 1"),
        (15, "expected 17 tab-separated fields, found 18"),
    ]
    raw = rows(db, "SELECT raw_line FROM rejects WHERE source_line = 5")
    assert raw == [("2024-05-06\t12:00:01\tshort-line",)]
    stored = rows(db, "SELECT source_line, row_id FROM requests ORDER BY 1")
    assert stored == [(4, "ok-1"), (12, "x-c8/Certify/2024-05-06T12:00:08"), (16, "ok-2")]


def test_a_folder_is_searched_recursively_for_logs_blobs_and_gz_only(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    summary = ingest(db, DATA / "tree")
    assert (summary.files, summary.rows_stored) == (4, 4)
    files = [
        r[0].removeprefix(str(DATA / "tree") + "/")
        for r in rows(db, "SELECT path FROM ingested_files ORDER BY path")
    ]
    assert files == [
        "2024/05/rmslog-2024-05-06.log",
        "2024/rmslog-2024-05-07.log.gz",
        "blobs/000000001",
        "blobs/000000002.gz",  # its last line has no newline: a .gz is complete
    ]


def test_a_blob_and_the_daily_download_of_the_same_records_store_each_once(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    summary = ingest(db, DATA / "duplicates")
    assert (summary.rows_stored, summary.duplicates) == (5, 4)  # 3 seen in the blob + 1 repeat
    assert rows(db, "SELECT count(DISTINCT row_id), count(*) FROM requests") == [(5, 5)]
    manifest = rows(db, "SELECT rows_stored, duplicates FROM ingested_files ORDER BY path")
    assert manifest == [(3, 0), (2, 4)]


def test_ingesting_the_same_folder_twice_changes_nothing(small_logs: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    first = ingest(db, small_logs)
    before = warehouse_contents(db)
    second = ingest(db, small_logs)
    assert (second.rows_stored, second.files, second.files_skipped) == (0, 0, first.files)
    assert warehouse_contents(db) == before


def test_the_same_records_under_another_name_are_duplicates(
    small_logs: Path, tmp_path: Path
) -> None:
    one = sorted(small_logs.glob("*.log"))[0]
    copy = tmp_path / "copy-of-day-one.log"
    shutil.copy(one, copy)
    db = tmp_path / "w.duckdb"
    first = ingest(db, one)
    again = ingest(db, copy)
    assert (again.rows_stored, again.duplicates) == (0, first.rows_stored)


def test_a_grown_file_is_read_from_where_it_stopped(small_logs: Path, tmp_path: Path) -> None:
    lines = sorted(small_logs.glob("*.log"))[0].read_text(encoding="utf-8").splitlines(True)
    growing = tmp_path / "rmslog-growing.log"
    growing.write_text("".join(lines[:10]) + lines[10][:20], encoding="utf-8")  # torn last line
    db = tmp_path / "w.duckdb"
    first = ingest(db, growing)
    assert (first.rows_stored, first.bytes_pending, first.pending) == (7, 20, [str(growing)])
    growing.write_text("".join(lines), encoding="utf-8")
    second = ingest(db, growing)
    assert (second.rows_stored, second.duplicates) == (len(lines) - 10, 0)
    stored = rows(db, "SELECT source_line FROM requests ORDER BY source_line")
    assert [r[0] for r in stored] == list(range(4, len(lines) + 1))
    assert rows(db, "SELECT bytes_consumed, size FROM ingested_files") == [
        (growing.stat().st_size, growing.stat().st_size)
    ]


def test_a_file_whose_read_part_changed_is_read_again_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "rmslog-2024-05-08.log"
    shutil.copy(DATA / "duplicates" / "000000007", log)
    db = tmp_path / "w.duckdb"
    ingest(db, log)
    text = (DATA / "duplicates" / "rmslog-2024-05-08.log").read_text(encoding="utf-8")
    log.write_text(text.replace("'kim'", "'kim.l'", 1), encoding="utf-8")  # first record edited
    again = ingest(db, log)
    assert again.files_changed == [str(log)]
    # dup-0 keeps its first version; the edited one is a conflict, not a duplicate
    assert (again.rows_stored, again.duplicates, again.conflicts) == (2, 3, 1)
    assert rows(
        db, "SELECT data_lines, rows_stored, duplicates, conflicts, rejects FROM ingested_files"
    ) == [(9, 5, 3, 1, 0)]
    assert rows(db, "SELECT user_id FROM requests WHERE row_id = 'dup-0'") == [("kim",)]
    assert rows(db, "SELECT user_id, source_line FROM conflicts") == [("kim.l", 4)]
    reads = rows(db, "SELECT byte_start, byte_end, sha256 FROM file_reads ORDER BY run_id")
    assert len(reads) == 2 and reads[0][2] != reads[1][2]  # both hashes kept
    events = rows(db, "SELECT event, expected_sha256, found_sha256 FROM integrity_events")
    assert events == [("changed", reads[0][2], events[0][2])]


def test_small_chunks_give_the_same_warehouse_as_whole_files(
    small_logs: Path, tmp_path: Path
) -> None:
    ingest(tmp_path / "whole.duckdb", small_logs, fast_min_bytes=GENERAL)
    ingest(tmp_path / "chunks.duckdb", small_logs, fast_min_bytes=GENERAL, chunk_bytes=4096)
    assert warehouse_contents(tmp_path / "whole.duckdb") == warehouse_contents(
        tmp_path / "chunks.duckdb"
    )


@pytest.mark.slow
def test_generated_logs_give_the_same_warehouse_through_both_paths(
    many_logs: Path, tmp_path: Path
) -> None:
    fast = ingest(tmp_path / "fast.duckdb", many_logs, fast_min_bytes=0)
    assert fast.files_read_by_duckdb == fast.files == 40
    ingest(tmp_path / "general.duckdb", many_logs, fast_min_bytes=GENERAL)
    assert warehouse_contents(tmp_path / "fast.duckdb") == warehouse_contents(
        tmp_path / "general.duckdb"
    )


def test_a_gz_file_that_is_not_gzip_is_refused_and_the_others_go_on(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "broken.log.gz").write_bytes(b"not gzip at all\n")
    (tmp_path / "logs" / "ok.log.gz").write_bytes(
        gzip.compress((DATA / "refused" / "good.log").read_bytes())
    )
    summary = ingest(tmp_path / "w.duckdb", tmp_path / "logs")
    assert (summary.files, summary.files_refused, summary.rows_stored) == (1, 1, 1)
    assert "broken.log.gz: cannot read" in summary.refused[0]


def test_the_cli_refuses_non_rms_files_by_name_with_exit_code_3(cli: Any, tmp_path: Path) -> None:
    result = cli("ingest", DATA / "refused", "--db", tmp_path / "w.duckdb", "--json")
    assert result.exit_code == ExitCode.INPUT
    assert "u_ex240506.log:1: not an RMS usage log" in result.stderr
    assert "no-software.log:2: #Fields without a '#Software: RMS' line" in result.stderr
    assert "no-header.log:1: data line before any '#Software: RMS'" in result.stderr
    summary = json.loads(result.stdout)
    assert (summary["files"], summary["files_refused"], summary["rows_stored"]) == (1, 3, 1)


def test_the_cli_json_summary_accounts_for_every_data_line(cli: Any, tmp_path: Path) -> None:
    result = cli(
        "ingest", DATA / "rejects", DATA / "duplicates", "--db", tmp_path / "w.duckdb", "--json"
    )
    assert result.exit_code == ExitCode.OK, result.output
    summary = json.loads(result.stdout)
    keys = {"files", "files_refused", "data_lines", "rows_stored", "duplicates", "rejected"}
    assert keys | {"seconds", "files_skipped"} <= set(summary)
    assert summary["data_lines"] == (
        summary["rows_stored"] + summary["duplicates"] + summary["rejected"]
    )
    assert (summary["rows_stored"], summary["duplicates"], summary["rejected"]) == (10, 5, 15)


def test_the_cli_says_which_file_waits_for_its_last_line(cli: Any, tmp_path: Path) -> None:
    result = cli("ingest", DATA / "torn", "--db", tmp_path / "w.duckdb")
    assert result.exit_code == ExitCode.OK
    assert "rmslog-2024-05-09.log ends in a line without newline" in result.stderr


@pytest.mark.parametrize("fast_min_bytes", [0, GENERAL])
def test_random_bytes_named_like_a_log_are_refused_whole_through_either_path(
    fast_min_bytes: int, tmp_path: Path
) -> None:
    junk = tmp_path / "x.log"
    junk.write_bytes(random.Random(10).randbytes(200_000))
    summary = ingest(tmp_path / "w.duckdb", junk, fast_min_bytes=fast_min_bytes)
    assert (summary.files, summary.files_refused, summary.data_lines) == (0, 1, 0)
    assert "x.log" in summary.refused[0] and "refusing the whole file" in summary.refused[0]
    assert rows(tmp_path / "w.duckdb", "SELECT count(*) FROM rejects") == [(0,)]


def test_the_cli_refuses_random_bytes_whole_with_exit_code_3(cli: Any, tmp_path: Path) -> None:
    junk = tmp_path / "x.log"
    junk.write_bytes(random.Random(10).randbytes(200_000))
    db = tmp_path / "w.duckdb"
    result = cli("ingest", junk, "--db", db, "--json")
    assert result.exit_code == ExitCode.INPUT
    assert "x.log" in result.stderr and "NUL byte; not a text log" in result.stderr
    assert json.loads(result.stdout)["rejected"] == 0
    refused = rows(db, "SELECT path, reason FROM refused_files")
    assert len(refused) == 1 and refused[0][0].endswith("x.log")
    assert rows(db, "SELECT count(*) FROM rejects") == [(0,)]


def test_a_text_file_without_an_rms_header_is_refused_whole(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "notes.log").write_text("just some notes\nand another line\n")
    result = cli("ingest", tmp_path / "notes.log", "--db", tmp_path / "w.duckdb")
    assert result.exit_code == ExitCode.INPUT
    assert "notes.log:1: data line before any '#Software: RMS'" in result.stderr


def test_a_file_without_any_newline_that_is_no_header_is_refused_not_left_waiting(
    tmp_path: Path,
) -> None:
    (tmp_path / "one.log").write_bytes(b"A" * 5000)
    summary = ingest(tmp_path / "w.duckdb", tmp_path / "one.log")
    assert summary.files_refused == 1 and summary.pending == []
    assert "one.log:1: does not start with an RMS header" in summary.refused[0]


def test_a_header_still_being_written_waits_for_its_line(tmp_path: Path) -> None:
    (tmp_path / "000000001").write_bytes(b"#Software: R")
    summary = ingest(tmp_path / "w.duckdb", tmp_path / "000000001")
    assert (summary.files_refused, summary.bytes_pending) == (0, 12)


def test_a_folder_without_log_files_says_what_it_skipped(cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "notes.txt").write_text("x\n")
    (folder / "ground-truth.json").write_text("{}\n")
    result = cli("ingest", folder, "--db", tmp_path / "w.duckdb", "--json")
    assert result.exit_code == ExitCode.OK, result.output
    assert f"{folder} holds no log file" in result.stderr
    assert "2 file(s) in the folders given not named like a log" in result.stderr
    summary = json.loads(result.stdout)
    assert (summary["files"], summary["files_ignored"]) == (0, 2)
    assert summary["folders_without_logs"] == [str(folder)]


def test_one_missing_path_among_several_creates_no_warehouse(cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    result = cli("ingest", DATA / "variants", tmp_path / "typo", "--db", db)
    assert result.exit_code == ExitCode.INPUT
    assert f"{tmp_path / 'typo'}: no such file or folder; nothing ingested" in result.stderr
    assert not db.exists()


def test_the_same_files_by_relative_absolute_and_symlinked_paths_are_one_manifest_row_each(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(DATA / "tree", tmp_path / "logs")
    (tmp_path / "link").symlink_to(tmp_path / "logs")
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "w.duckdb"
    first = cli("ingest", "logs", "--db", db, "--json")
    assert json.loads(first.stdout)["files"] == 4
    for spelling in (tmp_path / "logs", tmp_path / "link", "link/blobs/000000001"):
        again = cli("ingest", spelling, "--db", db, "--json")
        assert again.exit_code == ExitCode.OK, again.output
        assert json.loads(again.stdout)["files"] == 0
    manifest = rows(db, "SELECT path, real_path FROM ingested_files ORDER BY path")
    assert len(manifest) == 4
    assert manifest[0] == (
        "logs/2024/05/rmslog-2024-05-06.log",
        str((tmp_path / "logs/2024/05/rmslog-2024-05-06.log").resolve()),
    )
    assert rows(db, "SELECT count(DISTINCT source_file) FROM requests") == [(4,)]


def test_a_manifest_row_from_before_real_paths_is_adopted_not_doubled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(DATA / "variants", tmp_path / "logs")
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "w.duckdb"
    ingest(db, Path("logs"))
    with open_warehouse(db) as con:  # as a warehouse written before real_path existed
        con.execute("UPDATE ingested_files SET real_path = NULL").fetchall()
    again = ingest(db, tmp_path / "logs")
    assert (again.files, again.files_skipped) == (0, 3)
    assert rows(db, "SELECT count(*), count(real_path) FROM ingested_files") == [(3, 3)]


def test_the_cli_says_when_bytes_already_read_changed_and_keeps_both_versions(
    cli: Any, tmp_path: Path
) -> None:
    log = tmp_path / "rmslog-2024-05-06.log"
    shutil.copy(DATA / "refused" / "good.log", log)
    db = tmp_path / "w.duckdb"
    assert cli("ingest", log, "--db", db).exit_code == ExitCode.OK
    log.write_text(log.read_text().replace("'kim'", "'mallory'"))  # as `sed -i` would
    result = cli("ingest", log, "--db", db, "--json")
    assert result.exit_code == ExitCode.OK, result.output
    assert f"changed: {log}: bytes read before have changed" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["files_changed"] == [str(log)]
    assert (summary["data_lines"], summary["duplicates"], summary["conflicts"]) == (1, 0, 1)
    assert rows(db, "SELECT user_id FROM requests") == [("kim",)]
    assert rows(db, "SELECT user_id FROM conflicts") == [("mallory",)]
    assert rows(db, "SELECT count(DISTINCT sha256) FROM file_reads") == [(2,)]
    assert rows(db, "SELECT count(*) FROM integrity_events") == [(1,)]


@pytest.mark.parametrize("fast_min_bytes", [0, GENERAL])
def test_a_record_repeated_with_other_values_is_a_conflict_through_either_path(
    fast_min_bytes: int, tmp_path: Path
) -> None:
    good = (DATA / "refused" / "good.log").read_text()
    line = good.splitlines()[-1]
    (tmp_path / "a.log").write_text(good + line.replace("'kim'", "'eve'") + "\n" + line + "\n")
    (tmp_path / "b.log").write_text(good.replace("'kim'", "'bob'"))
    summary = ingest(tmp_path / "w.duckdb", tmp_path, fast_min_bytes=fast_min_bytes)
    counts = (summary.rows_stored, summary.duplicates, summary.conflicts)
    assert counts == (1, 1, 2)
    got = rows(tmp_path / "w.duckdb", "SELECT user_id, source_line FROM conflicts ORDER BY 1")
    assert got == [("bob", 4), ("eve", 5)]
    manifest = rows(
        tmp_path / "w.duckdb",
        "SELECT data_lines, rows_stored, duplicates, conflicts FROM ingested_files ORDER BY path",
    )
    assert manifest == [(3, 1, 1, 1), (1, 0, 0, 1)]


@pytest.mark.parametrize("fast_min_bytes", [0, GENERAL])
def test_the_conflicts_case_counts_both_versions_the_same_through_either_path(
    fast_min_bytes: int, tmp_path: Path
) -> None:
    db = tmp_path / "w.duckdb"
    summary = ingest(db, DATA / "conflicts", fast_min_bytes=fast_min_bytes)
    assert (summary.data_lines, summary.rows_stored, summary.duplicates) == (5, 2, 1)
    assert summary.conflicts == 2
    got = rows(db, "SELECT user_id, result, source_line FROM conflicts ORDER BY source_line")
    assert got == [("kim", "AccessDenied", 4), ("eve", "Success", 5)]
    assert rows(db, "SELECT user_id, result FROM requests WHERE row_id = 'good-1'") == [
        ("kim", "Success")
    ]
