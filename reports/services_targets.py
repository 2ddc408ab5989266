"""Targets: set, change and remove a goal for a metric over a period and a scope.

Admins and CS managers only; the views check the role, these check the target itself: the
period starts on its first day, the scope names an object (or none for the company), and
one target per metric, period and scope (the database's constraint, with a message here
that says which target is already there).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import User
from reports.models import Metric, Scope, Target
from reports.targets import ReportPeriod, is_period_start

# The scopes a target may be set on from the page; tier targets are not offered yet.
TARGET_SCOPES = (Scope.COMPANY, Scope.TEAM, Scope.CSM, Scope.SEGMENT)


def target_duplicate(
    *,
    metric: str,
    period: str,
    period_start: dt.date,
    scope: str,
    scope_key: str,
    exclude_pk: int | None = None,
) -> Target | None:
    """The target that already holds this metric, period and scope, if any."""
    existing = Target.objects.filter(
        metric=metric, period=period, period_start=period_start, scope=scope, scope_key=scope_key
    )
    if exclude_pk is not None:
        existing = existing.exclude(pk=exclude_pk)
    return existing.first()


def duplicate_message(target: Target) -> str:
    period = ReportPeriod(target.period_start, target.period)
    return (
        f"There is already a target for {target.get_metric_display()} over {period.label} "
        f"for this scope ({target.get_direction_display()} {target.value}). "
        "Change that one instead."
    )


def _validate(
    *,
    metric: str,
    direction: str,
    period: str,
    period_start: dt.date,
    scope: str,
    scope_key: str,
) -> None:
    errors: dict[str, str] = {}
    if metric not in Metric.values:
        errors["metric"] = "Choose a metric from the list."
    if direction not in Target.Direction.values:
        errors["direction"] = "Choose at least or at most."
    if period not in Target.Period.values:
        errors["period"] = "Choose a month, a quarter or a year."
    elif not is_period_start(period, period_start):
        errors["period_start"] = f"A {period} target starts on the first day of the {period}."
    if scope not in TARGET_SCOPES:
        errors["scope"] = "Choose the company, a team, a CSM or a segment."
    elif scope == Scope.COMPANY and scope_key:
        errors["scope"] = "A company target has no team, CSM or segment."
    elif scope != Scope.COMPANY and not scope_key:
        errors["scope"] = f"Choose the {Scope(scope).label.lower()} the target is for."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def target_create(
    *,
    metric: str,
    direction: str,
    value: Decimal,
    period: str,
    period_start: dt.date,
    scope: str,
    scope_key: str = "",
    note: str = "",
    created_by: User | None,
) -> Target:
    _validate(
        metric=metric,
        direction=direction,
        period=period,
        period_start=period_start,
        scope=scope,
        scope_key=scope_key,
    )
    duplicate = target_duplicate(
        metric=metric, period=period, period_start=period_start, scope=scope, scope_key=scope_key
    )
    if duplicate is not None:
        raise ValidationError(duplicate_message(duplicate), code="duplicate")
    try:
        # A savepoint, so a concurrent duplicate leaves the outer transaction usable.
        with transaction.atomic():
            return Target.objects.create(
                metric=metric,
                direction=direction,
                value=value,
                period=period,
                period_start=period_start,
                scope=scope,
                scope_key=scope_key,
                note=note,
                created_by=created_by,
            )
    except IntegrityError:
        raise ValidationError(
            "Someone has just set a target for this metric, period and scope.", code="duplicate"
        ) from None


@transaction.atomic
def target_update(
    *,
    target: Target,
    metric: str,
    direction: str,
    value: Decimal,
    period: str,
    period_start: dt.date,
    scope: str,
    scope_key: str = "",
    note: str = "",
) -> Target:
    _validate(
        metric=metric,
        direction=direction,
        period=period,
        period_start=period_start,
        scope=scope,
        scope_key=scope_key,
    )
    duplicate = target_duplicate(
        metric=metric,
        period=period,
        period_start=period_start,
        scope=scope,
        scope_key=scope_key,
        exclude_pk=target.pk,
    )
    if duplicate is not None:
        raise ValidationError(duplicate_message(duplicate), code="duplicate")
    target.metric = metric
    target.direction = direction
    target.value = value
    target.period = period
    target.period_start = period_start
    target.scope = scope
    target.scope_key = scope_key
    target.note = note
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError:
        raise ValidationError(
            "Someone has just set a target for this metric, period and scope.", code="duplicate"
        ) from None
    return target


@transaction.atomic
def target_delete(*, target: Target) -> None:
    target.delete()
