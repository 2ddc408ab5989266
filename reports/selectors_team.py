"""Team performance: one row per CSM, each metric for a period and the period it is compared
with, and the target that applies to it; and a chart per metric across every CSM.

The page reads the nightly rollup (CsmPeriodRollup, written by reports.team_rollups through
csm_figures below): one row per CSM and period, for every period the page offers. Ranking
every CSM of the scope for the sort and the charts reads one row each and is cached under
the rollup's run (the same for everyone who may see that scope until the next run); the
page's own rows read their CSMs' rows. No query touches accounts, answers, interactions or
tasks, and the count of queries is fixed whatever the number of CSMs.

When the rollup does not hold the period, or not the viewer's view of it, the page counts
live, with a fixed number of queries: the CSMs; one grouped query each for their books
(accounts, ARR), survey answers (NPS, CSAT), interactions logged, tasks closed, overdue
tasks and onboarding exits (time to value); the retention and health snapshots of the
months involved; the targets. Both periods are counted in the same grouped query with
conditional counts. CSMs the rollup lacks (new since the night) are counted the same way.

Which numbers come from where:
- accounts and book ARR are today's (Account.arr, live accounts), like overdue tasks (the
  rollup's day when read from it: the page says when it was computed);
- NRR, GRR and renewal rate come from the monthly RetentionSnapshot rows of scope "csm"
  (reports.targets explains how a quarter is put together from its months); average
  health from MetricSnapshot "avg_health", its last month in the period with data;
- NPS and CSAT are counted from the answers of the accounts each CSM owns, so a quarter's
  score is exactly its answers' score;
- interactions logged (by author) and tasks closed (by who closed them) per week of the
  period, up to today for the running period;
- time to value: median days from an account's start to its first exit from onboarding,
  over the exits of the 12 months up to the period's end (one month holds too few exits
  per CSM to read).

Scopes use the accounts' current owners (PRODUCT.md section 3). For a CSM viewer every live
count is limited to the accounts they may see, and only their own team's CSMs are rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, NamedTuple, Protocol, TypeVar, cast

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.http import Http404

from accounts.models import Account, AccountQuerySet, Interaction, Segment, Task, Team, User
from accounts.selectors.access import accounts_visible_to
from feedback.metrics import (
    CSAT_SATISFIED,
    DETRACTOR,
    PASSIVE,
    PROMOTER,
    ScoreCounts,
    local_midnight,
)
from feedback.models import Survey, SurveyAnswer
from health.models import RetentionSnapshot
from journeys.models import Stage, StageTransition
from journeys.selectors import local_day, percentile
from reports.feedback_rollups import FEEDBACK_MONTHS, score_counts_of
from reports.models import (
    CsmPeriodRollup,
    FeedbackScoreMonth,
    Initiative,
    Metric,
    MetricSnapshot,
    Scope,
    Target,
)
from reports.snapshots import quarter_metric
from reports.targets import (
    QUARTER_PARTS,
    RETENTION_METRICS,
    SNAPSHOT_NAMES,
    Actual,
    ReportPeriod,
    Status,
    TargetCheck,
    direction_symbol,
    format_value,
    month_add,
    quantise,
    retention_actual,
    snapshot_actual,
    target_check,
    target_status,
)

# CSM rows per page: each row costs a share of every grouped read.
TEAM_PAGE_SIZE = 25
# Onboarding exits counted for a CSM's time to value: the 12 months up to the period's end.
TTV_WINDOW_MONTHS = 12
# How far back the page's period picker reaches, this month and quarter included.
PICKER_MONTHS = 24
PICKER_QUARTERS = 8


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    # The Metric a target can be set on; None for columns without targets.
    metric: str | None = None
    unit: str = ""  # "%", "$", "days" or "" for plain numbers
    higher_is_better: bool = True
    # False for figures of today (accounts, ARR, overdue tasks): no comparison.
    compared: bool = True
    help: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("accounts", "Accounts", compared=False, help="Live accounts owned today."),
    Column("arr", "Book ARR", unit="$", compared=False, help="ARR of the book today."),
    Column(
        "health",
        "Avg health",
        metric=Metric.AVG_HEALTH,
        help="Average health score, last month of the period with scores.",
    ),
    Column("nrr", "NRR", metric=Metric.NRR, unit="%", help="Net revenue retention of the book."),
    Column("grr", "GRR", metric=Metric.GRR, unit="%", help="Gross revenue retention of the book."),
    Column(
        "renewal",
        "Renewal rate",
        metric=Metric.RENEWAL_RATE,
        unit="%",
        help="Renewed ÷ contracts due in the period, by count.",
    ),
    Column("nps", "NPS", metric=Metric.NPS, help="NPS of answers from the CSM's accounts."),
    Column("csat", "CSAT", metric=Metric.CSAT, unit="%", help="Share of 4 and 5 answers."),
    Column(
        "interactions",
        "Interactions / wk",
        metric=Metric.INTERACTIONS_PER_WEEK,
        help="Interactions the CSM logged, per week of the period.",
    ),
    Column(
        "tasks",
        "Tasks closed / wk",
        metric=Metric.TASKS_CLOSED_PER_WEEK,
        help="Tasks the CSM closed, per week of the period.",
    ),
    Column(
        "overdue",
        "Overdue tasks",
        higher_is_better=False,
        compared=False,
        help="Open tasks past their due date, today.",
    ),
    Column(
        "ttv",
        "Time to value",
        unit="days",
        higher_is_better=False,
        help="Median days from start to leaving onboarding, exits over the 12 months to the "
        "period's end.",
    ),
)
COLUMN_BY_KEY = {column.key: column for column in COLUMNS}
SORT_KEYS = frozenset({"name", "team", *COLUMN_BY_KEY})
DEFAULT_SORT = "name"
TARGET_METRICS = frozenset(column.metric for column in COLUMNS if column.metric)

Number = Decimal | int | float


def format_number(value: Number | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "$":
        return f"${value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    text = f"{Decimal(str(value)):,.1f}"
    if unit == "%":
        return f"{text} %"
    return text


def format_delta(delta: Number | None, unit: str) -> str:
    if delta is None:
        return ""
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    magnitude = abs(delta)
    if unit == "$":
        return f"{sign}${magnitude:,.0f}"
    if isinstance(magnitude, int):
        return f"{sign}{magnitude:,}"
    text = f"{sign}{Decimal(str(magnitude)):,.1f}"
    return f"{text} pts" if unit == "%" else text


@dataclass(frozen=True)
class Cell:
    column: Column
    value: Number | None
    previous: Number | None = None
    check: TargetCheck | None = None
    basis: str = ""

    @property
    def text(self) -> str:
        return format_number(self.value, self.column.unit)

    @property
    def previous_text(self) -> str:
        return format_number(self.previous, self.column.unit)

    @property
    def delta(self) -> Number | None:
        if self.value is None or self.previous is None:
            return None
        # Both sides are of one column, so of one type (Decimal, or int for counts).
        return self.value - self.previous  # type: ignore[operator]

    @property
    def delta_text(self) -> str:
        return format_delta(self.delta, self.column.unit)

    @property
    def trend(self) -> str:
        """ "better", "worse" or "" (no change, or nothing to compare)."""
        delta = self.delta
        if not delta:
            return ""
        up = delta > 0
        return "better" if up == self.column.higher_is_better else "worse"


@dataclass(frozen=True)
class CsmRow:
    user: User
    cells: dict[str, Cell]

    @property
    def name(self) -> str:
        return str(self.user)

    @property
    def team_name(self) -> str:
        return self.user.team.name if self.user.team else ""

    @property
    def ordered_cells(self) -> list[Cell]:
        return [self.cells[column.key] for column in COLUMNS]

    def sort_value(self, key: str) -> Any:
        if key == "name":
            return self.name.lower()
        if key == "team":
            return self.team_name.lower()
        return self.cells[key].value


class _Sortable(Protocol):
    @property
    def name(self) -> str: ...

    def sort_value(self, key: str) -> Any: ...


SortableT = TypeVar("SortableT", bound=_Sortable)


def rows_sorted(rows: Iterable[SortableT], sort: str) -> list[SortableT]:
    """Sorted by a whitelisted key ("-nrr" descending); rows without a value go last either
    way, then by name."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        key, descending = DEFAULT_SORT, False
    rows = sorted(rows, key=lambda row: row.name.lower())
    present = [row for row in rows if row.sort_value(key) is not None]
    missing = [row for row in rows if row.sort_value(key) is None]
    present.sort(key=lambda row: row.sort_value(key), reverse=descending)
    return present + missing


@dataclass(frozen=True)
class TeamPerformance:
    period: ReportPeriod
    compare: ReportPeriod | None
    rows: list[CsmRow]
    targets: list[Target] = field(default_factory=list)
    # The page of CSMs the rows are (every CSM sorted, then cut into pages).
    page_obj: Page | None = None
    charts: list[MetricChart] = field(default_factory=list)
    # When the nightly rollup the figures come from was computed; None when all were
    # counted for this request.
    computed_at: dt.datetime | None = None
    # Some figures were counted for this request (CSMs or periods the rollup lacks).
    counted_live: bool = False
    # The charts cover the page's CSMs only (counted live), not every CSM of the scope.
    charts_cover_page: bool = False

    @property
    def has_targets(self) -> bool:
        return bool(self.targets)


# --- The CSMs -------------------------------------------------------------------------------


def team_csms(*, viewer: User, team: Team | None) -> QuerySet[User]:
    """Active CSMs the viewer may review: everyone's for admins, managers and executives
    (narrowed to `team`), the viewer's own team's for a CSM (just themselves without one)."""
    csms = active_csms().select_related("team")
    if viewer.is_csm:
        if viewer.team_id is None:
            return csms.filter(pk=viewer.pk)
        csms = csms.filter(team_id=viewer.team_id)
    if team is not None:
        csms = csms.filter(team=team)
    return csms.order_by("first_name", "last_name", "username")


def active_csms() -> QuerySet[User]:
    return User.objects.filter(role=User.Role.CSM, is_active=True)


def rollup_periods(today: dt.date) -> list[ReportPeriod]:
    """Every period the page can show or compare with: the picker's months and quarters,
    and the period before each and the same one a year before."""
    this_month = ReportPeriod.containing(Target.Period.MONTH, today)
    this_quarter = ReportPeriod.containing(Target.Period.QUARTER, today)
    months = [ReportPeriod(month_add(this_month.start, -n)) for n in range(PICKER_MONTHS + 12)]
    quarters = [
        ReportPeriod(month_add(this_quarter.start, -3 * n), Target.Period.QUARTER)
        for n in range(PICKER_QUARTERS + 4)
    ]
    return months + quarters


def teams_for(viewer: User) -> QuerySet[Team]:
    """Teams the viewer may pick in the team filter."""
    if viewer.is_csm:
        return Team.objects.filter(pk=viewer.team_id) if viewer.team_id else Team.objects.none()
    return Team.objects.all()


# --- The grouped queries -----------------------------------------------------------------


def _bounds(periods: Sequence[ReportPeriod]) -> tuple[dt.date, dt.date]:
    return min(p.start for p in periods), max(p.end for p in periods)


def _in_days(name: str, period: ReportPeriod) -> Q:
    return Q(**{f"{name}__gte": period.start, f"{name}__lt": period.end})


def _in_moments(name: str, start: dt.date, end: dt.date) -> Q:
    return Q(**{f"{name}__gte": local_midnight(start), f"{name}__lt": local_midnight(end)})


def books_by_owner(accounts: AccountQuerySet, ids: Sequence[int]) -> dict[int, tuple[int, Decimal]]:
    rows = (
        accounts.live()
        .filter(owner_id__in=ids)
        .order_by()
        .values("owner_id")
        .annotate(n=Count("pk"), arr=Sum("arr"))
    )
    return {row["owner_id"]: (row["n"], row["arr"] or Decimal("0")) for row in rows}


def score_aggregates(within: Q, prefix: str = "") -> dict[str, Count]:
    """The answer counts behind NPS and CSAT among the answers `within`, named with
    `prefix`; score_counts_of_row reads them back."""
    nps_q = within & Q(kind=Survey.Kind.NPS)
    csat_q = within & Q(kind=Survey.Kind.CSAT)
    return {
        f"{prefix}promoters": Count("pk", filter=nps_q & Q(score__gte=PROMOTER[0])),
        f"{prefix}passives": Count(
            "pk", filter=nps_q & Q(score__gte=PASSIVE[0], score__lte=PASSIVE[1])
        ),
        f"{prefix}detractors": Count("pk", filter=nps_q & Q(score__lte=DETRACTOR[1])),
        f"{prefix}satisfied": Count("pk", filter=csat_q & Q(score__gte=CSAT_SATISFIED[0])),
        f"{prefix}csat": Count("pk", filter=csat_q),
    }


def score_counts_of_row(row: Mapping[str, Any], prefix: str = "") -> ScoreCounts:
    return ScoreCounts(
        promoters=row[f"{prefix}promoters"],
        passives=row[f"{prefix}passives"],
        detractors=row[f"{prefix}detractors"],
        csat_satisfied=row[f"{prefix}satisfied"],
        csat_answers=row[f"{prefix}csat"],
    )


def scores_by_owner(
    answers: QuerySet[SurveyAnswer], ids: Sequence[int], periods: Mapping[str, ReportPeriod]
) -> dict[tuple[int, str], ScoreCounts]:
    """NPS and CSAT counts per account owner and period, in one grouped query."""
    start, end = _bounds(list(periods.values()))
    aggregates: dict[str, Any] = {}
    for key, period in periods.items():
        within = _in_moments("answered_at", period.start, period.end)
        aggregates.update(score_aggregates(within, f"{key}_"))
    rows: Iterable[Mapping[str, Any]] = (
        answers.filter(_in_moments("answered_at", start, end), account__owner_id__in=ids)
        .order_by()
        .values("account__owner_id")
        .annotate(**aggregates)
    )
    return {
        (row["account__owner_id"], key): score_counts_of_row(row, f"{key}_")
        for row in rows
        for key in periods
    }


def scores_by_owner_stored(
    ids: Sequence[int], periods: Mapping[str, ReportPeriod]
) -> dict[tuple[int, str], ScoreCounts]:
    """scores_by_owner from the nightly FeedbackScoreMonth rows of the CSM scopes (answers
    of the accounts each person owns today, per month of answer); one query. Only for a
    viewer who sees every account: a CSM's view drops accounts outside their team."""
    start, end = _bounds(list(periods.values()))
    rows = (
        FeedbackScoreMonth.objects.filter(
            scope=Scope.CSM,
            scope_key__in=[str(pk) for pk in ids],
            month__gte=start,
            month__lt=end,
            kind__in=[Survey.Kind.NPS, Survey.Kind.CSAT],
        )
        .order_by()
        .values_list("scope_key", "month", "kind", "score", "answers")
    )
    cells: dict[tuple[int, str], list[tuple[str, int, int]]] = defaultdict(list)
    for scope_key, month, kind, score, n in rows:
        for key, period in periods.items():
            if period.start <= month < period.end:
                cells[(int(scope_key), key)].append((kind, score, n))
    return {group: score_counts_of(found) for group, found in cells.items()}


def _counts_by(
    queryset: QuerySet[Any],
    group: str,
    periods: Mapping[str, ReportPeriod],
    within: Callable[[ReportPeriod], Q],
) -> dict[tuple[int, str], int]:
    aggregates = {key: Count("pk", filter=within(period)) for key, period in periods.items()}
    rows = queryset.order_by().values(group).annotate(**aggregates)
    return {(row[group], key): row[key] for row in rows for key in periods}


def interactions_by_author(
    interactions: QuerySet[Interaction], ids: Sequence[int], periods: Mapping[str, ReportPeriod]
) -> dict[tuple[int, str], int]:
    start, end = _bounds(list(periods.values()))
    return _counts_by(
        interactions.filter(author_id__in=ids, occurred_on__gte=start, occurred_on__lt=end),
        "author_id",
        periods,
        lambda period: _in_days("occurred_on", period),
    )


def tasks_closed_by(
    tasks: QuerySet[Task], ids: Sequence[int], periods: Mapping[str, ReportPeriod]
) -> dict[tuple[int, str], int]:
    start, end = _bounds(list(periods.values()))
    return _counts_by(
        tasks.filter(
            _in_moments("completed_at", start, end),
            status=Task.Status.DONE,
            completed_by_id__in=ids,
        ),
        "completed_by_id",
        periods,
        lambda period: _in_moments("completed_at", period.start, period.end),
    )


def overdue_by_owner(
    tasks: QuerySet[Task], ids: Sequence[int], *, today: dt.date
) -> dict[int, int]:
    rows = (
        tasks.filter(status=Task.Status.OPEN, owner_id__in=ids, due_date__lt=today)
        .order_by()
        .values("owner_id")
        .annotate(n=Count("pk"))
    )
    return {row["owner_id"]: row["n"] for row in rows}


def ttv_window(period: ReportPeriod) -> tuple[dt.date, dt.date]:
    return month_add(period.end, -TTV_WINDOW_MONTHS), period.end


def first_onboarding_exit() -> Subquery:
    """An account's first exit from onboarding, read from its own transitions by the
    (account, at) index."""
    return Subquery(
        StageTransition.objects.filter(
            account=OuterRef("pk"), from_stage__slug=Stage.ONBOARDING_SLUG
        )
        .order_by("at")
        .values("at")[:1]
    )


def ttv_by_owner(
    accounts: QuerySet[Account],
    ids: Sequence[int],
    periods: Mapping[str, ReportPeriod],
    *,
    today: dt.date,
) -> dict[tuple[int, str], float]:
    """Median days from start to the first exit from onboarding, per owner and period, over
    the exits in each period's 12-month window; one query: the owners' accounts, each with
    its first exit, rather than every account's onboarding exits joined and grouped."""
    rows = (
        accounts.filter(owner_id__in=ids)
        .order_by()
        .annotate(first_exit=first_onboarding_exit())
        .values_list("owner_id", "start_date", "first_exit")
    )
    return ttv_medians(rows, periods, today=today)


def books_and_ttv_by_owner(
    accounts: AccountQuerySet,
    ids: Sequence[int],
    periods: Mapping[str, ReportPeriod],
    *,
    today: dt.date,
) -> tuple[dict[int, tuple[int, Decimal]], dict[tuple[int, str], float]]:
    """books_by_owner and ttv_by_owner from one read of the owners' accounts."""
    rows = list(
        accounts.filter(owner_id__in=ids)
        .order_by()
        .annotate(first_exit=first_onboarding_exit())
        .values_list("owner_id", "start_date", "first_exit", "lifecycle_status", "arr")
    )
    return books_of(rows), ttv_medians([row[:3] for row in rows], periods, today=today)


# owner, start date, first exit from onboarding, lifecycle status, ARR
BookRow = tuple[int, dt.date, dt.datetime | None, str, Decimal | None]


def books_of(rows: Iterable[BookRow]) -> dict[int, tuple[int, Decimal]]:
    """Live accounts and their ARR per owner (churned ones left out, as AccountQuerySet.live)."""
    books: dict[int, tuple[int, Decimal]] = {}
    for owner_id, _start, _exit, status, arr in rows:
        if status == Account.Lifecycle.CHURNED:
            continue
        count, total = books.get(owner_id, (0, Decimal("0")))
        books[owner_id] = (count + 1, total + (arr or Decimal("0")))
    return books


def ttv_medians(
    rows: Iterable[tuple[int, dt.date, dt.datetime | None]],
    periods: Mapping[str, ReportPeriod],
    *,
    today: dt.date,
) -> dict[tuple[int, str], float]:
    """Per owner and period, the median days from start to first exit over the exits in
    the period's window (none after today): each owner's exits sorted once, each window a
    slice of them, so the nightly rollup's many periods cost little."""
    windows = {key: ttv_window(period) for key, period in periods.items()}
    since = local_midnight(min(window[0] for window in windows.values()))
    until = local_midnight(max(window[1] for window in windows.values()))
    exits: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for owner_id, start_date, exited_at in rows:
        if exited_at is None or not since <= exited_at < until:
            continue
        exit_day = local_day(exited_at)
        if exit_day > today:
            continue
        exits[owner_id].append((exit_day, max(0, (exit_day - start_date).days)))
    medians: dict[tuple[int, str], float] = {}
    for owner_id, found in exits.items():
        found.sort()
        days = [day for day, _elapsed in found]
        for key, (low, high) in windows.items():
            chosen = found[bisect_left(days, low) : bisect_left(days, high)]
            median = percentile([elapsed for _day, elapsed in chosen], 0.5)
            if median is not None:
                medians[(owner_id, key)] = median
    return medians


def retention_rows_by_csm(
    keys: Sequence[str], months: Iterable[dt.date]
) -> dict[str, list[RetentionSnapshot]]:
    rows: dict[str, list[RetentionSnapshot]] = defaultdict(list)
    for snapshot in RetentionSnapshot.objects.filter(
        scope=RetentionSnapshot.Scope.CSM, scope_key__in=keys, month__in=sorted(set(months))
    ).order_by("month"):
        rows[snapshot.scope_key].append(snapshot)
    return rows


def metric_rows_by_csm(
    keys: Sequence[str], months: Iterable[dt.date], metrics: Iterable[str]
) -> dict[tuple[str, str], list[MetricSnapshot]]:
    """MetricSnapshot rows per (CSM key, metric name), oldest first; one query."""
    rows: dict[tuple[str, str], list[MetricSnapshot]] = defaultdict(list)
    for snapshot in MetricSnapshot.objects.filter(
        scope=Scope.CSM,
        scope_key__in=keys,
        metric__in=sorted(set(metrics)),
        month__in=sorted(set(months)),
    ).order_by("month"):
        rows[(snapshot.scope_key, snapshot.metric)].append(snapshot)
    return rows


def quarter_parts_of(
    rows: Mapping[tuple[str, str], Sequence[MetricSnapshot]], key: str, period: ReportPeriod
) -> dict[str, MetricSnapshot]:
    """The quarter rows of one scope key for `period` (a quarter), by part name."""
    if period.kind != Target.Period.QUARTER:
        return {}
    parts = {}
    for part in QUARTER_PARTS:
        for row in rows.get((key, quarter_metric(part)), ()):
            if row.month == period.start:
                parts[part] = row
    return parts


def targets_for_team_page(*, period: ReportPeriod) -> list[Target]:
    """Targets on the page's metrics for the period or the quarter / year around it."""
    periods = Q()
    for enclosing in period.enclosing():
        periods |= Q(period=enclosing.kind, period_start=enclosing.start)
    return list(
        Target.objects.filter(
            periods,
            metric__in=TARGET_METRICS,
            scope__in=[Scope.CSM, Scope.TEAM, Scope.COMPANY],
        )
    )


# --- Each CSM's figures ------------------------------------------------------------------


# The grouped reads each column rests on: a sort by one column reads only its own sources
# for every CSM; the page's rows then read all of them for its CSMs alone.
SOURCES_OF: dict[str, frozenset[str]] = {
    "accounts": frozenset({"books"}),
    "arr": frozenset({"books"}),
    "health": frozenset({"snapshots"}),
    "nrr": frozenset({"retention", "snapshots"}),
    "grr": frozenset({"retention", "snapshots"}),
    "renewal": frozenset({"retention", "snapshots"}),
    "nps": frozenset({"scores"}),
    "csat": frozenset({"scores"}),
    "interactions": frozenset({"logged"}),
    "tasks": frozenset({"closed"}),
    "overdue": frozenset({"overdue"}),
    "ttv": frozenset({"ttv"}),
}
ALL_SOURCES: frozenset[str] = frozenset().union(*SOURCES_OF.values())


@dataclass
class CsmSources:
    """What CSMs' figures are worked out from: counts per CSM (and period key), snapshot
    rows per CSM scope key."""

    books: dict[int, tuple[int, Decimal]] = field(default_factory=dict)
    retention: dict[str, list[RetentionSnapshot]] = field(default_factory=dict)
    snapshots: dict[tuple[str, str], list[MetricSnapshot]] = field(default_factory=dict)
    scores: dict[tuple[int, str], ScoreCounts] = field(default_factory=dict)
    logged: dict[tuple[int, str], int] = field(default_factory=dict)
    closed: dict[tuple[int, str], int] = field(default_factory=dict)
    overdue: dict[int, int] = field(default_factory=dict)
    ttv: dict[tuple[int, str], float] = field(default_factory=dict)


def _sources(
    needed: frozenset[str],
    *,
    viewer: User,
    ids: Sequence[int],
    periods: Mapping[str, ReportPeriod],
    today: dt.date,
) -> CsmSources:
    """The grouped reads in `needed`, for the CSMs `ids`; one query each (two for scores
    before the nightly rollup has run)."""
    keys = [str(pk) for pk in ids]
    visible = accounts_visible_to(viewer)
    answers = SurveyAnswer.objects.all()
    interactions = Interaction.objects.all()
    tasks = Task.objects.all()
    if viewer.is_csm:
        # A teammate's account kept on another team stays out of a CSM's numbers.
        in_view = visible.order_by().values("pk")
        answers = answers.filter(account__in=in_view)
        interactions = interactions.filter(account__in=in_view)
        tasks = tasks.filter(account__in=in_view)

    found = CsmSources()
    months = [month for p in periods.values() for month in p.months]
    if "books" in needed and "ttv" in needed:
        found.books, found.ttv = books_and_ttv_by_owner(visible, ids, periods, today=today)
    elif "books" in needed:
        found.books = books_by_owner(visible, ids)
    elif "ttv" in needed:
        found.ttv = ttv_by_owner(visible, ids, periods, today=today)
    if "retention" in needed:
        found.retention = retention_rows_by_csm(keys, months)
    if "snapshots" in needed:
        found.snapshots = metric_rows_by_csm(keys, months, snapshot_names_for(periods.values()))
    if "scores" in needed:
        stored_from = month_add(today.replace(day=1), 1 - FEEDBACK_MONTHS)
        if not viewer.is_csm and all(p.start >= stored_from for p in periods.values()):
            # The nightly rollup holds these months: sum its answer counts. No row at all
            # means it has not run (or nobody answered): count live, which is then cheap.
            found.scores = scores_by_owner_stored(ids, periods)
        if not found.scores:
            found.scores = scores_by_owner(answers, ids, periods)
    if "logged" in needed:
        found.logged = interactions_by_author(interactions, ids, periods)
    if "closed" in needed:
        found.closed = tasks_closed_by(tasks, ids, periods)
    if "overdue" in needed:
        found.overdue = overdue_by_owner(tasks, ids, today=today)
    return found


def snapshot_names_for(periods: Iterable[ReportPeriod]) -> list[str]:
    """The MetricSnapshot rows a CSM's health and retention rest on: average health, and a
    quarter's own bridge."""
    names = ["avg_health"]
    if any(p.kind == Target.Period.QUARTER for p in periods):
        names += [quarter_metric(part) for part in QUARTER_PARTS]
    return names


# One CSM's figures for one period: column key -> (value, what it rests on in words).
Figures = dict[str, tuple[Any, str]]


def answers_basis(count: int) -> str:
    return f"{count} answers"


def snapshot_figures(
    found: CsmSources, pk: int, key: str, p: ReportPeriod, *, today: dt.date
) -> Figures:
    """Average health, NRR, GRR and renewal rate from the CSM scope's nightly snapshots."""
    user_key = str(pk)
    quarter_parts = quarter_parts_of(found.snapshots, user_key, p)

    def retention_value(metric: str) -> tuple[Number | None, str]:
        actual: Actual = retention_actual(
            metric,
            found.retention.get(user_key, []),
            period=p,
            today=today,
            quarter_parts=quarter_parts,
        )
        return actual.value, actual.basis

    health_found = snapshot_actual(
        Metric.AVG_HEALTH, found.snapshots.get((user_key, "avg_health"), []), period=p, today=today
    )
    return {
        "health": (health_found.value, health_found.basis),
        "nrr": retention_value(Metric.NRR),
        "grr": retention_value(Metric.GRR),
        "renewal": retention_value(Metric.RENEWAL_RATE),
    }


def activity_figures(
    found: CsmSources, pk: int, key: str, p: ReportPeriod, *, today: dt.date
) -> Figures:
    """What is counted over the CSM's accounts and work: the book and overdue tasks today,
    the period's answers and activity, time to value."""
    accounts, arr = found.books.get(pk, (0, Decimal("0")))
    counts = found.scores.get((pk, key), ScoreCounts())
    weeks = p.weeks_until(today)
    return {
        "accounts": (accounts, ""),
        "arr": (arr, ""),
        "nps": (counts.nps, answers_basis(counts.nps_answers)),
        "csat": (counts.csat, answers_basis(counts.csat_answers)),
        "interactions": (per_week(found.logged.get((pk, key), 0), weeks), ""),
        "tasks": (per_week(found.closed.get((pk, key), 0), weeks), ""),
        "overdue": (found.overdue.get(pk, 0), ""),
        "ttv": (days_of(found.ttv.get((pk, key))), ""),
    }


def csm_figures(
    found: CsmSources, pk: int, key: str, p: ReportPeriod, *, today: dt.date
) -> Figures:
    """Every column of one CSM for one period: what the page shows and the nightly rollup
    stores, from the same sources either way."""
    return {
        **snapshot_figures(found, pk, key, p, today=today),
        **activity_figures(found, pk, key, p, today=today),
    }


def figures_counted(
    refs: Sequence[CsmRef],
    *,
    viewer: User,
    periods: Mapping[str, ReportPeriod],
    today: dt.date,
    needed: frozenset[str] = ALL_SOURCES,
) -> dict[str, dict[int, Figures]]:
    """Figures per period key and CSM, counted now from the sources in `needed` (a fixed
    number of queries for any number of CSMs; none for no CSM)."""
    if not refs:
        return {key: {} for key in periods}
    found = _sources(
        needed, viewer=viewer, ids=[ref.pk for ref in refs], periods=periods, today=today
    )
    return {
        key: {ref.pk: csm_figures(found, ref.pk, key, period, today=today) for ref in refs}
        for key, period in periods.items()
    }


def _scope_keys(pk: int, team_id: int | None) -> dict[str, str]:
    return {"csm": str(pk), "team": str(team_id) if team_id else "-", "company": ""}


def _target_check(
    targets: Sequence[Target],
    column: Column,
    pk: int,
    team_id: int | None,
    *,
    period: ReportPeriod,
    value: Number | None,
) -> TargetCheck | None:
    if not column.metric or not targets:
        return None
    return target_check(
        list(targets),
        metric=column.metric,
        period=period,
        scope_keys=_scope_keys(pk, team_id),
        actual=value if value is None else Decimal(str(value)),
    )


def csm_row(
    user: User,
    current: Figures,
    previous: Figures | None,
    *,
    period: ReportPeriod,
    targets: Sequence[Target],
) -> CsmRow:
    """One CSM's cells: the period's figures, the compared period's beside those that are
    compared, and the target that applies."""
    cells: dict[str, Cell] = {}
    for column in COLUMNS:
        value, basis = current[column.key]
        prior = previous[column.key][0] if previous is not None and column.compared else None
        cells[column.key] = Cell(
            column,
            value,
            previous=prior,
            check=_target_check(targets, column, user.pk, user.team_id, period=period, value=value),
            basis=basis,
        )
    return CsmRow(user=user, cells=cells)


# --- The nightly rollup, read --------------------------------------------------------------

# The rollup's fields: one per column, named as the column, then what the cells rest on.
ROLLUP_VALUES: tuple[str, ...] = tuple(column.key for column in COLUMNS)
ROLLUP_BASES = (
    "health_basis",
    "nrr_basis",
    "grr_basis",
    "renewal_basis",
    "nps_answers",
    "csat_answers",
)
ROLLUP_FIELDS = (*ROLLUP_VALUES, *ROLLUP_BASES)


def rollup_fields(figures: Figures, counts: ScoreCounts) -> dict[str, Any]:
    """A CsmPeriodRollup's fields from one CSM's figures (and the answer counts behind its
    NPS and CSAT); figures_of_rollup reads them back."""
    fields: dict[str, Any] = {key: value for key, (value, _basis) in figures.items()}
    for key in ("health", "nrr", "grr", "renewal"):
        fields[f"{key}_basis"] = figures[key][1]
    fields["nps_answers"] = counts.nps_answers
    fields["csat_answers"] = counts.csat_answers
    return fields


def figures_of_rollup(values: Sequence[Any], bases: Sequence[Any]) -> Figures:
    """Figures from a rollup row's ROLLUP_VALUES and ROLLUP_BASES, in that order."""
    figures: Figures = {key: (value, "") for key, value in zip(ROLLUP_VALUES, values, strict=True)}
    health, nrr, grr, renewal, nps_answers, csat_answers = bases
    figures["health"] = (figures["health"][0], health)
    figures["nrr"] = (figures["nrr"][0], nrr)
    figures["grr"] = (figures["grr"][0], grr)
    figures["renewal"] = (figures["renewal"][0], renewal)
    figures["nps"] = (figures["nps"][0], answers_basis(nps_answers))
    figures["csat"] = (figures["csat"][0], answers_basis(csat_answers))
    return figures


def rollup_views(viewer: User) -> tuple[str, ...] | None:
    """The rollup rows that hold what the viewer would count live, the later view winning
    where a CSM has both; None when no rows do.

    Admins, managers and executives count every account. A CSM counts their team's accounts
    and their own: the "team" rows hold the first, so they serve only while the CSM owns no
    account on another team (one query to know)."""
    if viewer.sees_all_accounts:
        return (CsmPeriodRollup.View.ALL,)
    if viewer.team_id is None:
        return None
    elsewhere = Account.objects.filter(owner=viewer).exclude(team_id=viewer.team_id).exists()
    if elsewhere:
        return None
    return (CsmPeriodRollup.View.ALL, CsmPeriodRollup.View.TEAM)


def rollup_computed_at(period: ReportPeriod) -> dt.datetime | None:
    """When the rollup holding `period` was computed (each run rewrites every row); None
    when it holds no row of it. One index probe."""
    found = CsmPeriodRollup.objects.filter(
        view=CsmPeriodRollup.View.ALL, period=period.kind, period_start=period.start
    ).values_list("computed_at", flat=True)[:1]
    return next(iter(found), None)


def _rollup_rows(
    views: Sequence[str], periods: Sequence[ReportPeriod], *, team_id: int | None
) -> QuerySet[CsmPeriodRollup]:
    rows = CsmPeriodRollup.objects.filter(
        view__in=views,
        period=periods[0].kind,
        period_start__in=sorted({period.start for period in periods}),
    )
    if team_id is not None:
        rows = rows.filter(csm__team_id=team_id)
    return rows.order_by()


def values_stored(
    views: Sequence[str],
    periods: Sequence[ReportPeriod],
    *,
    team_id: int | None,
    wanted: Collection[int],
) -> dict[dt.date, dict[int, Sequence[Any]]]:
    """The rollup's ROLLUP_VALUES of `periods` (of one kind) per period start and CSM of
    `wanted` (those it holds); one query. It reads every CSM of `team_id` (every CSM for
    None) and sifts them here: a list of hundreds of ids costs more to send and plan than
    the rows it leaves out."""
    found: dict[dt.date, dict[int, Sequence[Any]]] = {period.start: {} for period in periods}
    preferred = views[-1]
    for csm_id, start, view, *values in _rollup_rows(views, periods, team_id=team_id).values_list(
        "csm_id", "period_start", "view", *ROLLUP_VALUES
    ):
        held = found[start]
        if csm_id in wanted and (csm_id not in held or view == preferred):
            held[csm_id] = values
    return found


def figures_stored(
    views: Sequence[str], periods: Sequence[ReportPeriod], pks: Collection[int]
) -> dict[dt.date, dict[int, Figures]]:
    """Every figure of the CSMs `pks` (those the rollup holds) and what each rests on, per
    period start; one query."""
    found: dict[dt.date, dict[int, Figures]] = {period.start: {} for period in periods}
    if not pks:
        return found
    preferred = views[-1]
    rows = (
        _rollup_rows(views, periods, team_id=None)
        .filter(csm_id__in=list(pks))
        .values_list("csm_id", "period_start", "view", *ROLLUP_FIELDS)
    )
    width = len(ROLLUP_VALUES)
    for csm_id, start, view, *fields in rows:
        held = found[start]
        if csm_id not in held or view == preferred:
            held[csm_id] = figures_of_rollup(fields[:width], fields[width:])
    return found


def _value_of(figures: Mapping[int, Figures], pk: int, key: str) -> Any:
    found = figures.get(pk)
    return None if found is None else found[key][0]


# --- Ordering ------------------------------------------------------------------------------


class CsmRef(NamedTuple):
    """What ordering every CSM needs, read as plain values: hundreds of full User rows
    (and their teams) cost more to build than the page's whole work (and a tuple less than
    a dataclass)."""

    pk: int
    team_id: int | None
    name: str  # as str(User): the full name, else the username
    team_name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class _Ordering:
    ref: CsmRef
    value: Any

    @property
    def name(self) -> str:
        return self.ref.name

    def sort_value(self, key: str) -> Any:
        if key == "name":
            return self.ref.name.lower()
        if key == "team":
            return self.ref.team_name.lower()
        return self.value


def csm_refs(csms: QuerySet[User]) -> list[CsmRef]:
    # Unordered: every caller puts them in its own order.
    rows = csms.order_by().values_list(
        "pk", "team_id", "first_name", "last_name", "username", "team__name"
    )
    return [
        CsmRef(pk, team_id, f"{first} {last}".strip() or username, team_name or "")
        for pk, team_id, first, last, username, team_name in rows
    ]


def refs_sorted(refs: Iterable[CsmRef], values: Mapping[int, Any], sort: str) -> list[CsmRef]:
    """CSMs in the order rows_sorted puts their rows, by the sort column's `values`."""
    ordered = rows_sorted((_Ordering(ref, values.get(ref.pk)) for ref in refs), sort)
    return [row.ref for row in ordered]


def csms_sorted(
    csms: Sequence[CsmRef], *, viewer: User, period: ReportPeriod, today: dt.date, sort: str
) -> list[CsmRef]:
    """Every CSM in the page's order, counted live: by name or team from the names alone;
    by a metric from that column's own grouped reads over every CSM (the current period
    only)."""
    key = sort.lstrip("-")
    values: dict[int, Any] = {}
    if key in COLUMN_BY_KEY:
        counted = figures_counted(
            csms, viewer=viewer, periods={"cur": period}, today=today, needed=SOURCES_OF[key]
        )["cur"]
        values = {pk: figures[key][0] for pk, figures in counted.items()}
    return refs_sorted(csms, values, sort)


# --- A chart per metric --------------------------------------------------------------------

# A chart names every CSM up to this many; past it, the best and the worst CHART_EACH_END.
CHART_ALL_UP_TO = 20
CHART_EACH_END = 10
# Book size is not a performance: no chart of account counts (ARR shows the book).
CHART_COLUMNS: tuple[Column, ...] = tuple(column for column in COLUMNS if column.key != "accounts")


@dataclass(frozen=True)
class ChartPicks:
    """The CSMs one metric's chart shows, best first, each marked "all" (every CSM shown),
    "top" or "bottom", with their values (and the compared period's); and the median over
    every CSM with a value, drawn as the reference (half the CSMs sit above it, half below,
    whatever a few outliers do)."""

    column: Column
    chosen: list[tuple[CsmRef, str]]
    values: list[Number | None]
    median: Decimal | None
    counted: int  # CSMs with a value
    total: int  # CSMs the chart is drawn from
    previous: list[Number | None] | None = None


def chart_picks(
    column: Column, by_name: Sequence[CsmRef], values: Mapping[int, Number | None]
) -> ChartPicks:
    """Every CSM when there are few (best first, then those without a value), else the top
    and the bottom CHART_EACH_END of those with a value, by this metric ("top" is the
    better end: the lowest for a lower-is-better metric). `by_name` are the CSMs in name
    order, which ties keep, as in rows_sorted."""
    present = [ref.pk for ref in by_name if values.get(ref.pk) is not None]
    present.sort(
        key=cast(Mapping[int, Decimal], values).__getitem__, reverse=column.higher_is_better
    )
    refs = {ref.pk: ref for ref in by_name}
    if len(by_name) <= CHART_ALL_UP_TO:
        missing = [ref.pk for ref in by_name if values.get(ref.pk) is None]
        chosen = [(refs[pk], "all") for pk in present + missing]
    elif len(present) <= CHART_ALL_UP_TO:
        chosen = [(refs[pk], "all") for pk in present]
    else:
        chosen = [(refs[pk], "top") for pk in present[:CHART_EACH_END]] + [
            (refs[pk], "bottom") for pk in present[-CHART_EACH_END:]
        ]
    return ChartPicks(
        column=column,
        chosen=chosen,
        values=[values.get(ref.pk) for ref, _group in chosen],
        median=_median([values[pk] for pk in present]),
        counted=len(present),
        total=len(by_name),
    )


def _median(ordered: Sequence[Number | None]) -> Decimal | None:
    """The median of values sorted either way (percentile's, without converting each one
    to a float), to 0.1."""
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        found = Decimal(str(ordered[middle]))
    else:
        low, high = Decimal(str(ordered[middle - 1])), Decimal(str(ordered[middle]))
        found = (low + high) / 2
    return quantise(found)


def charts_picked(
    refs: Sequence[CsmRef], values: Callable[[str], Mapping[int, Any]]
) -> list[ChartPicks]:
    """chart_picks of every charted column; `values(key)` gives a column's value per CSM."""
    by_name = sorted(refs, key=lambda ref: ref.name.lower())
    return [chart_picks(column, by_name, values(column.key)) for column in CHART_COLUMNS]


def with_previous(
    picks: ChartPicks, previous: Callable[[int, str], Number | None] | None
) -> ChartPicks:
    """The picks with their compared period's values, for a metric that is compared."""
    if previous is None or not picks.column.compared:
        return picks
    return replace(
        picks, previous=[previous(ref.pk, picks.column.key) for ref, _group in picks.chosen]
    )


@dataclass(frozen=True)
class MetricChart:
    """One metric across CSMs as plain series, bar by bar, for charts_team."""

    column: Column
    names: list[str]
    values: list[Number | None]
    groups: list[str]
    previous: list[Number | None] | None
    targets: list[Decimal | None] | None
    median: Decimal | None
    counted: int
    total: int

    @property
    def has_data(self) -> bool:
        return any(v is not None for v in self.values) or any(
            v is not None for v in self.previous or ()
        )

    @property
    def split(self) -> bool:
        return "top" in self.groups

    @property
    def caption(self) -> str:
        order = "best first" if self.column.metric else "highest first"
        if not self.column.higher_is_better:
            order = "lowest (best) first"
        if self.split:
            text = (
                f"Top {CHART_EACH_END} and bottom {CHART_EACH_END} of the {self.counted} CSMs "
                f"with a value, {order}"
            )
        else:
            text = f"All {self.total} CSMs, {order}"
            if self.counted < self.total:
                text += f" ({self.total - self.counted} without a value)"
        if self.median is not None:
            text += (
                f"; the dashed line is their median, {format_number(self.median, self.column.unit)}"
            )
        return text + "."


def metric_chart(
    picks: ChartPicks, *, period: ReportPeriod, targets: Sequence[Target]
) -> MetricChart:
    """The picks as series, with the target that applies to each CSM shown."""
    column = picks.column
    refs = [ref for ref, _group in picks.chosen]
    checks = [
        _target_check(targets, column, ref.pk, ref.team_id, period=period, value=value)
        for ref, value in zip(refs, picks.values, strict=True)
    ]
    return MetricChart(
        column=column,
        names=[ref.name for ref in refs],
        values=picks.values,
        groups=[group for _ref, group in picks.chosen],
        previous=picks.previous,
        targets=[check.target.value if check else None for check in checks]
        if column.metric
        else None,
        median=picks.median,
        counted=picks.counted,
        total=picks.total,
    )


# --- The page ------------------------------------------------------------------------------

# How long a ranking stays cached: its key names the rollup run, so this only bounds memory.
RANKING_TTL_SECONDS = 60 * 60


@dataclass(frozen=True)
class _Ranking:
    """Every CSM of a scope ranked on one period from the rollup: the page order for one
    sort, and each metric's chart picks. The same for everyone who may see that scope until
    the next run, so it is cached under the run (when the rollup held every CSM)."""

    ordered: list[int]
    charts: list[ChartPicks]
    counted_live: bool


def _ranking(
    refs: Sequence[CsmRef],
    *,
    viewer: User,
    views: Sequence[str],
    team_id: int | None,
    period: ReportPeriod,
    compare: ReportPeriod | None,
    sort: str,
    today: dt.date,
    computed_at: dt.datetime,
) -> _Ranking:
    digest = hashlib.blake2b(repr(refs).encode(), digest_size=16).hexdigest()
    key = (
        f"reports:team-ranking:{','.join(views)}:{team_id}:{period.key}:"
        f"{compare.key if compare else ''}:{sort}:{computed_at.isoformat()}:{digest}"
    )
    cached: _Ranking | None = cache.get(key)
    if cached is not None:
        return cached
    periods = [period] if compare is None else [period, compare]
    stored = values_stored(views, periods, team_id=team_id, wanted={ref.pk for ref in refs})
    current = stored[period.start]
    counted: dict[int, Figures] = {}
    missing = [ref for ref in refs if ref.pk not in current]
    if missing:
        # CSMs new since the run: counted now, and the ranking not kept.
        counted = figures_counted(missing, viewer=viewer, periods={"cur": period}, today=today)[
            "cur"
        ]

    def column(key: str) -> dict[int, Any]:
        index = ROLLUP_VALUES.index(key)
        values = {pk: row[index] for pk, row in current.items()}
        values.update((pk, figures[key][0]) for pk, figures in counted.items())
        return values

    sort_key = sort.lstrip("-")
    ordered = refs_sorted(refs, column(sort_key) if sort_key in COLUMN_BY_KEY else {}, sort)
    charts = charts_picked(refs, column)
    previous_of: Callable[[int, str], Any] | None = None
    if compare is not None:
        before = stored[compare.start]
        wanted = {ref.pk: ref for chart in charts for ref, _group in chart.chosen}
        absent = [ref for pk, ref in wanted.items() if pk not in before]
        counted_before = (
            figures_counted(absent, viewer=viewer, periods={"prev": compare}, today=today)["prev"]
            if absent
            else {}
        )
        missing += absent

        def previous_of(pk: int, key: str) -> Any:
            row = before.get(pk)
            if row is not None:
                return row[ROLLUP_VALUES.index(key)]
            return _value_of(counted_before, pk, key)

    ranking = _Ranking(
        ordered=[ref.pk for ref in ordered],
        charts=[with_previous(chart, previous_of) for chart in charts],
        counted_live=bool(missing),
    )
    if not ranking.counted_live:
        cache.set(key, ranking, RANKING_TTL_SECONDS)
    return ranking


def team_performance(
    *,
    viewer: User,
    team: Team | None,
    period: ReportPeriod,
    compare: ReportPeriod | None,
    today: dt.date,
    sort: str = DEFAULT_SORT,
    page: str | int | None = None,
    per_page: int | None = None,
) -> TeamPerformance:
    """One page of CSM rows sorted across every CSM the viewer may review, and a chart per
    metric across all of them, from the nightly rollup: a fixed handful of queries, none
    over accounts. CSMs the rollup does not hold yet (new since the night) are counted live.

    When the rollup does not hold the period at all (it has not run since the month began,
    or the viewer's numbers are not in it), everything is counted live as the rollup would:
    the sort column for every CSM, the rest for the page's CSMs, whose charts then cover
    this page alone."""
    refs = csm_refs(team_csms(viewer=viewer, team=team))
    targets = targets_for_team_page(period=period)
    views = rollup_views(viewer) if refs else None
    computed_at = rollup_computed_at(period) if views else None
    if not views or computed_at is None:
        return _performance_counted(
            refs,
            viewer=viewer,
            period=period,
            compare=compare,
            today=today,
            sort=sort,
            page=page,
            per_page=per_page,
            targets=targets,
        )
    # The CSMs team_csms lists: the viewer's team for a CSM, else the team picked, if any.
    team_id = viewer.team_id if viewer.is_csm else (team.pk if team is not None else None)
    ranking = _ranking(
        refs,
        viewer=viewer,
        views=views,
        team_id=team_id,
        period=period,
        compare=compare,
        sort=sort,
        today=today,
        computed_at=computed_at,
    )
    by_pk = {ref.pk: ref for ref in refs}
    page_obj = Paginator(
        [by_pk[pk] for pk in ranking.ordered], per_page or TEAM_PAGE_SIZE
    ).get_page(page)
    shown = list(page_obj)
    periods = [period] if compare is None else [period, compare]
    stored = figures_stored(views, periods, [ref.pk for ref in shown])
    current = stored[period.start]
    previous = stored[compare.start] if compare is not None else None
    counted_live = ranking.counted_live
    for key, held, wanted in (("cur", current, period), ("prev", previous, compare)):
        if held is None or wanted is None:
            continue
        missing = [ref for ref in shown if ref.pk not in held]
        if missing:
            counted_live = True
            held.update(
                figures_counted(missing, viewer=viewer, periods={key: wanted}, today=today)[key]
            )
    users = User.objects.select_related("team").in_bulk([ref.pk for ref in shown])
    rows = [
        csm_row(
            users[ref.pk],
            current[ref.pk],
            previous.get(ref.pk) if previous is not None else None,
            period=period,
            targets=targets,
        )
        for ref in shown
        if ref.pk in users
    ]
    return TeamPerformance(
        period=period,
        compare=compare,
        rows=rows,
        targets=targets,
        page_obj=page_obj,
        charts=[metric_chart(chart, period=period, targets=targets) for chart in ranking.charts],
        computed_at=computed_at,
        counted_live=counted_live,
    )


def _performance_counted(
    refs: Sequence[CsmRef],
    *,
    viewer: User,
    period: ReportPeriod,
    compare: ReportPeriod | None,
    today: dt.date,
    sort: str,
    page: str | int | None,
    per_page: int | None,
    targets: list[Target],
) -> TeamPerformance:
    """The page counted live: the sort column for every CSM, everything else for the
    page's CSMs alone, so the work grows with the page, not with the team."""
    ordered = csms_sorted(refs, viewer=viewer, period=period, today=today, sort=sort)
    page_obj = Paginator(ordered, per_page or TEAM_PAGE_SIZE).get_page(page)
    users = User.objects.select_related("team").in_bulk([ref.pk for ref in page_obj])
    shown = [ref for ref in page_obj if ref.pk in users]
    if not shown:
        return TeamPerformance(
            period=period, compare=compare, rows=[], targets=targets, page_obj=page_obj
        )
    periods: dict[str, ReportPeriod] = {"cur": period}
    if compare is not None:
        periods["prev"] = compare
    counted = figures_counted(shown, viewer=viewer, periods=periods, today=today)
    current, previous = counted["cur"], counted.get("prev")
    rows = [
        csm_row(
            users[ref.pk],
            current[ref.pk],
            previous[ref.pk] if previous is not None else None,
            period=period,
            targets=targets,
        )
        for ref in shown
    ]

    def previous_of(pk: int, key: str) -> Any:
        return _value_of(previous or {}, pk, key)

    picks = charts_picked(
        shown, lambda key: {pk: figures[key][0] for pk, figures in current.items()}
    )
    return TeamPerformance(
        period=period,
        compare=compare,
        rows=rows,
        targets=targets,
        page_obj=page_obj,
        charts=[
            metric_chart(
                with_previous(chart, previous_of if previous is not None else None),
                period=period,
                targets=targets,
            )
            for chart in picks
        ],
        counted_live=True,
        charts_cover_page=True,
    )


def per_week(count: int, weeks: Decimal) -> Decimal | None:
    if not weeks:
        return None
    return quantise(Decimal(count) / weeks)


def days_of(median: float | None) -> Decimal | None:
    if median is None:
        return None
    return quantise(Decimal(str(median)))


# --- Targets -------------------------------------------------------------------------------


def targets_visible_to(user: User) -> QuerySet[Target]:
    """Every target for admins, managers and executives; a CSM sees the company's, their
    team's and their team's CSMs' (a segment's numbers span other teams' books)."""
    targets = Target.objects.all()
    if not user.is_csm:
        return targets
    mine = Q(scope=Scope.COMPANY) | Q(scope=Scope.CSM, scope_key=str(user.pk))
    if user.team_id is not None:
        teammates = User.objects.filter(team_id=user.team_id).values_list("pk", flat=True)
        mine |= Q(scope=Scope.TEAM, scope_key=str(user.team_id))
        mine |= Q(scope=Scope.CSM, scope_key__in=[str(pk) for pk in teammates])
    return targets.filter(mine)


def target_get(*, user: User, target_id: int) -> Target:
    """A target the user may see; 404 otherwise."""
    try:
        return targets_visible_to(user).get(pk=target_id)
    except (Target.DoesNotExist, ValueError, TypeError):
        raise Http404("No such target.") from None


@dataclass(frozen=True)
class TargetRow:
    target: Target
    period: ReportPeriod
    scope_label: str
    actual: Actual
    status: Status

    @property
    def target_text(self) -> str:
        return (
            f"{direction_symbol(self.target.direction)} "
            f"{format_value(self.target.metric, self.target.value)}"
        )

    @property
    def actual_text(self) -> str:
        return format_value(self.target.metric, self.actual.value)


def scope_labels(targets: Sequence[Target]) -> dict[tuple[str, str], str]:
    """ "Company", "Team: Enterprise", "CSM: Ana Silva", "Segment: Scaled"; one query per
    kind of scope present."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for target in targets:
        if target.scope_key.isdigit():
            wanted[target.scope].add(int(target.scope_key))
    names: dict[tuple[str, str], str] = {}
    models: dict[str, Any] = {Scope.TEAM: Team, Scope.CSM: User, Scope.SEGMENT: Segment}
    for scope, ids in wanted.items():
        model = models.get(scope)
        if model is None:
            continue
        for obj in model.objects.filter(pk__in=ids):
            names[(scope, str(obj.pk))] = str(obj)
    labels = {}
    for target in targets:
        key = (target.scope, target.scope_key)
        if target.scope == Scope.COMPANY:
            labels[key] = "Company"
        elif target.scope == Scope.TIER:
            labels[key] = f"Tier: {target.scope_key}"
        else:
            kind = "CSM" if target.scope == Scope.CSM else Scope(target.scope).label
            labels[key] = f"{kind}: {names.get(key, '(removed)')}"
    return labels


def target_rows(targets: Sequence[Target], *, today: dt.date) -> list[TargetRow]:
    """Each target with its actual from the monthly snapshots of its scope and period, and
    whether it is on track; a fixed number of queries for any number of targets."""
    if not targets:
        return []
    periods = {t.pk: ReportPeriod(t.period_start, t.period) for t in targets}
    first = min(p.start for p in periods.values())
    last = max(p.end for p in periods.values())
    pairs = {(t.scope, t.scope_key) for t in targets}
    in_scopes = Q()
    for scope, key in pairs:
        in_scopes |= Q(scope=scope, scope_key=key)

    retention: dict[tuple[str, str], list[RetentionSnapshot]] = defaultdict(list)
    if any(t.metric in RETENTION_METRICS for t in targets):
        for monthly in RetentionSnapshot.objects.filter(
            in_scopes, month__gte=first, month__lt=last
        ).order_by("month"):
            retention[(monthly.scope, monthly.scope_key)].append(monthly)
    snapshots: dict[tuple[str, str, str], list[MetricSnapshot]] = defaultdict(list)
    names = {SNAPSHOT_NAMES[t.metric] for t in targets if t.metric in SNAPSHOT_NAMES}
    if any(t.metric in RETENTION_METRICS and t.period == Target.Period.QUARTER for t in targets):
        names |= {quarter_metric(part) for part in QUARTER_PARTS}
    if names:
        for row in MetricSnapshot.objects.filter(
            in_scopes, metric__in=names, month__gte=first, month__lt=last
        ).order_by("month"):
            snapshots[(row.scope, row.scope_key, row.metric)].append(row)

    labels = scope_labels(targets)
    rows = []
    for target in targets:
        period = periods[target.pk]
        pair = (target.scope, target.scope_key)
        if period.start > today:
            actual = Actual(None, "not started yet")
        elif target.metric in RETENTION_METRICS:
            quarter_parts = {
                part: row
                for part in QUARTER_PARTS
                for row in snapshots.get((*pair, quarter_metric(part)), ())
                if row.month == period.start
            }
            actual = retention_actual(
                target.metric,
                retention.get(pair, []),
                period=period,
                today=today,
                quarter_parts=quarter_parts if period.kind == Target.Period.QUARTER else None,
            )
        elif target.metric in SNAPSHOT_NAMES:
            actual = snapshot_actual(
                target.metric,
                snapshots.get((*pair, SNAPSHOT_NAMES[target.metric]), []),
                period=period,
                today=today,
            )
        else:
            actual = Actual(None, "not measured yet")
        status = target_status(direction=target.direction, target=target.value, actual=actual.value)
        rows.append(
            TargetRow(
                target=target,
                period=period,
                scope_label=labels.get(pair, target.scope),
                actual=actual,
                status=status,
            )
        )
    return rows


# --- Initiatives ---------------------------------------------------------------------------


def initiatives_for_list() -> QuerySet[Initiative]:
    return Initiative.objects.select_related("segment", "owner").order_by("-start_date", "name")


def initiative_get(*, initiative_id: int) -> Initiative:
    """Any initiative: every role reads them (PRODUCT.md section 6, reports); 404 if none."""
    try:
        return Initiative.objects.select_related("segment", "owner").get(pk=initiative_id)
    except (Initiative.DoesNotExist, ValueError, TypeError):
        raise Http404("No such initiative.") from None


def initiative_state(initiative: Initiative, *, today: dt.date) -> str:
    """ "planned", "running" or "ended"."""
    if initiative.start_date > today:
        return "planned"
    if initiative.end_date is not None and initiative.end_date < today:
        return "ended"
    return "running"
