""" "My book" pages its accounts with the count its summary already read: the same live
accounts, one query fewer, and the page furniture unchanged."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

MY_BOOK = "/my-book/"


@pytest.fixture
def book(owner, teammate):
    # 53 live accounts (2 onboarding among them) and 2 churned ones, which the book leaves
    # out; a teammate's account is not in the owner's book.
    for n in range(1, 52):
        AccountFactory(name=f"Book {n:02d}", owner=owner, arr=Decimal("1000"))
    for n in (52, 53):
        AccountFactory(
            name=f"Book {n:02d}", owner=owner, lifecycle_status=Account.Lifecycle.ONBOARDING
        )
    for n in (1, 2):
        AccountFactory(
            name=f"Gone {n}",
            owner=owner,
            lifecycle_status=Account.Lifecycle.CHURNED,
            churned_on=dt.date(2026, 1, 31),
        )
    AccountFactory(name="Teammate's", owner=teammate)


def _names(response) -> list[str]:
    return [row.line.name for row in response.context["rows"]]


def test_the_second_page_holds_the_last_three_live_accounts(client_for, owner, book):
    response = client_for(owner).get(MY_BOOK, {"page": "2"})

    # No scores: worst health first leaves the names in order.
    assert _names(response) == ["Book 51", "Book 52", "Book 53"]
    assert response.context["page_obj"].paginator.count == 53
    assert response.context["summary"].accounts == 53
    assert "51–53 of 53" in response.content.decode()


def test_a_page_past_the_end_shows_the_last_page(client_for, owner, book):
    response = client_for(owner).get(MY_BOOK, {"page": "9"})

    assert response.context["page_obj"].number == 2
    assert _names(response) == ["Book 51", "Book 52", "Book 53"]


def test_the_book_pages_without_counting_its_accounts_again(client_for, owner, book):
    client = client_for(owner)
    client.get(MY_BOOK)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(MY_BOOK)

    assert len(response.context["rows"]) == 50
    assert not [q["sql"] for q in queries.captured_queries if "COUNT(*)" in q["sql"]]


def test_a_manager_pages_a_csms_book_the_same_way(client_for, manager, owner, book):
    response = client_for(manager).get(MY_BOOK, {"csm": owner.pk, "page": "2"})

    assert _names(response) == ["Book 51", "Book 52", "Book 53"]
    assert "51–53 of 53" in response.content.decode()
