"""Write the Spark SQL of every rule, the views they read, the attribution rule and the
per-day merge.

    python -m pipeline.spark.generate          # rewrite queries/spark/*.sql
    python -m pipeline.spark.generate --check  # exit 1 when a committed file is out of date

The output is committed so that every change to a rule shows its Spark side in review;
`tests/test_spark.py` fails when it is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.spark.run import SPARK_SQL_DIR, SPARK_VIEWS
from pipeline.spark.translate import SQLGLOT_VERSION, to_spark


def sources() -> dict[str, tuple[str, str]]:
    """`{name: (source description, DuckDB SQL)}` for every file under queries/spark/."""
    from pipeline.derive import attribution_sql
    from pipeline.detect.rules import MERGE_PER_DAY, list_rules
    from pipeline.sqlfiles import sql_files

    root = SPARK_SQL_DIR.parents[1]
    out = {rule.id: (str(rule.file.path.relative_to(root)), rule.file.sql) for rule in list_rules()}
    # The views the rules read (the others are the warehouse's own: status, suppressions).
    for view in sql_files("views"):
        if view.name in SPARK_VIEWS:
            out[view.name] = (str(view.path.relative_to(root)), view.sql)
    out["key-usage"] = ("queries/derive/key-usage.sql", attribution_sql())
    out["merge-per-day"] = ("pipeline/detect/rules.py MERGE_PER_DAY", MERGE_PER_DAY)
    return out


def rendered() -> dict[str, str]:
    """`{file name: text}` as the generator writes them now."""
    return {
        f"{name}.sql": (
            f"-- Generated from {source} by pipeline/spark/generate.py (sqlglot "
            f"{SQLGLOT_VERSION}); do not edit.\n{to_spark(sql)}\n"
        )
        for name, (source, sql) in sorted(sources().items())
    }


def stale(folder: Path = SPARK_SQL_DIR) -> list[str]:
    """Files under `folder` that differ from what the generator writes (or are missing/extra)."""
    want = rendered()
    have = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.sql")}
    return sorted(n for n in want.keys() | have.keys() if want.get(n) != have.get(n))


def main(argv: list[str]) -> int:
    if "--check" in argv:
        files = stale()
        for name in files:
            print(f"out of date: queries/spark/{name}", file=sys.stderr)
        return 1 if files else 0
    SPARK_SQL_DIR.mkdir(exist_ok=True)
    for old in SPARK_SQL_DIR.glob("*.sql"):
        old.unlink()
    for name, text in rendered().items():
        (SPARK_SQL_DIR / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(rendered())} files to {SPARK_SQL_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
