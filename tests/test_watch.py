"""watch: new blobs and growing files arrive exactly once, a busy warehouse is waited out,
and Ctrl-C stops it cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import pytest
from conftest import rmslog
from test_ingest_recovery import hold_warehouse

from pipeline.errors import ExitCode
from pipeline.ingest import WatchStatus, watch_folder


def source_lines(small_logs: Path) -> tuple[str, list[str]]:
    """The header and the data lines of the first two generated days."""
    header, lines = "", []
    for log in sorted(small_logs.glob("*.log"))[:2]:
        text = log.read_text(encoding="utf-8").splitlines(keepends=True)
        header = "".join(text[:3])
        lines += text[3:]
    return header, lines


class Cycles:
    """Counts watch's cycles, so the feeder can wait until watch has looked at what it wrote
    instead of hoping a sleep was long enough on a busy machine."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def tick(self) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def seen(self, timeout: float = 60) -> None:
        """Return once a whole cycle has run after this call (the one running may have
        scanned the folder before the write: wait for two ends)."""
        with self.changed:
            target = self.count + 2
            assert self.changed.wait_for(lambda: self.count >= target, timeout), "watch stalled"


def feed(folder: Path, header: str, lines: list[str], done: threading.Event, cycles: Cycles) -> int:
    """Write blobs (numbered files, each seen half-written first) and grow a daily file with
    the same records, each part's first line seen torn; return the number of parts."""
    daily = folder / "rmslog-daily.log"
    daily.write_text(header, encoding="utf-8")
    step = max(1, len(lines) // 6)
    parts = 0
    for n, start in enumerate(range(0, len(lines), step), start=1):
        part = lines[start : start + step]
        blob = folder / "blobs" / f"{n:09d}"
        blob.parent.mkdir(exist_ok=True)
        body = header + "".join(part)
        with blob.open("w", encoding="utf-8") as f:
            f.write(body[: len(body) // 2])
            f.flush()
            cycles.seen()  # watch has seen it half-written
            f.write(body[len(body) // 2 :])
        with daily.open("a", encoding="utf-8") as f:
            for i, line in enumerate(part):
                f.write(line[:10])  # a torn line, completed a moment later
                f.flush()
                if i == 0:
                    cycles.seen()  # watch has seen the torn line
                f.write(line[10:])
        parts += 1
    done.set()
    return parts


def stored(db: Path) -> tuple[int, int, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.sql(
            "SELECT count(*), count(DISTINCT row_id), (SELECT count(*) FROM rejects) FROM requests"
        ).fetchall()[0]
        return int(row[0]), int(row[1]), int(row[2])
    finally:
        con.close()


@pytest.mark.slow
def test_watch_stores_every_record_of_new_blobs_and_a_growing_file_exactly_once(
    small_logs: Path, tmp_path: Path
) -> None:
    header, lines = source_lines(small_logs)
    folder, db, lake = tmp_path / "logs", tmp_path / "w.duckdb", tmp_path / "lake"
    folder.mkdir()
    stop, fed, cycles = threading.Event(), threading.Event(), Cycles()
    statuses: list[WatchStatus] = []
    parts: list[int] = []

    def on_cycle(status: WatchStatus) -> None:
        statuses.append(status)
        cycles.tick()
        if fed.is_set() and status.data_lines == 2 * len(lines):  # blobs + the daily file
            stop.set()

    def feeder_main() -> None:
        try:
            parts.append(feed(folder, header, lines, fed, cycles))
        finally:
            fed.set()  # a failed feeder must not leave watch running forever
            if not parts:
                stop.set()

    feeder = threading.Thread(target=feeder_main)
    feeder.start()
    final = watch_folder(folder, db, stop=stop, interval=0.05, lake=lake, on_cycle=on_cycle)
    feeder.join()
    assert parts, "the feeder failed"
    assert stored(db) == (len(lines), len(lines), 0)
    assert (final.rows_stored, final.duplicates, final.rejected) == (len(lines), len(lines), 0)
    # Each part was seen half-written, then torn: at least two cycles per part.
    assert final.cycles >= 2 * parts[0] and final.files_refused == 0 and final.busy is None
    assert final.newest_ts is not None and final.lag_seconds() is not None
    assert max(s.rows_per_second for s in statuses) > 0
    lake_rows = duckdb.execute(
        "SELECT count(*), count(DISTINCT row_id) FROM read_parquet($f, hive_partitioning = true)",
        {"f": str(lake / "requests" / "**" / "*.parquet")},
    ).fetchall()
    assert lake_rows == [(len(lines), len(lines))]


def test_watch_waits_out_a_busy_warehouse_and_then_catches_up(
    small_logs: Path, tmp_path: Path
) -> None:
    db = tmp_path / "w.duckdb"
    holder = hold_warehouse(db, 1.5)
    stop = threading.Event()
    seen: list[str | None] = []

    def on_cycle(status: WatchStatus) -> None:
        seen.append(status.busy)
        if status.rows_stored:
            stop.set()

    status = watch_folder(
        small_logs, db, stop=stop, interval=0.05, wait_seconds=0.1, on_cycle=on_cycle
    )
    holder.wait()
    assert seen[0] is not None and "is in use by another rmslog process" in seen[0]
    assert seen[-1] is None and status.rows_stored == stored(db)[0] > 0


@pytest.mark.slow
def test_rmslog_watch_stops_cleanly_on_ctrl_c_with_a_summary(
    small_logs: Path, tmp_path: Path
) -> None:
    db = tmp_path / "w.duckdb"
    child = subprocess.Popen(
        rmslog("watch", small_logs, "--db", db, "--interval", "0.2", "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.3)
        try:
            if stored(db)[0]:
                break
        except duckdb.Error:
            continue  # not created yet, or watch holds it right now
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == ExitCode.OK, err
    summary = json.loads(out)
    assert summary["rows_stored"] == stored(db)[0] > 0
    assert "stopped: " in err and f"{summary['rows_stored']:,} stored" in err


def test_watch_of_a_missing_folder_is_an_input_error(cli: object, tmp_path: Path) -> None:
    result = cli("watch", tmp_path / "nope", "--db", tmp_path / "w.duckdb")  # type: ignore[operator]
    assert result.exit_code == ExitCode.INPUT
    assert "nope: no such folder" in result.stderr


def _blob_row_ids(feed: Path) -> list[str]:
    """Row-ids of every data line in the feed's finished blobs, read independently."""
    ids = []
    for blob in sorted(feed.rglob("*.log")):
        for line in blob.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                ids.append(line.split("\t")[2])
    return ids


@pytest.mark.slow
def test_generate_follow_feeds_watch_and_every_record_arrives_exactly_once(
    tmp_path: Path,
) -> None:
    feed, db = tmp_path / "feed", tmp_path / "w.duckdb"
    feed.mkdir()  # the storage folder exists before the first blob does
    generator = subprocess.Popen(
        rmslog("generate", feed, "--follow", "--days", "1", "--users", "12", "--speed", "1800",
               "--blob-minutes", "30", "--scenarios", "all"),
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    watcher = subprocess.Popen(
        rmslog("watch", feed, "--db", db, "--interval", "0.2", "--json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(list(feed.rglob("*.log"))) < 52:
            time.sleep(0.2)  # a day of history (48 blobs), then live blobs as time runs
        generator.send_signal(signal.SIGINT)
        _, gen_err = generator.communicate(timeout=60)
        assert generator.returncode == ExitCode.OK, gen_err
        expected = _blob_row_ids(feed)
        assert len(expected) > 100
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if stored(db)[0] >= len(expected):
                    break
            except duckdb.Error:
                pass  # watch holds the warehouse right now
            time.sleep(0.3)
    finally:
        watcher.send_signal(signal.SIGINT)
        out, err = watcher.communicate(timeout=60)
    assert watcher.returncode == ExitCode.OK, err
    rows, distinct, rejects = stored(db)
    assert (rows, distinct, rejects) == (len(expected), len(set(expected)), 0)
    con = duckdb.connect(str(db), read_only=True)
    try:
        ids = {r[0] for r in con.sql("SELECT row_id FROM requests").fetchall()}
    finally:
        con.close()
    assert ids == set(expected)
    summary = json.loads(out)
    assert summary["data_lines"] == (
        summary["rows_stored"] + summary["duplicates"] + summary["rejected"]
    )
