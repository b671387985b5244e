"""Finding severities: a light module, so the command line can offer them without
loading the detection machinery (see `pipeline.detect.rules` for how rules use them)."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


SEVERITIES = tuple(s.value for s in Severity)
