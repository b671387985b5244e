"""Detection accuracy against the generator's ground truth (`make eval`).

Every tenant is detected twice: with the location database the simulator writes beside
the logs (`geoip.mmdb`, as `detect --geoip` would use it) and without one (where
`impossible-travel` cannot fire and `new-network` is the signal).

1. Incident tenants: four-week, 300-user tenants with every incident scenario injected once
   a week (one tenant per seed in EVAL_SEEDS, default 1,2,3; each seed in another region,
   key topology and file layout). The Key Vault scenarios need the vault's logs: only the
   byok-keyvault tenant (seed 2) writes them (`keyvault_logs`), the others skip them.
   Per rule: incidents, incidents found, findings, findings that match an incident,
   precision, recall and findings per incident found, summed over the seeds; then recall
   per scenario (found by any rule scored against it). Matching rules are in
   `pipeline/detect/accuracy.py` (same scenario, same entity, windows overlap with a
   15-minute slack; `new-network` is scored against `impossible-travel`).
2. Clean tenants: 30 days, 500 people, no incidents; one in New York, one in Singapore
   (VPN exits as far as Sydney) moving to BYOK in Key Vault on day 8 (key calls ramp up
   over weeks; the vault's AuditEvent logs too, monitoring reads included).
   Every finding there is a false alarm; printed per rule as false alarms per 500
   person-days (people x days of the tenant).

Detection runs with the tenant's time zone from the ground truth, as `rmslog demo` does.
Bar (issue 15): on clean tenants at most 1 false alarm per 500 person-days for every rule,
with and without the database; on incident tenants recall 1.00 per scenario, precision
>= 0.9 per rule, one finding per incident.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import polars as pl
from common import OUT, ensure_warehouse, section

from pipeline.detect import list_rules, run_detections
from pipeline.detect.accuracy import (
    RuleScore,
    format_scores,
    read_ground_truth,
    rule_scenarios,
    score_findings,
)
from pipeline.generate import ALL_SCENARIOS, GenerateOptions
from pipeline.schema import Topology
from pipeline.settings import Settings
from pipeline.warehouse import open_warehouse

RULES = [r.id for r in list_rules()]
SCENARIO_OF = rule_scenarios()
SEEDS = [int(s) for s in os.environ.get("EVAL_SEEDS", "1,2,3").split(",") if s.strip()]
MODES = (("with", True), ("without", False))
#: Each seed's tenant lives in another region (time zone, holidays, address ranges) with
#: another key topology and file layout, so the rules are not tuned to one tenant shape.
SHAPES = (
    {"region": "na", "topology": Topology.BYOK_LEGACY, "layout": "daily"},
    {"region": "eu", "topology": Topology.BYOK_KEYVAULT, "layout": "blobs", "keyvault_logs": True},
    {"region": "ap", "topology": Topology.BYOK_LEGACY, "layout": "daily"},
)
CLEAN_USERS, CLEAN_DAYS = 500, 30


def incident_options(seed: int) -> GenerateOptions:
    """Four weeks, 300 users, every scenario (one of each per week)."""
    shape = SHAPES[(seed - 1) % len(SHAPES)]
    # Rules that judge the evidence, not the tenant (source-changed), have no scenario.
    scenarios = tuple(s for s in dict.fromkeys(SCENARIO_OF.values()) if s in ALL_SCENARIOS)
    return GenerateOptions(
        start=date(2026, 9, 7), days=28, users=300, seed=seed, scenarios=scenarios, **shape
    )


def clean_options(byok_from: date | None = None, region: str = "na") -> GenerateOptions:
    """30 days, 500 users, no incidents (optionally moving to BYOK during the period: then
    to a key in Key Vault, with the vault's AuditEvent logs beside the RMS logs)."""
    return GenerateOptions(
        start=date(2026, 9, 7),
        days=CLEAN_DAYS,
        users=CLEAN_USERS,
        seed=2026,
        byok_from=byok_from,
        region=region,
        topology=Topology.BYOK_KEYVAULT if byok_from else Topology.BYOK_LEGACY,
        keyvault_logs=byok_from is not None,
    )


def detect(name: str, options: GenerateOptions, geoip: bool) -> tuple[pl.DataFrame, Path, str]:
    """Generate (cached), ingest, detect with the tenant's time zone (and its location
    database when `geoip`); return the findings."""
    db = ensure_warehouse(name, options)
    logs = OUT / name / "logs"
    truth_file = logs / "ground-truth.json"
    timezone = read_ground_truth(truth_file).timezone if truth_file.exists() else "UTC"
    mmdb = logs / "geoip.mmdb"
    if geoip and not mmdb.is_file():
        raise SystemExit(f"{mmdb}: the simulator wrote no location database")
    settings = Settings(timezone=timezone, geoip=str(mmdb) if geoip else None)
    with open_warehouse(db) as con:
        run_detections(con, settings=settings)
        findings = con.sql("SELECT * FROM findings").pl()
    return findings, truth_file, timezone


def _sum(scores: list[list[RuleScore]]) -> list[RuleScore]:
    return [
        RuleScore(
            rule=rule,
            incidents=sum(s[i].incidents for s in scores),
            incidents_found=sum(s[i].incidents_found for s in scores),
            findings=sum(s[i].findings for s in scores),
            findings_matched=sum(s[i].findings_matched for s in scores),
        )
        for i, rule in enumerate(RULES)
    ]


def _scenario_recall(found: list[pl.DataFrame]) -> str:
    """Recall per scenario: incidents found by any rule scored against that scenario."""
    lines = [f"{'scenario':<26}{'incidents':>10}{'found':>7}{'recall':>8}  found by"]
    per = pl.concat(found)
    for scenario in sorted(set(SCENARIO_OF.values())):
        rows = per.filter(pl.col("scenario") == scenario)
        total = rows.select(pl.struct("seed", "incident").n_unique()).item() if rows.height else 0
        hit = rows.filter(pl.col("rule").is_not_null())
        n = hit.select(pl.struct("seed", "incident").n_unique()).item() if hit.height else 0
        by = ", ".join(sorted(set(hit["rule"].to_list())))
        recall = f"{n / total:.2f}" if total else "n/a"
        lines.append(f"{scenario:<26}{total:>10}{n:>7}{recall:>8}  {by or '-'}")
    return "\n".join(lines)


def _incidents_found(seed: int, findings: pl.DataFrame, truth_file: Path) -> pl.DataFrame:
    """(seed, incident, scenario, rule) for every incident, rule NULL when nothing found it."""
    truth = read_ground_truth(truth_file)
    rows = []
    # Per incident, which rules matched it (the matching of score_findings).
    inc = truth.incidents.with_row_index("incident")
    for i, scenario, entity, lo, hi in inc.select(
        "incident", "scenario", "entity", "first_ts", "last_ts"
    ).iter_rows():
        rules = [r for r in RULES if SCENARIO_OF[r] == scenario]
        sub = findings.filter(pl.col("rule").is_in(rules) & (pl.col("entity") == entity))
        slack = pl.duration(minutes=15)
        hits = sub.filter(
            (pl.col("first_ts") - slack <= pl.lit(hi) + slack)
            & (pl.lit(lo) - slack <= pl.col("last_ts") + slack)
        )["rule"].unique()
        for rule in hits.to_list() or [None]:
            rows.append({"seed": seed, "incident": i, "scenario": scenario, "rule": rule})
    return pl.DataFrame(
        rows,
        schema={"seed": pl.Int64, "incident": pl.UInt32, "scenario": pl.String, "rule": pl.String},
    )


def main() -> None:
    for mode, geoip in MODES:
        per_seed = []
        found = []
        for seed in SEEDS:
            with section(f"incident tenant, seed {seed}, {mode} location database"):
                findings, truth_file, tz = detect(
                    f"eval-incidents-{seed}", incident_options(seed), geoip
                )
                truth = read_ground_truth(truth_file)
                scores = score_findings(findings, truth, RULES)
                per_seed.append(scores)
                found.append(_incidents_found(seed, findings, truth_file))
                print(f"time zone {tz}; {truth.incidents.height} incidents")
                print(format_scores(scores))
        seeds = ", ".join(map(str, SEEDS))
        with section(f"all incident tenants (seeds {seeds}), {mode} location database"):
            print(format_scores(_sum(per_seed)))
            print(_scenario_recall(found))
    clean = (
        ("eval-clean", "clean, New York", clean_options()),
        (
            "eval-clean-byok-switch",
            "clean, Singapore, BYOK from day 8",
            clean_options(date(2026, 9, 14), region="ap"),
        ),
    )
    person_days = CLEAN_USERS * CLEAN_DAYS
    columns: list[tuple[str, dict[str, int]]] = []
    for name, title, options in clean:
        for mode, geoip in MODES:
            findings, _, _ = detect(name, options, geoip)
            counts = dict(findings.group_by("rule").len().iter_rows())
            columns.append((f"{title}, {mode} db", counts))
    with section(
        f"clean tenants ({CLEAN_USERS} people x {CLEAN_DAYS} days = {person_days:,} person-days, "
        "no incidents): findings, and false alarms per 500 person-days"
    ):
        for i, (title, _) in enumerate(columns):
            print(f"  [{i + 1}] {title}")
        head = "".join(f"{f'[{i + 1}]':>8}" for i in range(len(columns)))
        print(f"{'rule':<26}{head}{'worst/500':>11}  bar <= 1")
        for rule in RULES:
            ns = [c.get(rule, 0) for _, c in columns]
            worst = max(ns) * 500 / person_days
            cells = "".join(f"{n:>8}" for n in ns)
            verdict = "met" if worst <= 1 else "NOT met"
            print(f"{rule:<26}{cells}{worst:>11.2f}  {verdict}")


if __name__ == "__main__":
    main()
