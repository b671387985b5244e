"""The detection rules on Apache Spark, over the Parquet lake (`rmslog detect --engine spark`).

Optional: needs the `spark` extra (`pyspark`, `sqlglot`) and a Java runtime. Nothing else in
rmslog imports this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.errors import RmslogError, UsageError

if TYPE_CHECKING:
    from pipeline.settings import Settings
    from pipeline.spark.run import SparkSummary


def detect_on_spark(
    lake: str,
    settings: Settings,
    params: dict[str, str] | None = None,
    rule_ids: list[str] | None = None,
    *,
    master: str | None = None,
) -> SparkSummary:
    """Run the rules over `lake` on Spark and write LAKE/findings/ (Parquet)."""
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as e:
        raise UsageError(
            f"--engine spark needs the spark extra ({e.name} is not installed): "
            "pip install 'rmslog[spark]' (and a Java 17+ runtime)"
        ) from e
    from pipeline.spark.run import run_rules, session

    try:
        spark = session(master)
    except Exception as e:  # pyspark raises its own classes, or RuntimeError, without Java
        raise RmslogError(f"could not start Spark ({e}); is a Java 17+ runtime installed?") from e
    spark.sparkContext.setLogLevel("ERROR")
    summary, _ = run_rules(spark, lake, settings, params, rule_ids)
    return summary
