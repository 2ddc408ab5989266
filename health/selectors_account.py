"""The health panel of one account's page: latest score, its reasons, its history."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from accounts.models import Account
from health.models import HealthOverride, HealthScore, Measure

TREND_DAYS = 180
# "Why did it change": compared with the score this many days earlier.
CHANGE_WINDOW_DAYS = 7


@dataclass
class ComponentLine:
    measure: str
    label: str
    raw_text: str
    points: int | None
    weight: int | None
    effective_weight: float | None
    missing: bool = False


@dataclass
class ComponentChange:
    label: str
    points_before: int
    points_now: int
    # The component's effect on the total: points moved x its effective weight.
    effect: float


@dataclass
class AccountHealth:
    latest: HealthScore | None
    lines: list[ComponentLine] = field(default_factory=list)
    changes: list[ComponentChange] = field(default_factory=list)
    compared_with: HealthScore | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    version_changes: list[dict[str, Any]] = field(default_factory=list)
    active_override: HealthOverride | None = None


def describe_raw(measure: str, raw: float) -> str:
    """A raw measure in words a CSM understands."""
    if measure == Measure.USAGE:
        return f"{raw:.0%} of licensed seats active (30 days)"
    if measure == Measure.USAGE_TREND:
        return f"active users {raw:+.0%} vs the 30 days before"
    if measure == Measure.ADOPTION:
        total = settings.HEALTH_KEY_FEATURES
        return f"{round(raw * total)} of {total} key features used (30 days)"
    if measure == Measure.SUPPORT:
        return f"{raw:.0f} open or high-priority tickets (30 days)"
    if measure == Measure.SENTIMENT:
        return f"{raw:.0f}/100 average NPS/CSAT answer (180 days)"
    if measure == Measure.ENGAGEMENT:
        days = round(raw)
        return f"{days} day{'s' if days != 1 else ''} since the last interaction"
    return f"{raw}"


def _lines(score: HealthScore) -> list[ComponentLine]:
    labels = dict(Measure.choices)
    lines = [
        ComponentLine(
            measure=measure,
            label=labels.get(measure, measure),
            raw_text=describe_raw(measure, parts["raw"]),
            points=parts["points"],
            weight=parts["weight"],
            effective_weight=parts["effective_weight"],
        )
        for measure, parts in score.components.items()
    ]
    lines.sort(key=lambda line: -(line.effective_weight or 0))
    lines += [
        ComponentLine(
            measure=measure,
            label=labels.get(measure, measure),
            raw_text="no data: left out, the other weights renormalised",
            points=None,
            weight=None,
            effective_weight=None,
            missing=True,
        )
        for measure in score.missing
    ]
    return lines


def component_changes(before: HealthScore, now: HealthScore) -> list[ComponentChange]:
    """Components ordered by how much they moved the total, largest effect first."""
    labels = dict(Measure.choices)
    changes = []
    for measure in set(before.components) | set(now.components):
        old = before.components.get(measure, {}).get("points")
        new = now.components.get(measure, {}).get("points")
        if old is None or new is None or old == new:
            continue
        weight = now.components[measure]["effective_weight"]
        changes.append(
            ComponentChange(
                label=labels.get(measure, measure),
                points_before=old,
                points_now=new,
                effect=round((new - old) * weight, 1),
            )
        )
    changes.sort(key=lambda c: -abs(c.effect))
    return changes


def account_health(*, account: Account, today: dt.date) -> AccountHealth:
    """Everything the account page shows about health, in three queries."""
    rows = list(
        HealthScore.objects.filter(
            account=account, day__gt=today - dt.timedelta(days=TREND_DAYS), day__lte=today
        )
        .select_related("scorecard_version__scorecard", "override__created_by")
        .order_by("day")
    )
    override = (
        HealthOverride.objects.filter(
            account=account, revoked_at__isnull=True, expires_on__gte=today
        )
        .select_related("created_by")
        .order_by("-created_at")
        .first()
    )
    if not rows:
        return AccountHealth(latest=None, active_override=override)
    latest = rows[-1]
    target = latest.day - dt.timedelta(days=CHANGE_WINDOW_DAYS)
    earlier = [row for row in rows if row.day <= target]
    compared_with = earlier[-1] if earlier else (rows[0] if len(rows) > 1 else None)
    version_changes = [
        {"day": row.day, "version": str(row.scorecard_version)}
        for previous, row in itertools.pairwise(rows)
        if row.scorecard_version_id != previous.scorecard_version_id
    ]
    return AccountHealth(
        latest=latest,
        lines=_lines(latest),
        changes=component_changes(compared_with, latest) if compared_with else [],
        compared_with=compared_with,
        history=[
            {"day": row.day, "score": row.score, "computed": row.computed_score, "band": row.band}
            for row in rows
        ],
        version_changes=version_changes,
        active_override=override,
    )
