"""The nightly recompute on small data whose scores are worked out by hand."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, Task, UsageRecord
from health.models import HealthOverride, HealthRun, HealthScore, Scorecard, ScorecardVersion
from health.recompute import health_scores_recompute_chunk
from health.services import health_scores_recompute
from tests.factories import (
    AccountFactory,
    InteractionFactory,
    SegmentFactory,
    SupportTicketFactory,
    SurveyAnswerFactory,
)

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 6, 30)


def _at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


def _usage(account, first: dt.date, days: int, *, active: int, seats: int, features: int):
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=account,
            day=first + dt.timedelta(days=n),
            active_users=active,
            licensed_seats=seats,
            key_features_used=features,
        )
        for n in range(days)
    )


@pytest.fixture
def healthy(owner):
    """Every component at or near full marks: 98 (worked out in the test below)."""
    account = AccountFactory(name="Healthy", owner=owner, start_date=dt.date(2025, 1, 1))
    _usage(account, DAY - dt.timedelta(days=59), 60, active=8, seats=10, features=7)
    SurveyAnswerFactory(account=account, score=9, answered_at=_at(DAY - dt.timedelta(days=20)))
    InteractionFactory(account=account, occurred_on=DAY - dt.timedelta(days=14))
    return account


@pytest.fixture
def struggling(owner):
    account = AccountFactory(name="Struggling", owner=owner, start_date=dt.date(2025, 1, 1))
    _usage(account, DAY - dt.timedelta(days=9), 10, active=2, seats=10, features=1)
    for _ in range(2):
        SupportTicketFactory(
            account=account, priority="high", opened_at=_at(DAY - dt.timedelta(days=5))
        )
    # An old ticket, outside the 30-day window, does not count.
    SupportTicketFactory(
        account=account, priority="urgent", opened_at=_at(DAY - dt.timedelta(days=45))
    )
    return account


def test_scores_match_the_hand_worked_values(healthy, struggling):
    # Healthy: usage 0.8 -> 100; trend 0 -> (0 + 0.5) / 0.6 = 83; adoption 0.7 -> 100;
    # support 0 tickets -> 100; sentiment NPS 9 = 90 -> 100; engagement 14 days -> 100.
    # (30*100 + 10*83 + 15*100 + 15*100 + 20*100 + 10*100) / 100 = 98.3 -> 98, green.
    # Struggling: usage 0.2 -> 14; adoption 0.1 -> 0; support 2 open + 2 high = 4 -> 33;
    # trend, sentiment and engagement have no data: (30*14 + 15*0 + 15*33) / 60 = 15.25 -> 15.
    run = health_scores_recompute(day=DAY)

    good = HealthScore.objects.get(account=healthy, day=DAY)
    bad = HealthScore.objects.get(account=struggling, day=DAY)
    assert (good.score, good.band, good.missing) == (98, "green", [])
    assert good.components["usage_trend"] == {
        "raw": 0.0,
        "points": 83,
        "weight": 10,
        "effective_weight": 0.1,
    }
    assert (bad.score, bad.band) == (15, "red")
    assert bad.missing == ["usage_trend", "sentiment", "engagement"]
    assert bad.components["support"]["raw"] == 4.0
    assert bad.components["support"]["effective_weight"] == 0.25
    assert good.scorecard_version == ScorecardVersion.objects.get(
        scorecard__name="Default", number=1
    )
    assert (run.status, run.accounts_scored) == (HealthRun.Status.SUCCEEDED, 2)
    healthy.refresh_from_db()
    assert (healthy.health_score, healthy.health_band) == (98, "green")


def test_churned_and_not_yet_started_accounts_get_no_score(healthy, owner):
    gone = AccountFactory(
        owner=owner,
        start_date=dt.date(2025, 1, 1),
        lifecycle_status=Account.Lifecycle.CHURNED,
        churned_on=DAY - dt.timedelta(days=1),
    )
    future = AccountFactory(owner=owner, start_date=DAY + dt.timedelta(days=1))
    for account in (gone, future):
        _usage(account, DAY - dt.timedelta(days=5), 5, active=5, seats=5, features=5)
    health_scores_recompute(day=DAY)
    assert set(HealthScore.objects.values_list("account__name", flat=True)) == {"Healthy"}


def test_a_rerun_replaces_rows_and_changes_nothing_else(healthy, struggling):
    health_scores_recompute(day=DAY)
    first = list(
        HealthScore.objects.order_by("account_id").values_list(
            "account_id", "score", "band", "components"
        )
    )
    tasks_before = Task.objects.count()

    health_scores_recompute(day=DAY)

    assert (
        list(
            HealthScore.objects.order_by("account_id").values_list(
                "account_id", "score", "band", "components"
            )
        )
        == first
    )
    assert HealthScore.objects.count() == 2
    assert Task.objects.count() == tasks_before


def test_an_active_override_wins_and_an_expired_one_does_not(healthy, struggling, manager):
    HealthOverride.objects.create(
        account=struggling,
        score=75,
        reason="Exec sponsor committed to renew",
        expires_on=DAY,
        created_by=manager,
    )
    HealthOverride.objects.create(
        account=healthy,
        score=10,
        reason="old worry",
        expires_on=DAY - dt.timedelta(days=1),
        created_by=manager,
    )
    # Made the week before DAY (an override never reaches back before it was made).
    HealthOverride.objects.update(created_at=_at(DAY - dt.timedelta(days=7)))
    health_scores_recompute(day=DAY)
    overridden = HealthScore.objects.get(account=struggling, day=DAY)
    assert (overridden.score, overridden.band) == (75, "green")
    assert (overridden.computed_score, overridden.computed_band) == (15, "red")
    assert overridden.override.reason == "Exec sponsor committed to renew"
    assert HealthScore.objects.get(account=healthy, day=DAY).score == 98


def test_entering_red_raises_one_alert_for_the_owner_even_when_rerun(struggling, owner):
    version = ScorecardVersion.objects.get(scorecard__name="Default")
    HealthScore.objects.create(
        account=struggling,
        day=DAY - dt.timedelta(days=1),
        score=45,
        band="yellow",
        computed_score=45,
        computed_band="yellow",
        components={},
        scorecard_version=version,
    )
    health_scores_recompute(day=DAY)
    health_scores_recompute(day=DAY)
    alerts = Task.objects.filter(account=struggling, source=Task.Source.ALERT)
    assert alerts.count() == 1
    alert = alerts.get()
    assert (alert.owner, alert.priority, alert.due_date) == (
        owner,
        "high",
        DAY + dt.timedelta(days=3),
    )
    assert "red" in alert.title


def test_a_fall_of_15_points_in_7_days_alerts_once_across_nights(healthy):
    version = ScorecardVersion.objects.get(scorecard__name="Default")
    # Healthy scores 98 on DAY; 7 days earlier it was at 100 (a 2-point fall: no alert) ...
    HealthScore.objects.create(
        account=healthy,
        day=DAY - dt.timedelta(days=7),
        score=100,
        band="green",
        computed_score=100,
        computed_band="green",
        components={},
        scorecard_version=version,
    )
    health_scores_recompute(day=DAY)
    assert not Task.objects.filter(source=Task.Source.ALERT).exists()
    # Then usage collapses: a week before each of the next two nights the score was 100.
    HealthScore.objects.filter(account=healthy, day=DAY - dt.timedelta(days=7)).delete()
    HealthScore.objects.create(
        account=healthy,
        day=DAY - dt.timedelta(days=6),
        score=100,
        band="green",
        computed_score=100,
        computed_band="green",
        components={},
        scorecard_version=version,
    )
    HealthScore.objects.create(
        account=healthy,
        day=DAY - dt.timedelta(days=5),
        score=100,
        band="green",
        computed_score=100,
        computed_band="green",
        components={},
        scorecard_version=version,
    )
    UsageRecord.objects.filter(account=healthy, day__gt=DAY - dt.timedelta(days=29)).update(
        active_users=1
    )
    health_scores_recompute(day=DAY + dt.timedelta(days=1))
    health_scores_recompute(day=DAY + dt.timedelta(days=2))
    drops = Task.objects.filter(account=healthy, dedupe_key__startswith="health-drop:")
    assert drops.count() == 1
    assert drops.get().dedupe_key == f"health-drop:{DAY + dt.timedelta(days=1)}"


def test_a_segment_scorecard_applies_to_its_members_with_its_own_version(healthy, struggling):
    healthy.tier = Account.Tier.HIGH_TOUCH
    healthy.save()
    segment = SegmentFactory(name="High-touch", rules={"tiers": ["high_touch"]})
    scorecard = Scorecard.objects.create(name="High-touch usage only", segment=segment, priority=1)
    version = ScorecardVersion.objects.create(
        scorecard=scorecard,
        number=1,
        components=[{"measure": "adoption", "weight": 100, "zero_at": 0, "full_at": 1}],
    )
    health_scores_recompute(day=DAY)
    score = HealthScore.objects.get(account=healthy, day=DAY)
    # Adoption 0.7 of a 0..1 range: 70 points, the only component.
    assert (score.score, score.band, score.scorecard_version) == (70, "green", version)
    assert (
        HealthScore.objects.get(account=struggling, day=DAY).scorecard_version.scorecard.name
        == "Default"
    )


def test_a_chunk_runs_the_same_queries_for_3_or_30_accounts(owner):
    def make(n: int) -> None:
        for _ in range(n):
            account = AccountFactory(owner=owner, start_date=dt.date(2025, 1, 1))
            _usage(account, DAY - dt.timedelta(days=2), 3, active=3, seats=5, features=2)

    make(3)
    # Both measured runs replace existing rows (the first run of a day loads by COPY alone).
    health_scores_recompute_chunk(day=DAY, id_from=0, id_to=10**9)
    with CaptureQueriesContext(connection) as small:
        assert health_scores_recompute_chunk(day=DAY, id_from=0, id_to=10**9) == 3
    make(27)
    with CaptureQueriesContext(connection) as large:
        assert health_scores_recompute_chunk(day=DAY, id_from=0, id_to=10**9) == 30
    # Plan (3) + accounts, usage, tickets (2), sentiment, contacts, versions, overrides,
    # rows-exist check, temp table create and clear, stale-row delete, upsert, savepoints:
    # a fixed handful.
    assert len(large) == len(small) <= 18


def test_a_score_built_on_usage_older_than_3_days_is_stale(healthy, owner):
    lagging = AccountFactory(name="Lagging", owner=owner, start_date=dt.date(2025, 1, 1))
    _usage(lagging, DAY - dt.timedelta(days=20), 16, active=5, seats=10, features=3)  # to DAY-5
    health_scores_recompute(day=DAY)
    fresh = HealthScore.objects.get(account=healthy, day=DAY)
    stale = HealthScore.objects.get(account=lagging, day=DAY)
    assert (fresh.usage_through, fresh.is_stale) == (DAY, False)
    assert (stale.usage_through, stale.is_stale) == (DAY - dt.timedelta(days=5), True)


def test_a_missing_default_scorecard_is_restored_rather_than_failing_the_night(healthy):
    HealthScore.objects.all().delete()
    ScorecardVersion.objects.all().delete()
    Scorecard.objects.all().delete()
    health_scores_recompute(day=DAY)
    score = HealthScore.objects.get(account=healthy, day=DAY)
    assert score.score == 98
    assert score.scorecard_version.scorecard.name == "Default"


def _stored_rows(day: dt.date) -> list[tuple]:
    return list(
        HealthScore.objects.filter(day=day)
        .order_by("account_id")
        .values_list("account_id", "score", "band", "components", "missing", "usage_through")
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="threads need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_chunks_on_parallel_connections_store_what_one_connection_stores(
    owner, settings, monkeypatch
):
    from health import recompute

    for n in range(10):
        account = AccountFactory(owner=owner, start_date=dt.date(2025, 1, 1))
        _usage(account, DAY - dt.timedelta(days=40), 41, active=1 + n % 5, seats=5, features=n)
    gone = AccountFactory(owner=owner, start_date=dt.date(2025, 1, 1))
    _usage(gone, DAY - dt.timedelta(days=5), 6, active=2, seats=5, features=1)
    # Chunks of 3 accounts: four chunks, so two threads each run several.
    monkeypatch.setattr(recompute, "CHUNK_SIZE", 3)
    plan = recompute.scorecard_plan_load()

    settings.HEALTH_RECOMPUTE_THREADS = 1
    assert recompute.health_scores_recompute_chunks(day=DAY, plan=plan) == 11
    one_connection = _stored_rows(DAY)
    HealthScore.objects.filter(day=DAY).delete()

    settings.HEALTH_RECOMPUTE_THREADS = 2
    assert recompute.health_scores_recompute_chunks(day=DAY, plan=plan) == 11
    assert _stored_rows(DAY) == one_connection

    # The rerun path (rows already there): an account churned since loses its row, the
    # others stay exactly as they were.
    Account.objects.filter(pk=gone.pk).update(churned_on=DAY - dt.timedelta(days=1))
    assert recompute.health_scores_recompute_chunks(day=DAY, plan=plan) == 10
    assert _stored_rows(DAY) == [row for row in one_connection if row[0] != gone.pk]
