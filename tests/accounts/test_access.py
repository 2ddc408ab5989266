"""The book-of-business rule on the account list, export and page, and on the shared getters.

Enterprise: owner (CSM) and teammate (CSM), managed by manager. SMB: outsider (CSM).
Executive and admin belong to no team.
"""

import csv
import io

import pytest
from django.http import Http404

from accounts.selectors.access import account_get_for_edit, account_get_for_user
from tests.factories import AccountFactory, SegmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(owner, teammate, outsider):
    """One account per CSM, plus a team account whose owner left (owner unset)."""
    return {
        "mine": AccountFactory(name="Owner One", owner=owner),
        "teammate": AccountFactory(name="Teammate One", owner=teammate),
        "team_unowned": AccountFactory(name="Team Unowned", owner=None, team=owner.team),
        "outsider": AccountFactory(name="Outsider One", owner=outsider),
    }


def _names(response) -> set[str]:
    return {row.account.name for row in response.context["rows"]}


def _csv_names(response) -> set[str]:
    body = b"".join(response.streaming_content).decode()
    return {row[1] for row in list(csv.reader(io.StringIO(body)))[1:]}


# --- The shared getters ---


def test_an_outsider_csm_cannot_get_another_teams_account(outsider, book):
    with pytest.raises(Http404):
        account_get_for_user(user=outsider, account_id=book["mine"].pk)
    with pytest.raises(Http404):
        account_get_for_edit(user=outsider, account_id=book["mine"].pk)


def test_a_teammate_can_read_but_not_edit_a_teammates_account(teammate, book):
    assert account_get_for_user(user=teammate, account_id=book["mine"].pk) == book["mine"]
    with pytest.raises(Http404):
        account_get_for_edit(user=teammate, account_id=book["mine"].pk)


def test_the_owner_can_read_and_edit_their_own_account(owner, book):
    assert account_get_for_edit(user=owner, account_id=book["mine"].pk) == book["mine"]


def test_an_executive_reads_every_account_but_edits_none(executive, book):
    for account in book.values():
        assert account_get_for_user(user=executive, account_id=account.pk) == account
        with pytest.raises(Http404):
            account_get_for_edit(user=executive, account_id=account.pk)


def test_a_manager_reads_and_edits_another_teams_account(manager, book):
    assert account_get_for_edit(user=manager, account_id=book["outsider"].pk) == book["outsider"]


def test_a_malformed_or_missing_id_is_a_404_not_an_error(owner, book):
    with pytest.raises(Http404):
        account_get_for_user(user=owner, account_id="abc")
    with pytest.raises(Http404):
        account_get_for_user(user=owner, account_id=999_999)


# --- The account page ---


def test_an_outsider_csm_gets_404_opening_another_teams_account(client_for, outsider, book):
    response = client_for(outsider).get(f"/accounts/{book['mine'].pk}/")

    assert response.status_code == 404


def test_a_teammate_opens_a_teammates_account_read_only(client_for, teammate, book):
    response = client_for(teammate).get(f"/accounts/{book['mine'].pk}/")

    assert response.status_code == 200
    assert response.context["can_edit"] is False
    assert response.context["interaction_form"] is None
    assert f"/accounts/{book['mine'].pk}/edit/" not in response.content.decode()


def test_an_executive_opens_any_account_read_only(client_for, executive, book):
    response = client_for(executive).get(f"/accounts/{book['outsider'].pk}/")

    assert response.status_code == 200
    assert response.context["can_edit"] is False
    assert "Log an interaction" not in response.content.decode()


# --- The list ---


def test_a_csms_list_holds_their_own_and_their_teams_accounts_only(client_for, owner, book):
    response = client_for(owner).get("/accounts/")

    assert _names(response) == {"Owner One", "Teammate One", "Team Unowned"}


def test_a_csm_without_a_team_lists_only_their_own_book(client_for, book):
    loner = UserFactory(username="loner", team=None)
    AccountFactory(name="Loner One", owner=loner, team=None)
    AccountFactory(name="Unteamed Other", owner=None, team=None)

    response = client_for(loner).get("/accounts/")

    assert _names(response) == {"Loner One"}
    assert list(response.context["filterset"].form.fields["team"].queryset) == []


def test_the_outsiders_list_holds_only_their_own_team(client_for, outsider, book):
    assert _names(client_for(outsider).get("/accounts/")) == {"Outsider One"}


def test_an_executive_and_a_manager_list_every_account(client_for, executive, manager, book):
    everything = {"Owner One", "Teammate One", "Team Unowned", "Outsider One"}
    assert _names(client_for(executive).get("/accounts/")) == everything
    assert _names(client_for(manager).get("/accounts/")) == everything


def test_filtering_by_another_teams_owner_yields_none_of_their_accounts(
    client_for, owner, outsider, book
):
    response = client_for(owner).get("/accounts/", {"owner": outsider.pk})

    assert response.status_code == 200
    assert _names(response) == set()
    assert "Outsider One" not in response.content.decode()


def test_filtering_by_another_team_yields_none_of_their_accounts(client_for, owner, outsider, book):
    response = client_for(owner).get("/accounts/", {"team": outsider.team_id})

    assert _names(response) == set()


def test_the_filter_form_offers_only_owners_and_teams_the_csm_may_see(
    client_for, owner, teammate, outsider, manager, executive, book
):
    form = client_for(owner).get("/accounts/").context["filterset"].form

    owners = {user.pk for user in form.fields["owner"].queryset}
    teams = {team.pk for team in form.fields["team"].queryset}
    # The Enterprise team: both CSMs and their manager; never SMB's outsider.
    assert owners == {owner.pk, teammate.pk, manager.pk}
    assert teams == {owner.team_id}


def test_a_manager_is_offered_every_person_who_owns_an_account(
    client_for, owner, teammate, outsider, manager, executive, book
):
    form = client_for(manager).get("/accounts/").context["filterset"].form

    owners = {user.pk for user in form.fields["owner"].queryset}
    assert owners == {owner.pk, teammate.pk, outsider.pk}


def test_a_segment_filter_never_reaches_outside_the_csms_book(client_for, owner, book):
    everyone = SegmentFactory(name="Everyone", rules={})

    response = client_for(owner).get("/accounts/", {"segment": everyone.pk})

    assert _names(response) == {"Owner One", "Teammate One", "Team Unowned"}


# --- The export ---


def test_a_csms_export_never_contains_another_teams_account(client_for, owner, outsider, book):
    client = client_for(owner)

    assert _csv_names(client.get("/accounts/export.csv")) == {
        "Owner One",
        "Teammate One",
        "Team Unowned",
    }
    assert _csv_names(client.get("/accounts/export.csv", {"owner": outsider.pk})) == set()
    assert _csv_names(client.get("/accounts/export.csv", {"q": "Outsider"})) == set()


# --- Anonymous visitors ---


@pytest.mark.parametrize("path", ["/accounts/", "/accounts/export.csv", "/accounts/{pk}/"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, book, path):
    url = path.format(pk=book["mine"].pk)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert "next=" in response["Location"]


# --- Methods ---


@pytest.mark.parametrize("path", ["/accounts/", "/accounts/export.csv", "/accounts/{pk}/"])
def test_the_read_only_pages_refuse_a_post(client_for, owner, book, path):
    response = client_for(owner).post(path.format(pk=book["mine"].pk))

    assert response.status_code == 405
