"""Health page figures from plain numbers, and the template tag that embeds them."""

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.template import Context, Template

from health.charts import band_distribution_figure, band_trend_figure, day_label


def test_the_distribution_donut_has_one_slice_per_band_with_arr_and_account_counts():
    figure = band_distribution_figure(
        accounts={"red": 1, "yellow": 1, "green": 1, "none": 1},
        arr={
            "red": Decimal("10000"),
            "yellow": Decimal("20000"),
            "green": Decimal("30000"),
            "none": Decimal("40000"),
        },
    )

    (pie,) = figure["data"]
    assert pie["type"] == "pie"
    assert pie["labels"] == ["Red", "Yellow", "Green", "No score"]
    assert pie["values"] == [10000.0, 20000.0, 30000.0, 40000.0]
    assert pie["customdata"] == [1, 1, 1, 1]
    # 10 %, 20 %, 30 %, 40 % of 100,000.
    assert pie["text"] == ["10%", "20%", "30%", "40%"]
    assert pie["marker"]["colors"] == ["#c62f2f", "#c98a00", "#1f8a4c", "#9aa3af"]


def test_the_donut_keeps_every_band_and_leaves_thin_slices_unlabelled():
    # Red is 2 % of 100,000: too thin to carry a label; no-score has nothing at all.
    figure = band_distribution_figure(
        accounts={"red": 1, "green": 9}, arr={"red": 2000, "green": 98000}
    )

    (pie,) = figure["data"]
    assert pie["values"] == [2000.0, 0.0, 98000.0, 0.0]
    assert pie["customdata"] == [1, 0, 9, 0]
    assert pie["text"] == ["", "", "98%", ""]


def test_an_empty_distribution_gives_zero_slices_not_a_division_error():
    figure = band_distribution_figure(accounts={}, arr={})

    assert figure["data"][0]["values"] == [0.0, 0.0, 0.0, 0.0]
    assert figure["data"][0]["text"] == ["", "", "", ""]


def test_the_trend_stacks_one_bar_trace_per_band_with_a_bar_per_month_end():
    days = [dt.date(2026, 1, 31), dt.date(2026, 2, 27), dt.date(2026, 3, 14)]

    figure = band_trend_figure(
        days=days,
        values={"red": [1, 0, 2], "yellow": [3, 4, 5], "green": [6, 7, 8]},
        y_title="Accounts",
    )

    assert figure["layout"]["barmode"] == "stack"
    assert figure["layout"]["xaxis"]["type"] == "category"
    assert [t["name"] for t in figure["data"]] == ["Red", "Yellow", "Green"]
    assert [t["type"] for t in figure["data"]] == ["bar", "bar", "bar"]
    for trace in figure["data"]:
        assert trace["x"] == ["31 Jan 2026", "27 Feb 2026", "14 Mar 2026"]
    assert [t["y"] for t in figure["data"]] == [[1, 0, 2], [3, 4, 5], [6, 7, 8]]
    assert figure["layout"]["yaxis"]["title"]["text"] == "Accounts"


def test_the_arr_trend_gives_money_as_floats_with_a_dollar_axis():
    figure = band_trend_figure(
        days=[dt.date(2026, 2, 28)],
        values={"red": [Decimal("1500.50")], "green": [Decimal("98000")]},
        y_title="ARR (current)",
        money=True,
    )

    assert [t["y"] for t in figure["data"]] == [[1500.5], [0.0], [98000.0]]
    assert figure["layout"]["yaxis"]["tickprefix"] == "$"
    assert "$%{y:,.0f}" in figure["data"][0]["hovertemplate"]
    # The figure must survive JSON: no Decimal or date left in it.
    json.dumps(figure)


def test_a_series_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="2 values for 1 days"):
        band_trend_figure(days=[dt.date(2026, 2, 28)], values={"red": [1, 2]}, y_title="x")


def test_text_reaching_a_figure_is_escaped_because_plotly_renders_html_in_labels():
    figure = band_trend_figure(
        days=[dt.date(2026, 2, 28)], values={}, y_title='<a href="x">ARR</a>'
    )

    assert figure["layout"]["yaxis"]["title"]["text"] == "&lt;a href=&quot;x&quot;&gt;ARR&lt;/a&gt;"


def test_day_label_reads_as_a_date_a_person_says():
    assert day_label(dt.date(2026, 8, 1)) == "1 Aug 2026"


def test_the_chart_tag_emits_a_container_and_inert_escaped_json_for_charts_js():
    figure = {"data": [{"name": "</script><script>alert(1)</script>"}], "layout": {}}

    html = Template('{% load charts %}{% plotly_chart fig "chart-x" "Bands" %}').render(
        Context({"fig": figure})
    )

    assert html.startswith('<div id="chart-x" class="chart" role="img" aria-label="Bands"></div>')
    match = re.search(r"<script ([^>]*)>(.*?)</script>", html, re.S)
    assert match is not None
    attributes, payload = match.groups()
    assert 'data-chart-target="chart-x"' in attributes
    assert 'id="chart-x-data"' in attributes
    assert 'type="application/json"' in attributes
    # One script element only: the name could not close it.
    assert html.count("<script") == 1
    assert "\\u003C/script\\u003E" in payload
    assert json.loads(payload) == figure
