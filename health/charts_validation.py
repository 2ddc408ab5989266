"""Score validation charts: a stored backtest's numbers in, Plotly figure dicts out.

Pure functions (no database, no request), unit-tested on hand-made numbers. Labels come
from code (bands, measure names), never from users, but are escaped all the same since
Plotly renders some HTML in them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.html import escape

from health.charts import BAND_COLOURS, BAND_LABELS

_CONFIG = {"displayModeBar": False}
_FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13}
_BRAND = "#2f5bd3"
_GREY = "#9aa3af"
# Bars of components whose AUC (to two decimals) is below this are drawn grey: they predict
# little, as the page's conclusions say (health.backtest.WEAK_AUC).
USEFUL_AUC = 0.6


def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "font": _FONT,
        "margin": {"l": 64, "r": 16, "t": 16, "b": 48},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "y": -0.25},
    }
    layout.update(extra)
    return layout


def _percent_axis(title: str, *, upper: float | None = None) -> dict[str, Any]:
    axis: dict[str, Any] = {"title": {"text": title}, "tickformat": ".0%", "rangemode": "tozero"}
    if upper is not None:
        axis["range"] = [0, upper]
    return axis


def roc_figure(*, fpr: Sequence[float], tpr: Sequence[float], auc: float) -> dict[str, Any]:
    """The ROC curve with the coin-toss diagonal; the AUC in the legend."""
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "x": list(fpr),
                "y": list(tpr),
                "name": f"Health score (AUC {auc:.2f})",
                "line": {"color": _BRAND, "width": 3, "shape": "hv"},
                "hovertemplate": (
                    "Flagging this many of the accounts that stayed: %{x:.0%}<br>"
                    "catches this many of those that churned: %{y:.0%}<extra></extra>"
                ),
            },
            {
                "type": "scatter",
                "mode": "lines",
                "x": [0, 1],
                "y": [0, 1],
                "name": "Coin toss (AUC 0.50)",
                "line": {"color": _GREY, "dash": "dash"},
                "hoverinfo": "skip",
            },
        ],
        "layout": _layout(
            xaxis=_percent_axis("Accounts that stayed, flagged", upper=1),
            yaxis=_percent_axis("Churned accounts flagged", upper=1),
        ),
        "config": _CONFIG,
    }


def band_churn_figure(*, bands: Sequence[Mapping[str, Any]], horizon_days: int) -> dict[str, Any]:
    """Churn rate within the horizon per band, red to green, with counts on hover."""
    present = [row for row in bands if row.get("rate") is not None]
    return {
        "data": [
            {
                "type": "bar",
                "x": [escape(BAND_LABELS.get(row["band"], row["band"])) for row in present],
                "y": [row["rate"] for row in present],
                "customdata": [[row["churned"], row["observations"]] for row in present],
                "marker": {"color": [BAND_COLOURS.get(row["band"], _GREY) for row in present]},
                "text": [f"{row['rate'] * 100:.1f} %" for row in present],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": (
                    "%{x}: %{y:.1%} churned within "
                    f"{horizon_days} days<br>"
                    "%{customdata[0]:,} of %{customdata[1]:,} observations<extra></extra>"
                ),
            }
        ],
        "layout": _layout(
            yaxis=_percent_axis(f"Churned within {horizon_days} days"),
            showlegend=False,
        ),
        "config": _CONFIG,
    }


def decile_figure(*, deciles: Sequence[Mapping[str, Any]], horizon_days: int) -> dict[str, Any]:
    """Churn rate per tenth of the scores, lowest scores first."""
    labels = [f"{row['low']}–{row['high']}" for row in deciles]
    return {
        "data": [
            {
                "type": "bar",
                "x": labels,
                "y": [row["rate"] for row in deciles],
                "customdata": [[row["churned"], row["observations"]] for row in deciles],
                "marker": {"color": _BRAND},
                "hovertemplate": (
                    "Scores %{x}: %{y:.1%} churned<br>"
                    "%{customdata[0]:,} of %{customdata[1]:,} observations<extra></extra>"
                ),
            }
        ],
        "layout": _layout(
            xaxis={
                "title": {"text": "Score range (each bar a tenth of the observations)"},
                "type": "category",
            },
            yaxis=_percent_axis(f"Churned within {horizon_days} days"),
            showlegend=False,
        ),
        "config": _CONFIG,
    }


def calibration_figure(*, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Predicted churn probability against the churn rate observed, per tenth of the
    predictions; a well-calibrated model sits on the diagonal."""
    predicted = [row["predicted"] for row in rows]
    observed = [row["observed"] for row in rows]
    top = max([*predicted, *observed, 0.01]) * 1.1
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": predicted,
                "y": observed,
                "name": "Model on the test dates",
                "customdata": [[row["churned"], row["observations"]] for row in rows],
                "line": {"color": _BRAND, "width": 2},
                "marker": {"size": 8},
                "hovertemplate": (
                    "Predicted %{x:.1%}, observed %{y:.1%}<br>"
                    "%{customdata[0]:,} of %{customdata[1]:,} churned<extra></extra>"
                ),
            },
            {
                "type": "scatter",
                "mode": "lines",
                "x": [0, top],
                "y": [0, top],
                "name": "Perfect calibration",
                "line": {"color": _GREY, "dash": "dash"},
                "hoverinfo": "skip",
            },
        ],
        "layout": _layout(
            xaxis=_percent_axis("Predicted probability", upper=top),
            yaxis=_percent_axis("Observed churn rate", upper=top),
        ),
        "config": _CONFIG,
    }


def component_auc_figure(*, components: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Each component's own AUC as horizontal bars, best on top, with the 0.5 line."""
    rated = sorted((c for c in components if c.get("auc") is not None), key=lambda c: c["auc"])
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [escape(c["label"]) for c in rated],
                "x": [c["auc"] for c in rated],
                "text": [f"{c['auc']:.2f}" for c in rated],
                "textposition": "outside",
                "cliponaxis": False,
                "marker": {
                    "color": [_BRAND if round(c["auc"], 2) >= USEFUL_AUC else _GREY for c in rated]
                },
                "hovertemplate": "%{y}: AUC %{x:.2f}<extra></extra>",
            }
        ],
        "layout": _layout(
            margin={"l": 110, "r": 40, "t": 16, "b": 40},
            xaxis={"title": {"text": "AUC on its own (0.5 = coin toss)"}, "range": [0.3, 1]},
            shapes=[
                {
                    "type": "line",
                    "x0": 0.5,
                    "x1": 0.5,
                    "y0": 0,
                    "y1": 1,
                    "yref": "paper",
                    "line": {"color": _GREY, "dash": "dash"},
                }
            ],
            showlegend=False,
        ),
        "config": _CONFIG,
    }


def validation_figures(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every figure the page shows for a stored backtest's data; absent when its numbers
    are (too few outcomes, no model)."""
    figures: dict[str, dict[str, Any]] = {}
    if not data.get("enough_outcomes"):
        return figures
    horizon = data["horizon_days"]
    if data.get("roc") and data.get("auc") is not None:
        figures["roc"] = roc_figure(fpr=data["roc"]["fpr"], tpr=data["roc"]["tpr"], auc=data["auc"])
    if any(row.get("rate") is not None for row in data.get("bands", [])):
        figures["bands"] = band_churn_figure(bands=data["bands"], horizon_days=horizon)
    if data.get("deciles"):
        figures["deciles"] = decile_figure(deciles=data["deciles"], horizon_days=horizon)
    if data.get("calibration"):
        figures["calibration"] = calibration_figure(rows=data["calibration"])
    if any(c.get("auc") is not None for c in data.get("components", [])):
        figures["components"] = component_auc_figure(components=data["components"])
    return figures
