"""Watch a folder: ingest new and grown log files as they appear, until told to stop.

Polling, no new dependency: every `interval` seconds the folder is listed and each log
file's size and modification time compared with what the last cycle saw. Only when
something changed is the warehouse opened, for one short ingest, and closed again, so
that readers (`rmslog query`, `report`, notebooks) can open it between cycles. A
warehouse held by someone else is waited for a few seconds, then the cycle is skipped
and retried; watch never fails on a busy warehouse.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from threading import Event

from pipeline.errors import LogFormatError
from pipeline.ingest.loader import IngestSummary, discover, ingest_paths, real_path
from pipeline.ingest.source import Resume
from pipeline.warehouse import WAIT_SECONDS, WarehouseBusy, open_warehouse

#: Rows per second are averaged over this many seconds of recent cycles.
RATE_WINDOW = 60.0


@dataclass
class WatchStatus:
    """What watch has done so far; handed to `on_cycle` after every cycle."""

    folder: str
    cycles: int = 0
    files: int = 0
    files_refused: int = 0
    data_lines: int = 0
    rows_stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    lake_files: int = 0
    files_changed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    newest_ts: datetime | None = None  # latest record time in the warehouse
    rows_per_second: float = 0.0  # rows stored per second over the last minute
    busy: str | None = None  # why the last cycle could not open the warehouse
    seconds: float = 0.0
    kv_files: int = 0  # Key Vault AuditEvent files and their records (`keyvault_events`)
    kv_records: int = 0
    kv_stored: int = 0
    kv_duplicates: int = 0
    kv_rejected: int = 0

    def lag_seconds(self, now: datetime | None = None) -> float | None:
        """How far the newest stored record is behind the clock (UTC)."""
        if self.newest_ts is None:
            return None
        now = now or datetime.now(UTC).replace(tzinfo=None)
        return (now - self.newest_ts).total_seconds()

    def add(self, summary: IngestSummary) -> None:
        self.files += summary.files
        self.files_refused += summary.files_refused
        self.data_lines += summary.data_lines
        self.rows_stored += summary.rows_stored
        self.duplicates += summary.duplicates
        self.conflicts += summary.conflicts
        self.files_changed.extend(summary.files_changed)
        self.rejected += summary.rejected
        self.lake_files += summary.lake_files
        self.kv_files += summary.kv_files
        self.kv_records += summary.kv_records
        self.kv_stored += summary.kv_stored
        self.kv_duplicates += summary.kv_duplicates
        self.kv_rejected += summary.kv_rejected
        self.refused.extend(summary.refused)
        if summary.newest_ts is not None:
            self.newest_ts = max(summary.newest_ts, self.newest_ts or summary.newest_ts)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "lag_seconds": self.lag_seconds()}


OnCycle = Callable[[WatchStatus], None]


def watch_folder(
    folder: Path,
    db: Path,
    *,
    stop: Event,
    interval: float = 5.0,
    lake: Path | None = None,
    wait_seconds: float = WAIT_SECONDS,
    on_cycle: OnCycle | None = None,
) -> WatchStatus:
    """Ingest `folder` into `db` every `interval` seconds until `stop` is set; return the
    totals. Stopping lets the file being read commit; nothing is left half-stored."""
    if not folder.is_dir():
        raise LogFormatError(f"{folder}: no such folder")
    watcher = _Watcher(folder, db, lake, wait_seconds, stop)
    started = time.monotonic()
    while not stop.is_set():
        cycle_start = time.monotonic()
        watcher.cycle()
        watcher.status.seconds = round(time.monotonic() - started, 3)
        if on_cycle is not None:
            on_cycle(watcher.status)
        stop.wait(max(0.0, interval - (time.monotonic() - cycle_start)))
    return watcher.status


class _Watcher:
    def __init__(
        self, folder: Path, db: Path, lake: Path | None, wait_seconds: float, stop: Event
    ) -> None:
        self.folder, self.db, self.lake = folder, db, lake
        self.wait_seconds, self.stop = wait_seconds, stop
        self.status = WatchStatus(str(folder))
        self.seen: dict[str, tuple[int, int]] = {}  # file -> (size, mtime) when last read
        self.resume: dict[str, Resume] = {}
        self.rates: deque[tuple[float, int]] = deque([(time.monotonic(), 0)])
        self.opened = False

    def cycle(self) -> None:
        found = {real_path(p): p for p in discover([self.folder])}
        stats = {k: _stat(p) for k, p in found.items()}
        changed = [found[k] for k, v in stats.items() if v is not None and self.seen.get(k) != v]
        if changed or not self.opened:
            self._ingest(changed, stats)
        self.status.cycles += 1
        self._rate()

    def _ingest(self, files: list[Path], stats: dict[str, tuple[int, int] | None]) -> None:
        done: list[str] = []
        try:
            with open_warehouse(self.db, wait_seconds=self.wait_seconds) as con:
                if not self.opened:
                    self.opened = True
                    newest = con.execute("SELECT max(ts) FROM requests").fetchall()[0][0]
                    self.status.newest_ts = newest
                summary = ingest_paths(
                    con,
                    files,
                    lake=self.lake,
                    stop=self.stop,
                    resume=self.resume,
                    on_file=lambda _key, given, _outcome: done.append(real_path(Path(given))),
                )
        except WarehouseBusy as e:
            self.status.busy = str(e)
            return
        self.status.busy = None
        self.status.add(summary)
        for key in done:  # a file not reached (stop) is looked at again next time
            stat = stats.get(key)
            if stat is not None:
                self.seen[key] = stat

    def _rate(self) -> None:
        now = time.monotonic()
        self.rates.append((now, self.status.rows_stored))
        while len(self.rates) > 2 and now - self.rates[1][0] > RATE_WINDOW:
            self.rates.popleft()
        (t0, r0), (t1, r1) = self.rates[0], self.rates[-1]
        self.status.rows_per_second = (r1 - r0) / (t1 - t0) if t1 > t0 else 0.0


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None  # vanished between listing and looking
    return st.st_size, st.st_mtime_ns
