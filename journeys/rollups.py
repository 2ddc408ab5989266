"""Nightly rollups of the journeys page per snapshot scope: what the page reads instead of
walking every account's journey and history.

For each scope of health.retention.scope_plan_load (company, segment, team, CSM, tier, from
the accounts' current attributes) and the day of the run:

- JourneyRollup: the funnel's "not started" row, the overdue counts (behind, stuck, stuck
  accounts) and time to value over the 12 months;
- JourneyStageRollup: per stage, the funnel (live accounts, ARR), the completed stays'
  count, median and 90th percentile, and the accounts in the stage now and over target;
- JourneyTtvMonth: per month with a completion, its accounts and median days to value;
- JourneyOverdueGroup: the late rows per (milestone, entry day) with their place in the
  list, so a page of the overdue list reads only the accounts it shows.

The figures are exactly those of the live selectors (journeys.selectors) for the same day.
Set-based: the accounts' positions, the current stages' completions, every completed stay
and every first exit from onboarding are read in one query each, counted per scope in
Python, and every row is replaced in one transaction, whatever the number of accounts.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate

from django.db import connection, transaction
from django.db.models import F, Window
from django.db.models.functions import Lead, TruncDate
from django.utils import timezone

from accounts.models import Account
from health.models import RetentionSnapshot
from health.retention import ScopePlan, account_facts_load, scope_plan_load
from journeys.models import (
    JourneyOverdueGroup,
    JourneyRollup,
    JourneyStageRollup,
    JourneyTtvMonth,
    Milestone,
    MilestoneCompletion,
    Stage,
    StageTransition,
)
from journeys.selectors import TTV_MONTHS, month_starts, stages_ordered, stay_rows
from journeys.status import MilestoneStatus, milestone_timing

ScopeKey = tuple[str, str]
# Rows per INSERT: the overdue groups are the most rows (one per scope, milestone and entry
# day); 2,000 rows of 7 columns stay far below PostgreSQL's 65,535 parameters per statement.
WRITE_BATCH = 2_000
# Rows fetched at a time from the stays and exits reads, which span the whole history.
READ_CHUNK = 20_000


def scopes_of(plan: ScopePlan, account_id: int) -> list[ScopeKey]:
    """Every snapshot scope an account belongs to (the company always)."""
    Scope = RetentionSnapshot.Scope
    keys: list[ScopeKey] = [(Scope.COMPANY, "")]
    combination = plan.combination_of.get(account_id)
    if combination is not None:
        team_id, owner_id, tier = plan.combinations[combination]
        if team_id is not None:
            keys.append((Scope.TEAM, str(team_id)))
        if owner_id is not None:
            keys.append((Scope.CSM, str(owner_id)))
        keys.append((Scope.TIER, tier))
    keys.extend((Scope.SEGMENT, str(segment)) for segment in plan.segments_of.get(account_id, ()))
    return keys


def counted_percentile(counts: Mapping[int, int], q: float) -> float | None:
    """journeys.selectors.percentile of the values counted (value -> how many times), worked
    out from the counts: the same float, without listing a portfolio's stays one by one."""
    values = sorted(value for value, n in counts.items() if n)
    if not values:
        return None
    # cumulative[i]: how many values are <= values[i]; rank r holds the first value whose
    # cumulative count passes r.
    cumulative = list(accumulate(counts[value] for value in values))
    position = (cumulative[-1] - 1) * q
    low = math.floor(position)
    high = min(low + 1, cumulative[-1] - 1)
    low_value = values[bisect_right(cumulative, low)]
    high_value = values[bisect_right(cumulative, high)]
    return low_value + (high_value - low_value) * (position - low)


# --- Reads: one query each ----------------------------------------------------------------


def _positions() -> Iterator[tuple[int, Decimal, int | None, dt.date | None]]:
    """Every live account's ARR and current stage with its local entry day (None, None
    before its journey starts)."""
    return (
        Account.objects.live()
        .order_by()
        .values_list("id", "arr", "journey__stage_id", TruncDate("journey__entered_at"))
        .iterator(chunk_size=READ_CHUNK)
    )


def _done_now() -> set[tuple[int, int]]:
    """(account, milestone) completed among the live accounts' current stages' milestones."""
    return set(
        MilestoneCompletion.objects.filter(
            account__in=Account.objects.live().order_by().values("pk"),
            milestone__stage_id=F("account__journey__stage_id"),
        )
        .order_by()
        .values_list("account_id", "milestone_id")
    )


def _stays() -> Iterator[tuple[int, int, int]]:
    """(account, stage, days) of every completed stay of every account, churned ones too."""
    transitions = StageTransition.objects.order_by()
    if connection.vendor != "postgresql":
        rows = transitions.order_by("account_id", "at", "pk").values_list(
            "account_id", "to_stage_id", TruncDate("at")
        )
        yield from stay_rows(rows.iterator(chunk_size=READ_CHUNK))
        return
    # As journeys.selectors.stay_stats_sql: each transition's next one ends its stay.
    stays = transitions.annotate(
        entered_day=TruncDate("at"),
        left_day=Window(
            Lead(TruncDate("at")),
            partition_by=[F("account_id")],
            order_by=[F("at").asc(), F("pk").asc()],
        ),
    ).values("account_id", "to_stage_id", "entered_day", "left_day")
    inner, params = stays.query.sql_with_params()
    sql = (
        "SELECT account_id, to_stage_id, left_day - entered_day"
        f" FROM ({inner}) AS stays WHERE left_day IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(READ_CHUNK):
            yield from batch


def _first_exits() -> Iterator[tuple[int, dt.date, dt.date]]:
    """(account, local day, start date) of each account's first exit from onboarding."""
    exits = (
        StageTransition.objects.filter(from_stage__slug=Stage.ONBOARDING_SLUG)
        .order_by("account_id", "at", "pk")
        .values_list("account_id", TruncDate("at"), "account__start_date")
    )
    if connection.vendor == "postgresql":
        yield from exits.distinct("account_id").iterator(chunk_size=READ_CHUNK)
        return
    previous = None
    for row in exits.iterator(chunk_size=READ_CHUNK):
        if row[0] != previous:
            yield row
        previous = row[0]


# --- Counting per scope -------------------------------------------------------------------


@dataclass
class ScopeFigures:
    """One scope's counts as they accumulate."""

    funnel: dict[int | None, list] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    in_stage_now: Counter[int] = field(default_factory=Counter)
    over_target_now: Counter[int] = field(default_factory=Counter)
    stays: dict[int, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    ttv: dict[dt.date, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    ttv_all: Counter[int] = field(default_factory=Counter)
    # (milestone id, entry day) -> the accounts late on it
    late: dict[tuple[int, dt.date], list[int]] = field(default_factory=lambda: defaultdict(list))
    stuck_accounts: int = 0


def scope_figures_count(
    plan: ScopePlan,
    *,
    today: dt.date,
    stages: Sequence[Stage],
    milestones: Sequence[Milestone],
    positions: Iterable[tuple[int, Decimal, int | None, dt.date | None]],
    done: set[tuple[int, int]],
    stays: Iterable[tuple[int, int, int]],
    exits: Iterable[tuple[int, dt.date, dt.date]],
) -> dict[ScopeKey, ScopeFigures]:
    """Every scope's counts from the flat reads; no database access.

    The same rules as the live selectors: the funnel, the accounts in a stage now and the
    late milestones are the live accounts'; stays and time to value count churned accounts
    too (they happened). A milestone is late once today > entered + target_days and not
    done, stuck once today > entered + stuck_days (journeys.status).
    """
    figures: dict[ScopeKey, ScopeFigures] = {key: ScopeFigures() for key in plan.keys}
    cache: dict[int, list[ScopeFigures]] = {}

    def of(account_id: int) -> list[ScopeFigures]:
        found = cache.get(account_id)
        if found is None:
            found = cache[account_id] = [
                figures[key] if key in figures else figures.setdefault(key, ScopeFigures())
                for key in scopes_of(plan, account_id)
            ]
        return found

    targets = {stage.pk: stage.target_days for stage in stages}
    by_stage: dict[int, list[Milestone]] = defaultdict(list)
    for milestone in milestones:
        by_stage[milestone.stage_id].append(milestone)

    for account_id, arr, stage_id, entered_on in positions:
        arr = arr or Decimal(0)
        late: list[int] = []
        stuck = over = False
        if stage_id is not None and entered_on is not None:
            days_in = (today - entered_on).days
            target = targets.get(stage_id)
            over = target is not None and days_in > target
            for milestone in by_stage.get(stage_id, ()):
                if days_in > milestone.target_days and (account_id, milestone.pk) not in done:
                    late.append(milestone.pk)
                    stuck = stuck or days_in > milestone.stuck_days
        for scope in of(account_id):
            cell = scope.funnel[stage_id]
            cell[0] += 1
            cell[1] += arr
            if stage_id is not None:
                scope.in_stage_now[stage_id] += 1
                if over:
                    scope.over_target_now[stage_id] += 1
            for milestone_id in late:
                scope.late[(milestone_id, entered_on)].append(account_id)
            if stuck:
                scope.stuck_accounts += 1

    for account_id, stage_id, days in stays:
        for scope in of(account_id):
            scope.stays[stage_id][days] += 1

    starts = month_starts(today, TTV_MONTHS)
    for account_id, exit_day, start_date in exits:
        month = exit_day.replace(day=1)
        if not (starts[0] <= month <= starts[-1] and exit_day <= today):
            continue
        # A start date after the exit (bad import data) counts as 0 days, as on the page.
        days = max(0, (exit_day - start_date).days)
        for scope in of(account_id):
            scope.ttv[month][days] += 1
            scope.ttv_all[days] += 1
    return figures


# --- Rows -----------------------------------------------------------------------------------


@dataclass
class RollupRows:
    rollups: list[JourneyRollup] = field(default_factory=list)
    stages: list[JourneyStageRollup] = field(default_factory=list)
    months: list[JourneyTtvMonth] = field(default_factory=list)
    overdue: list[JourneyOverdueGroup] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rollups) + len(self.stages) + len(self.months) + len(self.overdue)


def overdue_groups(
    late: Mapping[tuple[int, dt.date], Sequence[int]],
    *,
    milestones: Mapping[int, Milestone],
    today: dt.date,
) -> tuple[list[tuple[int, dt.date, list[int], int, int]], int, int]:
    """Place each (milestone, entry day) group in the overdue list: (milestone, day, its
    accounts, first row, end row) of its sort group, and the behind and stuck counts.

    The list sorts stuck first, then the most days late (journeys.selectors.OverdueRows).
    """
    by_key: dict[tuple[bool, int], list[tuple[int, dt.date, list[int]]]] = defaultdict(list)
    behind = stuck = 0
    for (milestone_id, day), accounts in late.items():
        rows = len(accounts)
        milestone = milestones[milestone_id]
        timing = milestone_timing(
            entered_on=day,
            target_days=milestone.target_days,
            stuck_days=milestone.stuck_days,
            today=today,
            completed=False,
        )
        is_stuck = timing.status == MilestoneStatus.STUCK
        by_key[(not is_stuck, -timing.days_late)].append((milestone_id, day, sorted(accounts)))
        if is_stuck:
            stuck += rows
        else:
            behind += rows
    placed = []
    position = 0
    for key in sorted(by_key):
        groups = sorted(by_key[key])
        end = position + sum(len(accounts) for _, _, accounts in groups)
        placed.extend(
            (milestone_id, day, accounts, position, end) for milestone_id, day, accounts in groups
        )
        position = end
    return placed, behind, stuck


def rollup_rows(
    figures: Mapping[ScopeKey, ScopeFigures],
    *,
    today: dt.date,
    stages: Sequence[Stage],
    milestones: Sequence[Milestone],
    computed_at: dt.datetime,
) -> RollupRows:
    """The rows of every scope: a header and a row per stage even when all zero, so the
    page tells "nothing in this scope" from "no rollup for this scope"."""
    by_id = {milestone.pk: milestone for milestone in milestones}
    out = RollupRows()
    for (scope, key), fig in sorted(figures.items()):
        placed, behind, stuck = overdue_groups(fig.late, milestones=by_id, today=today)
        not_started = fig.funnel.get(None, [0, Decimal(0)])
        out.rollups.append(
            JourneyRollup(
                scope=scope,
                scope_key=key,
                day=today,
                not_started_accounts=not_started[0],
                not_started_arr=not_started[1],
                behind=behind,
                stuck=stuck,
                stuck_accounts=fig.stuck_accounts,
                ttv_accounts=sum(fig.ttv_all.values()),
                ttv_median_days=counted_percentile(fig.ttv_all, 0.5),
                computed_at=computed_at,
            )
        )
        for stage in stages:
            accounts, arr = fig.funnel.get(stage.pk, [0, Decimal(0)])
            stays = fig.stays.get(stage.pk, Counter())
            out.stages.append(
                JourneyStageRollup(
                    scope=scope,
                    scope_key=key,
                    stage=stage,
                    accounts=accounts,
                    arr=arr,
                    stays=sum(stays.values()),
                    median_days=counted_percentile(stays, 0.5),
                    p90_days=counted_percentile(stays, 0.9),
                    in_stage_now=fig.in_stage_now[stage.pk],
                    over_target_now=fig.over_target_now[stage.pk],
                )
            )
        for month, days in sorted(fig.ttv.items()):
            out.months.append(
                JourneyTtvMonth(
                    scope=scope,
                    scope_key=key,
                    month=month,
                    accounts=sum(days.values()),
                    median_days=counted_percentile(days, 0.5),
                )
            )
        out.overdue.extend(
            JourneyOverdueGroup(
                scope=scope,
                scope_key=key,
                milestone_id=milestone_id,
                entered_on=day,
                account_ids=accounts,
                first_row=first,
                end_row=end,
            )
            for milestone_id, day, accounts, first, end in placed
        )
    return out


# --- The service ----------------------------------------------------------------------------


@transaction.atomic
def journey_rollups_recompute(*, today: dt.date) -> int:
    """Replace every journeys rollup row with the figures of `today`; returns the rows written.

    One transaction: the page reads either the previous run's rows or this run's, never a
    mix. A fixed number of queries (the scope plan's, one per rule segment, plus six reads,
    four deletes and the batched inserts) whatever the number of accounts.
    """
    facts = account_facts_load()
    plan = scope_plan_load(facts, today=today)
    stages = stages_ordered()
    milestones = list(Milestone.objects.order_by("order", "pk"))
    figures = scope_figures_count(
        plan,
        today=today,
        stages=stages,
        milestones=milestones,
        positions=_positions(),
        done=_done_now(),
        stays=_stays(),
        exits=_first_exits(),
    )
    rows = rollup_rows(
        figures, today=today, stages=stages, milestones=milestones, computed_at=timezone.now()
    )
    for model in (JourneyOverdueGroup, JourneyTtvMonth, JourneyStageRollup, JourneyRollup):
        model.objects.all().delete()
    JourneyRollup.objects.bulk_create(rows.rollups, batch_size=WRITE_BATCH)
    JourneyStageRollup.objects.bulk_create(rows.stages, batch_size=WRITE_BATCH)
    JourneyTtvMonth.objects.bulk_create(rows.months, batch_size=WRITE_BATCH)
    JourneyOverdueGroup.objects.bulk_create(rows.overdue, batch_size=WRITE_BATCH)
    return len(rows)
