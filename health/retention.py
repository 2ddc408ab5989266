"""Monthly retention snapshots: the ARR bridge, logo churn, renewals and ARR at risk.

Definitions are PRODUCT.md section 3, "Conventions that make the revenue metrics exact":

- An account's ARR on a day is the sum of the ARR of its non-cancelled contracts with
  start_date <= day <= end_date.
- A month's start ARR is the ARR on its first day; its end ARR is the ARR on the first day
  of the next month, so a contract ending on 31 March that is not renewed is churn in March.
  For the current month that means the end ARR counts the contracts already signed to run
  on the 1st of next month and drops those ending this month: the month as it will close
  if nothing else is signed.
- The cohort is the accounts with start ARR > 0; each is churned (end 0), expanded (end >
  start), contracted (0 < end < start) or flat. New ARR is the end ARR of every account
  outside the cohort, reactivations included. start + new + expansion - contraction -
  churned = end holds for every account, hence for every scope.
- A contract is due in the month its end_date falls in, and renewed when the same account
  has a non-cancelled contract starting in (end_date, end_date + 30 days].
- ARR at risk: red accounts, plus yellow ones renewing within 90 days. For the current
  month it reads the denormalised Account.arr / health_band / renewal_date as of today;
  for a past month it reads HealthScore.band on the month's last day (accounts without a
  score that day don't count), the account's ARR on that day and "a non-cancelled contract
  ending in [that day, that day + 90 days]", matching Account.renewal_date, which is the
  first end date on or after today.
- Scopes use every account's current team, owner, tier and segment membership.

The work is set-based: one grouped ARR query per boundary day (25 for 24 months), one
query for account attributes, one for all due contracts of the window with their renewal
flag, one for past months' at-risk accounts, one per rule segment; the per-account figures
are then folded into scopes in Python dicts. Rows are upserted on (month, scope,
scope_key), so a rerun replaces them and never duplicates.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal

from django.db import transaction
from django.db.models import (
    DateField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce

from accounts.models import Account, Contract, Segment, SegmentMembership, Team, User
from accounts.selectors.segments import segment_accounts
from health.models import Band, HealthScore, RetentionSnapshot

# A due contract counts as renewed when a successor starts within this many days after it.
RENEWAL_WINDOW_DAYS = 30
# "Renewing within 90 days" for ARR at risk (PRODUCT.md section 3).
RISK_RENEWAL_DAYS = 90
# Rows per INSERT ... ON CONFLICT statement; 24 months x a few hundred scopes is a few
# thousand rows, so a handful of statements.
UPSERT_BATCH = 1_000

ZERO = Decimal("0")
_MONEY = DecimalField(max_digits=16, decimal_places=2)

Progress = Callable[[int], None]


# --- Calendar months ---------------------------------------------------------------------


def month_floor(day: dt.date) -> dt.date:
    """The first day of the day's calendar month."""
    return day.replace(day=1)


def month_add(month: dt.date, count: int) -> dt.date:
    """The first day of the month `count` months after (or before) `month`'s."""
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def month_last_day(month: dt.date) -> dt.date:
    return month_add(month, 1) - dt.timedelta(days=1)


def months_to_recompute(
    *, today: dt.date, months: int = 24, only_month: dt.date | None = None
) -> list[dt.date]:
    """First days of the months to recompute, oldest first, ending with today's month."""
    current = month_floor(today)
    if only_month is not None:
        month = month_floor(only_month)
        if month > current:
            raise ValueError(f"{month:%Y-%m} has not started yet (today is {today}).")
        return [month]
    if months < 1:
        raise ValueError("Recompute at least one month.")
    return [month_add(current, -offset) for offset in range(months - 1, -1, -1)]


# --- The additive figures of one month and one scope -------------------------------------


@dataclass(slots=True)
class MonthTotals:
    """The stored, additive parts of a RetentionSnapshot; rates are derived from them."""

    cohort_accounts: int = 0
    churned_accounts: int = 0
    start_arr: Decimal = ZERO
    new_arr: Decimal = ZERO
    expansion_arr: Decimal = ZERO
    contraction_arr: Decimal = ZERO
    churned_arr: Decimal = ZERO
    end_arr: Decimal = ZERO
    contracts_due: int = 0
    contracts_renewed: int = 0
    due_arr: Decimal = ZERO
    renewed_arr: Decimal = ZERO
    arr_at_risk: Decimal = ZERO

    def add_movement(self, start: Decimal, end: Decimal) -> None:
        """Fold one account's ARR at the month's start and end into the bridge."""
        self.start_arr += start
        self.end_arr += end
        if start > 0:
            self.cohort_accounts += 1
            if end == 0:
                self.churned_arr += start
                self.churned_accounts += 1
            elif end > start:
                self.expansion_arr += end - start
            elif end < start:
                self.contraction_arr += start - end
        else:
            # Outside the cohort: a first contract or a reactivation, both new.
            self.new_arr += end

    def add_due(self, arr: Decimal, renewed: bool) -> None:
        """Fold one contract due in the month; a renewal counts the due contract's own ARR."""
        self.contracts_due += 1
        self.due_arr += arr
        if renewed:
            self.contracts_renewed += 1
            self.renewed_arr += arr

    def add_risk(self, arr: Decimal) -> None:
        self.arr_at_risk += arr

    def merge(self, other: MonthTotals) -> None:
        for name in _FIELD_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_fields(self) -> dict[str, int | Decimal]:
        return {name: getattr(self, name) for name in _FIELD_NAMES}


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(MonthTotals))


def arr_bridge(
    start_by_account: Mapping[int, Decimal], end_by_account: Mapping[int, Decimal]
) -> MonthTotals:
    """The bridge over the accounts in either mapping (a missing account has ARR 0)."""
    totals = MonthTotals()
    for account_id in start_by_account.keys() | end_by_account.keys():
        totals.add_movement(
            start_by_account.get(account_id, ZERO), end_by_account.get(account_id, ZERO)
        )
    return totals


def is_at_risk(*, band: str, renewal_date: dt.date | None, day: dt.date) -> bool:
    """Red, or yellow with a renewal in [day, day + 90 days]."""
    if band == Band.RED:
        return True
    return (
        band == Band.YELLOW
        and renewal_date is not None
        and day <= renewal_date <= day + dt.timedelta(days=RISK_RENEWAL_DAYS)
    )


# --- Reads (set-based: the number of queries never depends on the number of accounts) ---


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """An account's current scope attributes and the denormalised fields for today's risk."""

    team_id: int | None
    owner_id: int | None
    tier: str
    arr: Decimal
    health_band: str
    renewal_date: dt.date | None


def _live_contracts() -> QuerySet[Contract]:
    return Contract.objects.exclude(status=Contract.Status.CANCELLED)


def arr_by_account_on(day: dt.date) -> dict[int, Decimal]:
    """Every account's ARR on the day, in one grouped query (accounts at 0 are absent)."""
    rows = (
        _live_contracts()
        .filter(start_date__lte=day, end_date__gte=day)
        .order_by()
        .values("account_id")
        .annotate(total=Sum("arr"))
        .values_list("account_id", "total")
    )
    return {account_id: total for account_id, total in rows if total}


def account_facts_load() -> dict[int, AccountFacts]:
    rows = Account.objects.order_by().values_list(
        "id", "team_id", "owner_id", "tier", "arr", "health_band", "renewal_date"
    )
    return {row[0]: AccountFacts(*row[1:]) for row in rows}


def due_contracts_load(
    *, first_month: dt.date, last_month: dt.date
) -> list[tuple[int, dt.date, Decimal, bool]]:
    """(account id, end date, ARR, renewed) of every contract due in the months, one query."""
    successor = _live_contracts().filter(
        account_id=OuterRef("account_id"),
        start_date__gt=OuterRef("end_date"),
        start_date__lte=ExpressionWrapper(
            OuterRef("end_date") + dt.timedelta(days=RENEWAL_WINDOW_DAYS),
            output_field=DateField(),
        ),
    )
    return list(
        _live_contracts()
        .filter(end_date__gte=first_month, end_date__lt=month_add(last_month, 1))
        .order_by()
        .annotate(renewed=Exists(successor))
        .values_list("account_id", "end_date", "arr", "renewed")
    )


def past_risk_load(days: list[dt.date]) -> dict[dt.date, dict[int, Decimal]]:
    """ARR at risk per account on each past month-end, from that day's stored health band.

    One query: scores on those days that are red, or yellow with a contract ending within
    90 days, each with the account's ARR on that day.
    """
    if not days:
        return {}
    ending_soon = _live_contracts().filter(
        account_id=OuterRef("account_id"),
        end_date__gte=OuterRef("day"),
        end_date__lte=ExpressionWrapper(
            OuterRef("day") + dt.timedelta(days=RISK_RENEWAL_DAYS), output_field=DateField()
        ),
    )
    arr_that_day = (
        _live_contracts()
        .filter(
            account_id=OuterRef("account_id"),
            start_date__lte=OuterRef("day"),
            end_date__gte=OuterRef("day"),
        )
        .order_by()
        .values("account_id")
        .annotate(total=Sum("arr"))
        .values("total")
    )
    rows = (
        HealthScore.objects.filter(day__in=days)
        .filter(Q(band=Band.RED) | Q(Exists(ending_soon), band=Band.YELLOW))
        .order_by()
        .annotate(arr_then=Coalesce(Subquery(arr_that_day, output_field=_MONEY), ZERO))
        .values_list("day", "account_id", "arr_then")
    )
    risk: dict[dt.date, dict[int, Decimal]] = defaultdict(dict)
    for day, account_id, arr in rows:
        if arr:
            risk[day][account_id] = arr
    return risk


def segment_members_load(*, today: dt.date) -> dict[int, list[int]]:
    """Segment ids of each account: rule segments evaluated live (one query each), static
    segments from their membership (one query for all)."""
    segments_of: dict[int, list[int]] = defaultdict(list)
    for segment in Segment.objects.filter(kind=Segment.Kind.RULE).order_by("pk"):
        for account_id in segment_accounts(segment, today=today).order_by().values_list(
            "id", flat=True
        ):
            segments_of[account_id].append(segment.pk)
    memberships = SegmentMembership.objects.filter(segment__kind=Segment.Kind.STATIC)
    for segment_id, account_id in memberships.order_by().values_list("segment_id", "account_id"):
        segments_of[account_id].append(segment_id)
    return segments_of


# --- The computation of one month over every scope ---------------------------------------

ScopeKey = tuple[str, str]
# (team id, owner id, tier): accounts sharing all three land in the same scopes, so each
# account-month is folded once into its combination and the combinations into the scopes.
Combination = tuple[int | None, int | None, str | None]


def month_scopes_compute(
    *,
    start_arr: Mapping[int, Decimal],
    end_arr: Mapping[int, Decimal],
    due: Iterable[tuple[int, Decimal, bool]],
    risk: Mapping[int, Decimal],
    facts: Mapping[int, AccountFacts],
    segments_of: Mapping[int, list[int]],
) -> dict[ScopeKey, MonthTotals]:
    """Every scope's figures for one month from per-account inputs; no database access.

    Accounts missing from `facts` (created mid-run) still count for the company.
    """
    by_combination: dict[Combination, MonthTotals] = defaultdict(MonthTotals)
    by_segment: dict[int, MonthTotals] = defaultdict(MonthTotals)
    no_facts: Combination = (None, None, None)

    def combination(account_id: int) -> Combination:
        fact = facts.get(account_id)
        return (fact.team_id, fact.owner_id, fact.tier) if fact else no_facts

    for account_id in start_arr.keys() | end_arr.keys():
        start = start_arr.get(account_id, ZERO)
        end = end_arr.get(account_id, ZERO)
        by_combination[combination(account_id)].add_movement(start, end)
        for segment_id in segments_of.get(account_id, ()):
            by_segment[segment_id].add_movement(start, end)
    for account_id, arr, renewed in due:
        by_combination[combination(account_id)].add_due(arr, renewed)
        for segment_id in segments_of.get(account_id, ()):
            by_segment[segment_id].add_due(arr, renewed)
    for account_id, arr in risk.items():
        by_combination[combination(account_id)].add_risk(arr)
        for segment_id in segments_of.get(account_id, ()):
            by_segment[segment_id].add_risk(arr)

    scopes: dict[ScopeKey, MonthTotals] = defaultdict(MonthTotals)
    Scope = RetentionSnapshot.Scope
    for (team_id, owner_id, tier), totals in by_combination.items():
        scopes[(Scope.COMPANY, "")].merge(totals)
        if team_id is not None:
            scopes[(Scope.TEAM, str(team_id))].merge(totals)
        if owner_id is not None:
            scopes[(Scope.CSM, str(owner_id))].merge(totals)
        if tier is not None:
            scopes[(Scope.TIER, tier)].merge(totals)
    for segment_id, totals in by_segment.items():
        scopes[(Scope.SEGMENT, str(segment_id))] = totals
    return scopes


def current_risk(facts: Mapping[int, AccountFacts], *, today: dt.date) -> dict[int, Decimal]:
    """Today's ARR at risk per account, from the denormalised account fields."""
    return {
        account_id: fact.arr
        for account_id, fact in facts.items()
        if fact.arr
        and is_at_risk(band=fact.health_band, renewal_date=fact.renewal_date, day=today)
    }


def scope_keys_load(
    facts: Mapping[int, AccountFacts], segments_of: Mapping[int, list[int]]
) -> set[ScopeKey]:
    """Scopes that get a row every month, even an all-zero one: the company, every team,
    tier and segment, every CSM and every other user who owns an account."""
    Scope = RetentionSnapshot.Scope
    keys: set[ScopeKey] = {(Scope.COMPANY, "")}
    keys |= {(Scope.TIER, tier) for tier in Account.Tier.values}
    keys |= {(Scope.TEAM, str(pk)) for pk in Team.objects.values_list("pk", flat=True)}
    keys |= {(Scope.SEGMENT, str(pk)) for pk in Segment.objects.values_list("pk", flat=True)}
    csm_ids = set(User.objects.filter(role=User.Role.CSM).values_list("pk", flat=True))
    csm_ids |= {fact.owner_id for fact in facts.values() if fact.owner_id is not None}
    keys |= {(Scope.CSM, str(pk)) for pk in csm_ids}
    # A segment created after the membership read still gets its (empty) row next run.
    keys |= {(Scope.SEGMENT, str(pk)) for ids in segments_of.values() for pk in ids}
    return keys


# --- The service -------------------------------------------------------------------------


def recompute_steps(*, months: int) -> int:
    """How many progress steps a recompute of `months` months reports (for a progress bar)."""
    # One per boundary-day query, one per month folded, one for the write.
    return (months + 1) + months + 1


@transaction.atomic
def retention_snapshots_recompute(
    *,
    today: dt.date,
    months: int = 24,
    only_month: dt.date | None = None,
    progress: Progress | None = None,
) -> int:
    """Recompute the retention snapshots of the last `months` calendar months up to and
    including today's (or only `only_month`), for every scope; returns the rows written.

    Idempotent: rows are upserted on (month, scope, scope_key), and the recomputed months'
    rows for scopes that no longer exist (a deleted team or segment) are deleted in the same
    transaction. `progress(n)` is called as steps complete (see recompute_steps).
    """
    step: Progress = progress or (lambda _n: None)
    month_list = months_to_recompute(today=today, months=months, only_month=only_month)
    current = month_floor(today)

    facts = account_facts_load()
    segments_of = segment_members_load(today=today)
    scope_keys = scope_keys_load(facts, segments_of)

    boundaries = [*month_list, month_add(month_list[-1], 1)]
    arr_on: dict[dt.date, dict[int, Decimal]] = {}
    for day in boundaries:
        arr_on[day] = arr_by_account_on(day)
        step(1)

    due_by_month: dict[dt.date, list[tuple[int, Decimal, bool]]] = defaultdict(list)
    for account_id, end_date, arr, renewed in due_contracts_load(
        first_month=month_list[0], last_month=month_list[-1]
    ):
        due_by_month[month_floor(end_date)].append((account_id, arr, bool(renewed)))

    past_risk = past_risk_load([month_last_day(m) for m in month_list if m < current])

    snapshots: list[RetentionSnapshot] = []
    for month in month_list:
        risk = (
            current_risk(facts, today=today)
            if month == current
            else past_risk.get(month_last_day(month), {})
        )
        scopes = month_scopes_compute(
            start_arr=arr_on[month],
            end_arr=arr_on[month_add(month, 1)],
            due=due_by_month.get(month, ()),
            risk=risk,
            facts=facts,
            segments_of=segments_of,
        )
        for scope, scope_key in sorted(scope_keys):
            totals = scopes.get((scope, scope_key)) or MonthTotals()
            snapshots.append(
                RetentionSnapshot(
                    month=month, scope=scope, scope_key=scope_key, **totals.as_fields()
                )
            )
        step(1)

    _snapshots_write(snapshots, months=month_list, scope_keys=scope_keys)
    step(1)
    return len(snapshots)


def _snapshots_write(
    snapshots: list[RetentionSnapshot], *, months: list[dt.date], scope_keys: set[ScopeKey]
) -> None:
    keys_by_scope: dict[str, list[str]] = defaultdict(list)
    for scope, scope_key in scope_keys:
        keys_by_scope[scope].append(scope_key)
    keep = Q()
    for scope, keys in keys_by_scope.items():
        keep |= Q(scope=scope, scope_key__in=keys)
    RetentionSnapshot.objects.filter(month__in=months).exclude(keep).delete()
    RetentionSnapshot.objects.bulk_create(
        snapshots,
        batch_size=UPSERT_BATCH,
        update_conflicts=True,
        unique_fields=["month", "scope", "scope_key"],
        update_fields=[*_FIELD_NAMES, "computed_at"],
    )
