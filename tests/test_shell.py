"""How a command ends, through the real command line: exit codes, signals, --debug,
--version, and what a command imports before it does anything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import rmslog, warehouse_contents

from pipeline.errors import ExitCode

ONE_COMMIT_PER_FILE = {**os.environ, "RMSLOG_COMMIT_LINES": "1"}
#: A statement that runs for minutes unless stopped.
ENDLESS = "SELECT count(*) FROM range(100000000000) t(a) WHERE a % 7 = 3"
HEAVY = ("polars", "pyarrow", "plotly", "jinja2", "pandas", "numpy", "pydantic")
#: Loaded only when a command needs them: rich when something is said on stderr, the settings
#: (tomllib, zoneinfo) and parameter binding for named queries and the stages that use them.
ON_DEMAND = ("rich", "pipeline.settings", "pipeline.params", "tomllib")


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(rmslog(*args), capture_output=True, text=True, env=env, timeout=300)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def wait_until_held(db: Path, child: subprocess.Popen[Any], seconds: float = 120) -> None:
    """Poll until `child` holds `db` (a writer is refused): it has loaded and opened the
    warehouse, so its statement runs. A poll, not a sleep a busy machine can outrun."""
    import duckdb

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert child.poll() is None, f"it ended ({child.returncode}) before holding {db}"
        try:
            duckdb.connect(str(db)).close()
        except duckdb.IOException:
            return  # the lock is the child's
        time.sleep(0.05)
    raise AssertionError(f"{db} was never held within {seconds}s")


@pytest.fixture(scope="module")
def small_db(small_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("shell") / "w.duckdb"
    assert run("ingest", small_logs, "--db", db).returncode == 0
    return db


def test_version_prints_the_package_version(cli: Any) -> None:
    from importlib.metadata import version

    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"rmslog {version('rmslog')}"


def test_an_unexpected_exception_is_one_line_naming_debug_and_exit_70(
    cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import pipeline.query

    def boom(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(pipeline.query, "query_to", boom)
    result = cli("query", "--db", tmp_path / "w.duckdb", "SELECT 1")
    assert result.exit_code == ExitCode.INTERNAL
    assert lines(result.stderr) == [
        "error: internal error (ZeroDivisionError: a bug); run again with --debug to see "
        "where, and please report it"
    ]
    assert "Traceback" not in result.output


def test_debug_after_the_command_shows_the_traceback_and_keeps_the_exit_code(
    cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import pipeline.query

    def boom(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(pipeline.query, "query_to", boom)
    result = cli("query", "--db", tmp_path / "w.duckdb", "--debug", "SELECT 1")
    assert result.exit_code == ExitCode.INTERNAL
    assert "Traceback" in result.stderr and "ZeroDivisionError: a bug" in result.stderr


@pytest.mark.slow
def test_report_into_an_impossible_folder_is_an_output_error(small_db: Path) -> None:
    result = run("report", "--db", small_db, "--out", "/proc/x")
    assert result.returncode == ExitCode.OUTPUT
    assert lines(result.stderr)[-1] == "error: cannot write /proc/x: No such file or directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_report_into_an_unwritable_folder_is_an_output_error(
    small_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "locked"
    out.mkdir(mode=0o500)
    result = run("report", "--db", small_db, "--out", out / "r")
    assert result.returncode == ExitCode.OUTPUT
    assert "Permission denied" in result.stderr


@pytest.mark.slow
def test_a_full_disk_under_an_output_is_an_output_error(small_db: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    result = run("query", "--db", small_db, "--format", "csv", "--out", "/dev/full", "SELECT 1")
    assert result.returncode == ExitCode.OUTPUT
    assert "cannot write /dev/full: No space left on device" in result.stderr


@pytest.mark.slow
def test_ingest_into_a_truncated_warehouse_is_a_warehouse_error(
    small_db: Path, small_logs: Path, tmp_path: Path
) -> None:
    truncated = tmp_path / "t.duckdb"
    truncated.write_bytes(small_db.read_bytes()[:300_000])
    result = run("ingest", small_logs, "--db", truncated)
    assert result.returncode == ExitCode.WAREHOUSE, result.stderr
    assert lines(result.stderr)[-1].startswith(
        "error: the warehouse could not be read or written (a damaged or truncated file?)"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_long_query_stops_it_at_once_with_exit_130(
    small_db: Path, sig: int
) -> None:
    child = subprocess.Popen(
        rmslog("query", "--db", small_db, ENDLESS), stderr=subprocess.PIPE, text=True
    )
    wait_until_held(small_db, child)  # imports done, the statement running
    sent = time.monotonic()
    child.send_signal(sig)
    _, stderr = child.communicate(timeout=60)
    assert time.monotonic() - sent < 10  # DuckDB was interrupted, not waited for
    assert child.returncode == ExitCode.INTERRUPTED
    name = "Ctrl-C (SIGINT)" if sig == signal.SIGINT else "SIGTERM"
    assert lines(stderr) == [
        f"interrupted by {name}: stopped; the warehouse keeps what was committed"
    ]


@pytest.mark.slow
def test_ctrl_c_at_any_moment_of_ingest_is_exit_130_and_a_rerun_equals_a_clean_run(
    many_logs: Path, tmp_path: Path
) -> None:
    clean = tmp_path / "clean.duckdb"
    started = time.monotonic()
    subprocess.run(rmslog("ingest", many_logs, "--db", clean), env=ONE_COMMIT_PER_FILE, check=True)
    seconds = time.monotonic() - started
    # Python's own start and imports come first: until the CLI's handler is installed, a
    # signal ends the process the default way (documented). `--version` lasts that long.
    started = time.monotonic()
    subprocess.run(rmslog("--version"), check=True, capture_output=True)
    startup = time.monotonic() - started
    db = tmp_path / "stopped.duckdb"
    codes = []
    for fraction in (0.0, 0.2, 0.4, 0.55, 0.7, 0.85, 1.0):
        child = subprocess.Popen(
            rmslog("ingest", many_logs, "--db", db),
            env=ONE_COMMIT_PER_FILE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(startup + (seconds - startup) * fraction)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=120)
        codes.append(child.returncode)
        if child.returncode != 0:  # a run that finished first exits 0
            assert child.returncode == ExitCode.INTERRUPTED, stderr
            assert lines(stderr)[-1].startswith("interrupted by Ctrl-C (SIGINT)"), stderr
            assert "Traceback" not in stderr
    assert ExitCode.INTERRUPTED in codes, codes
    subprocess.run(rmslog("ingest", many_logs, "--db", db), env=ONE_COMMIT_PER_FILE, check=True)
    assert warehouse_contents(db) == warehouse_contents(clean)


def test_query_timeout_stops_a_runaway_query_with_the_query_exit_code(small_db: Path) -> None:
    started = time.monotonic()
    result = run("query", "--db", small_db, "--timeout", "1", ENDLESS)
    assert time.monotonic() - started < 30
    assert result.returncode == ExitCode.QUERY
    assert lines(result.stderr) == [
        "error: query stopped after 1s (--timeout); narrow it or raise the limit"
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM duckdb_settings()",
        "SELECT path FROM duckdb_databases()",
        'SELECT * FROM "duckdb_databases"()',
        "SELECT * FROM main.duckdb_databases()",
        "SELECT current_setting('temp_directory')",
        "SELECT * FROM pg_catalog.pg_settings",
        "SELECT * FROM duckdb_extensions()",
        "SELECT * FROM duckdb_temporary_files()",
        "SELECT * FROM pragma_database_list",
        "SELECT * FROM query('SELECT * FROM duckdb_' || 'settings()')",
    ],
)
def test_the_sandbox_refuses_what_would_show_host_paths_or_settings(
    cli: Any, small_db: Path, sql: str
) -> None:
    result = cli("query", "--db", small_db, sql)
    assert result.exit_code == ExitCode.QUERY_REFUSED, result.output
    assert "would show host paths, settings or run SQL from a string" in result.stderr
    assert str(small_db) not in result.stdout


def test_names_of_revealing_functions_inside_strings_are_only_text(
    cli: Any, small_db: Path
) -> None:
    result = cli("query", "--db", small_db, "--format", "csv", "SELECT 'duckdb_settings()' AS s")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["s", "duckdb_settings()"]


@pytest.mark.slow
def test_ingest_rides_out_a_query_holding_the_warehouse(small_db: Path, small_logs: Path) -> None:
    reader = subprocess.Popen(
        rmslog("query", "--db", small_db, "--timeout", "4", ENDLESS),
        stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until_held(small_db, reader)  # the reader holds the warehouse
        result = run("ingest", small_logs, "--db", small_db, "--wait", "30")
    finally:
        reader.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    assert reader.returncode == ExitCode.QUERY  # it was the reader's --timeout that ended it


@pytest.mark.slow
def test_detect_rides_out_a_query_holding_the_warehouse(small_db: Path) -> None:
    reader = subprocess.Popen(
        rmslog("query", "--db", small_db, "--timeout", "4", ENDLESS),
        stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until_held(small_db, reader)  # the reader holds the warehouse
        result = run("detect", "--db", small_db, "--wait", "30")
    finally:
        reader.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    assert reader.returncode == ExitCode.QUERY


def test_every_command_waits_the_same_documented_time_for_a_busy_warehouse() -> None:
    import typer

    from pipeline.cli import WAIT_SECONDS, app

    group: Any = typer.main.get_command(app)
    for name in ("ingest", "watch", "detect", "report", "query"):
        (wait,) = [p for p in group.commands[name].params if p.name == "wait"]
        assert wait.default == WAIT_SECONDS == 5.0, name
    text = " ".join(run("watch", "--help").stdout.split())
    assert "holds the warehouse. [default: 5.0; x>=0]" in text


def test_demo_help_shows_its_default_folder() -> None:
    text = " ".join(run("demo", "--help").stdout.split())
    assert "Working folder. [default: rmslog-demo]" in text


def loaded_modules(*args: str | Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `rmslog ARGS` in a child and return the modules it had imported: each top-level
    package, and every `pipeline` module by its full name."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write("
        "'\\nMODULES ' + ' '.join(sorted({m if m.startswith('pipeline.') else m.split('.')[0] "
        "for m in sys.modules})) + '\\n'))\n"
        "from pipeline.cli import main\n"
        "sys.argv = ['rmslog', *sys.argv[1:]]\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *[str(a) for a in args]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = [ln for ln in done.stderr.splitlines() if ln.startswith("MODULES ")][-1]
    return done, set(line.split()[1:])


@pytest.mark.parametrize(
    "args",
    [("--help",), ("query", "--help"), ("report", "--help"), ("--version",)],
)
def test_help_imports_no_heavy_module(args: tuple[str, ...]) -> None:
    done, modules = loaded_modules(*args)
    assert done.returncode == 0, done.stderr
    unwanted = {*HEAVY, *ON_DEMAND, "duckdb"}
    assert not modules & unwanted, sorted(modules & unwanted)


def test_a_small_query_imports_no_heavy_module(small_db: Path) -> None:
    done, modules = loaded_modules("query", "--db", small_db, "SELECT 1 AS one")
    assert done.returncode == 0, done.stderr
    assert "│ 1   │" in done.stdout
    unwanted = {*HEAVY, *ON_DEMAND}
    assert not modules & unwanted, sorted(modules & unwanted)


def test_the_module_check_sees_what_a_command_loads(small_db: Path) -> None:
    # The same check on commands that do load them: it would fail if they crept in.
    done, modules = loaded_modules("query", "--db", small_db, "--name", "key-calls-by-user")
    assert done.returncode == 0, done.stderr
    assert {"pipeline.settings", "pipeline.params", "tomllib"} <= modules
    done, modules = loaded_modules("query", "--db", small_db, "SELECT 1 FROM nowhere")
    assert done.returncode == ExitCode.QUERY, done.stderr
    assert "rich" in modules  # the error line is printed with rich


@pytest.mark.slow
def test_no_command_imports_pandas(small_db: Path, small_logs: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    for args in (
        ("ingest", small_logs, "--db", db),
        ("query", "--db", db, "--format", "parquet", "--out", tmp_path / "q.parquet", "SELECT 1"),
    ):
        done, modules = loaded_modules(*args)
        assert done.returncode == 0, done.stderr
        assert "pandas" not in modules, args


@pytest.mark.parametrize("command", ["detect", "report"])
@pytest.mark.slow
def test_detect_and_report_do_not_import_pandas(
    small_logs: Path, tmp_path: Path, command: str
) -> None:
    db = tmp_path / "w.duckdb"
    assert run("ingest", small_logs, "--db", db).returncode == 0
    more = ("--out", tmp_path / "r", "--format", "html,csv,parquet,xlsx")
    done, modules = loaded_modules(command, "--db", db, *(more if command == "report" else ()))
    assert done.returncode == 0, done.stderr
    assert "pandas" not in modules


def test_python_dash_m_pipeline_still_runs_the_cli() -> None:
    done = run("--version")
    assert done.returncode == 0 and done.stdout.startswith("rmslog ")


def test_a_stop_while_the_command_line_loads_is_said_as_every_other_stop() -> None:
    from pipeline import entry
    from pipeline.shell import outcome

    code, message = outcome(KeyboardInterrupt())
    assert (int(code), message) == (entry.INTERRUPTED, entry.STOPPED)
