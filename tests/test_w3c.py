from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import LogFormatError
from pipeline.ingest import Header, clean_value, parse_text
from pipeline.schema import FIELDS_1_0, FIELDS_1_1_ADMIN

HEAD_17 = "#Software: RMS\n#Version: 1.1\n#Fields: " + " ".join(FIELDS_1_1_ADMIN) + "\n"
HEAD_10 = "#Software: RMS\n#Version: 1.0\n#Fields: " + " ".join(FIELDS_1_0) + "\n"
LINE_17 = "\t".join(
    [
        "2024-05-06",
        "09:14:02",
        "5e0c2f1a-8b7d-4c51-9f0e-2a6d3b9c7e41",
        "AcquireLicense",
        "'kim@fabrikam.example'",
        "'Success'",
        "0b9f7c3e-1d2a-4e8b-a6c5-7f3e9d1b2c4a",
        "{7a1e4c2b-3f5d-4b6a-9c8e-1d0f2e3a4b5c}",
        "'lee@fabrikam.example'",
        "'lee@fabrikam.example'",
        "{c3d2e1f0-a9b8-4c7d-8e6f-5a4b3c2d1e0f}",
        "'Budget.xlsx'",
        "'2024-04-30T16:02:11'",
        "'MSIPC;version=1.0.4.2;AppName=EXCEL.EXE'",
        "198.51.100.23",
        "''",
        "''",
    ]
)
LINE_10 = "\t".join(
    [
        "2016-01-06",
        "23:59:59",
        "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
        "Decrypt",
        "''",
        "'Success'",
        "4c3b2a19-0f8e-4d7c-b6a5-9e8d7c6b5a4f",
        "",
        "''",
        "203.0.113.7",
    ]
)


def test_a_17_field_line_becomes_one_typed_row() -> None:
    parsed = parse_text(HEAD_17 + LINE_17 + "\n", "a.log")
    assert parsed.rejects.height == 0
    row = parsed.rows.row(0, named=True)
    assert row["ts"] == datetime(2024, 5, 6, 9, 14, 2)
    assert row["user_id"] == "kim@fabrikam.example"
    assert row["file_name"] == "Budget.xlsx"
    assert row["date_published"] == datetime(2024, 4, 30, 16, 2, 11)
    assert row["admin_action"] is None and row["acting_as_user"] is None
    assert (row["source_file"], row["source_line"]) == ("a.log", 4)


def test_a_10_field_line_leaves_later_fields_null() -> None:
    row = parse_text(HEAD_10 + LINE_10 + "\n", "old.log").rows.row(0, named=True)
    assert row["request_type"] == "Decrypt"
    assert row["user_id"] is None and row["content_id"] is None and row["owner_email"] is None
    assert row["c_ip"] == "203.0.113.7"


def test_repeated_headers_switch_the_field_list_mid_file() -> None:
    text = HEAD_10 + LINE_10 + "\n" + HEAD_17 + LINE_17 + "\r\n"
    parsed = parse_text(text, "mixed.log")
    assert parsed.rejects.height == 0
    assert parsed.rows["request_type"].to_list() == ["Decrypt", "AcquireLicense"]
    assert parsed.rows["source_line"].to_list() == [4, 8]


def test_a_line_with_the_wrong_field_count_is_rejected_and_the_rest_goes_on() -> None:
    text = HEAD_17 + "2024-05-06\t09:14:02\tonly-three\n" + LINE_17 + "\n"
    parsed = parse_text(text, "bad.log")
    assert parsed.rows.height == 1
    reject = parsed.rejects.row(0, named=True)
    assert reject["source_line"] == 4
    assert reject["reason"] == "expected 17 tab-separated fields, found 3"
    assert reject["raw_line"] == "2024-05-06\t09:14:02\tonly-three"


def test_an_impossible_date_is_rejected() -> None:
    parsed = parse_text(HEAD_17 + LINE_17.replace("2024-05-06", "2024-02-30") + "\n", "d.log")
    assert parsed.rows.height == 0
    assert parsed.rejects["reason"].to_list() == ["invalid date/time '2024-02-30 09:14:02'"]


def test_data_before_any_fields_header_is_rejected() -> None:
    parsed = parse_text(LINE_17 + "\n", "nohead.log")
    assert parsed.rejects["reason"].to_list() == ["data line before any #Fields header"]


def test_a_resumed_file_uses_the_header_in_force() -> None:
    header = Header(software="RMS", fields=FIELDS_1_1_ADMIN)
    parsed = parse_text(LINE_17 + "\n", "grown.log", first_line=9, header=header)
    assert parsed.rows["source_line"].to_list() == [9]


def test_a_non_rms_w3c_file_is_refused_whole() -> None:
    iis = "#Software: Microsoft Internet Information Services 10.0\n#Fields: date time c-ip\n"
    with pytest.raises(LogFormatError, match=r"iis\.log:1: not an RMS usage log"):
        parse_text(iis, "iis.log")


def test_utf8_bom_and_blank_lines_are_ignored() -> None:
    parsed = parse_text("\ufeff" + HEAD_17 + "\n" + LINE_17 + "\n\n", "bom.log")
    assert parsed.rows.height == 1 and parsed.rejects.height == 0
    assert parsed.data_lines == 1


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("'x'", "x"),
        ("‘x’", "x"),
        ("''", None),
        ("", None),
        ("-", None),
        ("'-'", None),
        ("x", "x"),
        ("'a'b'", "a'b"),
        ("'", "'"),
    ],
)
def test_clean_value_strips_one_pair_of_quotes_and_nulls_blanks(
    raw: str, value: str | None
) -> None:
    assert pl.select(clean_value(pl.lit(raw))).item() == value


@given(
    st.text(
        alphabet=st.characters(blacklist_characters="\t\n\r'‘’", blacklist_categories=("Cs",)),
        min_size=1,
    )
)
def test_clean_value_round_trips_any_quoted_text(text: str) -> None:
    expected = None if text == "-" else text
    assert pl.select(clean_value(pl.lit(f"'{text}'"))).item() == expected
    assert pl.select(clean_value(pl.lit(text))).item() == expected
