"""The journeys page on a small hand-built portfolio: funnel, time in stage, overdue and stuck
milestones, time to value; scope filters, roles, the query budget; and the pure helpers
(percentiles, stays, charts) on numbers worked out by hand.

The portfolio, on 15 Mar 2026 (all transitions at 09:00):

  Alpha   owner     10k  start 1 Dec 2025  onboarding 1 Jan -> activation 31 Jan (30 d)
  Beta    teammate  20k  start 10 Jan      onboarding 10 Jan -> activation 19 Feb (40 d)
                                           -> adoption 1 Mar (10 d in activation)
  Gamma   owner     30k  start 20 Jan      onboarding since 20 Jan (54 d, target 45),
                                           kickoff done
  Delta   outsider 500k  start 1 Jan       onboarding 1 Feb -> activation 1 Mar (28 d)
  Epsilon owner     40k  no journey
  Zeta    owner      5k  start 21 Dec 2025 onboarding 1 Jan -> activation 21 Jan (20 d),
                         churned 15 Feb
"""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from journeys.charts import funnel_figure, time_in_stage_figure, time_to_value_figure
from journeys.models import Milestone, Stage
from journeys.selectors import completed_stays, percentile
from journeys.services import journey_move, journey_start, milestone_complete
from tests.factories import AccountFactory, SegmentFactory

pytestmark = pytest.mark.django_db
PAGE = reverse("journeys:overview")
TODAY = dt.date(2026, 3, 15)


def at(year: int, month: int, day: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime(year, month, day, 9))


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr("journeys.views.journeys.local_today", lambda: TODAY)


def make(name, owner, *, arr, start, **extra) -> Account:
    return AccountFactory(name=name, owner=owner, arr=Decimal(arr), start_date=start, **extra)


def history(account, *steps) -> None:
    """steps: (stage slug, date) in order; the first starts the journey."""
    stages = {s.slug: s for s in Stage.objects.all()}
    (first, when), *rest = steps
    journey_start(account=account, stage=stages[first], by=None, at=at(*when))
    for slug, when in rest:
        journey_move(account=account, to_stage=stages[slug], reason="test", at=at(*when))


@pytest.fixture
def portfolio(owner, teammate, outsider):
    alpha = make("Alpha", owner, arr=10000, start=dt.date(2025, 12, 1))
    history(alpha, ("onboarding", (2026, 1, 1)), ("activation", (2026, 1, 31)))
    beta = make("Beta", teammate, arr=20000, start=dt.date(2026, 1, 10))
    history(
        beta,
        ("onboarding", (2026, 1, 10)),
        ("activation", (2026, 2, 19)),
        ("adoption", (2026, 3, 1)),
    )
    gamma = make("Gamma", owner, arr=30000, start=dt.date(2026, 1, 20))
    history(gamma, ("onboarding", (2026, 1, 20)))
    kickoff = Milestone.objects.get(stage__slug="onboarding", order=0)
    milestone_complete(account=gamma, milestone=kickoff, by=owner, at=at(2026, 1, 25))
    delta = make("Delta", outsider, arr=500000, start=dt.date(2026, 1, 1))
    history(delta, ("onboarding", (2026, 2, 1)), ("activation", (2026, 3, 1)))
    make("Epsilon", owner, arr=40000, start=dt.date(2026, 2, 1))
    zeta = make("Zeta", owner, arr=5000, start=dt.date(2025, 12, 21))
    history(zeta, ("onboarding", (2026, 1, 1)), ("activation", (2026, 1, 21)))
    Account.objects.filter(pk=zeta.pk).update(
        lifecycle_status=Account.Lifecycle.CHURNED, churned_on=dt.date(2026, 2, 15)
    )
    return {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta}


def funnel_rows(context) -> dict[str, tuple[int, Decimal]]:
    funnel = context["funnel"]
    rows = {step.stage.slug: (step.accounts, step.arr) for step in funnel.steps}
    rows["not_started"] = (funnel.not_started.accounts, funnel.not_started.arr)
    return rows


def times(context) -> dict[str, tuple]:
    return {
        t.stage.slug: (t.stays, t.median_days, t.p90_days, t.in_stage_now, t.over_target_now)
        for t in context["times"]
    }


# --- What a manager sees -----------------------------------------------------------------


def test_the_funnel_counts_live_accounts_and_arr_per_stage(client_for, manager, portfolio):
    response = client_for(manager).get(PAGE)

    assert response.status_code == 200
    # Zeta churned: out of the funnel. Epsilon never started.
    assert funnel_rows(response.context) == {
        "onboarding": (1, Decimal("30000")),
        "activation": (2, Decimal("510000")),
        "adoption": (1, Decimal("20000")),
        "renewal": (0, Decimal("0")),
        "not_started": (1, Decimal("40000")),
    }
    funnel = response.context["funnel"]
    assert (funnel.total_accounts, funnel.total_arr) == (5, Decimal("600000"))
    assert funnel.started_accounts == 4
    html = response.content.decode()
    assert '<td class="num" data-arr="510000">$510,000</td>' in html


def test_time_in_stage_takes_median_and_p90_of_completed_stays(client_for, manager, portfolio):
    """Onboarding stays 30, 40, 28 and 20 days (Zeta's counts: it happened). Sorted 20, 28,
    30, 40: median (28 + 30) / 2 = 29; p90 at rank 0.9 x 3 = 2.7: 30 + 0.7 x 10 = 37.
    Activation: Beta's 10 days only. Alpha and Delta are still in activation: not counted."""
    response = client_for(manager).get(PAGE)

    assert times(response.context) == {
        # stays, median, p90, in stage now, of those over target
        "onboarding": (4, 29.0, 37.0, 1, 1),  # Gamma: 54 days of 45
        "activation": (1, 10.0, 10.0, 2, 0),  # Alpha 43 days, Delta 14, of 60
        "adoption": (0, None, None, 1, 0),
        "renewal": (0, None, None, 0, 0),
    }
    onboarding = response.context["times"][0]
    assert onboarding.median_over_target is False  # 29 of 45


def test_overdue_milestones_list_stuck_first_then_most_days_late(client_for, manager, portfolio):
    """Gamma entered onboarding 20 Jan: setup (21/35) was due 10 Feb, stuck from 25 Feb: 33
    days late; training (30/45) due 19 Feb, stuck from 7 Mar: 24 days late. Alpha entered
    activation 31 Jan: first value (30/45) due 2 Mar, stuck from 18 Mar: behind, 13 late."""
    response = client_for(manager).get(PAGE)

    overdue = response.context["overdue"]
    assert [
        (r.account_name, r.milestone_name, r.status.value, r.days_late, r.owner_name)
        for r in overdue.rows
    ] == [
        ("Gamma", "Technical setup complete", "stuck", 33, str(portfolio["gamma"].owner)),
        ("Gamma", "Admins trained", "stuck", 24, str(portfolio["gamma"].owner)),
        ("Alpha", "First value delivered", "behind", 13, str(portfolio["alpha"].owner)),
    ]
    assert (overdue.behind, overdue.stuck, overdue.stuck_accounts) == (1, 2, 1)
    html = response.content.decode()
    assert re.findall(r"data-days-late>(\d+)<", html) == ["33", "24", "13"]


def test_time_to_value_is_the_median_per_month_of_onboarding_completion(
    client_for, manager, portfolio
):
    """Alpha 1 Dec -> 31 Jan: 61 days; Zeta 21 Dec -> 21 Jan: 31 (January: median 46).
    Beta 10 Jan -> 19 Feb: 40 (February). Delta 1 Jan -> 1 Mar: 59 (March).
    Over all four: 31, 40, 59, 61 -> 49.5."""
    response = client_for(manager).get(PAGE)

    ttv = response.context["ttv"]
    assert len(ttv.months) == 12
    assert ttv.months[0].month == dt.date(2025, 4, 1)
    by_month = {m.month: (m.accounts, m.median_days) for m in ttv.months if m.accounts}
    assert by_month == {
        dt.date(2026, 1, 1): (2, 46.0),
        dt.date(2026, 2, 1): (1, 40.0),
        dt.date(2026, 3, 1): (1, 59.0),
    }
    assert (ttv.accounts, ttv.median_days) == (4, 49.5)
    assert '<span class="kpi-value">49.5 d</span>' in response.content.decode()


def test_an_account_counts_once_at_its_first_exit_from_onboarding(owner, client_for, manager):
    account = make("Again", owner, arr=1000, start=dt.date(2026, 1, 1))
    history(
        account,
        ("onboarding", (2026, 1, 1)),
        ("activation", (2026, 1, 11)),  # 10 days to value
        ("onboarding", (2026, 2, 1)),
        ("activation", (2026, 3, 1)),
    )

    ttv = client_for(manager).get(PAGE).context["ttv"]

    assert (ttv.accounts, ttv.median_days) == (1, 10.0)


# --- Scope: role and filters -------------------------------------------------------------


def test_a_csm_sees_only_their_book_and_team(client_for, owner, portfolio):
    """Owner's team: Alpha, Beta, Gamma, Epsilon (live) and Zeta; Delta is SMB's."""
    response = client_for(owner).get(PAGE)

    assert funnel_rows(response.context) == {
        "onboarding": (1, Decimal("30000")),
        "activation": (1, Decimal("10000")),
        "adoption": (1, Decimal("20000")),
        "renewal": (0, Decimal("0")),
        "not_started": (1, Decimal("40000")),
    }
    # Onboarding stays 30, 40, 20: median 30; p90 at rank 1.8: 30 + 0.8 x 10 = 38.
    assert times(response.context)["onboarding"][:3] == (3, 30.0, 38.0)
    assert response.context["ttv"].accounts == 3
    assert "Delta" not in response.content.decode()


def test_the_csm_filter_narrows_to_one_book(client_for, manager, teammate, portfolio):
    response = client_for(manager).get(PAGE, {"csm": teammate.pk})

    rows = funnel_rows(response.context)
    assert rows["adoption"] == (1, Decimal("20000"))
    assert response.context["funnel"].total_accounts == 1
    assert list(response.context["overdue"].rows) == []


def test_the_team_filter_narrows_to_one_team(client_for, manager, outsider, portfolio):
    response = client_for(manager).get(PAGE, {"team": outsider.team_id})

    assert funnel_rows(response.context)["activation"] == (1, Decimal("500000"))
    assert response.context["funnel"].total_accounts == 1


def test_the_segment_filter_narrows_to_its_members(client_for, manager, portfolio):
    big = SegmentFactory(name="Big", rules={"arr_min": 25000})

    response = client_for(manager).get(PAGE, {"segment": big.pk})

    # Gamma 30k (onboarding), Delta 500k (activation), Epsilon 40k (not started).
    assert funnel_rows(response.context) == {
        "onboarding": (1, Decimal("30000")),
        "activation": (1, Decimal("500000")),
        "adoption": (0, Decimal("0")),
        "renewal": (0, Decimal("0")),
        "not_started": (1, Decimal("40000")),
    }


def test_a_csm_cannot_scope_to_another_team(client_for, owner, outsider, portfolio):
    response = client_for(owner).get(PAGE, {"team": outsider.team_id})
    html = response.content.decode()

    assert "These filters are not valid for you" in html
    assert "funnel" not in response.context
    assert "Delta" not in html


def test_the_csm_filter_lists_the_picked_teams_csms(client_for, manager, owner, outsider):
    """Hundreds of CSMs: without a team the dropdown offers none; with SMB, SMB's."""
    make("Owned", owner, arr=1, start=dt.date(2026, 1, 1))
    make("Outside", outsider, arr=1, start=dt.date(2026, 1, 1))
    client = client_for(manager)

    unpicked = client.get(PAGE).context["form"].fields["csm"].widget.choices
    picked = client.get(PAGE, {"team": outsider.team_id}).context["form"].fields["csm"]

    assert [value for value, _ in unpicked] == [""]
    assert [value for value, _ in picked.widget.choices] == ["", outsider.pk]


def test_an_executive_sees_the_page_without_settings_link(client_for, executive, portfolio):
    response = client_for(executive).get(PAGE)

    assert response.context["funnel"].total_accounts == 5
    assert "Stages and milestones" not in response.content.decode()


def test_an_empty_scope_says_so(client_for, manager):
    html = client_for(manager).get(PAGE).content.decode()

    assert "No live accounts in this scope." in html
    assert "No milestone is behind or stuck in this scope." in html
    assert "No account in scope completed onboarding in the last 12 months." in html


def test_without_stages_the_page_says_journeys_are_not_configured(client_for, manager):
    Milestone.objects.all().delete()
    Stage.objects.all().delete()

    html = client_for(manager).get(PAGE).content.decode()

    assert "Journeys are not configured yet" in html


def test_the_overdue_table_is_paginated(client_for, manager, owner):
    """60 accounts each stuck on all 3 onboarding milestones: 180 rows, 50 per page."""
    for n in range(60):
        account = make(f"Stuck {n:02d}", owner, arr=100, start=dt.date(2025, 6, 1))
        journey_start(
            account=account,
            stage=Stage.objects.get(slug="onboarding"),
            by=None,
            at=at(2025, 6, 1),
        )

    response = client_for(manager).get(PAGE, {"page": 2})

    page = response.context["overdue_page"]
    assert page.paginator.count == 180
    assert len(page.object_list) == 50
    assert page.number == 2
    assert "Page 2 of 4" in response.content.decode()


def test_the_page_runs_the_same_queries_for_few_and_many_accounts(
    client_for, manager, owner, outsider, django_assert_max_num_queries
):
    stages = list(Stage.objects.order_by("order"))

    def add(count: int, offset: int) -> None:
        for n in range(offset, offset + count):
            account = make(
                f"Acct {n:03d}", owner if n % 2 else outsider, arr=1000, start=dt.date(2025, 10, 1)
            )
            steps = [("onboarding", (2025, 11, 1))]
            if n % 4:  # a quarter stay in onboarding; the others moved on to a later stage
                steps.append((stages[n % 4].slug, (2026, 1, 5)))
            history(account, *steps)

    add(3, 0)
    client = client_for(manager)
    with django_assert_max_num_queries(16) as few:
        client.get(PAGE)
    add(40, 3)
    with django_assert_max_num_queries(16) as many:
        response = client.get(PAGE)

    assert response.context["funnel"].total_accounts == 43
    assert len(few.captured_queries) == len(many.captured_queries)
    # A filled-in segment/team/CSM adds one validation lookup each, no more.
    with django_assert_max_num_queries(19):
        client.get(PAGE, {"team": owner.team_id, "csm": owner.pk})


# --- Pure helpers on hand-worked numbers -------------------------------------------------


def test_percentiles_interpolate_between_ranks():
    assert percentile([10, 20, 30, 40], 0.5) == 25
    assert percentile([10, 20, 30, 40, 100], 0.5) == 30
    # rank 0.9 x 4 = 3.6: 40 + 0.6 x (100 - 40) = 76
    assert percentile([100, 10, 40, 20, 30], 0.9) == pytest.approx(76)
    assert percentile(list(range(10, 101, 10)), 0.9) == pytest.approx(91)
    assert percentile([7], 0.9) == 7
    assert percentile([], 0.5) is None


def test_a_stay_runs_from_one_transition_to_the_next_of_the_same_account():
    onboarding, activation = 1, 2
    rows = [
        (10, onboarding, dt.date(2026, 1, 1)),
        (10, activation, dt.date(2026, 1, 31)),  # 30 days in onboarding
        (10, onboarding, dt.date(2026, 2, 10)),  # 10 days in activation, back to onboarding
        (11, onboarding, dt.date(2026, 1, 5)),  # account 11 is still in onboarding: open
    ]

    assert completed_stays(rows) == {onboarding: [30], activation: [10]}


def test_the_funnel_chart_keeps_stage_order_and_escapes_names():
    fig = funnel_figure(
        labels=["Onboarding", "<b>Pilot</b>"], accounts=[3, 1], arr=[Decimal("1500.50"), 0]
    )

    trace = fig["data"][0]
    assert trace["type"] == "funnel"
    assert trace["y"] == ["Onboarding", "&lt;b&gt;Pilot&lt;/b&gt;"]
    assert trace["x"] == [3, 1]
    assert trace["customdata"] == [1500.5, 0.0]


def test_the_time_in_stage_chart_leaves_gaps_for_stages_without_stays():
    fig = time_in_stage_figure(
        labels=["Onboarding", "Activation"],
        medians=[29.0, None],
        p90s=[37.0, None],
        targets=[45, None],
    )

    median, p90, target = fig["data"]
    assert median["y"] == [29.0, None]
    assert p90["y"] == [37.0, None]
    assert target["y"] == [45, None]
    assert fig["layout"]["barmode"] == "group"


def test_the_time_to_value_chart_labels_months():
    fig = time_to_value_figure(
        months=[dt.date(2026, 1, 1), dt.date(2026, 2, 1)], medians=[46.0, None], accounts=[2, 0]
    )

    trace = fig["data"][0]
    assert trace["x"] == ["Jan 2026", "Feb 2026"]
    assert trace["y"] == [46.0, None]
    assert trace["customdata"] == [2, 0]


def test_charts_refuse_misaligned_series():
    with pytest.raises(ValueError, match="same length"):
        funnel_figure(labels=["A"], accounts=[1, 2], arr=[0])
