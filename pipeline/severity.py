"""Finding severities: a light module, so the command line can offer them without
loading the detection machinery (see `pipeline.detect.rules` for how rules use them)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from pipeline.errors import UsageError


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


SEVERITIES = tuple(s.value for s in Severity)


def severity_rank(severity: str) -> int:
    """0 for `low` up to 2 for `high`; a name outside `SEVERITIES` ranks above them all."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def severity_at_least(severity: str | None, threshold: str) -> bool:
    """True when `severity` is `threshold` or worse (`None` never is)."""
    if threshold not in SEVERITIES:
        raise UsageError(f"severity must be one of {', '.join(SEVERITIES)}, not {threshold!r}")
    return severity is not None and severity_rank(severity) >= severity_rank(threshold)


def worst_severity(
    findings_by_rule: Mapping[str, int], severity_by_rule: Mapping[str, str]
) -> str | None:
    """The highest severity among rules that found something, None when none did."""
    found = [severity_by_rule[r] for r, n in findings_by_rule.items() if n]
    return max(found, key=severity_rank) if found else None
