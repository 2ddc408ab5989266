"""Nightly health rollups per scope: what the health page and the manager dashboard read
instead of joining score rows of every account.

- HealthBandTrend: on the last scored day of each of the last 12 months (health.selectors
  .score_days), each scope's scored accounts per band and their *current* ARR, the figures
  health.selectors.band_trend computes live for one scope.
- HealthBandToday: each scope's live accounts and their current ARR per current band (and
  the unscored), and the latest scored day's scores per band with how many rest on stale
  usage: health.selectors.band_distribution and stale_scores for one scope.
- HealthMover: each scope's 10 accounts whose score fell most and the 10 that rose most
  over each window the health page offers (7 and 30 days), ordered as
  health.selectors.health_movers orders them (change, then name, then id), with the two
  components that moved each score most.

Scopes are the snapshot scopes (company, segment, team, CSM, tier) from the accounts'
current attributes, decided by the same ScopePlan as the metric snapshots. Set-based: the
trend reads the month-end days' (account, band) pairs in one query; today's bands read the
live accounts' (band, ARR) and the latest day's scores in one query each; the movers read two
days of scores per window, rank every account once, and fetch the components only of the
accounts that made some scope's top 10. Every row is replaced in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import Account
from health.forms import MOVER_WINDOWS
from health.models import HealthBandToday, HealthBandTrend, HealthMover, HealthScore
from health.retention import AccountFacts, ScopePlan, account_facts_load, scope_plan_load
from health.selectors import (
    ALL_BANDS,
    MOVERS_LIMIT,
    NO_SCORE,
    SCORED_BANDS,
    STALE_AFTER_DAYS,
    component_moves,
    score_days,
)
from reports.models import MetricSnapshot, Scope

ScopeKey = tuple[str, str]
# Rows per INSERT: ~830 scopes x 12 days x 3 bands is ~30,000 trend rows; 2,000 rows of
# at most a dozen columns stay far below PostgreSQL's 65,535 parameters per statement.
WRITE_BATCH = 2_000
# Accounts per components read: an IN list of this many ids stays one index scan.
COMPONENTS_BATCH = 5_000
# The dashboard's list of falls reads the 7-day window.
DROPS_WINDOW = 7
# Metric names of the ranked falls formerly stored among the metric snapshots.
LEGACY_DROP_PREFIX = "health_drop_"


def scopes_of(plan: ScopePlan, account_id: int) -> list[ScopeKey]:
    """Every snapshot scope an account belongs to (the company always)."""
    keys: list[ScopeKey] = [(Scope.COMPANY, "")]
    combination = plan.combination_of.get(account_id)
    if combination is not None:
        team_id, owner_id, tier = plan.combinations[combination]
        if team_id is not None:
            keys.append((Scope.TEAM, str(team_id)))
        if owner_id is not None:
            keys.append((Scope.CSM, str(owner_id)))
        keys.append((Scope.TIER, tier))
    keys.extend((Scope.SEGMENT, str(segment)) for segment in plan.segments_of.get(account_id, ()))
    return keys


# --- Band trend ---------------------------------------------------------------------------


def band_trend_rows(
    plan: ScopePlan, facts: Mapping[int, AccountFacts], *, days: Sequence[dt.date]
) -> list[HealthBandTrend]:
    """Every scope of the plan, every day and scored band: accounts and current ARR; one
    query. Zero rows are written too, so the page tells "no scores" from "no snapshot"."""
    counts: dict[tuple[ScopeKey, dt.date, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    if days:
        pairs = (
            HealthScore.objects.filter(day__in=days)
            .order_by()
            .values_list("account_id", "day", "band")
        )
        scope_cache: dict[int, list[ScopeKey]] = {}
        for account_id, day, band in pairs.iterator(chunk_size=20_000):
            if band not in SCORED_BANDS:
                continue
            keys = scope_cache.get(account_id)
            if keys is None:
                keys = scope_cache[account_id] = scopes_of(plan, account_id)
            fact = facts.get(account_id)
            arr = fact.arr if fact is not None and fact.arr is not None else Decimal(0)
            for key in keys:
                cell = counts[(key, day, band)]
                cell[0] += 1
                cell[1] += arr
    rows = []
    for scope, scope_key in sorted(plan.keys):
        for day in days:
            for band in SCORED_BANDS:
                accounts, arr = counts.get(((scope, scope_key), day, band), (0, Decimal(0)))
                rows.append(
                    HealthBandTrend(
                        scope=scope,
                        scope_key=scope_key,
                        day=day,
                        band=band,
                        accounts=accounts,
                        arr=arr,
                    )
                )
    return rows


# --- Today's bands --------------------------------------------------------------------------


def band_today_rows(plan: ScopePlan, *, day: dt.date | None) -> list[HealthBandToday]:
    """Every scope of the plan and every band, the unscored included: live accounts and
    their current ARR by current band, and `day`'s scores by band with the stale ones; two
    queries. Zero rows are written too, so the page tells "none" from "not computed"."""
    cells: dict[tuple[ScopeKey, str], list[Any]] = defaultdict(lambda: [0, Decimal(0), 0, 0])
    scope_cache: dict[int, list[ScopeKey]] = {}

    def keys_of(account_id: int) -> list[ScopeKey]:
        keys = scope_cache.get(account_id)
        if keys is None:
            keys = scope_cache[account_id] = scopes_of(plan, account_id)
        return keys

    live = Account.objects.live().order_by().values_list("id", "health_band", "arr")
    for account_id, band, arr in live.iterator(chunk_size=20_000):
        band = band if band in SCORED_BANDS else NO_SCORE
        for key in keys_of(account_id):
            cell = cells[(key, band)]
            cell[0] += 1
            cell[1] += arr or Decimal(0)
    if day is not None:
        # health.selectors.stale_scores' rule: usage older than the cutoff, or none.
        cutoff = day - dt.timedelta(days=STALE_AFTER_DAYS)
        scores = (
            HealthScore.objects.filter(day=day)
            .order_by()
            .values_list("account_id", "band", "usage_through")
        )
        for account_id, band, usage_through in scores.iterator(chunk_size=20_000):
            band = band if band in SCORED_BANDS else NO_SCORE
            stale = usage_through is None or usage_through < cutoff
            for key in keys_of(account_id):
                cell = cells[(key, band)]
                cell[2] += 1
                cell[3] += stale
    rows = []
    for scope, scope_key in sorted(plan.keys):
        for band in ALL_BANDS:
            accounts, arr, scores_in_band, stale_in_band = cells.get(
                ((scope, scope_key), band), (0, Decimal(0), 0, 0)
            )
            rows.append(
                HealthBandToday(
                    scope=scope,
                    scope_key=scope_key,
                    band=band,
                    accounts=accounts,
                    arr=arr,
                    day=day,
                    scores=scores_in_band,
                    stale_scores=stale_in_band,
                )
            )
    return rows


# --- Movers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ranked:
    account_id: int
    score_then: int
    score_now: int
    band_now: str
    overridden: bool


def movers_ranked(
    plan: ScopePlan, names: Mapping[int, str], *, day: dt.date, window: int
) -> dict[tuple[ScopeKey, str], list[Ranked]]:
    """Each scope's top falls and rises between `day - window` and `day`; two queries."""
    since = day - dt.timedelta(days=window)
    now = {
        row[0]: row[1:]
        for row in HealthScore.objects.filter(day=day)
        .order_by()
        .values_list("account_id", "score", "band", "override_id")
    }
    then = dict(HealthScore.objects.filter(day=since).order_by().values_list("account_id", "score"))
    moved = [
        Ranked(
            account_id=account_id,
            score_then=then[account_id],
            score_now=score,
            band_now=band,
            overridden=override_id is not None,
        )
        for account_id, (score, band, override_id) in now.items()
        if account_id in then and score != then[account_id]
    ]

    def change(m: Ranked) -> int:
        return m.score_now - m.score_then

    down = sorted(
        (m for m in moved if change(m) < 0),
        key=lambda m: (change(m), names.get(m.account_id, ""), m.account_id),
    )
    up = sorted(
        (m for m in moved if change(m) > 0),
        key=lambda m: (-change(m), names.get(m.account_id, ""), m.account_id),
    )
    ranked: dict[tuple[ScopeKey, str], list[Ranked]] = defaultdict(list)
    for direction, ordered in ((HealthMover.Direction.DOWN, down), (HealthMover.Direction.UP, up)):
        for mover in ordered:
            for key in scopes_of(plan, mover.account_id):
                listed = ranked[(key, direction)]
                if len(listed) < MOVERS_LIMIT:
                    listed.append(mover)
    return dict(ranked)


def _components(
    account_ids: Iterable[int], days: Iterable[dt.date]
) -> dict[tuple[int, dt.date], Any]:
    """The stored breakdown of the given accounts on the given days, in bounded batches."""
    ids = sorted(set(account_ids))
    wanted = sorted(set(days))
    out: dict[tuple[int, dt.date], Any] = {}
    for start in range(0, len(ids), COMPONENTS_BATCH):
        batch = ids[start : start + COMPONENTS_BATCH]
        rows = (
            HealthScore.objects.filter(day__in=wanted, account_id__in=batch)
            .order_by()
            .values_list("account_id", "day", "components")
        )
        for account_id, day, components in rows:
            out[(account_id, day)] = components
    return out


def mover_rows(plan: ScopePlan, *, day: dt.date) -> list[HealthMover]:
    """The movers of every scope and window, ranked; 1 + 2 per window + a few queries."""
    names = dict(Account.objects.order_by().values_list("id", "name"))
    by_window = {
        window: movers_ranked(plan, names, day=day, window=window) for window in MOVER_WINDOWS
    }
    wanted = {
        mover.account_id
        for ranked in by_window.values()
        for listed in ranked.values()
        for mover in listed
    }
    components = _components(
        wanted, [day, *(day - dt.timedelta(days=window) for window in MOVER_WINDOWS)]
    )
    rows = []
    for window, ranked in by_window.items():
        since = day - dt.timedelta(days=window)
        for ((scope, scope_key), direction), listed in sorted(ranked.items()):
            for rank, mover in enumerate(listed, start=1):
                moves = component_moves(
                    components.get((mover.account_id, day)),
                    components.get((mover.account_id, since)),
                )
                rows.append(
                    HealthMover(
                        scope=scope,
                        scope_key=scope_key,
                        window=window,
                        direction=direction,
                        rank=rank,
                        day=day,
                        account_id=mover.account_id,
                        score_then=mover.score_then,
                        score_now=mover.score_now,
                        band_now=mover.band_now,
                        overridden=mover.overridden,
                        moves=[
                            {"measure": m.measure, "label": m.label, "points": m.points}
                            for m in moves
                        ],
                    )
                )
    return rows


# --- The service ----------------------------------------------------------------------------


def health_rollups_recompute(
    *, today: dt.date, plan: ScopePlan, facts: Mapping[int, AccountFacts]
) -> tuple[int, int]:
    """Replace every band-trend, today's-band and mover row; returns (trend rows, mover
    rows).

    Called inside the metric snapshots' transaction, so a page reads either last night's
    rows or tonight's, never a mix. Also deletes the ranked falls once kept as metric
    snapshots (`health_drop_7d:NN`): HealthMover holds them now.
    """
    days = score_days(today=today)
    trend = band_trend_rows(plan, facts, days=days.month_ends)
    today_rows = band_today_rows(plan, day=days.latest)
    movers = mover_rows(plan, day=days.latest) if days.latest is not None else []
    HealthBandTrend.objects.all().delete()
    HealthBandToday.objects.all().delete()
    HealthMover.objects.all().delete()
    HealthBandTrend.objects.bulk_create(trend, batch_size=WRITE_BATCH)
    HealthBandToday.objects.bulk_create(today_rows, batch_size=WRITE_BATCH)
    HealthMover.objects.bulk_create(movers, batch_size=WRITE_BATCH)
    MetricSnapshot.objects.filter(metric__startswith=LEGACY_DROP_PREFIX).delete()
    return len(trend), len(movers)


@transaction.atomic
def health_rollups_refresh(*, today: dt.date) -> tuple[int, int]:
    """The health rollups alone, with their own scope plan: for a scorecard change or a
    recompute of today's scores that should show before tonight's snapshots."""
    facts = account_facts_load()
    return health_rollups_recompute(
        today=today, plan=scope_plan_load(facts, today=today), facts=facts
    )
