"""Reads behind the feedback pages: the overview (KPIs, trends, distribution, breakdowns,
the follow-up queue), the verbatims list and the product requests ranking.

Every function starts from accounts already scoped to the viewer (accounts_visible_to,
then the page's filters) and runs a fixed number of queries whatever the number of
answers; the score arithmetic itself lives in feedback.metrics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Prefetch,
    Q,
    QuerySet,
    Window,
)
from django.db.models.functions import RowNumber
from django.http import Http404
from django.utils import timezone

from accounts.models import Account, Segment, Team, User
from accounts.selectors.access import account_get_for_edit
from accounts.selectors.segments import segment_filter
from feedback.metrics import (
    CSAT_SATISFIED,
    DETRACTOR,
    PASSIVE,
    PROMOTER,
    GroupScores,
    Period,
    ScoreCounts,
    change,
    feedback_scores_by_month,
    feedback_scores_by_period,
    feedback_scores_by_segment,
    feedback_scores_grouped,
    local_midnight,
    month_starts,
    response_rates_by_period,
    score_distribution,
)
from feedback.models import AnswerTag, FollowUp, Survey, SurveyAnswer, SurveyInvitation, Tag

MINUS = "\u2212"
DASH = "—"
TREND_MONTHS = 12
# The queue shows the oldest open follow-ups first; the rest are counted, not listed.
FOLLOW_UP_QUEUE_LIMIT = 25
FIRST_CONTACT_WINDOW_DAYS = 90
# Comments quoted per theme on the product requests page and in its CSV.
EXAMPLES_PER_THEME = 3

KIND_LABELS: dict[str, str] = {
    Survey.Kind.NPS: "NPS",
    Survey.Kind.CSAT: "CSAT",
    Survey.Kind.CES: "CES",
}
ALL_KINDS: tuple[str, ...] = (Survey.Kind.NPS, Survey.Kind.CSAT, Survey.Kind.CES)
# NPS and CSAT are percentages; their moves are percentage points.
KIND_UNITS: dict[str, str] = {Survey.Kind.NPS: "", Survey.Kind.CSAT: "%", Survey.Kind.CES: ""}


def score_label(value: Decimal | None, unit: str = "") -> str:
    """ "42.5", "−100.0", "75.0%"; an em dash when there is no value (never "0")."""
    if value is None:
        return DASH
    text = f"{value}{unit}"
    return text.replace("-", MINUS)


def change_label(value: Decimal | None, unit: str = "") -> str:
    if value is None:
        return DASH
    if value > 0:
        return f"+{value}{unit}"
    if value < 0:
        return f"{MINUS}{-value}{unit}"
    return f"±{value}{unit}"


def duration_label(value: dt.timedelta | None) -> str:
    """ "5.5 hours" under two days, "3.2 days" beyond."""
    if value is None:
        return DASH
    hours = value.total_seconds() / 3600
    if abs(hours) < 48:
        return f"{hours:.1f} hours"
    return f"{hours / 24:.1f} days"


# --- Scope -----------------------------------------------------------------------------------


def feedback_scope_accounts(
    visible: QuerySet[Account],
    *,
    segment: Segment | None = None,
    team: Team | None = None,
    csm: User | None = None,
    tier: str = "",
    today: dt.date,
) -> QuerySet[Account]:
    """Narrow accounts already visible to the viewer; never widens them."""
    accounts = visible
    if segment is not None:
        accounts = segment_filter(accounts, segment, today=today)
    if team is not None:
        accounts = accounts.filter(team=team)
    if csm is not None:
        accounts = accounts.filter(owner=csm)
    if tier:
        accounts = accounts.filter(tier=tier)
    return accounts


def scoped_answers(accounts: QuerySet[Account], *, kind: str = "") -> QuerySet[SurveyAnswer]:
    """The answers of the given accounts (a sub-select, so a CSM's scope stays in SQL)."""
    answers = SurveyAnswer.objects.filter(account_id__in=accounts.order_by().values("pk"))
    return answers.filter(kind=kind) if kind else answers


def scoped_invitations(
    accounts: QuerySet[Account], *, kind: str = ""
) -> QuerySet[SurveyInvitation]:
    invitations = SurveyInvitation.objects.filter(
        account_id__in=accounts.order_by().values("pk"), sent_at__isnull=False
    )
    return invitations.filter(campaign__survey__kind=kind) if kind else invitations


def shown_kinds(kind: str) -> tuple[str, ...]:
    return (kind,) if kind else ALL_KINDS


# --- KPI tiles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    value: Decimal | None
    previous: Decimal | None
    count: int  # answers (or invitations sent) in the period
    previous_count: int
    unit: str = ""
    count_noun: str = "answers"

    @property
    def display(self) -> str:
        return score_label(self.value, self.unit)

    @property
    def previous_display(self) -> str:
        return score_label(self.previous, self.unit)

    @property
    def change(self) -> Decimal | None:
        return change(self.value, self.previous)

    @property
    def change_display(self) -> str:
        # A move of a percentage is in percentage points.
        return change_label(self.change, " pts" if self.unit == "%" or self.key == "nps" else "")


def feedback_kpis(
    answers: QuerySet[SurveyAnswer],
    invitations: QuerySet[SurveyInvitation],
    *,
    period: Period,
    kinds: Sequence[str] = ALL_KINDS,
) -> list[Kpi]:
    """One tile per score shown plus the response rate, this period against the previous
    one; two queries (answers, invitations)."""
    periods = {"now": period, "before": period.previous()}
    scores = feedback_scores_by_period(answers_qs=answers, periods=periods)
    rates = response_rates_by_period(invitations_qs=invitations, periods=periods)
    now, before = scores["now"], scores["before"]
    tiles = [
        Kpi(
            key=kind,
            label=KIND_LABELS[kind],
            value=now.score_of(kind),
            previous=before.score_of(kind),
            count=now.answers_of(kind),
            previous_count=before.answers_of(kind),
            unit=KIND_UNITS[kind],
        )
        for kind in kinds
    ]
    rate_now, rate_before = rates["now"], rates["before"]
    tiles.append(
        Kpi(
            key="response_rate",
            label="Response rate",
            value=rate_now.rate,
            previous=rate_before.rate,
            count=rate_now.sent,
            previous_count=rate_before.sent,
            unit="%",
            count_noun="invitations sent",
        )
    )
    return tiles


# --- Trends and distribution -----------------------------------------------------------------


@dataclass(frozen=True)
class ScoreTrend:
    kind: str
    label: str
    months: list[dt.date]
    scores: list[Decimal | None]
    counts: list[int]

    @property
    def is_empty(self) -> bool:
        return not any(self.counts)


def feedback_trends(
    answers: QuerySet[SurveyAnswer],
    *,
    today: dt.date,
    kinds: Sequence[str] = ALL_KINDS,
    months: int = TREND_MONTHS,
) -> list[ScoreTrend]:
    """Each shown score per calendar month over the last `months` months; one query."""
    starts = month_starts(today, months)
    by_month = feedback_scores_by_month(answers_qs=answers, months=starts)
    return [
        ScoreTrend(
            kind=kind,
            label=KIND_LABELS[kind],
            months=starts,
            scores=[m.counts.score_of(kind) for m in by_month],
            counts=[m.counts.answers_of(kind) for m in by_month],
        )
        for kind in kinds
    ]


@dataclass(frozen=True)
class Distribution:
    kind: str
    label: str
    counts: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def feedback_distributions(
    answers: QuerySet[SurveyAnswer], *, period: Period, kinds: Sequence[str] = ALL_KINDS
) -> list[Distribution]:
    """Answers per point of each shown scale in the period; one query."""
    counts = score_distribution(answers_qs=answers, period=period)
    return [Distribution(kind, KIND_LABELS[kind], counts[kind]) for kind in kinds]


# --- Breakdowns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakdownCell:
    score: str
    answers: int


@dataclass(frozen=True)
class BreakdownRow:
    """One group's scores. The cells are worked out when first read: the overview lists
    hundreds of CSMs but shows a page of them."""

    label: str
    counts: ScoreCounts
    kinds: tuple[str, ...]

    @cached_property
    def cells(self) -> list[BreakdownCell]:
        return [
            BreakdownCell(
                score_label(self.counts.score_of(kind), KIND_UNITS[kind]),
                self.counts.answers_of(kind),
            )
            for kind in self.kinds
        ]

    @property
    def answers(self) -> int:
        return sum(cell.answers for cell in self.cells)


def breakdown_rows(groups: Sequence[GroupScores], kinds: Sequence[str]) -> list[BreakdownRow]:
    shown = tuple(kinds)
    return [BreakdownRow(label=group.label, counts=group.counts, kinds=shown) for group in groups]


def feedback_breakdown_by_segment(
    answers: QuerySet[SurveyAnswer],
    *,
    period: Period,
    today: dt.date,
    kinds: Sequence[str] = ALL_KINDS,
) -> list[BreakdownRow]:
    """Every segment, with "—" where it has no answers; one query for the segments and one
    per segment."""
    segments = list(Segment.objects.order_by("name"))
    groups = feedback_scores_by_segment(
        answers_qs=answers, segments=segments, period=period, today=today
    )
    return breakdown_rows(groups, kinds)


def feedback_breakdown_by_tier(
    answers: QuerySet[SurveyAnswer], *, period: Period, kinds: Sequence[str] = ALL_KINDS
) -> list[BreakdownRow]:
    """Every tier in service order, with "—" where it has no answers; one query."""
    found = {
        g.key: g for g in feedback_scores_grouped(answers_qs=answers, period=period, by="tier")
    }
    groups = [
        found.get(tier, GroupScores(tier, str(label), ScoreCounts()))
        for tier, label in Account.Tier.choices
    ]
    return breakdown_rows(groups, kinds)


def feedback_breakdown_grouped(
    answers: QuerySet[SurveyAnswer],
    *,
    period: Period,
    by: str,
    kinds: Sequence[str] = ALL_KINDS,
) -> list[BreakdownRow]:
    """Teams or CSMs with answers in the period; one query."""
    groups = feedback_scores_grouped(answers_qs=answers, period=period, by=by)
    return breakdown_rows(groups, kinds)


# --- Closing the loop ------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpRow:
    follow_up: FollowUp
    answer: SurveyAnswer
    account: Account
    owner: User | None
    age_days: int

    @property
    def score_label(self) -> str:
        return f"{KIND_LABELS.get(self.answer.kind, self.answer.kind)} {self.answer.score}"


@dataclass(frozen=True)
class FollowUpQueue:
    rows: list[FollowUpRow]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


def _follow_ups_of(accounts: QuerySet[Account], *, kind: str) -> QuerySet[FollowUp]:
    follow_ups = FollowUp.objects.filter(answer__account_id__in=accounts.order_by().values("pk"))
    return follow_ups.filter(answer__kind=kind) if kind else follow_ups


def follow_up_queue(
    accounts: QuerySet[Account],
    *,
    today: dt.date,
    kind: str = "",
    limit: int = FOLLOW_UP_QUEUE_LIMIT,
) -> FollowUpQueue:
    """Open follow-ups, the longest waiting first, with who should call; one query for the
    first `limit` and how many there are, one more for their details when there are any.

    Joined to the book's accounts, the answers, owners, contacts and tasks in one query,
    PostgreSQL spent 4 to 8 ms choosing a join order for a few microseconds of work; picked
    by id, the details plan in under a millisecond."""
    open_ones = _follow_ups_of(accounts, kind=kind).filter(status=FollowUp.Status.OPEN)
    first = list(
        open_ones.annotate(total=Window(Count("pk")))
        .order_by("created_at", "pk")
        .values_list("pk", "total")[:limit]
    )
    if not first:
        return FollowUpQueue(rows=[], total=0)
    details = FollowUp.objects.select_related(
        "answer", "answer__account", "answer__account__owner", "answer__contact", "task__owner"
    ).in_bulk([pk for pk, _ in first])
    rows = []
    for pk, _ in first:
        follow_up = details[pk]
        answer = follow_up.answer
        task_owner = follow_up.task.owner if follow_up.task is not None else None
        rows.append(
            FollowUpRow(
                follow_up=follow_up,
                answer=answer,
                account=answer.account,
                # The task's owner is who was asked to call; the account owner otherwise.
                owner=task_owner or answer.account.owner,
                age_days=(today - timezone.localdate(follow_up.created_at)).days,
            )
        )
    return FollowUpQueue(rows=rows, total=first[0][1])


@dataclass(frozen=True)
class FirstContact:
    median: dt.timedelta | None
    contacted: int  # follow-ups first contacted in the window
    window_days: int

    @property
    def display(self) -> str:
        return duration_label(self.median)


def follow_up_first_contact_median(
    accounts: QuerySet[Account],
    *,
    now: dt.datetime,
    kind: str = "",
    days: int = FIRST_CONTACT_WINDOW_DAYS,
) -> FirstContact:
    """Median of contacted_at − created_at over the follow-ups contacted in the last `days`.

    Portable SQL has no median: count, then read only the one or two middle values in wait
    order (two queries, whatever the number of follow-ups)."""
    contacted = (
        _follow_ups_of(accounts, kind=kind)
        .filter(contacted_at__isnull=False, contacted_at__gte=now - dt.timedelta(days=days))
        .annotate(
            wait=ExpressionWrapper(
                F("contacted_at") - F("created_at"), output_field=DurationField()
            )
        )
    )
    count = contacted.order_by().count()
    if count == 0:
        return FirstContact(median=None, contacted=0, window_days=days)
    middle = list(
        contacted.order_by("wait", "pk").values_list("wait", flat=True)[
            (count - 1) // 2 : count // 2 + 1
        ]
    )
    median = sum(middle, dt.timedelta()) / len(middle)
    return FirstContact(median=median, contacted=count, window_days=days)


# --- Verbatims -------------------------------------------------------------------------------

SCORE_GROUPS: dict[str, tuple[str, str, Q]] = {
    # key: (label, kind, condition)
    "promoter": (
        "Promoters (NPS 9–10)",
        Survey.Kind.NPS,
        Q(kind=Survey.Kind.NPS, score__gte=PROMOTER[0]),
    ),
    "passive": (
        "Passives (NPS 7–8)",
        Survey.Kind.NPS,
        Q(kind=Survey.Kind.NPS, score__gte=PASSIVE[0], score__lte=PASSIVE[1]),
    ),
    "detractor": (
        "Detractors (NPS 0–6)",
        Survey.Kind.NPS,
        Q(kind=Survey.Kind.NPS, score__lte=DETRACTOR[1]),
    ),
    "satisfied": (
        "Satisfied (CSAT 4–5)",
        Survey.Kind.CSAT,
        Q(kind=Survey.Kind.CSAT, score__gte=CSAT_SATISFIED[0]),
    ),
    "neutral": ("Neutral (CSAT 3)", Survey.Kind.CSAT, Q(kind=Survey.Kind.CSAT, score=3)),
    "unsatisfied": (
        "Unsatisfied (CSAT 1–2)",
        Survey.Kind.CSAT,
        Q(kind=Survey.Kind.CSAT, score__lte=2),
    ),
}


def verbatims(
    answers: QuerySet[SurveyAnswer],
    *,
    group: str = "",
    tag: Tag | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    search: str = "",
) -> QuerySet[SurveyAnswer]:
    """Answers with a comment, newest first, with their account, contact and tags loaded
    (a page of them costs one query plus one for all their tags)."""
    rows = answers.exclude(comment="")
    if group:
        rows = rows.filter(SCORE_GROUPS[group][2])
    if tag is not None:
        rows = rows.filter(answer_tags__tag=tag)
    if date_from is not None:
        rows = rows.filter(answered_at__gte=local_midnight(date_from))
    if date_to is not None:
        rows = rows.filter(answered_at__lt=local_midnight(date_to + dt.timedelta(days=1)))
    if search:
        rows = rows.filter(comment__icontains=search)
    return (
        rows.select_related("account", "account__owner", "contact")
        .prefetch_related(
            Prefetch(
                "answer_tags",
                queryset=AnswerTag.objects.select_related("tag").order_by("tag__name"),
            )
        )
        .order_by("-answered_at", "-pk")
    )


def can_tag_answer(user: User, answer: SurveyAnswer) -> bool:
    """Who may tag an answer by hand: whoever may edit its account (Account.editable_by):
    admins and managers, a CSM on their own book; never an executive."""
    if not user.is_active or not user.can_edit_accounts:
        return False
    if user.is_csm:
        return answer.account.owner_id == user.pk
    return True


def answer_get_for_tagging(*, user: User, answer_id: int) -> SurveyAnswer:
    """The answer if the user may edit its account; 404 otherwise, so it does not leak."""
    account_id = (
        SurveyAnswer.objects.filter(pk=answer_id).values_list("account_id", flat=True).first()
    )
    if account_id is None:
        raise Http404("No such answer.")
    account = account_get_for_edit(user=user, account_id=account_id)
    answer = (
        SurveyAnswer.objects.select_related("contact", "survey")
        .prefetch_related(
            Prefetch(
                "answer_tags",
                queryset=AnswerTag.objects.select_related("tag").order_by("tag__name"),
            )
        )
        .get(pk=answer_id)
    )
    answer.account = account
    return answer


def tags_all() -> list[Tag]:
    return list(Tag.objects.order_by("name"))


# --- Product requests ------------------------------------------------------------------------


@dataclass
class ThemeRow:
    rank: int
    tag_id: int
    name: str
    description: str
    accounts: int
    answers: int
    arr: Decimal
    examples: list[SurveyAnswer] = field(default_factory=list)


def product_requests(answers: QuerySet[SurveyAnswer], *, period: Period) -> list[ThemeRow]:
    """Themes ranked by the ARR of the distinct accounts whose answers in the period carry
    them; one grouped query.

    The inner query groups the tagged answers into (theme, account) pairs with the pair's
    number of answers; the outer one sums each account's ARR once per theme. Summing ARR
    over answers instead would count an account that raised "export" five times five
    times. ARR is the account's current ARR.
    """
    start, end = period.bounds()
    pairs = (
        AnswerTag.objects.filter(
            answer_id__in=answers.filter(answered_at__gte=start, answered_at__lt=end)
            .order_by()
            .values("pk")
        )
        .annotate(theme=F("tag_id"), acct=F("answer__account_id"))
        .values("theme", "acct")
        .annotate(n=Count("pk"))
        .order_by()
    )
    pairs_sql, params = pairs.query.sql_with_params()
    q = connection.ops.quote_name
    sql = (
        f"SELECT p.theme, t.{q('name')}, t.{q('description')}, COUNT(*), SUM(p.n), "
        f"SUM(a.{q('arr')}) AS total_arr "
        f"FROM ({pairs_sql}) p "
        f"JOIN {q(Tag._meta.db_table)} t ON t.{q('id')} = p.theme "
        f"JOIN {q(Account._meta.db_table)} a ON a.{q('id')} = p.acct "
        f"GROUP BY p.theme, t.{q('name')}, t.{q('description')} "
        f"ORDER BY total_arr DESC, COUNT(*) DESC, t.{q('name')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        ThemeRow(
            rank=rank,
            tag_id=tag_id,
            name=name,
            description=description,
            accounts=accounts,
            answers=int(answer_count),
            # SQLite hands SUM of a decimal column back as a float.
            arr=Decimal(str(arr or 0)).quantize(Decimal("0.01")),
        )
        for rank, (tag_id, name, description, accounts, answer_count, arr) in enumerate(
            rows, start=1
        )
    ]


def product_request_examples(
    answers: QuerySet[SurveyAnswer],
    *,
    period: Period,
    themes: Sequence[ThemeRow],
    per_theme: int = EXAMPLES_PER_THEME,
) -> None:
    """Fill each theme's `examples` with its newest commented answers; one query for all
    themes (a row number per theme, kept up to `per_theme`)."""
    if not themes:
        return
    start, end = period.bounds()
    by_id = {theme.tag_id: theme for theme in themes}
    tagged: QuerySet[AnswerTag, Any] = (
        AnswerTag.objects.filter(
            tag_id__in=list(by_id),
            answer_id__in=answers.filter(answered_at__gte=start, answered_at__lt=end)
            .exclude(comment="")
            .order_by()
            .values("pk"),
        )
        .annotate(
            position=Window(
                RowNumber(),
                partition_by=[F("tag_id")],
                order_by=[F("answer__answered_at").desc(), F("answer_id").desc()],
            )
        )
        .filter(position__lte=per_theme)
        .select_related("answer", "answer__account", "answer__contact")
        .order_by("tag_id", "position")
    )
    for answer_tag in tagged:
        by_id[answer_tag.tag_id].examples.append(answer_tag.answer)
