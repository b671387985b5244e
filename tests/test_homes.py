"""One home each: signal handlers, atomic file writes and the shared CLI options are
written once, and the rest of the package uses that one (issue #14)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PIPELINE = Path(__file__).resolve().parent.parent / "pipeline"


def _sources() -> list[Path]:
    return sorted(PIPELINE.rglob("*.py"))


@pytest.mark.parametrize(
    ("pattern", "home"),
    [
        (r"\bsignal\.signal\(", {"interrupts.py"}),
        (r"\bos\.replace\(|\bmkstemp\(", {"files.py", "ingest/lake.py"}),
        (r"\bos\.fsync\(", {"files.py"}),
        (r"\"--wait\"", {"cli.py"}),
        (r"\"--fail-on\"", {"cli.py"}),
        (r"SETTINGS_PARAMS = ", {"params.py"}),
        (r"_TRUE = |TRUE_WORDS = ", {"params.py"}),
    ],
)
def test_an_idea_is_written_in_one_module(pattern: str, home: set[str]) -> None:
    found = {
        str(path.relative_to(PIPELINE))
        for path in _sources()
        if re.search(pattern, path.read_text(encoding="utf-8"))
    }
    assert found <= home, f"{pattern} outside {home}: {sorted(found - home)}"


@pytest.mark.parametrize("option", ["--db", "--wait", "--json", "--fail-on"])
def test_a_shared_cli_option_is_declared_once(option: str) -> None:
    text = (PIPELINE / "cli.py").read_text(encoding="utf-8")
    assert len(re.findall(rf'typer\.Option\(\s*"{option}"', text)) == 1, option


def test_detect_and_report_take_the_same_fail_on_choices() -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    for name in ("detect", "report"):
        result = CliRunner().invoke(app, [name, "--help"])
        assert result.exit_code == 0
        assert "--fail-on <low|medium|high>" in result.output, name
