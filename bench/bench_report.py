"""Report speed: `build_report` on the 10M-row yardstick warehouse vs plain key_usage scans.

Two yardsticks, measured in the same run on the same connection: the cheapest scan of the
`key_usage` view (`count(*)`, `count(DISTINCT user_id)`), and a scan of every key_usage
column the report reads (distinct counts of users, documents, file names, clients, IPs),
which computes the whole attribution the report needs. Prints seconds and the ratio
report/yardstick for the whole warehouse (HTML only, then every export format) and for
one day (what a nightly cron job asks for). BENCH_SCALE=1.0 is the 10M-row warehouse;
use 0.02 while developing.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from common import peak_rss_mib, section, shared_warehouse, tenant_options, timed

from pipeline.report import PeriodKind, ReportOptions, build_report, period_of
from pipeline.warehouse import open_warehouse

ALL_FORMATS = ("html", "csv", "json", "parquet", "xlsx")


def main() -> None:
    options = tenant_options()
    with section("inputs (cached under bench/out/)"):
        db, prep_s = timed(lambda: shared_warehouse())
        print(f"warehouse ready in {prep_s:.1f}s: {db}")
    with open_warehouse(db, read_only=True) as con, tempfile.TemporaryDirectory() as tmp:
        rows = con.execute("SELECT count(*) FROM requests").fetchall()[0][0]
        findings = con.execute("SELECT count(*) FROM findings").fetchall()[0][0]
        print(f"requests: {rows:,} rows; findings: {findings:,}")
        cheap = "SELECT count(*), count(DISTINCT user_id) FROM key_usage"
        (calls, _), cheap_s = timed(lambda: con.execute(cheap).fetchall()[0])
        print(f"yardstick A: key_usage count + distinct users ({calls:,} key calls) {cheap_s:.2f}s")
        full = (
            "SELECT count(DISTINCT user_id), count(DISTINCT content_id), "
            "count(DISTINCT file_name), count(DISTINCT c_info), count(DISTINCT c_ip) "
            "FROM key_usage"
        )
        _, full_s = timed(lambda: con.execute(full).fetchall())
        print(f"yardstick B: key_usage scan of the report's columns {full_s:.2f}s")
        day = period_of(PeriodKind.DAY, options.start + timedelta(days=options.days // 2))
        runs = [
            ("whole warehouse, html", ReportOptions()),
            ("whole warehouse, all formats", ReportOptions(formats=ALL_FORMATS)),
            (f"one day ({day.label}), html", ReportOptions(period=day)),
        ]
        build_report(con, Path(tmp), ReportOptions(period=day))  # warm-up: imports, templates
        for name, opts in runs:
            result, secs = timed(lambda o=opts: build_report(con, Path(tmp), o))
            print(
                f"report {name}: {secs:.2f}s = {secs / cheap_s:.1f}x A, {secs / full_s:.1f}x B "
                f"({len(result.files)} files, {result.key_calls:,} key calls)"
            )
    print(f"peak RSS of this process: {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
