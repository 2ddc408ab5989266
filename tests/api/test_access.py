"""The access matrix of the API (PRODUCT.md section 6): a CSM against another team's objects
gets 404 for reads and writes and never sees them in lists; a teammate reads but cannot
write; executives read everything and get 403 on every write."""

import datetime as dt

import pytest

from accounts.models import Account, Contact, Interaction, Task
from tests.api import fresh_cache, token_client  # noqa: F401
from tests.factories import (
    AccountFactory,
    ContactFactory,
    ContractFactory,
    InteractionFactory,
    SupportTicketFactory,
    TaskFactory,
    UsageRecordFactory,
)

pytestmark = pytest.mark.usefixtures("fresh_cache")

API = "/api/v1"

# resource -> (make an object on an account, PUT body, PATCH body, DELETE offered)
RESOURCES = {
    "accounts": (
        lambda account: account,
        {"name": "Taken over", "start_date": "2026-01-01"},
        {"name": "Taken over"},
        False,
    ),
    "contacts": (
        lambda account: ContactFactory(account=account),
        {"name": "Taken over", "email": "x@example.com"},
        {"name": "Taken over"},
        False,
    ),
    "interactions": (
        lambda account: InteractionFactory(account=account),
        {"kind": "note", "occurred_on": "2026-01-01", "summary": "Taken over"},
        {"summary": "Taken over"},
        True,
    ),
    "tasks": (
        lambda account: TaskFactory(account=account),
        {"title": "Taken over", "due_date": "2026-01-01", "owner": None},
        {"title": "Taken over"},
        False,
    ),
    "contracts": (lambda account: ContractFactory(account=account), None, None, False),
    "usage-records": (lambda account: UsageRecordFactory(account=account), None, None, False),
    "support-tickets": (lambda account: SupportTicketFactory(account=account), None, None, False),
}


def _unchanged(obj) -> bool:
    """The object is still stored with its original name/summary/title."""
    fresh = type(obj).objects.get(pk=obj.pk)
    for field in ("name", "summary", "title"):
        if hasattr(obj, field):
            return getattr(fresh, field) == getattr(obj, field)
    return True


@pytest.fixture
def outsider_account(outsider):
    return AccountFactory(name="Gamma SMB", owner=outsider)


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_csm_gets_404_for_every_method_on_another_teams_object(owner, outsider_account, resource):
    make, put_body, patch_body, deletable = RESOURCES[resource]
    obj = make(outsider_account)
    client = token_client(owner)
    url = f"{API}/{resource}/{obj.pk}/"

    assert client.get(url).status_code == 404
    if put_body is not None:
        assert client.put(url, put_body, format="json").status_code == 404
        assert client.patch(url, patch_body, format="json").status_code == 404
    if deletable:
        assert client.delete(url).status_code == 404
    assert type(obj).objects.filter(pk=obj.pk).exists()
    assert _unchanged(obj)


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_lists_never_include_another_teams_objects(owner, account, outsider_account, resource):
    make = RESOURCES[resource][0]
    mine = make(account)
    make(outsider_account)

    body = token_client(owner).get(f"{API}/{resource}/").json()

    assert [row["id"] for row in body["results"]] == [mine.pk]


@pytest.mark.parametrize("resource", ["accounts", "contacts", "interactions", "tasks"])
def test_a_teammate_reads_but_cannot_change_the_owners_objects(owner, teammate, account, resource):
    make, _put_body, patch_body, _deletable = RESOURCES[resource]
    obj = make(account)
    if resource == "interactions":
        Interaction.objects.filter(pk=obj.pk).update(author=owner)
    if resource == "tasks":
        Task.objects.filter(pk=obj.pk).update(owner=owner)
    client = token_client(teammate)
    url = f"{API}/{resource}/{obj.pk}/"

    assert client.get(url).status_code == 200
    assert client.patch(url, patch_body, format="json").status_code == 404
    assert _unchanged(obj)


def test_a_teammate_cannot_complete_the_owners_task(owner, teammate, account):
    task = TaskFactory(account=account, owner=owner)

    response = token_client(teammate).post(f"{API}/tasks/{task.pk}/complete/")

    assert response.status_code == 404
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN


@pytest.mark.parametrize("resource", ["accounts", "contacts", "interactions", "tasks"])
def test_executives_read_everything_and_get_403_on_every_write(executive, account, resource):
    make, put_body, patch_body, _deletable = RESOURCES[resource]
    obj = make(account)
    client = token_client(executive)
    url = f"{API}/{resource}/{obj.pk}/"

    assert client.get(url).status_code == 200
    assert client.put(url, put_body, format="json").status_code == 403
    assert client.patch(url, patch_body, format="json").status_code == 403
    assert client.delete(url).status_code == 403
    assert client.post(f"{API}/{resource}/", {}, format="json").status_code == 403
    assert _unchanged(obj)


def test_executives_cannot_push_bulk_data(executive, account):
    response = token_client(executive).post(
        f"{API}/usage-records/bulk/",
        {"items": [{"account_external_id": account.external_id, "day": "2026-01-01"}]},
        format="json",
    )

    assert response.status_code == 403


def test_a_csm_cannot_point_new_records_at_another_teams_account(owner, outsider_account):
    client = token_client(owner)
    today = dt.date(2026, 1, 1).isoformat()

    contact = client.post(
        f"{API}/contacts/",
        {"account": outsider_account.pk, "name": "X", "email": "x@example.com"},
        format="json",
    )
    task = client.post(
        f"{API}/tasks/",
        {"account": outsider_account.pk, "title": "X", "due_date": today},
        format="json",
    )

    assert contact.status_code == task.status_code == 400
    # Worded like an id that does not exist: the API does not confirm the account exists.
    assert contact.json()["account"] == [
        f'Invalid pk "{outsider_account.pk}" - object does not exist.'
    ]
    assert not Contact.objects.exists()
    assert not Task.objects.exists()


def test_a_request_without_credentials_gets_401(account):
    from rest_framework.test import APIClient

    response = APIClient().get(f"{API}/accounts/")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_the_account_itself_of_another_team_is_404_even_by_pk_guess(owner, outsider_account):
    client = token_client(owner)

    assert client.get(f"{API}/accounts/{outsider_account.pk}/").status_code == 404
    assert client.get(f"{API}/accounts/999999999999999999999/").status_code == 404
    assert Account.objects.filter(pk=outsider_account.pk).exists()
