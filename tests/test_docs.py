"""The docs are checked (README.md and docs/*.md): the data dictionary matches the
warehouse; the commands exist; the demo output has the shape the demo prints."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest

from pipeline import docs
from pipeline.errors import ExitCode

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"


def manual() -> str:
    """The README and every page under docs/, as one text (headings keep their levels)."""
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in pages)


_SECTION = re.compile(r"^## `(\w+)` \((table|view)\)$")
_ROW = re.compile(r"^\| `(\w+)` \| ([A-Z\[\]]+) \|")


def documented(page: str) -> dict[str, list[tuple[str, str]]]:
    """The tables of a data dictionary page: name -> [(column, type)]."""
    tables: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in page.splitlines():
        if m := _SECTION.match(line):
            current = m.group(1)
            tables[current] = []
        elif current and (m := _ROW.match(line)):
            tables[current].append((m.group(1), m.group(2)))
    return tables


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    return docs.pages()


def test_every_generated_reference_page_is_what_the_generator_writes_now(
    generated: dict[Path, str],
) -> None:
    stale = docs.stale(generated, ROOT)
    assert not stale, (
        f"stale generated docs: {', '.join(map(str, stale))}; "
        "run `make docs` (python -m pipeline.docs) and commit the result"
    )


def test_the_generated_data_dictionary_lists_every_public_table_and_column(
    warehouse: duckdb.DuckDBPyConnection, generated: dict[Path, str]
) -> None:
    tables = documented(generated[docs.REFERENCE / "data-dictionary.md"])
    public = {
        r[0]
        for r in warehouse.sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    assert set(tables) == public
    for name, columns in tables.items():
        actual = [(r[0], r[1]) for r in warehouse.sql(f'DESCRIBE "{name}"').fetchall()]
        assert columns == actual, name


def test_the_data_dictionary_refuses_a_column_without_a_description(tmp_path: Path) -> None:
    text = docs.DICTIONARY.read_text(encoding="utf-8")
    assert "\nc_ip = 'client IP address'\n" in text
    holed = tmp_path / "dictionary.toml"
    holed.write_text(text.replace("\nc_ip = 'client IP address'\n", "\n", 1), encoding="utf-8")
    with pytest.raises(docs.DocsError) as failure:
        docs.data_dictionary_page(holed)
    message = str(failure.value)
    assert "column `requests.c_ip` is not described" in message
    assert "[tables.requests.columns]" in message and "make docs" in message


def test_the_data_dictionary_refuses_a_table_it_does_not_describe(tmp_path: Path) -> None:
    text = docs.DICTIONARY.read_text(encoding="utf-8")
    start = text.index("[tables.refused_files]")
    end = text.index("[tables.", text.index("[tables.refused_files.columns]") + 1)
    holed = tmp_path / "dictionary.toml"
    holed.write_text(text[:start] + text[end:], encoding="utf-8")
    with pytest.raises(docs.DocsError, match=r"table `refused_files` is not described"):
        docs.data_dictionary_page(holed)


def test_the_command_reference_refuses_an_option_without_help(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    option = SimpleNamespace(name="colour", help=None, hidden=False)
    command = SimpleNamespace(help="Paint the warehouse.", params=[option], hidden=False)
    monkeypatch.setattr(docs, "_commands", lambda: iter([(["paint"], command)]))
    with pytest.raises(docs.DocsError, match=r"`rmslog paint`: parameter 'colour' has no help="):
        docs.cli_page()


def test_the_rule_catalogue_refuses_a_rule_without_a_title(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pipeline import sqlfiles

    rule = tmp_path / "quiet.sql"
    rule.write_text(
        "-- id: quiet\n-- severity: low\n-- description: Never fires.\n"
        "-- param: n INTEGER = 1\nSELECT 1\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sqlfiles, "sql_files", lambda _subdir: [sqlfiles.read_sql_file(rule)])
    with pytest.raises(docs.DocsError) as failure:
        docs.rules_page()
    assert "quiet.sql: no `-- title:` header" in str(failure.value)
    assert "quiet.sql: parameter n has no `| description`" in str(failure.value)


def test_the_generated_catalogues_hold_every_rule_named_query_and_command(
    generated: dict[Path, str],
) -> None:
    from pipeline.detect import list_rules
    from pipeline.query import named_queries

    rules = generated[docs.REFERENCE / "rules.md"]
    assert all(f"\n## {r.id}\n" in rules for r in list_rules())
    queries = generated[docs.REFERENCE / "queries.md"]
    assert all(f"\n## {q.name}\n" in queries for q in named_queries())
    cli_page = generated[docs.REFERENCE / "cli.md"]
    for path, _command in docs._commands():
        assert f"\n## {' '.join(['rmslog', *path])}\n" in cli_page


@pytest.mark.slow
def test_the_docs_generator_checks_without_writing(
    generated: dict[Path, str], tmp_path: Path
) -> None:
    page = tmp_path / docs.REFERENCE / "rules.md"
    page.parent.mkdir(parents=True)
    page.write_text(generated[docs.REFERENCE / "rules.md"] + "edited by hand\n", encoding="utf-8")
    assert docs.stale(generated, tmp_path) == list(generated)  # missing or edited: stale
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.docs", "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr


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


def test_the_readme_exit_code_table_matches_the_exit_codes() -> None:
    codes = re.findall(r"^\| (\d+) \| ", _section("### Exit codes"), re.M)
    assert sorted(int(c) for c in codes) == sorted(int(c) for c in ExitCode)


_NUMBER = re.compile(r"\d[\d,]*")


def _shape(line: str) -> str:
    """A line with its numbers masked: what the demo prints, not the counts of one run."""
    return _NUMBER.sub("N", line)


def _counts(lines: list[str]) -> tuple[int, int]:
    """(records generated, rows ingested) from the demo's summary lines."""
    generated = re.search(r"generated\s+([\d,]+) log records", lines[0])
    ingested = re.search(r"ingested\s+([\d,]+) rows", lines[1])
    assert generated and ingested, lines
    return int(generated.group(1).replace(",", "")), int(ingested.group(1).replace(",", ""))


@pytest.mark.slow
def test_the_readme_shows_what_make_demo_really_prints(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = README.read_text(encoding="utf-8")
    block = text.split("`make demo` prints", 1)[1].split("```", 2)[1].strip().splitlines()
    monkeypatch.chdir(tmp_path)
    result = cli("demo")
    assert result.exit_code == 0, result.output
    printed = result.stdout.strip().splitlines()
    # The same lines in the same words; the counts are whatever this simulator makes today.
    assert [_shape(line) for line in printed[:-1]] == [_shape(line) for line in block[:-1]]
    generated, ingested = _counts(printed)
    assert generated == ingested > 0  # every simulated record stored, here and in the README
    assert _counts(block)[0] == _counts(block)[1]
    assert Path(printed[-1]).name == Path(block[-1]).name  # the report path, last
    assert Path(printed[-1]).is_file()
