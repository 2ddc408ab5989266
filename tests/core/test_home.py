import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account
from tests.factories import AccountFactory, TaskFactory

pytestmark = pytest.mark.django_db


def _kpi(response, name: str) -> str:
    html = response.content.decode()
    marker = f'data-kpi="{name}">'
    start = html.index(marker) + len(marker)
    return html[start : html.index("<", start)]


def test_a_manager_sees_portfolio_totals_without_churned_accounts(
    client_for, manager, owner, outsider
):
    today = timezone.localdate()
    AccountFactory(owner=owner, arr=Decimal("10000"), renewal_date=today + dt.timedelta(days=30))
    AccountFactory(owner=outsider, arr=Decimal("2500"), renewal_date=today + dt.timedelta(days=120))
    AccountFactory(
        owner=outsider, arr=Decimal("999"), lifecycle_status=Account.Lifecycle.ONBOARDING
    )
    AccountFactory(
        owner=owner,
        arr=Decimal("50000"),
        lifecycle_status=Account.Lifecycle.CHURNED,
        churned_on=today,
    )

    response = client_for(manager).get("/")

    assert response.context["scope_label"] == "Portfolio"
    assert _kpi(response, "accounts") == "3"
    assert _kpi(response, "arr") == "$13,499"
    assert _kpi(response, "renewals_90") == "1"
    assert _kpi(response, "onboarding") == "1"


def test_a_csm_sees_their_own_book_and_task_counts(client_for, owner, teammate):
    today = timezone.localdate()
    mine = AccountFactory(owner=owner, arr=Decimal("4000"))
    AccountFactory(owner=teammate, arr=Decimal("7000"))
    TaskFactory(account=mine, owner=owner, due_date=today - dt.timedelta(days=1))
    TaskFactory(account=mine, owner=owner, due_date=today + dt.timedelta(days=3))
    TaskFactory(account=mine, owner=owner, due_date=today + dt.timedelta(days=30))

    response = client_for(owner).get("/")

    assert response.context["scope_label"] == "My book"
    assert _kpi(response, "arr") == "$4,000"
    assert _kpi(response, "open_tasks") == "3"
    assert response.context["tasks"] == {"open": 3, "overdue": 1, "due_this_week": 1}


def test_an_executive_has_no_task_counts(client_for, executive):
    response = client_for(executive).get("/")
    assert response.context["tasks"] is None
    assert b'data-kpi="open_tasks"' not in response.content
    assert b"No accounts yet" in response.content


def test_home_runs_a_fixed_number_of_queries(
    client_for, manager, owner, django_assert_max_num_queries
):
    for _ in range(20):
        AccountFactory(owner=owner)
    client = client_for(manager)
    with django_assert_max_num_queries(6):
        client.get("/")
