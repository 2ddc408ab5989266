"""The feedback page's score figures from the nightly FeedbackScoreMonth rows.

Used when the page's accounts are exactly one snapshot scope (feedback_rollup_scope); the
figures are built with feedback's own dataclasses and rules, so they equal the live
selectors' (feedback.selectors_insights) to the last digit. The response rate stays live:
one aggregate over the invitations sent in the two periods.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet

from accounts.models import Account, Segment, Team, User
from feedback.metrics import (
    GroupScores,
    Period,
    ScoreCounts,
    month_starts,
    response_rates_by_period,
)
from feedback.models import SurveyInvitation
from feedback.selectors_insights import (
    KIND_LABELS,
    KIND_UNITS,
    TREND_MONTHS,
    BreakdownRow,
    Distribution,
    Kpi,
    ScoreTrend,
    breakdown_rows,
)
from health.selectors import rollup_scope_for
from reports.feedback_rollups import (
    TEAM_CROSS_SCOPES,
    TEAM_CSM,
    TEAM_SEGMENT,
    TEAM_TIER,
    score_counts_of,
    snapshots_computed_at,
    stored_answers,
    stored_group_counts,
    team_cross_prefix,
)
from reports.models import Scope

# The stored figures are cached under the nightly run's time, so their numbers are never
# stale; the breakdowns' names (a renamed team, a new segment) may lag this long.
FIGURES_TTL_SECONDS = 600
# Figures this process read lately, by cache key, with the token the cache held for them:
# unpickling a company's (its ~800 CSMs' breakdown rows) cost about a millisecond per page.
# They are used only while the cache still holds that token, so they expire, and are cleared,
# with the cache.
_RECENT_FIGURES: dict[str, tuple[str, Any]] = {}
RECENT_FIGURES_KEPT = 32


@dataclass(frozen=True)
class FeedbackRollupScope:
    scope: str
    key: str


def feedback_rollup_scope(
    *,
    user: User,
    segment: Segment | None,
    team: Team | None,
    csm: User | None,
    tier: str,
) -> FeedbackRollupScope | None:
    """The one snapshot scope equal to the viewer's accounts under these filters, or None.

    Someone who sees every account: the company or the one filter's scope. Anyone else as
    the health page decides (health.selectors.rollup_scope_for): a CSM who owns no account
    outside their team sees exactly the team's accounts, so their unfiltered page is the
    team's scope. Anything else (two filters, a CSM's book reaching outside their team, a
    CSM's tier) is computed live.
    """
    filters = [f for f in (segment, team, csm, tier or None) if f is not None]
    if len(filters) > 1:
        return None
    if user.sees_all_accounts:
        if segment is not None:
            return FeedbackRollupScope(Scope.SEGMENT, str(segment.pk))
        if team is not None:
            return FeedbackRollupScope(Scope.TEAM, str(team.pk))
        if csm is not None:
            return FeedbackRollupScope(Scope.CSM, str(csm.pk))
        if tier:
            return FeedbackRollupScope(Scope.TIER, tier)
        return FeedbackRollupScope(Scope.COMPANY, "")
    if tier:
        return None
    found = rollup_scope_for(user=user, segment=segment, team=team, csm=csm)
    if found is None:
        return None
    return FeedbackRollupScope(str(found.scope), found.key)


@dataclass(frozen=True)
class StoredFeedback:
    computed_at: dt.datetime | None  # None: the nightly job has not run yet
    kpis: list[Kpi]
    trends: list[ScoreTrend]
    distributions: list[Distribution]
    breakdowns: dict[str, list[BreakdownRow]] | None  # company and team scopes only


def feedback_stored(
    scope: FeedbackRollupScope,
    *,
    invitations: QuerySet[SurveyInvitation],
    period: Period,
    today: dt.date,
    kinds: Sequence[str],
) -> StoredFeedback:
    """KPI tiles, 12-month trends, distributions and (for the company or a team) the
    breakdowns; one query for the run's time (nothing more when the job has not run yet:
    computed_at None) and one for the response rate; on a cache miss, one for the scope's
    rows and for the company or a team four for the breakdowns (rows, segments, teams,
    people)."""
    previous = period.previous()
    months = month_starts(today, TREND_MONTHS)
    computed_at = snapshots_computed_at(month=months[-1])
    if computed_at is None:
        # Before the first nightly run there is nothing to read.
        return StoredFeedback(
            computed_at=None, kpis=[], trends=[], distributions=[], breakdowns=None
        )
    key = (
        f"reports:feedback-stored:{scope.scope}:{scope.key}:{period.start}:{period.end}:"
        f"{today}:{','.join(kinds)}:{computed_at.isoformat()}"
    )
    figures = _cached_figures(key)
    if figures is None:
        figures = _figures(scope, period=period, months=months, kinds=kinds)
        _cache_figures(key, figures)
    now, before = figures.now, figures.before
    rates = response_rates_by_period(
        invitations_qs=invitations, periods={"now": period, "before": previous}
    )
    kpis = [
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
    kpis.append(
        Kpi(
            key="response_rate",
            label="Response rate",
            value=rates["now"].rate,
            previous=rates["before"].rate,
            count=rates["now"].sent,
            previous_count=rates["before"].sent,
            unit="%",
            count_noun="invitations sent",
        )
    )
    return StoredFeedback(
        computed_at=computed_at,
        kpis=kpis,
        trends=figures.trends,
        distributions=figures.distributions,
        breakdowns=figures.breakdowns,
    )


def _cached_figures(key: str) -> _Figures | None:
    token = cache.get(f"{key}:token")
    if token is None:
        return None
    recent = _RECENT_FIGURES.get(key)
    if recent is not None and recent[0] == token:
        return recent[1]
    figures: _Figures | None = cache.get(key)
    if figures is not None:
        _remember(key, token, figures)
    return figures


def _cache_figures(key: str, figures: _Figures) -> None:
    token = uuid.uuid4().hex
    cache.set(key, figures, FIGURES_TTL_SECONDS)
    cache.set(f"{key}:token", token, FIGURES_TTL_SECONDS)
    _remember(key, token, figures)


def _remember(key: str, token: str, figures: _Figures) -> None:
    _RECENT_FIGURES.pop(key, None)
    _RECENT_FIGURES[key] = (token, figures)
    while len(_RECENT_FIGURES) > RECENT_FIGURES_KEPT:
        del _RECENT_FIGURES[next(iter(_RECENT_FIGURES))]


@dataclass(frozen=True)
class _Figures:
    """What the page reads of one scope's stored rows for one period: a function of the
    nightly run's rows alone, so cached under the run's time."""

    now: ScoreCounts
    before: ScoreCounts
    trends: list[ScoreTrend]
    distributions: list[Distribution]
    breakdowns: dict[str, list[BreakdownRow]] | None


def _figures(
    scope: FeedbackRollupScope, *, period: Period, months: list[dt.date], kinds: Sequence[str]
) -> _Figures:
    previous = period.previous()
    first = min(months[0], previous.start)
    stored = stored_answers(scope=scope.scope, scope_key=scope.key, first=first, last=months[-1])
    now = stored.counts(period.start, period.end, kinds)
    before = stored.counts(previous.start, previous.end, kinds)
    by_month = {month: stored.counts(month, _next_month(month), kinds) for month in months}
    trends = [
        ScoreTrend(
            kind=kind,
            label=KIND_LABELS[kind],
            months=months,
            scores=[by_month[m].score_of(kind) for m in months],
            counts=[by_month[m].answers_of(kind) for m in months],
        )
        for kind in kinds
    ]
    distributions = [
        Distribution(kind, KIND_LABELS[kind], stored.distribution(period.start, period.end, kind))
        for kind in kinds
    ]
    breakdowns = None
    if scope.scope == Scope.COMPANY:
        breakdowns = _company_breakdowns(period=period, kinds=kinds, company=now)
    elif scope.scope == Scope.TEAM:
        breakdowns = _team_breakdowns(int(scope.key), period=period, kinds=kinds, team=now)
    return _Figures(
        now=now,
        before=before,
        trends=trends,
        distributions=distributions,
        breakdowns=breakdowns,
    )


def _next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


def _remainder(whole: ScoreCounts, parts: Sequence[ScoreCounts]) -> ScoreCounts:
    """The whole's counts less its groups': accounts with no team, or no owner."""
    fields = (
        "promoters",
        "passives",
        "detractors",
        "csat_satisfied",
        "csat_answers",
        "ces_sum",
        "ces_answers",
    )
    totals: dict[str, Any] = {
        name: getattr(whole, name) - sum(getattr(p, name) for p in parts) for name in fields
    }
    return ScoreCounts(**totals)


def _company_breakdowns(
    *, period: Period, kinds: Sequence[str], company: ScoreCounts
) -> dict[str, list[BreakdownRow]]:
    """By segment (every one, by name), tier (every one, in service order), team and CSM
    (those with answers; no team / unassigned last), as feedback.selectors_insights lists
    them."""
    groups = stored_group_counts(
        scopes=[Scope.SEGMENT, Scope.TIER, Scope.TEAM, Scope.CSM],
        start=period.start,
        end=period.end,
        kinds=kinds,
    )
    segments, tiers, teams, csms = (
        {key: counts for (group_scope, key), counts in groups.items() if group_scope == scope}
        for scope in (Scope.SEGMENT, Scope.TIER, Scope.TEAM, Scope.CSM)
    )

    by_segment = [
        GroupScores(s.pk, s.name, segments.get(str(s.pk), ScoreCounts()))
        for s in Segment.objects.order_by("name")
    ]
    by_tier = [
        GroupScores(tier, str(label), tiers.get(tier, ScoreCounts()))
        for tier, label in Account.Tier.choices
    ]
    team_names = dict(Team.objects.filter(pk__in=[int(k) for k in teams]).values_list("pk", "name"))
    people = _people(csms)

    return {
        "by_segment": breakdown_rows(by_segment, kinds),
        "by_tier": breakdown_rows(by_tier, kinds),
        "by_team": breakdown_rows(_listed(teams, team_names, "No team", company), kinds),
        "by_csm": breakdown_rows(_listed(csms, people, "Unassigned", company), kinds),
    }


def _team_breakdowns(
    team_id: int, *, period: Period, kinds: Sequence[str], team: ScoreCounts
) -> dict[str, list[BreakdownRow]]:
    """A team's breakdowns from its cross scopes, as the live selectors list them for the
    team's accounts: every segment and tier, the team itself when it has answers, and its
    accounts' owners (unassigned last)."""
    prefix = team_cross_prefix(team_id)
    groups = stored_group_counts(
        scopes=TEAM_CROSS_SCOPES,
        start=period.start,
        end=period.end,
        kinds=kinds,
        key_prefix=prefix,
    )
    segments, tiers, csms = (
        {
            key.removeprefix(prefix): counts
            for (group_scope, key), counts in groups.items()
            if group_scope == scope
        }
        for scope in (TEAM_SEGMENT, TEAM_TIER, TEAM_CSM)
    )
    by_segment = [
        GroupScores(s.pk, s.name, segments.get(str(s.pk), ScoreCounts()))
        for s in Segment.objects.order_by("name")
    ]
    by_tier = [
        GroupScores(tier, str(label), tiers.get(tier, ScoreCounts()))
        for tier, label in Account.Tier.choices
    ]
    by_team = [
        GroupScores(pk, name, team)
        for pk, name in Team.objects.filter(pk=team_id).values_list("pk", "name")
        if team.answers
    ]
    return {
        "by_segment": breakdown_rows(by_segment, kinds),
        "by_tier": breakdown_rows(by_tier, kinds),
        "by_team": breakdown_rows(by_team, kinds),
        "by_csm": breakdown_rows(_listed(csms, _people(csms), "Unassigned", team), kinds),
    }


def _people(found: dict[str, ScoreCounts]) -> dict[int, str]:
    return {
        pk: (f"{first} {last}".strip() or username)
        for pk, first, last, username in User.objects.filter(
            pk__in=[int(k) for k in found]
        ).values_list("pk", "first_name", "last_name", "username")
    }


def _listed(
    found: dict[str, ScoreCounts], labels: dict[int, str], none_label: str, whole: ScoreCounts
) -> list[GroupScores]:
    """The groups with answers by name, and what the whole has beyond them (accounts with no
    team, or no owner) last under none_label."""
    rows = [
        GroupScores(int(key), labels.get(int(key), key), counts)
        for key, counts in found.items()
        if counts.answers
    ]
    rest = _remainder(whole, list(found.values()))
    if rest.answers:
        rows.append(GroupScores(None, none_label, rest))
    rows.sort(key=lambda g: (g.key is None, g.label.lower()))
    return rows


__all__ = ["feedback_rollup_scope", "feedback_stored", "score_counts_of"]
