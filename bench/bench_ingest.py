"""Ingest speed and memory: rmslog ingest vs a plain DuckDB read_csv of the same files.

Every measurement runs in a child process of its own, so that each reports its own
wall time, CPU time and peak RSS (VmHWM). Sizes follow BENCH_SCALE: 1.0 is 64 days of
`bench.common.tenant_options()`, just over 10M rows. BENCH_REPEAT runs the baseline/ours
pair that many times (interleaved) and keeps the fastest of each: the machine is shared.

Sections:
  1. baseline (DuckDB read_csv straight into a table, all VARCHAR, no validation) vs
     rmslog ingest (typed, validated, deduplicated, line numbers, manifest);
  2. on a ~1M-row slice: the general path (NumPy + Polars) vs the DuckDB path, and pandas
     read_csv (strings only, no typing) for scale;
  3. memory: one file holding every row (DuckDB path) and an irregular one (general path);
  4. incremental: one new 100k-row blob into the full warehouse vs into an empty one.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent))  # `python bench/bench_ingest.py`

from bench.common import OUT, SCALE, ensure_logs, section, tenant_options
from pipeline.ingest import CHUNK_BYTES

REPEAT = int(os.environ.get("BENCH_REPEAT", "1"))
SLICE_ROWS = 1_000_000
BLOB_ROWS = 100_000
WORK = OUT / "ingest-work"


def main() -> None:
    logs = ensure_logs("ingest-10m", tenant_options(days=64))  # >= 10M rows at scale 1
    files = sorted(logs.glob("*.log"))
    rows = sum(_data_lines(f) for f in files)
    size = sum(f.stat().st_size for f in files)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    print(
        f"input: {rows:,} rows in {len(files)} daily files, {size / 2**30:.2f} GiB "
        f"(BENCH_SCALE={SCALE})"
    )
    warehouse = _full_ingest(logs, rows)
    _paths_on_a_slice(files)
    _memory(files)
    _incremental(warehouse)


def _full_ingest(logs: Path, rows: int) -> Path:
    with section(
        "1. full ingest: rmslog ingest vs DuckDB read_csv (all VARCHAR) of the same files"
    ):
        base, ours = [], []
        for i in range(REPEAT):
            base.append(_child("baseline", WORK / f"baseline-{i}.duckdb", logs))
            ours.append(_child("ingest", WORK / f"ours-{i}.duckdb", logs))
        b = min(base, key=lambda r: r["wall"])
        o = min(ours, key=lambda r: r["wall"])
        s = o["summary"]
        print(
            f"baseline read_csv: {b['rows']:,} rows in {b['wall']:.1f}s wall, {b['cpu']:.1f}s CPU, "
            f"{b['db_mib']:,.0f} MiB on disk, peak RSS {b['rss_mib']:,.0f} MiB"
        )
        print(
            f"rmslog ingest:     {s['rows_stored']:,} rows in {o['wall']:.1f}s wall, "
            f"{o['cpu']:.1f}s CPU, {o['db_mib']:,.0f} MiB on disk, "
            f"peak RSS {o['rss_mib']:,.0f} MiB "
            f"({s['files_read_by_duckdb']} of {s['files']} files read by DuckDB)"
        )
        print(
            f"  every line accounted for: {s['data_lines']:,} = {s['rows_stored']:,} stored "
            f"+ {s['duplicates']:,} duplicates + {s['conflicts']:,} conflicts "
            f"+ {s['rejected']:,} rejected "
            f"(generated: {rows:,})"
        )
        print(
            f"ratio ours/baseline: {o['wall'] / b['wall']:.2f}x wall, "
            f"{o['cpu'] / b['cpu']:.2f}x CPU, {o['db_mib'] / b['db_mib']:.2f}x disk "
            "(target <= 1.0x)"
        )
        sha = _child("sha256", WORK / "unused", logs)
        print(
            f"  of which the evidence hash alone (SHA-256 of every input byte, which the "
            f"baseline does not do): {sha['cpu']:.1f}s CPU = {sha['cpu'] / b['cpu']:.0%} of the "
            "baseline's CPU"
        )
        print(
            f"  all runs (wall s): baseline {[round(r['wall'], 1) for r in base]}, "
            f"ours {[round(r['wall'], 1) for r in ours]}"
        )
        return WORK / f"ours-{ours.index(o)}.duckdb"


def _paths_on_a_slice(files: list[Path]) -> None:
    chosen, total = [], 0
    for f in files:
        if total >= SLICE_ROWS:
            break
        chosen.append(f)
        total += _data_lines(f)
    folder = WORK / "slice"
    folder.mkdir()
    for f in chosen:
        (folder / f.name).symlink_to(f)
    with section(f"2. the two parsers on a {total:,}-row slice ({len(chosen)} files)"):
        fast = _child("ingest", WORK / "slice-fast.duckdb", folder)
        general = _child("ingest", WORK / "slice-general.duckdb", folder, "general")
        pandas = _child("pandas", WORK / "unused", folder)
        print(
            f"DuckDB path (read_csv into temp tables, typed in SQL): {fast['wall']:.2f}s wall, "
            f"{fast['cpu']:.2f}s CPU"
        )
        print(
            f"general path (NumPy lines + Polars read_csv + Polars typing): "
            f"{general['wall']:.2f}s wall, {general['cpu']:.2f}s CPU "
            f"= {general['cpu'] / fast['cpu']:.2f}x the DuckDB path's CPU"
        )
        print(
            f"pandas read_csv (strings only, no typing, no storage): {pandas['wall']:.2f}s wall, "
            f"{pandas['cpu']:.2f}s CPU = {pandas['wall'] / fast['wall']:.2f}x rmslog's wall"
        )


def _memory(files: list[Path]) -> None:
    big = WORK / "rmslog-all-days.log"
    with big.open("wb") as out:
        for i, f in enumerate(files):
            with f.open("rb") as src:
                if i:
                    for _ in range(3):  # one header for the whole file: a regular file
                        src.readline()
                shutil.copyfileobj(src, out, 1 << 24)
    irregular = WORK / "rmslog-irregular.log"
    with irregular.open("wb") as out, big.open("rb") as src:
        shutil.copyfileobj(src, out, 1 << 24)  # nothing to skip: the blank line decides
        out.write(b"\n")
    with section("3. memory: one file with every row"):
        fast = _child("ingest", WORK / "big-fast.duckdb", big)
        print(
            f"{big.stat().st_size / 2**30:.2f} GiB regular file (DuckDB path): "
            f"{fast['summary']['rows_stored']:,} rows in {fast['wall']:.1f}s, "
            f"peak RSS {fast['rss_mib']:,.0f} MiB"
        )
        general = _child("ingest", WORK / "big-general.duckdb", irregular)
        print(
            f"{irregular.stat().st_size / 2**30:.2f} GiB file ending in a blank line (general "
            f"path, {CHUNK_BYTES >> 20} MiB chunks): {general['summary']['rows_stored']:,} rows in "
            f"{general['wall']:.1f}s, peak RSS {general['rss_mib']:,.0f} MiB (limit 1024)"
        )
    big.unlink()
    irregular.unlink()


def _incremental(warehouse: Path) -> None:
    blob = WORK / "blob" / "000000001"
    blob.parent.mkdir()
    days = min(60, max(1, round(1 / SCALE)))  # enough days for 100k rows at small scales
    seed_logs = ensure_logs("ingest-blob", tenant_options(days=days, seed=4242))
    with blob.open("w", encoding="utf-8") as out:
        for line_no, line in enumerate(_lines(sorted(seed_logs.glob("*.log")))):
            if line_no >= BLOB_ROWS + 3:
                break
            out.write(line)
    full, calm = WORK / "incremental-full.duckdb", WORK / "incremental-novacuum.duckdb"
    shutil.copy(warehouse, full)
    shutil.copy(warehouse, calm)
    with section(
        f"4. incremental: one {BLOB_ROWS:,}-row blob (times include the commit and close)"
    ):
        into_full = _child("ingest", full, blob)
        into_empty = _child("ingest", WORK / "incremental-empty.duckdb", blob)
        no_vacuum = _child("ingest", calm, blob, "novacuum")
        rows = into_full["warehouse_rows"]
        print(
            f"into the {rows:,}-row warehouse: {into_full['ingest_seconds']:.2f}s "
            f"({into_full['summary']['rows_stored']:,} stored)"
        )
        print(
            f"into an empty warehouse:        {into_empty['ingest_seconds']:.2f}s "
            f"({into_empty['summary']['rows_stored']:,} stored)"
        )
        print(
            f"ratio full/empty: {into_full['ingest_seconds'] / into_empty['ingest_seconds']:.2f}x"
        )
        print(
            f"  the same into the full warehouse with DuckDB's checkpoint compaction off "
            f"(max_vacuum_tasks = 0): {no_vacuum['ingest_seconds']:.2f}s = "
            f"{no_vacuum['ingest_seconds'] / into_empty['ingest_seconds']:.2f}x empty; the rest "
            "is DuckDB merging the partly filled row groups earlier loads left (rmslog keeps it on)"
        )


def _child(task: str, db: Path, path: Path, *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "child", task, str(db), str(path), *extra],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _run_child(task: str, db: Path, path: Path, extra: list[str]) -> dict[str, Any]:
    """One measurement, in this (child) process."""
    import duckdb

    result: dict[str, Any] = {}
    if task == "baseline":
        con = duckdb.connect(str(db))
        con.execute(
            "CREATE TABLE raw AS SELECT * FROM read_csv($glob, delim='\t', header=false, "
            "all_varchar=true, quote='', escape='', comment='#', null_padding=true, "
            "ignore_errors=true)",
            {"glob": f"{path}/*.log"},
        )
        result["rows"] = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
        con.close()
    elif task == "sha256":
        import hashlib

        for f in sorted(path.glob("*.log")):
            with f.open("rb") as src:
                hashlib.file_digest(src, "sha256")
    elif task == "pandas":
        import csv

        import pandas as pd

        frames = [
            pd.read_csv(
                f,
                sep="\t",
                header=None,
                comment="#",
                dtype=str,
                quoting=csv.QUOTE_NONE,
                keep_default_na=False,
            )
            for f in sorted(path.glob("*.log"))
        ]
        result["rows"] = int(sum(len(f) for f in frames))
    else:
        from pipeline.ingest import ingest_paths
        from pipeline.warehouse import open_warehouse

        fast_min = 1 << 60 if "general" in extra else None
        with open_warehouse(db) as con:
            if "novacuum" in extra:
                con.execute("SET max_vacuum_tasks = 0")
            started = time.perf_counter()
            options = {} if fast_min is None else {"fast_min_bytes": fast_min}
            summary = ingest_paths(con, [path], **options)
            result["warehouse_rows"] = con.execute("SELECT count(*) FROM requests").fetchall()[0][0]
        result["ingest_seconds"] = time.perf_counter() - started  # closing included
        result["summary"] = summary.as_dict()
    return result


def _peak_rss_mib() -> float:
    """This process's peak resident memory since its exec (VmHWM; `ru_maxrss` would
    also count what the parent held when it forked this child)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _data_lines(path: Path) -> int:
    """Data lines of a generated daily file: its lines but the three header lines."""
    return path.read_bytes().count(b"\n") - 3


def _lines(files: list[Path]) -> Any:
    for i, f in enumerate(files):
        with f.open(encoding="utf-8") as src:
            for n, line in enumerate(src):
                if i == 0 or n >= 3:
                    yield line


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        task, db, path = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
        t0 = time.perf_counter()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        res = _run_child(task, db, path, sys.argv[5:])
        usage = resource.getrusage(resource.RUSAGE_SELF)
        res["wall"] = time.perf_counter() - t0
        res["cpu"] = (usage.ru_utime + usage.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
        res["rss_mib"] = _peak_rss_mib()
        res["db_mib"] = db.stat().st_size / 2**20 if db.exists() else 0.0
        print(json.dumps(res, default=str))
    else:
        main()
