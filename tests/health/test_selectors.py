"""The health page's reads, on small data whose numbers are worked out by hand."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, SegmentMembership
from health.models import HealthOverride, HealthRun, HealthScore, ScorecardVersion
from health.selectors import (
    ComponentMove,
    band_distribution,
    band_trend,
    component_moves,
    data_freshness,
    health_movers,
    health_scope_accounts,
    score_days,
    stale_scores,
)
from tests.factories import (
    AccountFactory,
    SegmentFactory,
    SupportTicketFactory,
    UsageRecordFactory,
)

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 3, 15)


def _components(**points_and_weights: tuple[int, float]) -> dict:
    return {
        measure: {"raw": 0.0, "points": points, "weight": 10, "effective_weight": weight}
        for measure, (points, weight) in points_and_weights.items()
    }


def score(account, day, value, *, band=None, components=None, usage_through=None, **extra):
    """A HealthScore row made by hand: the band follows the default 40 / 70 thresholds."""
    if band is None:
        band = "red" if value < 40 else "green" if value >= 70 else "yellow"
    return HealthScore.objects.create(
        account=account,
        day=day,
        score=value,
        band=band,
        computed_score=value,
        computed_band=band,
        components=components or {},
        scorecard_version=ScorecardVersion.objects.get(scorecard__name="Default"),
        usage_through=usage_through if usage_through is not None else day,
        **extra,
    )


@pytest.fixture
def four_accounts(owner, outsider):
    """Red 10k, yellow 20k, green 30k, unscored 40k; and a churned green 50k left out."""
    red = AccountFactory(name="Red Co", owner=owner, health_band="red", health_score=20)
    yellow = AccountFactory(name="Yellow Co", owner=owner, health_band="yellow", health_score=55)
    green = AccountFactory(name="Green Co", owner=outsider, health_band="green", health_score=90)
    unscored = AccountFactory(name="New Co", owner=outsider, health_band="")
    churned = AccountFactory(
        name="Gone Co",
        owner=owner,
        health_band="green",
        health_score=80,
        lifecycle_status=Account.Lifecycle.CHURNED,
        churned_on=dt.date(2026, 2, 1),
    )
    for account, arr in [
        (red, 10000),
        (yellow, 20000),
        (green, 30000),
        (unscored, 40000),
        (churned, 50000),
    ]:
        Account.objects.filter(pk=account.pk).update(arr=Decimal(arr))
    return {"red": red, "yellow": yellow, "green": green, "none": unscored, "churned": churned}


# --- Band distribution ---


def test_distribution_counts_live_accounts_and_arr_per_band(four_accounts):
    distribution = band_distribution(Account.objects.all())

    # Live: 4 accounts, 10k + 20k + 30k + 40k = 100k; the churned 50k is left out.
    assert distribution.total_accounts == 4
    assert distribution.total_arr == Decimal("100000")
    assert [(s.band, s.accounts, s.arr) for s in distribution.slices] == [
        ("red", 1, Decimal("10000")),
        ("yellow", 1, Decimal("20000")),
        ("green", 1, Decimal("30000")),
        ("none", 1, Decimal("40000")),
    ]
    assert [s.arr_share for s in distribution.slices] == [10.0, 20.0, 30.0, 40.0]
    assert distribution.red_arr_share == 10.0
    assert distribution.scored_accounts == 3


def test_distribution_of_an_empty_scope_has_no_shares_rather_than_zero_percent(db):
    distribution = band_distribution(Account.objects.none())

    assert distribution.total_accounts == 0
    assert distribution.total_arr == Decimal("0")
    assert distribution.red_arr_share is None


def test_scope_by_team_excludes_other_teams(four_accounts, owner):
    accounts = health_scope_accounts(Account.objects.all(), team=owner.team, today=DAY)

    distribution = band_distribution(accounts)

    # Red 10k and yellow 20k are Enterprise's; green and unscored belong to SMB.
    assert distribution.total_accounts == 2
    assert distribution.total_arr == Decimal("30000")
    assert distribution.slice("green").accounts == 0
    assert distribution.red_arr_share == pytest.approx(100 * 10000 / 30000)


def test_scope_by_csm_and_by_static_segment(four_accounts, outsider):
    segment = SegmentFactory(kind="static")
    SegmentMembership.objects.create(segment=segment, account=four_accounts["red"])
    SegmentMembership.objects.create(segment=segment, account=four_accounts["green"])

    by_csm = health_scope_accounts(Account.objects.all(), csm=outsider, today=DAY)
    by_segment = health_scope_accounts(Account.objects.all(), segment=segment, today=DAY)

    assert set(by_csm.values_list("name", flat=True)) == {"Green Co", "New Co"}
    assert band_distribution(by_segment).total_arr == Decimal("40000")


# --- Scored days and the trend ---


def test_score_days_are_each_months_last_scored_day_and_the_latest(owner):
    account = AccountFactory(owner=owner)
    for day in [
        dt.date(2025, 3, 31),  # thirteen months back: outside the 12
        dt.date(2025, 4, 30),
        dt.date(2026, 1, 30),
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 27),  # February's last scored day, not the 28th
        dt.date(2026, 3, 13),
        dt.date(2026, 3, 14),
        dt.date(2026, 3, 16),  # after today: not shown
    ]:
        score(account, day, 50)

    days = score_days(today=DAY)

    assert days.latest == dt.date(2026, 3, 14)
    assert days.month_ends == [
        dt.date(2025, 4, 30),
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 27),
        dt.date(2026, 3, 14),
    ]


def test_score_days_with_no_scores_is_empty(db):
    days = score_days(today=DAY)

    assert days.latest is None
    assert days.month_ends == []


def test_trend_counts_accounts_and_current_arr_per_band_per_day(four_accounts, owner):
    jan, feb = dt.date(2026, 1, 31), dt.date(2026, 2, 28)
    red, yellow, green = four_accounts["red"], four_accounts["yellow"], four_accounts["green"]
    score(red, jan, 60)  # yellow in January, red now
    score(yellow, jan, 65)
    score(green, jan, 30)
    score(red, feb, 20)
    score(yellow, feb, 50)
    score(green, feb, 90)
    score(red, dt.date(2026, 2, 20), 10)  # not a month-end: not counted

    everyone = band_trend(Account.objects.all(), days=[jan, feb])
    enterprise = band_trend(
        health_scope_accounts(Account.objects.all(), team=owner.team, today=DAY), days=[jan, feb]
    )

    assert everyone.days == [jan, feb]
    assert everyone.accounts == {"red": [1, 1], "yellow": [2, 1], "green": [0, 1]}
    # ARR is today's: red 10k, yellow 20k, green 30k.
    assert everyone.arr == {
        "red": [Decimal("30000"), Decimal("10000")],
        "yellow": [Decimal("30000"), Decimal("20000")],
        "green": [Decimal("0"), Decimal("30000")],
    }
    # SMB's green account is not Enterprise's.
    assert enterprise.accounts == {"red": [0, 1], "yellow": [2, 1], "green": [0, 0]}
    assert not everyone.is_empty


def test_trend_counts_an_account_churned_since_on_the_days_it_was_scored(four_accounts):
    score(four_accounts["churned"], dt.date(2026, 1, 31), 85)

    trend = band_trend(Account.objects.all(), days=[dt.date(2026, 1, 31)])

    assert trend.accounts["green"] == [1]


# --- Movers ---


def test_component_moves_are_points_times_effective_weight_largest_first():
    then = _components(usage=(100, 0.5), support=(60, 0.3), sentiment=(50, 0.2))
    now = _components(usage=(40, 0.5), support=(80, 0.3), sentiment=(50, 0.2))

    moves = component_moves(now, then)

    # Usage (40 - 100) x 0.5 = -30; support (80 - 60) x 0.3 = +6; sentiment unchanged.
    assert moves == [
        ComponentMove("usage", "Usage", -30),
        ComponentMove("support", "Support", 6),
    ]
    assert [str(m) for m in moves] == ["Usage \u221230 pts", "Support +6 pts"]


def test_a_component_that_lost_its_data_moves_by_its_whole_share():
    then = _components(usage=(50, 0.6), sentiment=(100, 0.4))
    now = _components(usage=(50, 1.0))

    # Usage 50 x 1.0 - 50 x 0.6 = +20; sentiment gone: 0 - 100 x 0.4 = -40. They add up to
    # the score's change: 70 -> 50.
    assert component_moves(now, then) == [
        ComponentMove("sentiment", "Sentiment", -40),
        ComponentMove("usage", "Usage", 20),
    ]


@pytest.fixture
def movers_setup(owner, outsider):
    """Three accounts scored on DAY and 7 days before, worked out by hand."""
    week_ago = DAY - dt.timedelta(days=7)
    faller = AccountFactory(name="Faller", owner=owner)
    slipper = AccountFactory(name="Slipper", owner=owner)
    riser = AccountFactory(name="Riser", owner=outsider)
    steady = AccountFactory(name="Steady", owner=owner)
    newcomer = AccountFactory(name="Newcomer", owner=owner)
    # 80 = 100 x 0.5 + 60 x 0.5  ->  50 = 40 x 0.5 + 60 x 0.5: usage took 30 points.
    score(faller, week_ago, 80, components=_components(usage=(100, 0.5), support=(60, 0.5)))
    score(faller, DAY, 50, components=_components(usage=(40, 0.5), support=(60, 0.5)))
    # 70 -> 65: support 80 -> 70 at weight 0.5.
    score(slipper, week_ago, 70, components=_components(usage=(60, 0.5), support=(80, 0.5)))
    score(slipper, DAY, 65, components=_components(usage=(60, 0.5), support=(70, 0.5)))
    # 40 -> 60: engagement 0 -> 100 at weight 0.2.
    score(riser, week_ago, 40, components=_components(usage=(50, 0.8), engagement=(0, 0.2)))
    score(riser, DAY, 60, components=_components(usage=(50, 0.8), engagement=(100, 0.2)))
    score(steady, week_ago, 75)
    score(steady, DAY, 75)
    score(newcomer, DAY, 30)  # no score a week ago: not a mover
    return {"faller": faller, "slipper": slipper, "riser": riser}


def test_movers_rank_the_biggest_drop_first_and_name_the_component(movers_setup):
    movers = health_movers(Account.objects.all(), day=DAY, window=7)

    assert movers.since == dt.date(2026, 3, 8)
    assert [(m.account.name, m.score_then, m.score_now, m.change) for m in movers.down] == [
        ("Faller", 80, 50, -30),
        ("Slipper", 70, 65, -5),
    ]
    faller = movers.down[0]
    assert faller.band_now == "yellow"
    assert faller.change_label == "\u221230"
    assert [str(m) for m in faller.moves] == ["Usage \u221230 pts"]
    assert [(m.account.name, m.change) for m in movers.up] == [("Riser", 20)]
    assert [str(m) for m in movers.up[0].moves] == ["Engagement +20 pts"]
    assert movers.up[0].account.owner.username == "outsider"


def test_movers_respect_the_scope(movers_setup, owner):
    accounts = health_scope_accounts(Account.objects.all(), team=owner.team, today=DAY)

    movers = health_movers(accounts, day=DAY, window=7)

    assert [m.account.name for m in movers.down] == ["Faller", "Slipper"]
    assert movers.up == []


def test_movers_over_30_days_compare_with_the_score_30_days_before(movers_setup):
    score(movers_setup["riser"], DAY - dt.timedelta(days=30), 90)

    movers = health_movers(Account.objects.all(), day=DAY, window=30)

    assert [(m.account.name, m.score_then, m.score_now) for m in movers.down] == [("Riser", 90, 60)]
    assert movers.up == []


def test_movers_keep_to_ten_each_way(owner):
    for n in range(12):
        account = AccountFactory(name=f"Account {n:02d}", owner=owner)
        score(account, DAY - dt.timedelta(days=7), 90)
        score(account, DAY, 80 - n)

    movers = health_movers(Account.objects.all(), day=DAY, window=7)

    assert len(movers.down) == 10
    assert movers.down[0].account.name == "Account 11"
    assert movers.down[-1].account.name == "Account 02"


# --- Freshness ---


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=timezone.get_current_timezone())


def test_a_usage_source_five_days_old_is_stale_and_a_ticket_from_yesterday_is_not(owner):
    account = AccountFactory(owner=owner)
    UsageRecordFactory(account=account, day=DAY - dt.timedelta(days=5))
    UsageRecordFactory(account=account, day=DAY - dt.timedelta(days=9))
    SupportTicketFactory(account=account, opened_at=_at(DAY - dt.timedelta(days=1)))

    freshness = data_freshness(today=DAY)

    usage, tickets, answers = freshness.sources
    assert (usage.name, usage.newest, usage.age_days, usage.is_stale) == (
        "Product usage",
        dt.date(2026, 3, 10),
        5,
        True,
    )
    assert (tickets.age_days, tickets.is_stale) == (1, False)
    # No answers at all: nothing to vouch for the sentiment component.
    assert (answers.newest, answers.age_days, answers.is_stale) == (None, None, True)


def test_three_days_old_is_still_fresh(owner):
    UsageRecordFactory(account=AccountFactory(owner=owner), day=DAY - dt.timedelta(days=3))

    assert not data_freshness(today=DAY).sources[0].is_stale


def test_freshness_reports_the_last_successful_run_not_a_later_failed_one(db):
    HealthRun.objects.create(
        day=DAY - dt.timedelta(days=1),
        status=HealthRun.Status.SUCCEEDED,
        accounts_scored=120,
        finished_at=_at(DAY - dt.timedelta(days=1)),
    )
    HealthRun.objects.create(day=DAY, status=HealthRun.Status.FAILED, error="boom")

    freshness = data_freshness(today=DAY)

    assert freshness.last_run.day == dt.date(2026, 3, 14)
    assert freshness.last_run.accounts_scored == 120
    assert freshness.run_age_days == 1
    assert not freshness.run_is_stale


def test_stale_scores_count_usage_older_than_three_days_or_missing(owner, outsider):
    fresh = AccountFactory(owner=owner)
    edge = AccountFactory(owner=owner)
    old = AccountFactory(owner=owner)
    other_team = AccountFactory(owner=outsider)
    score(fresh, DAY, 70, usage_through=DAY - dt.timedelta(days=1))
    score(edge, DAY, 70, usage_through=DAY - dt.timedelta(days=3))  # 3 days: not stale
    score(old, DAY, 70, usage_through=DAY - dt.timedelta(days=4))
    no_usage = score(other_team, DAY, 70)
    HealthScore.objects.filter(pk=no_usage.pk).update(usage_through=None)

    everyone = stale_scores(Account.objects.all(), day=DAY)
    enterprise = stale_scores(Account.objects.filter(team=owner.team), day=DAY)

    assert (everyone.scored, everyone.stale) == (4, 2)
    assert (enterprise.scored, enterprise.stale) == (3, 1)


def test_a_mover_whose_score_is_overridden_says_so(movers_setup, owner):

    override = HealthOverride.objects.create(
        account=movers_setup["faller"],
        score=50,
        reason="Champion left; renewal at risk.",
        expires_on=DAY + dt.timedelta(days=30),
        created_by=owner,
    )
    HealthScore.objects.filter(account=movers_setup["faller"], day=DAY).update(override=override)

    movers = health_movers(Account.objects.all(), day=DAY, window=7)

    assert [m.overridden for m in movers.down] == [True, False]
