"""The nightly metric snapshots, on a five-account portfolio whose figures are worked out by
hand in the comments below.

Today is Wednesday 20 May 2026. Two teams: Enterprise (owner, teammate) and SMB (outsider).

    account  owner     team        tier        contracts (ARR)
    Acme     owner     Enterprise  high-touch  12k to 31 May, renewed 15k from 1 Jun
    Birch    owner     Enterprise  scaled      6k to 31 Dec, +2k from 15 May
    Cedar    teammate  Enterprise  scaled      3k from 10 May
    Dune     outsider  SMB         tech-touch  8k to 14 May, not renewed (churned)
    Elm      outsider  SMB         tech-touch  1k from 10 Apr, +500 from 5 May

Health: Acme 80 (19 Apr), 75 (30 Apr), 70 (12 May), 35 (19 May); Birch 60, 60, 55 (30 Apr,
12 and 19 May); Cedar 75, 80 (12 and 19 May); Dune 90 (19 May); Elm none.
Segments: "Key accounts" (static: Acme, Dune) and "Scaled" (rule: tier scaled: Birch, Cedar).
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, Contract, Segment, SegmentMembership, Task, Team
from feedback.models import FollowUp, Survey, SurveyCampaign, SurveyInvitation
from health.models import HealthMover, HealthScore, ScorecardVersion
from reports.models import MetricSnapshot, Scope
from reports.snapshots import (
    QUARTER_PREFIX,
    metric_snapshots_recompute,
)
from tests.factories import (
    AccountFactory,
    ContactFactory,
    ContractFactory,
    InteractionFactory,
    SegmentFactory,
    SurveyAnswerFactory,
    SurveyFactory,
    TaskFactory,
    UsageRecordFactory,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 5, 20)
MAY = dt.date(2026, 5, 1)
APRIL = dt.date(2026, 4, 1)
Q2 = dt.date(2026, 4, 1)


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def _score(account: Account, day: dt.date, value: int) -> HealthScore:
    band = "red" if value < 40 else "green" if value >= 70 else "yellow"
    return HealthScore.objects.create(
        account=account,
        day=day,
        score=value,
        band=band,
        computed_score=value,
        computed_band=band,
        components={
            "usage": {"raw": 0.5, "points": value, "weight": 30, "effective_weight": 1.0},
        },
        scorecard_version=ScorecardVersion.objects.get(scorecard__name="Default"),
        usage_through=day,
    )


def _task(account: Account, *, due: dt.date, created: dt.date, completed: dt.date | None) -> Task:
    task = TaskFactory(
        account=account,
        due_date=due,
        status=Task.Status.DONE if completed else Task.Status.OPEN,
        completed_at=at(completed) if completed else None,
    )
    # created_at is auto_now_add: backdate it to when the task was made.
    Task.objects.filter(pk=task.pk).update(created_at=at(created))
    return task


def portfolio_build(*, owner, teammate, outsider) -> dict[str, object]:
    """The portfolio of the module docstring. Returns its accounts, teams and segments."""
    enterprise, smb = owner.team, outsider.team
    acme = AccountFactory(
        name="Acme",
        owner=owner,
        tier=Account.Tier.HIGH_TOUCH,
        start_date=dt.date(2025, 6, 1),
        arr=Decimal("12000"),
        renewal_date=dt.date(2026, 5, 31),
        health_score=35,
        health_band="red",
    )
    birch = AccountFactory(
        name="Birch",
        owner=owner,
        tier=Account.Tier.SCALED,
        arr=Decimal("8000"),
        renewal_date=dt.date(2026, 12, 31),
        health_score=55,
        health_band="yellow",
    )
    cedar = AccountFactory(
        name="Cedar",
        owner=teammate,
        tier=Account.Tier.SCALED,
        start_date=dt.date(2026, 5, 10),
        arr=Decimal("3000"),
        renewal_date=dt.date(2027, 5, 9),
        health_score=80,
        health_band="green",
    )
    dune = AccountFactory(
        name="Dune",
        owner=outsider,
        tier=Account.Tier.TECH_TOUCH,
        start_date=dt.date(2025, 5, 15),
        lifecycle_status=Account.Lifecycle.CHURNED,
        churned_on=dt.date(2026, 5, 15),
        health_score=90,
        health_band="green",
    )
    elm = AccountFactory(
        name="Elm",
        owner=outsider,
        tier=Account.Tier.TECH_TOUCH,
        start_date=dt.date(2026, 4, 10),
        arr=Decimal("1500"),
        renewal_date=dt.date(2027, 4, 9),
    )

    acme_term = ContractFactory(
        account=acme, start_date=dt.date(2025, 6, 1), end_date=dt.date(2026, 5, 31), arr=12000
    )
    ContractFactory(
        account=acme,
        previous=acme_term,
        start_date=dt.date(2026, 6, 1),
        end_date=dt.date(2027, 5, 31),
        arr=15000,
    )
    ContractFactory(
        account=birch, start_date=dt.date(2025, 1, 1), end_date=dt.date(2026, 12, 31), arr=6000
    )
    ContractFactory(
        account=birch, start_date=dt.date(2026, 5, 15), end_date=dt.date(2026, 12, 31), arr=2000
    )
    ContractFactory(
        account=cedar, start_date=dt.date(2026, 5, 10), end_date=dt.date(2027, 5, 9), arr=3000
    )
    ContractFactory(
        account=dune, start_date=dt.date(2025, 5, 15), end_date=dt.date(2026, 5, 14), arr=8000
    )
    ContractFactory(
        account=elm, start_date=dt.date(2026, 4, 10), end_date=dt.date(2027, 4, 9), arr=1000
    )
    ContractFactory(
        account=elm, start_date=dt.date(2026, 5, 5), end_date=dt.date(2027, 4, 9), arr=500
    )

    key = SegmentFactory(name="Key accounts", kind=Segment.Kind.STATIC)
    SegmentMembership.objects.create(segment=key, account=acme)
    SegmentMembership.objects.create(segment=key, account=dune)
    scaled = SegmentFactory(name="Scaled", rules={"tiers": ["scaled"]})

    for account, day, value in [
        (acme, dt.date(2026, 4, 19), 80),
        (acme, dt.date(2026, 4, 30), 75),
        (birch, dt.date(2026, 4, 30), 60),
        (acme, dt.date(2026, 5, 12), 70),
        (birch, dt.date(2026, 5, 12), 60),
        (cedar, dt.date(2026, 5, 12), 75),
        (acme, dt.date(2026, 5, 19), 35),
        (birch, dt.date(2026, 5, 19), 55),
        (cedar, dt.date(2026, 5, 19), 80),
        (dune, dt.date(2026, 5, 19), 90),
    ]:
        _score(account, day, value)

    nps = SurveyFactory(name="Relationship NPS", kind=Survey.Kind.NPS)
    csat = SurveyFactory(name="Support CSAT", kind=Survey.Kind.CSAT)
    ces = SurveyFactory(name="Effort", kind=Survey.Kind.CES)
    answers = [
        (nps, acme, 10, dt.date(2026, 5, 2)),
        (nps, acme, 9, dt.date(2026, 5, 3)),
        (nps, acme, 3, dt.date(2026, 5, 4)),
        (nps, birch, 7, dt.date(2026, 5, 6)),
        (nps, dune, 0, dt.date(2026, 5, 16)),
        (nps, dune, 10, dt.date(2026, 5, 17)),
        (nps, acme, 9, dt.date(2026, 4, 8)),
        (nps, birch, 2, dt.date(2026, 4, 25)),
        (csat, acme, 5, dt.date(2026, 5, 7)),
        (csat, acme, 2, dt.date(2026, 5, 8)),
        (csat, cedar, 4, dt.date(2026, 5, 12)),
        (ces, birch, 3, dt.date(2026, 5, 9)),
        (ces, birch, 6, dt.date(2026, 5, 10)),
    ]
    made = {
        (account.name, score, day): SurveyAnswerFactory(
            survey=survey, account=account, score=score, answered_at=at(day)
        )
        for survey, account, score, day in answers
    }
    # Dune's 0 still waits for a call; Birch's April 2 was awaiting on 30 April, contacted
    # on 2 May.
    FollowUp.objects.filter(
        pk=FollowUp.objects.create(answer=made[("Dune", 0, dt.date(2026, 5, 16))]).pk
    ).update(created_at=at(dt.date(2026, 5, 16)))
    contacted = FollowUp.objects.create(
        answer=made[("Birch", 2, dt.date(2026, 4, 25))],
        status=FollowUp.Status.CONTACTED,
        contacted_at=at(dt.date(2026, 5, 2)),
    )
    FollowUp.objects.filter(pk=contacted.pk).update(created_at=at(dt.date(2026, 4, 25)))

    campaign = SurveyCampaign.objects.create(survey=nps, name="May NPS")
    for n, answered in enumerate([True, False]):
        SurveyInvitation.objects.create(
            campaign=campaign,
            contact=ContactFactory(account=acme),
            account=acme,
            token_hash=f"{n:064d}",
            sent_at=at(dt.date(2026, 5, 3)),
            expires_at=at(dt.date(2026, 5, 17)),
            answered_at=at(dt.date(2026, 5, 4)) if answered else None,
        )

    for day, active, seats, features in [
        (dt.date(2026, 4, 20), 10, 10, 6),
        (dt.date(2026, 5, 3), 5, 10, 4),
        (dt.date(2026, 5, 4), 7, 10, 2),
    ]:
        UsageRecordFactory(
            account=acme,
            day=day,
            active_users=active,
            licensed_seats=seats,
            key_features_used=features,
        )
    UsageRecordFactory(
        account=birch,
        day=dt.date(2026, 5, 3),
        active_users=3,
        licensed_seats=4,
        key_features_used=12,
    )

    for account, day in [
        (acme, dt.date(2026, 5, 2)),
        (acme, dt.date(2026, 5, 9)),
        (cedar, dt.date(2026, 5, 11)),
        (acme, dt.date(2026, 4, 15)),
    ]:
        InteractionFactory(account=account, occurred_on=day)

    # Closed in May: two; in April: one. Overdue at April's end: the one closed on 3 May;
    # overdue now: the open one due on 1 May.
    _task(acme, due=dt.date(2026, 5, 6), created=dt.date(2026, 5, 1), completed=dt.date(2026, 5, 5))
    _task(
        birch, due=dt.date(2026, 4, 25), created=dt.date(2026, 4, 1), completed=dt.date(2026, 4, 22)
    )
    _task(
        birch, due=dt.date(2026, 4, 20), created=dt.date(2026, 4, 10), completed=dt.date(2026, 5, 3)
    )
    _task(acme, due=dt.date(2026, 5, 1), created=dt.date(2026, 4, 25), completed=None)
    _task(acme, due=dt.date(2026, 5, 25), created=dt.date(2026, 5, 2), completed=None)

    return {
        "acme": acme,
        "birch": birch,
        "cedar": cedar,
        "dune": dune,
        "elm": elm,
        "enterprise": enterprise,
        "smb": smb,
        "key": key,
        "scaled": scaled,
    }


@pytest.fixture
def portfolio(owner, teammate, outsider):
    return portfolio_build(owner=owner, teammate=teammate, outsider=outsider)


def snap(month: dt.date, metric: str, scope: str = Scope.COMPANY, key: object = "") -> tuple:
    row = MetricSnapshot.objects.get(month=month, scope=scope, scope_key=str(key), metric=metric)
    return row.value, row.count


@pytest.fixture
def computed(portfolio):
    metric_snapshots_recompute(today=TODAY)
    return portfolio


def test_nps_csat_and_ces_count_the_answers_of_their_month(computed):
    # May: promoters 10, 9, 10; passive 7; detractors 3, 0: (3 - 2) / 6 = 16.7.
    assert snap(MAY, "nps") == (Decimal("16.7"), 6)
    # CSAT 5, 2, 4: two of three satisfied. CES 3 and 6: mean 4.5.
    assert snap(MAY, "csat") == (Decimal("66.7"), 3)
    assert snap(MAY, "ces") == (Decimal("4.5"), 2)
    # April: 9 and 2, one promoter and one detractor: a real zero.
    assert snap(APRIL, "nps") == (Decimal("0.0"), 2)
    # No CSAT answers in April: no value, never 0.
    assert snap(APRIL, "csat") == (None, 0)


def test_scores_roll_up_into_each_scope(computed, owner, teammate, outsider):
    p = computed
    # Enterprise (Acme, Birch, Cedar): 10, 9, 7, 3 -> (2 - 1) / 4 = 25.0.
    assert snap(MAY, "nps", Scope.TEAM, p["enterprise"].pk) == (Decimal("25.0"), 4)
    # SMB (Dune): 0 and 10 -> 0.0 from two answers.
    assert snap(MAY, "nps", Scope.TEAM, p["smb"].pk) == (Decimal("0.0"), 2)
    # The teammate's book (Cedar) has a CSAT 4 and no NPS.
    assert snap(MAY, "csat", Scope.CSM, teammate.pk) == (Decimal("100.0"), 1)
    assert snap(MAY, "nps", Scope.CSM, teammate.pk) == (None, 0)
    # High-touch is Acme alone: 10, 9, 3 -> (2 - 1) / 3 = 33.3.
    assert snap(MAY, "nps", Scope.TIER, "high_touch") == (Decimal("33.3"), 3)
    # Key accounts (Acme, Dune): 10, 9, 3, 0, 10 -> (3 - 2) / 5 = 20.0.
    assert snap(MAY, "nps", Scope.SEGMENT, p["key"].pk) == (Decimal("20.0"), 5)
    # Scaled (Birch, Cedar): CES 3, 6 and CSAT 4.
    assert snap(MAY, "ces", Scope.SEGMENT, p["scaled"].pk) == (Decimal("4.5"), 2)


def test_response_rate_is_answered_over_sent_in_the_month_of_sending(computed):
    assert snap(MAY, "response_rate") == (Decimal("50.0"), 2)
    assert snap(APRIL, "response_rate") == (None, 0)


def test_health_is_read_on_the_months_last_scored_day(computed):
    p = computed
    # 19 May: 35, 55, 80, 90 -> 65.0; Enterprise 35, 55, 80 -> 56.7.
    assert snap(MAY, "avg_health") == (Decimal("65.0"), 4)
    assert snap(MAY, "avg_health", Scope.TEAM, p["enterprise"].pk) == (Decimal("56.7"), 3)
    # 30 April: 75 and 60.
    assert snap(APRIL, "avg_health") == (Decimal("67.5"), 2)
    # No scores at all in March.
    assert snap(dt.date(2026, 3, 1), "avg_health") == (None, 0)


def test_band_counts_carry_each_accounts_arr_on_that_day(computed):
    # On 19 May: Acme red with 12k; Birch yellow with 6k + 2k (from 15 May); Cedar green
    # with 3k and Dune green with 0 (its term ended on 14 May).
    assert snap(MAY, "band_red_accounts") == (Decimal("1"), 1)
    assert snap(MAY, "band_red_arr") == (Decimal("12000"), 1)
    assert snap(MAY, "band_yellow_arr") == (Decimal("8000"), 1)
    assert snap(MAY, "band_green_accounts") == (Decimal("2"), 2)
    assert snap(MAY, "band_green_arr") == (Decimal("3000"), 2)
    # 30 April: Acme green 12k, Birch yellow 6k.
    assert snap(APRIL, "band_green_arr") == (Decimal("12000"), 1)
    assert snap(APRIL, "band_red_accounts") == (Decimal("0"), 0)


def test_usage_and_adoption_are_means_over_accounts(computed, teammate):
    # Acme: (5 + 7) / (10 + 10) = 0.6, features 4 of 10; Birch: 3 / 4 = 0.75, 12 of 10
    # capped at 1. Means: 67.5 % and 70.0 %.
    assert snap(MAY, "usage") == (Decimal("67.5"), 2)
    assert snap(MAY, "adoption") == (Decimal("70.0"), 2)
    assert snap(MAY, "usage", Scope.CSM, teammate.pk) == (None, 0)


def test_input_and_open_work_are_counted(computed, owner, teammate):
    assert snap(MAY, "interactions") == (Decimal("3"), 3)
    assert snap(MAY, "interactions", Scope.CSM, owner.pk) == (Decimal("2"), 2)
    assert snap(MAY, "interactions", Scope.CSM, teammate.pk) == (Decimal("1"), 1)
    assert snap(APRIL, "interactions") == (Decimal("1"), 1)
    assert snap(MAY, "tasks_closed") == (Decimal("2"), 2)
    assert snap(APRIL, "tasks_closed") == (Decimal("1"), 1)
    # Now: the open task due on 1 May. At April's end: the one due 20 April, closed 3 May.
    assert snap(MAY, "overdue_tasks") == (Decimal("1"), 1)
    assert snap(APRIL, "overdue_tasks") == (Decimal("1"), 1)
    # Now: Dune's 0. At April's end: Birch's 2, contacted only on 2 May.
    assert snap(MAY, "detractors_open") == (Decimal("1"), 1)
    assert snap(APRIL, "detractors_open") == (Decimal("1"), 1)
    # A month with nothing logged is a real 0.
    assert snap(dt.date(2026, 3, 1), "interactions") == (Decimal("0"), 0)


def test_a_quarter_is_its_own_cohort_not_the_sum_of_its_months(computed):
    q = QUARTER_PREFIX
    # ARR on 1 April: Acme 12k, Birch 6k, Dune 8k = 26k (Elm starts on 10 April).
    # ARR on 1 July: Acme 15k, Birch 8k, Cedar 3k, Dune 0, Elm 1.5k = 27.5k.
    assert snap(Q2, q + "start_arr") == (Decimal("26000"), 3)
    assert snap(Q2, q + "end_arr")[0] == Decimal("27500")
    # Elm's 1k in April and +500 in May are both new for the quarter (monthly: new, then
    # expansion); Cedar's 3k is new. Expansion: Acme +3k, Birch +2k. Churned: Dune 8k.
    assert snap(Q2, q + "new_arr")[0] == Decimal("4500")
    assert snap(Q2, q + "expansion_arr")[0] == Decimal("5000")
    assert snap(Q2, q + "churned_arr") == (Decimal("8000"), 1)
    assert snap(Q2, q + "contraction_arr")[0] == Decimal("0")
    # Due: Acme's term (renewed the next day) and Dune's (not renewed).
    assert snap(Q2, q + "contracts_due")[0] == Decimal("2")
    assert snap(Q2, q + "contracts_renewed")[0] == Decimal("1")
    assert snap(Q2, q + "due_arr")[0] == Decimal("20000")
    assert snap(Q2, q + "renewed_arr")[0] == Decimal("12000")


def test_a_quarters_flows_add_its_months(computed):
    q = QUARTER_PREFIX
    # April 9, 2 and May's six: promoters 4, passive 1, detractors 3 -> (4 - 3) / 8 = 12.5.
    assert snap(Q2, q + "nps") == (Decimal("12.5"), 8)
    assert snap(Q2, q + "interactions") == (Decimal("4"), 4)
    assert snap(Q2, q + "tasks_closed") == (Decimal("3"), 3)
    # Usage over the quarter per account: Acme (10 + 5 + 7) / 30 = 0.733, Birch 0.75 ->
    # 74.2 %; adoption: Acme's best day 6 of 10, Birch 1 -> 80.0 %.
    assert snap(Q2, q + "usage") == (Decimal("74.2"), 2)
    assert snap(Q2, q + "adoption") == (Decimal("80.0"), 2)


def test_renewal_windows_of_today_count_live_accounts(computed, outsider):
    # Acme renews on 31 May (in 11 days); nobody else within 90 days.
    assert snap(MAY, "renewals_30_accounts") == (Decimal("1"), 1)
    assert snap(MAY, "renewals_30_arr") == (Decimal("12000"), 1)
    assert snap(MAY, "renewals_90_arr") == (Decimal("12000"), 1)
    assert snap(MAY, "renewals_90_accounts", Scope.CSM, outsider.pk) == (Decimal("0"), 0)


def test_the_largest_health_drops_are_ranked_per_scope(computed, teammate):
    p = computed

    def falls(scope=Scope.COMPANY, key=""):
        rows = HealthMover.objects.filter(
            scope=scope, scope_key=str(key), window=7, direction=HealthMover.Direction.DOWN
        ).order_by("rank")
        return [(row.rank, row.account_id, row.score_then - row.score_now) for row in rows]

    # 12 -> 19 May: Acme 70 -> 35 (-35), Birch 60 -> 55 (-5); Cedar rose.
    assert falls() == [(1, p["acme"].pk, 35), (2, p["birch"].pk, 5)]
    assert falls(Scope.SEGMENT, p["scaled"].pk) == [(1, p["birch"].pk, 5)]
    assert falls(Scope.CSM, teammate.pk) == []
    # The falls no longer live among the metric snapshots.
    assert not MetricSnapshot.objects.filter(metric__startswith="health_drop_").exists()


def test_every_scope_gets_every_row(computed):
    # Scopes: company, 3 tiers, 2 teams, 2 segments, 3 CSMs = 11. Each month 17 metrics, the
    # current month 6 renewal rows more; 5 quarters (Q2 2025 to Q2 2026) of 20.
    scopes = 11
    assert MetricSnapshot.objects.values("scope", "scope_key").distinct().count() == scopes
    assert MetricSnapshot.objects.count() == scopes * (13 * 17 + 6 + 5 * 20)


def test_a_rerun_replaces_rows_and_never_duplicates(computed):
    before = {
        (r.month, r.scope, r.scope_key, r.metric): (r.value, r.count)
        for r in MetricSnapshot.objects.all()
    }

    metric_snapshots_recompute(today=TODAY)

    after = {
        (r.month, r.scope, r.scope_key, r.metric): (r.value, r.count)
        for r in MetricSnapshot.objects.all()
    }
    assert after == before


def test_a_rerun_picks_up_a_change_and_drops_a_vanished_scope(computed, outsider):
    p = computed
    SurveyAnswerFactory(
        survey=Survey.objects.get(kind=Survey.Kind.NPS),
        account=p["elm"],
        score=10,
        answered_at=at(dt.date(2026, 5, 18)),
    )
    smb_id = p["smb"].pk
    Account.objects.filter(team_id=smb_id).update(team=None)
    outsider.team = None
    outsider.save()
    Team.objects.filter(pk=smb_id).delete()

    metric_snapshots_recompute(today=TODAY)

    # May: promoters 4, passive 1, detractors 2 -> (4 - 2) / 7 = 28.6.
    assert snap(MAY, "nps") == (Decimal("28.6"), 7)
    assert not MetricSnapshot.objects.filter(scope=Scope.TEAM, scope_key=str(smb_id)).exists()


def test_recompute_runs_a_fixed_number_of_queries(portfolio, owner, django_assert_max_num_queries):
    metric_snapshots_recompute(today=TODAY)
    for n in range(20):
        account = AccountFactory(owner=owner)
        ContractFactory(account=account, start_date=dt.date(2025, 7, 1), arr=1000 + n)
        InteractionFactory(account=account, occurred_on=dt.date(2026, 5, 4))
        _score(account, dt.date(2026, 5, 19), 50 + n)

    # Reads: accounts, users, teams, segments (+1 per rule segment, +1 memberships), six
    # families, 13 + 2 scored-day probes, contracts, 15 usage months, 13 health days,
    # renewals, the latest day, two drop days; then the delete, the read-back, the upserts;
    # and the team performance rollup: the CSMs, seven reads, the delete, its rows, and the
    # savepoint around them.
    with django_assert_max_num_queries(92):
        metric_snapshots_recompute(today=TODAY)


def test_contract_cancelled_does_not_count(portfolio):
    Contract.objects.filter(account=portfolio["dune"]).update(status=Contract.Status.CANCELLED)

    metric_snapshots_recompute(today=TODAY)

    # Without Dune's 8k the quarter's cohort is Acme and Birch: 18k, nothing churned.
    assert snap(Q2, QUARTER_PREFIX + "start_arr") == (Decimal("18000"), 2)
    assert snap(Q2, QUARTER_PREFIX + "churned_arr") == (Decimal("0"), 0)
    assert timezone.is_aware(MetricSnapshot.objects.first().computed_at)
