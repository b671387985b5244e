"""Detection rules: one SQL file each, with an id, severity, reach and parameters in its header.

A rule's query returns `entity, first_ts, last_ts, summary, evidence_row_ids,
window_start`; the runner adds `rule`, `severity` and a `finding_id` derived from
rule + entity + window start, so re-running updates findings instead of duplicating them.

Findings are a function of the warehouse: a run replaces the findings of every rule it
runs, so a finding that no longer fires (its window merged into a longer one, a late
origin explained an orphan key call, a parameter changed) is removed, and the summary
says how many were new and how many were removed. Rules that are not run keep theirs.

Every run is recorded in `detect_runs` (rules, bound parameters, settings, the data it
covered), which makes runs incremental: a rule whose parameters are those of its last run
re-judges only the UTC days that data arrived in since (see `pipeline.detect.reach`), and
gives exactly the findings a full run would. `full=True` recomputes everything.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb

from pipeline.detect.reach import (
    PAD_DAYS,
    Interval,
    RuleState,
    arrived_days,
    covered_ingest_run,
    intervals_for,
    last_states,
    record_run,
    widen_by_findings,
)
from pipeline.errors import QueryError, UsageError
from pipeline.geo import register_ip_locations
from pipeline.params import INTEGER_TYPES, bind_params, convert_param
from pipeline.params import SETTINGS_PARAMS as SETTINGS_PARAMS  # re-exported
from pipeline.settings import Settings
from pipeline.severity import SEVERITIES as SEVERITIES  # re-exported
from pipeline.severity import Severity as Severity
from pipeline.severity import severity_at_least as severity_at_least  # re-exported
from pipeline.severity import worst_severity
from pipeline.sqlfiles import Param, SqlFile, sql_file, sql_files

#: Parameter names the runner binds for each run: when it judges, the newest record, and
#: the instants [judge_from, judge_to) whose records a rule must judge (see `JUDGE_ALL`).
RUNTIME_PARAMS = frozenset({"now", "newest_ts", "judge_from", "judge_to"})
#: `judge_from` and `judge_to` in a full run: every record. A rule that declares them may
#: leave records outside out of its per-record work (not out of its baselines, which read
#: everything it is given); the runner binds a day more on each side than the days it
#: keeps findings of, and treats a finding within a day of either bound as reaching beyond.
JUDGE_ALL = (datetime(1, 1, 1), datetime(9999, 12, 31))
#: Header lines every rule must have.
REQUIRED_HEADERS = (
    "id",
    "title",
    "severity",
    "description",
    "lookback_days",
    "lookahead_days",
    "columns",
)
#: Every header key a rule may have (`param` may repeat); any other is a typo, refused.
HEADER_KEYS = frozenset(
    {
        *REQUIRED_HEADERS,
        "settle_minutes",
        "judge",
        "scenario",
        "needs",
    }
)
RULE_COLUMNS = "entity, first_ts, last_ts, summary, evidence_row_ids, window_start"
#: A reach of `all`: the rule reads the whole history to judge a day.
UNBOUNDED = "all"
#: `-- judge: every-run`: a rule that reads no records but the evidence tables
#: (`integrity_events`), which change without new records arriving: judged in full by
#: every run (it is cheap), never skipped as unchanged.
EVERY_RUN = "every-run"
#: `-- judge: on-arrival`: a rule that reads a whole log that is small (Key Vault's), with no
#: reach in days: judged in full when any ingest run stored something since its last run
#: (or its parameters, settings or SQL changed), else unchanged. Its verdicts depend on the
#: warehouse's data alone, so an unchanged warehouse keeps them.
ON_ARRIVAL = "on-arrival"
#: Every `-- judge:` a rule may declare (a new judging mode is added here, or refused).
JUDGES = frozenset({EVERY_RUN, ON_ARRIVAL})
#: `-- needs: TABLE`: a rule that judges records of another log than RMS's. With that table
#: empty it is *not applicable* (said per rule), not "no findings": nothing was judged.
NEEDS_TABLES = {"keyvault_events": "no Key Vault logs in the warehouse (rmslog ingest kv-logs/)"}


@dataclass(frozen=True)
class Rule:
    file: SqlFile

    def __post_init__(self) -> None:
        _validate(self.file)

    @property
    def id(self) -> str:
        return self.file.name

    @property
    def severity(self) -> str:
        return self.file.meta["severity"]

    @property
    def params(self) -> tuple[Param, ...]:
        """Tunable parameters (the settings and runtime ones excluded)."""
        return tuple(
            p
            for p in self.file.params
            if p.name not in SETTINGS_PARAMS and p.name not in RUNTIME_PARAMS
        )

    @property
    def fingerprint(self) -> str:
        """What the rule's SQL file holds: a changed rule judges every day again."""
        return hashlib.sha256(self.file.sql.encode()).hexdigest()[:16]

    @property
    def pad(self) -> int:
        """Extra days read and judged on each side: rules on the tenant's clock count local
        days, which straddle UTC days."""
        return PAD_DAYS if any(p.name == "timezone" for p in self.file.params) else 0

    @property
    def judges_in_bounds(self) -> bool:
        """Whether the rule declares `judge_from` and `judge_to` (see `JUDGE_ALL`)."""
        return {"judge_from", "judge_to"} <= {p.name for p in self.file.params}

    def reach(self, key: str, values: dict[str, object]) -> int | None:
        """Days of `lookback_days`, `lookahead_days` or (minutes) `settle_minutes` as bound
        in this run; None for `all` (the whole history)."""
        raw = self.file.meta.get(key, "0")
        if raw == UNBOUNDED:
            return None
        value = int(raw) if raw.isdigit() else values[raw]
        if not isinstance(value, int) or value < 0:
            raise UsageError(f"rule {self.id}: {key} ({raw}) must be a whole number >= 0")
        return value


def _validate(f: SqlFile) -> None:
    """A rule header is complete and means what it says, or the rule does not run."""
    where = f"detection rule {f.path.name}"
    missing = [k for k in REQUIRED_HEADERS if not f.meta.get(k)]
    if missing:
        lines = ", ".join(f"'-- {k}: ...'" for k in missing)
        raise QueryError(f"{where}: header lacks {lines}")
    unknown = sorted(set(f.meta) - HEADER_KEYS)
    if unknown:
        raise QueryError(
            f"{where}: unknown header '-- {unknown[0]}:'; a rule's header keys are "
            f"{', '.join(sorted(HEADER_KEYS | {'param'}))}"
        )
    if f.meta["id"] != f.path.stem:
        raise QueryError(f"{where}: '-- id: {f.meta['id']}' must be the file name's stem")
    if f.meta["severity"] not in SEVERITIES:
        raise QueryError(
            f"{where}: unknown severity {f.meta['severity']!r}; use one of {', '.join(SEVERITIES)}"
        )
    if f.meta.get("judge", EVERY_RUN) not in JUDGES:
        raise QueryError(
            f"{where}: '-- judge: {f.meta['judge']}' must be one of {', '.join(sorted(JUDGES))}"
        )
    statements = duckdb.extract_statements(f.sql)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise QueryError(f"{where}: the body must be exactly one SELECT statement")
    columns = [c.strip() for c in f.meta["columns"].split(",")]
    base = RULE_COLUMNS.split(", ")
    allowed = [base + extra for extra in ([], ["learning"], ["severity"], ["learning", "severity"])]
    if columns not in allowed:
        raise QueryError(f"{where}: '-- columns:' must be {RULE_COLUMNS}[, learning][, severity]")
    needs = f.meta.get("needs")
    if needs is not None and needs not in NEEDS_TABLES:
        raise QueryError(f"{where}: '-- needs: {needs}' must be one of {', '.join(NEEDS_TABLES)}")
    integers = {p.name for p in f.params if p.type in INTEGER_TYPES}
    for key in ("lookback_days", "lookahead_days", "settle_minutes"):
        raw = f.meta.get(key)
        if raw is None or raw.isdigit() or raw == UNBOUNDED or raw in integers:
            continue
        raise QueryError(
            f"{where}: '-- {key}: {raw}' must be a whole number, {UNBOUNDED!r}, "
            "or the name of an INTEGER parameter of the rule"
        )


@dataclass
class DetectSummary:
    rules_run: list[str] = field(default_factory=list)
    findings_by_rule: dict[str, int] = field(default_factory=dict)
    new_by_rule: dict[str, int] = field(default_factory=dict)
    removed_by_rule: dict[str, int] = field(default_factory=dict)
    severity_by_rule: dict[str, str] = field(default_factory=dict)
    #: How each rule was evaluated: "full", "incremental" or "unchanged" (nothing arrived).
    mode_by_rule: dict[str, str] = field(default_factory=dict)
    #: UTC days each rule re-judged (None: all of them).
    days_by_rule: dict[str, int | None] = field(default_factory=dict)
    run_id: int | None = None
    started_at: datetime | None = None
    covered_ingest_run: int | None = None
    covered_rows: int = 0
    newest_ts: datetime | None = None
    #: Orphan key calls whose origin may still arrive (None when orphan-key-calls did not run).
    awaiting_origin: int | None = None
    #: Per rule, the entities it could not judge yet (learning period), sorted.
    learning_by_rule: dict[str, list[str]] = field(default_factory=dict)
    #: Rules that could judge nothing, and why (a `-- needs:` table is empty).
    not_applicable_by_rule: dict[str, str] = field(default_factory=dict)
    #: The location database used (None: no geography) and how many addresses were looked up.
    geoip: str | None = None
    addresses: int = 0

    @property
    def findings(self) -> int:
        return sum(self.findings_by_rule.values())

    def worst_severity(self) -> str | None:
        """The highest severity among rules that found something, None when none did."""
        return worst_severity(self.findings_by_rule, self.severity_by_rule)

    def as_dict(self) -> dict[str, object]:
        return {
            "rules_run": self.rules_run,
            "findings_by_rule": self.findings_by_rule,
            "new_by_rule": self.new_by_rule,
            "removed_by_rule": self.removed_by_rule,
            "findings": self.findings,
            "detect_run_id": self.run_id,
            "mode_by_rule": self.mode_by_rule,
            "days_by_rule": self.days_by_rule,
            "covered_ingest_run": self.covered_ingest_run,
            "covered_rows": self.covered_rows,
            "newest_ts": self.newest_ts,
            "awaiting_origin": self.awaiting_origin,
            "learning_by_rule": self.learning_by_rule,
            "not_applicable_by_rule": self.not_applicable_by_rule,
            "geoip": self.geoip,
            "addresses": self.addresses,
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
                f"--param {key}: {name} is a tenant setting; set it with "
                f"`rmslog settings set` (or the settings file, --config)"
            )
        if name in RUNTIME_PARAMS:
            raise UsageError(f"--param {key}: {name} is set by detect itself")


def check_rule_override(key: str, value: str) -> None:
    """A stored `rules.<rule>.<param>` override names a real parameter and parses."""
    rule_id, _, name = key.rpartition(".")
    rule = {r.id: r for r in list_rules()}.get(rule_id)
    if rule is None:
        raise UsageError(f"setting rules.{key}: no rule {rule_id!r}; see `rmslog detect --help`")
    param = next((p for p in rule.params if p.name == name), None)
    if param is None:
        known = ", ".join(p.name for p in rule.params) or "none"
        raise UsageError(
            f"setting rules.{key}: rule {rule_id} has no parameter {name!r}; it has: {known}"
        )
    convert_param(param, value, label=f"setting rules.{key}")


def _bind(rule: Rule, overrides: dict[str, str], settings: Settings) -> dict[str, object]:
    """The rule's parameters as bound in this run (runtime ones excluded)."""
    names = {p.name for p in rule.file.params}
    for key in overrides:
        rule_id, _, name = key.rpartition(".")
        if rule_id == rule.id and name not in names:
            known = ", ".join(p.name for p in rule.params) or "none"
            raise UsageError(f"rule {rule.id} has no parameter {name!r}; it has: {known}")
    given = {
        name: value
        for key, value in overrides.items()
        for rule_id, _, name in [key.rpartition(".")]
        if rule_id == rule.id
    }
    return bind_params(
        rule.file.params,
        given,
        settings,
        skip=RUNTIME_PARAMS,
        prefix=f"{rule.id}.",
        what=f"rule {rule.id}",
    )


def bound_params(
    rule_ids: list[str] | None = None,
    params: dict[str, str] | None = None,
    settings: Settings | None = None,
) -> dict[str, dict[str, object]]:
    """`{rule: {param: value}}` as a run with these options would bind them."""
    settings = settings or Settings()
    overrides = {**settings.rule_overrides(), **(params or {})}
    rules = _select_rules(rule_ids)
    return {rule.id: _compared(rule, _bind(rule, overrides, settings), settings) for rule in rules}


def params_json(values: dict[str, object]) -> str:
    """Canonical JSON of one rule's bound parameters (compared between runs)."""
    return json.dumps(values, sort_keys=True, default=str)


def bound_rules(
    rule_ids: list[str] | None, params: dict[str, str] | None, settings: Settings
) -> list[tuple[Rule, dict[str, object]]]:
    """The rules to run (all by default), each with its parameters as this run binds them:
    `params` (`rule.name` -> value) over the settings' stored overrides, tenant settings for
    the parameters that come from them. Runtime parameters (`now`, `newest_ts`) excluded."""
    cli_overrides = params or {}
    rules = _select_rules(rule_ids)
    _check_overrides(rules, cli_overrides)
    overrides = {
        k: v
        for k, v in settings.rule_overrides().items()
        if k.rpartition(".")[0] in {r.id for r in rules}
    }
    overrides.update(cli_overrides)
    return [(rule, _bind(rule, overrides, settings)) for rule in rules]


def run_detections(
    con: duckdb.DuckDBPyConnection,
    rule_ids: list[str] | None = None,
    params: dict[str, str] | None = None,
    settings: Settings | None = None,
    *,
    full: bool = False,
    now: datetime | None = None,
) -> DetectSummary:
    """Run rules (all by default) and bring their findings up to date in one transaction.

    `params` maps `rule.name` to a value (over the settings' stored rule overrides);
    `settings` gives the tenant's time zone, working hours and service accounts to the rules
    that declare them. A rule re-judges only the days data arrived in since its last run,
    unless `full`, its parameters changed, or it never ran. `now` (UTC, naive) is when the
    judgement is made; tests pin it.
    """
    settings = settings or Settings()
    bound = bound_rules(rule_ids, params, settings)
    now = now or datetime.now(UTC).replace(tzinfo=None)
    geoip = settings.geoip_path()
    summary = DetectSummary(started_at=now, geoip=str(geoip) if geoip else None)
    # Locations of the distinct addresses (pipeline.geo), before the transaction: a temp
    # table of this connection that every rule may join.
    summary.addresses = register_ip_locations(
        con, geoip, settings.corporate_networks, settings.service_networks
    )
    con.execute("BEGIN")
    try:
        covered = covered_ingest_run(con)
        rows, newest = con.execute("SELECT count(*), max(ts) FROM main.requests").fetchall()[0]
        summary.covered_ingest_run, summary.covered_rows, summary.newest_ts = covered, rows, newest
        states = last_states(con)
        runtime = {"now": now, "newest_ts": newest or now, TENANT_TZ: settings.timezone}
        for rule, values in bound:
            state = None if full or covered is None else states.get(rule.id)
            if state is not None and (
                state.params != params_json(_compared(rule, values, settings))
                or state.sql != rule.fingerprint
            ):
                state = None  # other parameters, settings or SQL: every day may judge anew
            _run_rule(con, rule, values, runtime, state, summary)
            summary.rules_run.append(rule.id)
            if (needs := rule.file.meta.get("needs")) is not None and not _has_rows(con, needs):
                summary.not_applicable_by_rule[rule.id] = NEEDS_TABLES[needs]
            if rule.id == "orphan-key-calls":
                summary.awaiting_origin = awaiting_origin(con, values, runtime)
        summary.run_id = record_run(
            con,
            summary,
            {rule.id: _compared(rule, values, settings) for rule, values in bound},
            settings.as_json(),
            "full" if full or set(summary.mode_by_rule.values()) == {"full"} else "incremental",
            {rule.id: rule.fingerprint for rule, _ in bound},
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return summary


def _has_rows(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether `table` (one of `NEEDS_TABLES`, a fixed name) holds a row."""
    sql = f"SELECT EXISTS (SELECT 1 FROM main.{table})"  # noqa: S608 -- a fixed name
    return bool(con.execute(sql).fetchall()[0][0])


def _compared(rule: Rule, values: dict[str, object], settings: Settings) -> dict[str, object]:
    """What a rule's verdicts depend on besides its SQL: its bound parameters and, for a rule
    that reads `ip_locations`, the location settings (another database or declared
    networks re-judge every day)."""
    if "ip_locations" not in rule.file.sql:
        return values
    return {
        **values,
        "geoip": settings.geoip,
        "corporate_networks": list(settings.corporate_networks),
        "service_networks": list(settings.service_networks),
    }


def awaiting_origin(
    con: duckdb.DuckDBPyConnection, values: dict[str, object], runtime: dict[str, object]
) -> int:
    """Orphan key calls not judged yet: their origin may still arrive (see orphan-key-calls)."""
    query = sql_file("report", "awaiting-origin")
    newest = runtime["newest_ts"]
    assert isinstance(newest, datetime)
    bind = {
        # Only calls within the grace window of the newest record can be awaiting.
        "from_ts": newest - timedelta(minutes=int(str(values["grace_minutes"]))),
        "to_ts": datetime(9999, 1, 1),
        "grace_minutes": values["grace_minutes"],
        **{k: v for k, v in runtime.items() if k != TENANT_TZ},
    }
    start = bind["from_ts"]
    assert isinstance(start, datetime)
    try:
        # Read the tail only (with a day before it for origins), as the rule reads a window.
        _shadow(con, start - timedelta(days=1), datetime(9999, 1, 1))
        return int(con.execute(query.sql, bind).fetchall()[0][0])
    except duckdb.Error as e:
        raise QueryError(f"query awaiting-origin ({query.path}) failed: {e}") from e
    finally:
        con.execute("DROP VIEW IF EXISTS temp.requests").fetchall()
        con.execute("DROP VIEW IF EXISTS temp.key_usage").fetchall()


def _run_rule(
    con: duckdb.DuckDBPyConnection,
    rule: Rule,
    values: dict[str, object],
    runtime: dict[str, object],
    state: RuleState | None,
    summary: DetectSummary,
) -> None:
    summary.severity_by_rule[rule.id] = rule.severity
    # Entities the rule could not judge yet (learning period), collected by `_evaluate`.
    con.execute("CREATE OR REPLACE TEMP TABLE rule_learners (entity VARCHAR)").fetchall()
    _judge(con, rule, values, runtime, state, summary)
    learners = con.execute("SELECT DISTINCT entity FROM rule_learners ORDER BY entity").fetchall()
    summary.learning_by_rule[rule.id] = [str(e) for (e,) in learners]
    con.execute("DROP TABLE rule_learners").fetchall()


def _judge(
    con: duckdb.DuckDBPyConnection,
    rule: Rule,
    values: dict[str, object],
    runtime: dict[str, object],
    state: RuleState | None,
    summary: DetectSummary,
) -> None:
    lookback, lookahead = rule.reach("lookback_days", values), rule.reach("lookahead_days", values)
    windows: list[Interval] | None = None  # None: the whole history
    if rule.file.meta.get("judge") == EVERY_RUN:
        state = None  # it reads the evidence tables, not days of records: judge it all
    if rule.file.meta.get("judge") == ON_ARRIVAL:
        if state is not None and state.covered_ingest_run == summary.covered_ingest_run:
            windows = []  # nothing stored since: its verdicts stand
        state = None
    if state is not None:
        days = arrived_days(con, state, rule.reach("settle_minutes", values) or 0)
        if not days:
            windows = []
        elif lookback is not None and lookahead is not None:
            spans = intervals_for(days, lookback, lookahead, rule.pad)
            windows = widen_by_findings(con, rule.id, spans)
    if windows == []:
        summary.mode_by_rule[rule.id] = "unchanged"
        summary.days_by_rule[rule.id] = 0
        _count(con, rule, summary, new=0, removed=0)
        return
    if windows is not None:
        assert lookback is not None and lookahead is not None
        if _evaluate_windows(con, rule, values, runtime, windows, lookback, lookahead):
            summary.mode_by_rule[rule.id] = "incremental"
            summary.days_by_rule[rule.id] = sum(w.days for w in windows)
            _apply(con, rule, summary, windows)
            return
        # A finding reached the edge of what was read: its days are not all judged; redo.
    _evaluate(con, rule, values, runtime, None, "fresh_findings")
    summary.mode_by_rule[rule.id] = "full"
    summary.days_by_rule[rule.id] = None
    _apply(con, rule, summary, None)


def _evaluate(
    con: duckdb.DuckDBPyConnection,
    rule: Rule,
    values: dict[str, object],
    runtime: dict[str, object],
    read: tuple[datetime, datetime] | None,
    into: str,
    judge: tuple[datetime, datetime] = JUDGE_ALL,
) -> None:
    """Run the rule into temp table `into`; with `read`, it sees only records in [lo, hi),
    and with `judge`, it may judge only those in [judge_from, judge_to)."""
    body = rule_body(rule.file.sql)
    learning = "f.learning" if "learning" in rule.file.columns else "false"
    # A rule may grade its findings itself (`severity` column); else the header's.
    severity = "f.severity" if "severity" in rule.file.columns else "NULL"
    # The rule body is a SQL file shipped with the package, never user input; values are bound.
    output = f"""
        CREATE OR REPLACE TEMP TABLE rule_output AS
        SELECT f.entity, f.first_ts, f.last_ts, f.summary, f.evidence_row_ids, f.window_start,
               coalesce({learning}, false) AS learning,
               CAST({severity} AS VARCHAR) AS severity
        FROM (
{body}
        ) AS f
    """  # noqa: S608
    declared = {p.name for p in rule.file.params}
    given = {**runtime, "judge_from": judge[0], "judge_to": judge[1]}
    bind = {**values, **{k: v for k, v in given.items() if k in declared}}
    merge = {"rule": rule.id, "severity": rule.severity, "timezone": runtime[TENANT_TZ]}
    try:
        if read is not None:
            _shadow(con, *read)
        con.execute(output, bind).fetchall()
        con.execute(f"CREATE OR REPLACE TEMP TABLE {into} AS {MERGE_PER_DAY}", merge).fetchall()
        con.execute(
            "INSERT INTO rule_learners SELECT entity FROM rule_output WHERE learning"
        ).fetchall()
        con.execute("DROP TABLE rule_output").fetchall()
    except duckdb.Error as e:
        raise QueryError(f"detection rule {rule.id} ({rule.file.path}) failed: {e}") from e
    finally:
        if read is not None:
            con.execute("DROP VIEW IF EXISTS temp.requests").fetchall()
            con.execute("DROP VIEW IF EXISTS temp.key_usage").fetchall()


_FINAL_SEMICOLON = re.compile(r";(?=(?:\s|--[^\n]*|/\*.*?\*/)*\Z)", re.DOTALL)


def rule_body(sql: str) -> str:
    """A rule's SQL ready to sit inside `FROM ( ... ) AS f`: its final `;` dropped, even
    when comments follow it. The caller puts the closing parenthesis on a line of its
    own, so a body ending in a `-- comment` cannot swallow it."""
    return _FINAL_SEMICOLON.sub("", sql.rstrip(), count=1)


#: Where the runner keeps the tenant's time zone in `runtime` (never bound to a rule).
TENANT_TZ = "__tenant_timezone"
#: One finding per rule, entity and local day (the tenant's time zone), over `rule_output`:
#: the windows that start that day, merged; the id is that of the day's first window.
#: (Also translated for Spark: queries/spark/merge-per-day.sql.)
MERGE_PER_DAY = """
    WITH w AS (
        SELECT *, timezone($timezone, timezone('UTC', window_start))::DATE AS day,
               count(*) OVER (PARTITION BY entity,
                              timezone($timezone, timezone('UTC', window_start))::DATE) AS n
        FROM rule_output WHERE NOT learning
    )
    SELECT md5(concat_ws('|', $rule, entity, strftime(min(window_start), '%Y-%m-%dT%H:%M:%S')))
               AS finding_id,
           $rule AS rule,
           coalesce(arg_max(severity, list_position(['low', 'medium', 'high'], severity)),
                    $severity) AS severity,
           min(first_ts) AS first_ts,
           max(last_ts) AS last_ts, entity,
           CASE WHEN any_value(n) = 1 THEN any_value(summary)
                ELSE format('{} windows on {}: {}', any_value(n), strftime(day, '%Y-%m-%d'),
                            string_agg(summary, ' | ' ORDER BY window_start, first_ts))
           END AS summary,
           flatten(list(evidence_row_ids ORDER BY window_start, first_ts)) AS evidence_row_ids,
           min(window_start) AS window_start
    FROM w
    GROUP BY entity, day
"""


def _shadow(con: duckdb.DuckDBPyConnection, lo: datetime, hi: datetime) -> None:
    """Temp views `requests` and `key_usage` that hide every record outside [lo, hi).

    Unqualified names resolve to the temp schema first, so the rule's SQL runs unchanged.
    The bounds are datetimes we computed, written as literals (views take no parameters).
    """
    db = con.execute("SELECT current_database()").fetchall()[0][0]
    main = '"' + str(db).replace('"', '""') + '".main'
    where = f"ts >= TIMESTAMP '{lo:%Y-%m-%d %H:%M:%S}' AND ts < TIMESTAMP '{hi:%Y-%m-%d %H:%M:%S}'"
    for name in ("requests", "key_usage"):
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {main}.{name} WHERE {where}"  # noqa: S608
        ).fetchall()


def _evaluate_windows(
    con: duckdb.DuckDBPyConnection,
    rule: Rule,
    values: dict[str, object],
    runtime: dict[str, object],
    windows: list[Interval],
    lookback: int,
    lookahead: int,
) -> bool:
    """Judge the days of each window, reading its look-back and look-ahead (plus a day for
    time zones); collect the findings that start in it into `fresh_findings`.

    A rule that declares `judge_from` and `judge_to` judges only the records of the
    window's days and a day more on each side (time zones), plus a day of margin before
    and two after (a finding that starts on the last day may run past midnight).

    False when a finding judged reaches within a day of the edge of what was read (or
    judged): then it may continue beyond, the rule's header understates its reach, and
    the caller runs the rule over the whole history instead.
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE fresh_findings AS SELECT * FROM findings WHERE false"
    ).fetchall()
    for w in windows:
        lo = _midnight(w.first - timedelta(days=lookback + rule.pad))
        hi = _midnight(w.last + timedelta(days=lookahead + rule.pad + 1))
        judge = JUDGE_ALL
        if rule.judges_in_bounds:
            lo_judge = _midnight(w.first - timedelta(days=rule.pad + 1))
            hi_judge = _midnight(w.last + timedelta(days=rule.pad + 3))
            judge = (max(lo, lo_judge), min(hi, hi_judge))
        _evaluate(con, rule, values, runtime, (lo, hi), "window_findings", judge)
        if rule.judges_in_bounds:
            lo, hi = judge
        edge = con.execute(
            """
            SELECT count(*) FROM window_findings
            WHERE CAST(window_start AS DATE) BETWEEN $first AND $last
              AND (first_ts < $lo + INTERVAL 1 DAY OR last_ts >= $hi - INTERVAL 1 DAY)
            """,
            {"first": w.first, "last": w.last, "lo": lo, "hi": hi},
        ).fetchall()[0][0]
        if edge:
            con.execute("DROP TABLE IF EXISTS window_findings").fetchall()
            return False
        con.execute(
            "INSERT INTO fresh_findings BY NAME SELECT * FROM window_findings "
            "WHERE CAST(window_start AS DATE) BETWEEN $first AND $last",
            {"first": w.first, "last": w.last},
        ).fetchall()
        con.execute("DROP TABLE window_findings").fetchall()
    return True


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _apply(
    con: duckdb.DuckDBPyConnection,
    rule: Rule,
    summary: DetectSummary,
    windows: list[Interval] | None,
) -> None:
    """Replace the rule's findings that start in `windows` (all of them when None) by
    `fresh_findings`: new ones added, changed ones updated, ones that no longer fire gone."""
    scope = "rule = $rule"
    bind: dict[str, object] = {"rule": rule.id}
    if windows is not None:
        ranges = " OR ".join(
            f"CAST(window_start AS DATE) BETWEEN $f{i} AND $l{i}" for i in range(len(windows))
        )
        scope += f" AND ({ranges})"
        for i, w in enumerate(windows):
            bind[f"f{i}"], bind[f"l{i}"] = w.first, w.last
    new, removed = con.execute(
        f"""
        SELECT (SELECT count(*) FROM fresh_findings
                WHERE finding_id NOT IN (SELECT finding_id FROM findings)),
               (SELECT count(*) FROM findings WHERE {scope}
                AND finding_id NOT IN (SELECT finding_id FROM fresh_findings))
        """,  # noqa: S608 -- only placeholders and fixed text are spliced
        bind,
    ).fetchall()[0]
    con.execute(
        f"DELETE FROM findings WHERE {scope} "  # noqa: S608
        "AND finding_id NOT IN (SELECT finding_id FROM fresh_findings)",
        bind,
    ).fetchall()
    con.execute("INSERT OR REPLACE INTO findings BY NAME SELECT * FROM fresh_findings").fetchall()
    con.execute("DROP TABLE fresh_findings").fetchall()
    _count(con, rule, summary, new=int(new), removed=int(removed))


def _count(
    con: duckdb.DuckDBPyConnection, rule: Rule, summary: DetectSummary, *, new: int, removed: int
) -> None:
    total = con.execute(
        "SELECT count(*) FROM findings WHERE rule = $rule", {"rule": rule.id}
    ).fetchall()[0][0]
    summary.findings_by_rule[rule.id] = int(total)
    summary.new_by_rule[rule.id] = new
    summary.removed_by_rule[rule.id] = removed
