"""Incremental detect: `detect` after one more day arrives, against a full `detect --full`.

A BYOK Key Vault tenant with every scenario (60 days, 6,500 users: about 10M rows at
BENCH_SCALE=1; users scale with BENCH_SCALE). All days but the last are ingested and
detected; then the last day arrives and `detect` runs (incremental), then `detect --full`
on the same warehouse. Prints both times, the ratio (issue 11's target: <= 0.35 at 10M
rows) and that both gave the same findings.
"""

from __future__ import annotations

import os
from datetime import date

from common import OUT, SCALE, ensure_logs, peak_rss_mib, section, timed

from pipeline.detect import run_detections
from pipeline.generate import SCENARIOS, GenerateOptions
from pipeline.ingest import ingest_paths
from pipeline.schema import Topology
from pipeline.settings import Settings
from pipeline.warehouse import open_warehouse

DAYS = int(os.environ.get("BENCH_DAYS", "60"))


def main() -> None:
    options = GenerateOptions(
        start=date(2026, 9, 1),
        days=DAYS,
        users=max(10, int(6_500 * SCALE)),
        seed=42,
        topology=Topology.BYOK_KEYVAULT,
        scenarios=SCENARIOS,
    )
    name = f"incremental-x{SCALE:g}-d{DAYS}"
    with section(f"logs (BENCH_SCALE={SCALE:g}, {DAYS} days, {options.users:,} users)"):
        logs, gen_s = timed(lambda: ensure_logs(name, options))
        files = sorted(logs.glob("*.log*"))
        print(f"{len(files)} daily files ready in {gen_s:.1f}s")
    db = OUT / name / "incremental.duckdb"
    db.unlink(missing_ok=True)
    settings = Settings(timezone=options.tz)
    with open_warehouse(db) as con:
        with section("history: every day but the last, ingested and detected"):
            _, ingest_s = timed(lambda: ingest_paths(con, files[:-1]))
            _, first_s = timed(lambda: run_detections(con, settings=settings, full=True))
            rows = con.execute("SELECT count(*) FROM requests").fetchall()[0][0]
            print(f"{rows:,} rows ingested in {ingest_s:.1f}s; first full detect {first_s:.2f}s")
        with section("one more day arrives"):
            _, day_s = timed(lambda: ingest_paths(con, files[-1:]))
            rows = con.execute("SELECT count(*) FROM requests").fetchall()[0][0]
            inc, inc_s = timed(lambda: run_detections(con, settings=settings))
            found_inc = con.execute("SELECT * FROM findings ORDER BY finding_id").fetchall()
            full, full_s = timed(lambda: run_detections(con, settings=settings, full=True))
            found_full = con.execute("SELECT * FROM findings ORDER BY finding_id").fetchall()
    with section("results"):
        print(f"warehouse rows: {rows:,} (last day ingested in {day_s:.1f}s)")
        days = {r: ("all" if d is None else d) for r, d in inc.days_by_rule.items()}
        print(f"detect after one more day (incremental): {inc_s:8.3f}s  days re-judged {days}")
        print(f"detect --full on the same warehouse:      {full_s:8.3f}s")
        print(f"ratio incremental / full: {inc_s / full_s:.2f}x (target <= 0.35x at 10M rows)")
        same = "identical" if found_inc == found_full else "DIFFERENT"
        print(f"findings: {inc.findings} incremental, {full.findings} full: {same}")
        print(f"peak RSS of this process: {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
