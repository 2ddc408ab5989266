"""The monthly report's charts: parts of the frozen report dict in, Plotly figure dicts out.

Pure functions (no database, no request), so the page (drawn by static/js/charts.js) and
the PDF (exported to SVG by kaleido, reports/pdf.py) draw the same figures from the same
frozen numbers. No text in these figures comes from users: labels are months and fixed
words, so nothing needs escaping here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

# The page's colours (static/css/app.css), so charts and band pills agree.
BRAND = "#2f5bd3"
INK = "#1d2330"
MUTED = "#9aa3af"
BAND_COLOURS = {"red": "#c62f2f", "yellow": "#c98a00", "green": "#1f8a4c"}
UP = "#1f8a4c"
DOWN = "#c62f2f"
TOTAL = "#2f5bd3"

_FONT = {
    "family": "DejaVu Sans, system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
    "size": 12,
}
_CONFIG = {"displayModeBar": False}


def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "font": _FONT,
        "margin": {"l": 56, "r": 56, "t": 16, "b": 48},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "y": -0.2},
    }
    layout.update(extra)
    return layout


def month_tick(key: str) -> str:
    """ "2026-10" -> "Oct 2026"."""
    year, month = key.split("-")
    return f"{dt.date(int(year), int(month), 1):%b %Y}"


def bridge_range(bridge: Mapping[str, float | None]) -> list[float]:
    """The y range of the waterfall: around the levels the bridge passes through, not from
    zero, so a $10,000 expansion on $8,000,000 of ARR is still visible (the start and end
    bars are cut at the bottom, as on any bridge chart)."""
    start = bridge.get("start") or 0
    levels = [start]
    for key, sign in (("new", 1), ("expansion", 1), ("contraction", -1), ("churned", -1)):
        levels.append(levels[-1] + sign * (bridge.get(key) or 0))
    low, high = min(levels), max(levels)
    pad = max(high - low, 0.02 * high, 1.0) * 0.6
    return [max(0.0, low - pad), high + pad]


def arr_bridge_figure(bridge: Mapping[str, float | None]) -> dict[str, Any]:
    """The month's ARR bridge as a waterfall: start, new, expansion, contraction, churned,
    end. Contraction and churn are drawn as falls; start and end as totals."""
    steps = [
        ("Start ARR", "absolute", bridge.get("start") or 0),
        ("New", "relative", bridge.get("new") or 0),
        ("Expansion", "relative", bridge.get("expansion") or 0),
        ("Contraction", "relative", -(bridge.get("contraction") or 0)),
        ("Churned", "relative", -(bridge.get("churned") or 0)),
        ("End ARR", "total", bridge.get("end") or 0),
    ]
    return {
        "data": [
            {
                "type": "waterfall",
                "x": [label for label, _measure, _value in steps],
                "measure": [measure for _label, measure, _value in steps],
                # The total bar is computed by Plotly from the steps; its value is ignored.
                "y": [0 if measure == "total" else value for _label, measure, value in steps],
                "text": [f"${abs(value):,.0f}" for _label, _measure, value in steps],
                "textposition": "outside",
                "connector": {"line": {"color": MUTED}},
                "increasing": {"marker": {"color": UP}},
                "decreasing": {"marker": {"color": DOWN}},
                "totals": {"marker": {"color": TOTAL}},
                "hovertemplate": "%{x}: %{text}<extra></extra>",
            }
        ],
        "layout": _layout(
            showlegend=False,
            yaxis={"tickprefix": "$", "tickformat": "~s", "range": bridge_range(bridge)},
            xaxis={"type": "category"},
        ),
        "config": _CONFIG,
    }


def retention_trend_figure(trend: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """NRR and GRR (left axis) and logo churn (right axis) per month, in %; a month without
    a value leaves a gap rather than a zero."""
    x = [month_tick(key) for key in trend["months"]]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "NRR %",
                "x": x,
                "y": list(trend["nrr"]),
                "line": {"color": BRAND},
                "hovertemplate": "%{x}: NRR %{y:.1f} %<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "GRR %",
                "x": x,
                "y": list(trend["grr"]),
                "line": {"color": UP},
                "hovertemplate": "%{x}: GRR %{y:.1f} %<extra></extra>",
            },
            {
                "type": "bar",
                "name": "Logo churn % (right axis)",
                "x": x,
                "y": list(trend["logo_churn"]),
                "yaxis": "y2",
                "marker": {"color": DOWN, "opacity": 0.35},
                "hovertemplate": "%{x}: logo churn %{y:.1f} %<extra></extra>",
            },
        ],
        "layout": _layout(
            xaxis={"type": "category"},
            yaxis={"title": {"text": "NRR / GRR %"}, "ticksuffix": " %"},
            yaxis2={
                "title": {"text": "Logo churn %"},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "showgrid": False,
                "tickmode": "auto",
                "tickformat": ".1f",
                "ticksuffix": " %",
            },
        ),
        "config": _CONFIG,
    }


def feedback_trend_figure(trend: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """NPS and CSAT per month as lines (left axis), answers per month as bars (right axis):
    a score on 3 answers is read differently from one on 300."""
    x = [month_tick(key) for key in trend["months"]]
    answers = [n + c for n, c in zip(trend["nps_answers"], trend["csat_answers"], strict=True)]
    return {
        "data": [
            {
                "type": "bar",
                "name": "Answers (right axis)",
                "x": x,
                "y": answers,
                "yaxis": "y2",
                "marker": {"color": MUTED, "opacity": 0.35},
                "hovertemplate": "%{x}: %{y} answers<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "NPS",
                "x": x,
                "y": list(trend["nps"]),
                "customdata": list(trend["nps_answers"]),
                "line": {"color": BRAND},
                "hovertemplate": "%{x}: NPS %{y:.1f} on %{customdata} answers<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "CSAT %",
                "x": x,
                "y": list(trend["csat"]),
                "customdata": list(trend["csat_answers"]),
                "line": {"color": UP},
                "hovertemplate": "%{x}: CSAT %{y:.1f} % on %{customdata} answers<extra></extra>",
            },
        ],
        "layout": _layout(
            xaxis={"type": "category"},
            yaxis={"title": {"text": "NPS / CSAT %"}, "range": [-100, 100]},
            yaxis2={
                "title": {"text": "Answers"},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "showgrid": False,
                "tickmode": "auto",
                "tickformat": ",d",
            },
        ),
        "config": _CONFIG,
    }


def health_bands_figure(
    bands: Sequence[Mapping[str, Any]], previous: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Accounts per band at the month's end beside the previous month's, band-coloured."""
    labels = [band["label"] for band in bands]
    before = {band["band"]: band["accounts"] for band in previous}
    colours = [BAND_COLOURS.get(band["band"], MUTED) for band in bands]
    return {
        "data": [
            {
                "type": "bar",
                "name": "Previous month",
                "x": labels,
                "y": [before.get(band["band"], 0) for band in bands],
                "marker": {"color": colours, "opacity": 0.35},
                "hovertemplate": "%{x}, previous month: %{y} accounts<extra></extra>",
            },
            {
                "type": "bar",
                "name": "This month",
                "x": labels,
                "y": [band["accounts"] for band in bands],
                "text": [f"${band['arr'] or 0:,.0f}" for band in bands],
                "textposition": "outside",
                "marker": {"color": colours},
                "hovertemplate": "%{x}: %{y} accounts, %{text} ARR<extra></extra>",
            },
        ],
        # A legend would show the first band's colour for both series; the caption says
        # which bar is which (pale: the previous month).
        "layout": _layout(
            showlegend=False,
            barmode="group",
            xaxis={"type": "category"},
            yaxis={"title": {"text": "Accounts"}, "rangemode": "tozero"},
        ),
        "config": _CONFIG,
    }


def report_figures(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every chart of the report, by name, from the frozen dict."""
    return {
        "bridge": arr_bridge_figure(data["retention"]["bridge"]),
        "retention_trend": retention_trend_figure(data["retention"]["trend"]),
        "feedback_trend": feedback_trend_figure(data["feedback"]["trend"]),
        "health_bands": health_bands_figure(
            data["health"]["bands"], data["health"]["previous_bands"]
        ),
    }
