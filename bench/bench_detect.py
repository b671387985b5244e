"""Detection speed: attribution and every rule on the shared ~10M-row warehouse (BENCH_SCALE=1).

Yardstick from the same run and the same warehouse: a plain `count(*)` of `requests`, and a
`GROUP BY request_type` scan. Prints seconds and the ratio of each against the count(*) scan.
"""

from __future__ import annotations

import duckdb
from common import SCALE, peak_rss_mib, section, shared_warehouse, tenant_options, timed

from pipeline.detect import list_rules, run_detections
from pipeline.settings import Settings
from pipeline.warehouse import open_warehouse


def _scan(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    return con.execute(sql).fetchall()


def main() -> None:
    options = tenant_options()
    with section(f"warehouse (BENCH_SCALE={SCALE:g})"):
        db, build_s = timed(lambda: shared_warehouse())
        print(f"ready in {build_s:.1f}s: {db}")
    settings = Settings(timezone=options.tz)
    with open_warehouse(db) as con:
        (rows,), count_s = timed(lambda: _scan(con, "SELECT count(*) FROM requests")[0])
        _, group_s = timed(
            lambda: _scan(con, "SELECT request_type, count(*) FROM requests GROUP BY 1")
        )
        attributed, attrib_s = timed(
            lambda: _scan(con, "SELECT count(*), count(*) FILTER (is_orphan) FROM key_usage")[0]
        )
        per_rule = {}
        for rule in list_rules():
            summary, seconds = timed(lambda r=rule.id: run_detections(con, [r], settings=settings))
            per_rule[rule.id] = (seconds, summary.findings)
        summary, detect_s = timed(lambda: run_detections(con, settings=settings))
    with section("results"):
        print(f"requests rows: {rows:,}; key calls: {attributed[0]:,} ({attributed[1]:,} orphans)")
        print(f"baseline count(*) of requests:        {count_s:8.3f}s")
        print(f"baseline GROUP BY request_type scan:  {group_s:8.3f}s  ({group_s / count_s:.1f}x)")
        print(
            f"key_usage attribution (full view):    {attrib_s:8.3f}s  ({attrib_s / count_s:.1f}x)"
        )
        for rule_id, (seconds, n) in per_rule.items():
            print(
                f"  rule {rule_id:<28}{seconds:8.3f}s  ({seconds / count_s:.1f}x), {n} finding(s)"
            )
        print(
            f"rmslog detect, all {len(per_rule)} rules:         {detect_s:8.3f}s  "
            f"({detect_s / count_s:.1f}x count(*), {detect_s / group_s:.1f}x GROUP BY), "
            f"{summary.findings} finding(s)"
        )
        print(f"peak RSS of this process: {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
