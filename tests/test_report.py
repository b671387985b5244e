"""The report: periods, exit codes for --fail-on, pseudonyms, escaping, atomic re-runs."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import plotly
import polars as pl
import pytest

from pipeline.errors import ExitCode, UsageError
from pipeline.report import (
    PeriodKind,
    ReportOptions,
    build_report,
    charts,
    collect_report_data,
    period_of,
    resolve_period,
)
from pipeline.report import build as build_mod
from pipeline.report.pseudonym import pseudonym_params
from pipeline.settings import Settings
from pipeline.warehouse import open_warehouse

NOW = datetime(2026, 11, 28, 6, 0)
HOSTILE_IMG = "<img src=x onerror=alert(1)>"
HOSTILE_USER = "</script><img src=x onerror=alert(1)>"
DAY = period_of(PeriodKind.DAY, date(2026, 11, 27))


def _data(db: Path, **kw: Any) -> Any:
    options = ReportOptions(generated_at=NOW, **kw)
    with open_warehouse(db, read_only=True) as con:
        return collect_report_data(con, options)


# -- periods -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "anchor", "label", "start", "end"),
    [
        ("day", date(2026, 11, 27), "2026-11-27", date(2026, 11, 27), date(2026, 11, 28)),
        ("week", date(2026, 11, 27), "2026-W48", date(2026, 11, 23), date(2026, 11, 30)),
        ("week", date(2027, 1, 1), "2026-W53", date(2026, 12, 28), date(2027, 1, 4)),
        ("month", date(2026, 11, 27), "2026-11", date(2026, 11, 1), date(2026, 12, 1)),
        ("month", date(2026, 12, 31), "2026-12", date(2026, 12, 1), date(2027, 1, 1)),
    ],
)
def test_a_period_is_the_day_iso_week_or_month_holding_its_anchor(
    kind: str, anchor: date, label: str, start: date, end: date
) -> None:
    period = period_of(PeriodKind(kind), anchor)
    assert (period.label, period.start, period.end) == (label, start, end)


def test_yesterday_with_a_period_is_the_period_holding_yesterday() -> None:
    monday = date(2026, 11, 30)
    assert resolve_period(yesterday=True, today=monday).label == "2026-11-29"
    assert resolve_period(kind=PeriodKind.WEEK, yesterday=True, today=monday).label == "2026-W48"
    first = date(2026, 12, 1)
    assert resolve_period(kind=PeriodKind.MONTH, yesterday=True, today=first).label == "2026-11"


def test_from_and_to_make_a_range_of_days_both_included() -> None:
    period = resolve_period(start=date(2026, 11, 1), end=date(2026, 11, 15))
    assert period.label == "2026-11-01_2026-11-15"
    assert (period.start, period.end) == (date(2026, 11, 1), date(2026, 11, 16))
    assert resolve_period(start=date(2026, 11, 3)).label == "2026-11-03"
    assert resolve_period().label == "all"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"end": date(2026, 11, 2)}, "--to needs --from"),
        ({"start": date(2026, 11, 2), "yesterday": True}, "either --yesterday or --from"),
        ({"start": date(2026, 11, 2), "end": date(2026, 11, 1)}, "is before --from"),
        (
            {"start": date(2026, 11, 2), "end": date(2026, 11, 3), "kind": PeriodKind.WEEK},
            "cannot be combined with --period",
        ),
    ],
)
def test_contradictory_period_options_are_usage_errors(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve_period(**kw)


def test_cli_period_errors_exit_with_the_usage_code(
    cli: Any, hostile_db: Path, tmp_path: Path
) -> None:
    result = cli("report", "--db", hostile_db, "--out", tmp_path, "--to", "2026-11-27")
    assert result.exit_code == ExitCode.USAGE
    assert "--to needs --from" in result.stderr


# -- exit codes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fail_on", "period", "code"),
    [
        ("high", "2026-11-27", ExitCode.FINDINGS),
        ("medium", "2026-11-27", ExitCode.FINDINGS),
        ("high", "2026-11-26", ExitCode.OK),  # findings of other days do not count
        (None, "2026-11-27", ExitCode.OK),
    ],
)
def test_fail_on_exits_1_only_for_a_finding_at_or_above_it_in_the_period(
    cli: Any, hostile_db: Path, tmp_path: Path, fail_on: str | None, period: str, code: int
) -> None:
    args = ["report", "--db", hostile_db, "--out", tmp_path, "--from", period]
    result = cli(*args, *(["--fail-on", fail_on] if fail_on else []))
    assert result.exit_code == code, result.output
    assert result.stdout.splitlines() == [str(tmp_path / f"report-{period}.html")]
    if code == ExitCode.FINDINGS:
        assert f"at or above --fail-on {fail_on}" in result.stderr


def test_low_findings_trip_fail_on_low_but_not_medium(hostile_db: Path, tmp_path: Path) -> None:
    period = resolve_period(start=date(2026, 11, 27))
    with open_warehouse(hostile_db, read_only=True) as con:
        low = build_report(con, tmp_path, ReportOptions(period=period, fail_on="low"))
        medium = build_report(con, tmp_path, ReportOptions(period=period, fail_on="medium"))
    assert (low.failing_findings, medium.failing_findings) == (3, 2)


def test_an_unknown_fail_on_level_is_a_usage_error(
    cli: Any, hostile_db: Path, tmp_path: Path
) -> None:
    result = cli("report", "--db", hostile_db, "--out", tmp_path, "--fail-on", "critical")
    assert result.exit_code == ExitCode.USAGE
    assert "'critical' is not one of 'low', 'medium', 'high'" in result.stderr


def test_an_unknown_format_is_a_usage_error(cli: Any, hostile_db: Path, tmp_path: Path) -> None:
    result = cli("report", "--db", hostile_db, "--out", tmp_path, "--format", "html,pdf")
    assert result.exit_code == ExitCode.USAGE
    assert "unknown --format pdf" in result.stderr


def test_report_clock_local_draws_the_chart_and_lists_the_findings_on_the_tenants_clock(
    cli: Any, hostile_db: Path, tmp_path: Path
) -> None:
    db = tmp_path / "w.duckdb"
    shutil.copy(hostile_db, db)
    assert cli("settings", "set", "tenant.timezone", "Europe/Berlin", "--db", db).exit_code == 0
    pages, exports = {}, {}
    for clock in ("utc", "local"):
        out = tmp_path / clock
        result = cli(
            "report", "--db", db, "--out", out, "--from", "2026-11-27", "--no-detect",
            "--clock", clock, "--format", "html,json",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        pages[clock] = (out / "report-2026-11-27.html").read_text(encoding="utf-8")
        exports[clock] = json.loads((out / "report-2026-11-27.json").read_text(encoding="utf-8"))
    # The chart's axis title names its clock (plotly's JSON writes "/" as \u002f) ...
    # (the weekday x hour heatmap has the tenant clock's hours under either clock)
    tenant_hour = '"text":"hour, tenant clock (Europe\\u002fBerlin)"'
    assert (pages["utc"].count('"text":"UTC hour"'), pages["utc"].count(tenant_hour)) == (1, 1)
    assert (pages["local"].count('"text":"UTC hour"'), pages["local"].count(tenant_hour)) == (0, 2)
    # ... and the findings' first time column is that clock's (09:30 UTC is 10:30 in Berlin).
    firsts = {c: re.findall(r"<th[^>]*>(First \([^)]+\))</th>", p)[:2] for c, p in pages.items()}
    assert firsts == {
        "utc": ["First (UTC)", "First (Europe/Berlin)"],
        "local": ["First (Europe/Berlin)", "First (UTC)"],
    }
    assert re.search(
        r'<td class="local">2026-11-27 10:30:00</td><td class="local">', pages["local"]
    )
    # The exports stay UTC instants; they say which clock the buckets follow.
    assert (exports["utc"]["clock"], exports["local"]["clock"]) == ("UTC", "Europe/Berlin")
    starts = {
        c: [r["bucket_start"] for r in e["tables"]["key-calls-over-time"]]
        for c, e in exports.items()
    }
    assert starts["utc"] == starts["local"] and starts["utc"][0].endswith("+00:00")
    bad = cli("report", "--db", db, "--out", tmp_path, "--clock", "berlin")
    assert bad.exit_code == ExitCode.USAGE
    assert "'berlin' is not one of 'utc', 'local'" in bad.stderr


def test_a_missing_warehouse_exits_with_the_warehouse_code(cli: Any, tmp_path: Path) -> None:
    result = cli("report", "--db", tmp_path / "none.duckdb", "--out", tmp_path, "--wait", "0")
    assert result.exit_code == ExitCode.WAREHOUSE
    assert "does not exist" in result.stderr


# -- pseudonyms ------------------------------------------------------------------------


def test_pseudonyms_are_hmac_sha256_of_the_value_computed_in_duckdb() -> None:
    key = b"team-secret"
    params = pseudonym_params(key)
    con = duckdb.connect()
    got = con.execute(
        "SELECT sha256($key_outer || unhex(sha256($key_inner || encode($v))))",
        {"key_outer": params["key_outer"], "key_inner": params["key_inner"], "v": "kim@x"},
    ).fetchall()[0][0]
    assert got == hmac.new(key, b"kim@x", hashlib.sha256).hexdigest()
    long_key = b"k" * 100  # longer than a SHA-256 block: hashed first, as RFC 2104 says
    long = pseudonym_params(long_key)
    got = con.execute(
        "SELECT sha256($key_outer || unhex(sha256($key_inner || encode('x'))))",
        {"key_outer": long["key_outer"], "key_inner": long["key_inner"]},
    ).fetchall()[0][0]
    assert got == hmac.new(long_key, b"x", hashlib.sha256).hexdigest()


def test_pseudonymized_report_hides_users_and_ips_but_keeps_them_stable(
    hostile_db: Path,
) -> None:
    key = b"team-secret"
    data = _data(hostile_db, period=DAY, pseudonym_key=key)
    again = _data(hostile_db, period=DAY, pseudonym_key=key)
    other = _data(hostile_db, period=DAY, pseudonym_key=b"another key")
    users = data["top-users"]["user_id"].drop_nulls().to_list()
    expected = "anon-" + hmac.new(key, b"kim@fabrikam.example", hashlib.sha256).hexdigest()[:16]
    assert expected in users
    assert all(u.startswith("anon-") for u in users)
    assert all(ip.startswith("anon-") for ip in data["top-ips"]["c_ip"].drop_nulls())
    assert users == again["top-users"]["user_id"].drop_nulls().to_list()
    assert not set(users) & set(other["top-users"]["user_id"].drop_nulls().to_list())
    findings = data["findings"]
    assert findings.filter(pl.col("rule") == "orphan-key-calls")["entity"].to_list() == [
        "tenant-key"
    ]
    assert not findings["summary"].str.contains("evil").any()
    assert data["rejected-lines"]["example_raw_line"].null_count() == 2


def test_pseudonymized_outputs_hold_no_user_ip_or_key(
    cli: Any, hostile_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RMSLOG_PSEUDONYM_KEY", "k3y-material-xyz")
    result = cli(
        "report", "--db", hostile_db, "--out", tmp_path, "--from", "2026-11-27",
        "--format", "html,csv,json,xlsx,parquet", "--pseudonymize",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for path in tmp_path.iterdir():
        raw = path.read_bytes()
        for secret in (b"kim@fabrikam", b"@evil.example", b"198.51.100.23", b"k3y-material"):
            assert secret not in raw, (path.name, secret)


def test_pseudonymize_without_a_key_is_a_usage_error(
    cli: Any, hostile_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RMSLOG_PSEUDONYM_KEY", raising=False)
    result = cli("report", "--db", hostile_db, "--out", tmp_path, "--pseudonymize")
    assert result.exit_code == ExitCode.USAGE
    assert "--pseudonymize needs a key: set $RMSLOG_PSEUDONYM_KEY" in result.stderr
    assert not list(tmp_path.iterdir())


def test_an_empty_key_file_is_a_usage_error(cli: Any, hostile_db: Path, tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("\n")
    out = tmp_path / "out"
    args = ["--pseudonymize", "--pseudonym-key-file", key]
    result = cli("report", "--db", hostile_db, "--out", out, *args)
    assert result.exit_code == ExitCode.USAGE
    assert f"--pseudonym-key-file {key} is empty" in result.stderr


# -- HTML ------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)


def test_hostile_file_names_and_user_ids_are_text_in_the_html(
    hostile_db: Path, tmp_path: Path
) -> None:
    with open_warehouse(hostile_db, read_only=True) as con:
        result = build_report(con, tmp_path, ReportOptions(period=DAY, generated_at=NOW))
    html = result.html.read_text(encoding="utf-8")
    parsed = _Tags()
    parsed.feed(html)
    assert "img" not in parsed.tags and "b" not in parsed.tags
    text = "".join(parsed.text)
    assert f"{HOSTILE_IMG}.docx" in text  # shown, as text
    assert HOSTILE_USER in text
    assert "<b>EVIL</b>.EXE" in text
    # plotly.js once, one script per chart; none of them closed early by the data
    assert parsed.tags.count("script") == 4
    chart_data = "".join(parsed.scripts[1:])
    assert "&lt;\\u002fscript&gt;&lt;img src=x" in chart_data  # the user id, as chart text
    assert "</script" not in chart_data and "<img" not in chart_data
    assert "&amp;lt;img" not in html  # escaped once, not twice


def test_the_html_is_self_contained(hostile_db: Path, tmp_path: Path) -> None:
    with open_warehouse(hostile_db, read_only=True) as con:
        result = build_report(con, tmp_path, ReportOptions(period=DAY, generated_at=NOW))
    html = result.html.read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html)
    assert html.count("Plotly.newPlot") == 3


def test_the_embedded_plotly_bundle_is_the_recorded_one_and_draws_every_trace_the_report_uses(
    hostile_db: Path, tmp_path: Path
) -> None:
    vendored = Path(charts.__file__).parent / "vendor" / charts.PLOTLY_JS
    assert hashlib.sha256(vendored.read_bytes()).hexdigest() == charts.PLOTLY_JS_SHA256
    assert (vendored.parent / "plotly-LICENSE.txt").read_text().startswith("MIT License")
    bundle = charts.plotly_js()
    # the version the plotly package ships (its full bundle's header names it)
    full = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text()[:200]
    shipped = re.search(r"plotly\.js v(\S+)", full)
    assert shipped and f"(cartesian - minified) v{shipped.group(1)}\n" in bundle[:200]
    registered = set(re.findall(r'moduleType:"trace",name:"(\w+)"', bundle))
    with open_warehouse(hostile_db, read_only=True) as con:
        html = build_report(con, tmp_path, ReportOptions(period=DAY, generated_at=NOW)).html
    text = html.read_text(encoding="utf-8")
    assert bundle in text and len(text) < 2_000_000  # the full bundle alone is 4.8 MB
    used = set()  # the traces of each Plotly.newPlot(id, traces, layout, config)
    for call in re.finditer(r'Plotly\.newPlot\(\s*"[\w-]+",\s*', text.replace(bundle, "")):
        traces, _ = json.JSONDecoder().raw_decode(call.string, call.end())
        used |= {trace.get("type", "scatter") for trace in traces}
    assert used == set(charts.TRACE_TYPES)  # what the charts draw, and the constant agree
    assert used <= registered, used - registered


def test_the_report_shows_each_section_with_its_numbers(hostile_db: Path, tmp_path: Path) -> None:
    settings = Settings(timezone="Europe/Berlin")
    options = ReportOptions(period=DAY, generated_at=NOW, settings=settings)
    with open_warehouse(hostile_db, read_only=True) as con:
        html = build_report(con, tmp_path, options).html.read_text(encoding="utf-8")
    for heading in ("1. Summary", "2. Tenant-key use over time", "3. Who caused it",
                    "4. Findings", "5. Data completeness", "6. Evidence manifest"):  # fmt: skip
        assert heading in html
    assert "used 6 times through the byok-legacy topology: KMSPDecrypt 4 (66.7%), KMS" in html
    assert "1 tenant-key call (16.7%) fell outside working hours (Mon, Tue" in html
    assert "1 call (16.7%) had no originating request (orphans) and 1 call did not succeed" in html
    # Detection ran on UTC, the report is on Berlin's clock: the findings are not current.
    assert "Findings are not up to date." in html
    assert "3 findings overlap this period so far, which is no all-clear." in html
    assert "2 lines were rejected, 0 records arrived late and 1 file is refused" in html
    assert "logs/u_ex261127.log" in html
    assert "head -c 2494 -- &#39;logs/rmslog-2026-11-27.log&#39; | sha256sum" in html
    findings = html[html.index('id="findings"') :]
    assert findings.index("HIGH") < findings.index("MEDIUM") < findings.index("LOW")
    assert "(not in requests)" in html  # evidence row no-such-row is missing, and says so


# -- completeness ----------------------------------------------------------------------


def test_gaps_are_whole_empty_hours_up_to_now(hostile_db: Path) -> None:
    gaps = _data(hostile_db, period=DAY)["coverage-gaps"]
    spans = [(g["gap_start"].hour, g["gap_end"].hour, g["hours"]) for g in gaps.to_dicts()]
    # records at 08, 09, 10, 11 and 17 h UTC on 2026-11-27
    assert spans == [(0, 8, 8), (12, 17, 5), (18, 0, 6)]
    early = ReportOptions(period=DAY, generated_at=datetime(2026, 11, 27, 9, 30))
    with open_warehouse(hostile_db, read_only=True) as con:
        assert collect_report_data(con, early)["coverage-gaps"]["hours"].to_list() == [8]


def test_a_day_without_any_log_is_a_whole_day_gap(hostile_db: Path) -> None:
    week = _data(hostile_db, period=period_of(PeriodKind.WEEK, date(2026, 11, 27)))
    gaps = week["coverage-gaps"]
    first = gaps.row(0, named=True)
    assert first["gap_start"] == datetime(2026, 11, 23) and first["whole_days"] == 3
    last = gaps.row(-1, named=True)
    assert last["gap_end"] == NOW  # hours after now cannot have logs yet
    assert last["whole_days"] == 0 and last["after_latest_record"]


def test_records_of_a_file_ingested_after_newer_records_are_late(hostile_db: Path) -> None:
    late = _data(hostile_db, period=period_of(PeriodKind.DAY, date(2026, 11, 26)))
    rows = late["late-arrivals"].to_dicts()
    assert len(rows) == 1
    assert rows[0]["source_file"] == "logs/rmslog-2026-11-26.log"
    assert rows[0]["late_records"] == 4
    assert rows[0]["latest_ts_already_stored"] == datetime(2026, 11, 27, 17, 40)
    assert _data(hostile_db, period=DAY)["late-arrivals"].is_empty()


def test_refused_files_are_recorded_and_reported(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    from pipeline.ingest import ingest_paths

    iis = tmp_path / "u_ex240506.log"
    iis.write_text("#Software: Microsoft Internet Information Services 10.0\n", encoding="utf-8")
    ingest_paths(warehouse, [iis])
    data = collect_report_data(warehouse, ReportOptions(generated_at=NOW))
    refused = data["refused-files"].to_dicts()
    assert [r["path"] for r in refused] == [str(iis)]
    assert "not an RMS usage log" in refused[0]["reason"]


def test_the_heatmap_uses_the_tenant_time_zone(hostile_db: Path) -> None:
    thursday = period_of(PeriodKind.DAY, date(2026, 11, 26))
    utc = _data(hostile_db, period=thursday)["key-calls-by-weekday-hour"]
    berlin = _data(hostile_db, period=thursday, settings=Settings(timezone="Europe/Berlin"))
    local = berlin["key-calls-by-weekday-hour"]
    assert utc.select("weekday", "hour").rows() == [(4, 7), (4, 23)]
    assert local.select("weekday", "hour", "in_working_hours").rows() == [
        (4, 8, True),  # 07:00 UTC is 08:00 in Berlin: working time
        (5, 0, False),  # 23:30 UTC Thursday is 00:30 Friday in Berlin
    ]


def test_the_report_stage_does_not_import_typer_or_rich() -> None:
    code = (
        "import sys, pipeline.report; "
        "print(sorted(m for m in ('typer', 'rich') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- files -----------------------------------------------------------------------------


def test_rerunning_a_period_replaces_its_files_and_a_failed_run_keeps_the_old_ones(
    hostile_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = ReportOptions(period=DAY, formats=("html", "csv"), generated_at=NOW)
    with open_warehouse(hostile_db, read_only=True) as con:
        first = build_report(con, tmp_path, options)
        before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
        second = build_report(con, tmp_path, options)
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
        assert first.files == second.files

        def broken(*_: Any) -> str:
            raise RuntimeError("disk full")

        monkeypatch.setattr(build_mod, "render_html", broken)
        with pytest.raises(RuntimeError):
            build_report(con, tmp_path, ReportOptions(period=DAY, generated_at=datetime.now()))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temp files left


def test_demo_style_call_without_options_reports_everything(
    hostile_db: Path, tmp_path: Path
) -> None:
    with open_warehouse(hostile_db, read_only=True) as con:
        result = build_report(con, tmp_path, label="demo")
    assert result.html.name == "report-demo.html"
    assert result.key_calls == 8 and result.findings == 3  # f-old is before the data


def test_evidence_outside_its_findings_window_is_still_found(
    hostile_db: Path, tmp_path: Path
) -> None:
    import shutil

    db = tmp_path / "copy.duckdb"
    shutil.copy(hostile_db, db)
    with open_warehouse(db) as con:
        early = con.sql("SELECT row_id, ts FROM requests ORDER BY ts LIMIT 1").fetchall()[0]
        con.execute(
            "INSERT INTO findings BY NAME SELECT 'f-outside' AS finding_id, 'handmade' AS rule, "
            "'low' AS severity, TIMESTAMP '2026-11-27 12:00:00' AS first_ts, "
            "TIMESTAMP '2026-11-27 12:05:00' AS last_ts, 'x' AS entity, "
            "'evidence elsewhere' AS summary, [$id] AS evidence_row_ids",
            {"id": early[0]},
        )
    rows = _data(db, period=DAY)["finding-evidence"].filter(pl.col("finding_id") == "f-outside")
    assert rows.select("row_id", "ts").rows() == [early]


# -- periods without logs --------------------------------------------------------------


def test_a_period_without_logs_says_so_and_never_that_the_key_was_not_used(
    cli: Any, hostile_db: Path, tmp_path: Path
) -> None:
    result = cli("report", "--db", hostile_db, "--out", tmp_path, "--from", "2020-01-01")
    assert result.exit_code == ExitCode.OK, result.output
    assert "no logs cover this period" in result.stderr
    html = (tmp_path / "report-2020-01-01.html").read_text(encoding="utf-8")
    assert "No logs cover this period" in html
    assert "key was not used" not in html
    # Charts with nothing to draw say so instead of drawing empty axes.
    assert html.count("No data: no tenant-key call in this period.") == 3
    assert "Plotly.newPlot" not in html


def test_require_data_exits_8_when_no_log_covers_the_period_and_still_writes_the_report(
    cli: Any, hostile_db: Path, tmp_path: Path
) -> None:
    args = ["report", "--db", hostile_db, "--out", tmp_path, "--require-data"]
    empty = cli(*args, "--from", "2020-01-01", "--fail-on", "high")
    assert empty.exit_code == ExitCode.NO_DATA, empty.output
    assert "--require-data: no log record covers 2020-01-01" in empty.stderr
    assert (tmp_path / "report-2020-01-01.html").is_file()
    covered = cli(*args, "--from", "2026-11-26")
    assert covered.exit_code == ExitCode.OK, covered.output


def test_key_silence_in_a_partly_logged_period_names_the_hours_logs_cover(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pipeline.report.narrative as narrative

    monkeypatch.setattr(narrative, "coverage_hours", lambda data: (24, 20))
    data: Any = {"summary": pl.DataFrame({"requests": [5], "key_calls": [0]})}
    sentence = narrative._key_use_sentence(data)
    assert sentence.startswith("The tenant key was not used in the 4 of 24 hours that logs cover")


def _changed_source_case(cli: Any, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A file ingested, edited in place in a line already read (as `sed -i` would), and
    ingested again; then detect."""
    from conftest import DATA

    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "rmslog-2024-05-06.log"
    log.write_bytes((DATA / "refused" / "good.log").read_bytes())
    db = tmp_path / "w.duckdb"
    assert cli("ingest", logs, "--db", db).exit_code == ExitCode.OK
    log.write_bytes(log.read_bytes().replace(b"'kim'", b"'eve'"))
    assert cli("ingest", logs, "--db", db).exit_code == ExitCode.OK
    return logs, log, db


@pytest.mark.slow
def test_a_source_changed_after_reading_is_a_high_finding_shown_in_completeness(
    cli: Any, tmp_path: Path
) -> None:
    _, log, db = _changed_source_case(cli, tmp_path)
    detected = cli("detect", "--db", db, "--rule", "source-changed", "--fail-on", "high")
    assert detected.exit_code == ExitCode.FINDINGS
    assert "source-changed: 1 finding(s)" in detected.stderr
    out = tmp_path / "r"
    result = cli("report", "--db", db, "--out", out, "--format", "html,csv")
    assert result.exit_code == ExitCode.OK, result.output
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    completeness = html[html.index("Source files changed after reading") :]
    assert str(log) in completeness.split("</table>")[0]
    assert "source-changed " in completeness.split("</table>")[0]
    assert "changed after it was read" in html
    changes = pl.read_csv(next(out.glob("*-source-changes.csv")))
    row = changes.row(0, named=True)
    assert changes.height == 1 and (row["path"], row["events"], row["conflicts"]) == (
        str(log),
        1,
        1,
    )
    assert row["bytes_changed_within"] == 415 and row["finding_id"] is not None


def test_the_manifest_command_no_longer_matches_for_a_source_changed_after_reading(
    cli: Any, tmp_path: Path
) -> None:
    _, _, db = _changed_source_case(cli, tmp_path)
    out = tmp_path / "r"
    assert cli("report", "--db", db, "--out", out, "--format", "csv").exit_code == ExitCode.OK
    manifest = pl.read_csv(next(out.glob("*-evidence-manifest.csv"))).row(0, named=True)
    assert manifest["integrity_events"] == 1 and manifest["conflicts"] == 1
    printed = subprocess.run(
        ["sh", "-c", manifest["verify_command"]], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    assert printed != manifest["sha256"]  # the file no longer holds what was stored
    first = hashlib.sha256((Path(__file__).parent / "data/refused/good.log").read_bytes())
    assert manifest["sha256"] == first.hexdigest()


@pytest.mark.slow
def test_a_huge_rejected_line_is_kept_cut_with_its_length_and_hash_and_stays_out_of_the_report(
    cli: Any, tmp_path: Path
) -> None:
    from conftest import DATA

    huge = "2026-11-27\t12:00:00\t" + "x" * 3_000_000  # a line with 3 fields and 3 MB
    logs = tmp_path / "logs"
    logs.mkdir()
    good = (DATA / "refused" / "good.log").read_text()
    (logs / "rmslog-2024-05-06.log").write_text(good + huge + "\n")
    db = tmp_path / "w.duckdb"
    assert cli("ingest", logs, "--db", db).exit_code == ExitCode.OK
    con = duckdb.connect(str(db), read_only=True)
    try:
        kept = con.sql("SELECT length(raw_line), raw_bytes, raw_sha256 FROM rejects").fetchall()
    finally:
        con.close()
    assert kept == [(65_536, len(huge), hashlib.sha256(huge.encode()).hexdigest())]
    out = tmp_path / "r"
    assert cli("report", "--db", db, "--out", out, "--format", "html,csv").exit_code == 0
    csv = next(out.glob("*-rejected-lines.csv"))
    assert csv.stat().st_size < 2_000
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    assert "\t" + "x" * 480 + "…" in html and "x" * 481 not in html  # 500 characters


def test_with_a_tenant_time_zone_the_findings_show_local_time_beside_utc(
    hostile_db: Path, tmp_path: Path
) -> None:
    with open_warehouse(hostile_db, read_only=True) as con:
        berlin = build_report(
            con,
            tmp_path / "b",
            ReportOptions(period=DAY, settings=Settings(timezone="Europe/Berlin")),
        )
        utc = build_report(con, tmp_path / "u", ReportOptions(period=DAY))
    html = berlin.html.read_text(encoding="utf-8")
    # 09:30 UTC is 10:30 in Berlin in November: in the index, the card and its evidence.
    assert '<th class="local">First (Europe/Berlin)</th>' in html
    assert '<td class="local">2026-11-27 10:30:00</td>' in html
    assert "(2026-11-27 10:30:00 to 2026-11-27 10:30:00 Europe/Berlin)" in html
    assert '<th class="local">Time (Europe/Berlin)</th>' in html
    assert 'class="local"' not in utc.html.read_text(encoding="utf-8")


def _over_time(con: duckdb.DuckDBPyConnection, bucket: str, zone: str) -> list[tuple[str, int]]:
    from pipeline.sqlfiles import sql_file

    query = sql_file("report", "key-calls-over-time")
    params = {
        "from_ts": datetime(2026, 10, 24),
        "to_ts": datetime(2026, 10, 27),
        "bucket": bucket,
        "clock_zone": zone,
    }
    rows = con.execute(query.sql, params).fetchall()
    return [(f"{start:%Y-%m-%d %H:%M}", calls) for start, _, calls in rows]


def test_key_calls_over_time_buckets_follow_the_clock_even_at_half_hour_offsets_and_dst(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    # One call per 15-minute bucket (UTC) from 00:00 to 01:45 on 25 October 2026, the night
    # Berlin's clocks go back (01:00 UTC: 03:00 CEST becomes 02:00 CET), and one at 20:00.
    quarters = [datetime(2026, 10, 25, 0, 0) + timedelta(minutes=15 * i) for i in range(8)]
    for start in [*quarters, datetime(2026, 10, 25, 20, 0)]:
        warehouse.execute(
            "INSERT INTO key_calls_by_time VALUES ($s, 'KMSPDecrypt', 'byok', 1, 0, 0)",
            {"s": start},
        )
    # UTC hours; the bucket starts are UTC instants in every clock.
    assert _over_time(warehouse, "hour", "UTC") == [
        ("2026-10-25 00:00", 4),
        ("2026-10-25 01:00", 4),
        ("2026-10-25 20:00", 1),
    ]
    # Berlin: 02:00 CEST and 02:00 CET are two hours of the wall clock's "02": two buckets.
    assert _over_time(warehouse, "hour", "Europe/Berlin") == [
        ("2026-10-25 00:00", 4),
        ("2026-10-25 01:00", 4),
        ("2026-10-25 20:00", 1),
    ]
    # Kolkata (UTC+05:30): local hours start at half past UTC hours.
    assert _over_time(warehouse, "hour", "Asia/Kolkata") == [
        ("2026-10-24 23:30", 2),
        ("2026-10-25 00:30", 4),
        ("2026-10-25 01:30", 2),
        ("2026-10-25 19:30", 1),
    ]
    # Days: 20:00 UTC is still the 25th in Berlin but the 26th in Auckland (UTC+13).
    assert _over_time(warehouse, "day", "UTC") == [("2026-10-25 00:00", 9)]
    assert _over_time(warehouse, "day", "Europe/Berlin") == [("2026-10-24 22:00", 9)]
    assert _over_time(warehouse, "day", "Pacific/Auckland") == [
        ("2026-10-24 11:00", 8),
        ("2026-10-25 11:00", 1),
    ]
