"""The RMS record contract: what a data line's values mean, written once as data.

Both readers derive their typing from here: the general path (NumPy + Polars,
`w3c.py`, `lines.py`) and the fast path (DuckDB's CSV reader, `fast.py`). The field
lists of each log version, their canonical names and the warehouse columns live in
`pipeline.schema` (the generator shares them); this module holds the value rules:

- **quotes**: one pair of surrounding quotes is stripped from a value, straight `'` or
  curly `‘` `’`, mixed too (`QUOTES`);
- **nulls**: after that, a value in `NULL_TOKENS` (empty or `-`) is NULL;
- **shapes and types**: `date` + `time` must have the shape `TS_SHAPE` and parse with
  `TS_FORMAT`; each field of `TIMESTAMP_FIELDS` likewise with its own shape and format;
  each field of `BOOLEAN_FIELDS` is `true` or `false` in any case; anything else is a
  rejected line with the reason `invalid <field> '<value>'`;
- **the key**: a record without a row-id is keyed `correlation-id/request-type/dateTtime`
  (`FALLBACK_KEY`); without a correlation-id either, it is rejected (`NO_KEY`).

Shapes are regular expressions both engines read alike (RE2 in DuckDB, Rust's regex in
Polars): ASCII classes only, no anchors (the callers anchor them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pipeline import schema

#: Quote characters a value may be wrapped in (one pair is stripped; mixed pairs too).
QUOTES: Final = ("'", "‘", "’")
#: Values that mean "no value" once one pair of surrounding quotes is stripped.
NULL_TOKENS: Final = ("", "-")

#: `date` + " " + `time` of a record.
TS_SHAPE: Final = "[1-9][0-9]{3}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-5][0-9]:[0-5][0-9]"
TS_FORMAT: Final = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class TimestampField:
    """A field holding an instant: its shape, and the format it parses with."""

    column: str
    shape: str
    format: str


#: Fields other than date/time that hold an instant.
TIMESTAMP_FIELDS: Final = (
    TimestampField(
        "date_published",
        "[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-5][0-9]:[0-5][0-9]",
        "%Y-%m-%dT%H:%M:%S",
    ),
)
#: Fields holding `true` or `false` (any case).
BOOLEAN_FIELDS: Final = ("admin_action",)
BOOLEAN_TRUE: Final = "true"
BOOLEAN_FALSE: Final = "false"

#: The key of a record without a row-id, from these columns: `{}/{}/{}T{}`, with an
#: absent request type as empty text (documented in docs/ingest.md).
FALLBACK_KEY: Final = ("correlation_id", "request_type", "date", "time")
#: Why a record that cannot be keyed is rejected.
NO_KEY: Final = "no row-id and no correlation-id to key the record"
#: Why a record whose date and time do not make an instant is rejected: `{date} {time}`.
INVALID_TS: Final = "invalid date/time '{} {}'"


def invalid(column: str) -> str:
    """The reject reason for a value of `column` that is not of its type, with `{}`
    where the value goes: `invalid date-published '{}'`."""
    return f"invalid {column.replace('_', '-')} '{{}}'"


def chosen_columns(fields: tuple[str, ...]) -> dict[int, str]:
    """Which position of a `#Fields` list feeds which column: every field the warehouse
    stores (and date, time), the first one where a name repeats; others are ignored."""
    chosen: dict[int, str] = {}
    for i, field in enumerate(fields):
        column = schema.column_name(field)
        known = column in schema.REQUEST_COLUMN_NAMES or column in ("date", "time")
        if known and column not in chosen.values():
            chosen[i] = column
    return chosen
