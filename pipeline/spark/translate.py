"""DuckDB SQL of the rules, as Spark SQL: sqlglot's transpiler plus the rewrites it gets wrong.

The DuckDB files under `queries/` stay the one source of each rule. `to_spark` parses one
with sqlglot's DuckDB dialect, rewrites the constructs Spark lacks or that sqlglot
translates into something Spark rejects or that means something else, on the syntax tree
(never on the text), and prints it in the Spark dialect. Parameters stay named markers
(`$name` becomes `:name`) that Spark binds as typed literals when the query runs.

What each rewrite is for, by DuckDB construct:

- our macros (queries/macros/): inlined, parameters replaced by the call's arguments.
- `list(x ORDER BY k...)`: Spark's `collect_list` has no order. It becomes the list of
  `struct(k..., x)` sorted by `array_sort` on the keys, then `transform` to `x`.
- `string_agg(s, sep ORDER BY k)`: the same ordered list, joined with `array_join`. Both
  are NULL over no rows (an aggregate FILTER that keeps none), as in DuckDB.
- `format('{}…', …)`: `format_string` with `%s` over the arguments cast to text, NULL when
  any argument is NULL (as DuckDB's). Doubles print alike below 1e7 and above 1e-3 (DuckDB
  writes 12345678.9 where Spark writes 1.23456789E7): no rule formats such a number.
- `printf('%.1f', …)`: `format_string`, same format language.
- `timezone(tz, timezone('UTC', ts))` (UTC wall clock to local wall clock):
  `from_utc_timestamp`, kept in `TIMESTAMP_NTZ`.
- `range(a, b) AS t(n)` in FROM: a subquery exploding `sequence(a, b - 1)` as column `n`.
- `to_days(n)`, `to_minutes(n)`: `INTERVAL n DAY|MINUTE` (a literal once bound: Spark wants
  one in a window frame), `make_dt_interval` for a computed n.
- `list_bool_or(list_transform(l, p -> …))`: `exists(l, p -> …)`.
- `quantile_cont(x, q)` (also with FILTER, as a CASE inside): Spark's `percentile`, the same
  linear interpolation up to the last bit of a double (see `_quantile`).
- `arg_min(a, (b, c))`: `min_by(a, struct(b, c))`.
- `epoch(interval)`: seconds of a day-time interval, as a double.
- `strftime(ts, '%Y-%m-%dT…')`: `date_format` with a pattern whose literal letters are
  quoted (sqlglot leaves the `T` bare, which Spark rejects).
- `isodow(ts)`: `weekday(ts) + 1` (sqlglot's version gives Monday 3 and Sunday 2).
- `OVER (w RANGE ...)` on a named window `w`: the definition spelled out (Spark cannot
  extend a named window).
- `count(DISTINCT x) OVER (...)`: `size(collect_set(x) OVER (...))`.
- `WITH x AS MATERIALIZED (...)`: the hint is dropped.
- `list_position(l, x)`: `nullif(array_position(l, x), 0)`.
- `list_prepend(x, l)`: `concat(array(x), l)`; `[]`: `array()` typed as strings.
- `list(DISTINCT x ORDER BY x)`: the sorted set, `array_sort(collect_set(x))`, with NULL
  appended when x had one (DuckDB's list keeps it), NULL over no rows; with a FILTER it is
  refused. `string_agg(DISTINCT x, sep)` without ORDER BY is refused (its order is the
  engine's: give it one).
- `any_value(x ORDER BY k...)`: the first non-NULL x of the ordered list.
- `l[a:b]` (1-based, both ends included): `slice(l, a, b - a + 1)`.
- `len($list)`: `size`. `len` of anything but a parameter is refused: DuckDB's `len` takes
  a list or a string, and Spark needs to be told which.
- `from_json(s, '["VARCHAR"]')`: `from_json(s, 'ARRAY<STRING>')`; other structures refused.
- `CREATE VIEW v AS q`: `q` (Spark registers it as a temporary view).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version

import sqlglot
from sqlglot import exp

#: sqlglot's version the committed Spark SQL was printed with (pinned in pyproject.toml).
SQLGLOT_VERSION = version("sqlglot")


def to_spark(sql: str) -> str:
    """Spark SQL for one DuckDB statement (a rule body or a view), pretty-printed."""
    tree = _parse(sql, "duckdb")
    if isinstance(tree, exp.Create) and tree.args.get("kind") == "VIEW":
        tree = tree.expression
    tree = inline_macros(tree)
    tree = tree.transform(_rewrite)
    return tree.sql(dialect="spark", pretty=True, unsupported_level=sqlglot.ErrorLevel.RAISE)


def _parse(sql: str, dialect: str) -> exp.Expression:
    tree = sqlglot.parse_one(sql, read=dialect)
    if not isinstance(tree, exp.Expression):
        raise ValueError(f"not one SQL statement: {sql[:60]!r}")
    return tree


@dataclass(frozen=True)
class Macro:
    """One of our DuckDB macros (queries/macros/): its parameters and body."""

    name: str
    params: tuple[str, ...]
    body: exp.Expression
    table: bool


@cache
def macros() -> dict[str, Macro]:
    from pipeline.sqlfiles import sql_files

    out = {}
    for f in sql_files("macros"):
        create = _parse(f.sql, "duckdb")
        if not (isinstance(create, exp.Create) and create.args.get("kind") == "MACRO"):
            raise ValueError(f"{f.path}: not a CREATE MACRO")
        signature = create.this
        params = tuple(p.name for p in signature.expressions)
        body = create.expression
        out[f.name] = Macro(f.name, params, body, isinstance(body, exp.Query))
    return out


def inline_macros(tree: exp.Expression) -> exp.Expression:
    """Our macro calls replaced by their bodies (Spark has no macros): a scalar macro by its
    expression, a table macro `FROM m('cte', $p)` by a subquery whose `query_table('cte')`
    reads that CTE; parameters replaced by the arguments of the call."""
    known = macros()

    def expand(node: exp.Expression) -> exp.Expression:
        call = node.this if isinstance(node, exp.Table) else node
        if not (isinstance(call, exp.Anonymous) and call.name.lower() in known):
            return node
        macro = known[call.name.lower()]
        if macro.table != isinstance(node, exp.Table):
            raise ValueError(f"macro {macro.name} used as a {'table' if macro.table else 'value'}")
        args = dict(zip(macro.params, call.expressions, strict=True))
        body = _substitute(macro.body.copy(), args)
        body = inline_macros(body)  # macros may call macros
        if not macro.table:
            return exp.Paren(this=body)
        alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(macro.name))
        return exp.Subquery(this=body, alias=alias.copy())

    return tree.transform(expand)


def _substitute(body: exp.Expression, args: dict[str, exp.Expression]) -> exp.Expression:
    def replace(node: exp.Expression) -> exp.Expression:
        if (
            isinstance(node, exp.Table)
            and isinstance(node.this, exp.Anonymous)
            and node.this.name.lower() == "query_table"
        ):
            (ref,) = node.this.expressions
            name = args[ref.name].name if isinstance(ref, exp.Column) else ref.name
            table = exp.to_table(name)
            if node.args.get("alias"):
                table.set("alias", node.args["alias"].copy())
            return table
        if isinstance(node, exp.Column) and not node.table and node.name in args:
            return args[node.name].copy()
        if isinstance(node, exp.Star) and node.args.get("except_"):
            # `* EXCLUDE (helper)`: Spark has no EXCLUDE. The helper column stays: the
            # macros' callers name the columns they use (the golden test checks).
            node.set("except_", None)
        return node

    return body.transform(replace)


def _sub(node: exp.Expression) -> exp.Expression:
    """A rewritten copy of a sub-expression (a replaced node's children are not visited)."""
    return node.transform(_rewrite)


def _col(name: str) -> exp.Column:
    return exp.column(name)


def _func(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _lambda(var: str, body: exp.Expression) -> exp.Lambda:
    return exp.Lambda(this=body, expressions=[exp.to_identifier(var)])


def _ordered_list(value: exp.Expression, keys: list[exp.Ordered]) -> exp.Expression:
    """`list(value ORDER BY keys)` on Spark: sort structs of (keys..., value), keep value."""
    fields: list[exp.Expression] = [
        exp.PropertyEQ(this=exp.to_identifier(f"k{i}"), expression=_sub(k.this))
        for i, k in enumerate(keys)
    ]
    fields.append(exp.PropertyEQ(this=exp.to_identifier("v"), expression=_sub(value)))
    collected = _func("collect_list", exp.Struct(expressions=fields))
    # A comparator that orders like DuckDB: each key ascending or descending, NULLs last
    # unless asked first; ties keep no particular order (rules always end on a unique key).
    comparison: exp.Expression = exp.Literal.number(0)
    for i in reversed(range(len(keys))):
        k = keys[i]
        left = exp.Dot(this=_col("l"), expression=exp.to_identifier(f"k{i}"))
        right = exp.Dot(this=_col("r"), expression=exp.to_identifier(f"k{i}"))
        nulls_first = bool(k.args.get("nulls_first"))
        less, more = (exp.Literal.number(-1), exp.Literal.number(1))
        if k.args.get("desc"):
            less, more = more, less
        null_l = exp.Literal.number(-1 if nulls_first else 1)
        comparison = exp.Case(
            ifs=[
                exp.If(
                    this=exp.and_(
                        exp.Is(this=left, expression=exp.Null()),
                        exp.Is(this=right, expression=exp.Null()),
                    ),
                    true=comparison,
                ),
                exp.If(this=exp.Is(this=left, expression=exp.Null()), true=null_l.copy()),
                exp.If(
                    this=exp.Is(this=right, expression=exp.Null()), true=exp.Neg(this=null_l.copy())
                ),
                exp.If(this=exp.LT(this=left.copy(), expression=right.copy()), true=less),
                exp.If(this=exp.GT(this=left.copy(), expression=right.copy()), true=more),
            ],
            default=comparison,
        )
    comparator = exp.Lambda(
        this=comparison, expressions=[exp.to_identifier("l"), exp.to_identifier("r")]
    )
    ordered = _func("array_sort", collected, comparator)
    return _func(
        "transform",
        ordered,
        _lambda("s", exp.Dot(this=_col("s"), expression=exp.to_identifier("v"))),
    )


def _utc_to_local(node: exp.Expression) -> exp.Expression | None:
    """`timezone(tz, timezone('UTC', ts))`, else None."""
    if not (isinstance(node, exp.Anonymous) and node.name.lower() == "timezone"):
        return None
    zone, inner = node.expressions
    if not (isinstance(inner, exp.Anonymous) and inner.name.lower() == "timezone"):
        return None
    utc, ts = inner.expressions
    if not (isinstance(utc, exp.Literal) and utc.this.upper() == "UTC"):
        return None
    local = _func("from_utc_timestamp", exp.cast(_sub(ts), "TIMESTAMP"), _sub(zone))
    return exp.cast(local, "TIMESTAMP_NTZ")


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Placeholder) and node.name:
        return exp.Placeholder(this=node.name)  # printed as :name by the Spark dialect
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)
        return node
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.GroupConcat | exp.ArrayAgg):
        # `agg(x ...) FILTER (cond)`: collect_list/collect_set skip NULLs, so collecting
        # `CASE WHEN cond THEN x END` is the same; the rewritten aggregate is a plain
        # expression Spark would not accept a FILTER on.
        where = node.expression.this
        agg = node.this.copy()
        sorted_list = isinstance(agg, exp.ArrayAgg) and isinstance(agg.this, exp.Order)
        if sorted_list and isinstance(agg.this.this, exp.Distinct):
            # Filtered-out rows would become NULLs, which the set keeps.
            raise ValueError(f"list(DISTINCT) with FILTER: {node.sql('duckdb')}")
        target = agg.this.this if isinstance(agg.this, exp.Order) else agg
        inner = target.expressions[0] if isinstance(target, exp.Distinct) else target.this
        inner.replace(exp.Case(ifs=[exp.If(this=where.copy(), true=inner.copy())]))
        return _sub(agg)
    if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
        order = node.this
        if isinstance(order.this, exp.Distinct):
            # list(DISTINCT x ORDER BY x): the sorted set, and NULL last when x had one
            # (DuckDB's list keeps NULL; collect_set drops it).
            value = _sub(_sorted_by_itself(node))
            distinct = _func("array_sort", _func("collect_set", value))
            has_null = exp.GT(
                this=_func("count_if", exp.Is(this=value.copy(), expression=exp.Null())),
                expression=exp.Literal.number(0),
            )
            return exp.Case(
                ifs=[exp.If(this=has_null, true=_func("array_append", distinct, exp.Null()))],
                default=_unless_empty(distinct.copy(), distinct.copy()),
            )
        ordered = _ordered_list(order.this, list(order.expressions))
        return _unless_empty(ordered, ordered.copy())
    if isinstance(node, exp.GroupConcat) and isinstance(node.this, exp.Order):
        order = node.this
        sep = node.args.get("separator") or exp.Literal.string(",")
        if isinstance(order.this, exp.Distinct):
            # string_agg(DISTINCT x, sep ORDER BY x): the sorted set.
            distinct = _func("array_sort", _func("collect_set", _sub(_sorted_by_itself(node))))
            return _unless_empty(distinct, _func("array_join", distinct.copy(), _sub(sep)))
        ordered = _ordered_list(order.this, list(order.expressions))
        return _unless_empty(ordered, _func("array_join", ordered.copy(), _sub(sep)))
    if isinstance(node, exp.GroupConcat) and isinstance(node.this, exp.Distinct):
        raise ValueError(f"string_agg(DISTINCT) without ORDER BY: {node.sql('duckdb')}")
    if isinstance(node, exp.Filter) and _ordered_any_value(
        node.this.this if isinstance(node.this, exp.IgnoreNulls) else node.this
    ):
        raise ValueError(f"any_value(... ORDER BY) with FILTER: {node.sql('duckdb')}")
    if isinstance(node, exp.IgnoreNulls) and _ordered_any_value(node.this):
        return _first_known(node.this)
    if _ordered_any_value(node):
        return _first_known(node)
    if isinstance(node, exp.Bracket) and any(isinstance(e, exp.Slice) for e in node.expressions):
        return _slice(node)
    if isinstance(node, exp.Length):
        if not isinstance(node.this, exp.Placeholder):
            raise ValueError(f"len() of anything but a list parameter: {node.sql('duckdb')}")
        return _func("size", _sub(node.this))
    if isinstance(node, exp.FromJson):
        shape = node.expression
        if not (isinstance(shape, exp.Literal) and shape.this == '["VARCHAR"]'):
            raise ValueError(f"from_json() to other than a list of text: {node.sql('duckdb')}")
        return _func("from_json", _sub(node.this), exp.Literal.string("ARRAY<STRING>"))
    if isinstance(node, exp.Format):
        template = node.this
        if not isinstance(template, exp.Literal):
            raise ValueError(f"format() with a non-literal template: {node.sql('duckdb')}")
        text = template.this.replace("%", "%%").replace("{}", "%s")
        args = [exp.cast(_sub(a), "STRING") for a in node.expressions]
        # DuckDB's format() is NULL when any argument is; Spark's would print "null".
        any_null = exp.or_(*[exp.Is(this=a.copy(), expression=exp.Null()) for a in args])
        formatted = _func("format_string", exp.Literal.string(text), *args)
        return exp.If(this=any_null, true=exp.Null(), false=formatted) if args else formatted
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        local = _utc_to_local(node)
        if local is not None:
            return local
        if name == "list_position":
            # DuckDB: NULL when absent; Spark's array_position: 0.
            found = _func("array_position", *[_sub(a) for a in node.expressions])
            return _func("nullif", found, exp.Literal.number(0))
        if name == "printf":
            return _func("format_string", *[_sub(a) for a in node.expressions])
        if name == "to_minutes":
            (n,) = node.expressions
            return _interval(n, "MINUTE")
        if name == "list_bool_or":
            (inner,) = node.expressions
            if isinstance(inner, exp.Transform):
                return _func("exists", _sub(inner.this), _sub(inner.expression))
        if name == "timezone":
            raise ValueError(f"timezone() other than UTC to local: {node.sql('duckdb')}")
    if isinstance(node, exp.Window) and node.args.get("alias") and node.args.get("spec"):
        return _inline_window(node)
    if (
        isinstance(node, exp.Window)
        and isinstance(node.this, exp.Count)
        and isinstance(node.this.this, exp.Distinct)
    ):
        # count(DISTINCT x) OVER (...): Spark has no distinct window aggregates; the size
        # of the window's set of x is the same count (both ignore NULLs).
        (value,) = node.this.this.expressions
        window = node.copy()
        window.set("this", _func("collect_set", value.copy()))
        return _func("size", _sub(window))
    if isinstance(node, exp.TimeToStr):
        fmt = node.args["format"]
        if not isinstance(fmt, exp.Literal):
            raise ValueError(f"strftime() with a non-literal format: {node.sql('duckdb')}")
        pattern = exp.Literal.string(_datetime_pattern(fmt.this))
        return _func("date_format", _sub(node.this), pattern)
    if isinstance(node, exp.ToDays):
        return _interval(node.this, "DAY")
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.PercentileCont):
        where = node.expression.this
        value = exp.Case(ifs=[exp.If(this=_sub(where), true=_sub(node.this.this))])
        return _quantile(value, _sub(node.this.expression))
    if isinstance(node, exp.PercentileCont) and not isinstance(node.parent, exp.WithinGroup):
        return _quantile(_sub(node.this), _sub(node.expression))
    if isinstance(node, exp.ArgMin | exp.ArgMax):
        key = node.expression
        if isinstance(key, exp.Tuple):
            key = _func("struct", *[_sub(e) for e in key.expressions])
        return _func(
            "min_by" if isinstance(node, exp.ArgMin) else "max_by", _sub(node.this), _sub(key)
        )
    if isinstance(node, exp.DayOfWeekIso):
        return exp.Add(this=_func("weekday", _sub(node.this)), expression=exp.Literal.number(1))
    if isinstance(node, exp.TimeToUnix):
        return _epoch(node.this)
    if isinstance(node, exp.ArrayPrepend):
        return _func("concat", exp.Array(expressions=[_sub(node.expression)]), _sub(node.this))
    if isinstance(node, exp.Array) and not node.expressions:
        return exp.cast(exp.Array(expressions=[]), "ARRAY<STRING>")
    if isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries):
        return _series_table(node)
    return node


def _sorted_by_itself(node: exp.Expression) -> exp.Expression:
    """The value of `agg(DISTINCT x ORDER BY x)` (x, or the CASE a FILTER made of it);
    refused when ordered by anything else (a set has no other order)."""
    order = node.this
    (value,) = order.this.expressions
    (key,) = order.expressions
    plain = value.args["ifs"][0].args["true"] if isinstance(value, exp.Case) else value
    if key.this != plain or key.args.get("desc") or key.args.get("nulls_first"):
        raise ValueError(f"DISTINCT aggregate not ordered by itself: {node.sql('duckdb')}")
    assert isinstance(value, exp.Expression)
    return value


def _ordered_any_value(node: exp.Expression) -> bool:
    return isinstance(node, exp.AnyValue) and isinstance(node.this, exp.Order)


def _first_known(node: exp.Expression) -> exp.Expression:
    """`any_value(x ORDER BY k...)`: DuckDB gives the first non-NULL x in that order."""
    order = node.this
    ordered = _ordered_list(order.this, list(order.expressions))
    known = _func(
        "filter", ordered, _lambda("v", exp.not_(exp.Is(this=_col("v"), expression=exp.Null())))
    )
    return _func("get", known, exp.Literal.number(0))  # NULL when there is none


def _slice(node: exp.Bracket) -> exp.Expression:
    """DuckDB's `l[a:b]` (1-based, b included) as `slice(l, a, b - a + 1)`."""
    (bounds,) = node.expressions
    start, end = bounds.this, bounds.expression
    if not (isinstance(start, exp.Literal) and start.is_int and int(start.this) >= 1) or not end:
        raise ValueError(f"list slice other than [n:m] with n >= 1: {node.sql('duckdb')}")
    length = (
        _sub(end)
        if int(start.this) == 1
        else exp.Sub(this=_sub(end), expression=exp.Literal.number(int(start.this) - 1))
    )
    return _func("slice", _sub(node.this), start.copy(), length)


def _quantile(value: exp.Expression, q: exp.Expression) -> exp.Expression:
    """DuckDB's quantile_cont as Spark's `percentile` (exact, linear interpolation between
    the neighbouring values; both skip NULLs and give NULL over no rows). The two engines
    interpolate in different floating-point steps, so the last bit can differ: rules
    compare a baseline with a margin and print it rounded, where that never shows."""
    return _func("percentile", value, q)


def _unless_empty(collected: exp.Expression, result: exp.Expression) -> exp.Expression:
    """DuckDB's list()/string_agg() over no rows (all filtered out) is NULL, Spark's
    collect_list is an empty array (and array_join of it '')."""
    empty = exp.EQ(this=_func("size", collected), expression=exp.Literal.number(0))
    return exp.If(this=empty, true=exp.Null(), false=result)


def _inline_window(node: exp.Window) -> exp.Expression:
    """`OVER (w RANGE ...)`: Spark cannot extend a named window; spell its definition out."""
    name = node.args["alias"].name
    select = node.find_ancestor(exp.Select)
    named = [w for w in (select.args.get("windows") or []) if w.name == name] if select else []
    if not named:
        raise ValueError(f"window {name} extended but not defined in its SELECT")
    (definition,) = named
    window = exp.Window(
        this=_sub(node.this),
        partition_by=[_sub(p) for p in definition.args.get("partition_by") or []],
        order=_sub(definition.args["order"]) if definition.args.get("order") else None,
        spec=_sub(node.args["spec"]),
        over=node.args.get("over"),
    )
    return window


def _interval(n: exp.Expression, unit: str) -> exp.Expression:
    """`INTERVAL n UNIT` when n is a number or a parameter (Spark wants a literal in a window
    frame, and a bound parameter becomes one), else `make_dt_interval`."""
    if isinstance(n, exp.Literal | exp.Placeholder):
        return exp.Interval(this=_sub(n), unit=exp.Var(this=unit))
    zero = exp.Literal.number(0)
    if unit == "DAY":
        return _func("make_dt_interval", _sub(n))
    return _func("make_dt_interval", zero, zero.copy(), _sub(n))


#: strftime codes the rules use, as Spark datetime patterns.
_STRFTIME = {"Y": "yyyy", "m": "MM", "d": "dd", "H": "HH", "M": "mm", "S": "ss", "a": "EEE"}


def _datetime_pattern(strftime: str) -> str:
    """A strftime format as a Spark pattern; letters outside codes quoted ('T')."""
    out, i = [], 0
    while i < len(strftime):
        c = strftime[i]
        if c == "%":
            code = strftime[i + 1 : i + 2]
            if code not in _STRFTIME:
                raise ValueError(f"strftime code %{code} has no Spark pattern here")
            out.append(_STRFTIME[code])
            i += 2
            continue
        out.append(f"'{c}'" if c.isalpha() else ("''" if c == "'" else c))
        i += 1
    return "".join(out)


def _epoch(value: exp.Expression) -> exp.Expression:
    """DuckDB's `epoch(a - b)` of two timestamps: the seconds between them, as a double."""
    if isinstance(value, exp.Paren):
        value = value.this
    if not isinstance(value, exp.Sub):
        raise ValueError(f"epoch() of anything but a difference: {value.sql('duckdb')}")

    def micros(ts: exp.Expression) -> exp.Expression:
        return _func("unix_micros", exp.cast(_sub(ts), "TIMESTAMP"))

    difference = exp.Paren(
        this=exp.Sub(this=micros(value.this), expression=micros(value.expression))
    )
    return exp.Div(this=difference, expression=exp.cast(exp.Literal.number(1_000_000), "DOUBLE"))


def _series_table(node: exp.Table) -> exp.Expression:
    series: exp.GenerateSeries = node.this
    alias = node.args["alias"]
    (column,) = alias.columns
    end = _sub(series.args["end"])
    if series.args.get("is_end_exclusive"):
        end = exp.Sub(this=end, expression=exp.Literal.number(1))
    explode = exp.alias_(
        _func("explode", _func("sequence", _sub(series.args["start"]), end)), column.name
    )
    return exp.Subquery(this=exp.select(explode), alias=exp.TableAlias(this=_sub(alias.this)))


def bind(spark_sql: str, values: Mapping[str, object]) -> str:
    """Translated SQL with each `:name` marker replaced by its value as a typed literal.

    Spark's own parameter markers cannot stand where a literal is required (a window
    frame's `INTERVAL n DAY`), so values are written into the tree, never into the text.
    """
    tree = _parse(spark_sql, "spark")
    missing = sorted({p.name for p in tree.find_all(exp.Placeholder)} - values.keys())
    if missing:
        raise ValueError(f"no value for parameter(s) {', '.join(missing)}")

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Interval):
            amount = node.this.unnest() if isinstance(node.this, exp.Paren) else node.this
            if isinstance(amount, exp.Placeholder):
                # `INTERVAL '14' DAY`: the literal form a window frame accepts.
                count = exp.Literal.string(str(values[amount.name]))
                return exp.Interval(this=count, unit=node.args["unit"].copy())
        if isinstance(node, exp.Placeholder) and node.name:
            return typed_literal(values[node.name])
        return node

    return tree.transform(replace).sql(dialect="spark", pretty=True)


def typed_literal(value: object) -> exp.Expression:
    """A Python value as a Spark literal of the type DuckDB would bind it as."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        return exp.cast(exp.Literal.number(repr(value)), "DOUBLE")
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP_NTZ")
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, list | tuple):
        if not value:
            return exp.cast(exp.Array(expressions=[]), "ARRAY<STRING>")
        return exp.Array(expressions=[typed_literal(v) for v in value])
    raise TypeError(f"no Spark literal for {type(value).__name__} {value!r}")
