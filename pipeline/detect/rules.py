"""Detection rules: one SQL file each, with an id, severity and parameters in its header.

A rule's query returns `entity, first_ts, last_ts, summary, evidence_row_ids,
window_start`; the runner adds `rule`, `severity` and a `finding_id` derived from
rule + entity + window, so re-running updates findings instead of duplicating them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from pipeline.errors import QueryError, UsageError
from pipeline.sqlfiles import SqlFile, sql_files

SEVERITIES = ("low", "medium", "high")


@dataclass(frozen=True)
class Rule:
    file: SqlFile

    @property
    def id(self) -> str:
        return self.file.name

    @property
    def severity(self) -> str:
        return self.file.meta.get("severity", "medium")

    @property
    def title(self) -> str:
        return self.file.meta.get("title", self.id)


@dataclass
class DetectSummary:
    rules_run: list[str] = field(default_factory=list)
    findings_by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def findings(self) -> int:
        return sum(self.findings_by_rule.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "rules_run": self.rules_run,
            "findings_by_rule": self.findings_by_rule,
            "findings": self.findings,
        }


def list_rules() -> list[Rule]:
    return [Rule(f) for f in sql_files("detections")]


def _select_rules(ids: list[str] | None) -> list[Rule]:
    rules = list_rules()
    if not ids:
        return rules
    known = {r.id: r for r in rules}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise UsageError(f"unknown rule(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[i] for i in ids]


def _bind(rule: Rule, overrides: dict[str, str]) -> dict[str, str | None]:
    values = rule.file.defaults()
    for key, value in overrides.items():
        rule_id, _, name = key.rpartition(".")
        if rule_id and rule_id != rule.id:
            continue
        if name not in values:
            raise UsageError(f"rule {rule.id} has no parameter {name!r}; it has {list(values)}")
        values[name] = value
    return values


def run_detections(
    con: duckdb.DuckDBPyConnection,
    rule_ids: list[str] | None = None,
    params: dict[str, str] | None = None,
) -> DetectSummary:
    """Run rules (all by default) and upsert their findings in one transaction."""
    summary = DetectSummary()
    rules = _select_rules(rule_ids)
    con.execute("BEGIN")
    try:
        for rule in rules:
            summary.findings_by_rule[rule.id] = _run_rule(con, rule, _bind(rule, params or {}))
            summary.rules_run.append(rule.id)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return summary


def _run_rule(con: duckdb.DuckDBPyConnection, rule: Rule, values: dict[str, str | None]) -> int:
    body = rule.file.sql.strip().rstrip(";")
    # The rule body is a SQL file shipped with the package, never user input; values are bound.
    sql = f"""
        INSERT OR REPLACE INTO findings
        SELECT md5(concat_ws('|', $rule, f.entity, strftime(f.window_start, '%Y-%m-%dT%H:%M:%S')))
                   AS finding_id,
               $rule, $severity, f.first_ts, f.last_ts, f.entity, f.summary, f.evidence_row_ids
        FROM ({body}) AS f
    """  # noqa: S608
    try:
        rows = con.execute(sql, {"rule": rule.id, "severity": rule.severity, **values}).fetchall()
    except duckdb.Error as e:
        raise QueryError(f"detection rule {rule.id} ({rule.file.path}) failed: {e}") from e
    return int(rows[0][0]) if rows else 0
