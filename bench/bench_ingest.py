"""Ingest speed: rmslog ingest vs a plain DuckDB read_csv of the same files (same run).

Prints rows/s for both and the ratio ours/baseline (lower is better; target <= 1.0).
Size: BENCH_DAYS x BENCH_USERS generated tenant (defaults give about 1M rows).
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from pipeline.generate import GenerateOptions, generate_logs
from pipeline.ingest import ingest_paths
from pipeline.warehouse import open_warehouse


def main() -> None:
    days = int(os.environ.get("BENCH_DAYS", "30"))
    users = int(os.environ.get("BENCH_USERS", "1500"))
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp) / "logs"
        t0 = time.perf_counter()
        gen = generate_logs(logs, GenerateOptions(start=date(2026, 9, 1), days=days, users=users))
        gen_s = time.perf_counter() - t0
        print(f"generate: {gen.records:,} rows in {gen_s:.2f}s = {gen.records / gen_s:,.0f} rows/s")

        base_db = Path(tmp) / "baseline.duckdb"
        t0 = time.perf_counter()
        con = duckdb.connect(str(base_db))
        con.execute(
            "CREATE TABLE raw AS SELECT * FROM read_csv($glob, delim='\t', "
            "header=false, all_varchar=true, quote='', escape='', comment='#', "
            "null_padding=true, ignore_errors=true)",
            {"glob": f"{logs}/*.log"},
        )
        base_rows = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
        con.close()
        base_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        with open_warehouse(Path(tmp) / "rmslog.duckdb") as wh:
            summary = ingest_paths(wh, [logs])
        ours_s = time.perf_counter() - t0
        print(f"baseline duckdb read_csv (all VARCHAR): {base_rows:,} rows in {base_s:.2f}s")
        print(
            f"rmslog ingest (typed, deduplicated):    {summary.rows_stored:,} rows in {ours_s:.2f}s"
        )
        print(f"ratio ours/baseline: {ours_s / base_s:.2f}x")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
