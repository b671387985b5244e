"""Run the detection rules on Apache Spark over the Parquet lake (`rmslog ingest --lake`).

The rules are the committed Spark translations of the DuckDB files (`queries/spark/`,
written by `python -m pipeline.spark.generate`). What they join to besides `requests` is
built here, on the driver, by the same code the warehouse uses: the request-type catalogue,
`ip_locations` (pipeline.geo over the lake's distinct addresses) and `key_usage` (the
attribution rule, translated like the rules). Findings get the columns and `finding_id`s of
the warehouse's `findings` table and are written as Parquet under `LAKE/findings/`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import UsageError
from pipeline.settings import Settings
from pipeline.spark.translate import bind as bind_values

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Spark SQL committed beside the DuckDB sources.
SPARK_SQL_DIR = Path(__file__).resolve().parents[2] / "queries" / "spark"
#: Rules that read what only the warehouse keeps (its custody tables), not the lake.
WAREHOUSE_ONLY = {
    "source-changed": "reads the warehouse's custody tables (integrity_events)",
    "foreign-key-use": "reads Key Vault records, which the lake does not hold yet",
    "key-access-failures": "reads Key Vault records, which the lake does not hold yet",
    "key-log-mismatch": "reads Key Vault records, which the lake does not hold yet",
    "key-management": "reads Key Vault records, which the lake does not hold yet",
}


@dataclass
class SparkSummary:
    """What a Spark run did: findings per rule, rules it could not run, where it wrote."""

    rules_run: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    findings_by_rule: dict[str, int] = field(default_factory=dict)
    severity_by_rule: dict[str, str] = field(default_factory=dict)
    out: str = ""

    def worst_severity(self) -> str | None:
        from pipeline.severity import SEVERITIES

        found = [self.severity_by_rule[r] for r, n in self.findings_by_rule.items() if n]
        return max(found, key=SEVERITIES.index) if found else None

    def as_dict(self) -> dict[str, object]:
        return {
            "engine": "spark",
            "rules_run": self.rules_run,
            "skipped": self.skipped,
            "findings_by_rule": self.findings_by_rule,
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
    """Temp views `requests`, `request_types`, `ip_locations`, `key_usage`, `ingest_runs`."""
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
    # The catalogue and the locations come from the code the warehouse uses, on the driver.
    with duckdb.connect() as con:
        ensure_schema(con)
        catalogue = con.sql("SELECT * FROM request_types").to_arrow_table()
    spark.createDataFrame(catalogue).createOrReplaceTempView("request_types")
    addresses = requests.select("c_ip").where("c_ip IS NOT NULL").distinct().toArrow()
    with duckdb.connect() as con:
        # pipeline.geo reads the addresses of a table `requests` (through a second cursor,
        # which sees tables, not this connection's temporary objects).
        con.register("lake_addresses", addresses)
        con.execute("CREATE TABLE requests AS SELECT c_ip FROM lake_addresses")
        con.unregister("lake_addresses")
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
    """All rules (or `rule_ids`) over the lake; findings written under LAKE/findings/."""
    from pipeline.detect.rules import bound_rules

    summary = SparkSummary()
    register_inputs(spark, lake, settings)
    newest = spark.sql("SELECT max(ts) FROM requests").collect()[0][0]
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    runtime: dict[str, object] = {"now": now, "newest_ts": newest or now}
    merged: DataFrame | None = None
    for rule, values in bound_rules(rule_ids, params, settings):
        if rule.id in WAREHOUSE_ONLY:
            summary.skipped[rule.id] = WAREHOUSE_ONLY[rule.id]
            continue
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
        found = spark.sql(bind_values(spark_sql("merge-per-day"), merge))
        found = found.localCheckpoint()
        summary.findings_by_rule[rule.id] = found.count()
        summary.severity_by_rule[rule.id] = rule.severity
        summary.rules_run.append(rule.id)
        merged = found if merged is None else merged.unionByName(found)
    if merged is not None and write:
        summary.out = _join(lake, "findings")
        merged.write.mode("overwrite").parquet(summary.out)
    return summary, merged
