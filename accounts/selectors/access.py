"""Reads of the accounts floor. Every request-driven lookup of an account goes through
account_get_for_user / account_get_for_edit: the one place the book-of-business rule lives."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.http import Http404
from django.utils import timezone

from accounts.models import Account, AccountQuerySet, Task, User


def accounts_visible_to(user: User) -> AccountQuerySet:
    return Account.objects.visible_to(user)


def account_get_for_user(*, user: User, account_id: int) -> Account:
    """The account if the user may see it; 404 otherwise, so its existence does not leak."""
    try:
        return accounts_visible_to(user).select_related("owner", "team").get(pk=account_id)
    except (Account.DoesNotExist, ValueError, TypeError):
        raise Http404("No such account.") from None


def account_get_for_edit(*, user: User, account_id: int) -> Account:
    """The account if the user may change it (own book for a CSM); 404 otherwise."""
    try:
        return Account.objects.editable_by(user).select_related("owner", "team").get(pk=account_id)
    except (Account.DoesNotExist, ValueError, TypeError):
        raise Http404("No such account.") from None


def portfolio_summary(*, accounts: AccountQuerySet, today: dt.date) -> dict[str, object]:
    """Headline numbers over a set of accounts, in one aggregate query."""
    horizon = today + dt.timedelta(days=90)
    renewing = Q(renewal_date__gte=today, renewal_date__lte=horizon)
    totals = accounts.live().aggregate(
        account_count=Count("pk"),
        total_arr=Sum("arr"),
        renewals_90_count=Count("pk", filter=renewing),
        renewals_90_arr=Sum("arr", filter=renewing),
        onboarding_count=Count("pk", filter=Q(lifecycle_status=Account.Lifecycle.ONBOARDING)),
    )
    return {key: value if value is not None else Decimal("0") for key, value in totals.items()}


def tasks_summary_for_owner(*, user: User, today: dt.date) -> dict[str, int]:
    week_end = today + dt.timedelta(days=7)
    return (
        Task.objects.open()
        .filter(owner=user)
        .aggregate(
            open=Count("pk"),
            overdue=Count("pk", filter=Q(due_date__lt=today)),
            due_this_week=Count("pk", filter=Q(due_date__gte=today, due_date__lte=week_end)),
        )
    )


def local_today() -> dt.date:
    return timezone.localdate()
