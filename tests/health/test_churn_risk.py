"""Nightly churn risk: probabilities from the backtest's model (or band rates), factors in
words, idempotent writes, and Account.churn_risk kept in step."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.template.loader import render_to_string

from accounts.models import Account
from health.churn_risk import (
    account_churn_risk,
    account_churn_risk_refresh,
    churn_predictions_compute,
    factor_text,
    risk_model_load,
)
from health.models import ChurnPrediction, HealthScore, ScoreBacktest, ScorecardVersion
from health.tasks_validation import churn_predictions_task
from health.validation import LogisticModel
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 25)


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def scored(account: Account, *, day: dt.date = DAY, band: str = "yellow", **components):
    """A stored score with the given components: measure=(raw, points, effective weight)."""
    return HealthScore.objects.create(
        account=account,
        day=day,
        score=50,
        band=band,
        computed_score=50,
        computed_band=band,
        components={
            m: {"raw": raw, "points": points, "weight": 10, "effective_weight": weight}
            for m, (raw, points, weight) in components.items()
        },
        scorecard_version=ScorecardVersion.objects.get(scorecard__name="Default"),
    )


def logit_backtest() -> ScoreBacktest:
    """A backtest whose model reads usage trend and support points.

    Per standardised unit: usage trend -1 (mean 50, sd 10), support -0.5 (mean 80, sd 20).
    So 40 trend points push the log-odds by +1, 100 support points by -0.5.
    """
    model = LogisticModel(
        features=("usage_trend", "support"),
        mean=(50.0, 80.0),
        scale=(10.0, 20.0),
        coef=(-1.0, -0.5),
        intercept=-2.0,
    )
    return ScoreBacktest.objects.create(
        horizon_days=90,
        data={"model": model.to_json(), "proposal": {"weights": {}}, "bands": []},
    )


def bands_backtest() -> ScoreBacktest:
    return ScoreBacktest.objects.create(
        horizon_days=90,
        data={
            "model": None,
            "proposal": None,
            "bands": [
                {"band": "red", "rate": 0.3},
                {"band": "yellow", "rate": 0.1},
                {"band": "green", "rate": 0.02},
            ],
        },
    )


# --- Words -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measure", "raw", "text"),
    [
        ("usage_trend", -0.4, "active users down 40 % in 30 days"),
        ("usage_trend", 0.25, "active users up 25 % in 30 days"),
        ("usage_trend", 0.001, "active users flat over 30 days"),
        ("usage", 0.25, "25 % of licensed seats active in the last 30 days"),
        ("adoption", 0.3, "3 of 10 key features used in the last 30 days"),
        ("support", 3, "3 open or high-priority tickets in 30 days"),
        ("support", 1, "1 open or high-priority ticket in 30 days"),
        ("support", 0, "no open or high-priority tickets in 30 days"),
        ("sentiment", 35.4, "survey answers average 35/100 over 180 days"),
        ("engagement", 52, "no interaction for 52 days"),
        ("engagement", 1, "no interaction for 1 day"),
        ("engagement", 0, "an interaction logged today"),
    ],
)
def test_factors_read_like_a_csm_would_say_them(measure, raw, text):
    assert factor_text(measure, raw) == text


# --- Predictions -------------------------------------------------------------------------


def test_the_model_gives_each_account_its_probability_and_top_factors(owner):
    logit_backtest()
    sliding = AccountFactory(owner=owner)
    steady = AccountFactory(owner=owner)
    # Sliding: trend 40 points (+1), support 80 points (0): log-odds -2 + 1 = -1.
    scored(sliding, usage_trend=(-0.4, 40, 0.5), support=(3, 80, 0.5))
    # Steady: trend 70 points (-2), support 100 points (-0.5): log-odds -4.5.
    scored(steady, usage_trend=(0.05, 70, 0.5), support=(0, 100, 0.5))

    assert churn_predictions_compute(today=DAY) == 2

    first = ChurnPrediction.objects.get(account=sliding, day=DAY)
    assert float(first.probability) == pytest.approx(sigmoid(-1), abs=1e-4)  # 0.2689
    assert first.model_version.startswith("logit:backtest-")
    # Support at its training mean moves nothing and is left out of the reasons.
    assert first.factors == [
        {
            "factor": "usage_trend",
            "label": "Usage trend",
            "text": "active users down 40 % in 30 days",
            "effect": 1.0,
            "raises_risk": True,
        }
    ]
    second = ChurnPrediction.objects.get(account=steady, day=DAY)
    assert float(second.probability) == pytest.approx(sigmoid(-4.5), abs=1e-4)  # 0.0110
    assert [f["factor"] for f in second.factors] == ["usage_trend", "support"]
    assert [f["raises_risk"] for f in second.factors] == [False, False]
    sliding.refresh_from_db()
    assert sliding.churn_risk == Decimal("0.2689")


def test_at_most_three_factors_largest_effect_first(owner):
    model = LogisticModel(
        features=("usage", "usage_trend", "support", "engagement"),
        mean=(50.0, 50.0, 50.0, 50.0),
        scale=(10.0, 10.0, 10.0, 10.0),
        coef=(-0.2, -1.0, -0.5, -0.1),
        intercept=-2.0,
    )
    ScoreBacktest.objects.create(
        horizon_days=90, data={"model": model.to_json(), "proposal": {"weights": {}}}
    )
    account = AccountFactory(owner=owner)
    scored(
        account,
        usage=(0.2, 30, 0.25),  # effect +0.4
        usage_trend=(-0.5, 30, 0.25),  # +2.0
        support=(4, 80, 0.25),  # -1.5
        engagement=(60, 0, 0.25),  # +0.5
    )
    churn_predictions_compute(today=DAY)
    factors = ChurnPrediction.objects.get(account=account).factors
    assert [(f["factor"], f["effect"]) for f in factors] == [
        ("usage_trend", 2.0),
        ("support", -1.5),
        ("engagement", 0.5),
    ]
    assert factors[2]["text"] == "no interaction for 60 days"


def test_without_a_model_the_band_rates_give_the_probability(owner):
    bands_backtest()
    red = AccountFactory(owner=owner)
    green = AccountFactory(owner=owner)
    scored(red, band="red", usage=(0.1, 0, 0.6), support=(5, 17, 0.4))
    scored(green, band="green", usage=(0.9, 100, 1.0))
    churn_predictions_compute(today=DAY)
    assert ChurnPrediction.objects.get(account=red).probability == Decimal("0.3000")
    assert ChurnPrediction.objects.get(account=green).probability == Decimal("0.0200")
    # The components pulling the score down most: usage (50 below neutral x 0.6) first.
    factors = ChurnPrediction.objects.get(account=red).factors
    assert [f["factor"] for f in factors] == ["usage", "support"]
    assert factors[0]["text"] == "10 % of licensed seats active in the last 30 days"
    assert factors[0]["raises_risk"] is True


def test_a_rerun_replaces_the_days_rows_and_never_duplicates(owner):
    logit_backtest()
    accounts = [AccountFactory(owner=owner) for _ in range(3)]
    for n, account in enumerate(accounts):
        scored(account, usage_trend=(-0.1, 40 + 10 * n, 1.0))
    assert churn_predictions_compute(today=DAY) == 3
    before = list(
        ChurnPrediction.objects.order_by("account_id").values_list(
            "account_id", "day", "probability", "factors"
        )
    )
    assert churn_predictions_compute(today=DAY) == 3
    after = list(
        ChurnPrediction.objects.order_by("account_id").values_list(
            "account_id", "day", "probability", "factors"
        )
    )
    assert after == before
    assert ChurnPrediction.objects.count() == 3
    # Nothing changed, so the refresh of Account.churn_risk touches no row.
    assert account_churn_risk_refresh(day=DAY) == 0


def test_a_churned_account_loses_its_prediction_on_the_rerun(owner):
    logit_backtest()
    leaving = AccountFactory(owner=owner)
    staying = AccountFactory(owner=owner)
    scored(leaving, usage_trend=(-0.4, 40, 1.0))
    scored(staying, usage_trend=(0.0, 60, 1.0))
    churn_predictions_compute(today=DAY)
    Account.objects.filter(pk=leaving.pk).update(lifecycle_status="churned", churned_on=DAY)

    assert churn_predictions_compute(today=DAY) == 1
    assert not ChurnPrediction.objects.filter(account=leaving).exists()
    leaving.refresh_from_db()
    assert leaving.churn_risk is None
    staying.refresh_from_db()
    assert staying.churn_risk == Decimal(str(round(sigmoid(-3), 4)))


def test_predictions_use_each_accounts_latest_score(owner):
    logit_backtest()
    account = AccountFactory(owner=owner)
    scored(account, day=DAY - dt.timedelta(days=1), usage_trend=(-0.5, 0, 1.0))
    scored(account, day=DAY, usage_trend=(0.0, 50, 1.0))
    scored(account, day=DAY + dt.timedelta(days=1), usage_trend=(-0.5, 0, 1.0))  # the future
    churn_predictions_compute(today=DAY)
    # 50 points is the mean: log-odds -2.
    assert float(account_churn_risk(account_id=account.pk).probability) == pytest.approx(
        sigmoid(-2), abs=1e-4
    )


def test_no_usable_backtest_means_no_made_up_numbers(owner):
    ScoreBacktest.objects.create(
        horizon_days=90,
        data={"model": None, "proposal": None, "bands": [{"band": "red", "rate": None}]},
    )
    account = AccountFactory(owner=owner)
    scored(account, usage=(0.5, 60, 1.0))
    assert risk_model_load() is None
    assert churn_predictions_compute(today=DAY) == 0
    assert not ChurnPrediction.objects.exists()
    account.refresh_from_db()
    assert account.churn_risk is None


def test_a_fresh_install_runs_its_first_backtest(owner):
    account = AccountFactory(owner=owner)
    scored(account, usage=(0.5, 60, 1.0))
    assert churn_predictions_compute(today=DAY) == 0  # no history to learn from yet
    assert ScoreBacktest.objects.filter(horizon_days=90, segment__isnull=True).count() == 1


def test_the_latest_90_day_portfolio_backtest_is_the_one_used(owner):
    bands_backtest()
    newest = logit_backtest()
    ScoreBacktest.objects.create(horizon_days=30, data={"model": None, "bands": []})
    model = risk_model_load()
    assert model is not None
    assert model.kind == "logit"
    assert model.backtest_id == newest.pk


def test_the_task_predicts_for_the_given_day(owner):
    bands_backtest()
    account = AccountFactory(owner=owner)
    scored(account, band="red", usage=(0.1, 0, 1.0))
    assert churn_predictions_task(DAY.isoformat()) == 1
    assert ChurnPrediction.objects.get(account=account).day == DAY


def test_account_churn_risk_is_the_latest_prediction(owner):
    account = AccountFactory(owner=owner)
    assert account_churn_risk(account_id=account.pk) is None
    ChurnPrediction.objects.create(account=account, day=DAY, probability=Decimal("0.2"))
    newest = ChurnPrediction.objects.create(
        account=account, day=DAY + dt.timedelta(days=1), probability=Decimal("0.3")
    )
    assert account_churn_risk(account_id=account.pk) == newest


def test_the_account_page_partial_shows_the_risk_and_its_reasons(owner):
    account = AccountFactory(owner=owner)
    churn = ChurnPrediction.objects.create(
        account=account,
        day=DAY,
        probability=Decimal("0.2689"),
        factors=[
            {"factor": "usage_trend", "label": "Usage trend", "raises_risk": True,
             "text": "active users down 40 % in 30 days", "effect": 1.0},
            {"factor": "support", "label": "Support", "raises_risk": False,
             "text": "no open or high-priority tickets in 30 days", "effect": -0.5},
        ],
        model_version="logit:backtest-1",
    )  # fmt: skip
    html = render_to_string("health/partials/_churn_risk.html", {"churn": churn, "user": owner})
    assert "27 %" in html
    assert "Active users down 40 % in 30 days" in html
    assert "No open or high-priority tickets in 30 days" in html
    assert 'title="raises the risk"' in html
    # A CSM can't open the validation page, so no link to it.
    assert "/health/validation/" not in html
    empty = render_to_string("health/partials/_churn_risk.html", {"churn": None, "user": owner})
    assert "No churn risk yet" in empty


def test_the_command_says_what_it_predicted(owner):
    bands_backtest()
    scored(AccountFactory(owner=owner), band="red", usage=(0.1, 0, 1.0))
    out = StringIO()
    call_command("predict_churn", "--date", DAY.isoformat(), stdout=out)
    backtest_id = ScoreBacktest.objects.get().pk
    assert (
        out.getvalue().strip() == f"2026-11-25: 1 account predicted (bands:backtest-{backtest_id})."
    )


def test_the_command_explains_when_it_cannot_predict(owner):
    out = StringIO()
    call_command("predict_churn", "--date", DAY.isoformat(), stdout=out)
    assert "No prediction written: the latest 90-day backtest has too few churns" in out.getvalue()
