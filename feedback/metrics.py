"""NPS, CSAT, CES and response rate, exactly as PRODUCT.md section 3 defines them.

Two layers. The pure functions (`nps`, `csat`, `ces`, `response_rate`) take counts and
return a Decimal quantised to 0.1, or None when there is no data: "no answers" is no value,
never 0. The aggregate queries below them count answers set-based, one query per metric
family (scores on SurveyAnswer, response rate on SurveyInvitation) for a whole 12-month
trend or a whole breakdown by tier, team or CSM, and one query per segment (a segment is a
WHERE clause of its own). Every query takes a queryset already scoped to the viewer.

Periods are calendar months (quarters, years) in settings.TIME_ZONE; an answer counts in
the period of its answer date, an invitation in the period it was sent. Scopes use the
account's current attributes (its tier, team and owner today).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from accounts.models import Account, Segment
from accounts.selectors.segments import segment_accounts
from feedback.models import Survey, SurveyAnswer, SurveyInvitation

ONE_DECIMAL = Decimal("0.1")
HUNDRED = Decimal(100)

# The score groups of PRODUCT.md section 3, as inclusive score ranges.
PROMOTER = (9, 10)
PASSIVE = (7, 8)
DETRACTOR = (0, 6)
CSAT_SATISFIED = (4, 5)


def _quantise(value: Decimal) -> Decimal:
    return value.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


# --- The definitions, on counts --------------------------------------------------------------


def nps(promoters: int, passives: int, detractors: int) -> Decimal | None:
    """% promoters (9–10) − % detractors (0–6) over all 0–10 answers; −100…100."""
    total = promoters + passives + detractors
    if total == 0:
        return None
    return _quantise(Decimal(promoters - detractors) * HUNDRED / Decimal(total))


def csat(satisfied: int, total: int) -> Decimal | None:
    """Share of 4 and 5 among the 1–5 answers, as a percentage."""
    if total == 0:
        return None
    return _quantise(Decimal(satisfied) * HUNDRED / Decimal(total))


def ces(score_sum: int, count: int) -> Decimal | None:
    """The mean of the 1–7 answers."""
    if count == 0:
        return None
    return _quantise(Decimal(score_sum) / Decimal(count))


def response_rate(answered: int, sent: int) -> Decimal | None:
    """Answered invitations ÷ invitations sent, as a percentage."""
    if sent == 0:
        return None
    return _quantise(Decimal(answered) * HUNDRED / Decimal(sent))


def change(current: Decimal | None, previous: Decimal | None) -> Decimal | None:
    """The move from the previous period, in the metric's own unit; None if either is."""
    if current is None or previous is None:
        return None
    return current - previous


@dataclass(frozen=True)
class ScoreCounts:
    """What the three scores are computed from, for one period or one group."""

    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    csat_satisfied: int = 0
    csat_answers: int = 0
    ces_sum: int = 0
    ces_answers: int = 0

    @property
    def nps_answers(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def answers(self) -> int:
        return self.nps_answers + self.csat_answers + self.ces_answers

    @property
    def nps(self) -> Decimal | None:
        return nps(self.promoters, self.passives, self.detractors)

    @property
    def csat(self) -> Decimal | None:
        return csat(self.csat_satisfied, self.csat_answers)

    @property
    def ces(self) -> Decimal | None:
        return ces(self.ces_sum, self.ces_answers)

    def answers_of(self, kind: str) -> int:
        answers: dict[str, int] = {
            Survey.Kind.NPS: self.nps_answers,
            Survey.Kind.CSAT: self.csat_answers,
            Survey.Kind.CES: self.ces_answers,
        }
        return answers[kind]

    def score_of(self, kind: str) -> Decimal | None:
        scores: dict[str, Decimal | None] = {
            Survey.Kind.NPS: self.nps,
            Survey.Kind.CSAT: self.csat,
            Survey.Kind.CES: self.ces,
        }
        return scores[kind]


@dataclass(frozen=True)
class InvitationCounts:
    sent: int = 0
    answered: int = 0

    @property
    def rate(self) -> Decimal | None:
        return response_rate(self.answered, self.sent)


# --- Periods ---------------------------------------------------------------------------------


def feedback_time_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_midnight(day: dt.date) -> dt.datetime:
    """The instant a local calendar day starts: the bound of every period query."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=feedback_time_zone())


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after (or before) `day`'s month."""
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_starts(today: dt.date, count: int) -> list[dt.date]:
    """The first days of the `count` calendar months ending with today's, oldest first."""
    return [add_months(today, offset) for offset in range(1 - count, 1)]


@dataclass(frozen=True)
class Period:
    """Local calendar days [start, end): a month, a quarter, a year or a run of months."""

    start: dt.date
    end: dt.date

    @classmethod
    def month_of(cls, day: dt.date) -> Period:
        first = day.replace(day=1)
        return cls(first, add_months(first, 1))

    @classmethod
    def quarter_of(cls, day: dt.date) -> Period:
        first = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        return cls(first, add_months(first, 3))

    @classmethod
    def year_of(cls, day: dt.date) -> Period:
        return cls(dt.date(day.year, 1, 1), dt.date(day.year + 1, 1, 1))

    @classmethod
    def months_ending(cls, today: dt.date, count: int) -> Period:
        return cls(add_months(today, 1 - count), add_months(today, 1))

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(add_months(self.start, -self.months), self.start)

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        return local_midnight(self.start), local_midnight(self.end)

    def contains(self, day: dt.date) -> bool:
        return self.start <= day < self.end

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def label(self) -> str:
        """ "May 2026", "Q2 2026", "2026", or the first and last day."""
        if self.start.day == 1 and self.end.day == 1:
            if self.months == 1:
                return f"{self.start:%B %Y}"
            if self.months == 3 and self.start.month % 3 == 1:
                return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
            if self.months == 12 and self.start.month == 1:
                return str(self.start.year)
        last = self.last_day
        return f"{self.start.day} {self.start:%b %Y} – {last.day} {last:%b %Y}"


# --- Scores: the aggregate queries -----------------------------------------------------------


def _score_aggregates(within: Q | None = None) -> dict[str, Any]:
    """The conditional counts behind the three scores; `within` narrows all of them (to
    one period of several counted in the same query)."""
    within = within if within is not None else Q()
    nps_q = within & Q(kind=Survey.Kind.NPS)
    csat_q = within & Q(kind=Survey.Kind.CSAT)
    ces_q = within & Q(kind=Survey.Kind.CES)
    return {
        "promoters": Count("pk", filter=nps_q & Q(score__gte=PROMOTER[0])),
        "passives": Count("pk", filter=nps_q & Q(score__gte=PASSIVE[0], score__lte=PASSIVE[1])),
        "detractors": Count("pk", filter=nps_q & Q(score__lte=DETRACTOR[1])),
        "csat_satisfied": Count("pk", filter=csat_q & Q(score__gte=CSAT_SATISFIED[0])),
        "csat_answers": Count("pk", filter=csat_q),
        "ces_sum": Sum("score", filter=ces_q),
        "ces_answers": Count("pk", filter=ces_q),
    }


def _score_counts(row: Mapping[str, Any]) -> ScoreCounts:
    return ScoreCounts(
        promoters=row["promoters"] or 0,
        passives=row["passives"] or 0,
        detractors=row["detractors"] or 0,
        csat_satisfied=row["csat_satisfied"] or 0,
        csat_answers=row["csat_answers"] or 0,
        ces_sum=row["ces_sum"] or 0,
        ces_answers=row["ces_answers"] or 0,
    )


def _answers_in(answers_qs: QuerySet[SurveyAnswer], period: Period) -> QuerySet[SurveyAnswer]:
    start, end = period.bounds()
    return answers_qs.filter(answered_at__gte=start, answered_at__lt=end).order_by()


@dataclass(frozen=True)
class MonthScores:
    month: dt.date  # the month's first day
    counts: ScoreCounts


def feedback_scores_total(*, answers_qs: QuerySet[SurveyAnswer], period: Period) -> ScoreCounts:
    """The three scores' counts over one period; one query."""
    return _score_counts(_answers_in(answers_qs, period).aggregate(**_score_aggregates()))


def feedback_scores_by_month(
    *, answers_qs: QuerySet[SurveyAnswer], months: Sequence[dt.date]
) -> list[MonthScores]:
    """Counts per calendar month for the given month starts (consecutive, oldest first), in
    one grouped query; a month without answers gets empty counts, so its scores are None."""
    if not months:
        return []
    period = Period(months[0], add_months(months[-1], 1))
    rows = (
        _answers_in(answers_qs, period)
        .annotate(month=TruncMonth("answered_at", tzinfo=feedback_time_zone()))
        .values("month")
        .annotate(**_score_aggregates())
    )
    # TruncMonth returns an aware datetime in the time zone it truncated in.
    by_month = {row["month"].date(): _score_counts(row) for row in rows}
    return [MonthScores(month, by_month.get(month, ScoreCounts())) for month in months]


def feedback_scores_by_period(
    *, answers_qs: QuerySet[SurveyAnswer], periods: Mapping[str, Period]
) -> dict[str, ScoreCounts]:
    """Counts for several (possibly overlapping) periods in one query: one set of conditional
    counts per period, e.g. this month and last month for the KPI tiles."""
    if not periods:
        return {}
    aggregates: dict[str, Any] = {}
    window = Q()
    for key, period in periods.items():
        start, end = period.bounds()
        in_period = Q(answered_at__gte=start, answered_at__lt=end)
        window |= in_period
        for name, aggregate in _score_aggregates(in_period).items():
            aggregates[f"{key}__{name}"] = aggregate
    row = answers_qs.filter(window).order_by().aggregate(**aggregates)
    return {
        key: _score_counts({name: row[f"{key}__{name}"] for name in _score_aggregates()})
        for key in periods
    }


@dataclass(frozen=True)
class GroupScores:
    """One row of a breakdown: a segment, a tier, a team or a CSM."""

    key: Any
    label: str
    counts: ScoreCounts


@dataclass(frozen=True)
class Grouping:
    """How a breakdown groups answers (or invitations): the account columns to group by, and
    how a row of them reads."""

    fields: tuple[str, ...]
    label: Callable[[Mapping[str, Any]], str]


def _person(row: Mapping[str, Any]) -> str:
    if row["account__owner_id"] is None:
        return "Unassigned"
    full = f"{row['account__owner__first_name']} {row['account__owner__last_name']}".strip()
    return full or row["account__owner__username"]


GROUPINGS: dict[str, Grouping] = {
    "tier": Grouping(
        ("account__tier",),
        lambda row: (
            str(Account.Tier(row["account__tier"]).label)
            if row["account__tier"] in Account.Tier.values
            else row["account__tier"]
        ),
    ),
    "team": Grouping(
        ("account__team_id", "account__team__name"),
        lambda row: row["account__team__name"] or "No team",
    ),
    "csm": Grouping(
        (
            "account__owner_id",
            "account__owner__first_name",
            "account__owner__last_name",
            "account__owner__username",
        ),
        _person,
    ),
}


def _group_rows(
    rows: Iterable[Mapping[str, Any]], grouping: Grouping, build: Callable[[Mapping], Any]
) -> list[tuple[Any, str, Any]]:
    out = [(row[grouping.fields[0]], grouping.label(row), build(row)) for row in rows]
    # Unassigned / no team last, then by label: a person reads a table top down.
    out.sort(key=lambda item: (item[0] is None, item[1].lower()))
    return out


def feedback_scores_grouped(
    *, answers_qs: QuerySet[SurveyAnswer], period: Period, by: str
) -> list[GroupScores]:
    """Counts per tier, team or CSM (`by`) of the answering account today; one grouped query.
    Only groups with answers in the period appear."""
    grouping = GROUPINGS[by]
    rows = _answers_in(answers_qs, period).values(*grouping.fields).annotate(**_score_aggregates())
    return [GroupScores(*item) for item in _group_rows(rows, grouping, _score_counts)]


def feedback_scores_by_tier(
    *, answers_qs: QuerySet[SurveyAnswer], period: Period
) -> list[GroupScores]:
    return feedback_scores_grouped(answers_qs=answers_qs, period=period, by="tier")


def feedback_scores_by_team(
    *, answers_qs: QuerySet[SurveyAnswer], period: Period
) -> list[GroupScores]:
    return feedback_scores_grouped(answers_qs=answers_qs, period=period, by="team")


def feedback_scores_by_csm(
    *, answers_qs: QuerySet[SurveyAnswer], period: Period
) -> list[GroupScores]:
    return feedback_scores_grouped(answers_qs=answers_qs, period=period, by="csm")


def feedback_scores_by_segment(
    *,
    answers_qs: QuerySet[SurveyAnswer],
    segments: Iterable[Segment],
    period: Period,
    today: dt.date,
) -> list[GroupScores]:
    """Counts per segment, one query each: a segment is its own WHERE clause (a rule or a
    static list), evaluated today, and an account may sit in several segments."""
    rows = []
    for segment in segments:
        members = segment_accounts(segment, today=today).order_by().values("pk")
        counts = _score_counts(
            _answers_in(answers_qs, period)
            .filter(account_id__in=members)
            .aggregate(**_score_aggregates())
        )
        rows.append(GroupScores(segment.pk, segment.name, counts))
    return rows


def score_distribution(
    *, answers_qs: QuerySet[SurveyAnswer], period: Period
) -> dict[str, dict[int, int]]:
    """Answers per score for each kind, every point of each scale present (0 when none);
    one grouped query."""
    distribution = {
        kind: dict.fromkeys(range(low, high + 1), 0) for kind, (low, high) in Survey.SCALES.items()
    }
    rows = _answers_in(answers_qs, period).values("kind", "score").annotate(n=Count("pk"))
    for row in rows:
        scale = distribution.get(row["kind"])
        if scale is not None and row["score"] in scale:
            scale[row["score"]] = row["n"]
    return distribution


# --- Response rate ---------------------------------------------------------------------------
# The cohort of a period is the invitations *sent* in it; each counts as answered once its
# contact answered, whenever that was. A campaign sent on the 30th keeps collecting answers
# into the next month without making that month's rate exceed 100 %.


def _sent_in(
    invitations_qs: QuerySet[SurveyInvitation], period: Period
) -> QuerySet[SurveyInvitation]:
    start, end = period.bounds()
    return invitations_qs.filter(sent_at__gte=start, sent_at__lt=end).order_by()


def _rate_aggregates() -> dict[str, Any]:
    return {"sent": Count("pk"), "answered": Count("pk", filter=Q(answered_at__isnull=False))}


def _invitation_counts(row: Mapping[str, Any]) -> InvitationCounts:
    return InvitationCounts(sent=row["sent"] or 0, answered=row["answered"] or 0)


@dataclass(frozen=True)
class MonthRate:
    month: dt.date
    counts: InvitationCounts


@dataclass(frozen=True)
class GroupRate:
    key: Any
    label: str
    counts: InvitationCounts


def response_rate_total(
    *, invitations_qs: QuerySet[SurveyInvitation], period: Period
) -> InvitationCounts:
    return _invitation_counts(_sent_in(invitations_qs, period).aggregate(**_rate_aggregates()))


def response_rates_by_month(
    *, invitations_qs: QuerySet[SurveyInvitation], months: Sequence[dt.date]
) -> list[MonthRate]:
    """Sent and answered invitations per month of sending; one grouped query."""
    if not months:
        return []
    period = Period(months[0], add_months(months[-1], 1))
    rows = (
        _sent_in(invitations_qs, period)
        .annotate(month=TruncMonth("sent_at", tzinfo=feedback_time_zone()))
        .values("month")
        .annotate(**_rate_aggregates())
    )
    by_month = {row["month"].date(): _invitation_counts(row) for row in rows}
    return [MonthRate(month, by_month.get(month, InvitationCounts())) for month in months]


def response_rates_by_period(
    *, invitations_qs: QuerySet[SurveyInvitation], periods: Mapping[str, Period]
) -> dict[str, InvitationCounts]:
    """Sent and answered invitations for several periods in one query."""
    if not periods:
        return {}
    aggregates: dict[str, Any] = {}
    window = Q()
    for key, period in periods.items():
        start, end = period.bounds()
        in_period = Q(sent_at__gte=start, sent_at__lt=end)
        window |= in_period
        aggregates[f"{key}__sent"] = Count("pk", filter=in_period)
        aggregates[f"{key}__answered"] = Count(
            "pk", filter=in_period & Q(answered_at__isnull=False)
        )
    row = invitations_qs.filter(window).order_by().aggregate(**aggregates)
    return {
        key: InvitationCounts(sent=row[f"{key}__sent"], answered=row[f"{key}__answered"])
        for key in periods
    }


def response_rates_grouped(
    *, invitations_qs: QuerySet[SurveyInvitation], period: Period, by: str
) -> list[GroupRate]:
    """Sent and answered invitations per tier, team or CSM of the account; one query."""
    grouping = GROUPINGS[by]
    rows = _sent_in(invitations_qs, period).values(*grouping.fields).annotate(**_rate_aggregates())
    return [GroupRate(*item) for item in _group_rows(rows, grouping, _invitation_counts)]


def response_rates_by_segment(
    *,
    invitations_qs: QuerySet[SurveyInvitation],
    segments: Iterable[Segment],
    period: Period,
    today: dt.date,
) -> list[GroupRate]:
    """Sent and answered invitations per segment; one query each."""
    rows = []
    for segment in segments:
        members = segment_accounts(segment, today=today).order_by().values("pk")
        counts = _invitation_counts(
            _sent_in(invitations_qs, period)
            .filter(account_id__in=members)
            .aggregate(**_rate_aggregates())
        )
        rows.append(GroupRate(segment.pk, segment.name, counts))
    return rows
