from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from pipeline import derive, query
from pipeline.errors import ExitCode, QueryError, QueryRefusedError, UsageError
from pipeline.settings import Settings
from pipeline.sqlfiles import SqlFile, sql_files
from pipeline.warehouse import ensure_schema, open_warehouse

NAMED = sql_files("named")
REPO = Path(__file__).parent.parent

HOSTILE_NAME = '=HYPERLINK("http://evil.example/")\x1b[2J\'; DROP TABLE requests;--.docx'
WORD = "MSIPC;version=1.0.4.2;AppName=WINWORD.EXE;AppVersion=16.0;OSName=Windows;OSVersion=10.0"
IOS = "MSIPC;version=1.0.4.2;AppName=com.microsoft.Office.Word;OSName=iOS;OSVersion=17.4"

# ts, row_id, request_type, user_id, result, correlation_id, content_id, file_name, c_info,
# c_ip, admin_action, acting_as_user
ROWS = [
    ("2026-11-02 07:00:00", "r1", "AcquireLicense", "kim@contoso.example", "Success", "c1",
     "{D1}", "Plan.docx", WORD, "10.0.0.1", None, None),
    ("2026-11-02 07:00:01", "k1", "KMSPDecrypt", None, "Success", "c1",
     None, None, None, None, None, None),
    ("2026-11-02 07:00:01", "k2", "KMSPSignDigest", None, "Success", "c1",
     None, None, None, None, None, None),
    ("2026-11-03 22:00:00", "r2", "AcquireLicense", "lee@contoso.example", "Success", "c2",
     "{D1}", None, IOS, "203.0.113.9", None, None),
    ("2026-11-03 22:00:01", "k3", "KeyVaultDecryptRequest", None, "Success", "c2",
     None, None, None, None, None, None),
    ("2026-11-04 09:00:00", "r3", "FECreateEndUserLicenseV1", "Kim@Contoso.example",
     "AccessDenied", "c3", "{D2}", "Other.xlsx", IOS, "10.0.0.1", None, None),
    ("2026-11-04 10:00:00", "r4", "GetAllDocs", "admin@contoso.example", "Success", "c4",
     None, None, None, "10.0.0.9", True, "kim@contoso.example"),
    ("2026-11-04 10:05:00", "r5", "GetAllDocs", "admin@contoso.example", "Success", "c5",
     None, None, None, "10.0.0.9", True, None),
    ("2026-11-05 03:00:00", "k4", "KMSPDecrypt", None, "KeyUnavailable", "c-lonely",
     None, None, None, None, None, None),
    ("2026-11-05 12:00:00", "r6", "AcquireLicense", "mal@contoso.example", "Success", "c6",
     "{D3}", HOSTILE_NAME, WORD, "198.51.100.7", None, None),
]  # fmt: skip
COLUMNS = (
    "ts", "row_id", "request_type", "user_id", "result", "correlation_id", "content_id",
    "file_name", "c_info", "c_ip", "admin_action", "acting_as_user",
)  # fmt: skip


def build_warehouse(db: Path) -> Path:
    """A small hand-made warehouse whose forensic answers are known."""
    frame = pl.DataFrame(ROWS, schema=list(COLUMNS), orient="row").with_columns(
        pl.col("ts").str.to_datetime(), pl.lit("hand.log").alias("source_file"),
        pl.int_range(1, len(ROWS) + 1).alias("source_line"),
    )  # fmt: skip
    con = duckdb.connect(str(db))
    ensure_schema(con)
    con.register("frame", frame)
    con.execute("INSERT INTO requests BY NAME SELECT * FROM frame").fetchall()
    derive.rebuild(con)  # rows put in requests by hand, not by ingest
    con.close()
    return db


@pytest.fixture(scope="module")
def hand_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("hand") / "hand.duckdb")


def _named(db: Path, name: str, **params: object) -> pl.DataFrame:
    return query.query_named(db, name, params)


# ----------------------------------------------------------------- every named query


def _sample_values(db: Path) -> dict[str, object]:
    """A value from the sample for every required parameter any named query declares."""
    frame = query.query(
        db,
        """SELECT arg_max(content_id, ts) AS document, arg_max(user_id, ts) AS user,
                  arg_max(c_ip, ts) AS ip
           FROM requests WHERE request_type = 'AcquireLicense'""",
    )
    return frame.row(0, named=True)


@pytest.mark.parametrize("named", NAMED, ids=lambda f: f.name)
def test_every_named_query_runs_on_the_sample_and_returns_the_columns_its_header_names(
    sample_warehouse: Path, named: SqlFile
) -> None:
    assert named.description and named.meta.get("title"), named.path
    assert all(p.description for p in named.params), named.path
    values = _sample_values(sample_warehouse)
    required = {
        p.name: values[p.name]
        for p in named.params
        if p.default is None and p.name not in query.SETTINGS_PARAMS
    }
    frame = query.query_named(sample_warehouse, named.name, required)
    assert tuple(frame.columns) == named.columns


def test_the_issue_list_of_forensic_queries_exists() -> None:
    names = {q.name for q in NAMED}
    assert {
        "who-opened-document", "documents-opened-by-user", "key-calls-per-day",
        "key-calls-per-hour", "key-calls-by-user", "key-calls-by-app", "key-calls-by-ip",
        "key-calls-by-document", "orphan-key-calls", "failed-requests-by-user",
        "admin-mode-activity", "key-topologies", "key-topology-per-day",
    } <= names  # fmt: skip


# ----------------------------------------------------------------- forensic answers


def test_who_opened_a_document_by_file_name_finds_opens_logged_without_the_name(
    hand_db: Path,
) -> None:
    frame = _named(hand_db, "who-opened-document", document="plan.DOCX")
    assert frame["row_id"].to_list() == ["r1", "r2"]
    assert frame["user_id"].to_list() == ["kim@contoso.example", "lee@contoso.example"]
    assert frame["c_ip"].to_list() == ["10.0.0.1", "203.0.113.9"]
    assert frame["app_name"].to_list() == ["WINWORD.EXE", "com.microsoft.Office.Word"]


def test_who_opened_a_document_by_content_id_accepts_it_without_braces_and_a_period(
    hand_db: Path,
) -> None:
    frame = _named(hand_db, "who-opened-document", document="d1", to_ts="2026-11-03")
    assert frame["row_id"].to_list() == ["r1"]


def test_documents_opened_by_a_user_match_the_user_id_case_insensitively(
    hand_db: Path,
) -> None:
    frame = _named(hand_db, "documents-opened-by-user", user="KIM@contoso.example")
    assert frame.select("row_id", "content_id", "result").rows() == [
        ("r1", "{D1}", "Success"),
        ("r3", "{D2}", "AccessDenied"),
    ]


def test_admin_mode_activity_names_whom_the_admin_acted_for(hand_db: Path) -> None:
    frame = _named(hand_db, "admin-mode-activity")
    assert frame.select("row_id", "admin", "acting_as_user", "scope").rows() == [
        ("r4", "admin@contoso.example", "kim@contoso.example", "one user"),
        ("r5", "admin@contoso.example", None, "whole tenant"),
    ]


def test_key_operation_without_origin_is_listed_as_an_orphan_and_a_failure(
    hand_db: Path,
) -> None:
    assert _named(hand_db, "orphan-key-calls")["row_id"].to_list() == ["k4"]
    failures = _named(hand_db, "key-call-failures")
    assert failures.select("row_id", "result", "user_id").rows() == [("k4", "KeyUnavailable", None)]


def test_failed_requests_by_user_count_user_requests_not_key_calls(hand_db: Path) -> None:
    frame = _named(hand_db, "failed-requests-by-user")
    assert frame.select("user_id", "request_type", "result", "failures").rows() == [
        ("Kim@Contoso.example", "FECreateEndUserLicenseV1", "AccessDenied", 1)
    ]


def test_key_calls_are_attributed_to_users_apps_and_ips_with_shares(hand_db: Path) -> None:
    users = _named(hand_db, "key-calls-by-user")
    assert users.select("user_id", "calls", "decrypts", "signs", "share").rows() == [
        ("kim@contoso.example", 2, 1, 1, 0.5),
        ("lee@contoso.example", 1, 1, 0, 0.25),
        (None, 1, 1, 0, 0.25),  # the orphan: nobody caused it
    ]
    apps = _named(hand_db, "key-calls-by-app")
    assert apps.select("app_name", "os_name", "calls").rows() == [
        ("WINWORD.EXE", "Windows", 2),
        ("com.microsoft.Office.Word", "iOS", 1),
        (None, None, 1),
    ]
    ips = _named(hand_db, "key-calls-by-ip", top="1")
    assert ips.select("c_ip", "calls").rows() == [("10.0.0.1", 2)]


def test_key_topologies_show_first_and_last_seen_and_daily_share(hand_db: Path) -> None:
    topologies = _named(hand_db, "key-topologies")
    assert topologies.select("key_topology", "first_seen", "last_seen", "calls").rows() == [
        ("byok-legacy", datetime(2026, 11, 2, 7, 0, 1), datetime(2026, 11, 5, 3), 3),
        ("byok-keyvault", datetime(2026, 11, 3, 22, 0, 1), datetime(2026, 11, 3, 22, 0, 1), 1),
    ]
    daily = _named(hand_db, "key-topology-per-day")
    assert daily.group_by("day").agg(pl.col("share").sum())["share"].to_list() == [1.0] * 3


def test_local_hour_query_takes_the_time_zone_from_the_tenant_settings(hand_db: Path) -> None:
    def monday(settings: Settings) -> list[tuple[Any, ...]]:
        frame = query.query_named(hand_db, "key-calls-by-local-hour", settings=settings)
        return frame.filter(pl.col("weekday") == 1).select("hour", "working_hours").rows()

    assert monday(Settings()) == [(7, False)]  # 07:00 UTC is before 08:00
    assert monday(Settings(timezone="Europe/Berlin")) == [(8, True)]  # 08:00 CET


def test_a_tenant_setting_cannot_be_overridden_by_a_parameter(hand_db: Path) -> None:
    with pytest.raises(UsageError) as caught:
        _named(hand_db, "key-calls-by-local-hour", timezone="Asia/Tokyo")
    assert caught.value.exit_code == ExitCode.USAGE
    assert str(caught.value) == (
        "--param timezone is a tenant setting; set it in the settings file (--config)"
    )


def test_the_cli_takes_the_settings_from_config(cli: Any, hand_db: Path, tmp_path: Path) -> None:
    config = tmp_path / "tenant.toml"
    config.write_text('[tenant]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    args = ("query", "--db", hand_db, "--name", "key-calls-by-local-hour", "--format", "json")
    berlin = json.loads(cli(*args, "--config", config).stdout)
    assert (berlin[0]["weekday"], berlin[0]["hour"]) == (1, 8)
    missing = cli(*args, "--config", tmp_path / "nope.toml")
    assert missing.exit_code == ExitCode.USAGE
    assert "nope.toml does not exist" in missing.stderr


def test_a_list_parameter_is_comma_separated(hand_db: Path) -> None:
    frame = _named(hand_db, "who-opened-document", document="d1", open_types="AcquireLicense, X")
    assert frame["row_id"].to_list() == ["r1", "r2"]
    assert _named(hand_db, "who-opened-document", document="d1", open_types="X").height == 0


# ----------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "hostile", ["x' OR '1'='1", "'; DROP TABLE requests; --", "%' OR 1=1 --", "{D1}' --"]
)
def test_hostile_parameter_values_are_bound_not_spliced(hand_db: Path, hostile: str) -> None:
    assert _named(hand_db, "who-opened-document", document=hostile).height == 0
    assert _named(hand_db, "documents-opened-by-user", user=hostile).height == 0
    assert query.query(hand_db, "SELECT count(*) AS n FROM requests")["n"].item() == len(ROWS)


def test_a_stored_hostile_file_name_is_found_literally(hand_db: Path) -> None:
    frame = _named(hand_db, "who-opened-document", document=HOSTILE_NAME)
    assert frame["row_id"].to_list() == ["r6"]
    adhoc = query.query(
        hand_db, "SELECT row_id FROM requests WHERE file_name = $f", {"f": HOSTILE_NAME}
    )
    assert adhoc["row_id"].to_list() == ["r6"]


def test_a_named_query_without_its_required_parameter_fails_naming_it(hand_db: Path) -> None:
    with pytest.raises(QueryError) as caught:
        _named(hand_db, "who-opened-document")
    assert caught.value.exit_code == ExitCode.QUERY
    assert str(caught.value) == "query who-opened-document needs --param for: document"


def test_an_unknown_parameter_is_refused(warehouse: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(QueryError, match="has no parameter 'nope'") as caught:
        query.run_named(warehouse, "key-calls-per-day", {"nope": "1"})
    assert caught.value.exit_code == ExitCode.QUERY


def test_a_parameter_of_the_wrong_type_is_a_usage_error(hand_db: Path) -> None:
    with pytest.raises(UsageError) as caught:
        _named(hand_db, "key-calls-per-day", from_ts="yesterday")
    assert caught.value.exit_code == ExitCode.USAGE
    assert "--param from_ts: expected TIMESTAMP, got 'yesterday'" in str(caught.value)


def test_an_unknown_named_query_fails_with_the_query_exit_code(hand_db: Path) -> None:
    with pytest.raises(QueryError) as caught:
        _named(hand_db, "no-such-query")
    assert caught.value.exit_code == ExitCode.QUERY
    assert "no query named 'no-such-query'" in str(caught.value)


# ----------------------------------------------------------------- the sandbox


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", 'Cannot access file "/etc/passwd"'),
        ("SELECT * FROM read_text('/etc/hostname')", 'Cannot access file "/etc/hostname"'),
        ("SELECT * FROM read_parquet('/tmp/*.parquet')", 'Cannot access file "/tmp/*.parquet"'),
        ("SELECT * FROM glob('/etc/*')", 'Cannot access file "/etc/*"'),
        ("FROM 'https://example.com/x.parquet'", "Cannot access file"),
        ("COPY (SELECT 1) TO '/tmp/rmslog-escape.csv'", "this COPY statement: it reads or writes"),
        ("COPY requests FROM '/etc/passwd'", "this COPY statement"),
        ("EXPORT DATABASE '/tmp/rmslog-escape'", "this EXPORT statement"),
        ("ATTACH '/tmp/rmslog-other.duckdb'", "this ATTACH statement: only the warehouse"),
        ("DETACH main", "this DETACH statement"),
        ("INSTALL httpfs", "this INSTALL statement: extensions cannot be installed"),
        ("LOAD json", "this LOAD statement: extensions cannot be installed"),
        ("SET threads = 1", "this SET statement: settings, variables and the schema are fixed"),
        ("SET search_path = 'temp'", "this SET statement"),
        ("SET VARIABLE who = 1", "this SET statement"),
        ("RESET lock_configuration", "this RESET statement"),
        ("PRAGMA threads = 1", "this PRAGMA statement"),
        ("PRAGMA table_info('requests')", "use the table functions instead"),
        ("USE memory", "this USE statement"),
        ("SELECT * FROM enable_profiling()", "the configuration has been locked"),
        ("DELETE FROM requests", "this DELETE statement: it would write"),
        ("INSERT INTO requests (row_id) VALUES ('x')", "this INSERT statement: it would write"),
        ("UPDATE requests SET user_id = 'x'", "this UPDATE statement"),
        ("CREATE TEMP TABLE t AS SELECT 1", "this CREATE statement: it would write"),
        ("CREATE MACRO m() AS 1", "this CREATE statement"),
        ("DROP VIEW key_usage", "this DROP statement"),
        ("CHECKPOINT", "this CHECKPOINT statement: use SELECT * FROM function"),
        ("CALL duckdb_settings()", "this CALL statement"),
        ("BEGIN TRANSACTION", "this BEGIN statement"),
        ("PREPARE p AS SELECT 1", "this PREPARE statement"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO '/tmp/rmslog-escape.csv'", "this EXPLAIN statement"),
        ("UPDATE EXTENSIONS", "this UPDATE statement"),
        ("SELECT 1; COPY (SELECT 1) TO '/tmp/rmslog-escape.csv'", "one statement at a time; got 2"),
    ],
)
def test_the_sandbox_refuses_writes_files_extensions_and_settings(
    hand_db: Path, sql: str, message: str
) -> None:
    with pytest.raises(QueryRefusedError) as caught:
        query.query(hand_db, sql)
    assert caught.value.exit_code == ExitCode.QUERY_REFUSED
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not Path("/tmp/rmslog-escape.csv").exists()
    assert not Path("/tmp/rmslog-escape").exists()


def test_the_connection_lock_holds_even_without_the_statement_check(
    tmp_path: Path,
) -> None:
    db = build_warehouse(tmp_path / "w.duckdb")
    spill = Path(f"{db}.tmp")  # DuckDB's spill folder is allowed by default: it must not be here
    spill.mkdir()
    con = query.open_sandbox(db)
    try:
        for sql in (
            f"COPY (SELECT 1) TO '{spill}/x.csv'",
            "COPY (SELECT 1) TO '/tmp/rmslog-escape.csv'",
            f"ATTACH '{tmp_path}/other.duckdb'",
        ):
            with pytest.raises(duckdb.PermissionException, match="file system operations"):
                con.execute(sql)
        for sql in ("SET threads = 1", "SET enable_external_access = true", "RESET temp_directory"):
            with pytest.raises(duckdb.InvalidInputException, match="configuration has been locked"):
                con.execute(sql)
        with pytest.raises(duckdb.InvalidInputException, match="read-only mode"):
            con.execute("DELETE FROM requests")
    finally:
        con.close()
    assert list(spill.iterdir()) == []
    assert not Path("/tmp/rmslog-escape.csv").exists()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) AS n FROM requests",
        "WITH x AS (SELECT 1 AS n) SELECT * FROM x",
        "FROM key_usage LIMIT 1",
        "VALUES (1)",
        "DESCRIBE requests",
        "SHOW TABLES",
        "SUMMARIZE request_types",
        "PIVOT requests ON result USING count(*) GROUP BY request_type",
        "EXPLAIN SELECT * FROM requests",
        "/* why */ -- because\nSELECT 42 AS answer",
        "SELECT * FROM pragma_table_info('requests')",
    ],
)
def test_the_sandbox_runs_select_like_statements(hand_db: Path, sql: str) -> None:
    assert query.query(hand_db, sql).width >= 1


def test_a_failing_query_has_its_own_exit_code_distinct_from_a_refusal(hand_db: Path) -> None:
    with pytest.raises(QueryError) as caught:
        query.query(hand_db, "SELECT no_such_column FROM requests")
    assert not isinstance(caught.value, QueryRefusedError)
    assert caught.value.exit_code == ExitCode.QUERY
    assert str(caught.value).startswith("query failed: Binder Error")


def test_the_sandbox_leaves_no_lock_on_other_connections_once_closed(hand_db: Path) -> None:
    query.query(hand_db, "SELECT 1")
    con = duckdb.connect(str(hand_db), read_only=True)
    try:
        row = con.execute("SELECT current_setting('enable_external_access')").fetchall()
    finally:
        con.close()
    assert row == [(True,)]


# ----------------------------------------------------------------- output formats


def test_csv_output_neutralises_formula_cells_from_the_logs(cli: Any, hand_db: Path) -> None:
    sql = "SELECT row_id, file_name FROM requests WHERE row_id IN ('r1', 'r6') ORDER BY row_id"
    result = cli("query", "--db", hand_db, "--format", "csv", sql)
    assert result.exit_code == 0, result.output
    back = pl.read_csv(io.StringIO(result.stdout))
    assert back["file_name"].to_list() == ["Plan.docx", "'" + HOSTILE_NAME]


def test_table_output_cannot_drive_the_terminal(cli: Any, hand_db: Path) -> None:
    result = cli("query", "--db", hand_db, "SELECT file_name FROM requests WHERE row_id = 'r6'")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    assert "\ufffd[2J" in result.stdout


def test_json_and_parquet_output_keep_every_row(cli: Any, hand_db: Path, tmp_path: Path) -> None:
    sql = "SELECT row_id, ts, admin_action FROM requests ORDER BY row_id"
    rows = json.loads(cli("query", "--db", hand_db, "--format", "json", sql).stdout)
    assert [r["row_id"] for r in rows] == sorted(r[1] for r in ROWS)
    out = tmp_path / "out.parquet"
    result = cli("query", "--db", hand_db, "--format", "parquet", "--out", out, sql)
    assert result.exit_code == 0, result.output
    assert f"wrote {len(ROWS)} rows to {out}" in result.stderr
    assert pl.read_parquet(out)["row_id"].to_list() == [r["row_id"] for r in rows]


def test_parquet_without_out_is_a_usage_error(cli: Any, hand_db: Path) -> None:
    result = cli("query", "--db", hand_db, "--format", "parquet", "SELECT 1")
    assert result.exit_code == ExitCode.USAGE
    assert "--format parquet needs --out FILE" in result.stderr


def test_an_unknown_format_is_a_usage_error(cli: Any, hand_db: Path) -> None:
    result = cli("query", "--db", hand_db, "--format", "xml", "SELECT 1")
    assert result.exit_code == ExitCode.USAGE
    assert "--format must be one of table, csv, json, parquet, not 'xml'" in result.stderr


def test_lists_in_query_results_become_json_text_in_csv(cli: Any, hand_db: Path) -> None:
    result = cli("query", "--db", hand_db, "--format", "csv", "SELECT ['=a', 'b'] AS ids")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["ids", '"[""=a"",""b""]"']


# ----------------------------------------------------------------- the commands


def test_query_by_name_with_params_through_the_cli(cli: Any, hand_db: Path) -> None:
    result = cli(
        "query", "--db", hand_db, "--name", "who-opened-document",
        "--param", "document={D1}", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [r["row_id"] for r in json.loads(result.stdout)] == ["r1", "r2"]


def test_a_refused_query_exits_with_its_own_code_and_one_line(cli: Any, hand_db: Path) -> None:
    result = cli("query", "--db", hand_db, "COPY requests TO '/tmp/rmslog-escape.csv'")
    assert result.exit_code == ExitCode.QUERY_REFUSED
    assert result.stderr.strip().splitlines() == [
        "error: the read-only sandbox refused this COPY statement: it reads or writes files; "
        "save a result with --out FILE instead"
    ]


def test_query_needs_exactly_one_of_sql_and_name(cli: Any, hand_db: Path) -> None:
    for args in ([], ["SELECT 1", "--name", "key-topologies"]):
        result = cli("query", "--db", hand_db, *args)
        assert result.exit_code == ExitCode.USAGE
        assert "give either SQL or --name NAME" in result.stderr


def test_queries_lists_every_named_query_with_its_parameters(cli: Any) -> None:
    text = cli("queries")
    assert text.exit_code == 0
    for named in NAMED:
        assert named.name in text.stdout and named.description in text.stdout
    assert "--param document=<VARCHAR>" in text.stdout
    listed = json.loads(cli("queries", "--json").stdout)
    assert [q["name"] for q in listed] == [q.name for q in NAMED]
    who = next(q for q in listed if q["name"] == "who-opened-document")
    assert who["params"][0] == {
        "name": "document",
        "type": "VARCHAR",
        "default": None,
        "required": True,
        "from_settings": False,
        "description": who["params"][0]["description"],
    }
    local = next(q for q in listed if q["name"] == "key-calls-by-local-hour")
    assert [p["name"] for p in local["params"] if p["from_settings"]] == [
        "timezone", "work_days", "work_start", "work_end",
    ]  # fmt: skip
    assert who["columns"][:2] == ["ts", "user_id"]


# ----------------------------------------------------------------- concurrency


def _rmslog(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


FEEDER = textwrap.dedent(
    """
    # Drops a new copy of a sample log into the watched folder every few tenths of a second.
    import shutil, sys, time
    from pathlib import Path

    src, work, stop = map(Path, sys.argv[1:4])
    files = sorted(src.glob("*.log"))
    cycle = 0
    while not stop.exists():
        source = files[cycle % len(files)]
        tmp = work / f".{cycle:05d}.tmp"
        shutil.copy(source, tmp)
        tmp.rename(work / f"{cycle:05d}-{source.name}")  # a new name: a new manifest row
        cycle += 1
        print(cycle, flush=True)
        time.sleep(0.3)
    """
)


def test_queries_succeed_while_rmslog_watch_keeps_ingesting(tmp_path: Path) -> None:
    db, work, stop = tmp_path / "w.duckdb", tmp_path / "work", tmp_path / "stop"
    work.mkdir()
    with open_warehouse(db):
        pass
    script = tmp_path / "feeder.py"
    script.write_text(FEEDER, encoding="utf-8")
    feeder = subprocess.Popen(
        [sys.executable, str(script), str(REPO / "sample-logs"), str(work), str(stop)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    watcher = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "watch", str(work), "--db", str(db),
         "--interval", "0.1", "--wait", "30"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        seen = []
        deadline = time.monotonic() + 90
        while len(set(seen)) < 3 and time.monotonic() < deadline:
            done = _rmslog(
                "query", "--db", db, "--format", "json", "--wait", "30",
                "SELECT count(*) AS files FROM ingested_files",
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            seen.append(json.loads(done.stdout)[0]["files"])
        named = _rmslog("query", "--db", db, "--name", "key-calls-per-day", "--wait", "30")
        assert named.returncode == 0, named.stderr
    finally:
        stop.touch()
        out, errors = feeder.communicate(timeout=60)
        watcher.send_signal(signal.SIGINT)
        _, watch_errors = watcher.communicate(timeout=60)
    assert feeder.returncode == 0, errors
    assert watcher.returncode == 0, watch_errors
    assert seen == sorted(seen) and len(set(seen)) >= 3  # reads interleaved with writes
    assert int(out.split()[-1]) >= seen[-1]


def test_a_query_gives_up_on_a_locked_warehouse_after_its_wait(
    cli: Any, hand_db: Path, tmp_path: Path
) -> None:
    db = build_warehouse(tmp_path / "locked.duckdb")
    holder = subprocess.Popen(
        [
            sys.executable, "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "print('locked', flush=True); time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        result = cli("query", "--db", db, "--wait", "0.5", "SELECT 1")
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == ExitCode.WAREHOUSE
    assert "is in use by another rmslog process" in result.stderr
    assert 0.5 <= waited < 10
