"""Reads of the audit log for its settings page and CSV export."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from accounts.audit_models import AuditEntry
from accounts.models import User

# The object types entries are recorded against, for the page's filter (model names).
OBJECT_TYPES: list[tuple[str, str]] = [
    ("account", "Account"),
    ("contract", "Contract"),
    ("user", "User"),
    ("scorecard", "Scorecard"),
    ("stage", "Journey stage"),
    ("milestone", "Milestone"),
    ("segment", "Segment"),
    ("apitoken", "API token"),
    ("importjob", "CSV import"),
    ("surveyanswer", "Survey answers"),
    ("monthlyreport", "Monthly report"),
    ("export", "Export"),
]


@dataclass(frozen=True)
class AuditFilters:
    actor: User | None = None
    action: str = ""
    object_type: str = ""
    text: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def _day_start(day: dt.date) -> dt.datetime:
    # Days are the configured time zone's, like every date on the site.
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def audit_entries_search(filters: AuditFilters) -> QuerySet[AuditEntry]:
    """Entries matching every given filter, newest first; `date_to` is inclusive."""
    entries = AuditEntry.objects.all()
    if filters.actor is not None:
        entries = entries.filter(actor=filters.actor)
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.object_type:
        entries = entries.filter(object_type=filters.object_type)
    if filters.text:
        entries = entries.filter(object_label__icontains=filters.text)
    if filters.date_from is not None:
        entries = entries.filter(at__gte=_day_start(filters.date_from))
    if filters.date_to is not None:
        entries = entries.filter(at__lt=_day_start(filters.date_to + dt.timedelta(days=1)))
    return entries.order_by("-at", "-pk")
