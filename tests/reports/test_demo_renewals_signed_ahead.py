"""The demo signs some renewals before the term ends, as customers do, so a period that is
not over yet does not count every renewal still to come as churn."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Account, Contract

pytestmark = pytest.mark.django_db


def test_renewals_signed_ahead_continue_a_term_ending_within_90_days():
    call_command(
        "seed_demo", "--accounts", "300", "--days", "60", "--health-days", "0", verbosity=0
    )
    today = timezone.localdate()

    ahead = list(Contract.objects.filter(start_date__gt=today).select_related("previous"))
    assert ahead
    ending_soon = Contract.objects.filter(
        start_date__lte=today, end_date__gte=today, end_date__lte=today + dt.timedelta(days=90)
    ).count()
    assert len(ahead) < ending_soon
    for contract in ahead:
        current = contract.previous
        assert current is not None
        assert current.account_id == contract.account_id
        assert current.start_date <= today <= current.end_date <= today + dt.timedelta(days=90)
        assert contract.start_date == current.end_date + dt.timedelta(days=1)
        assert contract.created_at.date() <= today
    # A live account's ARR is today's term, not the one signed ahead.
    account_ids = {c.account_id for c in ahead}
    for account in Account.objects.filter(pk__in=account_ids):
        assert account.lifecycle_status != Account.Lifecycle.CHURNED
        running = Contract.objects.filter(
            account=account, start_date__lte=today, end_date__gte=today
        )
        assert account.arr == sum(c.arr for c in running)
        assert account.renewal_date == running.get().end_date
    # Most renewals are signed in the term's last month.
    days_left = [(c.previous.end_date - today).days for c in ahead]
    assert sum(d <= 30 for d in days_left) > sum(d > 60 for d in days_left)
