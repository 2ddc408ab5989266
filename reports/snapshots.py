"""Monthly metric snapshots per scope: what the dashboards read instead of raw rows.

For each of the last `months` calendar months (the current one included) and every scope
(the company, each segment, team, CSM and tier; the same scopes as the retention snapshots,
from the accounts' *current* attributes), one MetricSnapshot row per metric:

- attitude: `nps`, `csat`, `ces` (answers of the month, by answer date in the configured
  time zone) and `response_rate` (invitations sent in the month, answered whenever);
- health: `avg_health` (mean score on the month's last scored day) and, on the same day,
  `band_<red|yellow|green>_accounts` and `band_<band>_arr` (each account's ARR on that day,
  from its contracts, so an account that has since churned still carries its ARR then);
- behaviour: `usage` (mean over accounts of active users ÷ licensed seats over the month)
  and `adoption` (mean over accounts of key features used ÷ HEALTH_KEY_FEATURES, capped at
  100 %), both as percentages;
- input: `interactions` (logged with a date in the month) and `tasks_closed` (done, with a
  completion time in the month);
- open work: `overdue_tasks` and `detractors_open` at the month's end (for the current
  month: as of the run's day).

The current month's rows also hold today's work-list figures, so the dashboard never
aggregates live accounts: `renewals_<30|60|90>_accounts` / `_arr` (live accounts renewing
within the window). The health rollups (band trend and movers per scope, in
reports.health_rollups) and the team performance rollup per CSM and period
(reports.team_rollups) are rebuilt in the same transaction.

`value` is None when a metric has no data (no answers, no scores), never 0; counts of
things (interactions, overdue tasks) are a real 0. `count` is what the value came from.

Quarters. A quarter's retention is not the sum of its months (an account new in its first
month and expanding in its second is all new ARR for the quarter), so each quarter that
overlaps the window also gets rows named `quarter:<metric>` on its first month: the ARR
bridge of the quarter's own cohort (start ARR on its first day, end ARR on the first day
after it), its due and renewed contracts, and the flows that do add up (answers,
invitations, interactions, tasks closed) plus usage and adoption over the whole quarter per
account. State metrics (health, bands, overdue work, ARR at risk) of a quarter are those of
its last month (or of the current month while it runs); the dashboard reads them there.

Set-based: one grouped query per metric family for the whole window (usage and health: one
per month), each returning one row per account and month; the rows are folded into scopes
in Python through the same scope plan the retention snapshots use, so a segment costs no
query of its own beyond the one that lists its members. Rows are upserted on (month, scope,
scope_key, metric) in one transaction: a rerun replaces them, never duplicates.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncMonth

from accounts.models import Account, Interaction, Task, UsageRecord
from feedback.metrics import (
    CSAT_SATISFIED,
    DETRACTOR,
    PASSIVE,
    PROMOTER,
    ces,
    csat,
    feedback_time_zone,
    local_midnight,
    nps,
    response_rate,
)
from feedback.models import FollowUp, Survey, SurveyAnswer, SurveyInvitation
from health.models import HealthScore
from health.retention import (
    ContractEnds,
    MonthMovements,
    MonthTotals,
    Openings,
    ScopePlan,
    account_facts_load,
    arr_timeline,
    month_add,
    month_floor,
    month_last_day,
    month_scopes_compute,
    months_to_recompute,
    scope_plan_load,
    window_contracts_load,
)
from reports.feedback_rollups import feedback_rollups_recompute
from reports.health_rollups import health_rollups_recompute
from reports.models import MetricSnapshot, Scope

# A contract due in a quarter is renewed when a successor starts within 30 days after it
# (the retention snapshots' rule): contracts are read this far past the window.
RENEWAL_WINDOW_DAYS = 30
# Rows per INSERT ... ON CONFLICT: 13 months x ~830 scopes x 17 metrics is ~180,000 rows;
# 2,000 rows of 7 columns stay well under PostgreSQL's 65,535 parameters per statement.
UPSERT_BATCH = 2_000
QUARTER_PREFIX = "quarter:"
# Today's work list, on the current month's rows: live accounts renewing within each window.
RENEWAL_WINDOWS = (30, 60, 90)

BANDS = ("red", "yellow", "green")
ZERO = Decimal("0")
_TENTH = Decimal("0.1")
_HUNDRED = Decimal("100")

Number = int | float | Decimal
ScopeKey = tuple[str, str]
Progress = Callable[[int], None]
# (value, count) of one metric for one scope.
Figure = tuple[Decimal | None, int]


# --- Calendar ----------------------------------------------------------------------------


def quarter_floor(day: dt.date) -> dt.date:
    """The first day of the day's calendar quarter."""
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_months(quarter: dt.date) -> list[dt.date]:
    return [month_add(quarter, offset) for offset in range(3)]


def quarter_metric(metric: str) -> str:
    return f"{QUARTER_PREFIX}{metric}"


# --- Folding per-account parts into scopes ------------------------------------------------


class ScopeSums:
    """Additive parts (a fixed-width vector per account) summed per scope.

    An account is added to the company, to its (team, owner, tier) combination and to each
    of its segments; combinations are merged into team, CSM and tier scopes at the end. An
    account the plan does not know (created during the run) counts for the company only.
    """

    def __init__(self, plan: ScopePlan, width: int) -> None:
        self.plan = plan
        self.width = width
        self.company: list[Number] = [0] * width
        self.by_combination: list[list[Number]] = [[0] * width for _ in plan.combinations]
        self.by_segment: dict[int, list[Number]] = {
            segment_id: [0] * width for segment_id in plan.members_by_segment
        }

    def add(self, account_id: int, parts: Sequence[Number]) -> None:
        combination = self.plan.combination_of.get(account_id)
        # The company is the sum of the combinations, plus accounts outside the plan.
        _add_into(self.company if combination is None else self.by_combination[combination], parts)
        for segment_id in self.plan.segments_of.get(account_id, ()):
            _add_into(self.by_segment[segment_id], parts)

    def scopes(self) -> dict[ScopeKey, list[Number]]:
        company = list(self.company)
        for parts in self.by_combination:
            _add_into(company, parts)
        out: dict[ScopeKey, list[Number]] = {(Scope.COMPANY, ""): company}

        def merge(key: ScopeKey, parts: Sequence[Number]) -> None:
            if key in out:
                _add_into(out[key], parts)
            else:
                out[key] = list(parts)

        for (team_id, owner_id, tier), parts in zip(
            self.plan.combinations, self.by_combination, strict=True
        ):
            if team_id is not None:
                merge((Scope.TEAM, str(team_id)), parts)
            if owner_id is not None:
                merge((Scope.CSM, str(owner_id)), parts)
            merge((Scope.TIER, tier), parts)
        for segment_id, parts in self.by_segment.items():
            out[(Scope.SEGMENT, str(segment_id))] = list(parts)
        return out


def _add_into(total: list[Number], parts: Sequence[Number]) -> None:
    for index, part in enumerate(parts):
        if part:
            total[index] += part  # type: ignore[operator]


def _sum_scopes(
    many: Iterable[Mapping[ScopeKey, Sequence[Number]]], width: int
) -> dict[ScopeKey, list[Number]]:
    out: dict[ScopeKey, list[Number]] = defaultdict(lambda: [0] * width)
    for scopes in many:
        for key, parts in scopes.items():
            _add_into(out[key], parts)
    return dict(out)


# --- From additive parts to figures -------------------------------------------------------


def _one_decimal(value: Decimal) -> Decimal:
    return value.quantize(_TENTH, rounding=ROUND_HALF_UP)


def mean_of(total: Number, count: int, *, scale: Number = 1) -> Decimal | None:
    """The mean of `count` values summing to `total`, times `scale`, to 0.1; None for none."""
    if not count:
        return None
    return _one_decimal(Decimal(str(total)) * Decimal(str(scale)) / Decimal(count))


def _counted(value: Number) -> Figure:
    return Decimal(value), int(value)


def score_figures(parts: Sequence[Number]) -> dict[str, Figure]:
    promoters, passives, detractors, satisfied, csat_n, ces_sum, ces_n = (int(p) for p in parts)
    return {
        "nps": (nps(promoters, passives, detractors), promoters + passives + detractors),
        "csat": (csat(satisfied, csat_n), csat_n),
        "ces": (ces(ces_sum, ces_n), ces_n),
    }


def invitation_figures(parts: Sequence[Number]) -> dict[str, Figure]:
    answered, sent = (int(p) for p in parts)
    return {"response_rate": (response_rate(answered, sent), sent)}


def health_figures(parts: Sequence[Number]) -> dict[str, Figure]:
    score_sum, scored = int(parts[0]), int(parts[1])
    figures: dict[str, Figure] = {"avg_health": (mean_of(score_sum, scored), scored)}
    for index, band in enumerate(BANDS):
        accounts = int(parts[2 + 2 * index])
        arr = Decimal(parts[3 + 2 * index])
        figures[f"band_{band}_accounts"] = (Decimal(accounts), accounts)
        figures[f"band_{band}_arr"] = (arr, accounts)
    return figures


def usage_figures(parts: Sequence[Number]) -> dict[str, Figure]:
    usage_sum, usage_n, adoption_sum, adoption_n = parts
    return {
        "usage": (mean_of(usage_sum, int(usage_n), scale=100), int(usage_n)),
        "adoption": (mean_of(adoption_sum, int(adoption_n), scale=100), int(adoption_n)),
    }


def _count_figures(name: str) -> Callable[[Sequence[Number]], dict[str, Figure]]:
    def figures(parts: Sequence[Number]) -> dict[str, Figure]:
        return {name: _counted(parts[0])}

    return figures


RETENTION_PARTS: tuple[str, ...] = (
    "cohort_accounts",
    "churned_accounts",
    "start_arr",
    "new_arr",
    "expansion_arr",
    "contraction_arr",
    "churned_arr",
    "end_arr",
    "contracts_due",
    "contracts_renewed",
    "due_arr",
    "renewed_arr",
)


def retention_figures(totals: MonthTotals) -> dict[str, Figure]:
    """A quarter's bridge and renewals; the count beside an ARR amount is its accounts."""
    counts = {
        "start_arr": totals.cohort_accounts,
        "churned_arr": totals.churned_accounts,
        "due_arr": totals.contracts_due,
        "renewed_arr": totals.contracts_renewed,
    }
    figures: dict[str, Figure] = {}
    for name in RETENTION_PARTS:
        value = getattr(totals, name)
        count = counts.get(name, int(value) if isinstance(value, int) else 0)
        figures[name] = (Decimal(value), count)
    return figures


# --- Reads: one row per account and month -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """The months whose parts are read (from the first quarter's start to today's month),
    and the months and quarters that get rows."""

    today: dt.date
    months: list[dt.date]  # written months, oldest first
    read_months: list[dt.date]  # months read: from the first quarter's start
    quarters: list[dt.date]  # first days of the quarters overlapping `months`

    @property
    def start(self) -> dt.date:
        return self.read_months[0]

    @property
    def end(self) -> dt.date:
        """The first day after the last month read."""
        return month_add(self.read_months[-1], 1)

    @property
    def current(self) -> dt.date:
        return month_floor(self.today)

    @classmethod
    def of(cls, *, today: dt.date, months: int) -> Window:
        written = months_to_recompute(today=today, months=months)
        first_quarter = quarter_floor(written[0])
        read: list[dt.date] = []
        month = first_quarter
        while month <= written[-1]:
            read.append(month)
            month = month_add(month, 1)
        quarters = sorted({quarter_floor(month) for month in written})
        return cls(today=today, months=written, read_months=read, quarters=quarters)


PerMonth = dict[dt.date, dict[int, list[Number]]]


def _local_month(moment: dt.datetime) -> dt.date:
    """TruncMonth(..., tzinfo) gives an aware datetime in that zone (SQLite: sometimes a
    date); either way, its calendar month."""
    if isinstance(moment, dt.datetime):
        return moment.date().replace(day=1)
    return moment.replace(day=1)


def score_parts_load(window: Window) -> PerMonth:
    """Promoters, passives, detractors, satisfied CSAT, CSAT answers, CES sum and CES answers
    per account and month of answer; one grouped query."""
    start, end = local_midnight(window.start), local_midnight(window.end)
    is_nps = Q(kind=Survey.Kind.NPS)
    is_csat = Q(kind=Survey.Kind.CSAT)
    is_ces = Q(kind=Survey.Kind.CES)
    rows = (
        SurveyAnswer.objects.filter(answered_at__gte=start, answered_at__lt=end)
        .order_by()
        .annotate(month=TruncMonth("answered_at", tzinfo=feedback_time_zone()))
        .values("account_id", "month")
        .annotate(
            promoters=Count("pk", filter=is_nps & Q(score__gte=PROMOTER[0])),
            passives=Count("pk", filter=is_nps & Q(score__gte=PASSIVE[0], score__lte=PASSIVE[1])),
            detractors=Count("pk", filter=is_nps & Q(score__lte=DETRACTOR[1])),
            satisfied=Count("pk", filter=is_csat & Q(score__gte=CSAT_SATISFIED[0])),
            csat_answers=Count("pk", filter=is_csat),
            ces_sum=Sum("score", filter=is_ces),
            ces_answers=Count("pk", filter=is_ces),
        )
    )
    out: PerMonth = defaultdict(dict)
    for row in rows:
        out[_local_month(row["month"])][row["account_id"]] = [
            row["promoters"],
            row["passives"],
            row["detractors"],
            row["satisfied"],
            row["csat_answers"],
            row["ces_sum"] or 0,
            row["ces_answers"],
        ]
    return out


def invitation_parts_load(window: Window) -> PerMonth:
    """Answered and sent invitations per account and month of sending; one query."""
    start, end = local_midnight(window.start), local_midnight(window.end)
    rows = (
        SurveyInvitation.objects.filter(sent_at__gte=start, sent_at__lt=end)
        .order_by()
        .annotate(month=TruncMonth("sent_at", tzinfo=feedback_time_zone()))
        .values("account_id", "month")
        .annotate(answered=Count("pk", filter=Q(answered_at__isnull=False)), sent=Count("pk"))
    )
    out: PerMonth = defaultdict(dict)
    for row in rows:
        out[_local_month(row["month"])][row["account_id"]] = [row["answered"], row["sent"]]
    return out


def interaction_parts_load(window: Window) -> PerMonth:
    """Interactions per account and month of their date; one query."""
    rows = (
        Interaction.objects.filter(occurred_on__gte=window.start, occurred_on__lt=window.end)
        .order_by()
        .annotate(month=TruncMonth("occurred_on"))
        .values("account_id", "month")
        .annotate(n=Count("pk"))
    )
    out: PerMonth = defaultdict(dict)
    for row in rows:
        out[_local_month(row["month"])][row["account_id"]] = [row["n"]]
    return out


def tasks_closed_parts_load(window: Window) -> PerMonth:
    """Tasks done per account and month of completion; one query."""
    start, end = local_midnight(window.start), local_midnight(window.end)
    rows = (
        Task.objects.filter(status=Task.Status.DONE, completed_at__gte=start, completed_at__lt=end)
        .order_by()
        .annotate(month=TruncMonth("completed_at", tzinfo=feedback_time_zone()))
        .values("account_id", "month")
        .annotate(n=Count("pk"))
    )
    out: PerMonth = defaultdict(dict)
    for row in rows:
        out[_local_month(row["month"])][row["account_id"]] = [row["n"]]
    return out


def overdue_tasks_parts_load(window: Window) -> PerMonth:
    """Tasks overdue at each month's end per account (the current month: today, the run's
    day); one query with a conditional count per month.

    At the instant T ending a past month, a task was overdue when it existed (created before
    T), was due before T's day and was not completed before T. Cancelled tasks are left
    out: when they were cancelled is not recorded. Now, it is an open task due before today.
    """
    today = window.today
    aggregates: dict[str, Any] = {}
    for index, month in enumerate(window.read_months):
        if month == window.current:
            condition = Q(status=Task.Status.OPEN, due_date__lt=today)
        else:
            end_day = month_add(month, 1)
            end = local_midnight(end_day)
            condition = (
                Q(created_at__lt=end, due_date__lt=end_day)
                & (Q(status=Task.Status.OPEN) | Q(status=Task.Status.DONE, completed_at__gte=end))
                & (Q(completed_at__isnull=True) | Q(completed_at__gte=end))
            )
        aggregates[f"m{index}"] = Count("pk", filter=condition)
    first_end = local_midnight(month_add(window.start, 1))
    rows = (
        Task.objects.filter(due_date__lt=max(today, window.end))
        .exclude(status=Task.Status.CANCELLED)
        .filter(Q(completed_at__isnull=True) | Q(completed_at__gte=first_end))
        .order_by()
        .values("account_id")
        .annotate(**aggregates)
    )
    out: PerMonth = defaultdict(dict)
    for row in cast(Iterable[dict[str, Any]], rows):
        for index, month in enumerate(window.read_months):
            if row[f"m{index}"]:
                out[month][row["account_id"]] = [row[f"m{index}"]]
    return out


def detractors_open_parts_load(window: Window) -> PerMonth:
    """Follow-ups awaiting contact at each month's end per account (the current month: open
    now); one query with a conditional count per month.

    A follow-up leaves "awaiting contact" when it is contacted or resolved; at a past
    month's end T it was awaiting when created before T and neither happened before T.
    """
    aggregates: dict[str, Any] = {}
    for index, month in enumerate(window.read_months):
        if month == window.current:
            condition = Q(status=FollowUp.Status.OPEN)
        else:
            end = local_midnight(month_add(month, 1))
            condition = (
                Q(created_at__lt=end)
                & (Q(contacted_at__isnull=True) | Q(contacted_at__gte=end))
                & (Q(resolved_at__isnull=True) | Q(resolved_at__gte=end))
            )
        aggregates[f"m{index}"] = Count("pk", filter=condition)
    first_end = local_midnight(month_add(window.start, 1))
    rows = (
        FollowUp.objects.filter(
            Q(status=FollowUp.Status.OPEN)
            | Q(contacted_at__gte=first_end)
            | Q(resolved_at__gte=first_end)
        )
        .order_by()
        .values("answer__account_id")
        .annotate(**aggregates)
    )
    out: PerMonth = defaultdict(dict)
    for row in cast(Iterable[dict[str, Any]], rows):
        for index, month in enumerate(window.read_months):
            if row[f"m{index}"]:
                out[month][row["answer__account_id"]] = [row[f"m{index}"]]
    return out


UsageRaw = dict[int, tuple[int, int, int]]  # account -> (active sum, seats sum, max features)


def usage_raw_load(month: dt.date) -> UsageRaw:
    """Active users and seats summed, and the most key features used on a day, per account
    over one month; one grouped query (the usage day index bounds it to the month)."""
    rows = (
        UsageRecord.objects.filter(day__gte=month, day__lt=month_add(month, 1))
        .order_by()
        .values("account_id")
        .annotate(
            active=Sum("active_users"),
            seats=Sum("licensed_seats"),
            features=Max("key_features_used"),
        )
        .values_list("account_id", "active", "seats", "features")
    )
    return {
        account_id: (active or 0, seats or 0, features or 0)
        for account_id, active, seats, features in rows
    }


def usage_parts(raw: UsageRaw) -> dict[int, list[Number]]:
    """Per account: its usage ratio and adoption ratio, each with a 1 saying it counts."""
    key_features = settings.HEALTH_KEY_FEATURES
    parts: dict[int, list[Number]] = {}
    for account_id, (active, seats, features) in raw.items():
        usage = (active / seats, 1) if seats else (0.0, 0)
        adoption = min(1.0, features / key_features) if key_features else 0.0
        parts[account_id] = [usage[0], usage[1], adoption, 1]
    return parts


def usage_raw_merge(raws: Iterable[UsageRaw]) -> UsageRaw:
    merged: dict[int, tuple[int, int, int]] = {}
    for raw in raws:
        for account_id, (active, seats, features) in raw.items():
            old = merged.get(account_id)
            if old is None:
                merged[account_id] = (active, seats, features)
            else:
                merged[account_id] = (old[0] + active, old[1] + seats, max(old[2], features))
    return merged


def last_scored_days(window: Window) -> dict[dt.date, dt.date]:
    """Month -> its last day with stored scores (up to today); one query per month, each
    one index probe on (day, band)."""
    days: dict[dt.date, dt.date] = {}
    for month in window.read_months:
        until = min(month_last_day(month), window.today)
        last = HealthScore.objects.filter(day__gte=month, day__lte=until).aggregate(
            last=Max("day")
        )["last"]
        if last is not None:
            days[month] = last
    return days


def health_parts(day: dt.date, arr_on_day: Mapping[int, Decimal]) -> dict[int, list[Number]]:
    """Per account scored on the day: its score, 1, and its band's count and ARR slots;
    one query."""
    parts: dict[int, list[Number]] = {}
    rows = HealthScore.objects.filter(day=day).order_by().values_list("account_id", "score", "band")
    for account_id, score, band in rows:
        vector: list[Number] = [score, 1, 0, ZERO, 0, ZERO, 0, ZERO]
        if band in BANDS:
            slot = 2 + 2 * BANDS.index(band)
            vector[slot] = 1
            vector[slot + 1] = arr_on_day.get(account_id, ZERO)
        parts[account_id] = vector
    return parts


def renewal_parts(*, today: dt.date) -> dict[int, list[Number]]:
    """Per live account renewing within 90 days: a count and its ARR for each window it
    falls in (30, 60, 90 days); one query on the renewal-date index."""
    horizon = today + dt.timedelta(days=max(RENEWAL_WINDOWS))
    rows = (
        Account.objects.live()
        .filter(renewal_date__gte=today, renewal_date__lte=horizon)
        .order_by()
        .values_list("id", "renewal_date", "arr")
    )
    parts: dict[int, list[Number]] = {}
    for account_id, renewal_date, arr in rows:
        days = (cast(dt.date, renewal_date) - today).days
        vector: list[Number] = []
        for window in RENEWAL_WINDOWS:
            inside = days <= window
            vector += [1 if inside else 0, arr if inside else ZERO]
        parts[account_id] = vector
    return parts


def renewal_figures(parts: Sequence[Number]) -> dict[str, Figure]:
    figures: dict[str, Figure] = {}
    for index, window in enumerate(RENEWAL_WINDOWS):
        accounts, arr = int(parts[2 * index]), Decimal(parts[2 * index + 1])
        figures[f"renewals_{window}_accounts"] = (Decimal(accounts), accounts)
        figures[f"renewals_{window}_arr"] = (arr, accounts)
    return figures


def latest_scored_day(*, today: dt.date) -> dt.date | None:
    return HealthScore.objects.filter(day__lte=today).aggregate(last=Max("day"))["last"]


# --- The service ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Family:
    """A group of metrics computed from the same per-account parts."""

    name: str
    width: int
    figures: Callable[[Sequence[Number]], dict[str, Figure]]


SCORES = Family("scores", 7, score_figures)
INVITATIONS = Family("invitations", 2, invitation_figures)
INTERACTIONS = Family("interactions", 1, _count_figures("interactions"))
TASKS_CLOSED = Family("tasks_closed", 1, _count_figures("tasks_closed"))
HEALTH = Family("health", 8, health_figures)
OVERDUE_TASKS = Family("overdue_tasks", 1, _count_figures("overdue_tasks"))
DETRACTORS_OPEN = Family("detractors_open", 1, _count_figures("detractors_open"))
USAGE = Family("usage", 4, usage_figures)
RENEWALS = Family("renewals", 2 * len(RENEWAL_WINDOWS), renewal_figures)
# Flows add up over a quarter's months; the others are states (as of the period's end) or,
# for usage, a ratio recomputed per account over the quarter.
QUARTER_FLOWS = (SCORES, INVITATIONS, INTERACTIONS, TASKS_CLOSED)

Row = tuple[dt.date, str, str, str, Decimal | None, int]  # month, scope, key, metric, value, count


def recompute_steps(*, months: int) -> int:
    """How many progress steps a recompute reports: the reads, each month, the write."""
    return 1 + months + 1


def _fold(
    parts: Mapping[int, Sequence[Number]], plan: ScopePlan, width: int
) -> dict[ScopeKey, list[Number]]:
    sums = ScopeSums(plan, width)
    for account_id, vector in parts.items():
        sums.add(account_id, vector)
    return sums.scopes()


class _Rows:
    """The rows of one run, every scope of the plan getting every metric of a family."""

    def __init__(self, plan: ScopePlan) -> None:
        self.keys = sorted(plan.keys)
        self.rows: list[Row] = []

    def add(
        self,
        month: dt.date,
        family: Family,
        scopes: Mapping[ScopeKey, Sequence[Number]],
        *,
        prefix: str = "",
    ) -> None:
        empty = [0] * family.width
        for scope, scope_key in self.keys:
            figures = family.figures(scopes.get((scope, scope_key)) or empty)
            for metric, (value, count) in figures.items():
                self.rows.append((month, scope, scope_key, prefix + metric, value, count))

    def add_figures(
        self, month: dt.date, figures: Mapping[ScopeKey, Mapping[str, Figure]], *, prefix: str
    ) -> None:
        for scope, scope_key in self.keys:
            for metric, (value, count) in figures.get((scope, scope_key), {}).items():
                self.rows.append((month, scope, scope_key, prefix + metric, value, count))


@transaction.atomic
def metric_snapshots_recompute(
    *, today: dt.date, months: int = 13, progress: Progress | None = None
) -> int:
    """Recompute the metric snapshots of the last `months` calendar months up to and
    including today's, and of the quarters overlapping them, for every scope; returns the
    rows computed (written or found unchanged).

    Idempotent: rows are upserted on (month, scope, scope_key, metric), and rows of the
    recomputed months for scopes that no longer exist are deleted, in one transaction.
    """
    step: Progress = progress or (lambda _n: None)
    window = Window.of(today=today, months=months)

    facts = account_facts_load()
    plan = scope_plan_load(facts, today=today)
    per_month: dict[Family, PerMonth] = {
        SCORES: score_parts_load(window),
        INVITATIONS: invitation_parts_load(window),
        INTERACTIONS: interaction_parts_load(window),
        TASKS_CLOSED: tasks_closed_parts_load(window),
        OVERDUE_TASKS: overdue_tasks_parts_load(window),
        DETRACTORS_OPEN: detractors_open_parts_load(window),
    }
    scored_days = last_scored_days(window)
    quarter_ends = [month_add(quarter, 3) for quarter in window.quarters]
    contracts = window_contracts_load(
        first_day=window.quarters[0],
        last_day=quarter_ends[-1] + dt.timedelta(days=RENEWAL_WINDOW_DAYS),
    )
    timeline = arr_timeline(
        contracts, sorted({*window.quarters, *quarter_ends, *scored_days.values()})
    )
    ends = ContractEnds.index(
        contracts, first_day=window.quarters[0], last_day=quarter_ends[-1] - dt.timedelta(days=1)
    )
    step(1)

    rows = _Rows(plan)
    # Kept for the quarters: each month's flows per scope, and its usage per account.
    flows: dict[tuple[Family, dt.date], dict[ScopeKey, list[Number]]] = {}
    usage_raw: dict[dt.date, UsageRaw] = {}
    for month in window.read_months:
        written = month in window.months
        parts: dict[Family, Mapping[int, Sequence[Number]]] = {
            family: loaded.get(month, {}) for family, loaded in per_month.items()
        }
        usage_raw[month] = usage_raw_load(month)
        parts[USAGE] = usage_parts(usage_raw[month])
        if written:
            day = scored_days.get(month)
            parts[HEALTH] = health_parts(day, timeline.arr_on[day]) if day else {}
        for family, by_account in parts.items():
            scopes = _fold(by_account, plan, family.width)
            if family in QUARTER_FLOWS:
                flows[(family, month)] = scopes
            if written:
                rows.add(month, family, scopes)
        if written:
            step(1)

    # Today's lists: the current month only.
    rows.add(window.current, RENEWALS, _fold(renewal_parts(today=today), plan, RENEWALS.width))

    for quarter, quarter_end in zip(window.quarters, quarter_ends, strict=True):
        started = [month for month in quarter_months(quarter) if month in usage_raw]
        for family in QUARTER_FLOWS:
            summed = _sum_scopes((flows[(family, month)] for month in started), family.width)
            rows.add(quarter, family, summed, prefix=QUARTER_PREFIX)
        usage = usage_parts(usage_raw_merge(usage_raw[month] for month in started))
        rows.add(quarter, USAGE, _fold(usage, plan, USAGE.width), prefix=QUARTER_PREFIX)
        retention = _quarter_retention(
            ends, timeline.arr_on, plan, quarter=quarter, quarter_end=quarter_end
        )
        rows.add_figures(
            quarter,
            {key: retention_figures(totals) for key, totals in retention.items()},
            prefix=QUARTER_PREFIX,
        )

    _snapshots_write(
        rows.rows,
        months=window.months,
        quarters=window.quarters,
        scope_keys=plan.keys,
        always=window.current,
    )
    # The health page's trend and movers, the dashboard's falls and the feedback page's
    # answer counts, from the same plan.
    health_rollups_recompute(today=today, plan=plan, facts=facts)
    feedback_rollups_recompute(today=today, plan=plan)
    # Team performance per CSM and period, after the avg_health and quarter rows it reads.
    # Imported here: the rollup works through reports.selectors_team, which imports this
    # module.
    from reports.team_rollups import team_rollups_recompute

    team_rollups_recompute(today=today)
    step(1)
    return len(rows.rows)


def _quarter_retention(
    ends: ContractEnds,
    arr_on: Mapping[dt.date, Mapping[int, Decimal]],
    plan: ScopePlan,
    *,
    quarter: dt.date,
    quarter_end: dt.date,
) -> dict[ScopeKey, MonthTotals]:
    """The quarter's ARR bridge over its own cohort, and its due and renewed contracts, per
    scope: the retention snapshots' rules applied to the quarter as one period."""
    start, end = arr_on[quarter], arr_on[quarter_end]
    movements = MonthMovements.classify(start, end, {})
    due = [row for month in quarter_months(quarter) for row in ends.due_by_month.get(month, ())]
    scopes, _next = month_scopes_compute(movements, due, plan, Openings.on(start, plan))
    return scopes


def _snapshots_write(
    rows: list[Row],
    *,
    months: Sequence[dt.date],
    quarters: Sequence[dt.date],
    scope_keys: Iterable[ScopeKey],
    always: dt.date,
) -> None:
    """Delete the recomputed months' rows of vanished scopes, then upsert what changed.

    Most rows of past months come out the same every night; comparing them with what is
    stored (one read) and writing only the changes turns a 250,000-row upsert (~40 s on the
    50,000-account demo) into a few thousand. The current month's company rows are always
    written, so their computed_at says when the snapshots last ran.
    """
    keys_by_scope: dict[str, list[str]] = defaultdict(list)
    for scope, scope_key in scope_keys:
        keys_by_scope[scope].append(scope_key)
    keep = Q()
    for scope, keys in keys_by_scope.items():
        keep |= Q(scope=scope, scope_key__in=keys)
    recomputed = MetricSnapshot.objects.filter(
        Q(month__in=months) | Q(month__in=quarters, metric__startswith=QUARTER_PREFIX)
    )
    recomputed.exclude(keep).delete()
    stored = {
        (month, scope, scope_key, metric): (value, count)
        for month, scope, scope_key, metric, value, count in recomputed.order_by().values_list(
            "month", "scope", "scope_key", "metric", "value", "count"
        )
    }
    changed = [
        MetricSnapshot(
            month=month, scope=scope, scope_key=scope_key, metric=metric, value=value, count=count
        )
        for month, scope, scope_key, metric, value, count in rows
        if stored.get((month, scope, scope_key, metric)) != (value, count)
        or (month == always and scope == Scope.COMPANY)
    ]
    MetricSnapshot.objects.bulk_create(
        changed,
        batch_size=UPSERT_BATCH,
        update_conflicts=True,
        unique_fields=["month", "scope", "scope_key", "metric"],
        update_fields=["value", "count", "computed_at"],
    )
