"""Health page charts: plain numbers in, Plotly figure dicts out.

No database and no request here, so every figure is unit-tested on numbers worked out by
hand. The template embeds a figure with `{% plotly_chart fig "dom-id" %}` and
static/js/charts.js draws it. Plotly renders some HTML in labels and hover text, so any
text that could come from a user is escaped here before it reaches a figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.utils.html import escape

# The page's band colours (static/css/app.css), so a chart and a band pill agree.
BAND_COLOURS: dict[str, str] = {
    "red": "#c62f2f",
    "yellow": "#c98a00",
    "green": "#1f8a4c",
    "none": "#9aa3af",
}
BAND_LABELS: dict[str, str] = {
    "red": "Red",
    "yellow": "Yellow",
    "green": "Green",
    "none": "No score",
}
# Stacked from the bottom: red first, so the share at risk reads from the axis.
SCORED_BANDS = ("red", "yellow", "green")
ALL_BANDS = (*SCORED_BANDS, "none")

Number = int | float | Decimal
# Slices below this percentage of ARR get no text on the donut (their hover still tells).
MIN_LABELLED_SHARE = 3

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


def band_label(band: str) -> str:
    return escape(BAND_LABELS.get(band, band))


def day_label(day: dt.date) -> str:
    """ "31 Aug 2026": the axis label of a month-end bar."""
    return f"{day.day} {day:%b %Y}"


def band_distribution_figure(
    *, accounts: Mapping[str, int], arr: Mapping[str, Number]
) -> dict[str, Any]:
    """A donut of ARR per band, with the account count of each band in its hover text.

    Bands missing from the mappings count as zero; every band keeps its slot (and colour)
    so the legend reads the same on every page.
    """
    values = [float(arr.get(band, 0)) for band in ALL_BANDS]
    counts = [int(accounts.get(band, 0)) for band in ALL_BANDS]
    total = sum(values)
    # Plotly would print "0%" and "0.3%" on top of each other; thin slices keep their hover.
    shares = [100 * v / total if total else 0.0 for v in values]
    text = [f"{share:.0f}%" if share >= MIN_LABELLED_SHARE else "" for share in shares]
    return {
        "data": [
            {
                "type": "pie",
                "hole": 0.55,
                "sort": False,
                "direction": "clockwise",
                "labels": [band_label(band) for band in ALL_BANDS],
                "values": values,
                "customdata": counts,
                "text": text,
                "textinfo": "text",
                "textposition": "inside",
                "marker": {"colors": [BAND_COLOURS[band] for band in ALL_BANDS]},
                "hovertemplate": (
                    "%{label}: $%{value:,.0f} ARR<br>%{customdata} accounts<extra></extra>"
                ),
            }
        ],
        "layout": _layout(margin={"l": 16, "r": 16, "t": 16, "b": 16}, showlegend=True),
        "config": _CONFIG,
    }


def band_trend_figure(
    *,
    days: Sequence[dt.date],
    values: Mapping[str, Sequence[Number]],
    y_title: str,
    money: bool = False,
) -> dict[str, Any]:
    """Stacked bars per day (a month-end) of one measure per band: accounts or ARR.

    `values[band][i]` is the band's value on `days[i]`; a band missing from `values` is
    drawn as zeros. The x axis is categorical, labelled with each bar's own day: on a date
    axis a bar for 31 August sits under the "Sep" tick.
    """
    x = [day_label(day) for day in days]
    value_format = "$%{y:,.0f}" if money else "%{y:,}"
    traces = []
    for band in SCORED_BANDS:
        series = values.get(band) or [0] * len(days)
        if len(series) != len(days):
            raise ValueError(f"{band}: {len(series)} values for {len(days)} days")
        traces.append(
            {
                "type": "bar",
                "name": band_label(band),
                "x": x,
                "y": [float(v) if money else int(v) for v in series],
                "marker": {"color": BAND_COLOURS[band]},
                "hovertemplate": f"%{{x}} · {band_label(band)}: {value_format}<extra></extra>",
            }
        )
    yaxis: dict[str, Any] = {"title": {"text": escape(y_title)}, "rangemode": "tozero"}
    if money:
        yaxis["tickprefix"] = "$"
        yaxis["tickformat"] = "~s"
    return {
        "data": traces,
        "layout": _layout(
            barmode="stack",
            xaxis={"type": "category"},
            yaxis=yaxis,
        ),
        "config": _CONFIG,
    }
