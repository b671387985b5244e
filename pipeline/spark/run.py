"""Run the detection rules on Apache Spark over the Parquet lake (`rmslog ingest --lake`).

The rules are the committed Spark translations of the DuckDB files (`queries/spark/`,
written by `python -m pipeline.spark.generate`). They read the lake's tables (`requests`,
`keyvault_events`, and the custody tables `integrity_events`, `conflicts`,
`ingested_files`; a table the lake lacks is empty, with the warehouse's columns), the views
they join (`keyvault_reconciliation`, translated like the rules) and what is built here,
on the driver, by the same code the warehouse uses: the request-type catalogue,
`ip_locations` (pipeline.geo over the lake's distinct addresses), `key_usage` (the
attribution rule, translated like the rules) and `settings` (the tenant settings given).
Findings get the columns and `finding_id`s of the warehouse's `findings` table and are
written as Parquet under `LAKE/findings/`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.duck import registered
from pipeline.errors import UsageError
from pipeline.settings import Settings
from pipeline.severity import worst_severity
from pipeline.spark.translate import bind as bind_values

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import DataFrame, SparkSession

#: Spark SQL committed beside the DuckDB sources.
SPARK_SQL_DIR = Path(__file__).resolve().parents[2] / "queries" / "spark"
#: The views of queries/views/ that rules read, registered on Spark before the rules run.
SPARK_VIEWS = ("keyvault_reconciliation",)
#: Lake tables besides `requests` (pipeline.ingest.lake), and whether they are partitioned
#: by day. `ingested_files` holds a row per file and commit: its newest is the file's state.
LAKE_TABLES = {
    "keyvault_events": True,
    "integrity_events": False,
    "conflicts": False,
    "ingested_files": False,
}
#: Why a `-- needs:` rule judged nothing on a lake (the warehouse says it of its tables).
NEEDS_ON_LAKE = {
    "keyvault_events": "no Key Vault records in the lake (rmslog ingest kv-logs/ --lake LAKE)"
}
#: DuckDB column types as Spark types, for a lake table that is not there yet.
_SPARK_TYPES = {
    "VARCHAR": "STRING",
    "TIMESTAMP": "TIMESTAMP_NTZ",
    "BIGINT": "BIGINT",
    "INTEGER": "INT",
    "BOOLEAN": "BOOLEAN",
    "DOUBLE": "DOUBLE",
}


@dataclass
class SparkSummary:
    """What a Spark run did: findings per rule, rules that could judge nothing, where it
    wrote."""

    rules_run: list[str] = field(default_factory=list)
    findings_by_rule: dict[str, int] = field(default_factory=dict)
    severity_by_rule: dict[str, str] = field(default_factory=dict)
    #: Rules that could judge nothing, and why (a `-- needs:` table is empty in the lake).
    not_applicable_by_rule: dict[str, str] = field(default_factory=dict)
    out: str = ""

    def worst_severity(self) -> str | None:
        return worst_severity(self.findings_by_rule, self.severity_by_rule)

    def as_dict(self) -> dict[str, object]:
        return {
            "engine": "spark",
            "rules_run": self.rules_run,
            "findings_by_rule": self.findings_by_rule,
            "not_applicable_by_rule": self.not_applicable_by_rule,
            "findings": sum(self.findings_by_rule.values()),
            "out": self.out,
        }


def session(master: str | None = None, app_name: str = "rmslog") -> SparkSession:
    """A Spark session in UTC: `master` (default `local[*]`, or what spark-submit set)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name).config("spark.sql.session.timeZone", "UTC")
    if master is None and not _submitted():
        master = "local[*]"
    if master:
        builder = builder.master(master)
    if master and master.startswith("local"):
        # One machine: a few shuffle partitions, not the cluster default of 200 (which
        # makes every small shuffle 200 tasks).
        builder = builder.config("spark.sql.shuffle.partitions", "8")
    return builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()


def _submitted() -> bool:
    import os

    return "PYSPARK_GATEWAY_PORT" in os.environ or "SPARK_ENV_LOADED" in os.environ


def spark_sql(name: str) -> str:
    path = SPARK_SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise UsageError(f"no Spark translation {path}; run `python -m pipeline.spark.generate`")
    return path.read_text(encoding="utf-8")


def register_inputs(spark: SparkSession, lake: str, settings: Settings) -> None:
    """Temp views of everything the rules read: the lake's tables, `request_types`,
    `ip_locations`, `key_usage`, `ingest_runs`, `settings` and the views (`SPARK_VIEWS`)."""
    import duckdb

    from pipeline.geo import register_ip_locations
    from pipeline.warehouse import ensure_schema

    # The lake keeps no ingest runs: every record counts as long arrived (run_id NULL).
    requests = (
        spark.read.parquet(_join(lake, "requests"))
        .drop("day")
        .selectExpr("*", "CAST(NULL AS BIGINT) AS run_id")
    )
    requests.createOrReplaceTempView("requests")
    # The catalogue, the columns of absent tables and the locations come from the code the
    # warehouse uses, on the driver.
    with duckdb.connect() as con:
        ensure_schema(con)
        catalogue = con.sql("SELECT * FROM request_types").to_arrow_table()
        tables = {t: _lake_table(spark, con, lake, t, by_day) for t, by_day in LAKE_TABLES.items()}
    for table in ("keyvault_events", "integrity_events", "conflicts"):
        tables[table].createOrReplaceTempView(table)
    spark.createDataFrame(catalogue).createOrReplaceTempView("request_types")
    # Each file's newest manifest row: the state `ingested_files` holds in the warehouse.
    tables["ingested_files"].createOrReplaceTempView("lake_ingested_files")
    spark.sql(
        "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY path ORDER BY run_id DESC) "
        "AS newest FROM lake_ingested_files) WHERE newest = 1"
    ).drop("newest", "run_id").createOrReplaceTempView("ingested_files")
    addresses = requests.select("c_ip").where("c_ip IS NOT NULL").distinct().toArrow()
    with duckdb.connect() as con:
        # pipeline.geo reads the addresses of a table `requests` (through a second cursor,
        # which sees tables, not this connection's temporary objects).
        with registered(con, "lake_addresses", addresses):
            con.execute("CREATE TABLE requests AS SELECT c_ip FROM lake_addresses")
        register_ip_locations(
            con, settings.geoip_path(), settings.corporate_networks, settings.service_networks
        )
        locations = con.sql("SELECT * FROM ip_locations").to_arrow_table()
    spark.createDataFrame(locations).createOrReplaceTempView("ip_locations")
    spark.sql("SELECT * FROM requests").createOrReplaceTempView("key_usage_scope")
    spark.sql(bind_values(spark_sql("key-usage"), {})).createOrReplaceTempView("key_usage")
    spark.sql(
        "SELECT CAST(NULL AS BIGINT) AS run_id, CAST(NULL AS TIMESTAMP) AS started_at WHERE false"
    ).createOrReplaceTempView("ingest_runs")
    # The warehouse's `settings` table as the views read it: each key with its JSON value.
    rows = [(k, json.dumps(v)) for k, v in sorted(settings.as_dict().items())]
    spark.createDataFrame(rows, "key STRING, value STRING").createOrReplaceTempView("settings")
    for view in SPARK_VIEWS:
        # Cached (when first read): a rule reads a view several times, and each read would
        # plan and compute the whole view again.
        spark.sql(bind_values(spark_sql(view), {})).cache().createOrReplaceTempView(view)


def _lake_table(
    spark: SparkSession, con: duckdb.DuckDBPyConnection, lake: str, table: str, by_day: bool
) -> DataFrame:
    """A lake table as the rules read it; empty, with the warehouse's columns (but
    `run_id`, which the lake's record tables leave out), when the lake holds none."""
    from pyspark.errors import AnalysisException

    try:
        frame = spark.read.parquet(_join(lake, table))
        return frame.drop("day") if by_day else frame
    except AnalysisException as e:
        if e.getCondition() != "PATH_NOT_FOUND":
            raise
    described = con.execute(f"DESCRIBE main.{table}").fetchall()  # a fixed name
    columns = [
        f"CAST(NULL AS {_SPARK_TYPES[kind]}) AS {name}"
        for name, kind, *_ in described
        if not (by_day and name == "run_id")
    ]
    if table == "ingested_files":
        columns.append("CAST(NULL AS BIGINT) AS run_id")
    return spark.sql(f"SELECT {', '.join(columns)} WHERE false")


def _join(lake: str, part: str) -> str:
    return lake.rstrip("/") + "/" + part


def run_rules(
    spark: SparkSession,
    lake: str,
    settings: Settings,
    params: dict[str, str] | None = None,
    rule_ids: list[str] | None = None,
    *,
    now: dt.datetime | None = None,
    write: bool = True,
) -> tuple[SparkSummary, DataFrame | None]:
    """All rules (or `rule_ids`) over the lake; findings written under LAKE/findings/ and
    returned as read back from there (without `write`, as computed)."""
    from pipeline.detect.rules import JUDGE_ALL, bound_rules

    summary = SparkSummary()
    register_inputs(spark, lake, settings)
    newest = spark.sql("SELECT max(ts) FROM requests").collect()[0][0]
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # Spark runs every rule over the whole lake: every record is judged.
    runtime: dict[str, object] = {
        "now": now,
        "newest_ts": newest or now,
        "judge_from": JUDGE_ALL[0],
        "judge_to": JUDGE_ALL[1],
    }
    empty: dict[str, bool] = {}
    merged: DataFrame | None = None
    for rule, values in bound_rules(rule_ids, params, settings):
        declared = {p.name for p in rule.file.params}
        bind = {**values, **{k: v for k, v in runtime.items() if k in declared}}
        output = spark.sql(bind_values(spark_sql(rule.id), bind))
        # The columns the warehouse's runner gives `rule_output` (pipeline.detect.rules).
        output = output.selectExpr(
            "entity",
            "first_ts",
            "last_ts",
            "summary",
            "evidence_row_ids",
            "window_start",
            "coalesce(learning, false) AS learning"
            if "learning" in output.columns
            else "false AS learning",
            "CAST(severity AS STRING) AS severity"
            if "severity" in rule.file.columns
            else "CAST(NULL AS STRING) AS severity",
        )
        output.createOrReplaceTempView("rule_output")
        merge = {"rule": rule.id, "severity": rule.severity, "timezone": settings.timezone}
        # Computed here, planned alone: Catalyst takes minutes over a union of every
        # rule's plan. The checkpoint is the rule's one action; counts come from the output.
        found = spark.sql(bind_values(spark_sql("merge-per-day"), merge)).localCheckpoint()
        summary.severity_by_rule[rule.id] = rule.severity
        summary.rules_run.append(rule.id)
        if (needs := rule.file.meta.get("needs")) is not None:
            if needs not in empty:
                empty[needs] = spark.table(needs).isEmpty()
            if empty[needs]:
                summary.not_applicable_by_rule[rule.id] = NEEDS_ON_LAKE[needs]
        merged = found if merged is None else merged.unionByName(found)
    for view in SPARK_VIEWS:
        spark.table(view).unpersist()
    if merged is None:
        return summary, None
    if write:
        summary.out = _join(lake, "findings")
        merged.write.mode("overwrite").parquet(summary.out)
        merged = spark.read.parquet(summary.out)
    # One small action over the findings made (as written), not one per rule.
    counts = {r: n for r, n in merged.groupBy("rule").count().collect()}
    summary.findings_by_rule = {r: int(counts.get(r, 0)) for r in summary.rules_run}
    return summary, merged
