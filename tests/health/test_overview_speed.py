"""The health page reads today's band distribution and stale scores from the nightly rollup
(HealthBandToday) for every scope the job covers, a CSM's book included when it is exactly
their team: the same numbers as the live count, worked out by hand, a query count that does
not grow with the accounts, the live count kept for scopes the job does not cover, and a
CSM still limited to their own team."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account
from health.models import HealthBandToday, HealthScore, ScorecardVersion
from health.selectors import (
    RollupScope,
    band_distribution,
    band_today_stored,
    stale_scores,
)
from reports.health_rollups import health_rollups_refresh
from reports.models import Scope
from tests.factories import AccountFactory, SegmentFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
PAGE = reverse("health:overview")
DAY = dt.date(2026, 3, 15)


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr("health.views.overview.local_today", lambda: DAY)
    return DAY


def _band(value):
    return "red" if value < 40 else "green" if value >= 70 else "yellow"


def make(name, owner, arr, *, value=None, usage_through=None, churned=False):
    """An account with its current band (from `value`) and, when scored, today's score
    resting on usage up to `usage_through` (None: no usage at all)."""
    account = AccountFactory(
        name=name,
        owner=owner,
        health_score=value,
        health_band=_band(value) if value is not None else "",
        lifecycle_status=Account.Lifecycle.CHURNED if churned else Account.Lifecycle.ACTIVE,
        churned_on=DAY if churned else None,
    )
    Account.objects.filter(pk=account.pk).update(arr=Decimal(arr))
    if value is not None:
        HealthScore.objects.create(
            account=account,
            day=DAY,
            score=value,
            band=_band(value),
            computed_score=value,
            computed_band=_band(value),
            components={},
            scorecard_version=ScorecardVersion.objects.get(scorecard__name="Default"),
            usage_through=usage_through,
        )
    return account


@pytest.fixture
def book(owner, teammate, outsider):
    """Scores of 15 Mar; stale means usage before 12 Mar (three days), or none.

      Alpha   owner     10k  30 red     usage 15 Mar  fresh
      Beta    teammate  20k  55 yellow  usage 10 Mar  stale
      Gamma   owner     30k  unscored
      Delta   outsider  40k  80 green   no usage      stale
      Epsilon outsider  25k  20 red     usage 12 Mar  fresh (exactly three days)
      Omega   owner     15k  25 red     usage  5 Mar  stale; churned today after scoring

    Enterprise is owner and teammate, SMB the outsider; segment "Big" is ARR >= 25k.
    """
    big = SegmentFactory(name="Big", rules={"arr_min": 25000})
    make("Alpha", owner, 10000, value=30, usage_through=DAY)
    make("Beta", teammate, 20000, value=55, usage_through=dt.date(2026, 3, 10))
    make("Gamma", owner, 30000)
    make("Delta", outsider, 40000, value=80, usage_through=None)
    make("Epsilon", outsider, 25000, value=20, usage_through=dt.date(2026, 3, 12))
    make("Omega", owner, 15000, value=25, usage_through=dt.date(2026, 3, 5), churned=True)
    return {"big": big}


def _figures(distribution):
    return {s.band: (s.accounts, s.arr) for s in distribution.slices}


# Live accounts per band with their ARR, and (scored, stale) of 15 Mar, worked out by hand.
# Omega is churned: out of every distribution, in every stale count it belongs to.
EXPECTED = {
    "company": (
        {
            "red": (2, Decimal("35000")),  # Alpha, Epsilon
            "yellow": (1, Decimal("20000")),  # Beta
            "green": (1, Decimal("40000")),  # Delta
            "none": (1, Decimal("30000")),  # Gamma
        },
        (5, 3),  # Alpha, Beta, Delta, Epsilon, Omega; Beta, Delta, Omega stale
    ),
    "team": (
        {
            "red": (1, Decimal("10000")),
            "yellow": (1, Decimal("20000")),
            "green": (0, Decimal("0")),
            "none": (1, Decimal("30000")),
        },
        (3, 2),  # Alpha, Beta, Omega; Beta, Omega stale
    ),
    "csm": (
        {
            "red": (1, Decimal("10000")),
            "yellow": (0, Decimal("0")),
            "green": (0, Decimal("0")),
            "none": (1, Decimal("30000")),
        },
        (2, 1),  # Alpha, Omega; Omega stale
    ),
    "segment": (
        {
            "red": (1, Decimal("25000")),  # Epsilon
            "yellow": (0, Decimal("0")),
            "green": (1, Decimal("40000")),  # Delta
            "none": (1, Decimal("30000")),  # Gamma
        },
        (2, 1),  # Delta stale, Epsilon fresh
    ),
}


@pytest.mark.parametrize("kind", ["company", "team", "csm", "segment"])
def test_stored_distribution_and_stale_scores_equal_the_live_ones(
    kind, book, owner, enterprise_team
):
    # Given the nightly rollup of the book
    health_rollups_refresh(today=DAY)
    key = {
        "company": "",
        "team": str(enterprise_team.pk),
        "csm": str(owner.pk),
        "segment": str(book["big"].pk),
    }[kind]
    accounts = {
        "company": Account.objects.all(),
        "team": Account.objects.filter(team=enterprise_team),
        "csm": Account.objects.filter(owner=owner),
        "segment": Account.objects.filter(arr__gte=25000),
    }[kind]

    # When the scope's stored figures are read
    stored = band_today_stored(RollupScope(kind, key))

    # Then they are the hand-worked ones, and the live count's
    bands, (scored, stale) = EXPECTED[kind]
    assert _figures(stored.distribution) == bands
    assert (stored.stale.day, stored.stale.scored, stored.stale.stale) == (DAY, scored, stale)
    assert stored.distribution == band_distribution(accounts)
    assert stored.stale == stale_scores(accounts, day=DAY)
    assert stored.computed_at is not None


def test_the_company_share_in_red_is_worked_out_from_the_stored_arr(book):
    health_rollups_refresh(today=DAY)

    distribution = band_today_stored(RollupScope(Scope.COMPANY, "")).distribution

    # 35k red of 125k live ARR.
    assert distribution.total_accounts == 5
    assert distribution.total_arr == Decimal("125000")
    assert distribution.red_arr_share == pytest.approx(28.0)
    assert distribution.scored_accounts == 4


def test_every_scope_gets_all_four_bands_even_when_empty(book, smb_team):
    health_rollups_refresh(today=DAY)

    tier_rows = HealthBandToday.objects.filter(scope=Scope.TIER, scope_key="high_touch")
    assert sorted(tier_rows.values_list("band", "accounts")) == [
        ("green", 0),
        ("none", 0),
        ("red", 0),
        ("yellow", 0),
    ]
    smb = band_today_stored(RollupScope(Scope.TEAM, str(smb_team.pk)))
    assert _figures(smb.distribution)["green"] == (1, Decimal("40000"))


def test_before_any_score_the_stored_scope_has_accounts_and_no_stale_day(owner):
    make("Unscored", owner, 5000)
    health_rollups_refresh(today=DAY)

    stored = band_today_stored(RollupScope(Scope.COMPANY, ""))

    assert stored.stale is None
    assert _figures(stored.distribution)["none"] == (1, Decimal("5000"))


def test_a_scope_the_job_has_not_stored_reads_nothing():
    assert band_today_stored(RollupScope(Scope.COMPANY, "")) is None


def test_the_manager_page_shows_the_stored_counts_without_counting_accounts(client, manager, book):
    # Given the nightly rollup
    health_rollups_refresh(today=DAY)
    client.force_login(manager)

    # When the manager opens the page
    with CaptureQueriesContext(connection) as queries:
        response = client.get(PAGE)

    # Then the distribution and the stale scores are the stored ones
    assert _figures(response.context["distribution"]) == EXPECTED["company"][0]
    stale = response.context["stale"]
    assert (stale.scored, stale.stale) == (5, 3)
    content = response.content.decode()
    assert 'id="today-computed-at"' in content
    assert 'data-stale="3"' in content
    # and no query groups the accounts by band or counts the day's scores
    for query in queries.captured_queries:
        assert not ("GROUP BY" in query["sql"] and '"health_band"' in query["sql"])
        assert '"usage_through"' not in query["sql"]


def test_the_page_reads_the_same_queries_for_few_and_many_accounts(
    client, manager, owner, outsider, django_assert_max_num_queries
):
    client.force_login(manager)

    def grow(count, start):
        for n in range(start, start + count):
            make(f"Account {n:03d}", owner if n % 2 else outsider, 1000 + n, value=50 + n % 40)

    grow(3, 0)
    health_rollups_refresh(today=DAY)
    with CaptureQueriesContext(connection) as few:
        client.get(PAGE)
    grow(60, 3)
    health_rollups_refresh(today=DAY)
    # session, user; score days, stored today, stored trend, stored movers; usage,
    # tickets, answers, last run (freshness); segments, teams, CSMs (filter form); the
    # periodic jobs' status.
    with django_assert_max_num_queries(14) as many:
        response = client.get(PAGE)

    assert response.context["distribution"].total_accounts == 63
    assert len(few.captured_queries) == len(many.captured_queries)


def test_a_team_made_after_the_nightly_run_is_counted_live(client, manager, book):
    # Given a team and an account created after tonight's rollup
    health_rollups_refresh(today=DAY)
    late = TeamFactory(name="Late")
    newcomer = UserFactory(username="newcomer", role="csm", team=late)
    make("Newcomer Co", newcomer, 7000, value=45, usage_through=None)
    client.force_login(manager)

    # When the manager narrows the page to that team
    response = client.get(PAGE, {"team": late.pk})

    # Then its account is counted from the live columns
    assert _figures(response.context["distribution"])["yellow"] == (1, Decimal("7000"))
    assert response.context["distribution"].total_accounts == 1
    assert (response.context["stale"].scored, response.context["stale"].stale) == (1, 1)
    assert "today_computed_at" not in response.context or not response.context["today_computed_at"]


def test_a_csm_sees_their_teams_stored_counts_and_never_another_teams(
    client, owner, enterprise_team, book
):
    health_rollups_refresh(today=DAY)
    client.force_login(owner)

    # Their own team: the stored team scope, Alpha, Beta and Gamma only
    own = client.get(PAGE, {"team": enterprise_team.pk})
    assert _figures(own.context["distribution"]) == EXPECTED["team"][0]
    assert own.context["today_computed_at"] is not None

    # Their unfiltered book (own and team accounts, none elsewhere) is the same team scope
    book_page = client.get(PAGE)
    assert _figures(book_page.context["distribution"]) == EXPECTED["team"][0]
    assert (book_page.context["stale"].scored, book_page.context["stale"].stale) == (3, 2)
    assert book_page.context["today_computed_at"] is not None

    # Filtered by themselves: their own stored scope, Alpha and Gamma
    mine = client.get(PAGE, {"csm": owner.pk})
    assert _figures(mine.context["distribution"]) == EXPECTED["csm"][0]
    assert mine.context["today_computed_at"] is not None


def test_a_csm_owning_an_account_on_another_team_is_counted_live_with_it(
    client, owner, smb_team, book
):
    # Given an account of the owner's on the SMB team, beside SMB's Delta and Epsilon
    far = make("Far Co", owner, 5000, value=75, usage_through=DAY)
    Account.objects.filter(pk=far.pk).update(team=smb_team)
    health_rollups_refresh(today=DAY)
    client.force_login(owner)

    response = client.get(PAGE)

    # Then the book is counted live: Enterprise's Alpha, Beta, Gamma and their own Far Co,
    # never Delta or Epsilon
    assert _figures(response.context["distribution"]) == {
        "red": (1, Decimal("10000")),
        "yellow": (1, Decimal("20000")),
        "green": (1, Decimal("5000")),
        "none": (1, Decimal("30000")),
    }
    # Alpha, Beta, Omega, Far Co scored; Beta and Omega stale
    assert (response.context["stale"].scored, response.context["stale"].stale) == (4, 2)
    assert response.context["today_computed_at"] is None


def test_a_csm_page_runs_the_same_queries_for_few_and_many_accounts(
    client, owner, teammate, django_assert_max_num_queries
):
    client.force_login(owner)

    def grow(count, start):
        for n in range(start, start + count):
            make(f"Account {n:03d}", owner if n % 2 else teammate, 1000 + n, value=50 + n % 40)

    grow(3, 0)
    health_rollups_refresh(today=DAY)
    with CaptureQueriesContext(connection) as few:
        client.get(PAGE)
    grow(60, 3)
    health_rollups_refresh(today=DAY)
    # As the manager's page, and one look for an account of theirs outside the team.
    with django_assert_max_num_queries(15) as many:
        response = client.get(PAGE)

    assert response.context["distribution"].total_accounts == 63
    assert len(few.captured_queries) == len(many.captured_queries)


def test_a_csm_asking_for_another_teams_stored_counts_gets_none(client, owner, smb_team, book):
    health_rollups_refresh(today=DAY)
    client.force_login(owner)

    response = client.get(PAGE, {"team": smb_team.pk})

    assert response.status_code == 200
    assert "distribution" not in response.context
    assert 'id="invalid-scope"' in response.content.decode()
    assert "40,000" not in response.content.decode()
