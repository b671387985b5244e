"""Detect stage: run the detection rules in `queries/detections/` and keep `findings` current."""

from pipeline.detect.rules import DetectSummary, Rule, list_rules, run_detections

__all__ = ["DetectSummary", "Rule", "list_rules", "run_detections"]
