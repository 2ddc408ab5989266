"""The backtest end to end: stored scores and outcomes in, the validation figures out; the
proposal fitted on older dates only; adopting it as a new scorecard version."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from decimal import Decimal
from io import StringIO

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.models import Account
from health import backtest as backtest_module
from health.backtest import (
    Observations,
    Outcome,
    backtest_compute,
    observations_load,
    override_accuracy,
    sample_days_select,
)
from health.models import HealthScore, ScoreBacktest, Scorecard, ScorecardVersion
from health.scoring import ComponentRule, band_for
from health.services_scorecards import scorecard_version_create
from health.services_validation import _current, backtest_adopt, backtest_run
from health.tasks_validation import backtest_task
from tests.factories import ContractFactory, SegmentFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 25)
HORIZON = 90
MEASURES = ("usage", "usage_trend", "adoption", "support", "sentiment", "engagement")


def default_version() -> ScorecardVersion:
    return ScorecardVersion.objects.get(scorecard__name="Default", number=1)


def score_fields(points: dict[str, float], *, weights: dict[str, int]) -> dict[str, object]:
    """A stored score's fields: the total is the weighted mean of `points`."""
    total = sum(weights[m] for m in points)
    value = round(sum(p * weights[m] for m, p in points.items()) / total)
    band = band_for(value, red_below=40, green_from=70)
    return {
        "score": value,
        "band": band,
        "computed_score": value,
        "computed_band": band,
        "components": {
            m: {"raw": p, "points": p, "weight": weights[m], "effective_weight": weights[m] / total}
            for m, p in points.items()
        },
        "missing": [m for m in weights if m not in points],
    }


def score_row(
    account: Account, day: dt.date, points: dict[str, float], *, version: ScorecardVersion
) -> HealthScore:
    weights = {c["measure"]: c["weight"] for c in version.components}
    return HealthScore(
        account=account, day=day, scorecard_version=version, **score_fields(points, weights=weights)
    )


# --- A hand-worked portfolio -------------------------------------------------------------

D = TODAY - dt.timedelta(days=60)


@pytest.fixture
def six_accounts(owner):
    """Six accounts scored once, on D, with a 30-day horizon (outcomes up to D + 30).

    A 20 red, churns D+10 (its 3,000 contract ends then)   -> churned
    B 30 red, 10,000 ends D+20, renewed at 12,000         -> expanded
    C 50 yellow, churns D+31: after the horizon             -> no renewal due
    Dee 60 yellow, churns D+30: the horizon's last day     -> churned
    E 80 green, 5,000 ends D+5, renewed at 5,000           -> renewed flat
    F 90 green, 2,000 ends D+10, nothing after             -> contract ended, not renewed
    """
    version = default_version()
    plan = {
        "A": (20, D + dt.timedelta(days=10)),
        "B": (30, None),
        "C": (50, D + dt.timedelta(days=31)),
        "Dee": (60, D + dt.timedelta(days=30)),
        "E": (80, None),
        "F": (90, None),
    }
    accounts = {}
    for name, (value, churned_on) in plan.items():
        account = Account.objects.create(
            name=name,
            owner=owner,
            start_date=D - dt.timedelta(days=400),
            lifecycle_status="churned" if churned_on else "active",
            churned_on=churned_on,
        )
        accounts[name] = account
        score_row(account, D, {"usage": value}, version=version).save()

    def contract(name: str, start: int, end: int, arr: int) -> None:
        ContractFactory(
            account=accounts[name],
            start_date=D + dt.timedelta(days=start),
            end_date=D + dt.timedelta(days=end),
            arr=Decimal(arr),
        )

    contract("A", -100, 10, 3000)
    contract("B", -300, 20, 10000)
    contract("B", 21, 385, 12000)
    contract("E", -360, 5, 5000)
    contract("E", 6, 370, 5000)
    contract("F", -355, 10, 2000)
    return accounts


def test_churn_rates_arr_and_outcomes_per_band_match_the_hand_count(six_accounts):
    days = sample_days_select(today=TODAY, horizon_days=30)
    assert days == [D]
    obs = observations_load(days=days, horizon_days=30, measures=MEASURES)
    data = backtest_compute(
        obs,
        horizon_days=30,
        sample_days=days,
        current=_current(default_version()),
        today=TODAY,
        min_churns=1,
    )
    bands = {row["band"]: row for row in data["bands"]}
    assert (bands["red"]["observations"], bands["red"]["churned"]) == (2, 1)
    assert bands["red"]["rate"] == 0.5
    assert bands["yellow"]["rate"] == 0.5  # Dee churned on the horizon's last day, C a day late
    assert bands["green"]["rate"] == 0.0
    # ARR on D: red holds A's 3,000 and B's 10,000; A's 3,000 churned.
    assert bands["red"]["arr_avg"] == 13000
    assert bands["red"]["arr_lost_avg"] == 3000
    assert bands["red"]["arr_rate"] == round(3000 / 13000, 4)
    assert bands["green"]["arr_avg"] == 7000
    assert bands["red"]["outcomes"][Outcome.EXPANDED] == 1
    assert bands["red"]["outcomes"][Outcome.CHURNED] == 1
    assert bands["yellow"]["outcomes"][Outcome.NONE_DUE] == 1
    assert bands["green"]["outcomes"][Outcome.RENEWED] == 1
    assert bands["green"]["outcomes"][Outcome.LAPSED] == 1
    # Churned A (20) and Dee (60) against B 30, C 50, E 80, F 90: A is below all four, Dee
    # below E and F only -> 6 of 8 pairs.
    assert data["auc"] == 0.75
    assert data["churn_events"] == 2
    assert data["red_vs_green"] is None  # green never churned: no ratio to divide by
    assert data["deciles"][0] == {
        "low": 20,
        "high": 20,
        "observations": 1,
        "churned": 1,
        "rate": 1.0,
    }


def test_too_few_churns_give_counts_but_no_auc_or_rates(six_accounts):
    backtest = backtest_run(horizon_days=30, today=TODAY)
    data = backtest.data
    assert data["churn_events"] == 2
    assert data["enough_outcomes"] is False
    assert data["auc"] is None
    assert data["proposal"] is None
    assert [row["rate"] for row in data["bands"]] == [None, None, None]
    assert [row["churned"] for row in data["bands"]] == [1, 1, 0]
    assert data["conclusions"] == []


def test_a_segment_backtest_only_counts_the_segments_accounts(six_accounts):
    segment = SegmentFactory(kind="static")
    segment.members.add(six_accounts["A"], six_accounts["E"])
    backtest = backtest_run(horizon_days=30, segment=segment, today=TODAY)
    assert backtest.segment == segment
    assert backtest.data["observations"] == 2
    assert backtest.data["churn_events"] == 1


def test_only_horizons_on_offer_are_accepted():
    with pytest.raises(ValidationError):
        backtest_run(horizon_days=45, today=TODAY)


def test_overrides_are_judged_once_each_against_the_outcome(monkeypatch):
    monkeypatch.setattr(backtest_module, "MIN_OVERRIDES", 3)
    day1, day2 = dt.date(2026, 3, 1), dt.date(2026, 3, 8)
    obs = Observations.build(
        MEASURES,
        [
            # Raised 30 -> 80, the account stayed: right (judged on day 1 only).
            {"account_id": 1, "day": day1, "score": 30, "band": "red", "churned": False,
             "shown": 80, "shown_band": "green", "override_id": 11},
            {"account_id": 1, "day": day2, "score": 30, "band": "red", "churned": True,
             "shown": 80, "shown_band": "green", "override_id": 11},
            # Lowered 75 -> 20, the account churned: right.
            {"account_id": 2, "day": day1, "score": 75, "band": "green", "churned": True,
             "shown": 20, "shown_band": "red", "override_id": 12},
            # Raised 35 -> 70, the account churned: wrong.
            {"account_id": 3, "day": day2, "score": 35, "band": "red", "churned": True,
             "shown": 70, "shown_band": "green", "override_id": 13},
            # No override.
            {"account_id": 4, "day": day1, "score": 50, "band": "yellow", "churned": False},
        ],
    )  # fmt: skip
    result = override_accuracy(obs)
    assert result["assessed"] == 3
    assert (result["raised"], result["raised_churned"]) == (2, 1)
    assert (result["lowered"], result["lowered_churned"]) == (1, 1)
    assert result["right"] == 2
    assert result["right_share"] == round(2 / 3, 4)
    # Bands: the overrides' (green, red, green) were right for 1 and 2; the computed
    # (red, green, red) only for 3.
    assert (result["override_band_right"], result["computed_band_right"]) == (2, 1)


# --- Synthetic portfolios: noise, exact signal, and the time split -----------------------

WEEKS = 26


def sample_day(week: int) -> dt.date:
    """Week 0 is the oldest sampled date; the newest is TODAY - HORIZON."""
    return TODAY - dt.timedelta(days=HORIZON + 7 * (WEEKS - 1 - week))


PointsFor = Callable[[random.Random, bool, int], dict[str, float]]


def build_portfolio(owner, *, accounts: int, churn_share: float, points: PointsFor, seed: int):
    """`accounts` accounts scored every week; a share of them churn on a random day.

    points(rng, churns_within_horizon, week) gives each stored score's component points.
    Written with plain executemany: bulk_create's per-field preparation would dominate.
    """
    rng = random.Random(seed)
    version = default_version()
    weights = {c["measure"]: c["weight"] for c in version.components}
    first = sample_day(0)
    plans = []
    for n in range(accounts):
        churned_on = None
        if rng.random() < churn_share:
            churned_on = first + dt.timedelta(days=rng.randint(1, (TODAY - first).days))
        plans.append(
            Account(
                name=f"Synthetic {n:04d}",
                owner=owner,
                start_date=first - dt.timedelta(days=30),
                lifecycle_status="churned" if churned_on else "active",
                churned_on=churned_on,
            )
        )
    created = Account.objects.bulk_create(plans)
    now = timezone.now()
    values = []
    for account in created:
        for week in range(WEEKS):
            day = sample_day(week)
            if account.churned_on and account.churned_on <= day:
                break
            churns = bool(
                account.churned_on and account.churned_on <= day + dt.timedelta(days=HORIZON)
            )
            f = score_fields(points(rng, churns, week), weights=weights)
            values.append(
                (
                    account.pk, day, f["score"], f["band"], f["computed_score"],
                    f["computed_band"], json.dumps(f["components"]), json.dumps(f["missing"]),
                    version.pk, now,
                )
            )  # fmt: skip
    columns = [
        "account_id", "day", "score", "band", "computed_score", "computed_band",
        "components", "missing", "scorecard_version_id", "computed_at",
    ]  # fmt: skip
    sql = (
        f"INSERT INTO {HealthScore._meta.db_table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


def noisy_support(rng: random.Random, churns: bool, week: int) -> dict[str, float]:
    """Usage goes down before churn (imperfectly); support is pure noise."""
    usage = rng.uniform(0, 60) if churns else rng.uniform(30, 100)
    return {"usage": round(usage), "support": round(rng.uniform(0, 100))}


def exact_usage(rng: random.Random, churns: bool, week: int) -> dict[str, float]:
    """Usage is 10 exactly when the account churns within the horizon, 90 otherwise."""
    return {"usage": 10 if churns else 90}


def test_a_pure_noise_component_scores_a_coin_toss_and_gets_almost_no_weight(owner):
    build_portfolio(owner, accounts=300, churn_share=0.4, points=noisy_support, seed=7)
    data = backtest_run(horizon_days=HORIZON, today=TODAY).data
    assert data["enough_outcomes"]
    components = {c["measure"]: c for c in data["components"]}
    assert components["support"]["auc"] == pytest.approx(0.5, abs=0.1)
    assert components["usage"]["auc"] > 0.8
    proposal = data["proposal"]
    assert proposal is not None
    weights = proposal["weights"]
    assert sum(weights.values()) == 100
    assert weights["support"] <= 5
    assert weights["usage"] >= 90
    # Components without any data get nothing.
    assert weights["sentiment"] == weights["engagement"] == 0
    assert "The support component adds nothing" in " ".join(data["conclusions"])


def test_churn_that_follows_a_component_exactly_gives_an_auc_of_one(owner):
    build_portfolio(owner, accounts=200, churn_share=0.4, points=exact_usage, seed=3)
    data = backtest_run(horizon_days=HORIZON, today=TODAY).data
    components = {c["measure"]: c for c in data["components"]}
    assert components["usage"]["auc"] == pytest.approx(1.0, abs=0.001)
    # Usage is the score's only component here, so the score is perfect too.
    assert data["auc"] == pytest.approx(1.0, abs=0.001)
    assert data["proposal"]["weights"]["usage"] == 100
    assert data["proposal"]["auc_proposed"] == pytest.approx(1.0, abs=0.001)


def week_stamped(rng: random.Random, churns: bool, week: int) -> dict[str, float]:
    """Adoption points carry the week of the score, so a fit can be caught reading it."""
    return {**noisy_support(rng, churns, week), "adoption": week}


def test_the_proposal_is_fitted_on_older_dates_only(owner, monkeypatch):
    build_portfolio(owner, accounts=300, churn_share=0.4, points=week_stamped, seed=11)
    seen: dict[str, np.ndarray] = {}
    real_fit = backtest_module.logistic_fit

    def spy(rows, labels, *, features, **kwargs):
        seen["weeks"] = np.asarray(rows)[:, list(features).index("adoption")]
        seen["labels"] = np.asarray(labels)
        return real_fit(rows, labels, features=features, **kwargs)

    monkeypatch.setattr(backtest_module, "logistic_fit", spy)
    data = backtest_run(horizon_days=HORIZON, today=TODAY).data
    split = data["split"]
    train_until = dt.date.fromisoformat(split["train_until"])
    test_from = dt.date.fromisoformat(split["test_from"])
    # Every training outcome (day, day + 90] was over before the first test date.
    assert train_until + dt.timedelta(days=HORIZON) <= test_from
    # The rows the fit saw: all from weeks up to train_until, none newer than a test row.
    newest_seen = sample_day(int(seen["weeks"].max()))
    assert newest_seen <= train_until < test_from
    expected_rows = HealthScore.objects.filter(day__lte=train_until).count()
    assert len(seen["weeks"]) == split["train_observations"] == expected_rows
    test_rows = HealthScore.objects.filter(
        day__gte=test_from, day__lte=TODAY - dt.timedelta(days=HORIZON)
    ).count()
    assert split["test_observations"] == test_rows


# --- Adopting ----------------------------------------------------------------------------


@pytest.fixture
def proposed(owner):
    build_portfolio(owner, accounts=300, churn_share=0.4, points=noisy_support, seed=7)
    return backtest_run(horizon_days=HORIZON, today=TODAY)


def test_adopting_makes_a_new_version_and_leaves_old_scores_on_theirs(proposed, admin_user):
    v1 = default_version()
    scores_before = HealthScore.objects.filter(scorecard_version=v1).count()
    version = backtest_adopt(backtest=proposed, user=admin_user)
    assert version.scorecard == v1.scorecard
    assert version.number == 2
    assert version.created_by == admin_user
    weights = {c["measure"]: c["weight"] for c in version.components}
    assert weights == proposed.data["proposal"]["weights"]
    assert sum(weights.values()) == 100
    # Bounds and thresholds stay as they were.
    assert [(c["zero_at"], c["full_at"]) for c in version.components] == [
        (c["zero_at"], c["full_at"]) for c in v1.components
    ]
    assert (version.red_below, version.green_from) == (v1.red_below, v1.green_from)
    assert "backtest" in version.note
    # History intact: v1 unchanged, every old score still on it.
    v1.refresh_from_db()
    assert {c["measure"]: c["weight"] for c in v1.components}["usage"] == 30
    assert HealthScore.objects.filter(scorecard_version=v1).count() == scores_before
    assert not HealthScore.objects.filter(scorecard_version=version).exists()
    proposed.refresh_from_db()
    assert proposed.adopted_version == version


def test_a_proposal_is_adopted_once(proposed, admin_user):
    backtest_adopt(backtest=proposed, user=admin_user)
    with pytest.raises(ValidationError, match="adopted already"):
        backtest_adopt(backtest=proposed, user=admin_user)
    assert ScorecardVersion.objects.filter(scorecard__name="Default").count() == 2


def test_a_proposal_measured_against_an_older_version_is_refused(proposed, admin_user):
    scorecard = Scorecard.objects.get(name="Default")
    scorecard_version_create(
        scorecard=scorecard,
        components=[ComponentRule.from_json(c) for c in default_version().components],
        red_below=35,
        green_from=70,
        note="Someone changed the thresholds meanwhile",
        created_by=admin_user,
    )
    with pytest.raises(ValidationError, match="newer version"):
        backtest_adopt(backtest=proposed, user=admin_user)
    assert ScorecardVersion.objects.filter(scorecard=scorecard).count() == 2


def test_only_an_admin_adopts(proposed, manager):
    with pytest.raises(PermissionDenied):
        backtest_adopt(backtest=proposed, user=manager)
    assert ScorecardVersion.objects.filter(scorecard__name="Default").count() == 1


def test_a_segment_without_its_own_scorecard_cannot_change_the_default(owner, admin_user):
    build_portfolio(owner, accounts=300, churn_share=0.4, points=noisy_support, seed=7)
    segment = SegmentFactory(kind="rule", rules={})
    backtest = backtest_run(horizon_days=HORIZON, segment=segment, today=TODAY)
    assert backtest.data["proposal"] is not None
    with pytest.raises(ValidationError, match="no scorecard of its own"):
        backtest_adopt(backtest=backtest, user=admin_user)


def test_no_proposal_no_adoption(six_accounts, admin_user):
    backtest = backtest_run(horizon_days=30, today=TODAY)
    with pytest.raises(ValidationError, match="no proposed weights"):
        backtest_adopt(backtest=backtest, user=UserFactory(role="admin"))


# --- The command and the task ------------------------------------------------------------


def test_the_command_reports_too_few_churns_honestly(six_accounts, monkeypatch):
    monkeypatch.setattr("health.services_validation.local_today", lambda: TODAY)
    out = StringIO()
    call_command("backtest_health", "--horizon", "30", stdout=out)
    text = out.getvalue()
    assert "6 observations on 1 date (" in text
    assert "2 churned accounts within 30 days" in text
    assert "Too few churns for an AUC (fewer than 20)." in text
    assert ScoreBacktest.objects.count() == 1


def test_the_command_prints_the_auc_and_band_rates(owner, monkeypatch):
    build_portfolio(owner, accounts=200, churn_share=0.4, points=exact_usage, seed=3)
    monkeypatch.setattr("health.services_validation.local_today", lambda: TODAY)
    out = StringIO()
    call_command("backtest_health", stdout=out)
    text = out.getvalue()
    assert "AUC of the score: 1.000" in text
    assert "Out of sample: current weights AUC 1.000, proposed 1.000" in text


def test_the_backtest_task_skips_a_segment_deleted_meanwhile(six_accounts, monkeypatch):
    monkeypatch.setattr("health.services_validation.local_today", lambda: TODAY)
    assert backtest_task(30, segment_id=987654) == 0
    assert not ScoreBacktest.objects.exists()
    backtest_id = backtest_task(30)
    assert ScoreBacktest.objects.get(pk=backtest_id).horizon_days == 30
