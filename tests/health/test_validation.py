"""The statistics behind score validation, on cases small enough to work out by hand."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from health.charts_validation import (
    band_churn_figure,
    calibration_figure,
    component_auc_figure,
    roc_figure,
    validation_figures,
)
from health.validation import (
    LogisticModel,
    auc,
    average_ranks,
    correlation_matrix,
    logistic_fit,
    quantile_groups,
    rate_by_group,
    roc_curve,
    round_to_total,
    time_split,
    weighted_score,
    weights_from_model,
)

NAN = float("nan")


# --- Ranks and AUC -----------------------------------------------------------------------


def test_tied_values_share_the_mean_of_their_ranks():
    assert average_ranks([10, 20, 20, 30]).tolist() == [1.0, 2.5, 2.5, 4.0]
    assert average_ranks([3, 1, 2]).tolist() == [3.0, 1.0, 2.0]


def test_auc_counts_the_pairs_a_positive_wins():
    # Positives 0.35 and 0.8 against negatives 0.1 and 0.4: 0.35 beats 0.1; 0.8 beats both.
    # 3 of the 4 pairs -> 0.75.
    assert auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)


def test_auc_counts_a_tie_as_half_a_win():
    # Positives {2, 3}, negatives {1, 2}: 2>1 (1), 2=2 (0.5), 3>1 (1), 3>2 (1) -> 3.5 / 4.
    assert auc([1, 2, 2, 3], [0, 0, 1, 1]) == pytest.approx(0.875)


def test_auc_is_one_half_when_every_score_is_the_same():
    assert auc([5, 5, 5, 5], [0, 1, 0, 1]) == pytest.approx(0.5)


def test_auc_is_one_for_a_perfect_ranking_and_zero_for_a_reversed_one():
    assert auc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0
    assert auc([4, 3, 2, 1], [0, 0, 1, 1]) == 0.0


def test_auc_is_none_without_both_outcomes():
    assert auc([1, 2, 3], [0, 0, 0]) is None
    assert auc([1, 2, 3], [1, 1, 1]) is None
    assert auc([], []) is None


def test_auc_leaves_out_missing_scores():
    # Without the NaN row: positives {3}, negatives {1, 2} -> 1.0.
    assert auc([1, 2, NAN, 3], [0, 0, 1, 1]) == 1.0


def test_roc_curve_steps_through_each_distinct_score():
    # Highest first: 0.8 (churned), 0.4 (stayed), 0.35 (churned), 0.1 (stayed).
    fpr, tpr = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    assert fpr == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert tpr == [0.0, 0.5, 0.5, 1.0, 1.0]


def test_roc_curve_takes_tied_scores_at_once():
    fpr, tpr = roc_curve([2, 2, 1], [1, 0, 0])
    # Threshold 2 flags one churned and one stayed at once: (0.5, 1.0), then (1, 1).
    assert fpr == [0.0, 0.5, 1.0]
    assert tpr == [0.0, 1.0, 1.0]


def test_roc_curve_is_thinned_for_big_inputs_and_keeps_its_ends():
    rng = np.random.default_rng(1)
    fpr, tpr = roc_curve(rng.random(5000), rng.random(5000) < 0.3, max_points=50)
    assert len(fpr) <= 50
    assert (fpr[0], tpr[0]) == (0.0, 0.0)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)


# --- Grouped rates -----------------------------------------------------------------------


def test_rate_by_group_counts_outcomes_per_band():
    bands = ["red"] * 4 + ["yellow"] * 5 + ["green"] * 10
    churned = [1, 1, 0, 0] + [1, 0, 0, 0, 0] + [0] * 10
    rates = rate_by_group(bands, churned, ["red", "yellow", "green", "none"])
    assert rates["red"] == {"observations": 4, "events": 2, "rate": 0.5}
    assert rates["yellow"] == {"observations": 5, "events": 1, "rate": 0.2}
    assert rates["green"] == {"observations": 10, "events": 0, "rate": 0.0}
    assert rates["none"] == {"observations": 0, "events": 0, "rate": None}


def test_quantile_groups_split_by_value_lowest_first():
    values = list(range(1, 11))  # 1..10 in 5 groups of 2
    labels = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    groups = quantile_groups(values, labels, groups=5)
    assert [(g["low"], g["high"]) for g in groups] == [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)]
    assert [g["events"] for g in groups] == [2, 1, 0, 0, 0]
    assert [g["rate"] for g in groups] == [1.0, 0.5, 0.0, 0.0, 0.0]
    assert groups[0]["mean"] == 1.5


def test_quantile_groups_keep_ties_together():
    # The four 1s share mean rank 2.5, which falls in the first fifth: one group of 4.
    groups = quantile_groups([1, 1, 1, 1, 2, 3, 4, 5, 6, 7], [0] * 10, groups=5)
    assert groups[0]["observations"] == 4
    assert groups[0]["low"] == groups[0]["high"] == 1
    assert sum(g["observations"] for g in groups) == 10


def test_correlations_use_the_rows_where_both_have_a_value():
    columns = np.array(
        [
            [1.0, 2.0, 3.0, 5.0],
            [2.0, 4.0, 2.0, 5.0],
            [3.0, 6.0, 1.0, 5.0],
            [NAN, 100.0, NAN, 5.0],
        ]
    )
    matrix = correlation_matrix(columns)
    assert matrix[0][0] == 1.0
    assert matrix[0][1] == 1.0  # the fourth row is left out: 1,2,3 against 2,4,6
    assert matrix[0][2] == -1.0
    assert matrix[0][3] is None  # a constant column has no correlation
    assert matrix[1][0] == matrix[0][1]


# --- Logistic regression -----------------------------------------------------------------


def test_a_constant_feature_leaves_the_base_rate():
    # One churn in four: every prediction is 1/4, the intercept log(1/3).
    model = logistic_fit([[7.0], [7.0], [7.0], [7.0]], [1, 0, 0, 0], features=["usage"])
    assert model.coef == (0.0,)
    assert model.intercept == pytest.approx(math.log(0.25 / 0.75), abs=1e-6)
    assert model.predict([[7.0]])[0] == pytest.approx(0.25, abs=1e-6)


def test_unpenalised_fit_reproduces_the_rate_of_each_group():
    # x = 0: 1 churn in 4 (25 %); x = 1: 3 churns in 4 (75 %). Without a penalty the
    # maximum-likelihood fit predicts exactly those rates.
    rows = [[0.0]] * 4 + [[1.0]] * 4
    labels = [1, 0, 0, 0, 1, 1, 1, 0]
    model = logistic_fit(rows, labels, features=["x"], l2=0.0)
    assert model.predict([[0.0], [1.0]]).tolist() == pytest.approx([0.25, 0.75], abs=1e-6)
    # log-odds step from log(1/3) to log(3): log(9) per unit of x.
    assert model.raw_coefficients()["x"] == pytest.approx(math.log(9), abs=1e-6)


def test_the_penalty_shrinks_coefficients_and_keeps_a_perfect_separation_finite():
    rows = [[0.0]] * 5 + [[1.0]] * 5
    labels = [0] * 5 + [1] * 5
    loose = logistic_fit(rows, labels, features=["x"], l2=0.1)
    tight = logistic_fit(rows, labels, features=["x"], l2=10.0)
    assert np.isfinite(loose.coef[0])
    assert loose.coef[0] > tight.coef[0] > 0


def test_a_missing_feature_counts_as_the_training_mean():
    model = logistic_fit(
        [[0.0], [1.0], [0.0], [1.0], [NAN]], [0, 1, 0, 1, 0], features=["x"], l2=1.0
    )
    assert model.mean == (0.5,)
    assert model.contributions([[NAN]])[0][0] == 0.0
    assert model.predict([[NAN]])[0] == pytest.approx(model.predict([[0.5]])[0])


def test_a_model_survives_a_round_trip_through_json():
    model = LogisticModel(("a", "b"), (1.0, 2.0), (3.0, 4.0), (-0.5, 0.25), 0.1)
    again = LogisticModel.from_json(model.to_json())
    assert again == model


# --- From a model to weights -------------------------------------------------------------


def test_shares_are_rounded_to_whole_numbers_adding_up_to_the_total():
    assert round_to_total({"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert round_to_total({"a": 0.5, "b": 0.25, "c": 0.25}) == {"a": 50, "b": 25, "c": 25}
    # 2/7 = 28.57, 5/7 = 71.43 -> 28 + 71 = 99, the point left goes to the larger remainder.
    assert round_to_total({"a": 2, "b": 5}) == {"a": 29, "b": 71}
    assert round_to_total({"a": -3, "b": 1}) == {"a": 0, "b": 100}
    assert round_to_total({"a": 0, "b": 0}) == {"a": 0, "b": 0}


def test_weights_follow_the_negated_coefficient_per_point():
    # Per point: usage -2/2 = -1, support +1/1 = +1 (more points, more churn: weight 0),
    # engagement -1/1 = -1. So usage and engagement share 100 equally.
    model = LogisticModel(
        ("usage", "support", "engagement"), (50, 50, 50), (2, 1, 1), (-2, 1, -1), 0.0
    )
    assert weights_from_model(model) == {"usage": 50, "support": 0, "engagement": 50}


def test_no_weights_when_nothing_lowers_the_risk():
    model = LogisticModel(("usage",), (50.0,), (10.0,), (0.4,), 0.0)
    assert weights_from_model(model) is None


def test_weighted_score_renormalises_over_the_components_with_data():
    points = [[100, 0], [50, NAN], [NAN, NAN]]
    scores = weighted_score(points, [30, 10])
    assert scores[0] == 75  # (100*30 + 0*10) / 40
    assert scores[1] == 50  # only the first component: its points
    assert np.isnan(scores[2])


def test_weighted_score_rounds_halves_to_even_like_the_scorer():
    # 47.5 -> 48 and 46.5 -> 46, as Python's round() does in health.scoring.
    assert weighted_score([[45, 50], [44, 49]], [1, 1]).tolist() == [48.0, 46.0]


def test_a_zero_weight_component_is_left_out():
    assert weighted_score([[0, 80]], [0, 10]).tolist() == [80.0]


# --- Time-based split --------------------------------------------------------------------

START = dt.date(2026, 1, 5)


def weekly(count: int) -> list[dt.date]:
    return [START + dt.timedelta(days=7 * n) for n in range(count)]


def test_split_trains_on_older_dates_whose_outcomes_end_before_the_test_starts():
    # 30 weekly dates (day 0 .. day 203) and a 90-day horizon: the data spans 293 days, cut
    # at day 147. Training dates end by day 147 - 90 = 57 (so day 56); testing starts on 147.
    split = time_split(weekly(30), horizon_days=90)
    assert split is not None
    assert split.train_from == START
    assert split.train_until == START + dt.timedelta(days=56)
    assert split.test_from == START + dt.timedelta(days=147)
    assert split.test_until == START + dt.timedelta(days=203)
    assert split.train_until + dt.timedelta(days=90) <= split.test_from


def test_split_masks_never_put_a_newer_row_in_training():
    days = weekly(40)
    for horizon in (30, 60, 90):
        split = time_split(days, horizon_days=horizon)
        assert split is not None
        ordinals = np.array([d.toordinal() for d in days for _ in range(3)])
        train, test = split.masks(ordinals)
        assert train.any()
        assert test.any()
        assert not (train & test).any()
        assert ordinals[train].max() + horizon <= ordinals[test].min()


def test_no_split_when_the_history_is_too_short_for_the_horizon():
    # 20 weeks (133 days) cannot hold a 180-day horizon twice.
    assert time_split(weekly(20), horizon_days=180) is None
    assert time_split([], horizon_days=30) is None


# --- Charts ------------------------------------------------------------------------------


def test_the_roc_chart_draws_the_curve_and_the_coin_toss_line():
    fig = roc_figure(fpr=[0.0, 0.5, 1.0], tpr=[0.0, 1.0, 1.0], auc=0.75)
    curve, diagonal = fig["data"]
    assert (curve["x"], curve["y"]) == ([0.0, 0.5, 1.0], [0.0, 1.0, 1.0])
    assert curve["name"] == "Health score (AUC 0.75)"
    assert (diagonal["x"], diagonal["y"]) == ([0, 1], [0, 1])


def test_the_band_chart_shows_each_band_in_its_colour_and_skips_missing_rates():
    bands = [
        {"band": "red", "rate": 0.293, "churned": 51, "observations": 174},
        {"band": "yellow", "rate": None, "churned": 0, "observations": 0},
        {"band": "green", "rate": 0.018, "churned": 516, "observations": 28044},
    ]
    bar = band_churn_figure(bands=bands, horizon_days=90)["data"][0]
    assert bar["x"] == ["Red", "Green"]
    assert bar["y"] == [0.293, 0.018]
    assert bar["text"] == ["29.3 %", "1.8 %"]
    assert bar["marker"]["color"] == ["#c62f2f", "#1f8a4c"]
    assert bar["customdata"] == [[51, 174], [516, 28044]]


def test_the_component_chart_puts_the_best_on_top_and_greys_the_weak():
    components = [
        {"label": "Usage", "auc": 0.79},
        {"label": "Engagement", "auc": 0.502},
        {"label": "Sentiment", "auc": 0.596},
        {"label": "Adoption", "auc": None},
    ]
    bar = component_auc_figure(components=components)["data"][0]
    # Horizontal bars are drawn bottom-up: ascending order puts the best on top.
    assert bar["y"] == ["Engagement", "Sentiment", "Usage"]
    # 0.596 shows as 0.60: not weak, like the page's tables say.
    assert bar["marker"]["color"] == ["#9aa3af", "#2f5bd3", "#2f5bd3"]


def test_the_calibration_chart_spans_the_largest_value_and_its_diagonal():
    rows = [
        {"predicted": 0.01, "observed": 0.02, "observations": 100, "churned": 2},
        {"predicted": 0.3, "observed": 0.2, "observations": 100, "churned": 20},
    ]
    model, diagonal = calibration_figure(rows=rows)["data"]
    assert model["x"] == [0.01, 0.3]
    assert model["y"] == [0.02, 0.2]
    assert diagonal["x"] == diagonal["y"] == [0, pytest.approx(0.33)]


def test_no_charts_without_enough_outcomes():
    assert validation_figures({"enough_outcomes": False, "bands": []}) == {}
