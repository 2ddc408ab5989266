"""Reads of the journeys app: one account's journey panel, the journeys page's aggregates, and
the stage settings.

Every page-level function takes an account queryset already scoped to the viewer
(accounts_visible_to, then the page's segment / team / CSM filters) and runs a fixed number
of queries whatever the number of accounts, never a query per account. Statuses, durations
and medians are worked out in Python from a few flat rows, or, where those rows would be a
whole portfolio's history, by PostgreSQL with the Python way kept for SQLite and held to
the same numbers by the tests.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast, overload

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Sum, Window
from django.db.models.functions import Lead, TruncDate
from django.http import Http404
from django.utils import timezone

from accounts.models import Account, AccountQuerySet, Segment, Team, User
from accounts.selectors.segments import segment_filter
from journeys.models import (
    AccountJourney,
    Handoff,
    Milestone,
    MilestoneCompletion,
    Stage,
    StageTransition,
)
from journeys.status import MilestoneStatus, MilestoneTiming, milestone_timing

RECENT_TRANSITIONS = 10
TTV_MONTHS = 12


def local_day(moment: dt.datetime) -> dt.date:
    """The calendar day of a stored moment in the configured time zone."""
    return timezone.localdate(moment)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th quantile (0..1) with linear interpolation between closest ranks.

    The same as PostgreSQL's percentile_cont and numpy's default: the median of 10, 20, 30,
    40 is 25; the 90th percentile of 10, 20 ... 100 is 91. None for no values.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- Settings ----------------------------------------------------------------------------


def stages_ordered() -> list[Stage]:
    return list(Stage.objects.order_by("order"))


def stages_with_milestones() -> list[Stage]:
    """Every stage in order with its milestones and how many accounts are in it now (2 queries)."""
    return list(
        Stage.objects.order_by("order")
        .annotate(accounts_now=Count("journeys"))
        .prefetch_related(
            Prefetch("milestones", queryset=Milestone.objects.order_by("order", "pk"))
        )
    )


def stage_get(*, stage_id: int) -> Stage:
    try:
        return Stage.objects.get(pk=stage_id)
    except Stage.DoesNotExist:
        raise Http404("No such stage.") from None


def milestone_get(*, milestone_id: int) -> Milestone:
    try:
        return Milestone.objects.select_related("stage").get(pk=milestone_id)
    except Milestone.DoesNotExist:
        raise Http404("No such milestone.") from None


# --- One account's journey (the account page's panel) ------------------------------------


def account_current_stage(*, account: Account) -> Stage | None:
    """The stage the account is in now; None before its journey starts."""
    journey = AccountJourney.objects.filter(account=account).select_related("stage").first()
    return journey.stage if journey else None


def handoff_for_account(*, account: Account) -> Handoff | None:
    """The account's handoff, if any; `account` comes from an access-checked getter."""
    return Handoff.objects.filter(account=account).select_related("updated_by").first()


@dataclass(frozen=True)
class MilestoneRow:
    milestone: Milestone
    timing: MilestoneTiming
    completion: MilestoneCompletion | None

    @property
    def status(self) -> MilestoneStatus:
        return self.timing.status


@dataclass(frozen=True)
class AccountJourneyPanel:
    has_journey: bool
    stage: Stage | None
    entered_on: dt.date | None
    days_in_stage: int | None
    milestones: list[MilestoneRow]
    transitions: list[StageTransition]  # newest first, at most RECENT_TRANSITIONS
    handoff: Handoff | None
    stages: list[Stage]  # every stage in order: the move and start forms' choices

    @property
    def target_days(self) -> int | None:
        return self.stage.target_days if self.stage else None

    @property
    def over_target(self) -> bool:
        target = self.target_days
        return target is not None and self.days_in_stage is not None and self.days_in_stage > target

    @property
    def is_configured(self) -> bool:
        return bool(self.stages)

    @property
    def move_choices(self) -> list[Stage]:
        return [stage for stage in self.stages if self.stage is None or stage.pk != self.stage.pk]

    @property
    def required_left(self) -> int:
        return sum(
            1
            for row in self.milestones
            if row.milestone.is_required and row.status != MilestoneStatus.DONE
        )


def account_journey_panel(*, account: Account, today: dt.date) -> AccountJourneyPanel:
    """Where one account stands in its journey, in at most 5 queries."""
    row = (
        Account.objects.filter(pk=account.pk)
        .select_related("journey__stage", "handoff__updated_by")
        .first()
    )
    journey: AccountJourney | None = getattr(row, "journey", None) if row else None
    handoff: Handoff | None = getattr(row, "handoff", None) if row else None
    stages = stages_ordered()
    transitions = list(
        StageTransition.objects.filter(account=account)
        .select_related("from_stage", "to_stage", "by")
        .order_by("-at", "-pk")[:RECENT_TRANSITIONS]
    )
    if journey is None:
        return AccountJourneyPanel(
            has_journey=False,
            stage=None,
            entered_on=None,
            days_in_stage=None,
            milestones=[],
            transitions=transitions,
            handoff=handoff,
            stages=stages,
        )

    entered_on = local_day(journey.entered_at)
    milestones = list(Milestone.objects.filter(stage_id=journey.stage_id).order_by("order", "pk"))
    completions = {
        c.milestone_id: c
        for c in MilestoneCompletion.objects.filter(
            account=account, milestone__stage_id=journey.stage_id
        ).select_related("completed_by")
    }
    rows = [
        MilestoneRow(
            milestone=milestone,
            timing=milestone_timing(
                entered_on=entered_on,
                target_days=milestone.target_days,
                stuck_days=milestone.stuck_days,
                today=today,
                completed=milestone.pk in completions,
            ),
            completion=completions.get(milestone.pk),
        )
        for milestone in milestones
    ]
    return AccountJourneyPanel(
        has_journey=True,
        stage=journey.stage,
        entered_on=entered_on,
        days_in_stage=(today - entered_on).days,
        milestones=rows,
        transitions=transitions,
        handoff=handoff,
        stages=stages,
    )


# --- The journeys page: scope ------------------------------------------------------------


def journey_scope_accounts(
    accounts: AccountQuerySet,
    *,
    segment: Segment | None = None,
    team: Team | None = None,
    csm: User | None = None,
    today: dt.date,
) -> AccountQuerySet:
    """Narrow accounts already visible to the viewer; never widens them."""
    if segment is not None:
        # segment_filter keeps the queryset's class; its signature only promises the base one.
        accounts = cast(AccountQuerySet, segment_filter(accounts, segment, today=today))
    if team is not None:
        accounts = accounts.filter(team=team)
    if csm is not None:
        accounts = accounts.filter(owner=csm)
    return accounts


# --- Funnel ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStep:
    stage: Stage | None  # None: live accounts whose journey has not started
    label: str
    accounts: int
    arr: Decimal


@dataclass(frozen=True)
class Funnel:
    steps: list[FunnelStep]  # one per stage, in order
    not_started: FunnelStep
    total_accounts: int
    total_arr: Decimal

    @property
    def started_accounts(self) -> int:
        return self.total_accounts - self.not_started.accounts


def stage_funnel(accounts: AccountQuerySet, *, stages: Sequence[Stage]) -> Funnel:
    """Live accounts and their ARR per current stage, plus those not started; one query.

    Churned accounts are left out: the funnel is where customers stand now.
    """
    grouped: dict[int | None, tuple[int, Decimal]] = {
        row["journey__stage"]: (row["n"], row["arr"] or Decimal("0"))
        for row in accounts.live()
        .order_by()
        .values("journey__stage")
        .annotate(n=Count("pk"), arr=Sum("arr"))
    }
    steps = [
        FunnelStep(
            stage=stage,
            label=stage.name,
            accounts=grouped.get(stage.pk, (0, Decimal("0")))[0],
            arr=grouped.get(stage.pk, (0, Decimal("0")))[1],
        )
        for stage in stages
    ]
    none_n, none_arr = grouped.get(None, (0, Decimal("0")))
    not_started = FunnelStep(stage=None, label="Not started", accounts=none_n, arr=none_arr)
    return Funnel(
        steps=steps,
        not_started=not_started,
        total_accounts=sum(n for n, _ in grouped.values()),
        total_arr=sum((arr for _, arr in grouped.values()), Decimal("0")),
    )


# --- Where each live account stands now --------------------------------------------------


@dataclass(frozen=True)
class CurrentJourney:
    account_id: int
    account_name: str
    owner_name: str
    stage_id: int
    entered_on: dt.date


def _person(first: str | None, last: str | None, username: str | None) -> str:
    """User.__str__ from flat columns: full name, else username; "" for no owner."""
    full = f"{first or ''} {last or ''}".strip()
    return full or (username or "")


def current_journeys(accounts: AccountQuerySet) -> list[CurrentJourney]:
    """The live accounts' current stage and entry day, with name and owner; one query.

    Read from the accounts' side, each joined to its one journey: for a book the planner
    walks the owner index and probes journey_account_stage_idx (journeys migration 0005)
    per account, where reading journeys first hashed all of them (5 ms at 38,000 journeys).
    """
    rows = (
        accounts.live()
        # Has a journey, said with a column of the index: journey__isnull tests the journey's
        # id, which would send every probe on to the table.
        .filter(journey__stage__isnull=False)
        .order_by()
        .values_list(
            "pk",
            "name",
            "owner__first_name",
            "owner__last_name",
            "owner__username",
            "journey__stage_id",
            # The local calendar day, worked out by the database: converting each of tens of
            # thousands of moments in Python cost more than the query.
            TruncDate("journey__entered_at"),
        )
    )
    return [
        CurrentJourney(
            account_id=account_id,
            account_name=name,
            owner_name=_person(first, last, username),
            stage_id=stage_id,
            entered_on=entered_on,
        )
        for account_id, name, first, last, username, stage_id, entered_on in rows
    ]


@dataclass(frozen=True)
class StageEntries:
    stage_id: int
    entered_on: dt.date
    accounts: int  # live accounts that entered the stage that day and are still in it


def stage_entries(accounts: AccountQuerySet) -> list[StageEntries]:
    """The live accounts' current stages counted per entry day; one query, a few thousand
    rows at most where current_journeys reads one row per account with its names."""
    rows = (
        AccountJourney.objects.filter(account__in=accounts.live().order_by().values("pk"))
        .order_by()
        .values_list("stage_id", TruncDate("entered_at"))
        .annotate(n=Count("pk"))
    )
    return [
        StageEntries(stage_id=stage_id, entered_on=day, accounts=n) for stage_id, day, n in rows
    ]


# --- Time in stage -----------------------------------------------------------------------


@dataclass(frozen=True)
class StageTime:
    stage: Stage
    stays: int  # completed stays: entered and left again
    median_days: float | None
    p90_days: float | None
    in_stage_now: int  # live accounts in the stage today (open stays, not in the medians)
    over_target_now: int  # of those, how many have been there longer than the target

    @property
    def target_days(self) -> int | None:
        return self.stage.target_days

    @property
    def median_over_target(self) -> bool:
        target = self.stage.target_days
        return target is not None and self.median_days is not None and self.median_days > target

    @property
    def p90_over_target(self) -> bool:
        target = self.stage.target_days
        return target is not None and self.p90_days is not None and self.p90_days > target


def stay_rows(rows: Iterable[tuple[int, int, dt.date]]) -> Iterator[tuple[int, int, int]]:
    """(account, stage, days) of every completed stay, from transitions (account, stage
    entered, local day) ordered by account then time.

    A stay starts with a transition into a stage and ends with the account's next
    transition; its length is the number of calendar days between the two. The account's
    last transition opens a stay that has not ended, which is not a duration yet.
    """
    previous: tuple[int, int, dt.date] | None = None
    for account_id, stage_id, day in rows:
        if previous is not None and previous[0] == account_id:
            yield account_id, previous[1], (day - previous[2]).days
        previous = (account_id, stage_id, day)


def completed_stays(rows: Iterable[tuple[int, int, dt.date]]) -> dict[int, list[int]]:
    """Days spent per completed stay, by stage (see stay_rows)."""
    durations: dict[int, list[int]] = defaultdict(list)
    for _account_id, stage_id, days in stay_rows(rows):
        durations[stage_id].append(days)
    return durations


# (completed stays, median days, 90th percentile days) per stage id; stages without a
# completed stay are left out.
StayStats = dict[int, tuple[int, float | None, float | None]]


def _on_postgresql(queryset: QuerySet) -> bool:
    return connections[queryset.db].vendor == "postgresql"


def _transitions_of(accounts: AccountQuerySet) -> QuerySet[StageTransition]:
    return StageTransition.objects.filter(account__in=accounts.order_by().values("pk")).order_by()


def stay_stats_python(accounts: AccountQuerySet) -> StayStats:
    """Every transition read and walked in Python: the way for databases without
    percentile_cont (SQLite)."""
    rows = (
        _transitions_of(accounts)
        .order_by("account_id", "at", "pk")
        .values_list("account_id", "to_stage_id", TruncDate("at"))
    )
    durations = completed_stays(rows.iterator(chunk_size=5000))
    return {
        stage_id: (len(days), percentile(days, 0.5), percentile(days, 0.9))
        for stage_id, days in durations.items()
    }


def stay_stats_sql(accounts: AccountQuerySet) -> StayStats:
    """The same numbers as stay_stats_python, worked out by PostgreSQL in one query.

    Each transition's next one of the same account (LEAD over at, pk) ends its stay; both
    ends are local calendar days from the same TruncDate as the Python way, and
    percentile_cont interpolates exactly as `percentile` does. Reading a quarter of a million
    transitions into Python only to keep three numbers per stage cost most of the page.
    """
    stays = _transitions_of(accounts).annotate(
        entered_day=TruncDate("at"),
        left_day=Window(
            Lead(TruncDate("at")),
            partition_by=[F("account_id")],
            order_by=[F("at").asc(), F("pk").asc()],
        ),
    )
    try:
        inner, params = stays.values(
            "to_stage_id", "entered_day", "left_day"
        ).query.sql_with_params()
    except EmptyResultSet:  # an empty scope (QuerySet.none()) has no SQL to wrap
        return {}
    sql = (
        "SELECT to_stage_id, COUNT(*),"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY (left_day - entered_day)::float8),"
        " percentile_cont(0.9) WITHIN GROUP (ORDER BY (left_day - entered_day)::float8)"
        f" FROM ({inner}) AS stays WHERE left_day IS NOT NULL GROUP BY to_stage_id"
    )
    with connections[stays.db].cursor() as cursor:
        cursor.execute(sql, params)
        return {stage_id: (n, median, p90) for stage_id, n, median, p90 in cursor.fetchall()}


def time_in_stage(
    accounts: AccountQuerySet,
    *,
    stages: Sequence[Stage],
    entries: Sequence[StageEntries],
    today: dt.date,
) -> list[StageTime]:
    """Median and 90th percentile of completed stays per stage, against its target; one query.

    Every account in scope counts, churned ones too: a stay they finished is history. Open
    stays (accounts still in the stage) are counted apart, with how many already exceed the
    target, because a stay so far is a lower bound, not a duration.
    """
    stats = stay_stats_sql(accounts) if _on_postgresql(accounts) else stay_stats_python(accounts)
    now: dict[int, int] = defaultdict(int)
    over: dict[int, int] = defaultdict(int)
    targets = {stage.pk: stage.target_days for stage in stages}
    for entry in entries:
        now[entry.stage_id] += entry.accounts
        target = targets.get(entry.stage_id)
        if target is not None and (today - entry.entered_on).days > target:
            over[entry.stage_id] += entry.accounts
    return [
        StageTime(
            stage=stage,
            stays=stats.get(stage.pk, (0, None, None))[0],
            median_days=stats.get(stage.pk, (0, None, None))[1],
            p90_days=stats.get(stage.pk, (0, None, None))[2],
            in_stage_now=now[stage.pk],
            over_target_now=over[stage.pk],
        )
        for stage in stages
    ]


# --- Overdue and stuck milestones --------------------------------------------------------


@dataclass(frozen=True)
class OverdueMilestone:
    account_id: int
    account_name: str
    owner_name: str
    stage_name: str
    milestone_name: str
    is_required: bool
    status: MilestoneStatus
    due_on: dt.date
    days_late: int


@dataclass(frozen=True)
class OverdueMilestones:
    rows: Sequence[OverdueMilestone]  # stuck first, then the most days late
    behind: int
    stuck: int
    stuck_accounts: int  # accounts with at least one stuck milestone


# Up to this many accounts, completions are read by a list of their ids (an index-only scan
# of milestone_completed_once); beyond it, by the accounts' query, which is shorter to send
# than tens of thousands of ids and stays under SQLite's limit of bound variables.
COMPLETIONS_BY_ID_MAX = 2000


def milestones_overdue(
    accounts: AccountQuerySet,
    *,
    stages: Sequence[Stage] | None = None,
    current: Sequence[CurrentJourney],
    today: dt.date,
) -> OverdueMilestones:
    """Behind and stuck milestones of the live accounts' current stages; two queries, one when
    nothing is past its target. `current` is current_journeys(accounts); without `stages`,
    stage names are read with the milestones.

    Only the current stage's milestones have a status: the clock of a milestone starts when
    the account enters its stage. Completions are read only for the accounts and milestones
    with something past its target: on track needs no completion to say so.
    """
    by_stage: dict[int, list[Milestone]] = defaultdict(list)
    milestones = Milestone.objects.order_by("order", "pk")
    if stages is None:
        milestones = milestones.select_related("stage")
    names: dict[int, str] = {stage.pk: stage.name for stage in stages or ()}
    for milestone in milestones:
        by_stage[milestone.stage_id].append(milestone)
        if stages is None:
            names[milestone.stage_id] = milestone.stage.name
    # On track (today <= entered + target): no row, and no need to know whether it is done
    # or to work out the timing of each of a large portfolio's milestones.
    late = [
        (journey, milestone)
        for journey in current
        for milestone in by_stage.get(journey.stage_id, [])
        if (today - journey.entered_on).days > milestone.target_days
    ]
    done: set[tuple[int, int]] = set()
    if late:
        account_ids = sorted({journey.account_id for journey, _ in late})
        completions = MilestoneCompletion.objects.filter(
            milestone_id__in=sorted({milestone.pk for _, milestone in late})
        )
        if len(account_ids) <= COMPLETIONS_BY_ID_MAX:
            completions = completions.filter(account_id__in=account_ids)
        else:
            completions = completions.filter(account__in=accounts.live().order_by().values("pk"))
        done = set(completions.order_by().values_list("account_id", "milestone_id"))
    rows: list[OverdueMilestone] = []
    for journey, milestone in late:
        if (journey.account_id, milestone.pk) in done:
            continue
        timing = milestone_timing(
            entered_on=journey.entered_on,
            target_days=milestone.target_days,
            stuck_days=milestone.stuck_days,
            today=today,
            completed=False,
        )
        if timing.status in (MilestoneStatus.BEHIND, MilestoneStatus.STUCK):
            rows.append(
                OverdueMilestone(
                    account_id=journey.account_id,
                    account_name=journey.account_name,
                    owner_name=journey.owner_name,
                    stage_name=names.get(journey.stage_id, ""),
                    milestone_name=milestone.name,
                    is_required=milestone.is_required,
                    status=timing.status,
                    due_on=timing.due_on,
                    days_late=timing.days_late,
                )
            )
    # The account's id breaks a tie of names, as on the journeys page (OverdueRows); an
    # account's rows keep their milestone order, the order they were made in.
    rows.sort(
        key=lambda r: (
            r.status != MilestoneStatus.STUCK,
            -r.days_late,
            r.account_name.lower(),
            r.account_id,
        )
    )
    stuck = [r for r in rows if r.status == MilestoneStatus.STUCK]
    return OverdueMilestones(
        rows=rows,
        behind=len(rows) - len(stuck),
        stuck=len(stuck),
        stuck_accounts=len({r.account_id for r in stuck}),
    )


# --- The journeys page's overdue list: counted in the database, one page read -----------

# Where a late milestone sorts: stuck first, then the most days late; the account's name
# (lower case) breaks ties, as in milestones_overdue.
OverdueKey = tuple[bool, int]
# AccountJourney rows, one per milestone, with milestone_id and entered_day annotated: typed
# loosely, the type checker's model fields do not know annotations.
LateRows = QuerySet[Any]


def _late_rows(
    accounts: AccountQuerySet, *, milestones: Sequence[Milestone], today: dt.date
) -> LateRows | None:
    """One row per live account and milestone of its current stage that is past its target
    and not done; None when there are no milestones.

    On track while today <= entered + target_days, so late means entered before
    today - target_days: one bound per milestone, no date arithmetic in SQL.
    """
    if not milestones:
        return None
    late = Q()
    for milestone in milestones:
        late |= Q(
            milestone_id=milestone.pk,
            entered_day__lt=today - dt.timedelta(days=milestone.target_days),
        )
    done = MilestoneCompletion.objects.filter(
        account_id=OuterRef("account_id"), milestone_id=OuterRef("milestone_id")
    )
    return (
        AccountJourney.objects.filter(account__in=accounts.live().order_by().values("pk"))
        .annotate(milestone_id=F("stage__milestones__id"), entered_day=TruncDate("entered_at"))
        .filter(late)
        .exclude(Exists(done))
        .order_by()
    )


class SlicedOverdueRows(Sequence[OverdueMilestone]):
    """The late milestones as a sequence of known length whose slices are read on demand
    (a paginator asks for its count, then one page): subclasses set `_total` and `_read`."""

    _total: int

    def __len__(self) -> int:
        return self._total

    def __iter__(self) -> Iterator[OverdueMilestone]:
        return iter(self[0 : self._total])

    @overload
    def __getitem__(self, index: int) -> OverdueMilestone: ...
    @overload
    def __getitem__(self, index: slice) -> list[OverdueMilestone]: ...
    def __getitem__(self, index: int | slice) -> OverdueMilestone | list[OverdueMilestone]:
        if isinstance(index, int):
            position = index + self._total if index < 0 else index
            if not 0 <= position < self._total:
                raise IndexError("overdue row index out of range")
            return self[position : position + 1][0]
        start, stop, step = index.indices(self._total)
        if step != 1:
            return list(self)[index]
        return self._read(start, stop)

    def _read(self, start: int, stop: int) -> list[OverdueMilestone]:
        raise NotImplementedError


class OverdueRows(SlicedOverdueRows):
    """The late milestones in list order, read from the database one slice at a time.

    The database counts them per (milestone, entry day); those groups say where every row
    sorts, so a page reads with names only the rows of the sort groups it overlaps, then
    orders them exactly as milestones_overdue does.
    """

    def __init__(
        self,
        late: LateRows | None,
        *,
        groups: dict[OverdueKey, tuple[int, list[tuple[int, dt.date]]]],
        milestones: dict[int, Milestone],
        stage_names: dict[int, str],
        today: dt.date,
    ) -> None:
        self._late = late
        self._groups = sorted(groups.items())
        self._milestones = milestones
        self._stage_names = stage_names
        self._today = today
        self._total = sum(n for n, _ in groups.values())

    def _read(self, start: int, stop: int) -> list[OverdueMilestone]:
        if start >= stop or self._late is None:
            return []
        first = None  # position of the first row read
        wanted = Q()
        position = 0
        for _, (n, pairs) in self._groups:
            if position < stop and position + n > start:
                first = position if first is None else first
                for milestone_id, day in pairs:
                    wanted |= Q(milestone_id=milestone_id, entered_day=day)
            position += n
        if first is None:
            return []
        rows = [
            self._row(*values)
            for values in self._late.filter(wanted).values_list(
                "account_id",
                "account__name",
                "account__owner__first_name",
                "account__owner__last_name",
                "account__owner__username",
                "stage_id",
                "milestone_id",
                "entered_day",
            )
        ]
        rows.sort(key=lambda r: (r[0], r[1].account_name.lower(), r[1].account_id, r[2]))
        return [row for _, row, _ in rows][start - first : stop - first]

    def _row(
        self,
        account_id: int,
        name: str,
        first: str | None,
        last: str | None,
        username: str | None,
        stage_id: int,
        milestone_id: int,
        entered_on: dt.date,
    ) -> tuple[OverdueKey, OverdueMilestone, tuple[int, int]]:
        milestone = self._milestones[milestone_id]
        timing = milestone_timing(
            entered_on=entered_on,
            target_days=milestone.target_days,
            stuck_days=milestone.stuck_days,
            today=self._today,
            completed=False,
        )
        row = OverdueMilestone(
            account_id=account_id,
            account_name=name,
            owner_name=_person(first, last, username),
            stage_name=self._stage_names.get(stage_id, ""),
            milestone_name=milestone.name,
            is_required=milestone.is_required,
            status=timing.status,
            due_on=timing.due_on,
            days_late=timing.days_late,
        )
        key = (timing.status != MilestoneStatus.STUCK, -timing.days_late)
        return key, row, (milestone.order, milestone.pk)


def overdue_overview(
    accounts: AccountQuerySet, *, stages: Sequence[Stage], today: dt.date
) -> OverdueMilestones:
    """milestones_overdue's list and counts for a portfolio of any size, in two queries and a
    third for the page shown: the rows are OverdueRows, read one slice at a time."""
    milestones = {m.pk: m for m in Milestone.objects.order_by("order", "pk")}
    late = _late_rows(accounts, milestones=list(milestones.values()), today=today)
    groups: dict[OverdueKey, tuple[int, list[tuple[int, dt.date]]]] = {}
    stuck_accounts = 0
    if late is not None:
        # Stuck once today > entered + stuck_days, i.e. entered before today - stuck_days.
        stuck = Q()
        for milestone in milestones.values():
            stuck |= Q(
                milestone_id=milestone.pk,
                entered_day__lt=today - dt.timedelta(days=milestone.stuck_days),
            )
        # An account has one journey, so one (stage, entry day): its group's distinct stuck
        # accounts add up across groups, and the rows per milestone come in the same query.
        counted = late.values("stage_id", "entered_day").annotate(
            stuck_accounts=Count("account_id", distinct=True, filter=stuck),
            **{f"m{pk}": Count("pk", filter=Q(milestone_id=pk)) for pk in milestones},
        )
        for group in counted:
            stuck_accounts += group["stuck_accounts"]
            for milestone in milestones.values():
                n = group[f"m{milestone.pk}"]
                if not n:
                    continue
                timing = milestone_timing(
                    entered_on=group["entered_day"],
                    target_days=milestone.target_days,
                    stuck_days=milestone.stuck_days,
                    today=today,
                    completed=False,
                )
                key = (timing.status != MilestoneStatus.STUCK, -timing.days_late)
                total_n, pairs = groups.get(key, (0, []))
                groups[key] = (total_n + n, [*pairs, (milestone.pk, group["entered_day"])])
    stuck_n = sum(n for (not_stuck, _), (n, _) in groups.items() if not not_stuck)
    total = sum(n for n, _ in groups.values())
    return OverdueMilestones(
        rows=OverdueRows(
            late,
            groups=groups,
            milestones=milestones,
            stage_names={stage.pk: stage.name for stage in stages},
            today=today,
        ),
        behind=total - stuck_n,
        stuck=stuck_n,
        stuck_accounts=stuck_accounts,
    )


# --- Time to value -----------------------------------------------------------------------


@dataclass(frozen=True)
class TtvMonth:
    month: dt.date  # the month's first day
    accounts: int  # accounts that completed onboarding that month
    median_days: float | None


@dataclass(frozen=True)
class TimeToValue:
    months: list[TtvMonth]  # the last TTV_MONTHS calendar months, oldest first
    accounts: int
    median_days: float | None  # over every completion in those months


def month_starts(today: dt.date, months: int) -> list[dt.date]:
    """First days of the `months` calendar months ending with today's, oldest first."""
    year, month = today.year, today.month
    starts = []
    for _ in range(months):
        starts.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


# Days to value of each account counted, by the month of its first exit from onboarding.
TtvDays = dict[dt.date, list[int]]


def _first_onboarding_exits(accounts: AccountQuerySet) -> QuerySet[StageTransition]:
    return StageTransition.objects.filter(
        account__in=accounts.order_by().values("pk"),
        from_stage__slug=Stage.ONBOARDING_SLUG,
    ).order_by("account_id", "at", "pk")


def ttv_stats_python(
    accounts: AccountQuerySet, *, starts: Sequence[dt.date], today: dt.date
) -> tuple[dict[dt.date, tuple[int, float | None]], tuple[int, float | None]]:
    """(accounts, median days) per month and over all months, read and counted in Python:
    the way for databases without percentile_cont (SQLite)."""
    rows = _first_onboarding_exits(accounts).values_list(
        "account_id", TruncDate("at"), "account__start_date"
    )
    seen: set[int] = set()
    by_month: TtvDays = defaultdict(list)
    for account_id, day, start_date in rows:
        if account_id in seen:
            continue
        seen.add(account_id)
        month = day.replace(day=1)
        if starts[0] <= month <= starts[-1] and day <= today:
            by_month[month].append(max(0, (day - start_date).days))
    every = [days for values in by_month.values() for days in values]
    return (
        {month: (len(days), percentile(days, 0.5)) for month, days in by_month.items()},
        (len(every), percentile(every, 0.5)),
    )


def ttv_stats_sql(
    accounts: AccountQuerySet, *, starts: Sequence[dt.date], today: dt.date
) -> tuple[dict[dt.date, tuple[int, float | None]], tuple[int, float | None]]:
    """The same numbers as ttv_stats_python from one PostgreSQL query: DISTINCT ON keeps each
    account's first exit, GROUPING SETS gives the months and the whole period together."""
    exits = (
        _first_onboarding_exits(accounts)
        .distinct("account_id")
        .values("account_id", exit_day=TruncDate("at"), start_date=F("account__start_date"))
    )
    try:
        inner, params = exits.query.sql_with_params()
    except EmptyResultSet:
        return {}, (0, None)
    sql = (
        "SELECT month, COUNT(*),"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY days)"
        " FROM (SELECT date_trunc('month', exit_day)::date AS month, exit_day,"
        " GREATEST(0, exit_day - start_date)::float8 AS days"
        f" FROM ({inner}) AS exits) AS ttv"
        " WHERE month >= %s AND month <= %s AND exit_day <= %s"
        " GROUP BY GROUPING SETS ((month), ())"
    )
    by_month: dict[dt.date, tuple[int, float | None]] = {}
    overall: tuple[int, float | None] = (0, None)
    with connections[exits.db].cursor() as cursor:
        cursor.execute(sql, (*params, starts[0], starts[-1], today))
        for month, n, median in cursor.fetchall():
            if month is None:
                overall = (n, median)
            else:
                by_month[month] = (n, median)
    return by_month, overall


def time_to_value(
    accounts: AccountQuerySet, *, today: dt.date, months: int = TTV_MONTHS
) -> TimeToValue:
    """Days from Account.start_date to leaving the onboarding stage, median per month; one query.

    An account's first exit from onboarding is its completion (a later return and exit does
    not make value arrive twice); it counts in the calendar month of that exit. Churned
    accounts count: they did reach value then. A start date after the exit (bad import data)
    counts as 0 days rather than a negative one.
    """
    starts = month_starts(today, months)
    stats = ttv_stats_sql if _on_postgresql(accounts) else ttv_stats_python
    by_month, (total, median) = stats(accounts, starts=starts, today=today)
    return TimeToValue(
        months=[
            TtvMonth(
                month=month,
                accounts=by_month.get(month, (0, None))[0],
                median_days=by_month.get(month, (0, None))[1],
            )
            for month in starts
        ],
        accounts=total,
        median_days=median,
    )
