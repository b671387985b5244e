"""Detection rules: one SQL file each, with an id, severity and parameters in its header.

A rule's query returns `entity, first_ts, last_ts, summary, evidence_row_ids,
window_start`; the runner adds `rule`, `severity` and a `finding_id` derived from
rule + entity + window start, so re-running updates findings instead of duplicating them.

Findings are a function of the warehouse: a run replaces the findings of every rule it
runs, so a finding that no longer fires (its window merged into a longer one, a late
origin explained an orphan key call, a parameter changed) is removed, and the summary
says how many were new and how many were removed. Rules that are not run keep theirs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from pipeline.errors import QueryError, UsageError
from pipeline.settings import Settings
from pipeline.severity import SEVERITIES as SEVERITIES  # re-exported
from pipeline.severity import Severity as Severity
from pipeline.sqlfiles import Param, SqlFile, sql_files

#: Parameter names that come from the tenant settings, never from `--param`.
SETTINGS_PARAMS = frozenset(Settings().sql_params())
_INTEGER_TYPES = frozenset({"INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT"})
_FLOAT_TYPES = frozenset({"DOUBLE", "FLOAT", "REAL", "DECIMAL"})


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

    @property
    def params(self) -> tuple[Param, ...]:
        """Tunable parameters (the settings ones excluded)."""
        return tuple(p for p in self.file.params if p.name not in SETTINGS_PARAMS)


@dataclass
class DetectSummary:
    rules_run: list[str] = field(default_factory=list)
    findings_by_rule: dict[str, int] = field(default_factory=dict)
    new_by_rule: dict[str, int] = field(default_factory=dict)
    removed_by_rule: dict[str, int] = field(default_factory=dict)
    severity_by_rule: dict[str, str] = field(default_factory=dict)

    @property
    def findings(self) -> int:
        return sum(self.findings_by_rule.values())

    def worst_severity(self) -> str | None:
        """The highest severity among rules that found something, None when none did."""
        found = [self.severity_by_rule[r] for r, n in self.findings_by_rule.items() if n]
        return max(found, key=_severity_rank) if found else None

    def as_dict(self) -> dict[str, object]:
        return {
            "rules_run": self.rules_run,
            "findings_by_rule": self.findings_by_rule,
            "new_by_rule": self.new_by_rule,
            "removed_by_rule": self.removed_by_rule,
            "findings": self.findings,
        }


def _severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def severity_at_least(severity: str | None, threshold: str) -> bool:
    """True when `severity` is `threshold` or worse (`None` never is)."""
    if threshold not in SEVERITIES:
        raise UsageError(f"severity must be one of {', '.join(SEVERITIES)}, not {threshold!r}")
    return severity is not None and _severity_rank(severity) >= _severity_rank(threshold)


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
    return [known[i] for i in dict.fromkeys(ids)]


def _check_overrides(rules: list[Rule], overrides: dict[str, str]) -> None:
    """Every `--param` names `rule.name` of a rule being run."""
    running = {r.id for r in rules}
    for key in overrides:
        rule_id, dot, name = key.rpartition(".")
        if not dot or not rule_id or not name:
            raise UsageError(f"--param {key}: name it as rule.name, e.g. denied-burst.min_failures")
        if rule_id not in running:
            raise UsageError(f"--param {key}: rule {rule_id!r} is not among the rules run")
        if name in SETTINGS_PARAMS:
            raise UsageError(
                f"--param {key}: {name} is a tenant setting; set it in the settings file (--config)"
            )


def _convert(rule: Rule, param: Param, value: str | None) -> object:
    """A header default or `--param` string as the Python value of the parameter's type."""
    if value is None:
        raise UsageError(f"rule {rule.id} needs --param {rule.id}.{param.name}")
    try:
        if param.type in _INTEGER_TYPES:
            return int(value)
        if param.type in _FLOAT_TYPES:
            return float(value)
        if param.type == "BOOLEAN":
            if value.lower() not in ("true", "false"):
                raise ValueError(value)
            return value.lower() == "true"
    except ValueError:
        raise UsageError(
            f"parameter {rule.id}.{param.name} must be {param.type}, got {value!r}"
        ) from None
    return value


def _bind(rule: Rule, overrides: dict[str, str], settings: Settings) -> dict[str, object]:
    from_settings = settings.sql_params()
    values: dict[str, object] = {}
    names = {p.name for p in rule.file.params}
    for key in overrides:
        rule_id, _, name = key.rpartition(".")
        if rule_id == rule.id and name not in names:
            known = ", ".join(p.name for p in rule.params) or "none"
            raise UsageError(f"rule {rule.id} has no parameter {name!r}; it has: {known}")
    for param in rule.file.params:
        if param.name in SETTINGS_PARAMS:
            values[param.name] = from_settings[param.name]
        else:
            raw = overrides.get(f"{rule.id}.{param.name}", param.default)
            values[param.name] = _convert(rule, param, raw)
    return values


def run_detections(
    con: duckdb.DuckDBPyConnection,
    rule_ids: list[str] | None = None,
    params: dict[str, str] | None = None,
    settings: Settings | None = None,
) -> DetectSummary:
    """Run rules (all by default) and replace their findings in one transaction.

    `params` maps `rule.name` to a value; `settings` gives the tenant's time zone, working
    hours and service accounts to the rules that declare them.
    """
    settings = settings or Settings()
    overrides = params or {}
    rules = _select_rules(rule_ids)
    _check_overrides(rules, overrides)
    bound = [(rule, _bind(rule, overrides, settings)) for rule in rules]
    summary = DetectSummary()
    con.execute("BEGIN")
    try:
        for rule, values in bound:
            _run_rule(con, rule, values, summary)
            summary.rules_run.append(rule.id)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return summary


def _run_rule(
    con: duckdb.DuckDBPyConnection, rule: Rule, values: dict[str, object], summary: DetectSummary
) -> None:
    body = rule.file.sql.strip().rstrip(";")
    # The rule body is a SQL file shipped with the package, never user input; values are bound.
    fresh = f"""
        CREATE OR REPLACE TEMP TABLE fresh_findings AS
        SELECT md5(concat_ws('|', $rule, f.entity, strftime(f.window_start, '%Y-%m-%dT%H:%M:%S')))
                   AS finding_id,
               $rule AS rule, $severity AS severity, f.first_ts, f.last_ts, f.entity,
               f.summary, f.evidence_row_ids
        FROM ({body}) AS f
    """  # noqa: S608
    try:
        con.execute(fresh, {"rule": rule.id, "severity": rule.severity, **values}).fetchall()
    except duckdb.Error as e:
        raise QueryError(f"detection rule {rule.id} ({rule.file.path}) failed: {e}") from e
    counts = con.execute(
        """
        SELECT (SELECT count(*) FROM fresh_findings),
               (SELECT count(*) FROM fresh_findings
                WHERE finding_id NOT IN (SELECT finding_id FROM findings)),
               (SELECT count(*) FROM findings WHERE rule = $rule
                AND finding_id NOT IN (SELECT finding_id FROM fresh_findings))
        """,
        {"rule": rule.id},
    ).fetchall()[0]
    con.execute(
        "DELETE FROM findings WHERE rule = $rule "
        "AND finding_id NOT IN (SELECT finding_id FROM fresh_findings)",
        {"rule": rule.id},
    ).fetchall()
    con.execute("INSERT OR REPLACE INTO findings SELECT * FROM fresh_findings").fetchall()
    con.execute("DROP TABLE fresh_findings").fetchall()
    total, new, removed = (int(c) for c in counts)
    summary.findings_by_rule[rule.id] = total
    summary.new_by_rule[rule.id] = new
    summary.removed_by_rule[rule.id] = removed
    summary.severity_by_rule[rule.id] = rule.severity
