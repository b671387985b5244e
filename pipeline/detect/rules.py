"""Detection rules: one SQL file each, with an id, severity and parameters in its header.

A rule's query returns `entity, first_ts, last_ts, summary, evidence_row_ids,
window_start` and, when its `columns` header lists it, `learning`: rows with `learning`
TRUE are entities the rule could not judge yet (too little history: a learning period),
reported in the summary, never findings. The runner merges the windows of one entity that
start on the same local day (the tenant's time zone) into one finding whose evidence holds
them all, and adds `rule`, `severity` and a `finding_id` derived from rule + entity + the
day's first window start, so re-running updates findings instead of duplicating them.

Before the rules run, `ip_locations` (see `pipeline.geo`) is registered for this
connection: the labels and, with a location database, the places of the distinct addresses.

Findings are a function of the warehouse: a run replaces the findings of every rule it
runs, so a finding that no longer fires (its window merged into a longer one, a late
origin explained an orphan key call, a parameter changed) is removed, and the summary
says how many were new and how many were removed. Rules that are not run keep theirs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import duckdb

from pipeline.errors import QueryError, UsageError
from pipeline.geo import register_ip_locations
from pipeline.settings import Settings
from pipeline.sqlfiles import Param, SqlFile, sql_files


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


SEVERITIES = tuple(s.value for s in Severity)
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
    #: Per rule, the entities it could not judge yet (learning period), sorted.
    learning_by_rule: dict[str, list[str]] = field(default_factory=dict)
    #: The location database used (None: no geography) and how many addresses were looked up.
    geoip: str | None = None
    addresses: int = 0

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
            "learning_by_rule": self.learning_by_rule,
            "geoip": self.geoip,
            "addresses": self.addresses,
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
    geoip = settings.geoip_path()
    summary = DetectSummary(geoip=str(geoip) if geoip else None)
    summary.addresses = register_ip_locations(
        con, geoip, settings.corporate_networks, settings.service_networks
    )
    con.execute("BEGIN")
    try:
        for rule, values in bound:
            _run_rule(con, rule, values, summary, settings.timezone)
            summary.rules_run.append(rule.id)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return summary


#: One finding per rule, entity and local day: the windows starting that day, merged.
_MERGE_PER_DAY = """
    CREATE OR REPLACE TEMP TABLE fresh_findings AS
    WITH w AS (
        SELECT *, timezone($timezone, timezone('UTC', window_start))::DATE AS day,
               count(*) OVER (PARTITION BY entity,
                              timezone($timezone, timezone('UTC', window_start))::DATE) AS n
        FROM rule_output WHERE NOT learning
    )
    SELECT md5(concat_ws('|', $rule, entity, strftime(min(window_start), '%Y-%m-%dT%H:%M:%S')))
               AS finding_id,
           $rule AS rule, $severity AS severity, min(first_ts) AS first_ts,
           max(last_ts) AS last_ts, entity,
           CASE WHEN any_value(n) = 1 THEN any_value(summary)
                ELSE format('{} windows on {}: {}', any_value(n), strftime(day, '%Y-%m-%d'),
                            string_agg(summary, ' | ' ORDER BY window_start, first_ts))
           END AS summary,
           flatten(list(evidence_row_ids ORDER BY window_start, first_ts)) AS evidence_row_ids
    FROM w
    GROUP BY entity, day
"""


def _run_rule(
    con: duckdb.DuckDBPyConnection,
    rule: Rule,
    values: dict[str, object],
    summary: DetectSummary,
    timezone: str = "UTC",
) -> None:
    body = rule.file.sql.strip().rstrip(";")
    learning = "f.learning" if "learning" in rule.file.columns else "false"
    # The rule body is a SQL file shipped with the package, never user input; values are bound.
    output = f"""
        CREATE OR REPLACE TEMP TABLE rule_output AS
        SELECT f.entity, f.first_ts, f.last_ts, f.summary, f.evidence_row_ids, f.window_start,
               coalesce({learning}, false) AS learning
        FROM ({body}) AS f
    """  # noqa: S608
    try:
        con.execute(output, values).fetchall()
        con.execute(
            _MERGE_PER_DAY, {"rule": rule.id, "severity": rule.severity, "timezone": timezone}
        ).fetchall()
    except duckdb.Error as e:
        raise QueryError(f"detection rule {rule.id} ({rule.file.path}) failed: {e}") from e
    learners = con.execute(
        "SELECT DISTINCT entity FROM rule_output WHERE learning ORDER BY entity"
    ).fetchall()
    con.execute("DROP TABLE rule_output").fetchall()
    summary.learning_by_rule[rule.id] = [str(e) for (e,) in learners]
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
