"""Initiatives: record a CS program on a segment, and change it."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Segment, User
from reports.models import Initiative, Metric


def _validate(*, name: str, start_date: dt.date, end_date: dt.date | None, metric: str) -> None:
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "Give the initiative a name."
    if metric not in Metric.values:
        errors["metric"] = "Choose the metric the initiative should move."
    if end_date is not None and end_date < start_date:
        errors["end_date"] = "The end date cannot be before the start date."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def initiative_create(
    *,
    name: str,
    description: str = "",
    segment: Segment,
    start_date: dt.date,
    end_date: dt.date | None = None,
    owner: User | None,
    metric: str,
) -> Initiative:
    _validate(name=name, start_date=start_date, end_date=end_date, metric=metric)
    return Initiative.objects.create(
        name=name.strip(),
        description=description,
        segment=segment,
        start_date=start_date,
        end_date=end_date,
        owner=owner,
        metric=metric,
    )


@transaction.atomic
def initiative_update(
    *,
    initiative: Initiative,
    name: str,
    description: str,
    segment: Segment,
    start_date: dt.date,
    end_date: dt.date | None,
    owner: User | None,
    metric: str,
) -> Initiative:
    _validate(name=name, start_date=start_date, end_date=end_date, metric=metric)
    initiative.name = name.strip()
    initiative.description = description
    initiative.segment = segment
    initiative.start_date = start_date
    initiative.end_date = end_date
    initiative.owner = owner
    initiative.metric = metric
    initiative.save()
    return initiative
