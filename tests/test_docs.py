"""The docs are checked (README.md and docs/*.md): the data dictionary matches the
warehouse; the commands exist; the demo output is what the demo prints."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline.errors import ExitCode

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"


def manual() -> str:
    """The README and every page under docs/, as one text (headings keep their levels)."""
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in pages)


_SECTION = re.compile(r"^### `(\w+)` \((table|view)\)$")
_ROW = re.compile(r"^\| `(\w+)` \| ([A-Z\[\]]+) \|")


def documented() -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in manual().splitlines():
        if m := _SECTION.match(line):
            current = m.group(1)
            tables[current] = []
        elif line.startswith("## "):
            current = None
        elif current and (m := _ROW.match(line)):
            tables[current].append((m.group(1), m.group(2)))
    return tables


def test_the_data_dictionary_lists_every_public_table_and_column(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    docs = documented()
    public = {
        r[0]
        for r in warehouse.sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    assert set(docs) == public
    for name, columns in docs.items():
        actual = [(r[0], r[1]) for r in warehouse.sql(f'DESCRIBE "{name}"').fetchall()]
        assert columns == actual, name


def test_the_readme_shows_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text


def _section(title: str) -> str:
    text = manual()
    start = text.index(f"\n{title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def test_the_readme_query_examples_run_on_the_sample_warehouse(
    cli: Any, sample_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RMSLOG_DB", str(sample_warehouse))
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```sh\n(.*?)```", _section("## Querying the warehouse"), re.DOTALL)
    commands = [
        line for block in blocks for line in block.splitlines() if line.startswith("rmslog ")
    ]
    assert len(commands) >= 5
    for command in commands:
        result = cli(*shlex.split(command)[1:])
        assert result.exit_code == 0, f"{command}\n{result.output}"
    assert (tmp_path / "key-calls.csv").read_text(encoding="utf-8").startswith("day,operation")


def test_the_readme_lists_every_named_query_with_its_title() -> None:
    from pipeline.query import named_queries

    rows = re.findall(r"^\| `([\w-]+)` \| (.+?) \|", _section("## Querying the warehouse"), re.M)
    assert rows == [(q.name, q.meta["title"]) for q in named_queries()]


def test_the_readme_exit_code_table_matches_the_exit_codes() -> None:
    codes = re.findall(r"^\| (\d+) \| ", _section("### Exit codes"), re.M)
    assert sorted(int(c) for c in codes) == sorted(int(c) for c in ExitCode)


def test_the_readme_shows_what_make_demo_really_prints(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = README.read_text(encoding="utf-8")
    block = text.split("`make demo` prints", 1)[1].split("```", 2)[1].strip().splitlines()
    monkeypatch.chdir(tmp_path)
    result = cli("demo")
    assert result.exit_code == 0, result.output
    printed = result.stdout.strip().splitlines()
    assert printed[:-1] == block[:-1]  # the summary, word for word
    assert Path(printed[-1]).name == Path(block[-1]).name  # the report path, last
