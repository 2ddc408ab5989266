import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import Contract
from accounts.services.rollups import account_rollups_refresh
from tests.factories import AccountFactory, ContractFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 6, 15)


def test_arr_is_the_sum_of_contracts_covering_today_and_renewal_is_the_next_end():
    account = AccountFactory()
    # Two products running side by side, plus an ended and a cancelled term.
    ContractFactory(
        account=account,
        start_date=dt.date(2025, 1, 1),
        end_date=dt.date(2025, 12, 31),
        arr=Decimal("9000"),
    )
    ContractFactory(
        account=account,
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 12, 31),
        arr=Decimal("12000"),
    )
    ContractFactory(
        account=account,
        start_date=dt.date(2026, 3, 1),
        end_date=dt.date(2026, 8, 31),
        arr=Decimal("3000"),
    )
    ContractFactory(
        account=account,
        start_date=dt.date(2026, 2, 1),
        end_date=dt.date(2027, 1, 31),
        arr=Decimal("50000"),
        status=Contract.Status.CANCELLED,
    )
    unrelated = AccountFactory()

    updated = account_rollups_refresh(today=TODAY)

    account.refresh_from_db()
    unrelated.refresh_from_db()
    assert updated == 2
    assert account.arr == Decimal("15000.00")
    assert account.renewal_date == dt.date(2026, 8, 31)
    assert (unrelated.arr, unrelated.renewal_date) == (Decimal("0"), None)


def test_the_last_day_of_a_term_still_counts_and_the_day_after_does_not():
    account = AccountFactory()
    ContractFactory(
        account=account, start_date=dt.date(2025, 6, 16), end_date=TODAY, arr=Decimal("7000")
    )
    account_rollups_refresh(today=TODAY)
    account.refresh_from_db()
    assert account.arr == Decimal("7000.00")
    account_rollups_refresh(today=TODAY + dt.timedelta(days=1))
    account.refresh_from_db()
    assert (account.arr, account.renewal_date) == (Decimal("0"), None)


def test_refresh_runs_one_query_whatever_the_number_of_accounts(django_assert_num_queries):
    for _ in range(5):
        ContractFactory()
    with django_assert_num_queries(1):
        account_rollups_refresh(today=TODAY)
