"""Creating and editing accounts and contacts, and adding contracts, through the forms."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Contact, Contract
from accounts.selectors.records import contact_get_for_edit
from accounts.services.records import account_update, contract_create
from tests.factories import AccountFactory, ContactFactory, ContractFactory, UserFactory


def account_form_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Globex",
        "external_id": "",
        "domain": "globex.com",
        "owner": "",
        "team": "",
        "industry": "Logistics",
        "tier": "high_touch",
        "product_complexity": "high",
        "growth_potential": "low",
        "lifecycle_status": "active",
        "start_date": "2026-03-01",
        "churned_on": "",
        "churn_reason": "",
        "churn_note": "",
    }
    data.update(overrides)
    return data


def edit_data(account: Account, **overrides: object) -> dict[str, object]:
    """The account's stored values as the edit form would post them back."""
    stored = {
        "name": account.name,
        "external_id": account.external_id or "",
        "domain": account.domain,
        "owner": account.owner_id or "",
        "team": account.team_id or "",
        "industry": account.industry,
        "tier": account.tier,
        "product_complexity": account.product_complexity,
        "growth_potential": account.growth_potential,
        "lifecycle_status": account.lifecycle_status,
        "start_date": account.start_date.isoformat(),
    }
    return account_form_data(**{**stored, **overrides})


def contract_form_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "arr": "12000",
        "seats": "20",
        "status": "active",
        "previous": "",
        "external_id": "",
    }
    data.update(overrides)
    return data


def field_errors(response, field: str) -> list[str]:
    return list(response.context["form"].errors.get(field, []))


# --- Account create --------------------------------------------------------------------


def test_manager_creates_an_account_whose_team_defaults_to_the_owners(
    client_for, manager, outsider, smb_team
):
    # Given a manager and an SMB CSM to own the account, team left empty
    client = client_for(manager)

    # When the manager submits the form
    response = client.post(
        reverse("accounts:account_create"),
        account_form_data(external_id=" CRM-77 ", owner=outsider.pk),
    )

    # Then the account exists with every field as entered and the owner's team
    account = Account.objects.get(name="Globex")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{account.pk}/"
    assert account.external_id == "CRM-77"
    assert account.domain == "globex.com"
    assert account.owner == outsider
    assert account.team == smb_team
    assert account.industry == "Logistics"
    assert (account.tier, account.product_complexity, account.growth_potential) == (
        "high_touch",
        "high",
        "low",
    )
    assert account.lifecycle_status == "active"
    assert account.start_date == dt.date(2026, 3, 1)
    assert account.churned_on is None
    assert account.arr == Decimal("0")
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Account “Globex” created."]


def test_admin_creates_an_unowned_account_with_a_blank_crm_id(client_for, admin_user):
    response = client_for(admin_user).post(reverse("accounts:account_create"), account_form_data())

    account = Account.objects.get(name="Globex")
    assert response.status_code == 302
    assert account.external_id is None
    assert account.owner is None
    assert account.team is None


def test_an_explicit_team_wins_over_the_owners_team(client_for, manager, outsider, enterprise_team):
    client_for(manager).post(
        reverse("accounts:account_create"),
        account_form_data(owner=outsider.pk, team=enterprise_team.pk),
    )

    assert Account.objects.get(name="Globex").team == enterprise_team


def test_csm_may_not_open_or_post_the_create_page(client_for, owner):
    client = client_for(owner)

    assert client.get(reverse("accounts:account_create")).status_code == 403
    response = client.post(reverse("accounts:account_create"), account_form_data(owner=owner.pk))

    assert response.status_code == 403
    assert not Account.objects.filter(name="Globex").exists()


def test_executive_may_not_create_accounts(client_for, executive):
    response = client_for(executive).post(reverse("accounts:account_create"), account_form_data())

    assert response.status_code == 403
    assert Account.objects.count() == 0


def test_owner_choices_are_active_csms_and_managers_only(
    client_for, manager, owner, executive, admin_user
):
    # Given a CSM who has left
    UserFactory(username="gone", role="csm", is_active=False)

    response = client_for(manager).get(reverse("accounts:account_create"))

    offered = {value for value, _ in response.context["form"].fields["owner"].choices if value}
    assert {int(str(value)) for value in offered} == {owner.pk, manager.pk}


def test_choosing_an_executive_as_owner_is_refused(client_for, manager, executive):
    response = client_for(manager).post(
        reverse("accounts:account_create"), account_form_data(owner=executive.pk)
    )

    assert response.status_code == 200
    assert field_errors(response, "owner") == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert Account.objects.count() == 0


def test_duplicate_crm_id_is_refused_beside_the_field(client_for, manager, account):
    response = client_for(manager).post(
        reverse("accounts:account_create"), account_form_data(external_id=account.external_id)
    )

    assert response.status_code == 200
    assert field_errors(response, "external_id") == ["Another account already has this CRM id."]
    assert b'class="field-error"' in response.content
    assert Account.objects.count() == 1


def test_industry_suggestions_list_the_industries_in_use(client_for, manager):
    AccountFactory(industry="Retail")
    AccountFactory(industry="Fintech")
    AccountFactory(industry="Retail")

    response = client_for(manager).get(reverse("accounts:account_create"))

    assert response.context["industries"] == ["Fintech", "Retail"]
    assert b'<option value="Fintech">' in response.content


# --- Account edit ----------------------------------------------------------------------


def test_executive_gets_404_on_edit(client_for, executive, account):
    client = client_for(executive)

    assert client.get(reverse("accounts:account_edit", args=[account.pk])).status_code == 404
    response = client.post(
        reverse("accounts:account_edit", args=[account.pk]), edit_data(account, name="Hacked")
    )

    assert response.status_code == 404
    account.refresh_from_db()
    assert account.name == "Acme Corp"


@pytest.mark.parametrize("persona", ["outsider", "teammate"])
def test_csm_who_does_not_own_the_account_gets_404_on_edit(request, client_for, persona, account):
    # The teammate may see the account (same team) but edits only their own book.
    client = client_for(request.getfixturevalue(persona))

    response = client.post(
        reverse("accounts:account_edit", args=[account.pk]), edit_data(account, name="Hacked")
    )

    assert response.status_code == 404
    account.refresh_from_db()
    assert account.name == "Acme Corp"


def test_owner_csm_edits_the_account_but_cannot_reassign_it(
    client_for, owner, teammate, smb_team, enterprise_team, account
):
    client = client_for(owner)
    page = client.get(reverse("accounts:account_edit", args=[account.pk]))
    assert "owner" not in page.context["form"].fields
    assert "team" not in page.context["form"].fields
    assert b"Only a manager can reassign this account." in page.content

    # When the owner posts a new name plus a forged owner and team
    response = client.post(
        reverse("accounts:account_edit", args=[account.pk]),
        edit_data(account, name="Acme Corporation", owner=teammate.pk, team=smb_team.pk),
    )

    # Then the name changes and the ownership does not
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{account.pk}/"
    account.refresh_from_db()
    assert account.name == "Acme Corporation"
    assert account.owner == owner
    assert account.team == enterprise_team


def test_the_service_refuses_a_csm_reassigning_their_account(owner, teammate, account):
    with pytest.raises(ValidationError) as caught:
        account_update(
            account=account,
            user=owner,
            name="Acme Corp",
            start_date=account.start_date,
            owner=teammate,
            lifecycle_status="active",
        )

    assert caught.value.message_dict == {"owner": ["Only a manager can reassign an account."]}
    account.refresh_from_db()
    assert account.owner == owner


def test_manager_reassigns_an_account_and_its_team_follows_the_new_owner(
    client_for, manager, outsider, smb_team, account
):
    response = client_for(manager).post(
        reverse("accounts:account_edit", args=[account.pk]),
        edit_data(account, owner=outsider.pk, team=""),
    )

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.owner == outsider
    assert account.team == smb_team


def test_churned_without_churn_date_or_reason_is_refused_and_nothing_changes(
    client_for, owner, account
):
    response = client_for(owner).post(
        reverse("accounts:account_edit", args=[account.pk]),
        edit_data(account, name="Renamed", lifecycle_status="churned"),
    )

    assert response.status_code == 200
    assert field_errors(response, "churned_on") == ["A churned account needs the date it churned."]
    assert field_errors(response, "churn_reason") == ["A churned account needs a churn reason."]
    # The heading still names the stored account, not the rejected input.
    assert response.context["heading"] == "Edit Acme Corp"
    account.refresh_from_db()
    assert (account.name, account.lifecycle_status, account.churned_on) == (
        "Acme Corp",
        "active",
        None,
    )


def test_churn_date_before_the_start_date_is_refused(client_for, owner, account):
    # The account started on 2025-01-01 (factory default).
    response = client_for(owner).post(
        reverse("accounts:account_edit", args=[account.pk]),
        edit_data(
            account, lifecycle_status="churned", churned_on="2024-12-31", churn_reason="price"
        ),
    )

    assert field_errors(response, "churned_on") == [
        "The churn date can't be before the start date."
    ]
    account.refresh_from_db()
    assert account.lifecycle_status == "active"


def test_churning_then_reactivating_clears_the_churn_date_and_reason(client_for, owner, account):
    client = client_for(owner)
    url = reverse("accounts:account_edit", args=[account.pk])

    client.post(
        url,
        edit_data(
            account,
            lifecycle_status="churned",
            churned_on="2026-02-28",
            churn_reason="competitor",
            churn_note="Moved to a cheaper tool.",
        ),
    )
    account.refresh_from_db()
    assert (account.lifecycle_status, account.churned_on, account.churn_reason) == (
        "churned",
        dt.date(2026, 2, 28),
        "competitor",
    )

    # A win-back: active again, with the stale churn date still in the posted form
    client.post(
        url,
        edit_data(
            account,
            lifecycle_status="active",
            churned_on="2026-02-28",
            churn_reason="competitor",
            churn_note="Moved to a cheaper tool.",
        ),
    )
    account.refresh_from_db()
    assert (account.lifecycle_status, account.churned_on, account.churn_reason) == (
        "active",
        None,
        "",
    )
    assert account.churn_note == "Moved to a cheaper tool."


def test_editing_keeps_the_accounts_own_crm_id_but_refuses_anothers(client_for, owner, account):
    other = AccountFactory(external_id="CRM-OTHER")
    client = client_for(owner)
    url = reverse("accounts:account_edit", args=[account.pk])

    assert client.post(url, edit_data(account, domain="acme.io")).status_code == 302
    response = client.post(url, edit_data(account, external_id=other.external_id))

    assert field_errors(response, "external_id") == ["Another account already has this CRM id."]
    account.refresh_from_db()
    assert account.domain == "acme.io"
    assert account.external_id != "CRM-OTHER"


def test_edit_page_runs_a_fixed_number_of_queries(
    client_for, manager, account, django_assert_max_num_queries
):
    AccountFactory.create_batch(5)
    client = client_for(manager)

    # session, user, account, owner choices, team choices, industries, and the user's team
    # that base.html prints in the top bar
    with django_assert_max_num_queries(7):
        response = client.get(reverse("accounts:account_edit", args=[account.pk]))

    assert response.status_code == 200


# --- Contacts --------------------------------------------------------------------------


def test_owner_adds_a_contact(client_for, owner, account):
    response = client_for(owner).post(
        reverse("accounts:contact_create", args=[account.pk]),
        {
            "name": "Jane Roe",
            "email": "jane@acme.example",
            "title": "VP Operations",
            "phone": "+1 555 0100",
            "is_decision_maker": "on",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{account.pk}/"
    contact = Contact.objects.get(account=account)
    assert (contact.name, contact.email, contact.title, contact.phone) == (
        "Jane Roe",
        "jane@acme.example",
        "VP Operations",
        "+1 555 0100",
    )
    assert (contact.is_decision_maker, contact.is_executive_sponsor, contact.is_active) == (
        True,
        False,
        True,
    )


def test_contact_email_must_be_unique_within_the_account_only(client_for, owner, account):
    ContactFactory(account=account, email="jane@acme.example")
    other_account = AccountFactory(owner=owner)
    client = client_for(owner)
    data = {"name": "Jane Again", "email": "Jane@Acme.example", "is_active": "on"}

    same = client.post(reverse("accounts:contact_create", args=[account.pk]), data)
    elsewhere = client.post(reverse("accounts:contact_create", args=[other_account.pk]), data)

    assert same.status_code == 200
    assert field_errors(same, "email") == ["This account already has a contact with this email."]
    assert account.contacts.count() == 1
    assert elsewhere.status_code == 302
    assert other_account.contacts.get().email == "Jane@Acme.example"


def test_owner_edits_a_contact_who_left(client_for, owner, account):
    contact = ContactFactory(account=account, name="Sam Poe", email="sam@acme.example")

    response = client_for(owner).post(
        reverse("accounts:contact_edit", args=[contact.pk]),
        {"name": "Sam Poe", "email": "sam@acme.example", "title": "Former CTO"},
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.title, contact.is_active) == ("Former CTO", False)


def test_editing_a_contact_to_a_colleagues_email_is_refused(client_for, owner, account):
    ContactFactory(account=account, email="jane@acme.example")
    contact = ContactFactory(account=account, name="Sam Poe", email="sam@acme.example")

    response = client_for(owner).post(
        reverse("accounts:contact_edit", args=[contact.pk]),
        {"name": "Sam Poe", "email": "jane@acme.example", "is_active": "on"},
    )

    assert field_errors(response, "email") == [
        "This account already has a contact with this email."
    ]
    contact.refresh_from_db()
    assert contact.email == "sam@acme.example"


@pytest.mark.parametrize("persona", ["outsider", "teammate", "executive"])
def test_only_those_who_may_edit_the_account_may_touch_its_contacts(
    request, client_for, persona, account
):
    contact = ContactFactory(account=account, name="Sam Poe")
    client = client_for(request.getfixturevalue(persona))

    create = client.post(
        reverse("accounts:contact_create", args=[account.pk]),
        {"name": "Intruder", "email": "x@y.example", "is_active": "on"},
    )
    edit = client.post(
        reverse("accounts:contact_edit", args=[contact.pk]),
        {"name": "Renamed", "email": contact.email, "is_active": "on"},
    )

    assert (create.status_code, edit.status_code) == (404, 404)
    contact.refresh_from_db()
    assert contact.name == "Sam Poe"
    assert account.contacts.count() == 1


def test_contact_getter_answers_404_for_another_book(owner, outsider, manager, account):
    from django.http import Http404

    contact = ContactFactory(account=account)

    assert contact_get_for_edit(user=owner, contact_id=contact.pk) == contact
    assert contact_get_for_edit(user=manager, contact_id=contact.pk) == contact
    with pytest.raises(Http404):
        contact_get_for_edit(user=outsider, contact_id=contact.pk)
    with pytest.raises(Http404):
        contact_get_for_edit(user=owner, contact_id=contact.pk + 1000)


# --- Contracts -------------------------------------------------------------------------


def test_contract_ending_before_it_starts_is_refused_and_no_row_is_written(
    client_for, owner, account
):
    response = client_for(owner).post(
        reverse("accounts:contract_create", args=[account.pk]),
        contract_form_data(start_date="2026-06-01", end_date="2026-05-31"),
    )

    assert response.status_code == 200
    assert field_errors(response, "end_date") == ["The end date must be after the start date."]
    assert Contract.objects.count() == 0


def test_negative_arr_is_refused(client_for, owner, account):
    response = client_for(owner).post(
        reverse("accounts:contract_create", args=[account.pk]), contract_form_data(arr="-1")
    )

    assert field_errors(response, "arr") == ["ARR can't be negative."]
    assert Contract.objects.count() == 0


def test_renewal_links_the_previous_term_and_refreshes_the_accounts_arr(client_for, owner, account):
    # Given a 12,000 term that ended yesterday
    today = timezone.localdate()
    previous = ContractFactory(
        account=account,
        start_date=today - dt.timedelta(days=365),
        end_date=today - dt.timedelta(days=1),
        arr=Decimal("12000"),
        seats=20,
    )
    client = client_for(owner)

    # The form suggests renewing it and shows its ARR
    page = client.get(reverse("accounts:contract_create", args=[account.pk]))
    assert page.context["form"]["previous"].value() == previous.pk
    assert page.context["form"]["start_date"].value() == today
    assert b"$12,000" in page.content

    # When the owner adds a 15,000 term starting today
    response = client.post(
        reverse("accounts:contract_create", args=[account.pk]),
        contract_form_data(
            start_date=today.isoformat(),
            end_date=(today + dt.timedelta(days=364)).isoformat(),
            arr="15000",
            seats="25",
            previous=previous.pk,
            external_id="C-2",
        ),
    )

    # Then the new term renews the old one and the account's ARR is the new term's
    assert response.status_code == 302
    renewal = Contract.objects.get(external_id="C-2")
    assert renewal.previous == previous
    assert (renewal.arr, renewal.seats) == (Decimal("15000"), 25)
    account.refresh_from_db()
    assert account.arr == Decimal("15000")
    assert account.renewal_date == today + dt.timedelta(days=364)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Contract {today:%d %b %Y} – {today + dt.timedelta(days=364):%d %b %Y} added. "
        "Acme Corp ARR is now $15,000."
    ]


def test_form_shows_the_expansion_against_the_previous_term(client_for, owner, account):
    previous = ContractFactory(account=account, arr=Decimal("12000"))

    # A bad end date keeps the form on screen, with the comparison worked out
    response = client_for(owner).post(
        reverse("accounts:contract_create", args=[account.pk]),
        contract_form_data(
            start_date="2026-01-01", end_date="2025-12-01", arr="15000", previous=previous.pk
        ),
    )

    comparison = response.context["comparison"]
    assert comparison["previous_arr"] == Decimal("12000")
    assert comparison["change"] == Decimal("3000")
    assert comparison["change_pct"] == Decimal("25")
    assert b"Expansion of $3,000" in response.content


def test_previous_contract_of_another_account_is_rejected(client_for, owner, account):
    foreign = ContractFactory(account=AccountFactory(owner=owner))

    response = client_for(owner).post(
        reverse("accounts:contract_create", args=[account.pk]),
        contract_form_data(start_date="2026-01-01", previous=foreign.pk),
    )

    assert field_errors(response, "previous") == ["Choose one of this account's own contracts."]
    assert account.contracts.count() == 0
    with pytest.raises(ValidationError) as caught:
        contract_create(
            account=account,
            start_date=dt.date(2026, 1, 1),
            end_date=dt.date(2026, 12, 31),
            arr=Decimal("1000"),
            previous=foreign,
        )
    assert caught.value.message_dict == {
        "previous": ["Choose one of this account's own contracts."]
    }
    assert account.contracts.count() == 0


def test_a_term_cannot_be_renewed_twice(client_for, owner, account):
    first = ContractFactory(account=account, start_date=dt.date(2025, 1, 1))
    ContractFactory(account=account, start_date=dt.date(2026, 1, 1), previous=first)

    response = client_for(owner).post(
        reverse("accounts:contract_create", args=[account.pk]),
        contract_form_data(start_date="2026-02-01", end_date="2027-01-31", previous=first.pk),
    )

    assert field_errors(response, "previous") == [
        "That contract was already renewed by the term starting 01 Jan 2026."
    ]
    assert account.contracts.count() == 2


def test_a_late_renewal_is_accepted(owner, account):
    # The previous term ended 31 Dec 2025; the renewal starts 90 days later.
    previous = ContractFactory(account=account, start_date=dt.date(2025, 1, 1))

    renewal = contract_create(
        account=account,
        start_date=dt.date(2026, 3, 31),
        end_date=dt.date(2027, 3, 30),
        arr=Decimal("9000"),
        previous=previous,
        today=dt.date(2026, 4, 15),
    )

    assert renewal.previous == previous
    # ARR on 15 Apr 2026 is the renewal's only; the instance passed in is refreshed too.
    assert account.arr == Decimal("9000")
    assert account.renewal_date == dt.date(2027, 3, 30)


def test_an_overlapping_second_product_adds_to_the_arr(owner, account):
    ContractFactory(account=account, start_date=dt.date(2026, 1, 1), arr=Decimal("12000"))

    contract_create(
        account=account,
        start_date=dt.date(2026, 3, 1),
        end_date=dt.date(2026, 8, 31),
        arr=Decimal("3000.50"),
        today=dt.date(2026, 4, 1),
    )

    # 12,000 + 3,000.50 on 1 Apr 2026; the nearer end (31 Aug) is the renewal date.
    account.refresh_from_db()
    assert account.arr == Decimal("15000.50")
    assert account.renewal_date == dt.date(2026, 8, 31)


def test_duplicate_contract_crm_id_is_refused(client_for, owner, account):
    ContractFactory(account=AccountFactory(), external_id="C-1")

    response = client_for(owner).post(
        reverse("accounts:contract_create", args=[account.pk]),
        contract_form_data(external_id="C-1"),
    )

    assert field_errors(response, "external_id") == ["Another contract already has this CRM id."]
    assert account.contracts.count() == 0


@pytest.mark.parametrize("persona", ["outsider", "teammate", "executive"])
def test_only_those_who_may_edit_the_account_may_add_contracts(
    request, client_for, persona, account
):
    client = client_for(request.getfixturevalue(persona))

    assert client.get(reverse("accounts:contract_create", args=[account.pk])).status_code == 404
    response = client.post(
        reverse("accounts:contract_create", args=[account.pk]), contract_form_data()
    )

    assert response.status_code == 404
    assert Contract.objects.count() == 0


def test_contract_page_runs_a_fixed_number_of_queries(
    client_for, owner, account, django_assert_max_num_queries
):
    first = ContractFactory(account=account, start_date=dt.date(2023, 1, 1))
    second = ContractFactory(account=account, start_date=dt.date(2024, 1, 1), previous=first)
    ContractFactory(account=account, start_date=dt.date(2025, 1, 1), previous=second)
    client = client_for(owner)

    # session, user, account, contracts (with their renewals), and the user's team that
    # base.html prints in the top bar
    with django_assert_max_num_queries(5):
        response = client.get(reverse("accounts:contract_create", args=[account.pk]))

    assert response.status_code == 200
    assert len(response.context["recent_terms"]) == 3
