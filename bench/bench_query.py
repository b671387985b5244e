"""Query speed: every named query through the sandbox, on the shared ~10M-row warehouse.

Baselines from the same run and the same warehouse: the same SQL with the same bound values
on a plain read-only DuckDB connection, fetched with `fetchall()` (so the ratio is what the
sandbox, the statement check and the Polars frame cost), and a `count(*)` scan of
`requests` for scale. Each figure is the best of three runs; each sandboxed run opens,
queries and closes the warehouse, as `rmslog query` does.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
from common import SCALE, peak_rss_mib, section, shared_warehouse, timed

from pipeline import query
from pipeline.settings import Settings

RUNS = 3


def best(fn: Callable[[], object]) -> float:
    return min(timed(fn)[1] for _ in range(RUNS))


def _plain(db: str, sql: str, params: dict[str, object] | None = None) -> None:
    con = duckdb.connect(db, read_only=True)
    try:
        con.execute(sql, params).fetchall()
    finally:
        con.close()


def _sample_values(db: str) -> dict[str, object]:
    sql = """SELECT arg_max(content_id, ts) AS document, arg_max(user_id, ts) AS user,
                    arg_max(c_ip, ts) AS ip
             FROM requests WHERE request_type = 'AcquireLicense'"""
    return query.query(db, sql).row(0, named=True)


def main() -> None:
    with section(f"warehouse (BENCH_SCALE={SCALE:g})"):
        db_path, build_s = timed(lambda: shared_warehouse())
        db = str(db_path)
        print(f"ready in {build_s:.1f}s: {db}")
    settings = Settings(timezone="America/New_York")
    values = _sample_values(db)
    count_s = best(lambda: _plain(db, "SELECT count(*) FROM requests"))
    open_plain = best(lambda: duckdb.connect(db, read_only=True).close())
    open_sandbox = best(lambda: query.open_sandbox(db).close())
    with section("results"):
        print(f"baseline count(*) of requests:            {count_s:8.3f}s")
        print(
            f"open+close: plain read-only {open_plain:.4f}s, sandbox {open_sandbox:.4f}s "
            f"({open_sandbox / open_plain:.2f}x)"
        )
        total_ours = total_base = 0.0
        for named in query.named_queries():
            given = {p.name: values[p.name] for p in named.params if p.name in values}
            bound = query.bind_named(named, given, settings)
            ours = best(
                lambda n=named.name, g=given: query.query_named(db, n, g, settings=settings)
            )
            base = best(lambda s=named.sql, b=bound: _plain(db, s, b))
            total_ours, total_base = total_ours + ours, total_base + base
            print(
                f"  {named.name:<26} sandbox {ours:7.3f}s  plain {base:7.3f}s  "
                f"ours/plain {ours / base:5.2f}x  ({ours / count_s:6.1f}x count(*))"
            )
        print(
            f"all {len(query.named_queries())} named queries: sandbox {total_ours:.3f}s, "
            f"plain {total_base:.3f}s, ratio ours/plain {total_ours / total_base:.2f}x"
        )
        print(f"peak RSS of this process: {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
