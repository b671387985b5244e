"""Whether the findings in the warehouse cover its data: what `report` checks first.

Findings are evidence only when detection judged the data the report shows, with the
settings the report uses. `detection_status` compares the latest `detect_runs` of every
rule with the warehouse now: records that arrived since, rules that never ran, other
parameters or settings, orphan key calls whose grace window has passed since.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from pipeline.detect.reach import last_states
from pipeline.detect.rules import bound_params, list_rules, params_json
from pipeline.settings import Settings


@dataclass(frozen=True)
class LastRun:
    run_id: int
    started_at: datetime
    mode: str
    rules: tuple[str, ...]
    settings: dict[str, object]
    covered_ingest_run: int | None
    covered_rows: int
    newest_ts: datetime | None
    awaiting_origin: int | None


@dataclass(frozen=True)
class DetectionStatus:
    last_run: LastRun | None
    #: Why the findings do not cover the warehouse's data (empty: they do).
    stale: tuple[str, ...] = field(default=())

    @property
    def current(self) -> bool:
        return not self.stale

    def describe(self) -> str:
        """One sentence on when detection last ran and what it covered."""
        run = self.last_run
        if run is None:
            return "Detection has never run on this warehouse."
        newest = f"{run.newest_ts:%Y-%m-%d %H:%M:%S}" if run.newest_ts else "none"
        upto = (
            f"up to ingest run {run.covered_ingest_run}"
            if run.covered_ingest_run is not None
            else "with no recorded ingest run"
        )
        return (
            f"Detection last ran at {run.started_at:%Y-%m-%d %H:%M:%S} UTC (detect run "
            f"{run.run_id}, {run.mode}, {len(run.rules)} rule(s)) over {run.covered_rows:,} "
            f"records {upto}, newest record {newest} UTC."
        )

    def as_dict(self) -> dict[str, object]:
        run = self.last_run
        return {
            "current": self.current,
            "stale_reasons": list(self.stale),
            "last_detect_run": None
            if run is None
            else {
                "run_id": run.run_id,
                "started_at": run.started_at,
                "mode": run.mode,
                "rules": list(run.rules),
                "settings": run.settings,
                "covered_ingest_run": run.covered_ingest_run,
                "covered_rows": run.covered_rows,
                "newest_ts": run.newest_ts,
                "awaiting_origin": run.awaiting_origin,
            },
        }


def _last_run(con: duckdb.DuckDBPyConnection) -> LastRun | None:
    try:
        rows = con.execute(
            "SELECT run_id, started_at, mode, rules, settings, covered_ingest_run, "
            "covered_rows, newest_ts, awaiting_origin FROM main.detect_runs "
            "ORDER BY run_id DESC LIMIT 1"
        ).fetchall()
    except duckdb.CatalogException:
        return None
    if not rows:
        return None
    run_id, started, mode, rules, settings, covered, count, newest, awaiting = rows[0]
    return LastRun(
        int(run_id),
        started,
        mode,
        tuple(rules),
        json.loads(settings),
        None if covered is None else int(covered),
        int(count),
        newest,
        None if awaiting is None else int(awaiting),
    )


def _has_run_ids(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        con.execute("SELECT run_id FROM main.requests LIMIT 0").fetchall()
        con.execute("SELECT run_id FROM main.ingest_runs LIMIT 0").fetchall()
    except duckdb.Error:
        return False
    return True


def detection_status(
    con: duckdb.DuckDBPyConnection, settings: Settings, now: datetime
) -> DetectionStatus:
    """Do the stored findings cover the warehouse's data, judged with `settings`?"""
    last = _last_run(con)
    if last is None:
        return DetectionStatus(None, ("detect has never run on this warehouse",))
    reasons: list[str] = []
    states = last_states(con)
    expected = bound_params(None, None, settings)
    never = [r for r in expected if r not in states]
    if never:
        reasons.append(f"rule(s) {', '.join(never)} never ran")
    changed = [r for r, v in expected.items() if r in states and states[r].params != params_json(v)]
    if changed:
        reasons.append(
            f"rule(s) {', '.join(changed)} last ran with other parameters or settings "
            f"than the warehouse's ({settings.describe()})"
        )
    rules = {r.id: r for r in list_rules()}
    redefined = [r for r in expected if r in states and states[r].sql != rules[r].fingerprint]
    if redefined:
        reasons.append(f"rule(s) {', '.join(redefined)} changed since they last ran")
    ran = [states[r] for r in expected if r in states]
    if ran and _has_run_ids(con):
        oldest = min((s.covered_ingest_run for s in ran), key=lambda c: -1 if c is None else c)
        arrived = con.execute(
            "SELECT count(*) FROM main.requests WHERE run_id > $c",
            {"c": -1 if oldest is None else oldest},
        ).fetchall()[0][0]
        if arrived:
            reasons.append(f"{arrived:,} record(s) arrived after detection last covered the data")
        orphan = states.get("orphan-key-calls")
        grace = expected.get("orphan-key-calls", {}).get("grace_minutes")
        if orphan is not None and isinstance(grace, int) and not arrived:
            window = timedelta(minutes=grace)
            settled = con.execute(
                "SELECT count(*) FROM main.ingest_runs WHERE started_at > $a AND started_at <= $b",
                {"a": orphan.started_at - window, "b": now - window},
            ).fetchall()[0][0]
            if settled:
                reasons.append(
                    "key calls that were awaiting their origin at the last detect have had "
                    "their grace window since"
                )
    elif ran:
        rows = con.execute("SELECT count(*) FROM main.requests").fetchall()[0][0]
        if rows != last.covered_rows:
            reasons.append(
                f"the warehouse holds {rows:,} records, "
                f"detection last covered {last.covered_rows:,}"
            )
    return DetectionStatus(last, tuple(reasons))
