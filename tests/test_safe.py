from __future__ import annotations

import re
from datetime import datetime

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.safe import (
    CONTROL_CHARS,
    flatten_nested,
    neutralise_cell,
    neutralise_formulas,
    strip_control_chars,
)

FORMULA_CHARS = "=+-@\t\r＝＋－＠"
cells = st.text(alphabet=st.characters(codec="utf-8"), max_size=20) | st.sampled_from(
    ["=1+2", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx", "＝1", "'=x", ""]
)


@pytest.mark.slow
@given(st.lists(st.none() | cells, max_size=20))
def test_no_neutralised_cell_starts_a_formula_and_the_value_is_recoverable(
    values: list[str | None],
) -> None:
    out = neutralise_formulas(pl.DataFrame({"v": values}, schema={"v": pl.String}))
    for before, after in zip(values, out["v"].to_list(), strict=True):
        if before is None:
            assert after is None
        elif before[:1] and before[0] in FORMULA_CHARS:
            assert after == "'" + before
        else:
            assert after == before
        assert after == (neutralise_cell(before) if before is not None else None)


def test_neutralising_keeps_column_names_types_and_non_text_columns() -> None:
    frame = pl.DataFrame({"n": [-1, 2], "name": ["-1", "ok"], "ts": [datetime(2026, 1, 1)] * 2})
    out = neutralise_formulas(frame)
    assert out.columns == ["n", "name", "ts"]
    assert out["n"].to_list() == [-1, 2]
    assert out["name"].to_list() == ["'-1", "ok"]


def test_categorical_cells_are_neutralised_too() -> None:
    frame = pl.DataFrame({"c": ["=x", "y"]}, schema={"c": pl.Categorical})
    assert neutralise_formulas(frame)["c"].to_list() == ["'=x", "y"]


def test_nested_values_become_json_text() -> None:
    frame = pl.DataFrame({"ids": [["a", "=b"], None], "s": [{"k": 1}, {"k": 2}]})
    out = flatten_nested(frame)
    assert out["ids"].to_list() == ['["a","=b"]', None]
    assert out["s"].to_list() == ['{"k":1}', '{"k":2}']


@given(st.lists(st.none() | st.text(max_size=20), max_size=20))
def test_no_control_character_survives_for_the_terminal(values: list[str | None]) -> None:
    out = strip_control_chars(pl.DataFrame({"v": values}, schema={"v": pl.String}))
    for before, after in zip(values, out["v"].to_list(), strict=True):
        assert (after is None) == (before is None)
        if after is not None:
            assert not re.search(CONTROL_CHARS, after)
            assert len(after) == len(before or "")
