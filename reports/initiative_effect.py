"""An initiative's effect, read against a comparison group: the metric for the initiative's
segment before and after the start, beside the same metric for the rest of the portfolio
over the same months, and the difference-in-differences of the two.

    effect = (segment after - segment before) - (rest after - rest before)

If the whole portfolio moved (a price change, a season), the rest moved too and the
difference takes it out; what remains is what changed in the segment beyond that.

The windows, in whole calendar months:
- before: the BEFORE_MONTHS months before the month the initiative started in;
- after: from the first whole month after the start (the start's own month when it starts
  on the 1st; a month started mid-way belongs to neither window) to the month it ended in,
  or to the last complete month while it runs or if it ends later. The running month is
  never used: its numbers are not final.

Each group's value over a window pools its months: the sum of their numerators over the sum
of their denominators (an NPS over all the window's answers, an NRR over all the window's
opening ARR). Monthly rates, not a quarter's cumulative rate, so a 3-month window and a
5-month window compare.

The rest of the portfolio is the company minus the segment. Retention parts, health sums
and activity counts are additive, so rest = company - segment, month by month, from the
snapshots (RetentionSnapshot, MetricSnapshot with scope "segment" and scope_key = segment
id). Survey scores are counted directly from the answers, the segment's and everyone
else's in one grouped query by month: answer counts are not in the snapshots, and a
difference of rounded scores would not be exact.

Pure computation first (effect_windows, effect_compute: unit-tested by hand), the database
reads after, then `initiative_effect(initiative=..., today=...)`, which the initiative page
and the monthly report call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import BooleanField, Case, Count, Q, Sum, Value, When
from django.db.models.functions import TruncMonth

from accounts.selectors.segments import segment_accounts
from feedback.metrics import (
    CSAT_SATISFIED,
    DETRACTOR,
    PROMOTER,
    feedback_time_zone,
    local_midnight,
)
from feedback.models import Survey, SurveyAnswer
from health.models import RetentionSnapshot
from reports.models import Initiative, Metric, MetricSnapshot, Scope
from reports.targets import (
    LOWER_IS_BETTER,
    SNAPSHOT_NAMES,
    format_value,
    metric_label,
    month_add,
    months_label,
    quantise,
)

BEFORE_MONTHS = 3
# The chart shows this many months before the start, and after the end.
CHART_MONTHS_BEFORE = 6
CHART_MONTHS_AFTER_END = 3

ZERO = Decimal("0")
HUNDRED = Decimal("100")
SEVEN = Decimal("7")

PERCENT_OF_RATIO = frozenset(
    {Metric.NRR, Metric.GRR, Metric.LOGO_CHURN, Metric.RENEWAL_RATE, Metric.RENEWAL_RATE_ARR}
)
SURVEY_KINDS: dict[str, str] = {
    Metric.NPS: Survey.Kind.NPS,
    Metric.CSAT: Survey.Kind.CSAT,
    Metric.CES: Survey.Kind.CES,
}
# Denominators that are time (weeks of a month, one month), not a count of the group's
# accounts or answers: the rest of the portfolio has the same weeks as the company.
TIME_DENOMINATOR = frozenset(
    {Metric.INTERACTIONS_PER_WEEK, Metric.TASKS_CLOSED_PER_WEEK, Metric.ARR_AT_RISK}
)


@dataclass(frozen=True)
class Ratio:
    """A monthly figure as numerator / denominator, so months and groups add up exactly."""

    numerator: Decimal
    denominator: Decimal

    def __add__(self, other: Ratio) -> Ratio:
        return Ratio(self.numerator + other.numerator, self.denominator + other.denominator)

    def minus(self, other: Ratio, *, time_denominator: bool = False) -> Ratio:
        """This group without `other` (a subgroup): the company less the segment."""
        if time_denominator:
            return Ratio(self.numerator - other.numerator, self.denominator)
        return Ratio(self.numerator - other.numerator, self.denominator - other.denominator)

    def value(self, metric: str) -> Decimal | None:
        if self.denominator <= 0:
            return None
        value = self.numerator / self.denominator
        if metric in PERCENT_OF_RATIO:
            value *= HUNDRED
        if metric == Metric.GRR:
            value = min(value, HUNDRED)
        return quantise(value, Decimal("1") if metric == Metric.ARR_AT_RISK else Decimal("0.1"))


def pooled(ratios: Iterable[Ratio | None]) -> Ratio | None:
    """The sum of the months that have a figure; None when none has."""
    total: Ratio | None = None
    for ratio in ratios:
        if ratio is None:
            continue
        total = ratio if total is None else total + ratio
    return total


# --- Windows -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectWindows:
    start_month: dt.date
    before: list[dt.date]
    after: list[dt.date]
    # First full month after the start: the one the page waits for when `after` is empty.
    first_after: dt.date
    chart: list[dt.date]

    @property
    def span(self) -> list[dt.date]:
        """Every month a figure is needed for, oldest first."""
        return sorted({*self.before, *self.after, *self.chart})


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    out = []
    month = first
    while month <= last:
        out.append(month)
        month = month_add(month, 1)
    return out


def effect_windows(
    *, start_date: dt.date, end_date: dt.date | None, today: dt.date
) -> EffectWindows:
    start_month = start_date.replace(day=1)
    first_after = start_month if start_date.day == 1 else month_add(start_month, 1)
    last_complete = month_add(today.replace(day=1), -1)
    after_last = last_complete
    if end_date is not None:
        after_last = min(after_last, end_date.replace(day=1))
    chart_last = last_complete
    if end_date is not None:
        chart_last = min(chart_last, month_add(end_date.replace(day=1), CHART_MONTHS_AFTER_END))
    return EffectWindows(
        start_month=start_month,
        before=_months(month_add(start_month, -BEFORE_MONTHS), month_add(start_month, -1)),
        after=_months(first_after, after_last),
        first_after=first_after,
        chart=_months(month_add(start_month, -CHART_MONTHS_BEFORE), chart_last),
    )


# --- The effect --------------------------------------------------------------------------


@dataclass(frozen=True)
class InitiativeEffect:
    metric: str
    metric_label: str
    segment_name: str
    start_date: dt.date
    end_date: dt.date | None
    windows: EffectWindows
    # The chart: one value per month of windows.chart for each group (None: no data).
    segment_series: list[Decimal | None]
    rest_series: list[Decimal | None]
    segment_before: Decimal | None
    segment_after: Decimal | None
    rest_before: Decimal | None
    rest_after: Decimal | None
    difference_in_differences: Decimal | None
    lower_is_better: bool
    sentence: str

    @property
    def months(self) -> list[dt.date]:
        return self.windows.chart

    @property
    def before_label(self) -> str:
        return months_label(self.windows.before)

    @property
    def after_label(self) -> str:
        return months_label(self.windows.after)

    @property
    def segment_change(self) -> Decimal | None:
        return _change(self.segment_before, self.segment_after)

    @property
    def rest_change(self) -> Decimal | None:
        return _change(self.rest_before, self.rest_after)

    @property
    def favours_segment(self) -> bool | None:
        """Whether the segment did better than the rest (lower is better for churn and risk)."""
        did = self.difference_in_differences
        if not did:
            return None
        return (did < 0) if self.lower_is_better else (did > 0)

    def text(self, value: Decimal | None) -> str:
        return short_value(self.metric, value)


def effect_texts(effect: InitiativeEffect) -> dict[str, str]:
    """The effect's numbers as the page and the report print them."""
    metric = effect.metric

    def change(value: Decimal | None) -> str:
        return "—" if value is None else signed(metric, value)

    return {
        "segment_before": short_value(metric, effect.segment_before),
        "segment_after": short_value(metric, effect.segment_after),
        "segment_change": change(effect.segment_change),
        "rest_before": short_value(metric, effect.rest_before),
        "rest_after": short_value(metric, effect.rest_after),
        "rest_change": change(effect.rest_change),
        "did": change(effect.difference_in_differences),
    }


def _change(before: Decimal | None, after: Decimal | None) -> Decimal | None:
    if before is None or after is None:
        return None
    return after - before


def short_value(metric: str, value: Decimal | None) -> str:
    """ "31", "12.5", "110.5 %", "$12,000": whole numbers without their ".0"."""
    if value is None:
        return "—"
    if metric == Metric.ARR_AT_RISK:
        return format_value(metric, value)
    text = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.1f}"
    # A typographic minus, the same as in the signed changes beside it.
    text = text.replace("-", "−")
    return f"{text} %" if metric in PERCENT_OF_RATIO or metric == Metric.CSAT else text


def signed(metric: str, value: Decimal) -> str:
    """A change: "+17", "−2.5 pts" (a change of a percentage is in points), "+$4,000"."""
    text = short_value(metric, abs(value)).replace(" %", " pts")
    if value > 0:
        return f"+{text}"
    if value < 0:
        return f"−{text}"
    return text


def sentence_label(metric: str) -> str:
    """The metric's name inside a sentence: "NRR", "Renewal rate (count)", "CSAT"."""
    return metric_label(metric).replace(" %", "")


def _movement(metric: str, before: Decimal, after: Decimal, *, verb_same: str) -> str:
    if after > before:
        verb = "rose"
    elif after < before:
        verb = "fell"
    else:
        return f"{verb_same} {short_value(metric, after)}"
    return f"{verb} from {short_value(metric, before)} to {short_value(metric, after)}"


def effect_sentence(
    *,
    metric: str,
    segment_name: str,
    start_date: dt.date,
    today: dt.date,
    windows: EffectWindows,
    segment_before: Decimal | None,
    segment_after: Decimal | None,
    rest_before: Decimal | None,
    rest_after: Decimal | None,
    did: Decimal | None,
) -> str:
    label = sentence_label(metric)
    if start_date > today:
        return (
            f"The initiative starts on {start_date.day} {start_date:%b %Y}; its effect can be "
            f"read after its first full month, {windows.first_after:%b %Y}."
        )
    if not windows.after:
        return (
            f"No full month after the start yet: the first is {windows.first_after:%b %Y}, "
            "readable once it is over."
        )
    missing = []
    if segment_before is None:
        missing.append(f"no {label} for {segment_name} before the start")
    if segment_after is None:
        missing.append(f"no {label} for {segment_name} after the start")
    if rest_before is None or rest_after is None:
        missing.append(f"no {label} for the rest of the portfolio in one of the windows")
    if (
        missing
        or did is None
        or segment_before is None
        or segment_after is None
        or rest_before is None
        or rest_after is None
    ):
        return "Not enough data to compare: " + "; ".join(missing) + "."
    segment = _movement(metric, segment_before, segment_after, verb_same="stayed at")
    rest = _movement(metric, rest_before, rest_after, verb_same="stayed at")
    rest = rest.replace("rose from", "moved from").replace("fell from", "moved from")
    sentence = (
        f"{label} in {segment_name} {segment} after the start while the rest {rest}: "
        f"a difference-in-differences of {signed(metric, did)}."
    )
    if did == 0:
        return sentence + " The segment moved just like the rest of the portfolio."
    lower = metric in LOWER_IS_BETTER
    favours = (did < 0) if lower else (did > 0)
    better = "lower" if lower else "higher"
    side = "in the segment's favour" if favours else "against the segment"
    return sentence + f" {better.capitalize()} is better for {label}, so this is {side}."


def effect_compute(
    *,
    metric: str,
    segment_name: str,
    start_date: dt.date,
    end_date: dt.date | None,
    today: dt.date,
    segment: Mapping[dt.date, Ratio],
    rest: Mapping[dt.date, Ratio],
) -> InitiativeEffect:
    """The effect from each group's monthly ratios; months missing from a mapping have no
    data. Before / after values are rounded to 0.1 first, so the difference-in-differences
    in the sentence is the one a reader works out from the four numbers beside it."""
    windows = effect_windows(start_date=start_date, end_date=end_date, today=today)

    def window_value(series: Mapping[dt.date, Ratio], months: Sequence[dt.date]) -> Decimal | None:
        total = pooled(series.get(month) for month in months)
        return total.value(metric) if total is not None else None

    def month_value(series: Mapping[dt.date, Ratio], month: dt.date) -> Decimal | None:
        ratio = series.get(month)
        return ratio.value(metric) if ratio is not None else None

    segment_before = window_value(segment, windows.before)
    segment_after = window_value(segment, windows.after) if windows.after else None
    rest_before = window_value(rest, windows.before)
    rest_after = window_value(rest, windows.after) if windows.after else None
    did = None
    if None not in (segment_before, segment_after, rest_before, rest_after):
        did = (segment_after - segment_before) - (rest_after - rest_before)  # type: ignore[operator]
    return InitiativeEffect(
        metric=metric,
        metric_label=metric_label(metric),
        segment_name=segment_name,
        start_date=start_date,
        end_date=end_date,
        windows=windows,
        segment_series=[month_value(segment, month) for month in windows.chart],
        rest_series=[month_value(rest, month) for month in windows.chart],
        segment_before=segment_before,
        segment_after=segment_after,
        rest_before=rest_before,
        rest_after=rest_after,
        difference_in_differences=did,
        lower_is_better=metric in LOWER_IS_BETTER,
        sentence=effect_sentence(
            metric=metric,
            segment_name=segment_name,
            start_date=start_date,
            today=today,
            windows=windows,
            segment_before=segment_before,
            segment_after=segment_after,
            rest_before=rest_before,
            rest_after=rest_after,
            did=did,
        ),
    )


# --- Monthly ratios from rows ------------------------------------------------------------


def retention_ratio(metric: str, row: Any) -> Ratio:
    """One month's figure from a RetentionSnapshot's additive parts."""
    start = Decimal(row.start_arr)
    if metric == Metric.NRR:
        kept = start + row.expansion_arr - row.contraction_arr - row.churned_arr
        return Ratio(Decimal(kept), start)
    if metric == Metric.GRR:
        return Ratio(Decimal(start - row.contraction_arr - row.churned_arr), start)
    if metric == Metric.LOGO_CHURN:
        return Ratio(Decimal(row.churned_accounts), Decimal(row.cohort_accounts))
    if metric == Metric.RENEWAL_RATE:
        return Ratio(Decimal(row.contracts_renewed), Decimal(row.contracts_due))
    if metric == Metric.RENEWAL_RATE_ARR:
        return Ratio(Decimal(row.renewed_arr), Decimal(row.due_arr))
    if metric == Metric.ARR_AT_RISK:
        return Ratio(Decimal(row.arr_at_risk), Decimal(1))
    raise ValueError(f"{metric} is not a retention metric.")


def snapshot_ratio(metric: str, row: Any) -> Ratio | None:
    """One month's figure from a MetricSnapshot: average health weighted by the accounts it
    averages (count), activity as a count over the month's weeks."""
    if row.value is None:
        return None
    if metric in (Metric.INTERACTIONS_PER_WEEK, Metric.TASKS_CLOSED_PER_WEEK):
        days = (month_add(row.month, 1) - row.month).days
        return Ratio(Decimal(row.value), Decimal(days) / SEVEN)
    if not row.count:
        return None
    return Ratio(Decimal(row.value) * row.count, Decimal(row.count))


def survey_ratio(metric: str, counts: Mapping[str, Any]) -> Ratio:
    """NPS x answers = 100 x (promoters - detractors); CSAT x answers = 100 x satisfied;
    CES x answers = the sum of scores: each adds up across groups and months."""
    answers = Decimal(counts["answers"])
    if metric == Metric.NPS:
        return Ratio(HUNDRED * (counts["promoters"] - counts["detractors"]), answers)
    if metric == Metric.CSAT:
        return Ratio(HUNDRED * counts["satisfied"], answers)
    return Ratio(Decimal(counts["score_sum"] or 0), answers)


def split_company(
    metric: str,
    company: Mapping[dt.date, Ratio],
    segment: Mapping[dt.date, Ratio],
) -> dict[dt.date, Ratio]:
    """The rest of the portfolio, month by month: company minus segment. A month the
    segment has no figure for has no rest either (its members would be counted as rest)."""
    time = metric in TIME_DENOMINATOR
    return {
        month: ratio.minus(segment[month], time_denominator=time)
        for month, ratio in company.items()
        if month in segment
    }


# --- Reads -------------------------------------------------------------------------------


def _segment_key(initiative: Initiative) -> str:
    return str(initiative.segment_id)


def _snapshot_series(
    initiative: Initiative, months: Sequence[dt.date]
) -> tuple[dict[dt.date, Ratio], dict[dt.date, Ratio]]:
    """(segment, rest) from the snapshots of the company and the segment; one query."""
    metric = initiative.metric
    key = _segment_key(initiative)
    company: dict[dt.date, Ratio] = {}
    segment: dict[dt.date, Ratio] = {}
    if metric in SNAPSHOT_NAMES:
        rows: Iterable[Any] = MetricSnapshot.objects.filter(
            Q(scope=Scope.COMPANY, scope_key="") | Q(scope=Scope.SEGMENT, scope_key=key),
            metric=SNAPSHOT_NAMES[metric],
            month__in=months,
        )
        for row in rows:
            ratio = snapshot_ratio(metric, row)
            if ratio is not None:
                (company if row.scope == Scope.COMPANY else segment)[row.month] = ratio
    else:
        rows = RetentionSnapshot.objects.filter(
            Q(scope=RetentionSnapshot.Scope.COMPANY, scope_key="")
            | Q(scope=RetentionSnapshot.Scope.SEGMENT, scope_key=key),
            month__in=months,
        )
        for row in rows:
            target = company if row.scope == RetentionSnapshot.Scope.COMPANY else segment
            target[row.month] = retention_ratio(metric, row)
    return segment, split_company(metric, company, segment)


def _survey_series(
    initiative: Initiative, months: Sequence[dt.date], *, today: dt.date
) -> tuple[dict[dt.date, Ratio], dict[dt.date, Ratio]]:
    """(segment, rest) counted from the answers, both groups in one query grouped by month
    and by membership of the segment (evaluated today, like every scope)."""
    metric = initiative.metric
    members = segment_accounts(initiative.segment, today=today).order_by().values("pk")
    kind = SURVEY_KINDS[metric]
    rows = (
        SurveyAnswer.objects.filter(
            kind=kind,
            answered_at__gte=local_midnight(months[0]),
            answered_at__lt=local_midnight(month_add(months[-1], 1)),
        )
        .order_by()
        .annotate(
            month=TruncMonth("answered_at", tzinfo=feedback_time_zone()),
            in_segment=Case(
                When(account_id__in=members, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
        )
        .values("month", "in_segment")
        .annotate(
            answers=Count("pk"),
            promoters=Count("pk", filter=Q(score__gte=PROMOTER[0])),
            detractors=Count("pk", filter=Q(score__lte=DETRACTOR[1])),
            satisfied=Count("pk", filter=Q(score__gte=CSAT_SATISFIED[0])),
            score_sum=Sum("score"),
        )
    )
    segment: dict[dt.date, Ratio] = {}
    rest: dict[dt.date, Ratio] = {}
    for row in rows:
        month = row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]
        (segment if row["in_segment"] else rest)[month] = survey_ratio(metric, row)
    return segment, rest


def initiative_effect(*, initiative: Initiative, today: dt.date) -> InitiativeEffect:
    """The initiative's metric for its segment and for the rest of the portfolio, before and
    after its start, and the difference-in-differences; two queries at most (select the
    initiative with its segment to avoid a third)."""
    windows = effect_windows(
        start_date=initiative.start_date, end_date=initiative.end_date, today=today
    )
    months = windows.span
    segment: dict[dt.date, Ratio] = {}
    rest: dict[dt.date, Ratio] = {}
    if months:
        if initiative.metric in SURVEY_KINDS:
            segment, rest = _survey_series(initiative, months, today=today)
        else:
            segment, rest = _snapshot_series(initiative, months)
    return effect_compute(
        metric=initiative.metric,
        segment_name=initiative.segment.name,
        start_date=initiative.start_date,
        end_date=initiative.end_date,
        today=today,
        segment=segment,
        rest=rest,
    )
