"""The dashboard's figure functions: numbers in, Plotly dicts out, checked by hand."""

import datetime as dt
from decimal import Decimal

import pytest

from reports.charts import (
    arr_bridge_figure,
    band_history_figure,
    feedback_trend_figure,
    health_trend_figure,
    retention_trend_figure,
)

MONTHS = [dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)]


def _trace(figure: dict, name: str) -> dict:
    return next(t for t in figure["data"] if t["name"] == name)


def test_retention_trend_draws_nrr_and_grr_as_lines_and_churn_as_bars_on_its_own_axis():
    figure = retention_trend_figure(
        months=MONTHS,
        nrr=[Decimal("101.5"), None, Decimal("88.5")],
        grr=[Decimal("98.0"), None, Decimal("69.2")],
        logo_churn=[Decimal("0.0"), None, Decimal("33.3")],
    )

    nrr = _trace(figure, "NRR")
    assert nrr["x"] == ["Mar 2026", "Apr 2026", "May 2026"]
    assert nrr["y"] == [101.5, None, 88.5]  # a month without a cohort is a gap, not 0
    assert nrr["connectgaps"] is False
    assert _trace(figure, "GRR")["y"] == [98.0, None, 69.2]
    churn = _trace(figure, "Logo churn")
    assert churn["type"] == "bar"
    assert churn["yaxis"] == "y2"
    assert churn["y"] == [0.0, None, 33.3]
    assert figure["layout"]["yaxis2"]["overlaying"] == "y"
    assert figure["layout"]["yaxis2"]["range"] == [0, pytest.approx(33.3 * 1.25)]


def test_a_churn_free_year_keeps_a_zero_to_one_percent_axis():
    figure = retention_trend_figure(
        months=MONTHS, nrr=[100, 100, 100], grr=[100, 100, 100], logo_churn=[0, 0, 0]
    )

    assert figure["layout"]["yaxis2"]["range"] == [0, pytest.approx(1.0)]


def test_retention_trend_refuses_series_of_the_wrong_length():
    with pytest.raises(ValueError, match="nrr: 2 values for 3 months"):
        retention_trend_figure(months=MONTHS, nrr=[1, 2], grr=[1, 2, 3], logo_churn=[1, 2, 3])


def test_feedback_trend_shows_the_answer_counts_behind_each_score():
    figure = feedback_trend_figure(
        months=MONTHS,
        nps=[None, Decimal("100.0"), Decimal("16.7")],
        csat=[None, None, Decimal("66.7")],
        nps_answers=[0, 1, 6],
        csat_answers=[0, 0, 3],
    )

    assert _trace(figure, "NPS")["y"] == [None, 100.0, 16.7]
    assert _trace(figure, "CSAT %")["y"] == [None, None, 66.7]
    assert _trace(figure, "NPS answers")["y"] == [0, 1, 6]
    assert _trace(figure, "CSAT answers")["y"] == [0, 0, 3]
    assert _trace(figure, "NPS answers")["yaxis"] == "y2"
    assert figure["layout"]["yaxis"]["range"] == [-100, 100]


def test_band_history_stacks_red_first_and_fills_missing_bands_with_zeros():
    figure = band_history_figure(months=MONTHS, values={"red": [1, 0, 1], "green": [3, 3, 2]})

    assert [t["name"] for t in figure["data"]] == ["Red", "Yellow", "Green"]
    assert _trace(figure, "Yellow")["y"] == [0, 0, 0]
    assert _trace(figure, "Green")["y"] == [3, 3, 2]
    assert figure["layout"]["barmode"] == "stack"


def test_band_history_in_money_formats_dollars():
    figure = band_history_figure(
        months=MONTHS[:1], values={"red": [Decimal("12000.00")]}, money=True
    )

    assert _trace(figure, "Red")["y"] == [12000.0]
    assert figure["layout"]["yaxis"]["tickprefix"] == "$"


def test_the_arr_bridge_is_a_waterfall_from_start_to_end():
    figure = arr_bridge_figure(
        start=Decimal("26000"),
        new=Decimal("4500"),
        expansion=Decimal("5000"),
        contraction=Decimal("0"),
        churned=Decimal("8000"),
        end=Decimal("27500"),
        period_label="Q2 2026",
    )

    trace = figure["data"][0]
    assert trace["type"] == "waterfall"
    assert trace["x"] == ["Start ARR", "New", "Expansion", "Contraction", "Churned", "End ARR"]
    assert trace["measure"] == ["absolute", "relative", "relative", "relative", "relative", "total"]
    # Contraction and churn fall; the end is Plotly's running total: 26,000 + 4,500 + 5,000
    # - 0 - 8,000 = 27,500, which is the `end` passed in.
    assert trace["y"] == [26000.0, 4500.0, 5000.0, -0.0, -8000.0, 27500.0]
    assert sum(trace["y"][:5]) == trace["y"][5]
    assert trace["text"] == ["$26,000", "$4,500", "$5,000", "$0", "−$8,000", "$27,500"]


def test_a_small_bridge_starts_its_axis_near_the_lowest_level():
    # Levels: 1,000,000 -> 1,010,000 -> 1,015,000 -> 1,013,000 -> 1,003,000; spread 15,000.
    figure = arr_bridge_figure(
        start=1_000_000,
        new=10_000,
        expansion=5_000,
        contraction=2_000,
        churned=10_000,
        end=1_003_000,
    )

    low, high = figure["layout"]["yaxis"]["range"]
    assert low == pytest.approx(1_000_000 - 1.5 * 15_000)
    assert high == pytest.approx(1_015_000 + 0.6 * 15_000)


def test_a_bridge_from_nothing_keeps_its_axis_from_zero():
    figure = arr_bridge_figure(start=0, new=5_000, expansion=0, contraction=0, churned=0, end=5_000)

    assert "range" not in figure["layout"]["yaxis"]


def test_health_trend_draws_the_average_on_a_0_to_100_axis_with_band_shading():
    figure = health_trend_figure(months=MONTHS, average=[None, Decimal("72.5"), Decimal("65.0")])

    assert figure["data"][0]["y"] == [None, 72.5, 65.0]
    assert figure["layout"]["yaxis"]["range"] == [0, 100]
    assert [(s["y0"], s["y1"]) for s in figure["layout"]["shapes"]] == [
        (0, 40),
        (40, 70),
        (70, 100),
    ]


def test_labels_from_users_are_escaped():
    figure = arr_bridge_figure(
        start=1, new=0, expansion=0, contraction=0, churned=0, end=1, period_label="<b>x</b>"
    )

    assert figure["data"][0]["name"] == "&lt;b&gt;x&lt;/b&gt;"
