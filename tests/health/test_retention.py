"""Monthly retention snapshots, every figure worked out by hand from the contracts below.

TODAY is 15 June 2026, so June is the current month; most scenarios sit in March 2026,
whose start ARR is read on 1 March and whose end ARR on 1 April.
"""

import datetime as dt
import itertools
import random
from collections.abc import Iterable
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, Contract, Segment, SegmentMembership
from health.models import HealthScore, RetentionSnapshot, Scorecard, ScorecardVersion
from health.retention import (
    MonthMovements,
    MonthTotals,
    Opening,
    arr_bridge,
    arr_timeline,
    month_add,
    months_to_recompute,
    past_month_risk,
    retention_snapshots_recompute,
    window_contracts_load,
)
from health.retention_rates import (
    grr,
    logo_churn_rate,
    nrr,
    renewal_rate_arr,
    renewal_rate_count,
)
from tests.factories import (
    AccountFactory,
    ContractFactory,
    SegmentFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 15)
MARCH = dt.date(2026, 3, 1)
APRIL = dt.date(2026, 4, 1)
JUNE = dt.date(2026, 6, 1)
Scope = RetentionSnapshot.Scope


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def contract(account: Account, start: str, end: str, arr: str, **extra: object) -> Contract:
    return ContractFactory(
        account=account, start_date=d(start), end_date=d(end), arr=Decimal(arr), **extra
    )


def snapshot(month: dt.date, scope: str = Scope.COMPANY, key: object = "") -> RetentionSnapshot:
    return RetentionSnapshot.objects.get(month=month, scope=scope, scope_key=str(key))


def bridge(row: RetentionSnapshot) -> tuple[Decimal, ...]:
    return (
        row.start_arr,
        row.new_arr,
        row.expansion_arr,
        row.contraction_arr,
        row.churned_arr,
        row.end_arr,
    )


def assert_bridge_holds(row: RetentionSnapshot) -> None:
    assert (
        row.start_arr + row.new_arr + row.expansion_arr - row.contraction_arr - row.churned_arr
        == row.end_arr
    )


@pytest.fixture
def scorecard_version(db) -> ScorecardVersion:
    scorecard = Scorecard.objects.create(name="Retention tests", is_active=False)
    return ScorecardVersion.objects.create(scorecard=scorecard, number=1, components=[])


def score(account: Account, day: str, band: str, version: ScorecardVersion) -> HealthScore:
    value = {"red": 20, "yellow": 55, "green": 85}[band]
    return HealthScore.objects.create(
        account=account,
        day=d(day),
        score=value,
        band=band,
        computed_score=value,
        computed_band=band,
        components={},
        scorecard_version=version,
    )


# --- Calendar and pure bridge ------------------------------------------------------------


def test_the_window_is_24_calendar_months_ending_with_the_current_one():
    months = months_to_recompute(today=TODAY)

    assert len(months) == 24
    assert months[0] == dt.date(2024, 7, 1)
    assert months[-1] == JUNE
    assert month_add(dt.date(2025, 12, 1), 1) == dt.date(2026, 1, 1)
    assert month_add(dt.date(2026, 1, 1), -13) == dt.date(2024, 12, 1)


def test_only_month_is_normalised_and_a_future_month_is_refused():
    assert months_to_recompute(today=TODAY, only_month=d("2026-03-17")) == [MARCH]
    with pytest.raises(ValueError, match="2026-07"):
        months_to_recompute(today=TODAY, only_month=d("2026-07-01"))


def test_pure_bridge_classifies_each_account_by_its_start_and_end():
    # 1: 12,000 -> 15,000 expansion; 2: 10,000 -> 8,000 contraction; 3: 9,000 -> 0 churn;
    # 4: 0 -> 6,000 new; 5: 4,000 flat.
    start = {1: Decimal("12000"), 2: Decimal("10000"), 3: Decimal("9000"), 5: Decimal("4000")}
    end = {1: Decimal("15000"), 2: Decimal("8000"), 4: Decimal("6000"), 5: Decimal("4000")}

    totals = arr_bridge(start, end)

    assert totals.cohort_accounts == 4
    assert totals.churned_accounts == 1
    assert (totals.start_arr, totals.new_arr, totals.expansion_arr) == (
        Decimal("35000"),
        Decimal("6000"),
        Decimal("3000"),
    )
    assert (totals.contraction_arr, totals.churned_arr, totals.end_arr) == (
        Decimal("2000"),
        Decimal("9000"),
        Decimal("33000"),
    )


def _opening(start: dict[int, Decimal], ids: Iterable[int]) -> Opening:
    values = [start[pk] for pk in ids]
    return Opening(sum(1 for v in values if v), sum(values, Decimal("0")))


def test_the_set_based_classification_matches_the_per_account_definition():
    rng = random.Random(5)
    amounts = [Decimal("0"), Decimal("500.50"), Decimal("1000"), Decimal("1200"), Decimal("9000")]
    start = {pk: rng.choice(amounts) for pk in range(300)}
    end = {pk: rng.choice(amounts) for pk in range(300)}
    members = frozenset(range(0, 300, 3))
    everyone = range(300)

    # The day mappings hold accounts with ARR > 0 only, as the ARR timeline yields them.
    movements = MonthMovements.classify(
        {pk: v for pk, v in start.items() if v}, {pk: v for pk, v in end.items() if v}, {}
    )

    totals, closing = movements.totals(_opening(start, everyone))
    assert totals == arr_bridge(start, end)
    assert closing == _opening(end, everyone)
    subset, subset_closing = movements.totals(_opening(start, members), members)
    assert subset == arr_bridge({pk: start[pk] for pk in members}, {pk: end[pk] for pk in members})
    assert subset_closing == _opening(end, members)
    # A scope larger than the month's movers sums from the other side; same result.
    wide, _ = movements.totals(_opening(start, everyone), frozenset(range(-50, 300)))
    assert wide == arr_bridge(start, end)
    # A partition in one pass: accounts 0, 3, 6... in group 0, and so on; 299 in no group.
    groups = [[pk for pk in range(299) if pk % 3 == group] for group in range(3)]
    by_group, closings = movements.totals_by(
        [_opening(start, ids) for ids in groups], {pk: pk % 3 for pk in range(299)}
    )
    for ids, group_totals, group_closing in zip(groups, by_group, closings, strict=True):
        assert group_totals == arr_bridge(
            {pk: start[pk] for pk in ids}, {pk: end[pk] for pk in ids}
        )
        assert group_closing == _opening(end, ids)


def _grouped_query(day: dt.date) -> dict[int, Decimal]:
    """The definition: the ARR of an account's live contracts with start <= day <= end."""
    rows = (
        Contract.objects.exclude(status=Contract.Status.CANCELLED)
        .filter(start_date__lte=day, end_date__gte=day)
        .values("account_id")
        .annotate(total=Sum("arr"))
        .values_list("account_id", "total")
    )
    return {account_id: total for account_id, total in rows if total}


def test_the_arr_sweep_and_the_rolled_forward_bridge_match_the_definition():
    rng = random.Random(11)
    team = TeamFactory(name="North")
    owners = [UserFactory(team=team) for _ in range(3)]
    for n in range(25):
        account = AccountFactory(owner=owners[n % 3], team=team)
        for _ in range(rng.randrange(0, 5)):
            start = d("2025-01-01") + dt.timedelta(days=rng.randrange(0, 540))
            ContractFactory(
                account=account,
                start_date=start,
                end_date=start + dt.timedelta(days=rng.choice([1, 30, 59, 364, 800])),
                arr=Decimal(rng.choice(["0", "1000", "2500.50", "12000"])),
                status=rng.choice([Contract.Status.ACTIVE] * 4 + [Contract.Status.CANCELLED]),
            )
    days = [month_add(d("2025-01-01"), n) for n in range(19)]  # January 2025 to July 2026

    contracts = window_contracts_load(first_day=days[0], last_day=days[-1])
    assert arr_timeline(contracts, days).arr_on == {day: _grouped_query(day) for day in days}

    # 18 months to June 2026: each month's start and end ARR and cohort, company and CSM,
    # equal the definition's sums on its first day and the next month's.
    retention_snapshots_recompute(today=TODAY, months=18)
    owner_of = dict(Account.objects.values_list("pk", "owner_id"))
    for month, next_month in itertools.pairwise(days):
        start, end = _grouped_query(month), _grouped_query(next_month)
        company = snapshot(month)
        assert (company.start_arr, company.end_arr, company.cohort_accounts) == (
            sum(start.values(), Decimal("0")),
            sum(end.values(), Decimal("0")),
            len(start),
        )
        for owner in owners:
            row = snapshot(month, Scope.CSM, owner.pk)
            mine = [pk for pk, owner_id in owner_of.items() if owner_id == owner.pk]
            assert row.start_arr == sum((start.get(pk, 0) for pk in mine), Decimal("0"))
            assert row.end_arr == sum((end.get(pk, 0) for pk in mine), Decimal("0"))
            assert_bridge_holds(row)


def test_an_empty_month_totals_has_no_rates():
    totals = MonthTotals()

    assert (nrr(totals), grr(totals), logo_churn_rate(totals)) == (None, None, None)


# --- The ARR bridge from contracts -------------------------------------------------------


def test_expansion_from_12000_to_15000_is_nrr_125_and_grr_100():
    account = AccountFactory()
    contract(account, "2025-03-15", "2026-03-14", "12000")
    contract(account, "2026-03-15", "2027-03-14", "15000")

    retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    march = snapshot(MARCH)
    assert bridge(march) == (
        Decimal("12000"),
        Decimal("0"),
        Decimal("3000"),
        Decimal("0"),
        Decimal("0"),
        Decimal("15000"),
    )
    assert (march.cohort_accounts, march.churned_accounts) == (1, 0)
    assert nrr(march) == Decimal("125.0")
    assert grr(march) == Decimal("100.0")


def test_contraction_from_10000_to_8000_is_grr_80():
    account = AccountFactory()
    contract(account, "2025-03-20", "2026-03-19", "10000")
    contract(account, "2026-03-20", "2027-03-19", "8000")

    retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    march = snapshot(MARCH)
    assert (march.start_arr, march.contraction_arr, march.end_arr) == (
        Decimal("10000"),
        Decimal("2000"),
        Decimal("8000"),
    )
    assert grr(march) == Decimal("80.0")
    assert nrr(march) == Decimal("80.0")


def test_a_contract_ending_on_31_march_not_renewed_is_churn_in_march_not_april():
    account = AccountFactory()
    contract(account, "2025-04-01", "2026-03-31", "9000")

    retention_snapshots_recompute(today=TODAY, months=4)  # March to June

    march, april = snapshot(MARCH), snapshot(APRIL)
    assert (march.start_arr, march.churned_arr, march.end_arr) == (
        Decimal("9000"),
        Decimal("9000"),
        Decimal("0"),
    )
    assert (march.cohort_accounts, march.churned_accounts) == (1, 1)
    assert logo_churn_rate(march) == Decimal("100.0")
    assert (april.cohort_accounts, april.churned_accounts, april.churned_arr) == (0, 0, 0)
    assert logo_churn_rate(april) is None


def test_an_account_starting_mid_month_is_outside_the_cohort_and_counts_as_new():
    account = AccountFactory(start_date=d("2026-03-10"))
    contract(account, "2026-03-10", "2027-03-09", "6000")

    retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    march = snapshot(MARCH)
    assert (march.cohort_accounts, march.start_arr, march.new_arr, march.end_arr) == (
        0,
        Decimal("0"),
        Decimal("6000"),
        Decimal("6000"),
    )
    # No cohort: no retention rate, rather than a misleading 0 %.
    assert (nrr(march), grr(march), logo_churn_rate(march)) == (None, None, None)


def test_a_reactivated_customer_counts_as_new_not_as_expansion():
    account = AccountFactory(start_date=d("2025-01-01"))
    contract(account, "2025-01-01", "2025-12-31", "5000")
    contract(account, "2026-03-20", "2027-03-19", "7000")

    retention_snapshots_recompute(today=TODAY, months=7)  # December 2025 to June 2026

    december, march = snapshot(dt.date(2025, 12, 1)), snapshot(MARCH)
    assert (december.churned_arr, december.churned_accounts) == (Decimal("5000"), 1)
    assert (march.cohort_accounts, march.new_arr, march.expansion_arr) == (
        0,
        Decimal("7000"),
        Decimal("0"),
    )


def test_a_month_with_every_movement_reconciles_start_to_end():
    expanding, contracting, churning, joining, returning, flat = AccountFactory.create_batch(6)
    contract(expanding, "2025-03-15", "2026-03-14", "12000")
    contract(expanding, "2026-03-15", "2027-03-14", "15000")
    contract(contracting, "2025-03-20", "2026-03-19", "10000")
    contract(contracting, "2026-03-20", "2027-03-19", "8000")
    contract(churning, "2025-04-01", "2026-03-31", "9000")
    contract(joining, "2026-03-10", "2027-03-09", "6000")
    contract(returning, "2025-01-01", "2025-12-31", "5000")
    contract(returning, "2026-03-20", "2027-03-19", "7000")
    contract(flat, "2026-01-01", "2026-12-31", "4000")
    # A cancelled term never counts, neither for ARR nor as due.
    contract(flat, "2026-02-01", "2026-03-31", "50000", status=Contract.Status.CANCELLED)

    retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    # start 12+10+9+4 = 35,000; end 15+8+0+6+7+4 = 40,000; new 6+7 = 13,000.
    march = snapshot(MARCH)
    assert bridge(march) == (
        Decimal("35000"),
        Decimal("13000"),
        Decimal("3000"),
        Decimal("2000"),
        Decimal("9000"),
        Decimal("40000"),
    )
    assert_bridge_holds(march)
    assert (march.cohort_accounts, march.churned_accounts) == (4, 1)
    # NRR 27,000 / 35,000; GRR 24,000 / 35,000; 1 logo of 4.
    assert (nrr(march), grr(march), logo_churn_rate(march)) == (
        Decimal("77.1"),
        Decimal("68.6"),
        Decimal("25.0"),
    )
    # Due in March: 12,000 (renewed the next day), 10,000 (renewed the next day), 9,000 (not).
    assert (march.contracts_due, march.contracts_renewed) == (3, 2)
    assert (march.due_arr, march.renewed_arr) == (Decimal("31000"), Decimal("22000"))


def test_grr_stays_at_100_with_a_huge_expansion():
    account = AccountFactory()
    contract(account, "2025-03-15", "2026-03-14", "1000")
    contract(account, "2026-03-15", "2027-03-14", "50000")

    retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    march = snapshot(MARCH)
    assert nrr(march) == Decimal("5000.0")
    assert grr(march) == Decimal("100.0")


def test_no_accounts_at_the_start_means_no_rates():
    retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    march = snapshot(MARCH)
    assert march.cohort_accounts == 0
    assert (nrr(march), grr(march), logo_churn_rate(march)) == (None, None, None)
    assert (renewal_rate_count(march), renewal_rate_arr(march)) == (None, None)


def test_the_current_months_end_arr_counts_contracts_already_signed_for_next_month():
    account = AccountFactory()
    contract(account, "2025-07-01", "2026-06-30", "10000")
    contract(account, "2026-07-01", "2027-06-30", "11000")
    leaving = AccountFactory()
    contract(leaving, "2025-06-20", "2026-06-19", "3000")

    retention_snapshots_recompute(today=TODAY, only_month=JUNE)

    june = snapshot(JUNE)
    assert (june.start_arr, june.expansion_arr, june.churned_arr, june.end_arr) == (
        Decimal("13000"),
        Decimal("1000"),
        Decimal("3000"),
        Decimal("11000"),
    )


# --- Renewals ----------------------------------------------------------------------------


def test_a_renewal_10_days_after_the_end_counts_and_one_45_days_after_does_not():
    on_time, late = AccountFactory.create_batch(2)
    contract(on_time, "2025-03-11", "2026-03-10", "12000")
    contract(on_time, "2026-03-21", "2027-03-20", "20000")  # 11 March + 10 days
    contract(late, "2025-03-13", "2026-03-12", "4000")
    contract(late, "2026-04-27", "2027-04-26", "4000")  # 12 March + 45 days

    retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    march = snapshot(MARCH)
    assert (march.contracts_due, march.contracts_renewed) == (2, 1)
    # By ARR: the renewed contract's own 12,000, not its 20,000 successor, over 16,000 due.
    assert (march.due_arr, march.renewed_arr) == (Decimal("16000"), Decimal("12000"))
    assert renewal_rate_count(march) == Decimal("50.0")
    assert renewal_rate_arr(march) == Decimal("75.0")


def test_the_renewal_window_is_30_days_and_ignores_cancelled_successors():
    day_30, day_31, cancelled = AccountFactory.create_batch(3)
    contract(day_30, "2025-03-11", "2026-03-10", "1000")
    contract(day_30, "2026-04-09", "2027-04-08", "1000")  # 30 days after 10 March
    contract(day_31, "2025-03-11", "2026-03-10", "2000")
    contract(day_31, "2026-04-10", "2027-04-09", "2000")  # 31 days after
    contract(cancelled, "2025-03-11", "2026-03-10", "4000")
    contract(cancelled, "2026-03-11", "2027-03-10", "4000", status=Contract.Status.CANCELLED)

    retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    march = snapshot(MARCH)
    assert (march.contracts_due, march.contracts_renewed) == (3, 1)
    assert (march.due_arr, march.renewed_arr) == (Decimal("7000"), Decimal("1000"))


# --- Scopes ------------------------------------------------------------------------------


def test_team_csm_and_tier_snapshots_split_the_company_figures():
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    ann = UserFactory(username="ann", team=north)
    bob = UserFactory(username="bob", team=north)
    cat = UserFactory(username="cat", team=south)
    a1 = AccountFactory(owner=ann, team=north, tier=Account.Tier.HIGH_TOUCH)
    a2 = AccountFactory(owner=bob, team=north, tier=Account.Tier.SCALED)
    a3 = AccountFactory(owner=cat, team=south, tier=Account.Tier.SCALED)
    contract(a1, "2025-03-15", "2026-03-14", "12000")
    contract(a1, "2026-03-15", "2027-03-14", "15000")  # +3,000
    contract(a2, "2025-04-01", "2026-03-31", "9000")  # churned
    contract(a3, "2026-01-01", "2026-12-31", "4000")  # flat

    retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    company = snapshot(MARCH)
    team_north, team_south = (
        snapshot(MARCH, Scope.TEAM, north.pk),
        snapshot(MARCH, Scope.TEAM, south.pk),
    )
    assert company.start_arr == Decimal("25000")
    assert team_north.start_arr + team_south.start_arr == company.start_arr
    assert bridge(team_north) == (
        Decimal("21000"),
        Decimal("0"),
        Decimal("3000"),
        Decimal("0"),
        Decimal("9000"),
        Decimal("15000"),
    )
    assert (team_north.cohort_accounts, team_north.churned_accounts) == (2, 1)
    assert (team_south.start_arr, team_south.end_arr) == (Decimal("4000"), Decimal("4000"))
    assert snapshot(MARCH, Scope.CSM, ann.pk).expansion_arr == Decimal("3000")
    assert snapshot(MARCH, Scope.CSM, bob.pk).churned_arr == Decimal("9000")
    assert snapshot(MARCH, Scope.CSM, cat.pk).end_arr == Decimal("4000")
    scaled = snapshot(MARCH, Scope.TIER, Account.Tier.SCALED)
    assert (scaled.start_arr, scaled.churned_arr, scaled.end_arr) == (
        Decimal("13000"),
        Decimal("9000"),
        Decimal("4000"),
    )
    assert snapshot(MARCH, Scope.TIER, Account.Tier.HIGH_TOUCH).start_arr == Decimal("12000")
    # Every scope gets a row, even an empty one, so a dashboard can tell "0" from "missing".
    assert snapshot(MARCH, Scope.TIER, Account.Tier.TECH_TOUCH).start_arr == Decimal("0")


def test_scopes_use_the_accounts_current_team():
    old, new = TeamFactory(name="Old"), TeamFactory(name="New")
    account = AccountFactory(owner=None, team=old)
    contract(account, "2026-01-01", "2026-12-31", "4000")
    account.team = new
    account.save(update_fields=["team"])

    retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    assert snapshot(MARCH, Scope.TEAM, new.pk).start_arr == Decimal("4000")
    assert snapshot(MARCH, Scope.TEAM, old.pk).start_arr == Decimal("0")


def test_accounts_without_team_or_owner_count_only_for_the_company_and_tier():
    account = AccountFactory(owner=None, team=None, tier=Account.Tier.TECH_TOUCH)
    contract(account, "2026-01-01", "2026-12-31", "4000")

    retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    assert snapshot(MARCH).start_arr == Decimal("4000")
    assert snapshot(MARCH, Scope.TIER, Account.Tier.TECH_TOUCH).start_arr == Decimal("4000")
    assert not RetentionSnapshot.objects.filter(
        scope__in=[Scope.TEAM, Scope.CSM], start_arr__gt=0
    ).exists()


def test_a_static_segments_snapshot_counts_only_its_members():
    member, other = AccountFactory.create_batch(2)
    contract(member, "2026-01-01", "2026-12-31", "4000")
    contract(other, "2026-01-01", "2026-12-31", "6000")
    segment = SegmentFactory(name="Key logos", kind=Segment.Kind.STATIC)
    SegmentMembership.objects.create(segment=segment, account=member)

    retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    row = snapshot(MARCH, Scope.SEGMENT, segment.pk)
    assert (row.cohort_accounts, row.start_arr, row.end_arr) == (
        1,
        Decimal("4000"),
        Decimal("4000"),
    )
    assert snapshot(MARCH).start_arr == Decimal("10000")


def test_a_rule_segment_is_evaluated_on_the_accounts_current_attributes():
    touch, scaled = (
        AccountFactory(tier=Account.Tier.HIGH_TOUCH),
        AccountFactory(tier=Account.Tier.SCALED),
    )
    contract(touch, "2025-04-01", "2026-03-31", "9000")
    contract(scaled, "2026-01-01", "2026-12-31", "6000")
    segment = SegmentFactory(name="High-touch", rules={"tiers": ["high_touch"]})

    retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    row = snapshot(MARCH, Scope.SEGMENT, segment.pk)
    assert (row.cohort_accounts, row.churned_accounts, row.churned_arr) == (1, 1, Decimal("9000"))
    assert row.end_arr == Decimal("0")


# --- Idempotency -------------------------------------------------------------------------


def _all_rows() -> list[tuple[object, ...]]:
    columns = [
        f.name for f in RetentionSnapshot._meta.fields if f.name not in {"id", "computed_at"}
    ]
    return list(
        RetentionSnapshot.objects.order_by("month", "scope", "scope_key").values_list(*columns)
    )


def test_a_rerun_writes_the_same_rows_and_never_duplicates():
    team = TeamFactory(name="North")
    account = AccountFactory(owner=UserFactory(team=team), team=team)
    contract(account, "2025-03-15", "2026-03-14", "12000")
    contract(account, "2026-03-15", "2027-03-14", "15000")

    first = retention_snapshots_recompute(today=TODAY, months=6)
    rows_before = _all_rows()
    second = retention_snapshots_recompute(today=TODAY, months=6)

    # 6 months x (company + 1 team + 1 CSM + 3 tiers) = 36 rows, each written twice.
    assert first == second == 36
    assert RetentionSnapshot.objects.count() == 36
    assert _all_rows() == rows_before


def test_a_rerun_replaces_changed_figures_and_drops_a_deleted_teams_rows():
    team = TeamFactory(name="Gone soon")
    account = AccountFactory(owner=None, team=team)
    deal = contract(account, "2026-01-01", "2026-12-31", "4000")
    retention_snapshots_recompute(today=TODAY, months=6)
    assert RetentionSnapshot.objects.filter(scope=Scope.TEAM, scope_key=str(team.pk)).count() == 6

    deal.arr = Decimal("5000")
    deal.save(update_fields=["arr"])
    team.delete()
    retention_snapshots_recompute(today=TODAY, months=6)

    assert not RetentionSnapshot.objects.filter(scope=Scope.TEAM).exists()
    assert snapshot(MARCH).start_arr == Decimal("5000")


def test_recomputing_one_month_leaves_the_other_months_alone():
    account = AccountFactory()
    contract(account, "2026-01-01", "2026-12-31", "4000")
    retention_snapshots_recompute(today=TODAY, months=6)
    team = TeamFactory(name="Later")
    account.team = team
    account.save(update_fields=["team"])

    written = retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    # company + team + 1 CSM + 3 tiers for March only.
    assert written == 6
    assert snapshot(MARCH, Scope.TEAM, team.pk).start_arr == Decimal("4000")
    assert not RetentionSnapshot.objects.filter(scope=Scope.TEAM, month=APRIL).exists()


# --- ARR at risk -------------------------------------------------------------------------


def test_arr_at_risk_this_month_comes_from_the_accounts_band_and_renewal_date():
    in_30_days = TODAY + dt.timedelta(days=30)
    AccountFactory(arr=Decimal("5000"), health_band="red", renewal_date=d("2027-01-31"))
    AccountFactory(arr=Decimal("7000"), health_band="yellow", renewal_date=in_30_days)
    AccountFactory(
        arr=Decimal("11000"), health_band="yellow", renewal_date=TODAY + dt.timedelta(days=200)
    )
    AccountFactory(
        arr=Decimal("13000"), health_band="green", renewal_date=TODAY + dt.timedelta(days=10)
    )
    AccountFactory(arr=Decimal("17000"), health_band="", renewal_date=in_30_days)

    retention_snapshots_recompute(today=TODAY, only_month=JUNE)

    # 5,000 red + 7,000 yellow renewing in 30 days.
    assert snapshot(JUNE).arr_at_risk == Decimal("12000")


def test_arr_at_risk_of_a_past_month_uses_the_score_on_its_last_day(scorecard_version):
    red, yellow_soon, yellow_later, scored_day_before, unscored = AccountFactory.create_batch(5)
    contract(red, "2025-04-01", "2026-03-31", "5000")  # still ARR on 31 March itself
    score(red, "2026-03-31", "red", scorecard_version)
    contract(yellow_soon, "2025-05-16", "2026-05-15", "7000")  # ends 45 days later
    score(yellow_soon, "2026-03-31", "yellow", scorecard_version)
    contract(yellow_later, "2026-01-01", "2026-12-31", "11000")
    score(yellow_later, "2026-03-31", "yellow", scorecard_version)
    contract(scored_day_before, "2026-01-01", "2026-12-31", "13000")
    score(scored_day_before, "2026-03-30", "red", scorecard_version)
    contract(unscored, "2026-01-01", "2026-12-31", "17000")
    # Today's denormalised band plays no part in a past month.
    Account.objects.filter(pk=unscored.pk).update(health_band="red", arr=Decimal("17000"))

    retention_snapshots_recompute(today=TODAY, only_month=MARCH)

    assert snapshot(MARCH).arr_at_risk == Decimal("12000")


def test_past_risk_counts_the_arr_of_the_last_day_not_of_the_next_term(scorecard_version):
    # Red on 31 March: the 5,000 term ends that day; the 8,000 one starts on 1 April.
    renewing = AccountFactory()
    contract(renewing, "2025-04-01", "2026-03-31", "5000")
    contract(renewing, "2026-04-01", "2027-03-31", "8000")
    score(renewing, "2026-03-31", "red", scorecard_version)
    # Yellow whose term ends on the day itself: renewing within 90 days.
    ending_today = AccountFactory()
    contract(ending_today, "2025-04-01", "2026-03-31", "3000")
    score(ending_today, "2026-03-31", "yellow", scorecard_version)
    # Yellow with a contract ending 91 days later (30 June): not within 90 days.
    too_late = AccountFactory()
    contract(too_late, "2025-07-01", "2026-06-30", "6000")
    score(too_late, "2026-03-31", "yellow", scorecard_version)
    Account.objects.filter(pk=renewing.pk).update(health_band="red", arr=Decimal("8000"))

    retention_snapshots_recompute(today=TODAY, months=4)  # March to June

    assert snapshot(MARCH).arr_at_risk == Decimal("8000")  # 5,000 + 3,000
    # No April scores were stored: no April ARR at risk, whatever the account shows today;
    # June, the current month, reads today's red band and ARR.
    assert snapshot(APRIL).arr_at_risk == Decimal("0")
    assert snapshot(JUNE).arr_at_risk == Decimal("8000")


def test_pure_past_risk_adds_the_terms_ending_that_day_and_removes_those_starting_after():
    risk = past_month_risk(
        red=[1, 4],
        yellow=[2, 3],
        renewing={1, 2},
        arr_day_after={1: Decimal("8000"), 3: Decimal("6000")},
        arr_ending={1: Decimal("5000"), 2: Decimal("3000")},
        arr_starting_day_after={1: Decimal("8000")},
    )

    # 1: 8,000 + 5,000 - 8,000; 2: 0 + 3,000 and renewing; 3: yellow, not renewing;
    # 4: red with no ARR that day.
    assert risk == {1: Decimal("5000"), 2: Decimal("3000")}


# --- Cost --------------------------------------------------------------------------------


def _book(count: int, *, team: object, segment: Segment, version: ScorecardVersion) -> None:
    for _ in range(count):
        account = AccountFactory(owner=None, team=team, arr=Decimal("1000"), health_band="red")
        contract(account, "2025-04-01", "2026-03-31", "1000")
        contract(account, "2026-04-10", "2027-04-09", "1200")
        score(account, "2026-04-30", "red", version)
        SegmentMembership.objects.create(segment=segment, account=account)


def test_the_query_count_does_not_grow_with_the_number_of_accounts(
    django_assert_max_num_queries, scorecard_version
):
    team = TeamFactory(name="North")
    static = SegmentFactory(name="Static", kind=Segment.Kind.STATIC)
    SegmentFactory(name="Rule", rules={"tiers": ["scaled"]})
    _book(3, team=team, segment=static, version=scorecard_version)
    with CaptureQueriesContext(connection) as small:
        retention_snapshots_recompute(today=TODAY, months=6)

    _book(27, team=team, segment=static, version=scorecard_version)
    with django_assert_max_num_queries(len(small.captured_queries)):
        retention_snapshots_recompute(today=TODAY, months=6)

    april = snapshot(APRIL)
    # 30 accounts churned 1,000 each in March and came back at 1,200 on 10 April.
    assert (april.new_arr, april.end_arr) == (Decimal("36000"), Decimal("36000"))
    assert snapshot(APRIL, Scope.SEGMENT, static.pk).arr_at_risk == Decimal("36000")


# --- The command -------------------------------------------------------------------------


def test_the_command_recomputes_and_prints_a_summary():
    account = AccountFactory()
    contract(account, "2020-01-01", "2030-12-31", "4000")
    out = StringIO()

    call_command("recompute_metrics", "--months", "3", stdout=out, stderr=StringIO())

    # 3 months x (company + 1 CSM + 3 tiers).
    assert "15 snapshot rows for 3 month(s)" in out.getvalue()
    assert "NRR 100.0 %" in out.getvalue()
    assert RetentionSnapshot.objects.filter(scope=Scope.COMPANY).count() == 3


def test_the_command_refuses_a_malformed_month():
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("recompute_metrics", "--month", "March", stdout=StringIO())


def test_the_command_refuses_a_month_that_has_not_started():
    with pytest.raises(CommandError, match="has not started"):
        call_command("recompute_metrics", "--month", "2999-01", stdout=StringIO())
    assert not RetentionSnapshot.objects.exists()
