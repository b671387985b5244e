"""The import contracts in pyproject.toml ([tool.importlinter]) hold, and they really say
what they claim: `lint-imports` (run by `make check`) fails when a core module imports a
stage. Besides the static graph, the stages' *loaded* modules are checked here: importing
a stage must not pull in plotly or the command line's typer and rich at run time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

STAGES = [
    "pipeline.generate",
    "pipeline.ingest",
    "pipeline.detect",
    "pipeline.query",
    "pipeline.warehouse",
    "pipeline.schema",
]


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, check=False
    )


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_import_contracts_fail_when_the_core_imports_a_stage(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(ROOT / "pyproject.toml", copy)
    shutil.copytree(ROOT / "pipeline", copy / "pipeline", ignore=shutil.ignore_patterns("*.pyc"))
    with (copy / "pipeline" / "severity.py").open("a", encoding="utf-8") as f:
        f.write("\nimport pipeline.detect  # a core module reaching up into a stage\n")
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the core imports no stage BROKEN" in result.stdout


@pytest.mark.parametrize("module", STAGES)
@pytest.mark.slow
def test_stage_does_not_load_plotly_typer_or_rich(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "bad = sorted(m for m in ('plotly', 'typer', 'rich') if m in sys.modules); print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
