"""Feedback page charts: plain numbers in, Plotly figure dicts out.

No database and no request here, so every figure is unit-tested on numbers worked out by
hand. The template embeds a figure with `{% plotly_chart fig "dom-id" %}` and
static/js/charts.js draws it. Plotly renders some HTML in labels and hover text, so text
that could come from a user is escaped before it reaches a figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.utils.html import escape

RED = "#c62f2f"
YELLOW = "#c98a00"
GREEN = "#1f8a4c"
BRAND = "#2f5bd3"
COUNT_BARS = "rgba(154, 163, 175, 0.45)"

# The score axis of each kind: its whole scale, so months compare at a glance.
SCORE_RANGES: dict[str, tuple[float, float]] = {
    "nps": (-100, 100),
    "csat": (0, 100),
    "ces": (1, 7),
}
SCORE_TITLES: dict[str, str] = {"nps": "NPS", "csat": "CSAT (%)", "ces": "CES (mean)"}

_FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13}
_CONFIG = {"displayModeBar": False}


def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "font": _FONT,
        "margin": {"l": 56, "r": 56, "t": 16, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "y": -0.18},
    }
    layout.update(extra)
    return layout


def month_label(month: dt.date) -> str:
    return f"{month:%b %Y}"


def score_trend_figure(
    *,
    kind: str,
    months: Sequence[dt.date],
    scores: Sequence[Decimal | float | None],
    counts: Sequence[int],
) -> dict[str, Any]:
    """The score per month as a line on the left axis and the number of answers behind it as
    bars on the right axis. A month without answers has no point (a gap), never a zero."""
    if not (len(months) == len(scores) == len(counts)):
        raise ValueError(f"{len(months)} months, {len(scores)} scores, {len(counts)} counts")
    x = [month_label(month) for month in months]
    title = SCORE_TITLES.get(kind, escape(kind))
    low, high = SCORE_RANGES.get(kind, (0, 100))
    return {
        "data": [
            {
                "type": "bar",
                "name": "Answers",
                "x": x,
                "y": [int(n) for n in counts],
                "yaxis": "y2",
                "marker": {"color": COUNT_BARS},
                "hovertemplate": "%{x}: %{y:,} answers<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": title,
                "x": x,
                "y": [None if s is None else float(s) for s in scores],
                "connectgaps": False,
                "line": {"color": BRAND, "width": 3},
                "hovertemplate": f"%{{x}}: {title} %{{y:.1f}}<extra></extra>",
            },
        ],
        "layout": _layout(
            xaxis={"type": "category"},
            yaxis={"title": {"text": title}, "range": [low, high], "zeroline": kind == "nps"},
            yaxis2={
                "title": {"text": "Answers"},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "showgrid": False,
                # Its own whole-number ticks, not ones aligned with the score axis.
                "tickmode": "auto",
                "tickformat": ",d",
            },
        ),
        "config": _CONFIG,
    }


def _score_colour(kind: str, score: int) -> str:
    if kind == "nps":
        return RED if score <= 6 else YELLOW if score <= 8 else GREEN
    if kind == "csat":
        return RED if score <= 2 else YELLOW if score == 3 else GREEN
    return BRAND


def score_distribution_figure(*, kind: str, counts: Mapping[int, int]) -> dict[str, Any]:
    """A bar per point of the scale, coloured by group (detractors red, passives yellow,
    promoters green for NPS; the same for unsatisfied, neutral and satisfied CSAT)."""
    scores = sorted(counts)
    return {
        "data": [
            {
                "type": "bar",
                "name": "Answers",
                "x": [str(score) for score in scores],
                "y": [int(counts[score]) for score in scores],
                "marker": {"color": [_score_colour(kind, score) for score in scores]},
                "hovertemplate": "Score %{x}: %{y:,} answers<extra></extra>",
            }
        ],
        "layout": _layout(
            margin={"l": 48, "r": 16, "t": 16, "b": 40},
            showlegend=False,
            xaxis={"type": "category", "title": {"text": "Score"}},
            yaxis={"title": {"text": "Answers"}, "rangemode": "tozero"},
        ),
        "config": _CONFIG,
    }
