"""The README is checked: the data dictionary matches the warehouse; the commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

README = Path(__file__).parent.parent / "README.md"
_SECTION = re.compile(r"^### `(\w+)` \((table|view)\)$")
_ROW = re.compile(r"^\| `(\w+)` \| ([A-Z\[\]]+) \|")


def documented() -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in README.read_text(encoding="utf-8").splitlines():
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
