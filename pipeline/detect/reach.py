"""What a detect run must re-judge: the days data arrived in since a rule's last run.

Each rule declares in its header how far it reads around a day to judge it:
`lookback_days` before and `lookahead_days` after (a number, a parameter name such as
`baseline_days`, or `all`), and optionally `settle_minutes` (records that arrived that
long before the last run may be judged differently now, e.g. orphan key calls whose
grace window has passed since). A record that arrives on day d can change the judgement
of days d - lookahead .. d + lookback; judging those reads d - lookahead - lookback ..
d + lookback + lookahead. One extra day on each side (`PAD_DAYS`) covers rules that
count days on the tenant's clock rather than UTC (those that bind `timezone`). Stored
findings that overlap a re-judged span widen it to their first day, so a finding that no
longer fires is removed.

The runs themselves are kept in `detect_runs`: rules, bound parameters, settings, and
the data covered (the newest ingest run, the rows, the newest record).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from pipeline.detect.rules import DetectSummary

#: Extra days read and re-judged on each side: days on the tenant's clock are not UTC days.
PAD_DAYS = 1


@dataclass(frozen=True)
class Interval:
    """UTC days `first` .. `last`, both included."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True)
class RuleState:
    """What a rule's last run covered."""

    detect_run: int
    started_at: datetime
    covered_ingest_run: int | None
    params: str  # canonical JSON of the parameters it bound
    newest_ts: datetime | None  # the newest record then
    sql: str | None  # fingerprint of the rule's SQL file then


def _exists(con: duckdb.DuckDBPyConnection, table: str, column: str | None = None) -> bool:
    if column is None:
        sql = (
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = $t"
        )
        return bool(con.execute(sql, {"t": table}).fetchall()[0][0])
    sql = (
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = $t AND column_name = $c"
    )
    return bool(con.execute(sql, {"t": table, "c": column}).fetchall()[0][0])


def covered_ingest_run(con: duckdb.DuckDBPyConnection) -> int | None:
    """The newest ingest run (None before any, or in a warehouse without run ids)."""
    if not (_exists(con, "ingest_runs") and _exists(con, "requests", "run_id")):
        return None
    value = con.execute("SELECT max(run_id) FROM main.ingest_runs").fetchall()[0][0]
    return None if value is None else int(value)


def last_states(con: duckdb.DuckDBPyConnection) -> dict[str, RuleState]:
    """Each rule's latest recorded run."""
    if not _exists(con, "detect_runs"):
        return {}
    rows = con.execute(
        """
        SELECT rule, arg_max(run_id, run_id), arg_max(started_at, run_id),
               arg_max(covered_ingest_run, run_id), arg_max(params, run_id),
               arg_max(newest_ts, run_id), arg_max(rule_modes, run_id)
        FROM (SELECT *, unnest(rules) AS rule FROM main.detect_runs)
        GROUP BY rule
        """
    ).fetchall()
    out = {}
    for rule, run, started, covered, params, newest, modes in rows:
        bound = json.loads(params).get(rule, {})
        sql = json.loads(modes).get(rule, {}).get("sql")
        out[rule] = RuleState(
            int(run),
            started,
            None if covered is None else int(covered),
            _canonical(bound),
            newest,
            sql,
        )
    return out


def _canonical(values: object) -> str:
    return json.dumps(values, sort_keys=True, default=str)


def arrived_days(
    con: duckdb.DuckDBPyConnection, state: RuleState, settle_minutes: int
) -> list[date]:
    """UTC days of the records stored after `state`'s run; with `settle_minutes`, also of
    those that were still settling then: arrived less than `settle_minutes` before it and
    less than `settle_minutes` older than the newest record."""
    covered = -1 if state.covered_ingest_run is None else state.covered_ingest_run
    settle = timedelta(minutes=settle_minutes)
    first = None
    newest = state.newest_ts
    if settle_minutes and newest is not None:
        first = con.execute(
            "SELECT min(run_id) FROM main.ingest_runs WHERE started_at > $t",
            {"t": state.started_at - settle},
        ).fetchall()[0][0]
    where, bind = "run_id > $covered", dict[str, object]({"covered": covered})
    if first is not None and newest is not None:
        where = "(run_id > $covered OR (run_id >= $first AND ts > $tail))"
        bind = {"covered": covered, "first": int(first), "tail": newest - settle}
    rows = con.execute(
        f"SELECT DISTINCT CAST(ts AS DATE) FROM main.requests "  # noqa: S608
        f"WHERE {where} AND ts IS NOT NULL ORDER BY 1",
        bind,
    ).fetchall()
    return [r[0] for r in rows]


def intervals_for(days: list[date], lookback: int, lookahead: int, pad: int) -> list[Interval]:
    """The days whose judgement records of `days` can change, merged into intervals."""
    spans = sorted(
        (d - timedelta(days=lookahead + pad), d + timedelta(days=lookback + pad)) for d in days
    )
    return _merge([Interval(a, b) for a, b in spans])


def _merge(spans: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for span in sorted(spans, key=lambda s: s.first):
        if out and span.first <= out[-1].last + timedelta(days=1):
            out[-1] = Interval(out[-1].first, max(out[-1].last, span.last))
        else:
            out.append(span)
    return out


def widen_by_findings(
    con: duckdb.DuckDBPyConnection, rule: str, windows: list[Interval]
) -> list[Interval]:
    """Widen each window to the first day of every stored finding of `rule` that overlaps
    it, until none more does: such a finding is re-judged whole, and removed if it no
    longer fires."""
    while True:
        widened = []
        for w in windows:
            first = con.execute(
                """
                SELECT min(CAST(window_start AS DATE)) FROM main.findings
                WHERE rule = $rule AND CAST(window_start AS DATE) <= $last
                  AND CAST(last_ts AS DATE) >= $first
                """,
                {"rule": rule, "first": w.first, "last": w.last},
            ).fetchall()[0][0]
            widened.append(Interval(min(w.first, first or w.first), w.last))
        merged = _merge(widened)
        if merged == windows:
            return merged
        windows = merged


def record_run(
    con: duckdb.DuckDBPyConnection,
    summary: DetectSummary,
    params: dict[str, dict[str, object]],
    settings_json: str,
    mode: str,
    sql: dict[str, str],
) -> int:
    """Append the run to `detect_runs`; return its id."""
    run_id = int(
        con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM main.detect_runs").fetchall()[0][0]
    )
    modes = {
        r: {"mode": summary.mode_by_rule[r], "days": summary.days_by_rule[r], "sql": sql[r]}
        for r in summary.rules_run
    }
    con.execute(
        "INSERT INTO main.detect_runs VALUES "
        "($id, $started, $finished, $mode, $rules, $params, $settings, $covered, $rows, "
        "$newest, $findings, $new, $removed, $modes, $awaiting)",
        {
            "id": run_id,
            "started": summary.started_at,
            "finished": datetime.now(UTC).replace(tzinfo=None),
            "mode": mode,
            "rules": summary.rules_run,
            "params": _canonical(params),
            "settings": settings_json,
            "covered": summary.covered_ingest_run,
            "rows": summary.covered_rows,
            "newest": summary.newest_ts,
            "findings": summary.findings,
            "new": sum(summary.new_by_rule.values()),
            "removed": sum(summary.removed_by_rule.values()),
            "modes": _canonical(modes),
            "awaiting": summary.awaiting_origin,
        },
    ).fetchall()
    return run_id
