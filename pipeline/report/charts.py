"""Plotly figures for the report. The only module that imports plotly."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.offline import get_plotlyjs


def plotly_js() -> str:
    """The plotly.js bundle, embedded once per report so it opens offline."""
    js: str = get_plotlyjs()
    return js


def key_calls_per_day(frame: pl.DataFrame) -> str:
    """Stacked bars of tenant-key calls per day by operation, as an HTML fragment."""
    fig = go.Figure()
    for (operation,), part in frame.group_by("operation", maintain_order=True):
        fig.add_bar(x=part["day"].to_list(), y=part["calls"].to_list(), name=str(operation))
    fig.update_layout(
        barmode="stack",
        xaxis_title="UTC day",
        yaxis_title="tenant-key calls",
        margin={"l": 40, "r": 20, "t": 20, "b": 40},
        height=380,
    )
    html: str = fig.to_html(full_html=False, include_plotlyjs=False, div_id="key-calls-per-day")
    return html
