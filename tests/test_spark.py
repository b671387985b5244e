"""The rules on Spark: the committed translation is current, each rewrite means what the DuckDB
construct means, and every rule gives the warehouse's findings over the same lake.

The Spark tests need a Java runtime: skipped on a laptop without one, they FAIL under
CI=true (`make check` installs Debian's openjdk-17-jre-headless when missing and root).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

from pipeline.detect.rules import DetectSummary, list_rules, run_detections
from pipeline.generate import GenerateOptions, generate_logs, parse_scenarios
from pipeline.ingest import ingest_paths
from pipeline.schema import Topology
from pipeline.settings import Settings, with_values
from pipeline.spark.generate import stale
from pipeline.spark.translate import bind, to_spark
from pipeline.warehouse import open_warehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2030, 1, 1)
FINDING_COLUMNS = (
    "finding_id, rule, severity, first_ts, last_ts, entity, summary, evidence_row_ids, window_start"
)


def test_the_committed_spark_sql_is_what_the_generator_writes_now() -> None:
    assert stale() == [], (
        "queries/spark/ is out of date with the DuckDB rules: run "
        "`.venv/bin/python -m pipeline.spark.generate` and commit the result"
    )


def test_every_rule_and_the_views_it_reads_have_a_spark_translation() -> None:
    from pipeline.spark.run import SPARK_VIEWS

    spark_dir = ROOT / "queries" / "spark"
    for name in [*(rule.id for rule in list_rules()), *SPARK_VIEWS]:
        assert (spark_dir / f"{name}.sql").is_file(), name


def test_parameters_are_bound_as_typed_literals_in_the_tree_not_the_text() -> None:
    sql = to_spark(
        "SELECT count(*) OVER (ORDER BY d RANGE BETWEEN to_days($days) PRECEDING AND "
        "CURRENT ROW) AS n, $name AS name, $moment AS t, $ratio AS r, list_contains($l, 1) AS c "
        "FROM t"
    )
    bound = bind(
        sql,
        {
            "days": 14,
            "name": "o'brien",
            "moment": datetime(2026, 3, 29, 1, 30),
            "ratio": 0.8,
            "l": [1, 2],
        },
    )
    assert "INTERVAL '14' DAY PRECEDING" in bound
    assert "'o\\'brien'" in bound  # escaped by the printer, never spliced
    assert "CAST('2026-03-29 01:30:00' AS TIMESTAMP_NTZ)" in bound
    assert "CAST(0.8 AS DOUBLE)" in bound
    assert "ARRAY(1, 2)" in bound
    with pytest.raises(ValueError, match="no value for parameter"):
        bind(sql, {"days": 1})


def test_constructs_without_a_faithful_translation_are_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="ORDER BY"):
        to_spark("SELECT string_agg(DISTINCT s, ', ') FROM t")
    with pytest.raises(ValueError, match="len"):
        to_spark("SELECT len(s) FROM t")
    with pytest.raises(ValueError, match="from_json"):
        to_spark("""SELECT from_json(s, '{"a": "VARCHAR"}') FROM t""")
    with pytest.raises(ValueError, match="FILTER"):
        to_spark("SELECT list(DISTINCT s ORDER BY s) FILTER (n > 1) FROM t")
    with pytest.raises(ValueError, match="FILTER"):
        to_spark("SELECT any_value(s ORDER BY n) FILTER (n > 1) FROM t")
    with pytest.raises(ValueError, match="slice"):
        to_spark("SELECT l[-2:] FROM t")
    with pytest.raises(ValueError, match="timezone"):
        to_spark("SELECT timezone('Europe/Paris', ts) FROM t")
    with pytest.raises(ValueError, match="strftime"):
        to_spark("SELECT strftime(ts, '%j') FROM t")
    with pytest.raises(ValueError, match="epoch"):
        to_spark("SELECT epoch(ts) FROM t")


# ----------------------------------------------------------------------------- on Spark


def _java() -> None:
    if shutil.which("java"):
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("java is not installed; `make check` installs openjdk-17-jre-headless")
    pytest.skip("no Java runtime (apt-get install openjdk-17-jre-headless); CI fails without it")


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    _java()
    from pipeline.spark.run import session

    s = session("local[2]", app_name="rmslog-tests")
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


#: Each DuckDB construct the translation rewrites, with data that exercises its edges:
#: ties and NULLs in ordered lists, NULL arguments of format(), an even-sized percentile,
#: the ISO weekday over a whole week, local time across a DST change, intervals as bounds.
CONSTRUCTS = """
WITH t AS (
    SELECT *, x_exact::DOUBLE AS x FROM (VALUES
        (1, 'a', TIMESTAMP '2026-03-28 23:30:00', 10.0, 'x'),
        (1, 'b', TIMESTAMP '2026-03-29 00:30:00', NULL, 'y'),
        (1, 'c', TIMESTAMP '2026-03-29 00:30:00', 30.0, NULL),
        (2, 'd', TIMESTAMP '2026-03-30 12:00:00', 40.0, 'x'),
        (2, 'e', TIMESTAMP '2026-04-02 12:00:00', 50.0, 'x'),
        (2, 'f', TIMESTAMP '2026-04-05 01:00:00', 60.0, 'z')
    ) AS v(g, id, ts, x_exact, tag)
)
SELECT g,
       -- (the rules take percentiles of counts: doubles on both engines)
       list(id ORDER BY ts DESC, id) AS by_time_desc,
       list(id ORDER BY x NULLS FIRST, id) AS nulls_first,
       list(id ORDER BY tag, id) AS nulls_last,
       format('{} has {} reads, max {}', g, count(*), max(tag)) AS text,
       format('{} then {}', g, NULL::VARCHAR) AS null_text,
       string_agg(DISTINCT tag, ', ' ORDER BY tag) AS tags,
       string_agg(DISTINCT tag, ', ' ORDER BY tag) FILTER (x > 20) AS big_tags,
       quantile_cont(x, 0.5) AS median,
       quantile_cont(coalesce(x, 0), 0.8) AS p80,
       list(isodow(ts) ORDER BY ts, id) AS weekdays,
       list(strftime(timezone('Europe/Berlin', timezone('UTC', ts)), '%a %Y-%m-%dT%H:%M')
            ORDER BY ts, id) AS local_times,
       round(epoch(max(ts) - min(ts)) / 60) AS minutes,
       arg_min(id, (x IS NULL, ts, id)) AS first_known,
       list_bool_or(list_transform(['A%', 'e'], lambda p: min(id) ILIKE p)) AS matches,
       list(DISTINCT tag ORDER BY tag) AS tag_set,
       any_value(tag ORDER BY ts DESC, id) AS newest_tag,
       any_value(tag ORDER BY x NULLS FIRST) AS tag_of_lowest,
       list(id ORDER BY ts, id)[1:2] AS first_two,
       list(id ORDER BY ts, id)[2:$days] AS from_second,
       len($names) AS names,
       list_concat(list(id ORDER BY id), []::VARCHAR[]) AS ids,
       from_json('["a", null]', '["VARCHAR"]') AS parsed
FROM t
GROUP BY g
"""
WINDOWS = """
WITH t AS (
    SELECT * FROM (VALUES
        ('u', DATE '2026-03-01', 'n1'), ('u', DATE '2026-03-02', 'n1'),
        ('u', DATE '2026-03-02', 'n2'), ('u', DATE '2026-03-20', 'n1'),
        ('v', DATE '2026-03-02', 'n2')
    ) AS v(who, day, net)
)
SELECT who, day, net,
       count(*) OVER (w RANGE BETWEEN to_days($days) PRECEDING AND to_days(1) PRECEDING) AS prior,
       count(DISTINCT who) OVER (PARTITION BY net ORDER BY day
                                 RANGE BETWEEN to_days($days) PRECEDING
                                           AND to_days($days) FOLLOWING) AS users,
       lag(day) OVER (PARTITION BY who ORDER BY day, net) AS previous
FROM t
WINDOW w AS (PARTITION BY who ORDER BY day)
"""


@pytest.mark.slow
@pytest.mark.parametrize("sql", [CONSTRUCTS, WINDOWS], ids=["aggregates", "windows"])
def test_each_rewritten_construct_gives_on_spark_what_it_gives_on_duckdb(
    spark: SparkSession, sql: str
) -> None:
    values = {"days": 14} if "$names" not in sql else {"days": 3, "names": ["a", "b"]}
    duck = duckdb.execute(sql, values)
    names = [d[0] for d in duck.description]
    want = sorted(duck.fetchall(), key=repr)
    rows = spark.sql(bind(to_spark(sql), values)).collect()
    got = sorted((tuple(_plain(r[n]) for n in names) for r in rows), key=repr)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        for name, a, b in zip(names, g, w, strict=True):
            if isinstance(b, float):  # percentiles: the same up to the last bit
                assert a == pytest.approx(b, rel=1e-12), name
            else:
                assert a == b, name


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value


@dataclass(frozen=True)
class Tenant:
    """One tenant ingested into a warehouse and its lake, judged by DuckDB at NOW."""

    name: str
    db: Path
    lake: Path
    settings: Settings
    warehouse: DetectSummary


def _tenant(
    root: Path, name: str, logs: Path, settings: Settings, change: Path | None = None
) -> Tenant:
    """Ingest `logs` (with a lake); with `change`, edit that file's first record after the
    first ingest and ingest again (a source change: integrity event and conflict)."""
    db, lake = root / f"{name}.duckdb", root / f"{name}-lake"
    with open_warehouse(db) as con:
        ingest_paths(con, [logs], lake=lake)
        if change is not None:
            text = change.read_text(encoding="utf-8").splitlines(keepends=True)
            first = next(i for i, line in enumerate(text) if not line.startswith("#"))
            fields = text[first].split("\t")
            fields[3] = fields[3] + ".edited"  # the user of a record already read
            text[first] = "\t".join(fields)
            change.write_text("".join(text), encoding="utf-8")
            assert ingest_paths(con, [logs], lake=lake).files_changed == [str(change)]
        summary = run_detections(con, settings=settings, full=True, now=NOW)
    return Tenant(name, db, lake, settings, summary)


@pytest.fixture(scope="module")
def sample_utc(tmp_path_factory: pytest.TempPathFactory) -> Tenant:
    """The committed sample in UTC (no Key Vault records)."""
    return _tenant(
        tmp_path_factory.mktemp("sample"), "sample-utc", ROOT / "sample-logs", Settings()
    )


@pytest.fixture(scope="module")
def generated_berlin(tmp_path_factory: pytest.TempPathFactory) -> Tenant:
    """A generated tenant with every RMS scenario in Europe/Berlin across the October DST
    change, with locations."""
    root = tmp_path_factory.mktemp("berlin")
    generated = root / "logs"
    generate_logs(
        generated,
        GenerateOptions(
            start=date(2026, 10, 12),
            days=21,
            users=60,
            seed=11,
            region="eu",
            timezone="Europe/Berlin",
            topology=Topology.BYOK_KEYVAULT,
            scenarios=parse_scenarios("all"),
        ),
    )
    berlin = with_values(
        Settings(),
        {"tenant.timezone": "Europe/Berlin", "tenant.geoip": str(generated / "geoip.mmdb")},
    )
    return _tenant(root, "generated-berlin", generated, berlin)


@pytest.fixture(scope="module")
def generated_keyvault(tmp_path_factory: pytest.TempPathFactory) -> Tenant:
    """A small generated tenant with its Key Vault log (`--keyvault-logs`) and every
    scenario, Key Vault incidents included, and a source log file edited after it was read."""
    root = tmp_path_factory.mktemp("keyvault")
    generated = root / "logs"
    generate_logs(
        generated,
        GenerateOptions(
            start=date(2026, 11, 2),
            days=6,
            users=10,
            seed=3,
            topology=Topology.BYOK_KEYVAULT,
            scenarios=parse_scenarios("all", keyvault=True),
            keyvault_logs=True,
        ),
    )
    settings = with_values(Settings(), {"tenant.geoip": str(generated / "geoip.mmdb")})
    changed = sorted(generated.glob("rmslog-*.log"))[1]
    return _tenant(root, "generated-keyvault", generated, settings, change=changed)


TENANTS = ("sample_utc", "generated_berlin", "generated_keyvault")
#: Rules each tenant must make findings of, at least (so that equality means something).
MUST_FIND = {
    "sample_utc": 5,
    "generated_berlin": 8,
    "generated_keyvault": len(list_rules()),  # every rule, the Key Vault ones and source-changed
}


@pytest.mark.slow
@pytest.mark.parametrize("name", TENANTS)
def test_every_rule_gives_the_same_findings_on_spark_as_in_the_warehouse(
    spark: SparkSession, request: pytest.FixtureRequest, name: str
) -> None:
    from pipeline.spark.run import run_rules

    tenant: Tenant = request.getfixturevalue(name)
    with duckdb.connect(str(tenant.db), read_only=True) as con:
        want = con.execute(
            f"SELECT {FINDING_COLUMNS} FROM findings ORDER BY finding_id"  # noqa: S608
        ).fetchall()
    summary, found = run_rules(spark, str(tenant.lake), tenant.settings, now=NOW)
    assert found is not None
    columns = [c.strip() for c in FINDING_COLUMNS.split(",")]
    assert found.columns == columns
    got = sorted(
        (tuple(_plain(r[c]) for c in columns) for r in found.collect()), key=lambda r: r[0]
    )
    assert got == want, name
    assert len({r[1] for r in want}) >= MUST_FIND[name], name
    assert summary.rules_run == [r.id for r in list_rules()]
    assert summary.findings_by_rule == tenant.warehouse.findings_by_rule
    assert summary.worst_severity() == tenant.warehouse.worst_severity()
    # A lake without Key Vault records: the Key Vault rules judged nothing, as the
    # warehouse says of them, never an all-clear.
    assert summary.not_applicable_by_rule.keys() == tenant.warehouse.not_applicable_by_rule.keys()
    if name == "sample_utc":
        assert sorted(summary.not_applicable_by_rule) == sorted(
            r.id for r in list_rules() if r.file.meta.get("needs") == "keyvault_events"
        )
    assert sorted(spark.read.parquet(summary.out).collect()) == sorted(found.collect())
