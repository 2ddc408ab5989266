from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from accounts.models import Account, Segment
from accounts.segment_rules import segment_rules_q


def segment_accounts(segment: Segment, *, today: dt.date) -> QuerySet[Account]:
    """The segment's members, as a filter that composes with other querysets (one query)."""
    if segment.kind == Segment.Kind.STATIC:
        return Account.objects.filter(segment_memberships__segment=segment)
    return Account.objects.filter(segment_rules_q(segment.rules, today=today))


def segment_filter(
    accounts: QuerySet[Account], segment: Segment, *, today: dt.date
) -> QuerySet[Account]:
    """Narrow an account queryset (already scoped to a user) to a segment's members."""
    if segment.kind == Segment.Kind.STATIC:
        return accounts.filter(segment_memberships__segment=segment)
    return accounts.filter(segment_rules_q(segment.rules, today=today))
