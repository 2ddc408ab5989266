"""CRUD and validation of the accounts-floor resources under /api/v1/, through real tokens."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, Contact, Interaction, Segment, SegmentMembership, Task, User
from tests.api import fresh_cache, token_client  # noqa: F401
from tests.factories import (
    AccountFactory,
    ContactFactory,
    ContractFactory,
    InteractionFactory,
    SegmentFactory,
    SupportTicketFactory,
    TaskFactory,
    UsageRecordFactory,
    UserFactory,
)

pytestmark = pytest.mark.usefixtures("fresh_cache")

API = "/api/v1"


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def teammate_account(teammate):
    return AccountFactory(name="Beta Ltd", owner=teammate)


@pytest.fixture
def outsider_account(outsider):
    return AccountFactory(name="Gamma SMB", owner=outsider)


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


# --- Accounts --------------------------------------------------------------------------------


def test_csm_lists_own_and_team_accounts_but_not_another_teams(
    owner, account, teammate_account, outsider_account
):
    response = token_client(owner).get(f"{API}/accounts/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["name"] for row in body["results"]] == ["Acme Corp", "Beta Ltd"]


def test_account_list_runs_a_fixed_number_of_queries(manager, django_assert_max_num_queries):
    AccountFactory.create_batch(30)
    client = token_client(manager)

    # token lookup, last_used update, count, page
    with django_assert_max_num_queries(5):
        response = client.get(f"{API}/accounts/?page_size=30")

    assert len(response.json()["results"]) == 30


def test_manager_creates_an_account_whose_team_follows_its_owner(manager, owner):
    response = token_client(manager).post(
        f"{API}/accounts/",
        {
            "name": "  Initech  ",
            "start_date": "2026-03-01",
            "owner": owner.pk,
            "tier": "high_touch",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Initech"
    assert body["team"] == owner.team_id
    assert body["tier"] == "high_touch"
    assert body["arr"] == "0.00"
    assert Account.objects.get(pk=body["id"]).owner == owner


def test_csm_may_not_create_accounts(owner):
    response = token_client(owner).post(
        f"{API}/accounts/", {"name": "Initech", "start_date": "2026-03-01"}, format="json"
    )

    assert response.status_code == 403
    assert not Account.objects.filter(name="Initech").exists()


def test_bad_account_fields_answer_400_beside_each_field_and_create_nothing(manager):
    response = token_client(manager).post(
        f"{API}/accounts/",
        {"tier": "platinum", "start_date": "yesterday", "owner": 999_999_999_999_999_999_999},
        format="json",
    )

    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"name", "tier", "start_date", "owner"}
    assert errors["tier"] == ['"platinum" is not a valid choice.']
    assert Account.objects.count() == 0


def test_churned_account_without_date_and_reason_is_rejected_by_the_service(manager):
    response = token_client(manager).post(
        f"{API}/accounts/",
        {"name": "Gone Inc", "start_date": "2025-01-01", "lifecycle_status": "churned"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "churned_on": ["A churned account needs the date it churned."],
        "churn_reason": ["A churned account needs a churn reason."],
    }


def test_patch_changes_only_the_given_fields(owner, account):
    response = token_client(owner).patch(
        f"{API}/accounts/{account.pk}/", {"industry": "Retail"}, format="json"
    )

    assert response.status_code == 200, response.json()
    account.refresh_from_db()
    assert account.industry == "Retail"
    assert account.name == "Acme Corp"
    assert account.owner == owner


def test_csm_cannot_hand_their_account_to_a_teammate(owner, teammate, account):
    response = token_client(owner).patch(
        f"{API}/accounts/{account.pk}/", {"owner": teammate.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"owner": ["Only a manager can reassign an account."]}
    account.refresh_from_db()
    assert account.owner == owner


def test_put_replaces_the_account(manager, owner, account):
    response = token_client(manager).put(
        f"{API}/accounts/{account.pk}/",
        {"name": "Acme Group", "start_date": "2024-06-01", "owner": owner.pk},
        format="json",
    )

    assert response.status_code == 200, response.json()
    account.refresh_from_db()
    assert (account.name, account.start_date, account.industry) == (
        "Acme Group",
        dt.date(2024, 6, 1),
        "",
    )


def test_accounts_are_not_deleted_through_the_api(admin_user, account):
    response = token_client(admin_user).delete(f"{API}/accounts/{account.pk}/")

    assert response.status_code == 405
    assert Account.objects.filter(pk=account.pk).exists()


def test_account_filters_narrow_the_list(manager, owner, teammate, today):
    red_soon = AccountFactory(
        name="A red soon",
        owner=owner,
        tier=Account.Tier.HIGH_TOUCH,
        health_band="red",
        health_score=20,
        renewal_date=today + dt.timedelta(days=10),
    )
    AccountFactory(
        name="B red later",
        owner=owner,
        health_band="red",
        health_score=25,
        renewal_date=today + dt.timedelta(days=200),
    )
    unscored = AccountFactory(name="C unscored", owner=teammate, tier=Account.Tier.HIGH_TOUCH)
    client = token_client(manager)
    window = (
        f"renewal_date_after={today.isoformat()}"
        f"&renewal_date_before={(today + dt.timedelta(days=30)).isoformat()}"
    )

    assert ids(client.get(f"{API}/accounts/?health_band=red&{window}")) == [red_soon.pk]
    assert ids(client.get(f"{API}/accounts/?health_band=none")) == [unscored.pk]
    assert ids(client.get(f"{API}/accounts/?tier=high_touch&owner={teammate.pk}")) == [unscored.pk]
    segment = SegmentFactory(rules={"tiers": ["high_touch"]})
    assert ids(client.get(f"{API}/accounts/?segment={segment.pk}")) == [
        red_soon.pk,
        unscored.pk,
    ]
    assert client.get(f"{API}/accounts/?renewal_date_after=soon").status_code == 400
    assert client.get(f"{API}/accounts/?segment=999999").status_code == 400


def test_accounts_sort_by_arr_descending(manager):
    small = AccountFactory(name="Small", arr=Decimal("1000"))
    big = AccountFactory(name="Big", arr=Decimal("90000"))

    response = token_client(manager).get(f"{API}/accounts/?ordering=-arr")

    assert ids(response) == [big.pk, small.pk]


# --- Contacts --------------------------------------------------------------------------------


def test_owner_adds_a_contact_to_their_account(owner, account):
    response = token_client(owner).post(
        f"{API}/contacts/",
        {"account": account.pk, "name": "Dana Scully", "email": "dana@acme.example"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    contact = Contact.objects.get(pk=response.json()["id"])
    assert (contact.account, contact.email, contact.is_active) == (
        account,
        "dana@acme.example",
        True,
    )


def test_a_second_contact_with_the_same_email_in_any_case_is_a_field_error(owner, account):
    ContactFactory(account=account, email="dana@acme.example")

    response = token_client(owner).post(
        f"{API}/contacts/",
        {"account": account.pk, "name": "Dana again", "email": "DANA@acme.example"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"email": ["This account already has a contact with this email."]}


def test_a_contact_cannot_be_added_to_an_account_the_csm_may_only_read(owner, teammate_account):
    response = token_client(owner).post(
        f"{API}/contacts/",
        {"account": teammate_account.pk, "name": "X", "email": "x@beta.example"},
        format="json",
    )

    assert response.status_code == 400
    assert "account" in response.json()
    assert not Contact.objects.exists()


def test_patch_marks_a_contact_as_gone(owner, account):
    contact = ContactFactory(account=account, name="Fox", title="CTO")

    response = token_client(owner).patch(
        f"{API}/contacts/{contact.pk}/", {"is_active": False}, format="json"
    )

    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.is_active, contact.name, contact.title) == (False, "Fox", "CTO")


# --- Contracts -------------------------------------------------------------------------------


def test_adding_a_contract_refreshes_the_accounts_arr(owner, account, today):
    start = today - dt.timedelta(days=10)
    response = token_client(owner).post(
        f"{API}/contracts/",
        {
            "account": account.pk,
            "start_date": start.isoformat(),
            "end_date": (start + dt.timedelta(days=364)).isoformat(),
            "arr": "24000.50",
            "seats": 40,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    account.refresh_from_db()
    assert account.arr == Decimal("24000.50")
    assert account.renewal_date == start + dt.timedelta(days=364)


def test_a_contract_ending_before_it_starts_is_rejected(owner, account):
    response = token_client(owner).post(
        f"{API}/contracts/",
        {"account": account.pk, "start_date": "2026-05-01", "end_date": "2026-04-01", "arr": "10"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"end_date": ["The end date must be after the start date."]}


def test_a_renewal_must_continue_a_term_of_the_same_account(owner, account):
    other = AccountFactory(owner=owner)
    earlier = ContractFactory(account=other)

    response = token_client(owner).post(
        f"{API}/contracts/",
        {
            "account": account.pk,
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "arr": "1000",
            "previous": earlier.pk,
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"previous": ["Choose one of this account's own contracts."]}


def test_negative_or_enormous_arr_is_a_field_error(owner, account):
    client = token_client(owner)
    base = {"account": account.pk, "start_date": "2026-01-01", "end_date": "2026-12-31"}

    assert client.post(f"{API}/contracts/", {**base, "arr": "-1"}, format="json").json() == {
        "arr": ["Ensure this value is greater than or equal to 0."]
    }
    assert "arr" in client.post(f"{API}/contracts/", {**base, "arr": "1e20"}, format="json").json()


# --- Interactions ----------------------------------------------------------------------------


def test_logging_a_call_with_a_next_step_makes_a_task_for_the_owner(owner, account, today):
    contact = ContactFactory(account=account)
    response = token_client(owner).post(
        f"{API}/interactions/",
        {
            "account": account.pk,
            "kind": "call",
            "occurred_on": today.isoformat(),
            "summary": "Walked through the rollout plan.",
            "participants": [contact.pk],
            "next_step": "Send the rollout checklist",
            "next_step_due": (today + dt.timedelta(days=2)).isoformat(),
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["participants"] == [contact.pk]
    assert body["author"] == owner.pk
    task = Task.objects.get(interaction_id=body["id"])
    assert (task.owner, task.title, task.source) == (
        owner,
        "Send the rollout checklist",
        Task.Source.INTERACTION,
    )
    account.refresh_from_db()
    assert account.last_interaction_on == today


def test_an_interaction_in_the_future_or_with_a_stranger_is_rejected(owner, account, today):
    stranger = ContactFactory(account=AccountFactory(owner=owner), name="Stranger")

    response = token_client(owner).post(
        f"{API}/interactions/",
        {
            "account": account.pk,
            "kind": "meeting",
            "occurred_on": (today + dt.timedelta(days=1)).isoformat(),
            "summary": "Future",
            "participants": [stranger.pk],
        },
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"occurred_on", "participants"}
    assert not Interaction.objects.exists()


def test_a_teammate_cannot_edit_an_interaction_they_did_not_write(owner, teammate, account):
    interaction = InteractionFactory(account=account, author=owner)

    response = token_client(teammate).patch(
        f"{API}/interactions/{interaction.pk}/", {"summary": "Rewritten"}, format="json"
    )

    assert response.status_code == 404
    interaction.refresh_from_db()
    assert interaction.summary == "Checked in on the rollout."


def test_deleting_the_newest_interaction_moves_last_interaction_back(owner, account):
    InteractionFactory(account=account, author=owner, occurred_on=dt.date(2026, 1, 5))
    newest = InteractionFactory(account=account, author=owner, occurred_on=dt.date(2026, 1, 20))
    Account.objects.filter(pk=account.pk).update(last_interaction_on=dt.date(2026, 1, 20))

    response = token_client(owner).delete(f"{API}/interactions/{newest.pk}/")

    assert response.status_code == 204
    account.refresh_from_db()
    assert account.last_interaction_on == dt.date(2026, 1, 5)


def test_interaction_list_prefetches_participants(manager, account, django_assert_max_num_queries):
    for _ in range(10):
        interaction = InteractionFactory(account=account)
        interaction.participants.add(ContactFactory(account=account))
    client = token_client(manager)

    with django_assert_max_num_queries(6):
        response = client.get(f"{API}/interactions/")

    assert response.json()["count"] == 10


# --- Tasks -----------------------------------------------------------------------------------


def test_a_new_task_goes_to_the_account_owner_by_default(manager, owner, account):
    response = token_client(manager).post(
        f"{API}/tasks/",
        {"account": account.pk, "title": "Renewal prep", "due_date": "2026-09-01"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    task = Task.objects.get(pk=response.json()["id"])
    assert (task.owner, task.source, task.status) == (owner, "manual", "open")


def test_a_task_cannot_go_to_someone_who_cannot_see_the_account(owner, outsider, account):
    response = token_client(owner).post(
        f"{API}/tasks/",
        {"account": account.pk, "title": "X", "due_date": "2026-09-01", "owner": outsider.pk},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "owner": [f"{outsider} cannot see {account}, so cannot own a task on it."]
    }


def test_completing_a_task_records_who_and_when(owner, account):
    task = TaskFactory(account=account)

    response = token_client(owner).post(f"{API}/tasks/{task.pk}/complete/")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["completed_by"]) == ("done", owner.pk)
    assert body["completed_at"] is not None


def test_task_filters_by_status_owner_and_due_window(owner, teammate, account):
    due_soon = TaskFactory(account=account, due_date=dt.date(2026, 3, 2))
    TaskFactory(account=account, due_date=dt.date(2026, 5, 1))
    TaskFactory(account=account, due_date=dt.date(2026, 3, 3), status="cancelled")
    client = token_client(owner)

    response = client.get(
        f"{API}/tasks/?status=open&owner={owner.pk}"
        "&due_date_after=2026-03-01&due_date_before=2026-03-31"
    )

    assert ids(response) == [due_soon.pk]


# --- Segments --------------------------------------------------------------------------------


def test_everyone_reads_segments_but_a_csm_cannot_create_one(owner):
    SegmentFactory(name="Enterprise")
    client = token_client(owner)

    assert [s["name"] for s in client.get(f"{API}/segments/").json()["results"]] == ["Enterprise"]
    response = client.post(f"{API}/segments/", {"name": "Mine"}, format="json")
    assert response.status_code == 403


def test_bad_segment_rules_are_reported_under_rules(manager):
    response = token_client(manager).post(
        f"{API}/segments/",
        {"name": "Odd", "rules": {"tiers": ["gold"], "arr_min": "1e99", "colour": "red"}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "rules": {"arr_min": ["Expected an amount of at most 999,999,999,999.99."]}
    }
    response = token_client(manager).post(
        f"{API}/segments/",
        {"name": "Odd", "rules": {"tiers": ["gold"], "colour": "red"}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "rules": {"tiers": ["Unknown value(s): gold."], "colour": ["Unknown rule 'colour'."]}
    }
    assert not Segment.objects.exists()


def test_a_duplicate_segment_name_is_a_field_error(manager):
    SegmentFactory(name="Enterprise")

    response = token_client(manager).post(f"{API}/segments/", {"name": "Enterprise"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"name": ["Another segment already has this name."]}


def test_segment_members_are_only_those_the_csm_may_see(owner, account, outsider_account):
    Account.objects.filter(pk__in=[account.pk, outsider_account.pk]).update(tier="high_touch")
    segment = SegmentFactory(rules={"tiers": ["high_touch"]})

    response = token_client(owner).get(f"{API}/segments/{segment.pk}/members/")

    assert response.status_code == 200
    assert ids(response) == [account.pk]


def test_manager_adds_and_removes_static_members(manager, account, teammate_account):
    segment = SegmentFactory(kind=Segment.Kind.STATIC)
    client = token_client(manager)

    added = client.post(
        f"{API}/segments/{segment.pk}/members/",
        {"account_ids": [account.pk, teammate_account.pk]},
        format="json",
    )
    assert added.json() == {"added": 2}
    assert client.post(
        f"{API}/segments/{segment.pk}/members/", {"account_ids": [987654]}, format="json"
    ).json() == {"account_ids": ["No such account: 987654."]}

    removed = client.delete(f"{API}/segments/{segment.pk}/members/{account.pk}/")
    assert removed.status_code == 204
    assert list(SegmentMembership.objects.values_list("account_id", flat=True)) == [
        teammate_account.pk
    ]
    assert client.delete(f"{API}/segments/{segment.pk}/members/{account.pk}/").status_code == 404


# --- Usage and tickets (read) ----------------------------------------------------------------


def test_usage_pages_by_cursor_and_filters_by_day(owner, account, outsider_account):
    for day in range(1, 6):
        UsageRecordFactory(account=account, day=dt.date(2026, 1, day))
    UsageRecordFactory(account=outsider_account, day=dt.date(2026, 1, 3))
    client = token_client(owner)

    first = client.get(f"{API}/usage-records/?page_size=2").json()
    assert [row["day"] for row in first["results"]] == ["2026-01-05", "2026-01-04"]
    second = client.get(first["next"]).json()
    assert [row["day"] for row in second["results"]] == ["2026-01-03", "2026-01-02"]
    window = client.get(f"{API}/usage-records/?day_after=2026-01-02&day_before=2026-01-03").json()
    assert sorted(row["day"] for row in window["results"]) == ["2026-01-02", "2026-01-03"]


def test_tickets_filter_by_account_and_status(owner, account):
    open_ticket = SupportTicketFactory(account=account, status="open")
    SupportTicketFactory(account=account, status="solved")

    response = token_client(owner).get(f"{API}/support-tickets/?account={account.pk}&status=open")

    assert ids(response) == [open_ticket.pk]


def test_an_account_filter_on_an_invisible_account_is_not_a_valid_choice(owner, outsider_account):
    SupportTicketFactory(account=outsider_account)

    response = token_client(owner).get(f"{API}/support-tickets/?account={outsider_account.pk}")

    assert response.status_code == 400
    assert "account" in response.json()


def test_inactive_users_tokens_stop_working(owner, account):
    client = token_client(owner)
    User.objects.filter(pk=owner.pk).update(is_active=False)

    assert client.get(f"{API}/accounts/").status_code == 401


def test_a_manager_lists_every_team(manager, account, outsider_account):
    other_manager = UserFactory(username="other-boss", role=User.Role.MANAGER)

    response = token_client(other_manager).get(f"{API}/accounts/")

    assert response.json()["count"] == 2
