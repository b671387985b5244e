"""Detect stage: run the detection rules in `queries/detections/` and keep `findings` current."""

from pipeline.detect.rules import (
    SEVERITIES,
    DetectSummary,
    Rule,
    Severity,
    list_rules,
    run_detections,
    severity_at_least,
)

__all__ = [
    "SEVERITIES",
    "DetectSummary",
    "Rule",
    "Severity",
    "list_rules",
    "run_detections",
    "severity_at_least",
]
