"""Team performance and initiative figures: plain numbers in, Plotly figure dicts out.

No database and no request here. Plotly renders some HTML in labels and hover text, so CSM,
segment and metric names are escaped before they reach a figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.utils.html import escape

Number = int | float | Decimal

BAR_COLOUR = "#3b5bdb"
PREVIOUS_COLOUR = "#b6c2e8"
# The bottom of a ranked list: warm against the top's blue, and not the target's red.
BOTTOM_COLOUR = "#e8890c"
MEDIAN_COLOUR = "#495057"
TARGET_COLOUR = "#c62f2f"
SEGMENT_COLOUR = "#3b5bdb"
REST_COLOUR = "#868e96"

_FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13}
_CONFIG = {"displayModeBar": False}


def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "font": _FONT,
        "margin": {"l": 56, "r": 16, "t": 16, "b": 80},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "y": -0.35},
    }
    layout.update(extra)
    return layout


def _number(value: Number | None) -> float | None:
    return None if value is None else float(value)


def _value_format(unit: str) -> str:
    if unit == "$":
        return "$%{y:,.0f}"
    if unit == "%":
        return "%{y:.1f} %"
    if unit == "days":
        return "%{y:.1f} days"
    return "%{y:,.1f}"


def _distinct(names: Sequence[str]) -> list[str]:
    """Category labels, one per bar: a name that repeats gets " (2)", " (3)"..."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _series(
    *,
    name: str,
    x: Sequence[str],
    y: Sequence[float | None],
    colour: str,
    dots: bool,
    hollow: bool = False,
) -> dict[str, Any]:
    """One CSM series: bars, or dots where bars from zero would flatten the differences."""
    if not dots:
        return {"type": "bar", "name": name, "x": x, "y": y, "marker": {"color": colour}}
    marker: dict[str, Any] = {"color": colour, "size": 11}
    if hollow:
        marker.update(color="rgba(0,0,0,0)", line={"color": colour, "width": 2})
    return {"type": "scatter", "mode": "markers", "name": name, "x": x, "y": y, "marker": marker}


def team_metric_figure(
    *,
    names: Sequence[str],
    values: Sequence[Number | None],
    groups: Sequence[str] | None = None,
    unit: str = "",
    period_label: str = "",
    previous: Sequence[Number | None] | None = None,
    previous_label: str = "",
    targets: Sequence[Number | None] | None = None,
    median: Number | None = None,
    median_label: str = "Median",
) -> dict[str, Any]:
    """One bar per CSM for one metric, in the order given; the compared period as lighter
    bars beside them; each CSM's target (their own, their team's or the company's) as a red
    line across the bar where one applies; and the median of every CSM as a dashed line
    across the chart. A CSM with no value gets no bar, not a zero one.

    `groups` marks each bar "top" or "bottom" when the CSMs are the two ends of a longer
    list: each end gets its own colour and legend entry ("Top 10", "Bottom 10").

    Percentages (NRR, GRR, renewal rate, CSAT) sit close together far from zero, where bars
    would all look the same height: they are drawn as dots on an axis fitted to the values,
    the compared period as rings."""
    if len(values) != len(names):
        raise ValueError(f"{len(values)} values for {len(names)} CSMs")
    groups = list(groups) if groups is not None else ["all"] * len(names)
    if len(groups) != len(names):
        raise ValueError(f"{len(groups)} groups for {len(names)} CSMs")
    x = [escape(name) for name in _distinct(names)]
    dots = unit == "%"
    value_format = _value_format(unit)
    traces: list[dict[str, Any]] = []
    if previous is not None:
        if len(previous) != len(names):
            raise ValueError(f"{len(previous)} previous values for {len(names)} CSMs")
        traces.append(
            _series(
                name=escape(previous_label or "Compared period"),
                x=x,
                y=[_number(v) for v in previous],
                colour=PREVIOUS_COLOUR,
                dots=dots,
                hollow=True,
            )
            | {
                "offsetgroup": "previous",
                "hovertemplate": f"%{{x}}: {value_format}<extra>{escape(previous_label)}</extra>",
            }
        )
    label = escape(period_label or "Period")
    ends = [("top", "Top", BAR_COLOUR), ("bottom", "Bottom", BOTTOM_COLOUR)]
    if any(group in ("top", "bottom") for group in groups):
        for group, word, colour in ends:
            picked = [i for i, g in enumerate(groups) if g == group]
            name = f"{word} {len(picked)}, {label}"
            traces.append(
                _series(
                    name=name,
                    x=[x[i] for i in picked],
                    y=[_number(values[i]) for i in picked],
                    colour=colour,
                    dots=dots,
                )
                | {
                    "offsetgroup": "current",
                    "hovertemplate": f"%{{x}}: {value_format}<extra>{name}</extra>",
                }
            )
    else:
        traces.append(
            _series(name=label, x=x, y=[_number(v) for v in values], colour=BAR_COLOUR, dots=dots)
            | {
                "offsetgroup": "current",
                "hovertemplate": f"%{{x}}: {value_format}<extra>{label}</extra>",
            }
        )
    if median is not None and x:
        # From the first bar to the last; one bar gets a mark across it instead.
        span = [x[0], x[-1]] if len(x) > 1 else x
        traces.append(
            {
                "type": "scatter",
                "mode": "lines" if len(x) > 1 else "markers",
                "name": escape(median_label),
                "x": span,
                "y": [_number(median)] * len(span),
                "line": {"color": MEDIAN_COLOUR, "width": 2, "dash": "dash"},
                "marker": {"symbol": "line-ew", "size": 34, "line": {"width": 2}},
                "hovertemplate": f"{escape(median_label)}: {value_format}<extra></extra>",
            }
        )
    if targets is not None and any(t is not None for t in targets):
        if len(targets) != len(names):
            raise ValueError(f"{len(targets)} targets for {len(names)} CSMs")
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Target",
                "x": x,
                "y": [_number(t) for t in targets],
                "marker": {
                    "symbol": "line-ew",
                    "size": 34,
                    "line": {"width": 3, "color": TARGET_COLOUR},
                    "color": TARGET_COLOUR,
                },
                "hovertemplate": f"%{{x}} target: {value_format}<extra></extra>",
            }
        )
    # Bars start at zero to be read by their length; dots are read by their position.
    yaxis: dict[str, Any] = {} if dots else {"rangemode": "tozero", "zeroline": True}
    if unit == "$":
        yaxis.update(tickprefix="$", tickformat="~s")
    elif unit == "%":
        yaxis.update(ticksuffix=" %")
    return {
        "data": traces,
        "layout": _layout(
            barmode="group",
            # Names side by side collide from about five CSMs on a half-width chart.
            xaxis={
                "type": "category",
                "categoryorder": "array",
                "categoryarray": x,
                "tickangle": -35 if len(names) > 4 else 0,
                "automargin": True,
            },
            yaxis=yaxis,
            showlegend=len(traces) > 1,
        ),
        "config": _CONFIG,
    }


def initiative_figure(
    *,
    months: Sequence[dt.date],
    segment: Sequence[Number | None],
    rest: Sequence[Number | None],
    segment_label: str,
    metric_label: str,
    start: dt.date,
    end: dt.date | None = None,
    money: bool = False,
) -> dict[str, Any]:
    """The metric per month for the segment and for the rest of the portfolio (each point on
    its month's first day), with a dashed vertical line on the day the initiative started
    (and a dotted one on the day it ended, when that falls within the chart)."""
    if len(segment) != len(months) or len(rest) != len(months):
        raise ValueError("one value per month for each line")
    x = [month.isoformat() for month in months]
    value_format = "$%{y:,.0f}" if money else "%{y:,.1f}"
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": escape(segment_label),
            "x": x,
            "y": [_number(v) for v in segment],
            "line": {"color": SEGMENT_COLOUR, "width": 3},
            "connectgaps": False,
            "hovertemplate": f"%{{x|%b %Y}}: {value_format}<extra>{escape(segment_label)}</extra>",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Rest of the portfolio",
            "x": x,
            "y": [_number(v) for v in rest],
            "line": {"color": REST_COLOUR, "width": 2, "dash": "dot"},
            "connectgaps": False,
            "hovertemplate": f"%{{x|%b %Y}}: {value_format}<extra>Rest of the portfolio</extra>",
        },
    ]
    shapes = [_vertical(start, "dash")]
    annotations = [_marker_label(start, "Start")]
    if end is not None and months and end < month_after(months[-1]):
        shapes.append(_vertical(end, "dot"))
        annotations.append(_marker_label(end, "End"))
    yaxis: dict[str, Any] = {"title": {"text": escape(metric_label)}}
    if money:
        yaxis.update(tickprefix="$", tickformat="~s")
    return {
        "data": traces,
        "layout": _layout(
            xaxis={"type": "date", "tickformat": "%b %Y", "dtick": "M1"},
            yaxis=yaxis,
            shapes=shapes,
            annotations=annotations,
            margin={"l": 56, "r": 16, "t": 28, "b": 60},
            legend={"orientation": "h", "y": -0.2},
        ),
        "config": _CONFIG,
    }


def month_after(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _vertical(month: dt.date, dash: str) -> dict[str, Any]:
    return {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": month.isoformat(),
        "x1": month.isoformat(),
        "y0": 0,
        "y1": 1,
        "line": {"color": TARGET_COLOUR, "width": 2, "dash": dash},
    }


def _marker_label(month: dt.date, text: str) -> dict[str, Any]:
    return {
        "x": month.isoformat(),
        "xref": "x",
        "y": 1,
        "yref": "paper",
        "yanchor": "bottom",
        "text": text,
        "showarrow": False,
        "font": {"color": TARGET_COLOUR},
    }
