"""Team performance: one row per CSM, each metric for a period and the period it is compared
with, and the target that applies to it.

A fixed number of queries whatever the number of CSMs or accounts: the CSMs; one grouped
query each for their books (accounts, ARR), survey answers (NPS, CSAT), interactions logged,
tasks closed, overdue tasks and onboarding exits (time to value); the retention and health
snapshots of the months involved; the targets. Both periods are counted in the same grouped
query with conditional counts. Everything after that is Python over one row per CSM.

Which numbers come from where:
- accounts and book ARR are today's (Account.arr, live accounts), like overdue tasks;
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
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

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
from reports.models import FeedbackScoreMonth, Initiative, Metric, MetricSnapshot, Scope, Target
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


def rows_sorted(rows: Iterable[CsmRow], sort: str) -> list[CsmRow]:
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

    @property
    def has_targets(self) -> bool:
        return bool(self.targets)


# --- The CSMs -------------------------------------------------------------------------------


def team_csms(*, viewer: User, team: Team | None) -> QuerySet[User]:
    """Active CSMs the viewer may review: everyone's for admins, managers and executives
    (narrowed to `team`), the viewer's own team's for a CSM (just themselves without one)."""
    csms = User.objects.filter(role=User.Role.CSM, is_active=True).select_related("team")
    if viewer.is_csm:
        if viewer.team_id is None:
            return csms.filter(pk=viewer.pk)
        csms = csms.filter(team_id=viewer.team_id)
    if team is not None:
        csms = csms.filter(team=team)
    return csms.order_by("first_name", "last_name", "username")


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


def scores_by_owner(
    answers: QuerySet[SurveyAnswer], ids: Sequence[int], periods: Mapping[str, ReportPeriod]
) -> dict[tuple[int, str], ScoreCounts]:
    """NPS and CSAT counts per account owner and period, in one grouped query."""
    start, end = _bounds(list(periods.values()))
    aggregates: dict[str, Any] = {}
    for key, period in periods.items():
        within = _in_moments("answered_at", period.start, period.end)
        nps_q = within & Q(kind=Survey.Kind.NPS)
        csat_q = within & Q(kind=Survey.Kind.CSAT)
        aggregates[f"{key}_promoters"] = Count("pk", filter=nps_q & Q(score__gte=PROMOTER[0]))
        aggregates[f"{key}_passives"] = Count(
            "pk", filter=nps_q & Q(score__gte=PASSIVE[0], score__lte=PASSIVE[1])
        )
        aggregates[f"{key}_detractors"] = Count("pk", filter=nps_q & Q(score__lte=DETRACTOR[1]))
        aggregates[f"{key}_satisfied"] = Count(
            "pk", filter=csat_q & Q(score__gte=CSAT_SATISFIED[0])
        )
        aggregates[f"{key}_csat"] = Count("pk", filter=csat_q)
    rows: Iterable[Mapping[str, Any]] = (
        answers.filter(_in_moments("answered_at", start, end), account__owner_id__in=ids)
        .order_by()
        .values("account__owner_id")
        .annotate(**aggregates)
    )
    out: dict[tuple[int, str], ScoreCounts] = {}
    for row in rows:
        for key in periods:
            out[(row["account__owner_id"], key)] = ScoreCounts(
                promoters=row[f"{key}_promoters"],
                passives=row[f"{key}_passives"],
                detractors=row[f"{key}_detractors"],
                csat_satisfied=row[f"{key}_satisfied"],
                csat_answers=row[f"{key}_csat"],
            )
    return out


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


def _first_exit() -> Subquery:
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
        .annotate(first_exit=_first_exit())
        .values_list("owner_id", "start_date", "first_exit")
    )
    return _ttv_medians(rows, periods, today=today)


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
        .annotate(first_exit=_first_exit())
        .values_list("owner_id", "start_date", "first_exit", "lifecycle_status", "arr")
    )
    books: dict[int, tuple[int, Decimal]] = {}
    for owner_id, _start, _exit, status, arr in rows:
        if status == Account.Lifecycle.CHURNED:
            continue  # as AccountQuerySet.live()
        count, total = books.get(owner_id, (0, Decimal("0")))
        books[owner_id] = (count + 1, total + (arr or Decimal("0")))
    ttv = _ttv_medians([row[:3] for row in rows], periods, today=today)
    return books, ttv


def _ttv_medians(
    rows: Iterable[tuple[int, dt.date, dt.datetime | None]],
    periods: Mapping[str, ReportPeriod],
    *,
    today: dt.date,
) -> dict[tuple[int, str], float]:
    windows = {key: ttv_window(period) for key, period in periods.items()}
    since = local_midnight(min(window[0] for window in windows.values()))
    until = local_midnight(max(window[1] for window in windows.values()))
    days: dict[tuple[int, str], list[int]] = defaultdict(list)
    for owner_id, start_date, exited_at in rows:
        if exited_at is None or not since <= exited_at < until:
            continue
        exit_day = local_day(exited_at)
        if exit_day > today:
            continue
        elapsed = max(0, (exit_day - start_date).days)
        for key, (low, high) in windows.items():
            if low <= exit_day < high:
                days[(owner_id, key)].append(elapsed)
    medians: dict[tuple[int, str], float] = {}
    for group, values in days.items():
        median = percentile(values, 0.5)
        if median is not None:
            medians[group] = median
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


# --- The page ----------------------------------------------------------------------------


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
class _Sources:
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
) -> _Sources:
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

    found = _Sources()
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
        snapshot_names = ["avg_health"]
        if any(p.kind == Target.Period.QUARTER for p in periods.values()):
            snapshot_names += [quarter_metric(part) for part in QUARTER_PARTS]
        found.snapshots = metric_rows_by_csm(keys, months, snapshot_names)
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


def _actuals(
    found: _Sources, user: User, key: str, p: ReportPeriod, *, today: dt.date
) -> dict[str, tuple[Number | None, str]]:
    user_key = str(user.pk)
    counts = found.scores.get((user.pk, key), ScoreCounts())
    weeks = p.weeks_until(today)
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
        "nps": (counts.nps, f"{counts.nps_answers} answers"),
        "csat": (counts.csat, f"{counts.csat_answers} answers"),
        "interactions": (_per_week(found.logged.get((user.pk, key), 0), weeks), ""),
        "tasks": (_per_week(found.closed.get((user.pk, key), 0), weeks), ""),
        "ttv": (_days(found.ttv.get((user.pk, key))), ""),
    }


def _rows(
    csms: Sequence[User] | Sequence[CsmRef],
    found: _Sources,
    *,
    period: ReportPeriod,
    compare: ReportPeriod | None,
    today: dt.date,
    targets: Sequence[Target],
) -> list[CsmRow]:
    rows = []
    for user in csms:
        accounts, arr = found.books.get(user.pk, (0, Decimal("0")))
        current = _actuals(found, user, "cur", period, today=today)
        previous = _actuals(found, user, "prev", compare, today=today) if compare else {}
        scope_keys = {
            "csm": str(user.pk),
            "team": str(user.team_id) if user.team_id else "-",
            "company": "",
        }
        cells: dict[str, Cell] = {
            "accounts": Cell(COLUMN_BY_KEY["accounts"], accounts),
            "arr": Cell(COLUMN_BY_KEY["arr"], arr),
            "overdue": Cell(COLUMN_BY_KEY["overdue"], found.overdue.get(user.pk, 0)),
        }
        for key, (value, basis) in current.items():
            column = COLUMN_BY_KEY[key]
            check = None
            if column.metric and targets:
                check = target_check(
                    list(targets),
                    metric=column.metric,
                    period=period,
                    scope_keys=scope_keys,
                    actual=value if value is None else Decimal(str(value)),
                )
            cells[key] = Cell(
                column,
                value,
                previous=previous.get(key, (None, ""))[0],
                check=check,
                basis=basis,
            )
        rows.append(CsmRow(user=user, cells=cells))
    return rows


@dataclass(frozen=True)
class CsmRef:
    """What ordering every CSM needs, read as plain values: hundreds of full User rows
    (and their teams) cost more to build than the page's whole work."""

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
    rows = csms.values_list("pk", "team_id", "first_name", "last_name", "username", "team__name")
    return [
        CsmRef(
            pk=pk,
            team_id=team_id,
            name=f"{first} {last}".strip() or username,
            team_name=team_name or "",
        )
        for pk, team_id, first, last, username, team_name in rows
    ]


def csms_sorted(
    csms: Sequence[CsmRef], *, viewer: User, period: ReportPeriod, today: dt.date, sort: str
) -> list[CsmRef]:
    """Every CSM in the page's order, as rows_sorted orders the rows. By name or team from
    the names alone; by a metric from that column's own grouped reads over every CSM (the
    current period only)."""
    key = sort.lstrip("-")
    values: dict[int, Any] = {}
    if key in COLUMN_BY_KEY:
        found = _sources(
            SOURCES_OF[key],
            viewer=viewer,
            ids=[ref.pk for ref in csms],
            periods={"cur": period},
            today=today,
        )
        rows = _rows(csms, found, period=period, compare=None, today=today, targets=())
        values = {row.user.pk: row.cells[key].value for row in rows}
    ordered = rows_sorted((_Ordering(ref, values.get(ref.pk)) for ref in csms), sort)
    return [row.ref for row in ordered]


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
    """One page of CSM rows, sorted across every CSM the viewer may review. Only the sort
    column is read for all of them; every other figure is read for the page's CSMs alone, so
    the work grows with the page, not with the team."""
    refs = csm_refs(team_csms(viewer=viewer, team=team))
    targets = targets_for_team_page(period=period)
    ordered = csms_sorted(refs, viewer=viewer, period=period, today=today, sort=sort)
    page_obj = Paginator(ordered, per_page or TEAM_PAGE_SIZE).get_page(page)
    users = User.objects.select_related("team").in_bulk([ref.pk for ref in page_obj])
    shown = [users[ref.pk] for ref in page_obj if ref.pk in users]
    if not shown:
        return TeamPerformance(
            period=period, compare=compare, rows=[], targets=targets, page_obj=page_obj
        )
    periods: dict[str, ReportPeriod] = {"cur": period}
    if compare is not None:
        periods["prev"] = compare
    found = _sources(
        ALL_SOURCES, viewer=viewer, ids=[user.pk for user in shown], periods=periods, today=today
    )
    rows = _rows(shown, found, period=period, compare=compare, today=today, targets=targets)
    return TeamPerformance(
        period=period, compare=compare, rows=rows, targets=targets, page_obj=page_obj
    )


def _per_week(count: int, weeks: Decimal) -> Decimal | None:
    if not weeks:
        return None
    return quantise(Decimal(count) / weeks)


def _days(median: float | None) -> Decimal | None:
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
