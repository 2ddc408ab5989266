"""The health page's nightly rollups (band trend, movers) against the live computation they
replace: the same numbers for every scope the page offers, worked out by hand, the empty
state before the first run, and the dashboard's falls read from the same rows."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Account
from health.models import HealthBandTrend, HealthMover, HealthScore, ScorecardVersion
from health.selectors import (
    RollupScope,
    band_trend,
    band_trend_stored,
    health_movers,
    health_movers_stored,
    rollup_scope_for,
    score_days,
)
from reports.health_rollups import health_rollups_refresh
from reports.models import MetricSnapshot, Scope
from tests.factories import AccountFactory, SegmentFactory

pytestmark = pytest.mark.django_db
PAGE = reverse("health:overview")
DAY = dt.date(2026, 3, 15)
WEEK_AGO = DAY - dt.timedelta(days=7)
MONTH_AGO = DAY - dt.timedelta(days=30)
JAN_END = dt.date(2026, 1, 31)
FEB_END = dt.date(2026, 2, 28)


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr("health.views.overview.local_today", lambda: DAY)
    return DAY


def _band(value):
    return "red" if value < 40 else "green" if value >= 70 else "yellow"


def score(account, day, value, *, usage=None, override=False):
    components = {}
    if usage is not None:
        components = {"usage": {"raw": 0.0, "points": usage, "weight": 30, "effective_weight": 1.0}}
    return HealthScore.objects.create(
        account=account,
        day=day,
        score=value,
        band=_band(value),
        computed_score=value,
        computed_band=_band(value),
        components=components,
        scorecard_version=ScorecardVersion.objects.get(scorecard__name="Default"),
        usage_through=day,
    )


def make(name, owner, arr, *, tier=Account.Tier.SCALED):
    account = AccountFactory(name=name, owner=owner, tier=tier)
    Account.objects.filter(pk=account.pk).update(arr=Decimal(arr))
    return account


@pytest.fixture
def book(owner, teammate, outsider):
    """Enterprise (owner, teammate) and SMB (outsider); "Big" holds ARR >= 25k.

    Scores (Jan end, Feb end, a month ago, a week ago, today):
      Alpha   owner     10k  70 / 75 / 80 / 80 / 30   fell 50 in 7 days, usage 100 -> 30
      Beta    teammate  20k  -  / 45 / 50 / 50 / 55   rose 5
      Gamma   owner     30k  -  / 20 /  - / 60 / 60   unchanged
      Delta   outsider  40k  90 / 90 / 95 / 95 / 20   fell 75 (the furthest)
      Epsilon outsider  25k  -  /  - / 40 / 42 / 40   fell 2 (ties Zeta's fall of 2)
      Zeta    owner     26k  -  /  - / 61 / 61 / 59   fell 2; "Epsilon" sorts first
    """
    big = SegmentFactory(name="Big", rules={"arr_min": 25000})
    a = make("Alpha", owner, 10000)
    b = make("Beta", teammate, 20000)
    g = make("Gamma", owner, 30000)
    d = make("Delta", outsider, 40000, tier=Account.Tier.HIGH_TOUCH)
    e = make("Epsilon", outsider, 25000)
    z = make("Zeta", owner, 26000)
    for account, values in [
        (a, [(JAN_END, 70), (FEB_END, 75), (MONTH_AGO, 80), (WEEK_AGO, 80)]),
        (b, [(FEB_END, 45), (MONTH_AGO, 50), (WEEK_AGO, 50), (DAY, 55)]),
        (g, [(FEB_END, 20), (WEEK_AGO, 60), (DAY, 60)]),
        (d, [(JAN_END, 90), (FEB_END, 90), (MONTH_AGO, 95), (WEEK_AGO, 95)]),
        (e, [(MONTH_AGO, 40), (WEEK_AGO, 42), (DAY, 40)]),
        (z, [(MONTH_AGO, 61), (WEEK_AGO, 61), (DAY, 59)]),
    ]:
        for day, value in values:
            score(account, day, value)
    score(a, DAY, 30, usage=30)
    HealthScore.objects.filter(account=a, day=WEEK_AGO).update(
        components={"usage": {"raw": 0.0, "points": 100, "weight": 30, "effective_weight": 1.0}}
    )
    score(d, DAY, 20)
    return {"big": big, "a": a, "b": b, "g": g, "d": d, "e": e, "z": z}


def _scoped(scope, book, owner, enterprise_team):
    """The live page's account set for each scope the page offers."""
    accounts = Account.objects.all()
    if scope.scope == Scope.TEAM:
        return accounts.filter(team=enterprise_team)
    if scope.scope == Scope.CSM:
        return accounts.filter(owner=owner)
    if scope.scope == Scope.SEGMENT:
        return accounts.filter(arr__gte=25000)
    return accounts


def _mover_tuples(movers):
    return [
        [(m.account.pk, m.score_then, m.score_now, m.band_now, m.overridden, m.moves) for m in side]
        for side in (movers.down, movers.up)
    ]


@pytest.mark.parametrize("kind", ["company", "segment", "team", "csm"])
@pytest.mark.parametrize("window", [7, 30])
def test_stored_trend_and_movers_equal_the_live_ones(kind, window, book, owner, enterprise_team):
    health_rollups_refresh(today=DAY)
    key = {
        "company": "",
        "segment": str(book["big"].pk),
        "team": str(enterprise_team.pk),
        "csm": str(owner.pk),
    }[kind]
    scope = RollupScope(kind, key)
    accounts = _scoped(scope, book, owner, enterprise_team)
    days = score_days(today=DAY)

    live_trend = band_trend(accounts, days=days.month_ends)
    stored = band_trend_stored(scope)
    live_movers = health_movers(accounts, day=DAY, window=window)
    stored_movers, computed_at = health_movers_stored(scope, day=DAY, window=window)

    assert stored.trend == live_trend
    assert stored.computed_at is not None
    assert computed_at is not None or (not stored_movers.down and not stored_movers.up)
    assert _mover_tuples(stored_movers) == _mover_tuples(live_movers)
    assert (stored_movers.day, stored_movers.since) == (live_movers.day, live_movers.since)


def test_company_trend_and_movers_worked_by_hand(book):
    health_rollups_refresh(today=DAY)
    trend = band_trend_stored(RollupScope(Scope.COMPANY, "")).trend
    movers, _ = health_movers_stored(RollupScope(Scope.COMPANY, ""), day=DAY, window=7)

    # Month-ends: 31 Jan, 28 Feb, and this month's latest scored day, 15 Mar.
    assert trend.days == [JAN_END, FEB_END, DAY]
    # 31 Jan: Alpha 70 green, Delta 90 green -> 2 green, 10k + 40k.
    assert [trend.accounts[b][0] for b in ("red", "yellow", "green")] == [0, 0, 2]
    assert trend.arr["green"][0] == Decimal("50000")
    # 28 Feb: Gamma 20 red (30k); Beta 45 yellow (20k); Alpha 75, Delta 90 green (50k).
    assert [trend.accounts[b][1] for b in ("red", "yellow", "green")] == [1, 1, 2]
    assert [trend.arr[b][1] for b in ("red", "yellow")] == [Decimal("30000"), Decimal("20000")]
    # 15 Mar: red Alpha 30 + Delta 20 (50k); yellow Beta, Gamma, Epsilon, Zeta (101k).
    assert [trend.accounts[b][2] for b in ("red", "yellow", "green")] == [2, 4, 0]
    assert trend.arr["yellow"][2] == Decimal("101000")
    # Falls: Delta -75, Alpha -50, then the tie at -2 by name: Epsilon before Zeta.
    assert [(m.account.name, m.change) for m in movers.down] == [
        ("Delta", -75),
        ("Alpha", -50),
        ("Epsilon", -2),
        ("Zeta", -2),
    ]
    assert [str(move) for move in movers.down[1].moves] == ["Usage \u221270 pts"]
    assert [(m.account.name, m.change) for m in movers.up] == [("Beta", 5)]


def test_the_csm_scope_keeps_only_that_owners_movers(book, owner):
    health_rollups_refresh(today=DAY)
    movers, _ = health_movers_stored(RollupScope(Scope.CSM, str(owner.pk)), day=DAY, window=30)

    # 30 days: Alpha 80 -> 30, Zeta 61 -> 59; Gamma has no score a month ago.
    assert [(m.account.name, m.change) for m in movers.down] == [("Alpha", -50), ("Zeta", -2)]
    assert movers.up == []


def test_a_rerun_replaces_the_rows_rather_than_adding(book):
    health_rollups_refresh(today=DAY)
    first = (HealthMover.objects.count(), HealthBandTrend.objects.count())
    health_rollups_refresh(today=DAY)

    assert (HealthMover.objects.count(), HealthBandTrend.objects.count()) == first
    assert first[0] > 0


def test_the_old_drop_rows_among_metric_snapshots_are_removed(book):
    MetricSnapshot.objects.create(
        month=dt.date(2026, 3, 1), scope=Scope.COMPANY, metric="health_drop_7d:01", count=1
    )
    health_rollups_refresh(today=DAY)

    assert not MetricSnapshot.objects.filter(metric__startswith="health_drop_").exists()


def test_only_one_exact_scope_reads_the_rollups(manager, owner, enterprise_team, smb_team, book):
    assert rollup_scope_for(user=manager, segment=None, team=None, csm=None) == RollupScope(
        Scope.COMPANY, ""
    )
    assert rollup_scope_for(user=manager, segment=None, team=smb_team, csm=None) == RollupScope(
        Scope.TEAM, str(smb_team.pk)
    )
    # Two filters intersect: no single scope holds them.
    assert rollup_scope_for(user=manager, segment=book["big"], team=smb_team, csm=None) is None
    # A CSM's own team is exactly what they see of it; so is their unfiltered book while
    # they own nothing outside the team, and their own accounts filtered by themselves.
    assert rollup_scope_for(
        user=owner, segment=None, team=enterprise_team, csm=None
    ) == RollupScope(Scope.TEAM, str(enterprise_team.pk))
    assert rollup_scope_for(user=owner, segment=None, team=None, csm=None) == RollupScope(
        Scope.TEAM, str(enterprise_team.pk)
    )
    assert rollup_scope_for(user=owner, segment=None, team=None, csm=owner) == RollupScope(
        Scope.CSM, str(owner.pk)
    )
    assert rollup_scope_for(user=owner, segment=book["big"], team=None, csm=None) is None
    # One account of theirs on another team: the book is no single scope, computed live.
    AccountFactory(name="Far away", owner=owner, team=smb_team)
    assert rollup_scope_for(user=owner, segment=None, team=None, csm=None) is None


def test_the_page_says_when_the_rollup_was_computed(client_for, manager, book):
    health_rollups_refresh(today=DAY)
    response = client_for(manager).get(PAGE)

    content = response.content.decode()
    assert 'id="rollup-computed-at"' in content
    assert [m.account.name for m in response.context["movers"].down][:2] == ["Delta", "Alpha"]


def test_before_the_first_run_the_page_says_so_instead_of_failing(client_for, manager, book):
    response = client_for(manager).get(PAGE)

    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="no-rollup"' in content
    assert response.context["movers"].is_empty
    # Today's distribution is live and still shown: 2 red, 4 yellow... from Account columns.
    assert response.context["distribution"].total_accounts == 6


def test_a_csm_book_reads_their_teams_rows_and_never_shows_another_team(client_for, owner, book):
    health_rollups_refresh(today=DAY)
    response = client_for(owner).get(PAGE)

    names = {m.account.name for m in response.context["movers"].down}
    assert names == {"Alpha", "Zeta"}
    assert response.context["rollup_computed_at"] is not None
