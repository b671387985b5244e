"""The rules on DuckDB and on Spark `local[2]` over the same data (not a timed test).

A tenant of about 10M rows at BENCH_SCALE=1 (the issues' yardstick; BENCH_SCALE=0.1 gives
about 1M) is ingested once into a warehouse and its Parquet lake. Then, each as a child
process with its wall time and peak RSS (GNU time, as bench_scale): `rmslog detect --full`
on the warehouse (DuckDB, the baseline) and `rmslog detect --engine spark --lake` on the
lake (Spark local[2]). Printed: both, and Spark's time as a ratio to DuckDB's: what one
machine gains or pays on the cluster path. Spark's peak RSS is the Python driver's only:
the JVM is a separate process that GNU time does not see. Skipped without Java or the
`spark` extra.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys

import duckdb
from bench_scale import GIB, Run, rmslog, run
from common import OUT, ensure_logs, tenant_options


def _show(name: str, r: Run) -> None:
    print(f"   {name:<34} {r.seconds:8.1f} s   {r.peak_bytes / GIB:5.2f} GiB peak")


def main() -> int:
    if not shutil.which("java") or importlib.util.find_spec("pyspark") is None:
        print("bench_spark: skipped (needs Java and the spark extra: make test installs both)")
        return 0
    options = tenant_options()
    logs = ensure_logs(f"spark-{options.users}u-{options.days}d", options)
    work = logs.parent / "spark-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    db, lake = work / "rmslog.duckdb", work / "lake"
    ingest = run(rmslog("ingest", logs, "--db", db, "--lake", lake))
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT count(*) FROM requests").fetchall()[0][0]
    print(f"-- {options.users} users x {options.days} days: {rows:,} rows, under {OUT}")
    _show("ingest (warehouse + lake)", ingest)
    duck = run(rmslog("detect", "--db", db, "--full"))
    _show("detect --full (DuckDB)", duck)
    spark = run(rmslog("detect", "--engine", "spark", "--lake", lake, "--master", "local[2]"))
    _show("detect --engine spark (local[2])", spark)
    print("   (Spark's peak: the Python driver only; the JVM is not measured)")
    if not (ingest.ok and duck.ok and spark.ok):
        return 1
    print(f"   Spark / DuckDB wall time: {spark.seconds / duck.seconds:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
