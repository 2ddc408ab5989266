"""The health trend chart of one account: numbers in, a Plotly figure dict out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

BAND_COLOURS = {"red": "#c62f2f", "yellow": "#c98a00", "green": "#1f8a4c"}


def health_trend_figure(
    history: Sequence[dict[str, Any]],
    version_changes: Sequence[dict[str, Any]],
    *,
    red_below: int = 40,
    green_from: int = 70,
) -> dict[str, Any]:
    """Score per day with the band zones shaded and a dashed line at each scorecard change.

    Where an override was shown, the computed score is drawn too so both are visible.
    """
    days = [row["day"].isoformat() for row in history]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Health score",
            "x": days,
            "y": [row["score"] for row in history],
            "line": {"color": "#2f5bd3", "width": 2},
            "marker": {"size": 4, "color": [BAND_COLOURS[row["band"]] for row in history]},
            "hovertemplate": "%{x}: %{y}<extra></extra>",
        }
    ]
    if any(row["computed"] != row["score"] for row in history):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Computed (before override)",
                "x": days,
                "y": [row["computed"] for row in history],
                "line": {"color": "#9aa3af", "dash": "dot"},
            }
        )
    zones = [(0, red_below, "red"), (red_below, green_from, "yellow"), (green_from, 100, "green")]
    shapes: list[dict[str, Any]] = [
        {
            "type": "rect",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "yref": "y",
            "y0": low,
            "y1": high,
            "fillcolor": BAND_COLOURS[band],
            "opacity": 0.07,
            "line": {"width": 0},
            "layer": "below",
        }
        for low, high, band in zones
    ]
    annotations = []
    for change in version_changes:
        day = change["day"].isoformat()
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "x0": day,
                "x1": day,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": "#5f6b7a", "dash": "dash", "width": 1},
            }
        )
        annotations.append(
            {
                "x": day,
                "y": 1,
                "yref": "paper",
                "text": f"Scorecard {change['version']}",
                "showarrow": False,
                "yanchor": "bottom",
                "font": {"size": 11, "color": "#5f6b7a"},
            }
        )
    return {
        "data": data,
        "layout": {
            "height": 280,
            "margin": {"l": 40, "r": 10, "t": 24, "b": 36},
            "yaxis": {"range": [0, 100], "title": {"text": "Score"}},
            "xaxis": {"type": "date"},
            "shapes": shapes,
            "annotations": annotations,
            "showlegend": len(data) > 1,
            "legend": {"orientation": "h", "y": -0.2},
        },
    }
