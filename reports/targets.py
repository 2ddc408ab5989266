"""Periods, period actuals and target evaluation: pure functions, no database.

A target is met when the actual is on the right side of its value, the boundary included
(NRR 110.0 against "at least 110" is on track). The actual is compared as it is shown, rounded
to 0.1, so the pill never contradicts the number beside it.

How a month, quarter or year gets one actual from the monthly snapshots (PRODUCT.md
section 3: quarters and years are the cohort of their first day):

- Retention rates (NRR, GRR, logo churn) take the ARR and accounts at the period's first day
  and every month's movements summed; renewal rates sum every month's due and renewed
  contracts. Accounts that arrive during the period count from their arrival.
- NPS, CSAT and CES combine months weighted by their answers: NPS x answers is 100 x
  (promoters - detractors), which adds up across months, so the combination is the score of
  all the period's answers together.
- Levels (average health, ARR at risk) are those of the last month of the period that has
  data, and the basis says which month that is.
- Activity per week is the period's count over its weeks, up to today for a period still
  running.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Protocol

from health import retention_rates
from reports.models import Metric, Target

TENTH = Decimal("0.1")
ZERO = Decimal("0")
SEVEN = Decimal("7")


def quantise(value: Decimal | None, places: Decimal = TENTH) -> Decimal | None:
    if value is None:
        return None
    return value.quantize(places, rounding=ROUND_HALF_UP)


# --- Calendar periods --------------------------------------------------------------------


def month_add(month: dt.date, count: int) -> dt.date:
    """The first day of the month `count` months after (or before) `month`'s."""
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


MONTHS_IN: dict[str, int] = {
    Target.Period.MONTH: 1,
    Target.Period.QUARTER: 3,
    Target.Period.YEAR: 12,
}

_KEY_PATTERNS = (
    (Target.Period.QUARTER, re.compile(r"^(?P<year>\d{4})-Q(?P<index>[1-4])$")),
    (Target.Period.MONTH, re.compile(r"^(?P<year>\d{4})-(?P<index>0[1-9]|1[0-2])$")),
    (Target.Period.YEAR, re.compile(r"^(?P<year>\d{4})$")),
)


def period_start_of(kind: str, *, year: int, index: int = 1) -> dt.date:
    """The first day of month `index` (1-12), quarter `index` (1-4) or the year."""
    if kind == Target.Period.MONTH:
        if not 1 <= index <= 12:
            raise ValueError("A month is 1 to 12.")
        return dt.date(year, index, 1)
    if kind == Target.Period.QUARTER:
        if not 1 <= index <= 4:
            raise ValueError("A quarter is 1 to 4.")
        return dt.date(year, 3 * (index - 1) + 1, 1)
    if kind == Target.Period.YEAR:
        return dt.date(year, 1, 1)
    raise ValueError(f"Unknown period {kind!r}.")


def is_period_start(kind: str, day: dt.date) -> bool:
    """Whether `day` is the first day of a month, quarter or year (as `kind` says)."""
    if kind not in MONTHS_IN or day.day != 1:
        return False
    return (day.month - 1) % MONTHS_IN[kind] == 0


@dataclass(frozen=True, order=True)
class ReportPeriod:
    """A calendar month, quarter or year: [start, end) in local days."""

    start: dt.date
    kind: str = Target.Period.MONTH

    def __post_init__(self) -> None:
        if not is_period_start(self.kind, self.start):
            raise ValueError(f"{self.start} does not start a {self.kind}.")

    @classmethod
    def containing(cls, kind: str, day: dt.date) -> ReportPeriod:
        size = MONTHS_IN[kind]
        return cls(dt.date(day.year, (day.month - 1) // size * size + 1, 1), kind)

    @classmethod
    def parse(cls, key: str) -> ReportPeriod:
        """ "2026-06", "2026-Q2" or "2026"; ValueError otherwise."""
        for kind, pattern in _KEY_PATTERNS:
            match = pattern.match(key.strip())
            if match:
                year = int(match["year"])
                if year < 1900:
                    break
                index = int(match.groupdict().get("index") or 1)
                return cls(period_start_of(kind, year=year, index=index), kind)
        raise ValueError(f"{key!r} is not a month (2026-06), a quarter (2026-Q2) or a year.")

    @property
    def size(self) -> int:
        return MONTHS_IN[self.kind]

    @property
    def end(self) -> dt.date:
        """The first day after the period."""
        return month_add(self.start, self.size)

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def months(self) -> list[dt.date]:
        return [month_add(self.start, offset) for offset in range(self.size)]

    @property
    def key(self) -> str:
        if self.kind == Target.Period.QUARTER:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == Target.Period.YEAR:
            return str(self.start.year)
        return f"{self.start:%Y-%m}"

    @property
    def label(self) -> str:
        """ "Jun 2026", "Q2 2026" or "2026"."""
        if self.kind == Target.Period.QUARTER:
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        if self.kind == Target.Period.YEAR:
            return str(self.start.year)
        return f"{self.start:%b %Y}"

    def previous(self) -> ReportPeriod:
        return ReportPeriod(month_add(self.start, -self.size), self.kind)

    def year_before(self) -> ReportPeriod:
        return ReportPeriod(month_add(self.start, -12), self.kind)

    def contains(self, day: dt.date) -> bool:
        return self.start <= day < self.end

    def months_until(self, today: dt.date) -> list[dt.date]:
        """The period's months that have started by `today`."""
        return [month for month in self.months if month <= today]

    def days_until(self, today: dt.date) -> int:
        """Days of the period up to and including today (all of them once it is over)."""
        if today < self.start:
            return 0
        return (min(today, self.last_day) - self.start).days + 1

    def weeks_until(self, today: dt.date) -> Decimal:
        return Decimal(self.days_until(today)) / SEVEN

    def enclosing(self) -> list[ReportPeriod]:
        """This period and the longer ones around it, shortest first: a month's quarter
        and year, a quarter's year."""
        kinds = [kind for kind in MONTHS_IN if MONTHS_IN[kind] >= self.size]
        return [ReportPeriod.containing(kind, self.start) for kind in kinds]


def months_label(months: Sequence[dt.date]) -> str:
    """ "Jun 2026", or "Apr–Jun 2026", or "Nov 2025–Jan 2026"."""
    if not months:
        return ""
    first, last = months[0], months[-1]
    if first == last:
        return f"{first:%b %Y}"
    if first.year == last.year:
        return f"{first:%b}–{last:%b %Y}"
    return f"{first:%b %Y}–{last:%b %Y}"


# --- Target evaluation -------------------------------------------------------------------


class Status(StrEnum):
    ON_TRACK = "on_track"
    OFF_TRACK = "off_track"
    NO_DATA = "no_data"

    @property
    def label(self) -> str:
        return {"on_track": "On track", "off_track": "Off track", "no_data": "No data"}[self]


def target_status(*, direction: str, target: Decimal, actual: Decimal | None) -> Status:
    """On track when the actual is on the target's side of its value, the value included."""
    if actual is None:
        return Status.NO_DATA
    if direction == Target.Direction.AT_MOST:
        return Status.ON_TRACK if actual <= target else Status.OFF_TRACK
    return Status.ON_TRACK if actual >= target else Status.OFF_TRACK


def direction_symbol(direction: str) -> str:
    return "≤" if direction == Target.Direction.AT_MOST else "≥"


# Metrics where less is better: the default direction of a new target, and how an
# initiative's difference reads.
LOWER_IS_BETTER = frozenset({Metric.LOGO_CHURN, Metric.ARR_AT_RISK})

RETENTION_METRICS = frozenset(
    {
        Metric.NRR,
        Metric.GRR,
        Metric.LOGO_CHURN,
        Metric.RENEWAL_RATE,
        Metric.RENEWAL_RATE_ARR,
        Metric.ARR_AT_RISK,
    }
)
# MetricSnapshot.metric names the nightly job writes for the other metrics.
SNAPSHOT_NAMES: dict[str, str] = {
    Metric.NPS: "nps",
    Metric.CSAT: "csat",
    Metric.CES: "ces",
    Metric.AVG_HEALTH: "avg_health",
    Metric.INTERACTIONS_PER_WEEK: "interactions",
    Metric.TASKS_CLOSED_PER_WEEK: "tasks_closed",
}
ANSWER_WEIGHTED = frozenset({Metric.NPS, Metric.CSAT, Metric.CES})
PER_WEEK = frozenset({Metric.INTERACTIONS_PER_WEEK, Metric.TASKS_CLOSED_PER_WEEK})
LEVELS = frozenset({Metric.AVG_HEALTH, Metric.ARR_AT_RISK})


def metric_label(metric: str) -> str:
    try:
        return str(Metric(metric).label)
    except ValueError:
        return metric


def metric_is_money(metric: str) -> bool:
    return metric == Metric.ARR_AT_RISK


def format_value(metric: str, value: Decimal | None) -> str:
    """A metric's value as the pages print it: "110.0 %", "31.0", "$12,500"."""
    if value is None:
        return "—"
    if metric_is_money(metric):
        return f"${value:,.0f}"
    text = f"{value:,.1f}"
    if metric in {
        Metric.NRR,
        Metric.GRR,
        Metric.LOGO_CHURN,
        Metric.RENEWAL_RATE,
        Metric.RENEWAL_RATE_ARR,
        Metric.CSAT,
    }:
        return f"{text} %"
    return text


# --- Period actuals from monthly snapshots -----------------------------------------------


class RetentionRow(Protocol):
    """A RetentionSnapshot, or anything with its month and additive fields."""

    month: dt.date
    cohort_accounts: int
    churned_accounts: int
    start_arr: Decimal
    expansion_arr: Decimal
    contraction_arr: Decimal
    churned_arr: Decimal
    contracts_due: int
    contracts_renewed: int
    due_arr: Decimal
    renewed_arr: Decimal
    arr_at_risk: Decimal


class SnapshotRow(Protocol):
    """A MetricSnapshot, or anything with its month, value and count."""

    month: dt.date
    value: Decimal | None
    count: int


# The parts of a quarter's own bridge (MetricSnapshot rows "quarter:<part>").
QUARTER_PARTS = (
    "start_arr",
    "expansion_arr",
    "contraction_arr",
    "churned_arr",
    "due_arr",
    "renewed_arr",
)


@dataclass
class PeriodRetention:
    """A period's retention figures from its months: the cohort of its first month, every
    month's movements and renewals summed, ARR at risk of its last month."""

    cohort_accounts: int = 0
    churned_accounts: int = 0
    start_arr: Decimal = ZERO
    expansion_arr: Decimal = ZERO
    contraction_arr: Decimal = ZERO
    churned_arr: Decimal = ZERO
    contracts_due: int = 0
    contracts_renewed: int = 0
    due_arr: Decimal = ZERO
    renewed_arr: Decimal = ZERO
    arr_at_risk: Decimal | None = None
    months: tuple[dt.date, ...] = ()

    @classmethod
    def of(cls, rows: Iterable[RetentionRow]) -> PeriodRetention:
        ordered = sorted(rows, key=lambda row: row.month)
        figures = cls()
        if not ordered:
            return figures
        figures.cohort_accounts = ordered[0].cohort_accounts
        figures.start_arr = Decimal(ordered[0].start_arr)
        for row in ordered:
            figures.churned_accounts += row.churned_accounts
            figures.expansion_arr += Decimal(row.expansion_arr)
            figures.contraction_arr += Decimal(row.contraction_arr)
            figures.churned_arr += Decimal(row.churned_arr)
            figures.contracts_due += row.contracts_due
            figures.contracts_renewed += row.contracts_renewed
            figures.due_arr += Decimal(row.due_arr)
            figures.renewed_arr += Decimal(row.renewed_arr)
        figures.arr_at_risk = Decimal(ordered[-1].arr_at_risk)
        figures.months = tuple(row.month for row in ordered)
        return figures

    @classmethod
    def of_quarter(
        cls, parts: Mapping[str, SnapshotRow], months: Sequence[RetentionRow]
    ) -> PeriodRetention | None:
        """A quarter's own bridge, from the quarter rows the nightly job writes on its first
        month (reports.snapshots: "start_arr" with its cohort as count, and so on); ARR at
        risk from its last month. None when the quarter rows are not there."""
        if any(name not in parts for name in QUARTER_PARTS):
            return None

        def amount(name: str) -> Decimal:
            return Decimal(parts[name].value or 0)

        ordered = sorted(months, key=lambda row: row.month)
        return cls(
            cohort_accounts=parts["start_arr"].count,
            churned_accounts=parts["churned_arr"].count,
            start_arr=amount("start_arr"),
            expansion_arr=amount("expansion_arr"),
            contraction_arr=amount("contraction_arr"),
            churned_arr=amount("churned_arr"),
            contracts_due=parts["due_arr"].count,
            contracts_renewed=parts["renewed_arr"].count,
            due_arr=amount("due_arr"),
            renewed_arr=amount("renewed_arr"),
            arr_at_risk=Decimal(ordered[-1].arr_at_risk) if ordered else None,
            months=tuple(row.month for row in ordered) or (parts["start_arr"].month,),
        )

    def rate(self, metric: str) -> Decimal | None:
        if not self.months:
            return None
        if metric == Metric.NRR:
            return retention_rates.nrr(self)
        if metric == Metric.GRR:
            return retention_rates.grr(self)
        if metric == Metric.LOGO_CHURN:
            return retention_rates.logo_churn_rate(self)
        if metric == Metric.RENEWAL_RATE:
            return retention_rates.renewal_rate_count(self)
        if metric == Metric.RENEWAL_RATE_ARR:
            return retention_rates.renewal_rate_arr(self)
        if metric == Metric.ARR_AT_RISK:
            return (
                quantise(self.arr_at_risk, Decimal("1")) if self.arr_at_risk is not None else None
            )
        raise ValueError(f"{metric} is not a retention metric.")


@dataclass(frozen=True)
class Actual:
    """A period's value of one metric, and what it rests on, in words."""

    value: Decimal | None
    basis: str = ""


def retention_actual(
    metric: str,
    rows: Iterable[RetentionRow],
    *,
    period: ReportPeriod,
    today: dt.date,
    quarter_parts: Mapping[str, SnapshotRow] | None = None,
) -> Actual:
    """The period's rate from its monthly RetentionSnapshot rows; for a quarter, from its
    own cohort's bridge (`quarter_parts`) when the nightly job has written it."""
    months = set(period.months_until(today))
    in_period = [row for row in rows if row.month in months]
    if period.kind == Target.Period.QUARTER and quarter_parts:
        quarter = PeriodRetention.of_quarter(quarter_parts, in_period)
        if quarter is not None and metric != Metric.ARR_AT_RISK:
            value = quarter.rate(metric)
            if value is None:
                return Actual(None, "no data for the period")
            so_far = " so far" if period.contains(today) else ""
            return Actual(value, f"{period.label}{so_far}, the quarter's own cohort")
    figures = PeriodRetention.of(in_period)
    value = figures.rate(metric)
    if value is None:
        return Actual(None, "no data for the period")
    if metric == Metric.ARR_AT_RISK:
        return Actual(value, _level_basis(period, figures.months[-1]))
    basis = _span_basis(period, list(figures.months), today)
    if period.size > 1:
        basis += ": the first month's cohort, every month's movements"
    return Actual(value, basis)


def snapshot_actual(
    metric: str, rows: Iterable[SnapshotRow], *, period: ReportPeriod, today: dt.date
) -> Actual:
    """NPS / CSAT / CES weighted by answers, levels from the last month with data, activity
    per week over the period's weeks so far."""
    months = set(period.months_until(today))
    usable = sorted(
        (row for row in rows if row.month in months and row.value is not None),
        key=lambda row: row.month,
    )
    if not usable:
        return Actual(None, "no data for the period")
    if metric in ANSWER_WEIGHTED:
        answered = [row for row in usable if row.count > 0]
        answers = sum(row.count for row in answered)
        if not answers:
            return Actual(None, "no answers in the period")
        weighted = sum((Decimal(row.value or 0) * row.count for row in answered), ZERO)
        basis = _span_basis(period, [row.month for row in answered], today)
        return Actual(quantise(weighted / answers), f"{basis}, {answers} answers")
    if metric in PER_WEEK:
        weeks = period.weeks_until(today)
        if not weeks:
            return Actual(None, "the period has not started")
        total = sum((Decimal(row.value or 0) for row in usable), ZERO)
        return Actual(
            quantise(total / weeks), _span_basis(period, period.months_until(today), today)
        )
    last = usable[-1]
    return Actual(quantise(Decimal(last.value or 0)), _level_basis(period, last.month))


def _span_basis(period: ReportPeriod, months: Sequence[dt.date], today: dt.date) -> str:
    if period.size == 1:
        return f"{period.label} so far" if period.contains(today) else period.label
    text = months_label(months)
    return f"{text} so far" if period.contains(today) else text


def _level_basis(period: ReportPeriod, month: dt.date) -> str:
    if period.size == 1:
        return period.label
    return f"as of {month:%b %Y}, the last month with data"


# --- Which target applies ----------------------------------------------------------------


@dataclass(frozen=True)
class TargetCheck:
    """A target applied to one actual."""

    target: Target
    actual: Decimal | None
    status: Status
    # "CSM", "team" or "company": where the target was set.
    source: str

    @property
    def text(self) -> str:
        symbol = direction_symbol(self.target.direction)
        return f"{symbol} {format_value(self.target.metric, self.target.value)}"


SCOPE_PRECEDENCE = ("csm", "team", "company")


def target_for(
    targets: Iterable[Target],
    *,
    metric: str,
    period: ReportPeriod,
    scope_keys: Mapping[str, str],
) -> tuple[Target, str] | None:
    """The target that applies to one metric of one CSM over `period`: set for the CSM
    before one for their team before one for the company; for a scope, a target of this
    very period before one of the quarter or year around it (a year's "NPS >= 40" is a
    bar every month of it should clear)."""
    enclosing = {(p.kind, p.start): rank for rank, p in enumerate(period.enclosing())}
    best: tuple[int, int, Target, str] | None = None
    for target in targets:
        if target.metric != metric:
            continue
        period_rank = enclosing.get((target.period, target.period_start))
        if period_rank is None:
            continue
        for scope_rank, scope in enumerate(SCOPE_PRECEDENCE):
            if target.scope == scope and target.scope_key == scope_keys.get(scope):
                candidate = (scope_rank, period_rank, target, scope)
                if best is None or candidate[:2] < best[:2]:
                    best = candidate
    if best is None:
        return None
    return best[2], best[3]


def target_check(
    targets: Iterable[Target],
    *,
    metric: str,
    period: ReportPeriod,
    scope_keys: Mapping[str, str],
    actual: Decimal | None,
) -> TargetCheck | None:
    found = target_for(targets, metric=metric, period=period, scope_keys=scope_keys)
    if found is None:
        return None
    target, source = found
    status = target_status(direction=target.direction, target=target.value, actual=actual)
    return TargetCheck(target=target, actual=actual, status=status, source=source)
