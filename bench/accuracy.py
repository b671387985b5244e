"""How well the rules find what the generator injected: precision and recall per rule.

The generator writes `ground-truth.json` beside the logs (format `rmslog-ground-truth/1`):
each injected incident has a `scenario` (= a rule id), an `entity`, a UTC window
`first_ts`..`last_ts` and the row ids it injected. A finding *matches* an incident when
its rule is the scenario, its entity is the incident's entity, and the two windows
overlap once each is widened by `slack` on both sides (default 15 minutes: a burst's
first record may sit a few minutes from where the generator says the incident began).

- precision of a rule = findings that match some incident / findings of the rule
- recall of a rule = incidents of that scenario matched by some finding / its incidents
- findings per incident = findings matching the rule's incidents / incidents found (1.0:
  each incident is one finding, not split into several)

Both are None when undefined (no findings, no incidents). A rule's scenario is its id,
unless its header names another (`-- scenario: impossible-travel` for `new-network`, the
geography-free signal of the same incidents).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.errors import UsageError

GROUND_TRUTH_FORMAT = "rmslog-ground-truth/1"
DEFAULT_SLACK = timedelta(minutes=15)


@dataclass(frozen=True)
class GroundTruth:
    options: dict[str, Any]
    incidents: pl.DataFrame  # scenario, entity, first_ts, last_ts, row_ids

    @property
    def timezone(self) -> str:
        return str(self.options.get("timezone") or "UTC")


@dataclass(frozen=True)
class RuleScore:
    rule: str
    incidents: int
    incidents_found: int
    findings: int
    findings_matched: int

    @property
    def precision(self) -> float | None:
        return self.findings_matched / self.findings if self.findings else None

    @property
    def recall(self) -> float | None:
        return self.incidents_found / self.incidents if self.incidents else None

    @property
    def per_incident(self) -> float | None:
        return self.findings_matched / self.incidents_found if self.incidents_found else None


def rule_scenarios() -> dict[str, str]:
    """Each rule's scenario: its id, or the `scenario` its header names."""
    from pipeline.detect.rules import list_rules

    return {r.id: r.file.meta.get("scenario", r.id) for r in list_rules()}


def parse_ground_truth(data: dict[str, Any], source: str = "ground truth") -> GroundTruth:
    """A ground-truth document (already decoded from JSON) as a frame of incidents."""
    if data.get("format") != GROUND_TRUTH_FORMAT:
        raise UsageError(f"{source}: format is {data.get('format')!r}, not {GROUND_TRUTH_FORMAT!r}")
    incidents = data.get("incidents")
    if not isinstance(incidents, list):
        raise UsageError(f"{source}: 'incidents' must be a list")
    schema: dict[str, pl.DataType] = {
        "scenario": pl.String(),
        "entity": pl.String(),
        "first_ts": pl.String(),
        "last_ts": pl.String(),
        "row_ids": pl.List(pl.String()),
    }
    try:
        frame = pl.DataFrame(incidents, schema=schema)
        frame = frame.with_columns(
            pl.col("first_ts", "last_ts").str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us")
        )
    except (pl.exceptions.PolarsError, TypeError, ValueError) as e:
        raise UsageError(f"{source}: malformed incidents: {e}") from e
    required = ("scenario", "entity", "first_ts", "last_ts")
    missing = frame.with_row_index("i").filter(pl.any_horizontal(pl.col(required).is_null()))
    if missing.height:
        raise UsageError(
            f"{source}: incident #{missing['i'][0]} lacks one of {', '.join(required)}"
        )
    return GroundTruth(options=dict(data.get("options") or {}), incidents=frame)


def read_ground_truth(path: Path) -> GroundTruth:
    """`ground-truth.json` as written by `rmslog generate`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise UsageError(f"{path}: cannot read ground truth: {e}") from e
    return parse_ground_truth(data, str(path))


def score_findings(
    findings: pl.DataFrame,
    truth: GroundTruth,
    rules: list[str],
    slack: timedelta = DEFAULT_SLACK,
    scenarios: dict[str, str] | None = None,
) -> list[RuleScore]:
    """Precision and recall of each rule in `rules` against the ground truth.

    `findings` has at least `finding_id, rule, entity, first_ts, last_ts`; `scenarios` maps
    a rule to the scenario it is scored against (default: `rule_scenarios()`).
    """
    scenario_of = rule_scenarios() if scenarios is None else scenarios
    f = findings.select("finding_id", "rule", "entity", "first_ts", "last_ts").with_columns(
        pl.col("rule").replace_strict(scenario_of, default=pl.col("rule")).alias("scenario")
    )
    inc = truth.incidents.with_row_index("incident").select(
        "incident",
        "scenario",
        "entity",
        pl.col("first_ts").alias("inc_first"),
        pl.col("last_ts").alias("inc_last"),
    )
    pairs = f.join(inc, on=["scenario", "entity"], how="inner").filter(
        (pl.col("first_ts") - slack <= pl.col("inc_last") + slack)
        & (pl.col("inc_first") - slack <= pl.col("last_ts") + slack)
    )
    scores = []
    for rule in rules:
        hits = pairs.filter(pl.col("rule") == rule)
        scores.append(
            RuleScore(
                rule=rule,
                incidents=inc.filter(pl.col("scenario") == scenario_of.get(rule, rule)).height,
                incidents_found=hits["incident"].n_unique(),
                findings=f.filter(pl.col("rule") == rule).height,
                findings_matched=hits["finding_id"].n_unique(),
            )
        )
    return scores


def format_scores(scores: list[RuleScore]) -> str:
    """A plain table: rule, incidents, found, findings, matched, precision, recall, and
    findings per incident found."""

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2f}"

    lines = [
        f"{'rule':<26}{'incidents':>10}{'found':>7}{'findings':>10}{'matched':>9}"
        f"{'precision':>11}{'recall':>8}{'per incident':>14}"
    ]
    for s in scores:
        lines.append(
            f"{s.rule:<26}{s.incidents:>10}{s.incidents_found:>7}{s.findings:>10}"
            f"{s.findings_matched:>9}{pct(s.precision):>11}{pct(s.recall):>8}"
            f"{pct(s.per_incident):>14}"
        )
    return "\n".join(lines)
