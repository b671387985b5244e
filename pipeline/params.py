"""One binder for the typed parameters of every SQL file: detect, query and report.

A `-- param: NAME TYPE [= default]` header line declares a parameter; its value comes
from the tenant settings (a parameter named after a setting: `timezone`, `work_days`,
...), from the caller (`--param NAME=VALUE`, or a Python value), or from the header
default. Text (from the command line or a header) is converted to the declared DuckDB
type here, and only here, with one vocabulary and one error message style::

    --param min_failures: expected INTEGER, got 'lots'

Types: BOOLEAN (true/false, t/f, yes/no, y/n, 1/0, any case), the integers (TINYINT,
SMALLINT, INTEGER, BIGINT, HUGEINT, INT), DOUBLE/FLOAT/REAL, DECIMAL[(p,s)], DATE,
TIMESTAMP (ISO 8601; `infinity` and `-infinity` pass to DuckDB as text), VARCHAR,
INTERVAL (text DuckDB casts, e.g. `5 minutes`), `T[]` (comma-separated values of T,
optionally in brackets) and `LIST` (a VARCHAR[]).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from pipeline.errors import QueryError, UsageError
from pipeline.settings import Settings
from pipeline.sqlfiles import Param

#: Parameter names bound from the tenant settings, never from `--param`.
SETTINGS_PARAMS = frozenset(Settings().sql_params())

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
INTEGER_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT"})
FLOAT_TYPES = frozenset({"DOUBLE", "FLOAT", "REAL"})
#: Types whose text DuckDB itself casts (the SQL says `CAST($p AS INTERVAL)`).
TEXT_TYPES = frozenset({"VARCHAR", "TEXT", "STRING", "INTERVAL", "BLOB"})
_INFINITE = frozenset({"infinity", "-infinity"})
_DECIMAL = re.compile(r"^DECIMAL(?:\(\s*\d+\s*(?:,\s*\d+\s*)?\))?$")
_HINTS = {
    "TIMESTAMP": " (e.g. 2026-11-02 or 2026-11-02T08:00:00)",
    "DATE": " (e.g. 2026-11-02)",
    "BOOLEAN": " (true/false, yes/no or 1/0)",
}


def convert_value(type_: str, text: str, *, label: str) -> object:
    """`text` as a Python value of the DuckDB type `type_`; `label` names it in the error
    (`--param NAME`, `setting rules.X.Y`): "LABEL: expected TYPE, got 'text'"."""
    type_ = type_.upper()
    try:
        if type_ == "LIST" or type_.endswith("[]"):
            element = "VARCHAR" if type_ == "LIST" else type_[:-2]
            inner = text.strip()
            if inner.startswith("[") and inner.endswith("]"):
                inner = inner[1:-1]
            parts = [p.strip().strip("'\"") for p in inner.split(",") if p.strip()]
            return [_scalar(element, p) for p in parts]
        return _scalar(type_, text)
    except (ValueError, InvalidOperation):
        raise UsageError(
            f"{label}: expected {type_}, got {text!r}{_HINTS.get(type_, '')}"
        ) from None


def _scalar(type_: str, text: str) -> object:
    if type_ in TEXT_TYPES:
        return text
    value = text.strip()
    if type_ == "BOOLEAN":
        word = value.lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise ValueError(text)
        return word in TRUE_WORDS
    if type_ in INTEGER_TYPES:
        return int(value)
    if type_ in FLOAT_TYPES:
        return float(value)
    if _DECIMAL.match(type_):
        return Decimal(value)
    if type_ in ("TIMESTAMP", "DATE") and value.lower() in _INFINITE:
        return value.lower()
    if type_ == "TIMESTAMP":
        return datetime.fromisoformat(value)
    if type_ == "DATE":
        return date.fromisoformat(value)
    raise QueryError(f"parameter type {type_} is not one rmslog can bind; see pipeline/params.py")


def convert_param(param: Param, text: str, *, label: str | None = None) -> object:
    """`text` as a value of `param`'s declared type (see `convert_value`)."""
    return convert_value(param.type, text, label=label or f"--param {param.name}")


def bind_params(
    declared: Sequence[Param],
    given: Mapping[str, object],
    settings: Settings | None = None,
    *,
    skip: Collection[str] = (),
    prefix: str = "",
    what: str = "the query",
) -> dict[str, object]:
    """Values for every `declared` parameter not in `skip`.

    A parameter named after a tenant setting takes its value from `settings` (when
    given); else the `given` value, else the header default. Text is converted to the
    declared type (`convert_value`); other values (a `datetime`, `bytes`) pass as they are.
    `prefix` is how `--param` names the parameter (`rule.` for a detection rule). A
    parameter without a value is an error naming `what` and the parameter.
    """
    from_settings = settings.sql_params() if settings is not None else {}
    values: dict[str, object] = {}
    missing: list[str] = []
    for param in declared:
        if param.name in skip:
            continue
        if param.name in from_settings:
            values[param.name] = from_settings[param.name]
            continue
        value = given.get(param.name, param.default)
        if value is None:
            missing.append(prefix + param.name)
        elif isinstance(value, str):
            values[param.name] = convert_param(param, value, label=f"--param {prefix}{param.name}")
        else:
            values[param.name] = value
    if missing:
        raise QueryError(f"{what} needs --param for: {', '.join(missing)}")
    return values
