"""Layering is enforced: only the report imports plotly; no stage imports typer."""

from __future__ import annotations

import subprocess
import sys

import pytest

STAGES = [
    "pipeline.generate",
    "pipeline.ingest",
    "pipeline.detect",
    "pipeline.query",
    "pipeline.warehouse",
    "pipeline.schema",
]


@pytest.mark.parametrize("module", STAGES)
def test_stage_does_not_import_plotly_or_typer(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "bad = sorted(m for m in ('plotly', 'typer', 'rich') if m in sys.modules); print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
