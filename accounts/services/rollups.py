"""Writes of the accounts floor."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import DecimalField, Min, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from accounts.models import Account, Contract


def account_rollups_refresh(*, today: dt.date, account_ids: Iterable[int] | None = None) -> int:
    """Recompute the denormalised ARR and renewal date of accounts from their contracts.

    One UPDATE with correlated subqueries, whatever the number of accounts. ARR is the sum
    over contracts covering `today` (PRODUCT.md section 3); the renewal date is the earliest
    end date on or after today, so a customer between terms shows their next renewal.
    """
    covering = (
        Contract.objects.filter(account=OuterRef("pk"), start_date__lte=today, end_date__gte=today)
        .exclude(status=Contract.Status.CANCELLED)
        .order_by()
        .values("account")
        .annotate(total=Sum("arr"))
        .values("total")
    )
    next_end = (
        Contract.objects.filter(account=OuterRef("pk"), end_date__gte=today)
        .exclude(status=Contract.Status.CANCELLED)
        .order_by()
        .values("account")
        .annotate(first_end=Min("end_date"))
        .values("first_end")
    )
    accounts = Account.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    return accounts.update(
        arr=Coalesce(
            Subquery(covering, output_field=DecimalField(max_digits=14, decimal_places=2)),
            Decimal("0"),
            output_field=DecimalField(max_digits=14, decimal_places=2),
        ),
        renewal_date=Subquery(next_end),
    )
