"""Nightly feedback rollups per scope: answers per (month, kind, score) that the feedback
page and team performance sum instead of counting raw answers.

An answer counts in the calendar month of its answer time in the configured time zone (the
rule of feedback.metrics) and in every scope of its account's *current* attributes (the
snapshot scope plan). One grouped query over the window's answers, folded into scopes in
Python; every row is replaced in the metric snapshots' transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncMonth

from feedback.metrics import (
    CSAT_SATISFIED,
    DETRACTOR,
    PASSIVE,
    PROMOTER,
    ScoreCounts,
    add_months,
    feedback_time_zone,
    local_midnight,
)
from feedback.models import Survey, SurveyAnswer
from health.retention import ScopePlan
from reports.health_rollups import scopes_of
from reports.models import FeedbackScoreMonth, MetricSnapshot, Scope

# A year period and the year before it: the page's longest comparison.
FEEDBACK_MONTHS = 24
WRITE_BATCH = 2_000

ScopeKey = tuple[str, str]
# A team's own breakdowns (its accounts by tier, owner and segment), stored beside the
# snapshot scopes so a team's page need not count answers. No other snapshot has them, so
# they are not Scope choices; the key is "<team id>:<tier, owner id or segment id>".
TEAM_TIER = "team_tier"
TEAM_CSM = "team_csm"
TEAM_SEGMENT = "team_segment"
TEAM_CROSS_SCOPES = (TEAM_SEGMENT, TEAM_TIER, TEAM_CSM)
# (month, kind, score) -> answers
Cells = dict[tuple[dt.date, str, int], int]


def _local_month(moment: dt.datetime | dt.date) -> dt.date:
    if isinstance(moment, dt.datetime):
        return moment.date().replace(day=1)
    return moment.replace(day=1)


def team_cross_prefix(team_id: int | str) -> str:
    return f"{team_id}:"


def feedback_scopes_of(plan: ScopePlan, account_id: int) -> list[ScopeKey]:
    """The snapshot scopes of an account, and its team's cross scopes when it has a team."""
    keys = scopes_of(plan, account_id)
    combination = plan.combination_of.get(account_id)
    if combination is None:
        return keys
    team_id, owner_id, tier = plan.combinations[combination]
    if team_id is None:
        return keys
    prefix = team_cross_prefix(team_id)
    keys.append((TEAM_TIER, f"{prefix}{tier}"))
    if owner_id is not None:
        keys.append((TEAM_CSM, f"{prefix}{owner_id}"))
    keys.extend(
        (TEAM_SEGMENT, f"{prefix}{segment}") for segment in plan.segments_of.get(account_id, ())
    )
    return keys


def feedback_rollup_rows(plan: ScopePlan, *, today: dt.date) -> list[FeedbackScoreMonth]:
    """Every scope's (and team cross scope's) non-zero answer counts per month, kind and
    score over the last FEEDBACK_MONTHS months; one grouped query."""
    first = add_months(today, 1 - FEEDBACK_MONTHS)
    end = add_months(today, 1)
    rows = (
        SurveyAnswer.objects.filter(
            answered_at__gte=local_midnight(first), answered_at__lt=local_midnight(end)
        )
        .order_by()
        .annotate(month=TruncMonth("answered_at", tzinfo=feedback_time_zone()))
        .values_list("account_id", "month", "kind", "score")
        .annotate(n=Count("pk"))
    )
    cells: dict[ScopeKey, Cells] = defaultdict(lambda: defaultdict(int))
    scope_cache: dict[int, list[ScopeKey]] = {}
    for account_id, month, kind, score, n in rows:
        keys = scope_cache.get(account_id)
        if keys is None:
            keys = scope_cache[account_id] = feedback_scopes_of(plan, account_id)
        cell = (_local_month(month), kind, score)
        for key in keys:
            cells[key][cell] += n
    return [
        FeedbackScoreMonth(
            scope=scope, scope_key=scope_key, month=month, kind=kind, score=score, answers=n
        )
        for (scope, scope_key), by_cell in cells.items()
        for (month, kind, score), n in by_cell.items()
    ]


def feedback_rollups_recompute(*, today: dt.date, plan: ScopePlan) -> int:
    """Replace every feedback rollup row; returns how many were written."""
    rows = feedback_rollup_rows(plan, today=today)
    FeedbackScoreMonth.objects.all().delete()
    FeedbackScoreMonth.objects.bulk_create(rows, batch_size=WRITE_BATCH)
    return len(rows)


# --- Reads -------------------------------------------------------------------------------------


def score_counts_of(cells: Iterable[tuple[str, int, int]]) -> ScoreCounts:
    """The three scores' counts from (kind, score, answers) cells, by feedback.metrics' rules."""
    promoters = passives = detractors = satisfied = csat_n = ces_sum = ces_n = 0
    for kind, score, n in cells:
        if kind == Survey.Kind.NPS:
            if score >= PROMOTER[0]:
                promoters += n
            elif PASSIVE[0] <= score <= PASSIVE[1]:
                passives += n
            elif score <= DETRACTOR[1]:
                detractors += n
        elif kind == Survey.Kind.CSAT:
            csat_n += n
            if score >= CSAT_SATISFIED[0]:
                satisfied += n
        elif kind == Survey.Kind.CES:
            ces_n += n
            ces_sum += score * n
    return ScoreCounts(
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        csat_satisfied=satisfied,
        csat_answers=csat_n,
        ces_sum=ces_sum,
        ces_answers=ces_n,
    )


@dataclass(frozen=True)
class StoredAnswers:
    """One scope's stored cells over a run of months, and when the job wrote them."""

    cells: Cells
    computed_at: dt.datetime | None

    def counts(self, start: dt.date, end: dt.date, kinds: Sequence[str]) -> ScoreCounts:
        """Counts over the months in [start, end) of the given kinds."""
        return score_counts_of(
            (kind, score, n)
            for (month, kind, score), n in self.cells.items()
            if start <= month < end and kind in kinds
        )

    def distribution(self, start: dt.date, end: dt.date, kind: str) -> dict[int, int]:
        low, high = Survey.SCALES[kind]
        out = dict.fromkeys(range(low, high + 1), 0)
        for (month, cell_kind, score), n in self.cells.items():
            if cell_kind == kind and start <= month < end and score in out:
                out[score] += n
        return out


def stored_answers(*, scope: str, scope_key: str, first: dt.date, last: dt.date) -> StoredAnswers:
    """A scope's cells for the months first..last (first days); one query."""
    rows = FeedbackScoreMonth.objects.filter(
        scope=scope, scope_key=scope_key, month__gte=first, month__lte=last
    ).values_list("month", "kind", "score", "answers", "computed_at")
    cells: Cells = {}
    computed = []
    for month, kind, score, n, computed_at in rows:
        cells[(month, kind, score)] = n
        computed.append(computed_at)
    return StoredAnswers(cells=cells, computed_at=max(computed, default=None))


def stored_group_counts(
    *,
    scopes: Sequence[str],
    start: dt.date,
    end: dt.date,
    kinds: Sequence[str],
    key_prefix: str = "",
) -> dict[ScopeKey, ScoreCounts]:
    """The answer counts per (scope, key) of the given kinds of scope over [start, end), as
    score_counts_of counts them; one grouped query on the (month, scope) index. With
    key_prefix, only the keys starting with it (one team's cross scopes).

    Summed in the database, one row per scope key: the company's breakdowns span hundreds of
    CSMs, each with a cell per kind and score.
    """
    nps = Q(kind=Survey.Kind.NPS)
    csat = Q(kind=Survey.Kind.CSAT)
    ces = Q(kind=Survey.Kind.CES)
    found = FeedbackScoreMonth.objects.filter(
        scope__in=scopes, month__gte=start, month__lt=end, kind__in=kinds
    )
    if key_prefix:
        found = found.filter(scope_key__startswith=key_prefix)
    rows = (
        found.order_by()
        .values_list("scope", "scope_key")
        .annotate(
            promoters=Sum("answers", filter=nps & Q(score__gte=PROMOTER[0])),
            passives=Sum("answers", filter=nps & Q(score__gte=PASSIVE[0], score__lte=PASSIVE[1])),
            detractors=Sum("answers", filter=nps & Q(score__lte=DETRACTOR[1])),
            csat_satisfied=Sum("answers", filter=csat & Q(score__gte=CSAT_SATISFIED[0])),
            csat_answers=Sum("answers", filter=csat),
            ces_sum=Sum(F("score") * F("answers"), filter=ces),
            ces_answers=Sum("answers", filter=ces),
        )
    )
    names = (
        "promoters",
        "passives",
        "detractors",
        "csat_satisfied",
        "csat_answers",
        "ces_sum",
        "ces_answers",
    )
    return {
        (scope, key): ScoreCounts(**{name: n or 0 for name, n in zip(names, sums, strict=True)})
        for scope, key, *sums in rows
    }


def snapshots_computed_at(*, month: dt.date) -> dt.datetime | None:
    """When the nightly job last ran: it always rewrites the company's current-month rows."""
    row = (
        MetricSnapshot.objects.filter(month=month, scope=Scope.COMPANY, scope_key="")
        .order_by("-computed_at")
        .values_list("computed_at", flat=True)
        .first()
    )
    return row
