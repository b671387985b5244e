"""The W3C parser (general path): lines, headers, values, rejects. Pure: bytes in, frames out."""

from __future__ import annotations

import re
from datetime import datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import LogFormatError
from pipeline.ingest import Header, clean_value, parse_bytes, parse_text
from pipeline.ingest.lines import scan_lines, strip_quotes
from pipeline.schema import FIELDS_1_0, FIELDS_1_1, FIELDS_1_1_ADMIN

HEAD_17 = "#Software: RMS\n#Version: 1.1\n#Fields: " + " ".join(FIELDS_1_1_ADMIN) + "\n"
HEAD_10 = "#Software: RMS\n#Version: 1.0\n#Fields: " + " ".join(FIELDS_1_0) + "\n"
QUOTES = ("'", "‘", "’")
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


def reference_clean(value: str) -> str | None:
    """The value rule, written the obvious way."""
    if len(value) >= 2 and value[0] in QUOTES and value[-1] in QUOTES:
        value = value[1:-1]
    return None if value in ("", "-") else value


def reference_ts(date: str, time: str) -> datetime | None:
    """`YYYY-MM-DD` + `HH:MM:SS` of a real calendar day and clock time, else None."""
    if not re.fullmatch(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}", date) or not re.fullmatch(
        r"[0-9]{2}:[0-5][0-9]:[0-5][0-9]", time
    ):
        return None
    try:
        return datetime.strptime(f"{date} {time}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


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


def test_a_15_field_line_has_document_fields_but_no_admin_fields() -> None:
    head = "#Software: RMS\n#Fields: " + " ".join(FIELDS_1_1) + "\n"
    row = parse_text(head + "\t".join(LINE_17.split("\t")[:15]) + "\n", "v11.log").rows.row(
        0, named=True
    )
    assert row["file_name"] == "Budget.xlsx"
    assert row["admin_action"] is None and row["acting_as_user"] is None


def test_the_old_admin_field_spellings_are_read() -> None:
    head = HEAD_17.replace("admin-action acting-as-user", "AdminAction ActingAsUser")
    line = LINE_17.rsplit("\t", 2)[0] + "\t'True'\t'kim@fabrikam.example'"
    row = parse_text(head + line + "\n", "a.log").rows.row(0, named=True)
    assert (row["admin_action"], row["acting_as_user"]) == (True, "kim@fabrikam.example")


def test_repeated_headers_switch_the_field_list_mid_file() -> None:
    text = HEAD_10 + LINE_10 + "\n" + HEAD_17 + LINE_17 + "\r\n"
    parsed = parse_text(text, "mixed.log")
    assert parsed.rejects.height == 0
    assert parsed.rows["request_type"].to_list() == ["Decrypt", "AcquireLicense"]
    assert parsed.rows["source_line"].to_list() == [4, 8]


def test_a_byte_order_mark_before_a_later_blob_is_still_a_header() -> None:
    text = "\ufeff" + HEAD_17 + LINE_17 + "\n" + "\ufeff" + HEAD_10 + LINE_10 + "\n"
    parsed = parse_text(text, "two-blobs.log")
    assert parsed.rejects.height == 0
    assert parsed.rows["source_line"].to_list() == [4, 8]


def test_crlf_line_ends_and_blank_lines_are_not_data() -> None:
    text = ("\ufeff" + HEAD_17 + "\n" + LINE_17 + "\n\n").replace("\n", "\r\n")
    parsed = parse_text(text, "crlf.log")
    assert (parsed.rows.height, parsed.rejects.height, parsed.data_lines) == (1, 0, 1)
    assert parsed.rows["source_line"].to_list() == [5]
    assert parsed.rows["c_ip"].to_list() == ["198.51.100.23"]  # no CR left on the last field


def test_a_line_with_the_wrong_field_count_is_rejected_and_the_rest_goes_on() -> None:
    text = HEAD_17 + "2024-05-06\t09:14:02\tonly-three\n" + LINE_17 + "\n"
    parsed = parse_text(text, "bad.log")
    assert parsed.rows.height == 1
    reject = parsed.rejects.row(0, named=True)
    assert reject["source_line"] == 4
    assert reject["reason"] == "expected 17 tab-separated fields, found 3"
    assert reject["raw_line"] == "2024-05-06\t09:14:02\tonly-three"


def test_a_tab_inside_a_quoted_value_is_a_wrong_field_count() -> None:
    line = LINE_17.replace("'kim@fabrikam.example'", "'kim\tlee'")
    parsed = parse_text(HEAD_17 + line + "\n", "tab.log")
    assert parsed.rejects["reason"].to_list() == ["expected 17 tab-separated fields, found 18"]
    assert parsed.rejects["raw_line"].to_list() == [line]


@pytest.mark.parametrize(
    ("date", "time", "reason"),
    [
        ("2024-02-30", "09:14:02", "invalid date/time '2024-02-30 09:14:02'"),
        ("2024-05-06", "24:00:00", "invalid date/time '2024-05-06 24:00:00'"),
        ("2024-05-06", "23:59:60", "invalid date/time '2024-05-06 23:59:60'"),
        ("2024-5-6", "09:14:02", "invalid date/time '2024-5-6 09:14:02'"),
        ("0000-01-01", "00:00:00", "invalid date/time '0000-01-01 00:00:00'"),
        ("-", "09:14:02", "invalid date/time ' 09:14:02'"),
    ],
)
def test_an_impossible_date_or_time_is_rejected(date: str, time: str, reason: str) -> None:
    line = LINE_17.replace("2024-05-06\t09:14:02", f"{date}\t{time}", 1)
    parsed = parse_text(HEAD_17 + line + "\n", "d.log")
    assert parsed.rows.height == 0
    assert parsed.rejects["reason"].to_list() == [reason]


def test_a_bad_date_published_or_admin_action_is_rejected_with_its_value() -> None:
    bad_published = LINE_17.replace("'2024-04-30T16:02:11'", "'last week'")
    bad_admin = LINE_17.rsplit("\t", 2)[0] + "\t'maybe'\t''"
    parsed = parse_text(HEAD_17 + bad_published + "\n" + bad_admin + "\n", "v.log")
    assert parsed.rejects["reason"].to_list() == [
        "invalid date-published 'last week'",
        "invalid admin-action 'maybe'",
    ]


def test_without_a_row_id_the_record_is_keyed_by_correlation_type_and_time() -> None:
    line = LINE_17.replace("5e0c2f1a-8b7d-4c51-9f0e-2a6d3b9c7e41", "''")
    row = parse_text(HEAD_17 + line + "\n", "k.log").rows.row(0, named=True)
    assert (
        row["row_id"] == "0b9f7c3e-1d2a-4e8b-a6c5-7f3e9d1b2c4a/AcquireLicense/2024-05-06T09:14:02"
    )


def test_without_row_id_and_correlation_id_a_line_is_rejected() -> None:
    line = LINE_17.replace("5e0c2f1a-8b7d-4c51-9f0e-2a6d3b9c7e41", "-").replace(
        "0b9f7c3e-1d2a-4e8b-a6c5-7f3e9d1b2c4a", ""
    )
    parsed = parse_text(HEAD_17 + line + "\n", "k.log")
    assert parsed.rejects["reason"].to_list() == [
        "no row-id and no correlation-id to key the record"
    ]


def test_data_before_any_fields_header_refuses_the_whole_file() -> None:
    with pytest.raises(LogFormatError, match=r"nohead.log:1: data line before any"):
        parse_text(LINE_17 + "\n", "nohead.log")


def test_a_nul_byte_refuses_the_whole_file_naming_its_line() -> None:
    with pytest.raises(LogFormatError, match=r"nul.log:5: NUL byte; not a text log"):
        parse_bytes((HEAD_17 + LINE_17 + "\n").encode() + b"x\0y\n", "nul.log")


def test_a_resumed_file_uses_the_header_in_force() -> None:
    header = Header(software="RMS", fields=FIELDS_1_1_ADMIN)
    parsed = parse_text(LINE_17 + "\n", "grown.log", first_line=9, header=header)
    assert parsed.rows["source_line"].to_list() == [9]


def test_a_non_rms_w3c_file_is_refused_whole() -> None:
    iis = "#Software: Microsoft Internet Information Services 10.0\n#Fields: date time c-ip\n"
    with pytest.raises(LogFormatError, match=r"iis\.log:1: not an RMS usage log"):
        parse_text(iis, "iis.log")


def test_fields_without_a_software_line_are_refused() -> None:
    with pytest.raises(LogFormatError, match=r"x\.log:1: #Fields without a '#Software: RMS'"):
        parse_text("#Fields: date time row-id\n", "x.log")


def test_fields_without_date_and_time_are_refused() -> None:
    with pytest.raises(LogFormatError, match=r"x\.log:2: #Fields lacks date, time"):
        parse_text("#Software: RMS\n#Fields: row-id request-type\n", "x.log")


def test_unknown_and_repeated_fields_are_ignored() -> None:
    head = HEAD_10.replace("c-ip", "c-ip x-future c-ip")
    row = parse_text(head + LINE_10 + "\tnew\t10.0.0.1\n", "f.log").rows.row(0, named=True)
    assert row["c_ip"] == "203.0.113.7"


def test_invalid_utf8_is_kept_with_replacement_characters() -> None:
    buf = (HEAD_17 + LINE_17 + "\n").encode().replace(b"Budget", b"Bud\xffget")
    assert parse_bytes(buf, "u.log").rows["file_name"].to_list() == ["Bud\ufffdget.xlsx"]


def test_utf8_bom_and_blank_lines_are_ignored() -> None:
    parsed = parse_text("\ufeff" + HEAD_17 + "\n" + LINE_17 + "\n\n", "bom.log")
    assert parsed.rows.height == 1 and parsed.rejects.height == 0
    assert parsed.data_lines == 1


def test_line_kinds_and_tab_counts_come_from_the_bytes() -> None:
    lines = scan_lines(b"#h\n\n a\tb\r\n\xef\xbb\xbf#x\nlast")
    assert lines.kinds.tolist() == [1, 2, 0, 1, 0]
    assert lines.tabs.tolist() == [0, 0, 1, 0, 0]
    assert [lines.text(i) for i in range(5)] == ["#h", "", " a\tb", "#x", "last"]


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("'x'", "x"),
        ("‘x’", "x"),
        ("'x’", "x"),
        ("''", None),
        ("‘’", None),
        ("", None),
        ("-", None),
        ("'-'", None),
        ("x", "x"),
        ("'a'b'", "a'b"),
        ("'", "'"),
        ("’", "’"),
    ],
)
def test_clean_value_strips_one_pair_of_quotes_and_nulls_blanks(
    raw: str, value: str | None
) -> None:
    assert pl.select(clean_value(pl.lit(raw))).item() == value


# NUL is no field character: it refuses the whole file (see the test above).
FIELD_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(["'", "‘", "’", "-", " ", "é", "\ufeff", '"']),
        st.characters(blacklist_characters="\t\n\r\0", blacklist_categories=("Cs",)),
    ),
    max_size=8,
)


@given(FIELD_TEXT)
def test_clean_value_follows_the_value_rule(text: str) -> None:
    assert pl.select(clean_value(pl.lit(text))).item() == reference_clean(text)


@given(st.lists(FIELD_TEXT, min_size=13, max_size=13))
def test_the_byte_level_parser_follows_the_value_rule_in_every_field(cells: list[str]) -> None:
    line = "\t".join(["2024-05-06", "09:14:02", "r1", *cells, "''"])
    parsed = parse_bytes((HEAD_17 + line + "\n").encode(), "p.log")
    assert parsed.rejects.height + parsed.rows.height == 1
    if parsed.rows.height:  # (an odd date-published is a reject, also by the rule)
        row = parsed.rows.row(0, named=True)
        names = ["request_type", "user_id", "result", "correlation_id", "content_id"]
        names += ["owner_email", "issuer", "template_id", "file_name"]
        assert [row[n] for n in names] == [reference_clean(c) for c in cells[:9]]
        assert [row["c_info"], row["c_ip"]] == [reference_clean(c) for c in cells[10:12]]


@given(
    st.one_of(st.dates().map(str), st.text(alphabet="0123456789-+ ", max_size=11)),
    st.one_of(
        st.times().map(lambda t: t.strftime("%H:%M:%S")), st.text("0123456789: ", max_size=9)
    ),
)
def test_date_and_time_become_ts_exactly_when_they_are_a_real_moment(date: str, time: str) -> None:
    line = LINE_17.replace("2024-05-06\t09:14:02", f"{date}\t{time}", 1)
    parsed = parse_text(HEAD_17 + line + "\n", "t.log")
    expected = reference_ts(reference_clean(date) or "", reference_clean(time) or "")
    assert parsed.rows["ts"].to_list() == ([expected] if expected else [])
    assert parsed.rejects.height == (0 if expected else 1)


@settings(max_examples=50)
@given(st.lists(st.sampled_from(["\n", "\r\n", "\t", "'", "a", "é", "\ufeff"]), max_size=30))
def test_strip_quotes_never_touches_line_structure(parts: list[str]) -> None:
    body = "".join(parts).encode() + b"\n"
    stripped = strip_quotes(body)
    assert stripped.count(b"\n") == body.count(b"\n")
    assert stripped.count(b"\t") == body.count(b"\t")
