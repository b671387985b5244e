"""Write the generated reference pages under `docs/reference/` (`make docs`).

    python -m pipeline.docs           # (re)write every page
    python -m pipeline.docs --check   # exit 1 and name the stale pages; write nothing

Each page is a function of the code, so the manual cannot drift from it
(`tests/test_docs.py` fails when a page differs from what this module writes now):

- `cli.md`: every command's `--help`, from the Typer app;
- `data-dictionary.md`: every table and column of a fresh warehouse (names and types from
  DuckDB's `information_schema`), described by `pipeline/dictionary.toml`;
- `rules.md` and `queries.md`: the detection rules and named queries, from the headers of
  `queries/detections/*.sql` and `queries/named/*.sql`.

A table, column, command, option, rule or parameter without a description is an error
that names every one missing and where to add it: the generator never writes a page with
a hole in it. Only a checkout has `docs/`; the installed package can still render pages.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = Path("docs") / "reference"
DICTIONARY = Path(__file__).resolve().parent / "dictionary.toml"
REGENERATE = "make docs (or: python -m pipeline.docs)"
#: Help is rendered at this width whatever the terminal, so the page is the same everywhere.
HELP_COLUMNS = "80"


class DocsError(Exception):
    """Something the code defines has no description: the message lists every one."""


def _banner(source: str) -> str:
    return (
        f"<!-- Generated from {source} by `make docs` (python -m pipeline.docs); do not edit. "
        "tests/test_docs.py fails when this page is stale. -->"
    )


def _cell(text: str) -> str:
    """A Markdown table cell: one line, pipes escaped (also inside code spans)."""
    return " ".join(text.split()).replace("|", "\\|")


def _fail(problems: list[str], fix: str) -> None:
    if problems:
        raise DocsError("\n".join([*(f"- {p}" for p in problems), fix]))


# --- the command line ---------------------------------------------------------------------


def _commands() -> Iterator[tuple[list[str], Any]]:
    """(path, command) for every command and sub-command, in the app's order."""
    import typer.main

    from pipeline.cli import app

    def walk(group: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        for name, command in group.commands.items():
            if command.hidden:
                continue
            yield [*path, name], command
            if hasattr(command, "commands"):
                yield from walk(command, [*path, name])

    root = typer.main.get_command(app)
    yield [], root
    yield from walk(root, [])


def cli_page() -> str:
    from typer.testing import CliRunner

    from pipeline.cli import app

    problems = []
    for path, command in _commands():
        where = " ".join(["rmslog", *path])
        if not (command.help or "").strip():
            problems.append(f"command `{where}` has no help (its docstring or help=)")
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            if not (getattr(param, "help", None) or "").strip():
                problems.append(f"`{where}`: parameter {param.name!r} has no help=")
    _fail(problems, "Describe them in pipeline/cli.py, then run " + REGENERATE + ".")

    runner = CliRunner()
    out = [
        "# rmslog — Command reference",
        "",
        _banner("the Typer app in `pipeline/cli.py`"),
        "",
        "[Back to the README](../../README.md) · [Command line: exit codes, the warehouse, "
        "signals](../cli.md)",
        "",
        "Every command's `--help`, as `rmslog` prints it.",
        "",
    ]
    for path, command in _commands():
        if not path:
            continue
        first = (command.help or "").strip().split("\n\n")[0]
        out.append(f"- [`rmslog {' '.join(path)}`](#rmslog-{'-'.join(path)}): {_cell(first)}")
    for path, _command in _commands():
        result = runner.invoke(
            app, [*path, "--help"], prog_name="rmslog", env={"COLUMNS": HELP_COLUMNS}
        )
        if result.exit_code != 0:
            raise DocsError(f"`rmslog {' '.join(path)} --help` exited {result.exit_code}")
        title = " ".join(["rmslog", *path])
        out += ["", f"## {title}", "", "```text", result.output.rstrip(), "```"]
    return "\n".join(out) + "\n"


# --- the data dictionary --------------------------------------------------------------------


def _schema() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(name, 'table' or 'view', [(column, type)]) of every public object of a fresh warehouse."""
    import duckdb

    from pipeline.warehouse import ensure_schema

    con = duckdb.connect(":memory:")
    try:
        ensure_schema(con)
        objects = con.sql(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = 'main' ORDER BY table_name"
        ).fetchall()
        out = []
        for name, kind in objects:
            columns = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                [name],
            ).fetchall()
            out.append((name, "view" if kind == "VIEW" else "table", columns))
        return out
    finally:
        con.close()


def data_dictionary_page(dictionary: Path = DICTIONARY) -> str:
    described: dict[str, Any] = tomllib.loads(dictionary.read_text(encoding="utf-8"))
    tables: dict[str, Any] = described.get("tables", {})
    schema = {name: (kind, columns) for name, kind, columns in _schema()}
    problems = []
    for name, (kind, columns) in schema.items():
        entry = tables.get(name)
        if entry is None:
            problems.append(f"{kind} `{name}` is not described: add [tables.{name}] with about = …")
            entry = {}
        elif not str(entry.get("about", "")).strip():
            problems.append(f"{kind} `{name}` has no `about`")
        have = entry.get("columns", {})
        for column, _type in columns:
            if not str(have.get(column, "")).strip():
                problems.append(
                    f"column `{name}.{column}` is not described: add {column} = '…' "
                    f"under [tables.{name}.columns]"
                )
        gone = sorted(set(have) - {c for c, _ in columns})
        problems += [f"column `{name}.{c}` is described but not in the schema" for c in gone]
    problems += [f"`{n}` is described but not in the schema" for n in tables if n not in schema]
    _fail(problems, f"Fix pipeline/dictionary.toml, then run {REGENERATE}.")

    out = [
        "# rmslog — Data dictionary",
        "",
        _banner("the warehouse schema and `pipeline/dictionary.toml`"),
        "",
        "[Back to the README](../../README.md)",
        "",
        str(described.get("intro", "")).strip(),
    ]
    for name, entry in tables.items():  # the dictionary's order: related tables together
        kind, columns = schema[name]
        out += ["", f"## `{name}` ({kind})", "", str(entry["about"]).strip(), ""]
        out += ["| column | type | meaning |", "|---|---|---|"]
        for column, type_ in columns:
            meaning = _cell(str(entry["columns"][column]))
            out.append(f"| `{column}` | {type_} | {meaning} |")
        if str(entry.get("after", "")).strip():
            out += ["", str(entry["after"]).strip()]
    return "\n".join(out) + "\n"


# --- rules and named queries -----------------------------------------------------------------


def _param_rows(params: list[dict[str, Any]]) -> list[str]:
    if not params:
        return ["No parameters."]
    rows = ["| parameter | type | default | meaning |", "|---|---|---|---|"]
    for p in params:
        default = (
            "(tenant setting)"
            if p["source"] == "setting"
            else "(set by the run)"
            if p["source"] == "run"
            else "**required**"
            if p["default"] is None
            else f"`{p['default']}`"
        )
        rows.append(
            f"| `{p['name']}` | {p['type']} | {_cell(default)} | {_cell(p['description'])} |"
        )
    return rows


def rules_page() -> str:
    from pipeline.detect.rules import RUNTIME_PARAMS
    from pipeline.settings import Settings
    from pipeline.sqlfiles import sql_files

    from_settings = set(Settings().sql_params())
    rules = sql_files("detections")
    problems = []
    for rule in rules:
        for key in ("id", "title", "severity", "description"):
            if not rule.meta.get(key, "").strip():
                problems.append(f"{rule.path.name}: no `-- {key}:` header")
        for p in rule.params:
            if not p.description:
                problems.append(f"{rule.path.name}: parameter {p.name} has no `| description`")
    _fail(problems, f"Fix the headers in queries/detections/, then run {REGENERATE}.")

    out = [
        "# rmslog — Rule catalogue",
        "",
        _banner("the headers of `queries/detections/*.sql`"),
        "",
        "[Back to the README](../../README.md) · [Detection rules: how they judge, "
        "settings, accuracy](../rules.md)",
        "",
        "| rule | severity | title |",
        "|---|---|---|",
    ]
    out += [
        f"| [`{r.name}`](#{r.name}) | {r.meta['severity']} | {_cell(r.meta['title'])} |"
        for r in rules
    ]
    for r in rules:
        out += [
            "",
            f"## {r.name}",
            "",
            f"**{r.meta['title']}** · severity **{r.meta['severity']}**",
        ]
        facts = [
            f"{label}: `{r.meta[key]}`"
            for key, label in (
                ("scenario", "scored against the scenario"),
                ("judge", "judged"),
                ("lookback_days", "reads days before"),
                ("lookahead_days", "reads days after"),
                ("settle_minutes", "waits (minutes)"),
            )
            if key in r.meta
        ]
        if facts:
            out += ["", " · ".join(facts)]
        out += ["", r.description, ""]
        params = [
            {
                "name": p.name,
                "type": p.type,
                "default": p.default,
                "description": p.description,
                "source": "setting"
                if p.name in from_settings
                else "run"
                if p.name in RUNTIME_PARAMS
                else "",
            }
            for p in r.params
        ]
        out += _param_rows(params)
    return "\n".join(out) + "\n"


def queries_page() -> str:
    from pipeline.query import describe_named

    queries: list[dict[str, Any]] = describe_named()
    problems = []
    for q in queries:
        for key in ("title", "description"):
            if not str(q[key]).strip():
                problems.append(f"named query {q['name']}: no `-- {key}:` header")
        for p in q["params"]:
            if not p["description"]:
                problems.append(
                    f"named query {q['name']}: parameter {p['name']} has no description"
                )
    _fail(problems, f"Fix the headers in queries/named/, then run {REGENERATE}.")

    out = [
        "# rmslog — Named queries",
        "",
        _banner("the headers of `queries/named/*.sql`"),
        "",
        "[Back to the README](../../README.md) · [Querying the warehouse: the sandbox, "
        "parameters, output](../queries.md)",
        "",
        "Run one with `rmslog query --name NAME --param key=value`; `rmslog queries` lists "
        "them too (`--json`).",
        "",
        "| name | answers |",
        "|---|---|",
    ]
    out += [f"| [`{q['name']}`](#{q['name']}) | {_cell(str(q['title']))} |" for q in queries]
    for q in queries:
        out += ["", f"## {q['name']}", "", f"**{q['title']}**", "", str(q["description"]), ""]
        params = [{**p, "source": "setting" if p["from_settings"] else ""} for p in q["params"]]
        out += _param_rows(params)
        out += ["", "Columns: " + ", ".join(f"`{c}`" for c in q["columns"])]
    return "\n".join(out) + "\n"


# --- writing and checking --------------------------------------------------------------------


def pages() -> dict[Path, str]:
    """Every generated page: its path relative to the checkout, and its text."""
    return {
        REFERENCE / "cli.md": cli_page(),
        REFERENCE / "data-dictionary.md": data_dictionary_page(),
        REFERENCE / "rules.md": rules_page(),
        REFERENCE / "queries.md": queries_page(),
    }


def stale(generated: dict[Path, str], root: Path = ROOT) -> list[Path]:
    """The pages of `generated` whose file under `root` differs from the generated text."""
    out = []
    for path, text in generated.items():
        target = root / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            out.append(path)
    return out


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    if argv and not check:
        print("usage: python -m pipeline.docs [--check]", file=sys.stderr)
        return 2
    if not (ROOT / "pyproject.toml").is_file():
        print(f"docs: {ROOT} is not an rmslog checkout; nothing to write", file=sys.stderr)
        return 2
    try:
        generated = pages()
    except DocsError as e:
        print(f"docs: cannot generate the reference pages:\n{e}", file=sys.stderr)
        return 1
    if check:
        old = stale(generated)
        for path in old:
            print(f"docs: {path} is stale; run {REGENERATE}", file=sys.stderr)
        return 1 if old else 0
    for path, text in generated.items():
        target = ROOT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
