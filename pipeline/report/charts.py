"""Plotly figures for the report. The only module that imports plotly.

Escaping: plotly serialises figure data with `<`, `>` and `/` as `\\u003c`, `\\u003e`,
`\\u002f`, so no value can close the `<script>` it sits in. plotly.js then renders text
with a small HTML-like markup (`<b>`, `<br>`, links); labels from the logs are therefore
HTML-escaped first, which plotly.js shows as the literal characters.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files

import plotly.graph_objects as go
import polars as pl

from pipeline.settings import Settings

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_CONFIG = {"displaylogo": False, "responsive": True}
_MARGIN = {"l": 60, "r": 20, "t": 30, "b": 50}


#: The plotly.js bundle the report embeds: the official "cartesian" partial bundle
#: (npm `plotly.js-cartesian-dist-min`), of the plotly.js version the plotly package
#: ships, vendored under `vendor/` with its MIT licence. 1.5 MB instead of the full
#: bundle's 4.8 MB; it holds every trace type the report draws (`TRACE_TYPES`).
PLOTLY_JS = "plotly-cartesian-4.1.1.min.js"
#: Its SHA-256, as the npm tarball (integrity checked against the registry) held it.
PLOTLY_JS_SHA256 = "79542150855a52c567260e3137095dbe2b744e6d702a5cabe67da246942fba7a"
#: The trace types the report's charts use; a test checks the bundle registers each.
TRACE_TYPES = ("bar", "heatmap")


def plotly_js() -> str:
    """The plotly.js bundle, embedded once per report so it opens offline; refused when
    the vendored file is not the one recorded (`PLOTLY_JS_SHA256`)."""
    data = files("pipeline.report").joinpath("vendor", PLOTLY_JS).read_bytes()
    if hashlib.sha256(data).hexdigest() != PLOTLY_JS_SHA256:
        raise RuntimeError(f"pipeline/report/vendor/{PLOTLY_JS} is not the recorded bundle")
    return data.decode("utf-8")


def escape_labels(values: pl.Series) -> list[str]:
    """Labels from the logs made inert for plotly.js text rendering (`<` -> `&lt;` …)."""
    escaped = (
        values.cast(pl.String)
        .fill_null("(no originating user)")
        .str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )
    return escaped.to_list()


def _html(fig: go.Figure, div_id: str) -> str:
    html: str = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG)
    return html


def no_data(div_id: str) -> str:
    """What a chart shows when it has nothing to draw: words, not empty axes."""
    return (
        f'<div class="chart-empty" id="{div_id}">'
        "<p>No data: no tenant-key call in this period.</p></div>"
    )


def key_calls_over_time(frame: pl.DataFrame, bucket: str, zone: str = "UTC") -> str:
    """Stacked bars of tenant-key calls per hour or day of `zone` (the report's clock: UTC,
    or the tenant's zone under `--clock local`), one colour per operation. The frame's
    bucket starts are UTC instants; the axis shows them as `zone`'s wall-clock time and
    its title names the zone."""
    if frame.is_empty():
        return no_data("chart-key-calls-over-time")
    if zone != "UTC":
        frame = frame.with_columns(
            pl.col("bucket_start")
            .dt.replace_time_zone("UTC")
            .dt.convert_time_zone(zone)
            .dt.replace_time_zone(None)
        )
    fig = go.Figure()
    for (operation,), part in frame.group_by("operation", maintain_order=True):
        fig.add_bar(
            x=part["bucket_start"].to_list(),
            y=part["key_calls"].to_list(),
            name=escape_labels(pl.Series([operation]))[0],
        )
    title = f"UTC {bucket}" if zone == "UTC" else f"{bucket}, tenant clock ({zone})"
    fig.update_layout(
        barmode="stack",
        xaxis_title=title,
        yaxis_title="tenant-key calls",
        legend_title_text="operation",
        margin=_MARGIN,
        height=360,
    )
    return _html(fig, "chart-key-calls-over-time")


def weekday_hour_heatmap(frame: pl.DataFrame, settings: Settings) -> str:
    """Calls by weekday x hour on the tenant's clock; working hours outlined."""
    if frame.is_empty():
        return no_data("chart-weekday-hour")
    grid = [[0] * 24 for _ in WEEKDAYS]
    for weekday, hour, calls in frame.select("weekday", "hour", "key_calls").iter_rows():
        grid[weekday - 1][hour] = calls  # at most 7 x 24 cells
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            x=list(range(24)),
            y=list(WEEKDAYS),
            colorscale="Blues",
            colorbar={"title": {"text": "calls"}},
            hovertemplate="%{y} %{x}:00 — %{z} calls<extra></extra>",
        )
    )
    for day in settings.work_days:
        fig.add_shape(
            type="rect",
            x0=settings.work_start - 0.5,
            x1=settings.work_end - 0.5,
            y0=day - 1.5,
            y1=day - 0.5,
            line={"color": "#d9480f", "width": 1.5},
        )
    fig.update_layout(
        xaxis={"title": {"text": f"hour, tenant clock ({settings.timezone})"}, "dtick": 2},
        yaxis={"autorange": "reversed", "title": {"text": "weekday, tenant clock"}},
        margin=_MARGIN,
        height=300,
    )
    return _html(fig, "chart-weekday-hour")


def top_users(frame: pl.DataFrame, limit: int = 10) -> str:
    """Horizontal bars: the users behind the most tenant-key calls."""
    if frame.is_empty():
        return no_data("chart-top-users")
    top = frame.head(limit)
    fig = go.Figure(
        go.Bar(
            x=top["key_calls"].to_list(),
            y=escape_labels(top["user_id"]),
            orientation="h",
            marker={"color": "#3b6ea8"},
            hovertemplate="%{y}: %{x} calls<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title="tenant-key calls",
        yaxis={"autorange": "reversed", "automargin": True},
        margin=_MARGIN,
        height=max(220, 28 * top.height + 80),
    )
    return _html(fig, "chart-top-users")
