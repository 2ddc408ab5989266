"""Journeys page charts: plain numbers in, Plotly figure dicts out.

No database and no request here, so every figure is unit-tested on numbers worked out by
hand. Stage names are typed by admins and Plotly renders some HTML in labels, so they are
escaped here before they reach a figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.utils.html import escape

Number = int | float | Decimal

BRAND = "#2f5bd3"
MUTED = "#9aa3af"
TARGET = "#c62f2f"
P90 = "#8fa6e8"

_FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13}
_CONFIG = {"displayModeBar": False}


def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "font": _FONT,
        "margin": {"l": 56, "r": 16, "t": 16, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "y": -0.15},
    }
    layout.update(extra)
    return layout


def month_label(month: dt.date) -> str:
    """ "Mar 2026": the axis label of a month."""
    return f"{month:%b %Y}"


def funnel_figure(
    *, labels: Sequence[str], accounts: Sequence[int], arr: Sequence[Number]
) -> dict[str, Any]:
    """A funnel of accounts per stage, in journey order, with each stage's ARR on hover."""
    if not len(labels) == len(accounts) == len(arr):
        raise ValueError("labels, accounts and arr must have the same length")
    names = [escape(label) for label in labels]
    return {
        "data": [
            {
                "type": "funnel",
                "y": names,
                "x": [int(n) for n in accounts],
                "customdata": [float(value) for value in arr],
                "textinfo": "value",
                "marker": {"color": BRAND},
                "connector": {"fillcolor": "#dfe6fa"},
                "hovertemplate": (
                    "%{y}: %{x:,} accounts<br>$%{customdata:,.0f} ARR<extra></extra>"
                ),
            }
        ],
        "layout": _layout(margin={"l": 140, "r": 16, "t": 8, "b": 8}, showlegend=False),
        "config": _CONFIG,
    }


def time_in_stage_figure(
    *,
    labels: Sequence[str],
    medians: Sequence[float | None],
    p90s: Sequence[float | None],
    targets: Sequence[int | None],
) -> dict[str, Any]:
    """Median and 90th percentile days per stage as grouped bars, the target as a marker.

    A stage with no completed stay has no bar (None becomes a gap, not a zero); a stage with
    no target has no marker.
    """
    if not len(labels) == len(medians) == len(p90s) == len(targets):
        raise ValueError("labels, medians, p90s and targets must have the same length")
    names = [escape(label) for label in labels]
    return {
        "data": [
            {
                "type": "bar",
                "name": "Median",
                "x": names,
                "y": [None if v is None else round(float(v), 1) for v in medians],
                "marker": {"color": BRAND},
                "hovertemplate": "%{x}: median %{y} days<extra></extra>",
            },
            {
                "type": "bar",
                "name": "90th percentile",
                "x": names,
                "y": [None if v is None else round(float(v), 1) for v in p90s],
                "marker": {"color": P90},
                "hovertemplate": "%{x}: 90th percentile %{y} days<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Target",
                "x": names,
                "y": [None if t is None else int(t) for t in targets],
                "marker": {
                    "color": TARGET,
                    "symbol": "line-ew-open",
                    "size": 28,
                    "line": {"width": 3},
                },
                "hovertemplate": "%{x}: target %{y} days<extra></extra>",
            },
        ],
        "layout": _layout(
            barmode="group",
            xaxis={"type": "category"},
            yaxis={"title": {"text": "Days in stage"}, "rangemode": "tozero"},
        ),
        "config": _CONFIG,
    }


def time_to_value_figure(
    *,
    months: Sequence[dt.date],
    medians: Sequence[float | None],
    accounts: Sequence[int],
) -> dict[str, Any]:
    """Median days to value per month of onboarding completion; the count of accounts on
    hover. A month with no completion has no bar."""
    if not len(months) == len(medians) == len(accounts):
        raise ValueError("months, medians and accounts must have the same length")
    return {
        "data": [
            {
                "type": "bar",
                "name": "Median days to value",
                "x": [month_label(m) for m in months],
                "y": [None if v is None else round(float(v), 1) for v in medians],
                "customdata": [int(n) for n in accounts],
                "marker": {"color": BRAND},
                "hovertemplate": (
                    "%{x}: median %{y} days<br>%{customdata} accounts<extra></extra>"
                ),
            }
        ],
        "layout": _layout(
            xaxis={"type": "category"},
            yaxis={"title": {"text": "Days from start"}, "rangemode": "tozero"},
            showlegend=False,
        ),
        "config": _CONFIG,
    }
