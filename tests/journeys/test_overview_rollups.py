"""The journeys page read from the nightly rollup: the hand-worked figures of the small
portfolio of test_overview (15 Mar 2026), the same values as the live computation for every
scope a rollup covers, the live fallback, permissions, the query budgets, and the job.

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

Owner and teammate are on team Enterprise, outsider on SMB; every account is Scaled.
"""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.jobs import JOBS, JOURNEY_ROLLUPS
from accounts.models import Account, JobRun
from cs_platform.beat_schedule import BEAT_SCHEDULE
from health.selectors import RollupScope
from journeys.models import (
    JourneyOverdueGroup,
    JourneyRollup,
    JourneyStageRollup,
    JourneyTtvMonth,
    Milestone,
    Stage,
)
from journeys.rollups import counted_percentile, journey_rollups_recompute, overdue_groups
from journeys.selectors import (
    overdue_overview,
    percentile,
    stage_entries,
    stages_ordered,
    time_in_stage,
    time_to_value,
)
from journeys.selectors_rollups import journeys_stored
from journeys.services import journey_start, milestone_complete
from journeys.tasks import journey_rollups_recompute_task
from tests.factories import SegmentFactory
from tests.journeys.test_overview import (
    at,
    funnel_rows,
    make,
    portfolio,  # noqa: F401 (a fixture)
    times,
)
from tests.journeys.test_overview_sql import edge_cases  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
PAGE = reverse("journeys:overview")
TODAY = dt.date(2026, 3, 15)
on_postgresql = connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr("journeys.views.journeys.local_today", lambda: TODAY)


def clear_rollups() -> None:
    for model in (JourneyOverdueGroup, JourneyTtvMonth, JourneyStageRollup, JourneyRollup):
        model.objects.all().delete()


def figures(context) -> dict:
    """Everything the page shows, as plain values."""
    overdue = context["overdue"]
    ttv = context["ttv"]
    return {
        "funnel": funnel_rows(context),
        "totals": (context["funnel"].total_accounts, context["funnel"].total_arr),
        "times": times(context),
        "overdue": [
            (r.account_id, r.milestone_name, r.status.value, r.due_on, r.days_late, r.owner_name)
            for r in overdue.rows
        ],
        "counts": (overdue.behind, overdue.stuck, overdue.stuck_accounts),
        "ttv": [(m.month, m.accounts, m.median_days) for m in ttv.months],
        "ttv_all": (ttv.accounts, ttv.median_days),
    }


def approx_figures(values: dict) -> dict:
    """PostgreSQL's percentile_cont and the rollup's counted percentile may differ in the
    last bit of a float; the page shows one decimal."""
    values = dict(values)
    values["times"] = {
        slug: (stays, pytest.approx(median), pytest.approx(p90), now, over)
        for slug, (stays, median, p90, now, over) in values["times"].items()
    }
    values["ttv"] = [(month, n, pytest.approx(median)) for month, n, median in values["ttv"]]
    values["ttv_all"] = (values["ttv_all"][0], pytest.approx(values["ttv_all"][1]))
    return values


# --- The hand-worked figures ------------------------------------------------------------


@pytest.mark.usefixtures("portfolio")
def test_the_page_reads_the_rollup_and_shows_the_hand_worked_figures(client_for, manager):
    journey_rollups_recompute(today=TODAY)

    response = client_for(manager).get(PAGE)

    context = response.context
    assert context["as_of"] == TODAY
    assert context["rollup_computed_at"] is not None
    # Zeta churned: out of the funnel. Epsilon never started.
    assert funnel_rows(context) == {
        "onboarding": (1, Decimal("30000")),
        "activation": (2, Decimal("510000")),
        "adoption": (1, Decimal("20000")),
        "renewal": (0, Decimal("0")),
        "not_started": (1, Decimal("40000")),
    }
    assert (context["funnel"].total_accounts, context["funnel"].total_arr) == (
        5,
        Decimal("600000"),
    )
    # Onboarding stays 20, 28, 30, 40: median 29, p90 at rank 2.7: 30 + 0.7 x 10 = 37.
    assert times(context) == {
        "onboarding": (4, 29.0, pytest.approx(37.0), 1, 1),  # Gamma: 54 days of 45
        "activation": (1, 10.0, 10.0, 2, 0),  # Alpha 43 days, Delta 14, of 60
        "adoption": (0, None, None, 1, 0),
        "renewal": (0, None, None, 0, 0),
    }
    # Gamma: setup due 10 Feb, stuck (33 late); training due 19 Feb, stuck (24 late).
    # Alpha: first value due 2 Mar, behind (13 late).
    overdue = context["overdue"]
    assert [
        (r.account_name, r.milestone_name, r.status.value, r.days_late) for r in overdue.rows
    ] == [
        ("Gamma", "Technical setup complete", "stuck", 33),
        ("Gamma", "Admins trained", "stuck", 24),
        ("Alpha", "First value delivered", "behind", 13),
    ]
    assert (overdue.behind, overdue.stuck, overdue.stuck_accounts) == (1, 2, 1)
    # Alpha 61 and Zeta 31 days in January (median 46), Beta 40 in February, Delta 59 in
    # March; over all four 31, 40, 59, 61: 49.5.
    ttv = context["ttv"]
    assert {m.month: (m.accounts, m.median_days) for m in ttv.months if m.accounts} == {
        dt.date(2026, 1, 1): (2, 46.0),
        dt.date(2026, 2, 1): (1, 40.0),
        dt.date(2026, 3, 1): (1, 59.0),
    }
    assert (ttv.accounts, ttv.median_days) == (4, 49.5)
    html = response.content.decode()
    assert 'id="rollup-computed-at"' in html
    assert "Figures as of 15 Mar 2026" in html
    assert re.findall(r"data-days-late>(\d+)<", html) == ["33", "24", "13"]
    assert '<span class="kpi-value">49.5 d</span>' in html


@pytest.mark.usefixtures("portfolio")
def test_the_rollup_stores_each_scope_as_worked_out_by_hand(owner, outsider):
    """Team Enterprise: Alpha, Beta, Gamma, Epsilon live, Zeta churned. Its onboarding stays
    30, 40, 20: median 30, p90 at rank 1.8: 30 + 0.8 x 10 = 38. SMB: Delta alone."""
    journey_rollups_recompute(today=TODAY)

    enterprise = JourneyRollup.objects.get(scope="team", scope_key=str(owner.team_id))
    assert (enterprise.not_started_accounts, enterprise.not_started_arr) == (1, Decimal("40000"))
    assert (enterprise.behind, enterprise.stuck, enterprise.stuck_accounts) == (1, 2, 1)
    # Alpha 61, Zeta 31, Beta 40: median 40.
    assert (enterprise.ttv_accounts, enterprise.ttv_median_days) == (3, 40.0)
    onboarding = JourneyStageRollup.objects.get(
        scope="team", scope_key=str(owner.team_id), stage__slug="onboarding"
    )
    assert (onboarding.accounts, onboarding.stays, onboarding.median_days) == (1, 3, 30.0)
    assert onboarding.p90_days == pytest.approx(38.0)
    smb = JourneyStageRollup.objects.get(
        scope="csm", scope_key=str(outsider.pk), stage__slug="activation"
    )
    assert (smb.accounts, smb.arr, smb.in_stage_now, smb.over_target_now) == (
        1,
        Decimal("500000"),
        1,
        0,
    )
    # Gamma's two stuck milestones and Alpha's behind one, each its own sort group.
    groups = list(
        JourneyOverdueGroup.objects.filter(scope="company")
        .order_by("first_row")
        .values_list("milestone__name", "entered_on", "account_ids", "first_row", "end_row")
    )
    gamma, alpha = (Account.objects.get(name=name).pk for name in ("Gamma", "Alpha"))
    assert groups == [
        ("Technical setup complete", dt.date(2026, 1, 20), [gamma], 0, 1),
        ("Admins trained", dt.date(2026, 1, 20), [gamma], 1, 2),
        ("First value delivered", dt.date(2026, 1, 31), [alpha], 2, 3),
    ]


@pytest.mark.usefixtures("portfolio")
def test_every_scope_of_the_plan_gets_rows_even_when_empty(teammate):
    """Every CSM gets a rollup, so "no rows" means the job has not covered the scope."""
    journey_rollups_recompute(today=TODAY)

    beta_book = JourneyRollup.objects.get(scope="csm", scope_key=str(teammate.pk))
    assert (beta_book.behind, beta_book.stuck, beta_book.ttv_accounts) == (0, 0, 1)
    high_touch = JourneyRollup.objects.get(scope="tier", scope_key="high_touch")
    assert (high_touch.not_started_accounts, high_touch.ttv_median_days) == (0, None)
    assert JourneyStageRollup.objects.filter(scope="tier", scope_key="high_touch").count() == 4


@pytest.mark.usefixtures("portfolio")
def test_a_rerun_replaces_every_row():
    first = journey_rollups_recompute(today=TODAY)

    assert journey_rollups_recompute(today=TODAY) == first
    assert JourneyRollup.objects.filter(scope="company").count() == 1


# --- Stored and live agree ----------------------------------------------------------------


def scope_requests(owner, teammate, outsider, segment) -> list:
    """(viewer, filters) of every scope a rollup covers."""
    return [
        ("manager", {}),
        ("manager", {"team": owner.team_id}),
        ("manager", {"team": outsider.team_id}),
        ("manager", {"csm": owner.pk}),
        ("manager", {"csm": teammate.pk}),
        ("manager", {"segment": segment.pk}),
        ("executive", {}),
        ("owner", {"team": owner.team_id}),
        ("owner", {}),
        ("owner", {"csm": owner.pk}),
    ]


@pytest.mark.usefixtures("portfolio")
def test_stored_figures_are_the_live_ones_for_every_scope(
    client_for, manager, executive, owner, teammate, outsider
):
    big = SegmentFactory(name="Big", rules={"arr_min": 25000})
    users = {"manager": manager, "executive": executive, "owner": owner}
    journey_rollups_recompute(today=TODAY)
    stored = {}
    for who, params in scope_requests(owner, teammate, outsider, big):
        context = client_for(users[who]).get(PAGE, params).context
        assert "rollup_computed_at" in context, (who, params)
        stored[(who, tuple(params.items()))] = figures(context)

    clear_rollups()
    for who, params in scope_requests(owner, teammate, outsider, big):
        context = client_for(users[who]).get(PAGE, params).context
        assert "rollup_computed_at" not in context
        assert stored[(who, tuple(params.items()))] == approx_figures(figures(context)), (
            who,
            params,
        )


def test_the_overdue_list_pages_like_the_live_one(client_for, manager, owner):
    """60 accounts each stuck on all 3 onboarding milestones: 180 rows, 50 per page."""
    onboarding = Stage.objects.get(slug="onboarding")
    for n in range(60):
        account = make(f"Stuck {n:02d}", owner, arr=100, start=dt.date(2025, 6, 1))
        journey_start(account=account, stage=onboarding, by=None, at=at(2025, 6, 1 + n % 3))
    client = client_for(manager)
    live = [client.get(PAGE, {"page": page}).context["overdue_page"] for page in (1, 2, 4)]
    journey_rollups_recompute(today=TODAY)

    for page, expected in zip((1, 2, 4), live, strict=True):
        response = client.get(PAGE, {"page": page})
        got = response.context["overdue_page"]
        assert "rollup_computed_at" in response.context
        assert got.paginator.count == 180
        assert list(got.object_list) == list(expected.object_list)
    assert len(got.object_list) == 30


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland", "America/Los_Angeles"])
@pytest.mark.usefixtures("edge_cases")
def test_local_days_are_the_live_ones_in_any_time_zone(zone):
    """The edge cases of test_overview_sql: moves late in a UTC day fall on the next local
    day in Auckland; the rollup must subtract and group the same local days."""
    accounts = Account.objects.all()
    with timezone.override(zone):
        journey_rollups_recompute(today=TODAY)
        stages = stages_ordered()
        stored = journeys_stored(RollupScope("company", ""), accounts=accounts, stages=stages)
        live_times = time_in_stage(
            accounts, stages=stages, entries=stage_entries(accounts), today=TODAY
        )
        live_overdue = overdue_overview(accounts, stages=stages, today=TODAY)
        live_ttv = time_to_value(accounts, today=TODAY)
        assert stored is not None
        assert list(stored.overdue.rows) == list(live_overdue.rows)
    assert [(t.stays, t.in_stage_now, t.over_target_now) for t in stored.times] == [
        (t.stays, t.in_stage_now, t.over_target_now) for t in live_times
    ]
    assert [(t.median_days, t.p90_days) for t in stored.times] == [
        (pytest.approx(t.median_days), pytest.approx(t.p90_days)) for t in live_times
    ]
    assert [(m.accounts, m.median_days) for m in stored.ttv.months] == [
        (m.accounts, pytest.approx(m.median_days)) for m in live_ttv.months
    ]
    assert (stored.overdue.behind, stored.overdue.stuck, stored.overdue.stuck_accounts) == (
        live_overdue.behind,
        live_overdue.stuck,
        live_overdue.stuck_accounts,
    )


@pytest.mark.usefixtures("portfolio")
def test_a_milestone_done_after_the_night_leaves_the_list_but_not_the_counts(
    client_for, manager, owner
):
    journey_rollups_recompute(today=TODAY)
    setup = Milestone.objects.get(stage__slug="onboarding", name="Technical setup complete")
    milestone_complete(account=Account.objects.get(name="Gamma"), milestone=setup, by=owner)

    overdue = client_for(manager).get(PAGE).context["overdue"]

    assert [r.milestone_name for r in overdue.rows[0:3]] == [
        "Admins trained",
        "First value delivered",
    ]
    assert (overdue.behind, overdue.stuck) == (1, 2)  # last night's counts


# --- Live fallback and permissions --------------------------------------------------------


@pytest.mark.usefixtures("portfolio")
def test_before_the_first_night_the_page_counts_live_and_says_so(client_for, manager):
    response = client_for(manager).get(PAGE)

    assert "rollup_computed_at" not in response.context
    assert response.context["funnel"].total_accounts == 5
    assert 'id="rollup-live"' in response.content.decode()


@pytest.mark.usefixtures("portfolio")
def test_a_combination_of_filters_is_counted_live(client_for, manager, owner):
    journey_rollups_recompute(today=TODAY)

    response = client_for(manager).get(PAGE, {"team": owner.team_id, "csm": owner.pk})

    assert "rollup_computed_at" not in response.context
    assert 'id="rollup-live"' not in response.content.decode()
    # Alpha (activation), Gamma (onboarding), Epsilon: owner's live accounts.
    assert response.context["funnel"].total_accounts == 3


@pytest.mark.usefixtures("portfolio")
def test_a_csm_reads_their_teams_rollup_when_their_book_is_their_team(client_for, owner):
    """Owner sees their own and Enterprise's accounts; they own none outside Enterprise, so
    that is exactly the team's scope. Delta (SMB's) is never in it."""
    journey_rollups_recompute(today=TODAY)

    response = client_for(owner).get(PAGE)

    assert "rollup_computed_at" in response.context
    # Alpha, Beta, Gamma, Epsilon live; Zeta churned.
    assert response.context["funnel"].total_accounts == 4
    assert "Delta" not in response.content.decode()


@pytest.mark.usefixtures("portfolio")
def test_a_csm_owning_an_account_outside_their_team_is_counted_live(client_for, owner, outsider):
    """Owner's Epsilon moves to SMB: still in owner's book (they own it), not in
    Enterprise's scope, so no stored scope is the book and it is counted live."""
    Account.objects.filter(name="Epsilon").update(team=outsider.team)
    journey_rollups_recompute(today=TODAY)

    response = client_for(owner).get(PAGE)

    assert "rollup_computed_at" not in response.context
    assert response.context["funnel"].not_started.accounts == 1  # Epsilon
    assert response.context["funnel"].total_accounts == 4
    assert "Delta" not in response.content.decode()


@pytest.mark.usefixtures("portfolio")
def test_a_csm_filtering_on_a_teammate_is_counted_live(client_for, owner, teammate):
    journey_rollups_recompute(today=TODAY)

    response = client_for(owner).get(PAGE, {"csm": teammate.pk})

    assert "rollup_computed_at" not in response.context
    assert response.context["funnel"].total_accounts == 1  # Beta


@pytest.mark.usefixtures("portfolio")
def test_a_csm_cannot_read_another_teams_rollup(client_for, owner, outsider):
    journey_rollups_recompute(today=TODAY)

    for params in ({"team": outsider.team_id}, {"csm": outsider.pk}):
        response = client_for(owner).get(PAGE, params)
        html = response.content.decode()
        assert "These filters are not valid for you" in html
        assert "funnel" not in response.context
        assert "Delta" not in html


@pytest.mark.usefixtures("portfolio")
def test_the_team_rollup_lists_only_the_teams_accounts(client_for, owner, outsider):
    """Delta is late on nothing, so an SMB account stuck in onboarding is planted: the
    company's list has it, Enterprise's does not."""
    late = make("Late SMB", outsider, arr=100, start=dt.date(2025, 6, 1))
    journey_start(
        account=late, stage=Stage.objects.get(slug="onboarding"), by=None, at=at(2026, 1, 1)
    )
    journey_rollups_recompute(today=TODAY)
    assert JourneyRollup.objects.get(scope="company").stuck == 5

    response = client_for(owner).get(PAGE, {"team": owner.team_id})

    assert "rollup_computed_at" in response.context
    assert {r.account_name for r in response.context["overdue"].rows} == {"Gamma", "Alpha"}
    assert response.context["funnel"].total_accounts == 4


@pytest.mark.usefixtures("portfolio")
def test_stored_rows_name_only_accounts_the_viewer_may_see():
    """The company's groups hold Gamma's and Alpha's ids; read through a book holding only
    Alpha, Gamma is never named."""
    journey_rollups_recompute(today=TODAY)

    stored = journeys_stored(
        RollupScope("company", ""),
        accounts=Account.objects.filter(name="Alpha"),
        stages=stages_ordered(),
    )

    assert stored is not None
    assert [r.account_name for r in stored.overdue.rows] == ["Alpha"]


# --- Query budgets --------------------------------------------------------------------------


def add_accounts(owner, outsider, count: int, offset: int) -> None:
    stages = list(Stage.objects.order_by("order"))
    for n in range(offset, offset + count):
        account = make(
            f"Acct {n:03d}", owner if n % 2 else outsider, arr=1000, start=dt.date(2025, 10, 1)
        )
        journey_start(account=account, stage=stages[n % 4], by=None, at=at(2025, 11, 1 + n % 20))


def test_the_stored_page_runs_the_same_queries_for_few_and_many_accounts(
    client_for, manager, owner, outsider, django_assert_max_num_queries
):
    client = client_for(manager)
    add_accounts(owner, outsider, 3, 0)
    journey_rollups_recompute(today=TODAY)
    with django_assert_max_num_queries(12) as few:
        response = client.get(PAGE)
    assert "rollup_computed_at" in response.context
    add_accounts(owner, outsider, 60, 3)
    journey_rollups_recompute(today=TODAY)
    with django_assert_max_num_queries(12) as many:
        response = client.get(PAGE, {"page": 2})

    assert response.context["funnel"].total_accounts == 63
    assert len(few.captured_queries) == len(many.captured_queries)


def test_the_rollup_runs_the_same_queries_for_few_and_many_accounts(
    owner, outsider, django_assert_max_num_queries
):
    add_accounts(owner, outsider, 3, 0)
    with django_assert_max_num_queries(30) as few:
        journey_rollups_recompute(today=TODAY)
    add_accounts(owner, outsider, 60, 3)
    with django_assert_max_num_queries(30) as many:
        journey_rollups_recompute(today=TODAY)

    def reads(context) -> list[str]:
        # Inserts come in batches of rows (SQLite takes fewer rows per statement).
        return [q["sql"][:12] for q in context.captured_queries if "INSERT" not in q["sql"]]

    assert reads(few) == reads(many)


# --- The job --------------------------------------------------------------------------------


@pytest.mark.usefixtures("portfolio")
def test_the_nightly_task_records_its_run():
    rows = journey_rollups_recompute_task(TODAY.isoformat())

    run = JobRun.objects.get(job="journey_rollups")
    assert (run.status, run.period, run.rows) == ("succeeded", "2026-03-15", rows)
    assert JourneyRollup.objects.filter(scope="company", day=TODAY).exists()
    assert JOURNEY_ROLLUPS in JOBS
    entry = BEAT_SCHEDULE["journey-rollups-nightly"]
    assert entry["task"] == "journeys.tasks.journey_rollups_recompute_task"


# --- Pure helpers ---------------------------------------------------------------------------


def test_a_counted_percentile_is_the_listed_one():
    # 10, 20, 20, 30, 100: median 20; p90 at rank 3.6: 30 + 0.6 x 70 = 72.
    counts = {30: 1, 10: 1, 20: 2, 100: 1}
    assert counted_percentile(counts, 0.5) == 20
    assert counted_percentile(counts, 0.9) == pytest.approx(72)
    for values in ([7], [0, 0, 5], [3, 9, 9, 9, 12, 40], list(range(0, 200, 7))):
        counted = {v: values.count(v) for v in values}
        for q in (0.5, 0.9):
            assert counted_percentile(counted, q) == percentile(values, q)
    assert counted_percentile({}, 0.5) is None


def test_overdue_groups_sort_stuck_first_then_most_days_late():
    """Kickoff 7/14 and setup 21/35 on 15 Mar. Entered 1 Mar: kickoff stuck? 14 days in,
    not past 14: behind, 7 late. Entered 20 Feb: kickoff stuck 16 late; setup behind 2.
    Entered 22 Feb (2 accounts): kickoff stuck 14 late. Entered 24 Feb: setup on track."""
    kickoff = Milestone(pk=1, target_days=7, stuck_days=14)
    setup = Milestone(pk=2, target_days=21, stuck_days=35)
    late = {
        (1, dt.date(2026, 3, 1)): [10],
        (1, dt.date(2026, 2, 20)): [11],
        (2, dt.date(2026, 2, 20)): [11],
        (1, dt.date(2026, 2, 22)): [13, 12],
    }

    placed, behind, stuck = overdue_groups(late, milestones={1: kickoff, 2: setup}, today=TODAY)

    assert placed == [
        (1, dt.date(2026, 2, 20), [11], 0, 1),  # stuck, 16 late
        (1, dt.date(2026, 2, 22), [12, 13], 1, 3),  # stuck, 14 late
        (1, dt.date(2026, 3, 1), [10], 3, 4),  # behind, 7 late
        (2, dt.date(2026, 2, 20), [11], 4, 5),  # behind, 2 late
    ]
    assert (behind, stuck) == (2, 3)
