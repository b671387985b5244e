"""The SQL macros in queries/macros/: created with the schema, each meaning what it says."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime

import duckdb
import pytest

from pipeline.report.pseudonym import pseudonym_params
from pipeline.schema import REQUEST_TYPES
from pipeline.sqlfiles import sql_files


def test_every_macro_file_exists_in_a_new_warehouse(warehouse: duckdb.DuckDBPyConnection) -> None:
    names = {
        row[0]
        for row in warehouse.execute(
            "SELECT function_name FROM duckdb_functions() WHERE function_type LIKE '%macro%'"
        ).fetchall()
    }
    assert {f.name for f in sql_files("macros")} <= names


@pytest.mark.parametrize(
    ("user", "patterns", "expected"),
    [
        ("svc-backup@x", ["svc-%"], True),
        ("SVC-Backup@x", ["svc-%"], True),
        ("ana@x", ["svc-%", "%@robots.x"], False),
        ("scan@robots.x", ["svc-%", "%@robots.x"], True),
        ("ana@x", [], False),
        (None, ["%"], False),
    ],
)
def test_is_service_account_matches_the_patterns_case_insensitively(
    warehouse: duckdb.DuckDBPyConnection, user: str | None, patterns: list[str], expected: bool
) -> None:
    got = warehouse.execute(
        "SELECT is_service_account(CAST($u AS VARCHAR), CAST($p AS VARCHAR[]))",
        {"u": user, "p": patterns},
    ).fetchall()[0][0]
    assert got is expected


def test_service_users_lists_the_distinct_service_accounts_of_a_table(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    warehouse.execute(
        "CREATE TEMP TABLE people AS "
        "SELECT * FROM (VALUES ('svc-a'), ('svc-a'), ('ana'), (NULL)) t(user_id)"
    )
    rows = warehouse.execute("SELECT user_id FROM service_users('people', ['svc-%'])").fetchall()
    assert rows == [("svc-a",)]


def test_pseudonym_is_the_keyed_hmac_and_only_when_asked(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    key = b"secret key"
    params = pseudonym_params(key)
    expected = "anon-" + hmac.new(key, b"ana@x", hashlib.sha256).hexdigest()[:16]
    on, off, null = warehouse.execute(
        "SELECT pseudonym('ana@x', true, $key_inner, $key_outer), "
        "pseudonym('ana@x', false, $key_inner, $key_outer), "
        "pseudonym(NULL::VARCHAR, true, $key_inner, $key_outer)",
        {"key_inner": params["key_inner"], "key_outer": params["key_outer"]},
    ).fetchall()[0]
    assert (on, off, null) == (expected, "ana@x", None)


def test_sessions_of_starts_a_new_session_after_a_longer_gap_per_user(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    warehouse.execute(
        "CREATE TEMP TABLE hits AS SELECT * FROM (VALUES "
        "('ana', TIMESTAMP '2026-11-03 10:00', 'a1'), ('ana', TIMESTAMP '2026-11-03 10:05', 'a2'),"
        "('ana', TIMESTAMP '2026-11-03 10:30', 'a3'), ('kim', TIMESTAMP '2026-11-03 10:06', 'k1')"
        ") t(user_id, ts, row_id)"
    )
    rows = warehouse.execute(
        "SELECT row_id, session FROM sessions_of('hits', 10) ORDER BY row_id"
    ).fetchall()
    assert rows == [("a1", 1), ("a2", 1), ("a3", 2), ("k1", 1)]


def test_history_span_gives_each_users_first_local_day_and_the_collections_last(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    # 03:00 UTC on the 2nd is still the 1st in New York; the collection ends on the 6th (UTC)
    warehouse.execute(
        "CREATE TEMP TABLE hits AS SELECT * FROM (VALUES "
        "('ana', TIMESTAMP '2026-11-02 03:00'), ('ana', TIMESTAMP '2026-11-04 12:00'),"
        "('kim', TIMESTAMP '2026-11-03 12:00'), ('bob', TIMESTAMP '2026-11-06 12:00')"
        ") t(user_id, ts)"
    )
    warehouse.execute("CREATE TEMP TABLE who AS SELECT * FROM (VALUES ('ana'), ('kim')) t(user_id)")
    utc = "SELECT * FROM history_span('hits', 'who', 'UTC') ORDER BY user_id"
    assert warehouse.execute(utc).fetchall() == [
        ("ana", date(2026, 11, 2), date(2026, 11, 6)),
        ("kim", date(2026, 11, 3), date(2026, 11, 6)),
    ]
    local = "SELECT user_id, first_day FROM history_span('hits', 'who', $tz) ORDER BY user_id"
    assert warehouse.execute(local, {"tz": "America/New_York"}).fetchall() == [
        ("ana", date(2026, 11, 1)),
        ("kim", date(2026, 11, 3)),
    ]


def test_days_of_use_counts_the_same_users_other_days_of_the_same_thing_before_and_around(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    # ana used block A on the 1st, 3rd and 10th, block B on the 3rd; kim used A on the 2nd
    warehouse.execute(
        "CREATE TEMP TABLE used_days AS SELECT * FROM (VALUES "
        "('ana', 'A', DATE '2026-11-01'), ('ana', 'A', DATE '2026-11-03'),"
        "('ana', 'A', DATE '2026-11-10'), ('ana', 'B', DATE '2026-11-03'),"
        "('kim', 'A', DATE '2026-11-02')) t(user_id, used, day)"
    )
    rows = warehouse.execute(
        "SELECT user_id, used, day::VARCHAR, prior_days, around_days "
        "FROM days_of_use('used_days', 3) ORDER BY ALL"
    ).fetchall()
    assert rows == [
        ("ana", "A", "2026-11-01", 0, 1),
        ("ana", "A", "2026-11-03", 1, 1),
        ("ana", "A", "2026-11-10", 0, 0),
        ("ana", "B", "2026-11-03", 0, 0),
        ("kim", "A", "2026-11-02", 0, 0),
    ]


def test_judged_by_baseline_compares_with_the_days_before_else_around_else_learns(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    # ana has 4 days of history before her session (1, 2, 3, 4 a day); kim only one.
    warehouse.execute(
        "CREATE TEMP TABLE daily AS SELECT * FROM (VALUES "
        "('ana', DATE '2026-11-01', 1), ('ana', DATE '2026-11-02', 2),"
        "('ana', DATE '2026-11-03', 3), ('ana', DATE '2026-11-04', 4),"
        "('kim', DATE '2026-11-04', 5)) t(user_id, day, value)"
    )
    warehouse.execute(
        "CREATE TEMP TABLE s AS SELECT * FROM (VALUES "
        "('ana', 1, DATE '2026-11-05'), ('kim', 1, DATE '2026-11-05')"
        ") t(user_id, session, first_day)"
    )
    warehouse.execute(
        "CREATE TEMP TABLE span AS SELECT * FROM (VALUES "
        "('ana', DATE '2026-11-01', DATE '2026-11-05'),"
        "('kim', DATE '2026-11-04', DATE '2026-11-05')"
        ") t(user_id, first_day, last_day)"
    )
    rows = warehouse.execute(
        "SELECT user_id, usual, learning FROM judged_by_baseline('s', 'daily', 'span', 4, 0.5, 3) "
        "ORDER BY user_id"
    ).fetchall()
    assert rows == [("ana", 2.5, False), ("kim", 5.0, True)]


def test_opens_document_is_a_column_of_the_catalogue(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    opening = {
        row[0]
        for row in warehouse.execute(
            "SELECT name FROM request_types WHERE opens_document"
        ).fetchall()
    }
    assert opening == {
        "AcquireLicense",
        "AcquirePreLicense",
        "FECreateEndUserLicenseV1",
        "BECreateEndUserLicenseV1",
    }
    assert opening == {rt.name for rt in REQUEST_TYPES if rt.opens_document}


def test_no_rule_or_query_hard_codes_which_request_types_open_a_document() -> None:
    for folder in ("detections", "named", "report"):
        for f in sql_files(folder):
            assert "'AcquirePreLicense'" not in f.sql, f.path
            assert "AcquirePreLicense," not in f.sql, f.path


def test_named_queries_take_the_opening_types_from_the_catalogue_by_default(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    from pipeline import query

    warehouse.execute(
        "INSERT INTO requests (row_id, ts, request_type, user_id, result, content_id) VALUES "
        "('r1', $t, 'AcquireLicense', 'ana@x', 'Success', '{D1}'), "
        "('r2', $t, 'Certify', 'ana@x', 'Success', '{D1}')",
        {"t": datetime(2026, 11, 3, 10)},
    )
    frame = query.run_named(warehouse, "documents-opened-by-user", {"user": "ana@x"})
    assert frame["row_id"].to_list() == ["r1"]
    frame = query.run_named(
        warehouse, "documents-opened-by-user", {"user": "ana@x", "open_types": "Certify"}
    )
    assert frame["row_id"].to_list() == ["r2"]
