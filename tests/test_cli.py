from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA

from pipeline.errors import ExitCode


@pytest.mark.slow
def test_demo_runs_the_whole_pipeline_and_prints_the_report_path_last(
    cli: Any, tmp_path: Path
) -> None:
    result = cli("demo", "--dir", tmp_path / "demo")
    assert result.exit_code == 0, result.output
    report = Path(result.stdout.strip().splitlines()[-1])
    assert report.is_file() and report.suffix == ".html"
    html = report.read_text(encoding="utf-8")
    assert "KMSPDecrypt" in html and "KMSPSignDigest" in html
    assert "Plotly.newPlot" in html  # a chart, drawn by the embedded plotly.js
    assert "<script src=" not in html  # nothing loaded from the network
    assert "tenant-key calls" in result.stdout
    # The demo's location database (the simulator's geoip.mmdb) puts places beside IPs.
    assert "<th>IP</th><th>Location</th>" in html
    assert re.search(r'<td class="code">[0-9.]+</td><td>[A-Z][^<]*, [A-Z]{2}</td>', html)


def test_ingest_then_query_through_the_cli(cli: Any, small_logs: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    ingested = cli("ingest", small_logs, "--db", db, "--json")
    assert ingested.exit_code == 0, ingested.output
    summary = json.loads(ingested.stdout)
    assert summary["data_lines"] == (
        summary["rows_stored"] + summary["duplicates"] + summary["rejected"]
    )
    out = cli("query", "--db", db, "--format", "csv", "SELECT count(*) AS n FROM requests")
    assert out.exit_code == 0
    assert out.stdout.splitlines() == ["n", str(summary["rows_stored"])]


@pytest.mark.slow
def test_detect_and_report_through_the_cli(cli: Any, small_logs: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    cli("ingest", small_logs, "--db", db)
    detected = cli("detect", "--db", db, "--json")
    assert detected.exit_code == 0
    assert "orphan-key-calls" in json.loads(detected.stdout)["rules_run"]
    reported = cli("report", "--db", db, "--out", tmp_path / "out")
    assert reported.exit_code == 0
    assert Path(reported.stdout.strip()).is_file()


def test_query_on_a_missing_warehouse_fails_with_the_warehouse_exit_code(
    cli: Any, tmp_path: Path
) -> None:
    result = cli("query", "--db", tmp_path / "nope.duckdb", "SELECT 1")
    assert result.exit_code == ExitCode.WAREHOUSE
    assert "does not exist" in result.stderr


def test_query_that_reads_a_file_is_refused(cli: Any, small_logs: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    cli("ingest", small_logs, "--db", db)
    result = cli("query", "--db", db, "SELECT * FROM read_csv('/etc/passwd')")
    assert result.exit_code == ExitCode.QUERY_REFUSED
    assert "file system operations are disabled" in result.stderr


def test_ingest_of_a_missing_path_is_an_input_error(cli: Any, tmp_path: Path) -> None:
    result = cli("ingest", tmp_path / "missing", "--db", tmp_path / "w.duckdb")
    assert result.exit_code == ExitCode.INPUT
    assert "missing: no such file or folder" in result.stderr


def test_unknown_rule_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    result = cli("detect", "--db", tmp_path / "w.duckdb", "--rule", "no-such-rule")
    assert result.exit_code == ExitCode.USAGE
    assert "unknown rule(s) no-such-rule" in result.stderr


def leaf_commands() -> list[tuple[str, ...]]:
    """Every command that runs something (`settings show`, not `settings`), from the app."""
    import typer.main

    from pipeline.cli import app

    def walk(group: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        for name, command in group.commands.items():
            sub = getattr(command, "commands", None)
            out += walk(command, (*path, name)) if sub is not None else [(*path, name)]
        return out

    return walk(typer.main.get_command(app), ())


def test_the_command_list_comes_from_the_app() -> None:
    commands = {" ".join(c) for c in leaf_commands()}
    assert {"generate", "ingest", "detect", "report", "query", "settings show"} <= commands


@pytest.mark.parametrize("command", leaf_commands(), ids=" ".join)
def test_every_command_has_help_with_an_example(cli: Any, command: tuple[str, ...]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "Example: rmslog" in result.stdout


def test_error_messages_print_log_content_literally_not_as_markup(cli: Any, tmp_path: Path) -> None:
    result = cli("ingest", tmp_path / "[bold]x[/bold]", "--db", tmp_path / "w.duckdb")
    assert result.exit_code == ExitCode.INPUT
    assert "[bold]x[/bold]: no such file or folder" in result.stderr


def _custody_case(cli: Any, tmp_path: Path) -> tuple[Path, Path]:
    logs = tmp_path / "logs"
    shutil.copytree(DATA / "variants", logs)
    db = tmp_path / "w.duckdb"
    assert cli("ingest", logs, "--db", db).exit_code == ExitCode.OK
    return logs, db


def test_verify_says_every_file_is_unchanged_and_exits_0(cli: Any, tmp_path: Path) -> None:
    _, db = _custody_case(cli, tmp_path)
    result = cli("verify", "--db", db, "--json")
    assert result.exit_code == ExitCode.OK, result.output
    got = json.loads(result.stdout)
    assert (got["unchanged"], got["changed"], got["missing"]) == (3, 0, 0)
    assert "3 files: 3 unchanged, 0 changed, 0 missing" in result.stderr


def test_verify_names_a_changed_and_a_missing_file_and_exits_10(cli: Any, tmp_path: Path) -> None:
    logs, db = _custody_case(cli, tmp_path)
    files = sorted(p for p in logs.iterdir())
    files[0].write_bytes(files[0].read_bytes().replace(b"kim", b"eve", 1))  # same length
    files[1].unlink()
    result = cli("verify", "--db", db)
    assert result.exit_code == ExitCode.CHANGED == 10
    assert "changed" in result.stdout and "missing" in result.stdout
    assert files[0].name in result.stdout and files[1].name in result.stdout
    assert "3 files: 1 unchanged, 1 changed, 1 missing" in result.stderr
    statuses = {
        Path(f["path"]).name: f["status"]
        for f in json.loads(cli("verify", "--db", db, "--json").stdout)["files"]
    }
    assert statuses[files[0].name] == "changed" and statuses[files[1].name] == "missing"


def test_verify_keeps_failing_after_a_changed_file_is_ingested_again(
    cli: Any, tmp_path: Path
) -> None:
    logs, db = _custody_case(cli, tmp_path)
    edited = sorted(logs.iterdir())[0]
    edited.write_bytes(edited.read_bytes().replace(b"kim", b"eve", 1))
    again = cli("ingest", logs, "--db", db)
    assert again.exit_code == ExitCode.OK and "changed:" in again.stderr
    # the warehouse still holds what the first read stored: the file no longer backs it
    result = cli("verify", "--db", db, "--json")
    assert result.exit_code == ExitCode.CHANGED
    assert json.loads(result.stdout)["changed"] == 1


def test_verify_checks_a_gz_file_on_its_decompressed_text(cli: Any, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    text = (DATA / "refused" / "good.log").read_bytes()
    (logs / "a.log.gz").write_bytes(gzip.compress(text))
    db = tmp_path / "w.duckdb"
    assert cli("ingest", logs, "--db", db).exit_code == ExitCode.OK
    assert cli("verify", "--db", db).exit_code == ExitCode.OK
    (logs / "a.log.gz").write_bytes(gzip.compress(text.replace(b"kim", b"eve")))
    assert cli("verify", "--db", db).exit_code == ExitCode.CHANGED


def _help(group_app: Any, args: list[str]) -> str:
    from typer.testing import CliRunner

    done = CliRunner().invoke(group_app, args, prog_name="rmslog", env={"COLUMNS": "80"})
    assert done.exit_code == 0, done.output
    return done.output


def test_the_console_script_builds_only_the_command_it_runs() -> None:
    import typer

    from pipeline.cli import app, app_for

    def names(args: list[str]) -> list[str]:
        group: Any = typer.main.get_command(app_for(args))
        return sorted(group.commands)

    assert names(["query", "SELECT 1"]) == ["query"]
    assert names(["--debug", "query", "--db", "w.duckdb", "SELECT 1"]) == ["query"]
    assert names(["settings", "show"]) == ["settings"]
    # No command, or one that does not exist: all of them (help lists them, errors suggest).
    for args in ([], ["--help"], ["--version"], ["quer", "SELECT 1"]):
        assert app_for(args) is app
    assert len(names(["--help"])) > 10


def test_each_command_helps_the_same_when_built_alone() -> None:
    import typer

    from pipeline.cli import app, app_for

    group: Any = typer.main.get_command(app)
    for name, command in group.commands.items():
        subcommands = sorted(getattr(command, "commands", {}))
        for path in [[name], *([name, sub] for sub in subcommands)]:
            alone = _help(app_for([*path, "--help"]), [*path, "--help"])
            assert alone == _help(app, [*path, "--help"]), path
