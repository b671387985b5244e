"""The one binder of typed SQL parameters (pipeline/params.py): detect, query and report."""

from __future__ import annotations

import contextlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipeline import params
from pipeline.detect import rules
from pipeline.errors import ExitCode, QueryError, UsageError
from pipeline.settings import Settings
from pipeline.sqlfiles import Param, sql_files


@pytest.mark.parametrize(
    ("type_", "text", "value"),
    [
        ("BOOLEAN", "true", True),
        ("BOOLEAN", "False", False),
        ("BOOLEAN", "yes", True),
        ("BOOLEAN", "NO", False),
        ("BOOLEAN", "y", True),
        ("BOOLEAN", "n", False),
        ("BOOLEAN", "1", True),
        ("BOOLEAN", "0", False),
        ("BOOLEAN", "t", True),
        ("BOOLEAN", "f", False),
        ("INTEGER", "42", 42),
        ("BIGINT", "-9000000000", -9_000_000_000),
        ("SMALLINT", " 7 ", 7),
        ("TINYINT", "3", 3),
        ("DOUBLE", "2.5", 2.5),
        ("FLOAT", "1e3", 1000.0),
        ("DECIMAL", "0.1", Decimal("0.1")),
        ("DECIMAL(10,2)", "12.34", Decimal("12.34")),
        ("DATE", "2026-11-02", date(2026, 11, 2)),
        ("TIMESTAMP", "2026-11-02T08:00:00", datetime(2026, 11, 2, 8)),
        ("TIMESTAMP", "2026-11-02", datetime(2026, 11, 2)),
        ("TIMESTAMP", "-infinity", "-infinity"),
        ("VARCHAR", " kept as is ", " kept as is "),
        ("INTERVAL", "5 minutes", "5 minutes"),
        ("LIST", "a, b,,c", ["a", "b", "c"]),
        ("VARCHAR[]", "['x', 'y']", ["x", "y"]),
        ("INTEGER[]", "[1, 2, 3, 4, 5]", [1, 2, 3, 4, 5]),
        ("DATE[]", "2026-01-01,2026-01-02", [date(2026, 1, 1), date(2026, 1, 2)]),
    ],
)
def test_text_is_converted_to_the_declared_duckdb_type(
    type_: str, text: str, value: object
) -> None:
    assert params.convert_value(type_, text, label="--param p") == value


@pytest.mark.parametrize(
    ("type_", "text"),
    [
        ("BOOLEAN", "maybe"),
        ("BOOLEAN", "on"),
        ("INTEGER", "lots"),
        ("INTEGER", "1.5"),
        ("SMALLINT", ""),
        ("BIGINT", "1e3"),
        ("DOUBLE", "fast"),
        ("DECIMAL", "1,5"),
        ("DATE", "yesterday"),
        ("DATE", "2026-13-01"),
        ("TIMESTAMP", "noon"),
        ("INTEGER[]", "1,two"),
    ],
)
def test_text_that_is_not_of_the_type_is_a_usage_error_in_one_style(type_: str, text: str) -> None:
    with pytest.raises(UsageError) as caught:
        params.convert_value(type_, text, label="--param p")
    assert caught.value.exit_code == ExitCode.USAGE
    assert str(caught.value).startswith(f"--param p: expected {type_}, got {text!r}")


def test_a_type_the_binder_does_not_know_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="parameter type MAP is not one rmslog can bind"):
        params.convert_value("MAP", "x", label="--param p")


def test_every_parameter_type_a_sql_header_declares_is_one_the_binder_knows() -> None:
    types = {
        p.type
        for folder in ("detections", "named", "report")
        for f in sql_files(folder)
        for p in f.params
    }
    for type_ in types:
        if type_ == "BLOB":
            continue  # bound from Python (bytes), never from text
        with contextlib.suppress(UsageError):  # "1" is not every type; the type is known
            params.convert_value(type_, "1", label="--param p")


def test_settings_take_precedence_and_text_defaults_are_typed() -> None:
    declared = (
        Param("work_days", "LIST", None, ""),
        Param("n", "INTEGER", "3", ""),
        Param("flag", "BOOLEAN", "yes", ""),
        Param("now", "TIMESTAMP", None, ""),
    )
    bound = params.bind_params(
        declared, {"work_days": "9", "flag": False}, Settings(), skip={"now"}
    )
    assert bound == {"work_days": [1, 2, 3, 4, 5], "n": 3, "flag": False}


def test_a_parameter_without_a_value_names_the_query_and_the_parameter() -> None:
    declared = (Param("a", "INTEGER", None, ""), Param("b", "DATE", None, ""))
    with pytest.raises(QueryError) as caught:
        params.bind_params(declared, {}, prefix="r.", what="rule r")
    assert str(caught.value) == "rule r needs --param for: r.a, r.b"


def test_settings_params_are_defined_once_and_shared() -> None:
    from pipeline import query

    assert query.SETTINGS_PARAMS is params.SETTINGS_PARAMS
    assert rules.SETTINGS_PARAMS is params.SETTINGS_PARAMS
    assert {"timezone", "work_days", "service_accounts"} <= params.SETTINGS_PARAMS


def test_converted_values_bind_in_duckdb_as_their_type(tmp_path: Path) -> None:
    con = duckdb.connect()
    cases = {
        "b": params.convert_value("BOOLEAN", "yes", label="x"),
        "d": params.convert_value("DATE", "2026-11-02", label="x"),
        "t": params.convert_value("TIMESTAMP", "2026-11-02T08:00:00", label="x"),
        "m": params.convert_value("DECIMAL(10,2)", "1.25", label="x"),
        "l": params.convert_value("INTEGER[]", "1,2", label="x"),
        "v": params.convert_value("VARCHAR[]", "a,b", label="x"),
    }
    row = con.execute(
        "SELECT typeof($b), typeof($d), typeof($t), $m::DECIMAL(10,2) * 2, "
        "list_sum($l), $v[2], CAST($i AS TIMESTAMP) < $t",
        {**cases, "i": params.convert_value("TIMESTAMP", "-infinity", label="x")},
    ).fetchall()[0]
    assert row == ("BOOLEAN", "DATE", "TIMESTAMP", Decimal("2.50"), 3, "b", True)
