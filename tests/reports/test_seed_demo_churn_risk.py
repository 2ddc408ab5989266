"""seed_demo scores far enough back for the 90-day backtest, so a fresh demo shows churn risk:
which days are scored (worked out by hand), and a default-sized demo whose churn-risk model
learned more churn among red accounts than green ones."""

import datetime as dt
import itertools
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Account, Task
from health.models import ChurnPrediction, HealthScore, ScoreBacktest
from reports.demo.health_history import health_history_days

TODAY = dt.date(2026, 11, 26)


def test_the_default_demo_scores_60_days_daily_and_every_8th_day_before_back_to_usage_start():
    days = health_history_days(today=TODAY, daily_days=60, usage_days=365)

    # Daily: 28 Sep .. 25 Nov (59 days; today is the nightly jobs'). Before: 20 Sep, then
    # every 8th day back while a day's 60 days of usage lie inside the 365 seeded (today
    # - 305 = 25 Jan 2026 at the earliest): 20 Sep - 8 x 29 = 31 Jan is the 30th and oldest.
    assert days[-59:] == [dt.date(2026, 9, 28) + dt.timedelta(days=n) for n in range(59)]
    earlier = days[:-59]
    assert len(earlier) == 30
    assert (earlier[0], earlier[-1]) == (dt.date(2026, 1, 31), dt.date(2026, 9, 20))
    assert all((b - a).days == 8 for a, b in itertools.pairwise(earlier))
    assert len(days) == len(set(days)) == 89


def test_no_earlier_day_is_another_scored_days_yesterday_or_week_ago():
    # So scoring them raises no health alert (entered red since yesterday, fell in a week).
    days = set(health_history_days(today=TODAY, daily_days=60, usage_days=365))
    earlier = sorted(days)[:30]

    for day in earlier:
        assert day - dt.timedelta(days=1) not in days
        assert day - dt.timedelta(days=7) not in days


def test_a_short_usage_window_gets_daily_scores_only():
    assert health_history_days(today=TODAY, daily_days=3, usage_days=60) == [
        dt.date(2026, 11, 24),
        dt.date(2026, 11, 25),
    ]
    assert health_history_days(today=TODAY, daily_days=0, usage_days=365) == []
    assert health_history_days(today=TODAY, daily_days=1, usage_days=30) == []


@pytest.mark.django_db
def test_a_default_sized_demo_has_a_churn_risk_for_every_live_scored_account():
    # Given the default demo's accounts and usage, with a short daily history to keep the
    # test quick (the earlier days, 8 apart, reach back just as far)
    call_command(
        "seed_demo",
        "--accounts",
        "400",
        "--days",
        "365",
        "--health-days",
        "8",
        stdout=StringIO(),
        verbosity=0,
    )
    today = timezone.localdate()

    # Then the 90-day backtest has enough churned accounts to give rates per band
    backtest = ScoreBacktest.objects.get(horizon_days=90, segment__isnull=True)
    assert backtest.data["churn_events"] >= backtest.data["min_churns"] == 20
    rates = {row["band"]: row["rate"] for row in backtest.data["bands"]}
    assert rates["red"] > rates["yellow"] > rates["green"] > 0
    # and every live account scored today carries its churn risk
    scored_live = set(
        HealthScore.objects.filter(day=today)
        .exclude(account__lifecycle_status=Account.Lifecycle.CHURNED)
        .values_list("account_id", flat=True)
    )
    assert len(scored_live) > 300
    assert set(ChurnPrediction.objects.filter(day=today).values_list("account_id", flat=True)) == (
        scored_live
    )
    assert not Account.objects.live().filter(pk__in=scored_live, churn_risk__isnull=True).exists()
    # while the months of earlier scores raised no alert task: each alert is keyed by its
    # day ("health-red:2026-11-20"), and all of them are of the daily days
    first_daily = today - dt.timedelta(days=7)
    alert_days = {
        dt.date.fromisoformat(key.split(":", 1)[1])
        for key in Task.objects.filter(source=Task.Source.ALERT).values_list(
            "dedupe_key", flat=True
        )
    }
    assert all(day >= first_daily for day in alert_days)
