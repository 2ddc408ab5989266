"""Dashboard charts: plain numbers in, Plotly figure dicts out.

No database and no request here, so every figure is unit-tested on numbers worked out by
hand. Templates embed a figure with `{% plotly_chart fig "dom-id" "label" %}` and
static/js/charts.js draws it. Months are categorical x values ("Nov 2026"): a missing
value is a gap in a line, never a zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.utils.html import escape

BRAND = "#2f5bd3"
TEAL = "#0f8b8d"
RED = "#c62f2f"
YELLOW = "#c98a00"
GREEN = "#1f8a4c"
GREY = "#6b7280"
COUNT_BARS = "rgba(154, 163, 175, 0.45)"
CSAT_BARS = "rgba(15, 139, 141, 0.25)"
BAND_COLOURS: dict[str, str] = {"red": RED, "yellow": YELLOW, "green": GREEN}
BAND_LABELS: dict[str, str] = {"red": "Red", "yellow": "Yellow", "green": "Green"}
# Stacked from the bottom: red first, so the share at risk reads from the axis.
BANDS = ("red", "yellow", "green")

Number = int | float | Decimal
Series = Sequence[Number | None]

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


def _floats(values: Series) -> list[float | None]:
    return [None if value is None else float(value) for value in values]


def _check(months: Sequence[dt.date], **series: Sequence[Any]) -> None:
    for name, values in series.items():
        if len(values) != len(months):
            raise ValueError(f"{name}: {len(values)} values for {len(months)} months")


def retention_trend_figure(
    *,
    months: Sequence[dt.date],
    nrr: Series,
    grr: Series,
    logo_churn: Series,
) -> dict[str, Any]:
    """NRR and GRR per month as lines on the left axis (%), logo churn as bars on the
    right axis (%), which has its own, much smaller, scale."""
    _check(months, nrr=nrr, grr=grr, logo_churn=logo_churn)
    x = [month_label(month) for month in months]
    # Churn is a few percent at most: its own axis from 0, at least 0–1 % so months without
    # churn do not get a scale of invented fractions.
    churn_top = max([float(v) for v in logo_churn if v is not None] + [0.8]) * 1.25
    return {
        "data": [
            {
                "type": "bar",
                "name": "Logo churn",
                "x": x,
                "y": _floats(logo_churn),
                "yaxis": "y2",
                "marker": {"color": "rgba(198, 47, 47, 0.35)"},
                "hovertemplate": "%{x}: logo churn %{y:.1f} %<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "NRR",
                "x": x,
                "y": _floats(nrr),
                "connectgaps": False,
                "line": {"color": BRAND, "width": 3},
                "hovertemplate": "%{x}: NRR %{y:.1f} %<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "GRR",
                "x": x,
                "y": _floats(grr),
                "connectgaps": False,
                "line": {"color": TEAL, "width": 3, "dash": "dot"},
                "hovertemplate": "%{x}: GRR %{y:.1f} %<extra></extra>",
            },
        ],
        "layout": _layout(
            xaxis={"type": "category"},
            yaxis={"title": {"text": "NRR / GRR (%)"}, "ticksuffix": " %"},
            yaxis2={
                "title": {"text": "Logo churn (%)"},
                "overlaying": "y",
                "side": "right",
                "range": [0, churn_top],
                "showgrid": False,
                "ticksuffix": " %",
            },
        ),
        "config": _CONFIG,
    }


def feedback_trend_figure(
    *,
    months: Sequence[dt.date],
    nps: Series,
    csat: Series,
    nps_answers: Sequence[int],
    csat_answers: Sequence[int],
) -> dict[str, Any]:
    """NPS and CSAT per month as lines on one axis (NPS on −100…100, CSAT on 0…100 %), the
    answers behind each as bars on the right axis, so a swing on five answers reads as such."""
    _check(months, nps=nps, csat=csat, nps_answers=nps_answers, csat_answers=csat_answers)
    x = [month_label(month) for month in months]
    return {
        "data": [
            {
                "type": "bar",
                "name": "NPS answers",
                "x": x,
                "y": [int(n) for n in nps_answers],
                "yaxis": "y2",
                "marker": {"color": COUNT_BARS},
                "hovertemplate": "%{x}: %{y:,} NPS answers<extra></extra>",
            },
            {
                "type": "bar",
                "name": "CSAT answers",
                "x": x,
                "y": [int(n) for n in csat_answers],
                "yaxis": "y2",
                "marker": {"color": CSAT_BARS},
                "hovertemplate": "%{x}: %{y:,} CSAT answers<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "NPS",
                "x": x,
                "y": _floats(nps),
                "connectgaps": False,
                "line": {"color": BRAND, "width": 3},
                "hovertemplate": "%{x}: NPS %{y:.1f}<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "CSAT %",
                "x": x,
                "y": _floats(csat),
                "connectgaps": False,
                "line": {"color": TEAL, "width": 3},
                "hovertemplate": "%{x}: CSAT %{y:.1f} %<extra></extra>",
            },
        ],
        "layout": _layout(
            barmode="group",
            xaxis={"type": "category"},
            yaxis={"title": {"text": "NPS / CSAT %"}, "range": [-100, 100], "zeroline": True},
            yaxis2={
                "title": {"text": "Answers"},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "showgrid": False,
                "tickformat": ",d",
            },
        ),
        "config": _CONFIG,
    }


def band_history_figure(
    *,
    months: Sequence[dt.date],
    values: Mapping[str, Sequence[Number]],
    money: bool = False,
) -> dict[str, Any]:
    """Stacked bars per month of accounts (or ARR) per band, on each month's last scored
    day; a band missing from `values` is drawn as zeros."""
    x = [month_label(month) for month in months]
    value_format = "$%{y:,.0f}" if money else "%{y:,}"
    traces = []
    for band in BANDS:
        series = values.get(band) or [0] * len(months)
        _check(months, **{band: series})
        traces.append(
            {
                "type": "bar",
                "name": BAND_LABELS[band],
                "x": x,
                "y": [float(v) if money else int(v) for v in series],
                "marker": {"color": BAND_COLOURS[band]},
                "hovertemplate": f"%{{x}} · {BAND_LABELS[band]}: {value_format}<extra></extra>",
            }
        )
    yaxis: dict[str, Any] = {
        "title": {"text": "ARR" if money else "Accounts"},
        "rangemode": "tozero",
    }
    if money:
        yaxis["tickprefix"] = "$"
        yaxis["tickformat"] = "~s"
    return {
        "data": traces,
        "layout": _layout(barmode="stack", xaxis={"type": "category"}, yaxis=yaxis),
        "config": _CONFIG,
    }


BRIDGE_STEPS = ("Start ARR", "New", "Expansion", "Contraction", "Churned", "End ARR")


def arr_bridge_figure(
    *,
    start: Number,
    new: Number,
    expansion: Number,
    contraction: Number,
    churned: Number,
    end: Number,
    period_label: str = "",
) -> dict[str, Any]:
    """The ARR bridge as a waterfall: start, + new, + expansion, − contraction, − churned,
    and the end as a total bar. Contraction and churn come in as positive amounts and are
    drawn as falls. The end bar is Plotly's running total; `end` is only its label, so a
    bridge that does not reconcile would show two different numbers, not hide it."""
    values = [
        float(start),
        float(new),
        float(expansion),
        -float(contraction),
        -float(churned),
        float(end),
    ]
    text = [f"${abs(value):,.0f}" for value in values]
    # The running total after each step: the bars float between these levels.
    levels = [values[0]]
    for step in values[1:5]:
        levels.append(levels[-1] + step)
    for index in (3, 4):
        if values[index]:
            text[index] = f"−${abs(values[index]):,.0f}"
    return {
        "data": [
            {
                "type": "waterfall",
                "name": escape(period_label) or "ARR bridge",
                "orientation": "v",
                "measure": ["absolute", "relative", "relative", "relative", "relative", "total"],
                "x": list(BRIDGE_STEPS),
                "y": values,
                "text": text,
                "textposition": "outside",
                "connector": {"line": {"color": GREY, "width": 1}},
                "increasing": {"marker": {"color": GREEN}},
                "decreasing": {"marker": {"color": RED}},
                "totals": {"marker": {"color": BRAND}},
                "hovertemplate": "%{x}: %{text}<extra></extra>",
            }
        ],
        "layout": _layout(
            showlegend=False,
            xaxis={"type": "category"},
            yaxis=_bridge_axis(levels),
        ),
        "config": _CONFIG,
    }


def _bridge_axis(levels: Sequence[float]) -> dict[str, Any]:
    """The y axis of a bridge. A month moves a few percent of the book: from zero, the steps
    would be slivers on top of two tall bars, so when they are small the axis starts near
    the lowest level (the bars' feet are cut, as in any finance deck)."""
    axis: dict[str, Any] = {"title": {"text": "ARR"}, "tickprefix": "$", "tickformat": "~s"}
    low, high = min(levels), max(levels)
    spread = high - low
    if low > 0 and spread < 0.25 * high:
        margin = max(spread, 0.01 * high)
        axis["range"] = [max(0.0, low - 1.5 * margin), high + 0.6 * margin]
    return axis


def health_trend_figure(*, months: Sequence[dt.date], average: Series) -> dict[str, Any]:
    """Average health per month (0–100), with the band thresholds as shaded ranges."""
    _check(months, average=average)
    x = [month_label(month) for month in months]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "Average health",
                "x": x,
                "y": _floats(average),
                "connectgaps": False,
                "line": {"color": BRAND, "width": 3},
                "hovertemplate": "%{x}: average health %{y:.1f}<extra></extra>",
            }
        ],
        "layout": _layout(
            showlegend=False,
            xaxis={"type": "category"},
            yaxis={"title": {"text": "Average health"}, "range": [0, 100]},
            shapes=[
                _band_shape(0, 40, RED),
                _band_shape(40, 70, YELLOW),
                _band_shape(70, 100, GREEN),
            ],
        ),
        "config": _CONFIG,
    }


def _band_shape(low: int, high: int, colour: str) -> dict[str, Any]:
    return {
        "type": "rect",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "yref": "y",
        "y0": low,
        "y1": high,
        "fillcolor": colour,
        "opacity": 0.07,
        "line": {"width": 0},
        "layer": "below",
    }
