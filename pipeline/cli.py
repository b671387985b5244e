"""The `rmslog` command line: parse options, call one stage function, print the result.

Data goes to stdout, people-talk (progress, warnings, errors) to stderr. Exit codes
are `pipeline.errors.ExitCode`; what ends a command (errors, signals, bugs) is turned
into one line and its code in one place, `pipeline.shell`.

Each command imports what it uses when it runs: `rmslog --help` and a small query must
not pay for Polars, Arrow, Plotly, Jinja2, rich or the settings (`tests/test_shell.py`
checks it; docs/cli.md, "Start-up time", says what each start costs).
"""

# No `from __future__ import annotations` here: Typer reads every command's annotations
# (twice per command, for `rmslog --help`), and evaluating them from strings each time cost
# a fifth of `--help`. So names imported only for type checking are written in quotes.

import copy
import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer

from pipeline.errors import ExitCode, NoDataError, OutputError, RmslogError, UsageError
from pipeline.interrupts import stop_on_signals
from pipeline.report.period import Clock, PeriodKind
from pipeline.schema import Topology
from pipeline.severity import Severity
from pipeline.shell import RmslogGroup, err, escape, fail, show_version, state

if TYPE_CHECKING:
    from rich.table import Table

    from pipeline.detect import DetectSummary
    from pipeline.ingest import IngestSummary, WatchStatus
    from pipeline.report import ReportDetection
    from pipeline.settings import Resolved

app = typer.Typer(
    name="rmslog",
    cls=RmslogGroup,
    help="Analytics for Azure RMS usage logs: who used the tenant key, when, from where.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: Rich's help panels load Markdown and Pygments, a third of a second.
    rich_markup_mode=None,
)

#: Seconds every command waits while another process holds the warehouse (`--wait`).
WAIT_SECONDS = 5.0
#: Seconds `rmslog query` lets a statement run before stopping it (`--timeout`).
QUERY_TIMEOUT_SECONDS = 300.0

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Warehouse file (default: $RMSLOG_DB, else ./rmslog.duckdb)."),
]
WaitOption = Annotated[
    float,
    typer.Option(
        "--wait", min=0, help="Seconds to wait while another process holds the warehouse."
    ),
]


def _date_option(name: str, help: str) -> Any:
    return typer.Option(name, formats=["%Y-%m-%d"], help=help)


class Engine(StrEnum):
    """Where `detect` runs the rules."""

    DUCKDB = "duckdb"
    SPARK = "spark"


def _json_option(help: str) -> Any:
    return typer.Option("--json", help=help)


JsonOption = Annotated[bool, _json_option("Print a JSON summary on stdout.")]
FailOnOption = Annotated[
    Severity | None,
    typer.Option("--fail-on", help="Exit 1 when a finding of this severity or worse exists."),
]
LakeOption = Annotated[
    Path | None,
    typer.Option("--lake", help="Also write stored rows as Parquet: DIR/requests/day=.../"),
]


@contextmanager
def _errors() -> Iterator[None]:
    """Turn rmslog errors into one line on stderr and the documented exit code."""
    try:
        yield
    except RmslogError as e:
        fail(e)


def _db(db: Path | None) -> Path:
    if db is not None:
        return db
    from pipeline.warehouse import default_db_path

    return default_db_path()


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{what} must look like name=value, got {item!r}")
        out[key] = value
    return out


@app.callback()
def _main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks (also after the command).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=show_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    if debug:
        state["debug"] = True


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the logs into.")],
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First UTC day.")] = (
        datetime(2026, 11, 2)
    ),
    days: Annotated[int, typer.Option(help="Number of days (the history, with --follow).")] = 14,
    users: Annotated[int, typer.Option(help="Number of people in the tenant.")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed; same seed and options, same bytes.")] = 7,
    topology: Annotated[Topology, typer.Option(help="Tenant-key topology.")] = (
        Topology.BYOK_LEGACY
    ),
    byok_from: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Move to BYOK on this day (clients follow)."),
    ] = None,
    region: Annotated[str, typer.Option(help="Service region: na, eu or ap.")] = "na",
    timezone: Annotated[
        str | None, typer.Option(help="Working-hours time zone (IANA); by default the region's.")
    ] = None,
    log_version: Annotated[str, typer.Option(help="1.0, 1.1 or 1.1-admin.")] = "1.1-admin",
    layout: Annotated[
        str | None, typer.Option(help="daily or blobs; daily by default, blobs with --follow.")
    ] = None,
    gzip: Annotated[bool, typer.Option("--gzip", help="Write .gz files.")] = False,
    scenarios: Annotated[
        str, typer.Option(help="Incidents to inject: all, none or NAME,NAME,...")
    ] = "none",
    blob_minutes: Annotated[int, typer.Option(help="Minutes of arrivals per blob.")] = 60,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep writing blobs in near real time.")
    ] = False,
    speed: Annotated[
        float, typer.Option(help="With --follow: simulated seconds per wall second.")
    ] = 60.0,
    keyvault_logs: Annotated[
        bool,
        typer.Option(
            "--keyvault-logs",
            help="Also write the vault's Key Vault AuditEvent logs (byok-keyvault; not --follow).",
        ),
    ] = False,
    keyvault_format: Annotated[
        str, typer.Option(help='Key Vault blobs: jsonl, or records ({"records": [...]}).')
    ] = "jsonl",
) -> None:
    """Simulate a tenant and write its usage logs, with ground-truth.json beside them.

    Example: rmslog generate logs/ --days 28 --users 200 --topology byok-keyvault --scenarios all
    """
    from pipeline.generate import (
        GenerateOptions,
        describe,
        follow_logs,
        generate_logs,
        parse_scenarios,
    )

    with _errors():
        opts = GenerateOptions(
            start=start.date(),
            days=days,
            users=users,
            seed=seed,
            topology=topology,
            byok_from=byok_from.date() if byok_from else None,
            region=region,
            timezone=timezone,
            log_version=log_version,
            layout=layout or ("blobs" if follow else "daily"),
            gzip=gzip,
            scenarios=parse_scenarios(scenarios, keyvault=keyvault_logs),
            blob_minutes=blob_minutes,
            keyvault_logs=keyvault_logs,
            keyvault_format=keyvault_format,
        )
        with _writing(out_dir):
            run = (
                follow_logs(out_dir, opts, speed=speed) if follow else generate_logs(out_dir, opts)
            )
        err.print(describe(run), highlight=False, markup=False, soft_wrap=True)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Log files or folders (.gz too).")],
    db: DbOption = None,
    wait: WaitOption = WAIT_SECONDS,
    lake: LakeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest RMS usage logs into the warehouse, exactly once.

    Example: rmslog ingest ~/rms-logs/ --db audit.duckdb --lake lake/ --json
    """
    from pipeline.ingest import check_paths, ingest_paths
    from pipeline.warehouse import open_warehouse

    with _errors():
        check_paths(paths)
        with open_warehouse(_db(db), wait_seconds=wait) as con:
            summary = ingest_paths(con, paths, lake=lake)
        for folder in summary.folders_without_logs:
            err.print(
                f"[yellow]skipped:[/] {escape(folder)} holds no log file (*.log, *.log.gz, "
                "numbered blobs)",
                highlight=False,
                soft_wrap=True,
            )
        if summary.files_ignored:
            err.print(
                f"[yellow]skipped:[/] {summary.files_ignored} file(s) in the folders given "
                "not named like a log",
                highlight=False,
                soft_wrap=True,
            )
        for reason in summary.refused:
            err.print(f"[yellow]refused:[/] {escape(reason)}", highlight=False, soft_wrap=True)
        for key in summary.files_changed:
            err.print(
                f"[bold red]changed:[/] {escape(key)}: bytes read before have changed since; "
                "read again from the start, earlier hashes kept (see integrity_events, "
                "rmslog verify)",
                highlight=False,
                soft_wrap=True,
            )
        for key in summary.pending:
            err.print(
                f"[yellow]waiting:[/] {escape(key)} ends in a line without newline", soft_wrap=True
            )
        if as_json:
            _print_json(summary.as_dict())
        else:
            err.print(_ingest_line(summary), highlight=False, soft_wrap=True)
        if summary.files_refused:
            raise typer.Exit(int(ExitCode.INPUT))


def _ingest_line(s: "IngestSummary | WatchStatus") -> str:
    line = (
        f"{s.files} files, {s.data_lines:,} data lines: {s.rows_stored:,} stored, "
        f"{s.duplicates:,} duplicates, {s.conflicts:,} conflicts, {s.rejected:,} rejected, "
        f"{s.files_refused} files refused ({s.seconds:.2f}s)"
    )
    if s.kv_files:  # Key Vault files are among `files`; their records are counted apart
        line += (
            f"; Key Vault: {s.kv_files} files, {s.kv_records:,} records: {s.kv_stored:,} "
            f"stored, {s.kv_duplicates:,} duplicates, {s.kv_rejected:,} rejected"
        )
    return line


@app.command()
def watch(
    directory: Annotated[Path, typer.Argument(help="Folder to watch (recursively).")],
    db: DbOption = None,
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between looks.")] = 5.0,
    wait: WaitOption = WAIT_SECONDS,
    lake: LakeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest new and grown log files as they appear, until Ctrl-C.

    Example: rmslog watch ~/rms-logs/ --interval 10 --lake lake/
    """
    from rich.live import Live

    from pipeline.ingest import watch_folder

    with (
        _errors(),
        stop_on_signals() as stop,
        Live(console=err.console, auto_refresh=False) as live,
    ):
        status = watch_folder(
            directory,
            _db(db),
            stop=stop,
            interval=interval,
            lake=lake,
            wait_seconds=wait,
            on_cycle=lambda st: live.update(_watch_view(st), refresh=True),
        )
    err.print(f"\nstopped: {_ingest_line(status)}", highlight=False, soft_wrap=True)
    for reason in status.refused:
        err.print(f"[yellow]refused:[/] {escape(reason)}", highlight=False, soft_wrap=True)
    if as_json:
        _print_json(status.as_dict())
    if status.files_refused:
        raise typer.Exit(int(ExitCode.INPUT))


def _watch_view(st: "WatchStatus") -> "Table":
    from rich.table import Table

    lag = st.lag_seconds()
    table = Table.grid(padding=(0, 2))
    rows = [
        ("watching", f"{st.folder}  (cycle {st.cycles}, Ctrl-C to stop)"),
        (
            "stored",
            f"{st.rows_stored:,} rows from {st.files} files, {st.rows_per_second:,.0f} rows/s",
        ),
        ("lag", "-" if lag is None else f"{lag:,.0f}s behind the clock (newest {st.newest_ts})"),
        (
            "accounted",
            f"{st.duplicates:,} duplicates, {st.conflicts:,} conflicts, {st.rejected:,} rejected, "
            f"{st.files_refused} files refused",
        ),
    ]
    if st.busy:
        rows.append(("[yellow]busy[/]", st.busy))
    for name, value in rows:
        table.add_row(f"[bold]{name}[/]", value)
    return table


@app.command()
def detect(
    db: DbOption = None,
    rule: Annotated[list[str] | None, typer.Option(help="Run only this rule (repeat).")] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="Override a rule parameter: rule.name=value.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Settings file [default: $RMSLOG_CONFIG or ./rmslog.toml].")
    ] = None,
    fail_on: FailOnOption = None,
    wait: WaitOption = WAIT_SECONDS,
    full: Annotated[
        bool, typer.Option("--full", help="Re-judge all days, not only those data arrived in.")
    ] = False,
    geoip: Annotated[
        Path | None,
        typer.Option(help="MaxMind-format City database (.mmdb) [default: tenant.geoip setting]."),
    ] = None,
    as_json: JsonOption = False,
    engine: Annotated[
        Engine,
        typer.Option(help="duckdb: the warehouse; spark: the Parquet lake given by --lake."),
    ] = Engine.DUCKDB,
    lake: Annotated[
        str | None,
        typer.Option(
            "--lake", help="With --engine spark: the lake (a folder, abfss:// or s3a:// URL)."
        ),
    ] = None,
    master: Annotated[
        str | None,
        typer.Option(
            help="With --engine spark: Spark master [default: local[*], or spark-submit's]."
        ),
    ] = None,
) -> None:
    """Run the detection rules into `findings`, over the days new data arrived in.

    Uses the warehouse's settings (`rmslog settings show`); --config FILE replaces them.
    With --engine spark the rules run on Apache Spark over --lake and the findings are
    written to LAKE/findings/ (settings from --config or ./rmslog.toml; docs/spark.md).

    Example: rmslog detect --rule denied-burst --param denied-burst.min_failures=20 --fail-on high
    """
    from pipeline.detect import run_detections
    from pipeline.settings import effective_settings
    from pipeline.triage import failing_findings, finding_changes, snapshot_findings
    from pipeline.warehouse import open_warehouse

    if engine is Engine.SPARK or lake is not None:
        _detect_on_spark(lake, master, engine, rule, param, config, geoip, fail_on, as_json, full)
        return
    if master is not None:
        fail(UsageError("--master is for --engine spark"))
    with _errors():
        with open_warehouse(_db(db), wait_seconds=wait) as con:
            resolved = effective_settings(con, config, store=True)
            _say_settings(resolved)
            settings = resolved.settings
            if geoip is not None:
                settings = dataclasses.replace(settings, geoip=str(geoip))
            if as_json:
                snapshot_findings(con)
            summary = run_detections(con, rule, _pairs(param, "--param"), settings, full=full)
            if as_json:  # the summary, and the findings new, changed or removed by the run
                _print_json_with_changes(summary.as_dict(), finding_changes(con, now=_utc_now()))
            # --fail-on counts the rules' findings not closed (false-positive, benign) and
            # not suppressed today (pipeline.triage).
            failing = (
                failing_findings(con, fail_on, now=_utc_now(), rules=list(summary.findings_by_rule))
                if fail_on
                else 0
            )
        _say_detect(summary)
        if failing:
            err.print(
                f"{failing} finding(s) at or above --fail-on {fail_on} "
                "(not closed as false-positive or benign, not suppressed)",
                highlight=False,
            )
            raise typer.Exit(int(ExitCode.FINDINGS))


def _print_json_with_changes(head: dict[str, Any], changes: Iterator[dict[str, Any]]) -> None:
    """`head` as a JSON object with one more key, `changes`, written as it is read."""
    text = json.dumps(head, default=str, indent=2)
    sys.stdout.write(text[:-2] + ',\n  "changes": [')
    for n, change in enumerate(changes):
        sys.stdout.write(("," if n else "") + "\n    " + json.dumps(change, default=str))
    sys.stdout.write("\n  ]\n}\n")


def _detect_on_spark(
    lake: str | None,
    master: str | None,
    engine: Engine,
    rule: list[str] | None,
    param: list[str] | None,
    config: Path | None,
    geoip: Path | None,
    fail_on: Severity | None,
    as_json: bool,
    full: bool,
) -> None:
    if engine is not Engine.SPARK:
        fail(UsageError("--lake is for --engine spark (DuckDB reads the warehouse, --db)"))
    if lake is None:
        fail(
            UsageError("--engine spark needs --lake LAKE (the folder `rmslog ingest --lake` wrote)")
        )
    from pipeline.settings import load_settings
    from pipeline.severity import severity_at_least

    with _errors():
        from pipeline.spark import detect_on_spark

        settings = load_settings(config)
        if geoip is not None:
            settings = dataclasses.replace(settings, geoip=str(geoip))
        if full:
            err.print("detect: Spark judges every day (--full is implied)", highlight=False)
        summary = detect_on_spark(lake, settings, _pairs(param, "--param"), rule, master=master)
    if as_json:
        _print_json(summary.as_dict())
    for rule_id, n in summary.findings_by_rule.items():
        why = summary.not_applicable_by_rule.get(rule_id)
        note = f"; not applicable: {escape(why)}" if why else ""
        err.print(f"  {escape(rule_id)}: {n} finding(s){note}", highlight=False)
    err.print(
        f"detect (spark): {sum(summary.findings_by_rule.values())} finding(s) written to "
        f"{escape(summary.out)}",
        highlight=False,
        soft_wrap=True,
    )
    if fail_on and severity_at_least(summary.worst_severity(), fail_on):
        raise typer.Exit(int(ExitCode.FINDINGS))


def _say_settings(resolved: "Resolved") -> None:
    if resolved.note:
        err.print(f"[yellow]settings:[/] {escape(resolved.note)}", highlight=False, soft_wrap=True)
    if resolved.source != "warehouse":
        err.print(f"settings: {escape(resolved.source)}", highlight=False, soft_wrap=True)


def _say_detect(summary: "DetectSummary") -> None:
    for rule_id, n in summary.findings_by_rule.items():
        new, gone = summary.new_by_rule[rule_id], summary.removed_by_rule[rule_id]
        mode, days = summary.mode_by_rule[rule_id], summary.days_by_rule[rule_id]
        scope = "all days" if days is None else f"{days} day(s)"
        learning = len(summary.learning_by_rule.get(rule_id, []))
        note = f"; {learning} in a learning period" if learning else ""
        if rule_id in summary.not_applicable_by_rule:
            note += f"; not applicable: {summary.not_applicable_by_rule[rule_id]}"
        err.print(
            f"{rule_id}: {n} finding(s), {new} new, {gone} removed ({mode}, {scope}){note}",
            highlight=False,
        )
    where = summary.geoip or "none (impossible-travel cannot judge without one)"
    err.print(f"locations: {summary.addresses:,} addresses; database {where}", highlight=False)
    if summary.awaiting_origin:
        err.print(
            f"{summary.awaiting_origin:,} tenant-key call(s) awaiting origin "
            "(not judged yet: their originating request may still arrive)",
            highlight=False,
        )


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", help="Folder for the report and exports.")],
    db: DbOption = None,
    start: Annotated[
        datetime | None, _date_option("--from", "First UTC day (or the anchor).")
    ] = None,
    end: Annotated[datetime | None, _date_option("--to", "Last UTC day, included.")] = None,
    period: Annotated[
        PeriodKind | None, typer.Option(help="The day, ISO week or month holding --from.")
    ] = None,
    yesterday: Annotated[bool, typer.Option("--yesterday", help="Anchor on yesterday.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="html,csv,json,parquet,xlsx")] = "html",
    fail_on: FailOnOption = None,
    pseudonymize: Annotated[
        bool, typer.Option("--pseudonymize", help="Hash user ids and IPs (keyed HMAC).")
    ] = False,
    key_file: Annotated[
        Path | None,
        typer.Option("--pseudonym-key-file", help="Key file (else $RMSLOG_PSEUDONYM_KEY)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Settings file: replaces the warehouse's settings.")
    ] = None,
    wait: WaitOption = WAIT_SECONDS,
    require_data: Annotated[
        bool,
        typer.Option(
            "--require-data", help="Exit 8 when no log record covers the period (report written)."
        ),
    ] = False,
    no_detect: Annotated[
        bool,
        typer.Option(
            "--no-detect",
            help="Do not bring findings up to date first; stale findings get a banner "
            "(and exit 9 under --fail-on).",
        ),
    ] = False,
    geoip: Annotated[
        Path | None,
        typer.Option(
            help="MaxMind-format City database (.mmdb) for this report's locations "
            "[default: tenant.geoip setting]."
        ),
    ] = None,
    user: Annotated[
        list[str] | None, typer.Option("--user", help="Only this user's records (repeat).")
    ] = None,
    document: Annotated[
        list[str] | None,
        typer.Option("--document", help="Only this document: content id or file name (repeat)."),
    ] = None,
    ip: Annotated[
        list[str] | None, typer.Option("--ip", help="Only records from this client IP (repeat).")
    ] = None,
    app_name: Annotated[
        list[str] | None,
        typer.Option("--app", help="Only records of this application (AppName, repeat)."),
    ] = None,
    clock: Annotated[
        Clock,
        typer.Option(
            help="utc: times in UTC, the tenant's beside them; local: the chart of calls "
            "over time and the findings' times in the tenant time zone first."
        ),
    ] = Clock.UTC,
    as_json: Annotated[
        bool,
        _json_option(
            "Print the period's new and changed findings as JSON on stdout "
            "(the files go to stderr)."
        ),
    ] = False,
) -> None:
    """Write the auditor's HTML report (and exports) for a period; print the files.

    Findings are brought up to date first (an incremental detect), unless --no-detect.
    With --json, stdout is one JSON object: the report's files and figures and `changes`,
    its findings new in the period or continued into it, in `detect --json`'s schema.

    Example: rmslog report --out reports/ --period day --yesterday --format html,xlsx --fail-on high
    """
    from pipeline.report import (
        ReportOptions,
        build_report,
        check_fail_on,
        hand_off_head,
        load_pseudonym_key,
        parse_formats,
    )
    from pipeline.report.period import resolve_period
    from pipeline.report.scope import Scope
    from pipeline.warehouse import open_warehouse

    with _errors():
        check_fail_on(fail_on)
        scope = Scope(
            users=tuple(user or ()),
            documents=tuple(document or ()),
            ips=tuple(ip or ()),
            apps=tuple(app_name or ()),
        )
        if geoip is not None and not geoip.is_file():  # before a detect run, not after
            raise UsageError(f"location database {geoip} does not exist")
        detection = _report_detection(_db(db), config, no_detect=no_detect, wait=wait)
        options = ReportOptions(
            period=resolve_period(
                start=start and start.date(),
                end=end and end.date(),
                kind=period,
                yesterday=yesterday,
            ),
            formats=parse_formats(fmt),
            fail_on=fail_on,
            pseudonym_key=load_pseudonym_key(key_file) if pseudonymize else None,
            # --geoip: locations for this report only (the stored settings are unchanged).
            settings=detection.settings
            if geoip is None
            else dataclasses.replace(detection.settings, geoip=str(geoip)),
            detection=detection,
            scope=scope,
            clock=clock,
        )
        with open_warehouse(_db(db), read_only=True, wait_seconds=wait) as con, _writing(out):
            result = build_report(con, out, options)
        if as_json:  # the whole object first, whatever the exit code below
            _print_json_with_changes(hand_off_head(options, result), iter(result.changes))
        for path in result.files:
            typer.echo(str(path), err=as_json)
        err.print(f"{result.key_calls:,} tenant-key calls, {result.findings} finding(s)")
        if not result.log_records:
            err.print(f"[yellow]no logs cover this period[/] ({options.period.describe()})")
            if require_data:
                raise NoDataError(
                    f"--require-data: no log record covers {options.period.describe()}"
                )
        if not detection.status.current:
            err.print(
                "[yellow]warning:[/] the findings do not cover this warehouse's data: "
                f"{escape('; '.join(detection.status.stale))}; run `rmslog detect` "
                "(or report without --no-detect)",
                highlight=False,
                soft_wrap=True,
            )
            if fail_on:
                raise typer.Exit(int(ExitCode.STALE))
        if result.failed:
            err.print(f"{result.failing_findings} finding(s) at or above --fail-on {fail_on}")
            raise typer.Exit(int(ExitCode.FINDINGS))


@app.command()
def verify(
    db: DbOption = None,
    wait: WaitOption = WAIT_SECONDS,
    as_json: JsonOption = False,
) -> None:
    """Re-hash the source files of the manifest: is each unchanged, changed or missing?

    Exit 10 when any file changed or is missing since it was read.

    Example: rmslog verify --db audit.duckdb --json
    """
    from pipeline.verify import CHANGED, MISSING, UNCHANGED, verify_files
    from pipeline.warehouse import open_warehouse

    with _errors():
        with open_warehouse(_db(db), read_only=True, wait_seconds=wait) as con:
            checks = list(verify_files(con))
        counts = {s: sum(c.status == s for c in checks) for s in (UNCHANGED, CHANGED, MISSING)}
        if as_json:
            _print_json({**counts, "files": [c.as_dict() for c in checks]})
        else:
            # Plain columns, never cut: status, bytes checked, path, then why (if not OK).
            typer.echo(f"{'status':<9}  {'bytes':>14}  path")
            for c in checks:
                why = f"  ({c.detail})" if c.detail else ""
                typer.echo(f"{c.status:<9}  {c.bytes_checked:>14,}  {c.path}{why}")
        err.print(
            f"{len(checks)} files: {counts[UNCHANGED]} unchanged, {counts[CHANGED]} changed, "
            f"{counts[MISSING]} missing",
            highlight=False,
        )
        if counts[CHANGED] or counts[MISSING]:
            raise typer.Exit(int(ExitCode.CHANGED))


def _report_detection(
    db: Path, config: Path | None, *, no_detect: bool, wait: float
) -> "ReportDetection":
    """The settings and detection status a report states; runs detect first unless
    `no_detect` when the findings do not cover the data (or --config changes settings)."""
    from pipeline.detect import run_detections
    from pipeline.detect.status import detection_status
    from pipeline.report import ReportDetection
    from pipeline.settings import effective_settings, stored_settings
    from pipeline.warehouse import open_warehouse

    now = datetime.now(UTC).replace(tzinfo=None)
    with open_warehouse(db, read_only=True, wait_seconds=wait) as con:
        resolved = effective_settings(con, config)
        status = detection_status(con, resolved.settings, now)
        stored = stored_settings(con)
    if no_detect:
        _say_settings(resolved)
        return ReportDetection(resolved.settings, status, None)
    summary = None
    if not status.current or (config is not None and resolved.settings != stored):
        reasons = "; ".join(status.stale) or "the settings file changes the settings"
        err.print(
            f"report: bringing findings up to date first ({escape(reasons)})",
            highlight=False,
            soft_wrap=True,
        )
        with open_warehouse(db, wait_seconds=wait) as con:
            resolved = effective_settings(con, config, store=True)
            summary = run_detections(con, settings=resolved.settings)
            status = detection_status(con, resolved.settings, now)
        _say_detect(summary)
    _say_settings(resolved)
    return ReportDetection(resolved.settings, status, summary)


settings_app = typer.Typer(
    help="Show and change the tenant settings stored in the warehouse (one set for "
    "detect, report, queries and notebooks).",
    no_args_is_help=True,
)
app.add_typer(settings_app, name="settings")


@settings_app.command("show")
def settings_show(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Print every setting: its key, value, and whether it is stored or the default.

    Example: rmslog settings show --json
    """
    from pipeline.settings import Settings, effective_settings, setting_keys, stored_settings
    from pipeline.warehouse import open_warehouse

    with _errors(), open_warehouse(_db(db), read_only=True) as con:
        stored = stored_settings(con)
        resolved = effective_settings(con)
    current = resolved.settings.as_dict()
    chosen = stored.as_dict() if stored is not None else {}
    defaults = Settings().as_dict()
    if as_json:
        _print_json(
            {
                "source": resolved.source,
                "settings": current,
                "stored": sorted(k for k in chosen if stored is not None),
            }
        )
        return
    helps = setting_keys()
    for key, value in current.items():
        origin = (
            "stored"
            if key in chosen and chosen[key] != defaults.get(key, object())
            else ("default" if resolved.source in ("warehouse", "defaults") else resolved.source)
        )
        what = helps.get(key, "rule parameter override")
        typer.echo(f"{key} = {json.dumps(value)}    # {origin}; {what}")
    if resolved.note:
        err.print(f"[yellow]settings:[/] {escape(resolved.note)}", highlight=False, soft_wrap=True)


@settings_app.command("set")
def settings_set(
    key: Annotated[
        str, typer.Argument(help="tenant.timezone, tenant.work_days, rules.RULE.PARAM, ...")
    ],
    value: Annotated[str, typer.Argument(help="The value; lists as a,b,c or a JSON list.")],
    db: DbOption = None,
    wait: WaitOption = WAIT_SECONDS,
) -> None:
    """Change one setting in the warehouse (findings become stale until detect runs).

    Example: rmslog settings set tenant.timezone Europe/Berlin
    """
    from pipeline.detect.rules import check_rule_override
    from pipeline.settings import RULES_PREFIX, effective_settings, store_settings, with_values
    from pipeline.warehouse import open_warehouse

    with _errors(), open_warehouse(_db(db), wait_seconds=wait) as con:
        if key.startswith(RULES_PREFIX):
            check_rule_override(key.removeprefix(RULES_PREFIX), value)
        current = effective_settings(con).settings
        store_settings(con, with_values(current, {key: value}))
        err.print(
            f"settings: {escape(key)} = {escape(value)} stored; "
            "findings follow at the next `rmslog detect` or `rmslog report`",
            highlight=False,
            soft_wrap=True,
        )


@settings_app.command("unset")
def settings_unset(
    key: Annotated[str, typer.Argument(help="The setting to put back to its default.")],
    db: DbOption = None,
    wait: WaitOption = WAIT_SECONDS,
) -> None:
    """Put one setting back to its default (or drop a rule parameter override).

    Example: rmslog settings unset rules.denied-burst.min_failures
    """
    from pipeline.settings import effective_settings, store_settings, without
    from pipeline.warehouse import open_warehouse

    with _errors(), open_warehouse(_db(db), wait_seconds=wait) as con:
        current = effective_settings(con).settings
        store_settings(con, without(current, key))
        err.print(f"settings: {escape(key)} back to its default", highlight=False)


@settings_app.command("import")
def settings_import(
    file: Annotated[Path, typer.Argument(help="A TOML settings file ([tenant], [rules.RULE]).")],
    db: DbOption = None,
    wait: WaitOption = WAIT_SECONDS,
) -> None:
    """Make a TOML file's settings the warehouse's (keys it omits go back to defaults).

    Example: rmslog settings import rmslog.toml
    """
    from pipeline.detect.rules import check_rule_override
    from pipeline.settings import read_toml, store_settings
    from pipeline.warehouse import open_warehouse

    with _errors():
        settings = read_toml(file)
        for key in settings.rule_overrides():
            check_rule_override(key, settings.rule_overrides()[key])
        with open_warehouse(_db(db), wait_seconds=wait) as con:
            store_settings(con, settings)
        err.print(
            f"settings: stored {escape(str(file))}: {escape(settings.describe())}",
            highlight=False,
            soft_wrap=True,
        )


@app.command("query")
def query_cmd(
    sql: Annotated[str | None, typer.Argument(help="One read-only SQL statement.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Run a named query.")] = None,
    param: Annotated[list[str] | None, typer.Option(help="Bind a $parameter: k=v.")] = None,
    db: DbOption = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv, json or parquet.")] = "table",
    out: Annotated[Path | None, typer.Option("--out", help="Write to FILE, not stdout.")] = None,
    wait: WaitOption = WAIT_SECONDS,
    config: Annotated[
        Path | None,
        typer.Option(help="Settings file (default: $RMSLOG_CONFIG, else ./rmslog.toml)."),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0, help="Stop the query after SECONDS (0: no limit)."),
    ] = QUERY_TIMEOUT_SECONDS,
) -> None:
    """Run one read-only, sandboxed SQL statement (or a named query) on the warehouse.

    Example: rmslog query "SELECT operation, count(*) FROM key_usage GROUP BY 1"

    Example: rmslog query --name who-opened-document --param document=Budget.xlsx --format csv
    """
    from pipeline.query import query_to

    with _errors():
        if (sql is None) == (name is None):
            raise UsageError("give either SQL or --name NAME (see `rmslog queries`)")
        if fmt == "parquet" and out is None:
            raise UsageError("--format parquet needs --out FILE")
        target: Path | BinaryIO = out if out is not None else sys.stdout.buffer
        with _writing(out):
            written = query_to(
                _db(db),
                sql,
                _pairs(param, "--param"),
                fmt,
                target,
                name=name,
                config=config,
                wait_seconds=wait,
                timeout_seconds=timeout,
            )
        sys.stdout.flush()
        if out is not None:
            err.print(
                f"wrote {written.rows:,} rows to {out}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        if written.shown < written.rows:
            err.print(
                f"showing {written.shown:,} of {written.rows:,} rows; "
                "use --format csv, json or parquet for all of them",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )


@contextmanager
def _writing(out: Path | None) -> Iterator[None]:
    """An OS error while writing `out` (a file or folder the user named) is an output error."""
    try:
        yield
    except OSError as e:
        if out is None:
            raise
        raise OutputError(f"cannot write {out}: {e.strerror or e}") from e


@app.command()
def queries(as_json: JsonOption = False) -> None:
    """List the named queries with their parameters and columns.

    Example: rmslog queries --json
    """
    from pipeline import query as query_mod

    with _errors():
        if as_json:
            _print_json(query_mod.describe_named())
            return
        for q in query_mod.named_queries():
            typer.echo(f"{q.name}\n    {q.description}")
            for p in q.params:
                if p.name in query_mod.SETTINGS_PARAMS:
                    typer.echo(f"    {p.name}: {p.description} (--config)")
                    continue
                default = "required" if p.default is None else f"default {p.default}"
                typer.echo(f"    --param {p.name}=<{p.type}>  {p.description} ({default})")


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Working folder.", show_default=True)
    ] = Path("rmslog-demo"),
) -> None:
    """Generate a sample tenant, ingest, detect and report; print the report path last.

    Example: rmslog demo --dir /tmp/rmslog-demo
    """
    from pipeline.run import run_demo

    with _errors():
        with _writing(directory):
            result = run_demo(directory)
        ing = result.ingested
        typer.echo(
            f"generated  {result.generated.records:,} log records in "
            f"{len(result.generated.files)} files under {result.dir / 'logs'}"
        )
        typer.echo(
            f"ingested   {ing.rows_stored:,} rows, {ing.duplicates:,} duplicates, "
            f"{ing.rejected:,} rejected into {result.db}"
        )
        typer.echo(
            f"attributed {result.report.key_calls:,} tenant-key calls; "
            f"{result.detected.findings} finding(s)"
        )
        typer.echo("report:")
        typer.echo(str(result.report.html.resolve()))


# The auditor's work on findings (pipeline.triage): triage, the findings list, suppressions.
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Who makes the change [default: the OS user]."),
]


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _terminal_safe(value: object) -> str:
    """A value for a terminal line: control characters (escape codes from log text) shown
    as `\\xNN`, never interpreted; None as `-`."""
    import re

    from pipeline.safe import CONTROL_CHARS

    if value is None:
        return "-"
    text = value if isinstance(value, str) else str(value)
    return re.sub(CONTROL_CHARS, lambda m: f"\\x{ord(m.group()):02x}", text)


def _json_line(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")


@app.command()
def triage(
    finding_id: Annotated[str, typer.Argument(help="The finding's id (see `rmslog findings`).")],
    status: Annotated[
        str | None,
        typer.Option(help="open, investigating, resolved, false-positive or benign."),
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Who works the finding.")] = None,
    note: Annotated[str | None, typer.Option(help="Why: kept in the audit trail.")] = None,
    by: ByOption = None,
    db: DbOption = None,
    wait: WaitOption = WAIT_SECONDS,
    as_json: JsonOption = False,
) -> None:
    """Record a finding's status, owner or note (appended to its audit trail, kept across
    detect runs); without --status/--owner/--note, print the finding's trail.

    Example: rmslog triage 3f2a... --status false-positive --owner alice --note "backup job"
    """
    from pipeline.triage import finding_exists, record_triage, triage_history
    from pipeline.warehouse import open_warehouse

    with _errors():
        if status is None and owner is None and note is None:
            with open_warehouse(_db(db), read_only=True, wait_seconds=wait) as con:
                if not finding_exists(con, finding_id):
                    raise UsageError(
                        f"no finding {finding_id!r}: neither a current finding nor one with "
                        "a triage history (see `rmslog findings`)"
                    )
                changes = triage_history(con, finding_id)
            if as_json:
                _print_json([c.as_dict() for c in changes])
                return
            if not changes:
                err.print("no triage recorded: the finding is open", highlight=False)
            for c in changes:
                typer.echo(
                    f"{c.changed_at:%Y-%m-%d %H:%M:%S} UTC  {_terminal_safe(c.changed_by)}  "
                    f"{c.status}  owner={_terminal_safe(c.owner)}  note={_terminal_safe(c.note)}"
                )
            return
        with open_warehouse(_db(db), wait_seconds=wait) as con:
            change = record_triage(
                con, finding_id, status=status, owner=owner, note=note, by=by, now=_utc_now()
            )
        if as_json:
            _print_json(change.as_dict())
        err.print(
            f"triage: {escape(finding_id)} is {change.status}"
            f" (owner {escape(_terminal_safe(change.owner))}; change {change.change_id})",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def findings(
    status: Annotated[
        list[str] | None, typer.Option(help="Only findings with this triage status (repeat).")
    ] = None,
    rule: Annotated[list[str] | None, typer.Option(help="Only this rule's findings (repeat).")] = (
        None
    ),
    severity: Annotated[
        Severity | None, typer.Option(help="Only findings of this severity or worse.")
    ] = None,
    db: DbOption = None,
    wait: WaitOption = WAIT_SECONDS,
    as_json: JsonOption = False,
) -> None:
    """List the findings with their triage status and suppression, most severe first
    (findings that stopped firing but were triaged too, marked gone). Streams; with
    --json, one JSON object per finding and line (JSON Lines).

    Example: rmslog findings --status open --status investigating --severity medium --json
    """
    from pipeline.triage import FINDING_COLUMNS, hand_off, list_findings
    from pipeline.warehouse import open_warehouse

    with _errors(), open_warehouse(_db(db), read_only=True, wait_seconds=wait) as con:
        rows = list_findings(
            con,
            now=_utc_now(),
            statuses=status,
            rules=rule,
            severity=severity.value if severity else None,
        )
        if not as_json:
            typer.echo(
                f"{'severity':<8}  {'status':<14}  {'rule':<24}  {'first (UTC)':<19}  "
                f"{'finding_id':<32}  entity  [owner; suppressed; note]"
            )
        n = 0
        for row in rows:
            n += 1
            if as_json:
                _json_line(hand_off(row, FINDING_COLUMNS))
                continue
            first = f"{row['first_ts']:%Y-%m-%d %H:%M:%S}" if row["first_ts"] else "gone"
            extra = [f"owner {row['owner']}"] if row["owner"] else []
            if row["suppressed"]:
                extra.append(
                    f"suppressed until {row['suppressed_until']} ({row['suppression_reason']})"
                )
            if row["note"]:
                extra.append(f"note: {row['note']}")
            tail = f"  [{'; '.join(extra)}]" if extra else ""
            typer.echo(
                f"{row['severity'] or '-':<8}  {row['status']:<14}  {row['rule']:<24}  "
                f"{first:<19}  {row['finding_id']:<32}  "
                f"{_terminal_safe(row['entity'])}{_terminal_safe(tail)}"
            )
        err.print(f"{n:,} finding(s)", highlight=False)


@app.command()
def suppress(
    rule: Annotated[str, typer.Option(help="The rule to silence (see docs/rules.md).")],
    entity: Annotated[str, typer.Option(help="For this entity only (a user, an IP, ...).")],
    reason: Annotated[str, typer.Option(help="Why: shown in the report's appendix.")],
    owner: Annotated[str, typer.Option(help="Who answers for the suppression.")],
    until: Annotated[
        datetime,
        typer.Option(formats=["%Y-%m-%d"], help="Last UTC day it applies (it then expires)."),
    ],
    by: ByOption = None,
    db: DbOption = None,
    wait: WaitOption = WAIT_SECONDS,
    as_json: JsonOption = False,
) -> None:
    """Suppress a rule's findings for one entity until a date: they are still computed and
    listed (the report's "suppressed" appendix) but no longer count for --fail-on.

    Example: rmslog suppress --rule new-network --entity 10.1.2.3 --reason "lab subnet"
    --owner alice --until 2026-12-31
    """
    from pipeline.triage import add_suppression
    from pipeline.warehouse import open_warehouse

    with _errors(), open_warehouse(_db(db), wait_seconds=wait) as con:
        now = _utc_now()
        made = add_suppression(
            con,
            rule=rule,
            entity=entity,
            reason=reason,
            owner=owner,
            until=until.date(),
            by=by,
            now=now,
        )
    if as_json:
        _print_json(made.as_dict(now))
    err.print(
        f"suppression {made.suppression_id}: {escape(rule)} for "
        f"{escape(_terminal_safe(made.entity))} until {made.until} (UTC day, included)",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def suppressions(
    every: Annotated[bool, typer.Option("--all", help="Also the expired and lifted ones.")] = False,
    db: DbOption = None,
    wait: WaitOption = WAIT_SECONDS,
    as_json: JsonOption = False,
) -> None:
    """List the suppressions in force (--all: every one ever made, with its state).

    Example: rmslog suppressions --all --json
    """
    from pipeline.triage import list_suppressions
    from pipeline.warehouse import open_warehouse

    with _errors(), open_warehouse(_db(db), read_only=True, wait_seconds=wait) as con:
        now = _utc_now()
        found = list_suppressions(con, now=now, everything=every)
    if as_json:
        _print_json([s.as_dict(now) for s in found])
        return
    for s in found:
        typer.echo(
            f"{s.suppression_id:>4}  {s.state(now):<7}  until {s.until}  {s.rule}  "
            f"{_terminal_safe(s.entity)}  owner {_terminal_safe(s.owner)}  "
            f"by {_terminal_safe(s.created_by)}: {_terminal_safe(s.reason)}"
        )
    err.print(f"{len(found)} suppression(s)", highlight=False)


@app.command()
def unsuppress(
    suppression_id: Annotated[int, typer.Argument(help="The id `rmslog suppressions` shows.")],
    by: ByOption = None,
    db: DbOption = None,
    wait: WaitOption = WAIT_SECONDS,
) -> None:
    """Lift a suppression now (its row stays, with who lifted it and when).

    Example: rmslog unsuppress 3
    """
    from pipeline.triage import lift_suppression
    from pipeline.warehouse import open_warehouse

    with _errors(), open_warehouse(_db(db), wait_seconds=wait) as con:
        lifted = lift_suppression(con, suppression_id, by=by, now=_utc_now())
    err.print(
        f"suppression {lifted.suppression_id} lifted by {escape(_terminal_safe(lifted.lifted_by))}",
        highlight=False,
        soft_wrap=True,
    )


def app_for(args: list[str]) -> typer.Typer:
    """`app` with only the command that `args` names, or the whole of it when they name none
    (`rmslog --help`, a mistyped name, whose error lists them all). Typer builds every
    command's options before it runs one, reading all eighteen signatures (docs/cli.md,
    "Start-up time"). Options of the group itself are flags (`--version`, `--debug`,
    `--help`), so the first other word is the command."""
    word = next((a for a in args if not a.startswith("-")), None)
    commands = [
        c
        for c in app.registered_commands
        if word == (c.name or typer.main.get_command_name(getattr(c.callback, "__name__", "")))
    ]
    groups = [g for g in app.registered_groups if word is not None and g.name == word]
    if not commands and not groups:
        return app
    lean = copy.copy(app)
    lean.registered_commands, lean.registered_groups = commands, groups
    return lean


def main() -> None:
    """Console-script entry point. A Ctrl-C while Typer still builds the command (before the
    group installs its handler) is Python's KeyboardInterrupt: the same stop, said the same
    way, not a traceback."""
    from pipeline.shell import tell_stop

    try:
        app_for(sys.argv[1:])()
    except KeyboardInterrupt:
        tell_stop()
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
