"""The RMS record contract (pipeline/ingest/record.py): one definition both readers use."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipeline.ingest import fast, lines, record, survey, w3c

STAMPS = [
    "2026-11-02 08:00:00",
    "2026-11-02 23:59:59",
    "0999-11-02 08:00:00",
    "2026-11-02 08:60:00",
    "2026-11-02 08:00:60",
    "2026-11-02T08:00:00",
    "2026-11-2 08:00:00",
    " 2026-11-02 08:00:00",
    "2026-11-02 08:00:00 ",
    "٢٠٢٦-11-02 08:00:00",  # Arabic-Indic digits: not the shape in either engine
    "2026-11-02 08:00",
]


@pytest.mark.parametrize(
    "shape", [record.TS_SHAPE, *(f.shape for f in record.TIMESTAMP_FIELDS)], ids=["ts", "published"]
)
def test_a_shape_means_the_same_to_polars_and_duckdb(shape: str) -> None:
    texts = STAMPS + [s.replace(" ", "T", 1) for s in STAMPS]
    in_polars = pl.Series(texts).str.contains(f"^(?:{shape})$").to_list()
    con = duckdb.connect()
    in_duckdb = [
        con.execute("SELECT regexp_full_match($t, $s)", {"t": t, "s": shape}).fetchall()[0][0]
        for t in texts
    ]
    assert in_polars == in_duckdb
    assert any(in_polars)


def test_both_readers_and_the_byte_level_quote_rule_take_the_contract_s_values() -> None:
    assert w3c.QUOTES is record.QUOTES and w3c.NULL_TOKENS is record.NULL_TOKENS
    assert fast.QUOTES is record.QUOTES and fast.NULL_TOKENS is record.NULL_TOKENS
    assert survey.QUOTES is record.QUOTES
    assert bytes([lines._QUOTE]) == b"'"
    curly = {bytes([lines._CURLY_LEAD, lines._CURLY_NEXT, int(b)]) for b in lines._CURLY_LAST}
    assert curly == {q.encode() for q in record.QUOTES if q != "'"}


def test_the_fast_path_types_every_field_the_contract_names() -> None:
    select, problem = fast._typed({"date", "time", "row_id", "date_published", "admin_action"})
    assert record.TS_SHAPE in select and record.TS_FORMAT in select
    for field in record.TIMESTAMP_FIELDS:
        assert field.shape in select and field.format in select
    for reason in ("invalid date/time '", "invalid date-published '", "invalid admin-action '"):
        assert reason in problem
    assert record.NO_KEY in problem


def test_a_repeated_or_unknown_field_feeds_no_column() -> None:
    fields = ("date", "time", "row-id", "x-custom", "row-id", "AdminAction")
    assert record.chosen_columns(fields) == {
        0: "date",
        1: "time",
        2: "row_id",
        5: "admin_action",
    }


def test_a_reject_reason_names_the_field_as_the_log_does() -> None:
    assert record.invalid("date_published").format("x") == "invalid date-published 'x'"
    assert record.INVALID_TS.format("2026-13-01", "25:00:00") == (
        "invalid date/time '2026-13-01 25:00:00'"
    )
