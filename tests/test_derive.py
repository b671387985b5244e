"""key_usage and the rollups are maintained as rows arrive, and always equal a from-scratch
recomputation: whatever the order, overlap and lateness of the files, on both ingest paths."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline import derive
from pipeline.generate import GenerateOptions, generate_logs
from pipeline.ingest import ingest_paths
from pipeline.warehouse import open_warehouse

KEY_MARKS = ("KMSP", "KeyVault", "\tDecrypt\t", "\tSignDigest\t")


def derived(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[object, ...]]]:
    return {t: con.sql(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in derive.TABLES}  # noqa: S608


def recomputed(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[object, ...]]]:
    """key_usage from scratch from requests; each rollup from scratch from key_usage and
    requests (valid as a reference once key_usage equals its recomputation)."""
    return {t: derive.reference(con, t).order("ALL").fetchall() for t in derive.TABLES}


def split_logs(logs: Path, out: Path, seed: int) -> list[list[Path]]:
    """The tenant's files cut into pieces that arrive in shuffled batches: each day's key
    calls in one file, its other records in another (so origins often arrive after their
    key calls, or before), and a third file repeating a random sample of both (overlap)."""
    rng = random.Random(seed)
    pieces: list[Path] = []
    for n, f in enumerate(sorted(p for p in logs.rglob("*.log"))):
        lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
        header = [line for line in lines if line.startswith("#")]
        data = [line for line in lines if not line.startswith("#")]
        keys = [line for line in data if any(m in line for m in KEY_MARKS)]
        others = [line for line in data if not any(m in line for m in KEY_MARKS)]
        again = rng.sample(data, k=len(data) // 3)
        for part, rows in (("keys", keys), ("origins", others), ("again", again)):
            target = out / f"{n:03d}-{part}.log"
            target.write_text("".join(header + rows), encoding="utf-8")
            pieces.append(target)
    rng.shuffle(pieces)
    size = max(1, len(pieces) // 4)
    return [pieces[i : i + size] for i in range(0, len(pieces), size)]


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tenant")
    generate_logs(
        out,
        GenerateOptions(
            start=date(2026, 11, 2), days=4, users=10, seed=7, scenarios=("orphan-key-calls",)
        ),
    )
    return out


@pytest.mark.slow
@pytest.mark.parametrize("path", ["general", "duckdb"])
def test_maintained_attribution_and_rollups_equal_a_recomputation_after_shuffled_late_files(
    tenant: Path, tmp_path: Path, path: str
) -> None:
    batches = split_logs(tenant, tmp_path, seed=3 if path == "general" else 4)
    fast_min_bytes = 0 if path == "duckdb" else 1 << 40
    db = tmp_path / "w.duckdb"
    for batch in batches:  # each batch is a later ingest run
        with open_warehouse(db) as con:
            summary = ingest_paths(con, batch, fast_min_bytes=fast_min_bytes)
        assert summary.files == len(batch)
        if path == "duckdb":
            assert summary.files_read_by_duckdb == len(batch)
    with open_warehouse(db) as con:
        maintained, expected = derived(con), recomputed(con)
        late = con.sql(
            "SELECT count(*) FROM key_usage k "
            "JOIN ingested_files kf ON kf.path = k.source_file "
            "JOIN ingested_files of ON of.path = k.origin_source_file "
            "WHERE of.ingested_at > kf.ingested_at"
        ).fetchall()[0][0]
    assert sum(not row[16] for row in maintained["key_usage"]) > 0, "nothing attributed"
    assert sum(row[16] for row in maintained["key_usage"]) > 0, "no orphan"
    assert late > 0, "no origin arrived after its key call: the test tests nothing"
    for table, rows in expected.items():
        assert maintained[table] == rows, table


def test_an_origin_that_arrives_later_can_take_over_a_key_call_and_its_rollups_follow(
    tmp_path: Path,
) -> None:
    from w3c_builder import Rec, write_log

    key = Rec("2026-11-02 10:00:05", "KMSPDecrypt", corr="c1", row="k1", user=None)
    lookup = Rec("2026-11-02 10:00:00", "FindServiceLocationsForUser", user="svc@x", corr="c1")
    licence = Rec("2026-11-02 10:00:03", "AcquireLicense", user="kim@x", corr="c1", ip="10.0.0.9")
    db = tmp_path / "w.duckdb"
    steps = [
        ([key], (None, True)),  # an orphan
        ([lookup], ("svc@x", False)),  # a request that does not use the key: the origin
        ([licence], ("kim@x", False)),  # a request that uses the key wins, though later
    ]
    for n, (records, expected) in enumerate(steps):
        with open_warehouse(db) as con:
            ingest_paths(con, [write_log(tmp_path / f"{n}.log", records)])
            assert con.sql("SELECT user_id, is_orphan FROM key_usage").fetchall() == [expected]
            users = con.sql(
                "SELECT user_id, calls, orphans FROM key_calls_by_origin ORDER BY ALL"
            ).fetchall()
            assert users == [(expected[0], 1, int(expected[1]))]
            assert derived(con) == recomputed(con)


#: The named queries as they read key_usage row by row before the rollups: the reference.
RAW_NAMED = {
    "key-topology-per-day": """
WITH daily AS (
    SELECT CAST(ts AS DATE) AS day, key_topology, count(*) AS calls
    FROM key_usage
    WHERE ts >= $from_ts AND ts < $to_ts
    GROUP BY ALL
)
SELECT day, key_topology, calls, round(calls / sum(calls) OVER (PARTITION BY day), 4) AS share
FROM daily
ORDER BY day, key_topology
""",
    "key-calls-per-day": """
SELECT CAST(ts AS DATE) AS day, operation, key_topology, count(*) AS calls,
       count(*) FILTER (WHERE result IS DISTINCT FROM 'Success') AS failures,
       count(*) FILTER (WHERE is_orphan) AS orphans
FROM key_usage
WHERE ts >= $from_ts AND ts < $to_ts
GROUP BY ALL
ORDER BY day, operation
""",
    "key-calls-per-hour": """
SELECT date_trunc('hour', ts) AS hour, operation, key_topology, count(*) AS calls,
       count(*) FILTER (WHERE result IS DISTINCT FROM 'Success') AS failures,
       count(*) FILTER (WHERE is_orphan) AS orphans
FROM key_usage
WHERE ts >= $from_ts AND ts < $to_ts
GROUP BY ALL
ORDER BY hour, operation
""",
    "key-calls-by-user": """
SELECT user_id, count(*) AS calls,
       count(*) FILTER (WHERE operation ILIKE '%decrypt%') AS decrypts,
       count(*) FILTER (WHERE operation ILIKE '%sign%') AS signs,
       count(DISTINCT content_id) AS documents, count(DISTINCT c_ip) AS ips,
       min(ts) AS first_ts, max(ts) AS last_ts,
       round(count(*) / sum(count(*)) OVER (), 4) AS share
FROM key_usage
WHERE ts >= $from_ts AND ts < $to_ts
GROUP BY user_id
ORDER BY calls DESC, user_id
LIMIT $top
""",
    "key-calls-by-app": """
SELECT ci.app_name, ci.os_name, count(*) AS calls, count(DISTINCT k.user_id) AS users,
       min(k.ts) AS first_ts, max(k.ts) AS last_ts,
       round(count(*) / sum(count(*)) OVER (), 4) AS share
FROM key_usage k
LEFT JOIN client_info ci USING (c_info)
WHERE k.ts >= $from_ts AND k.ts < $to_ts
GROUP BY ALL
ORDER BY calls DESC, ci.app_name, ci.os_name
LIMIT $top
""",
    "key-calls-by-ip": """
SELECT c_ip, count(*) AS calls, count(DISTINCT user_id) AS users,
       count(DISTINCT content_id) AS documents, min(ts) AS first_ts, max(ts) AS last_ts,
       round(count(*) / sum(count(*)) OVER (), 4) AS share
FROM key_usage
WHERE ts >= $from_ts AND ts < $to_ts
GROUP BY c_ip
ORDER BY calls DESC, c_ip
LIMIT $top
""",
    "key-calls-by-document": """
SELECT content_id, any_value(file_name) AS file_name, any_value(owner_email) AS owner_email,
       count(*) AS calls, count(DISTINCT user_id) AS users,
       min(ts) AS first_ts, max(ts) AS last_ts,
       round(count(*) / sum(count(*)) OVER (), 4) AS share
FROM key_usage
WHERE ts >= $from_ts AND ts < $to_ts
GROUP BY content_id
ORDER BY calls DESC, content_id
LIMIT $top
""",
}


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        ("1970-01-01 00:00:00", "9999-12-31 00:00:00"),  # the defaults: whole rollup rows
        ("2026-11-03 00:00:00", "2026-11-05 00:00:00"),  # whole days
        ("2026-11-02 09:07:31", "2026-11-04 17:52:02"),  # partial buckets at both edges
        ("inside", "one 15-minute bucket"),  # around the median key call, see below
    ],
)
def test_named_queries_on_rollups_equal_the_same_questions_asked_of_key_usage(
    tenant: Path, tmp_path: Path, lo: str, hi: str
) -> None:
    from pipeline import query

    db = tmp_path / "w.duckdb"
    with open_warehouse(db) as con:
        ingest_paths(con, [tenant])
        if lo == "inside":
            lo, hi = (
                str(t)
                for t in con.sql(
                    "SELECT b + INTERVAL 1 SECOND, b + INTERVAL 14 MINUTE FROM ("
                    "  SELECT time_bucket(INTERVAL 15 MINUTE, median(ts)) AS b FROM key_usage)"
                ).fetchall()[0]
            )
    params = {"from_ts": lo, "to_ts": hi, "top": "1000"}
    compared = 0
    for name, raw in RAW_NAMED.items():
        named = query.sql_file(query.NAMED, name)
        given = {p.name: params[p.name] for p in named.params}
        bound = query.bind_named(named, given)
        got = query.query_named(db, name, given)
        with duckdb.connect(str(db), read_only=True) as con:
            want = con.sql(raw, params=bound).pl()
        if name == "key-calls-by-document":  # any_value(): any of the names is right
            got, want = got.drop("file_name", "owner_email"), want.drop("file_name", "owner_email")
        assert got.to_dicts() == want.to_dicts(), name
        compared += want.height
    assert compared > 0


def test_an_older_warehouse_gets_key_usage_as_a_table_built_from_its_rows(tmp_path: Path) -> None:
    from pipeline.warehouse import MIGRATIONS

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    for statement in MIGRATIONS[0].statements:  # as rmslog wrote it before versions
        con.execute(statement)
    con.execute("CREATE VIEW key_usage AS SELECT 1 AS recomputed_on_every_read")
    con.execute(
        "INSERT INTO requests (ts, row_id, request_type, user_id, correlation_id, result, "
        "source_file, source_line) VALUES "
        "('2026-11-02 08:00:00', 'o1', 'AcquireLicense', 'kim@x', 'c1', 'Success', 'a.log', 5),"
        "('2026-11-02 08:00:01', 'k1', 'KMSPDecrypt', NULL, 'c1', 'Success', 'a.log', 6),"
        "('2026-11-02 09:30:00', 'k2', 'KMSPDecrypt', NULL, 'c9', 'Success', 'a.log', 7)"
    )
    con.close()
    with open_warehouse(db) as con:
        kind = con.sql("SELECT table_type FROM information_schema.tables "
                       "WHERE table_name = 'key_usage'").fetchall()  # fmt: skip
        rows = con.sql("SELECT row_id, user_id, is_orphan FROM key_usage ORDER BY 1").fetchall()
        hours = con.sql("SELECT hour, requests FROM requests_by_hour ORDER BY 1").fetchall()
        assert derived(con) == recomputed(con)
    assert kind == [("BASE TABLE",)]
    assert rows == [("k1", "kim@x", False), ("k2", None, True)]
    assert [n for _, n in hours] == [2, 1]


def test_a_key_call_without_a_correlation_id_is_kept_as_an_orphan(tmp_path: Path) -> None:
    from w3c_builder import Rec, write_log

    db = tmp_path / "w.duckdb"
    with open_warehouse(db) as con:
        key = Rec("2026-11-02 10:00:05", "KMSPDecrypt", corr=None, row="k1", user=None)
        other = Rec("2026-11-02 10:00:00", "AcquireLicense", user="kim@x", corr="c1")
        ingest_paths(con, [write_log(tmp_path / "a.log", [key, other])])
        assert con.sql("SELECT row_id, is_orphan FROM key_usage").fetchall() == [("k1", True)]
        assert derived(con) == recomputed(con)
