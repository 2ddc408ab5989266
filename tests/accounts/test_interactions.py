"""Logging, editing and deleting interactions, and the account's last-interaction date."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Interaction, Task
from accounts.services.interactions import interaction_delete, interaction_log
from tests.factories import AccountFactory, ContactFactory, InteractionFactory


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def contact(account):
    return ContactFactory(account=account, name="Dana Buyer")


@pytest.fixture
def stranger(outsider):
    """A contact on an account of another team."""
    return ContactFactory(account=AccountFactory(name="Other Co", owner=outsider), name="Sam Else")


def _payload(today, **overrides):
    data = {
        "kind": "call",
        "occurred_on": (today - dt.timedelta(days=1)).isoformat(),
        "summary": "Walked through the renewal options.",
        "sentiment": "positive",
        "next_step": "",
        "next_step_due": "",
    }
    data.update(overrides)
    return data


def _error_beside(html: str, field: str) -> str:
    """The text of the error shown beside a field, or "" when there is none."""
    marker = f'data-error-for="{field}" role="alert">'
    start = html.find(marker)
    if start == -1:
        return ""
    start += len(marker)
    return html[start : html.index("</div>", start)]


def _log(account, author, today, **overrides):
    defaults = {
        "kind": Interaction.Kind.CALL,
        "occurred_on": today,
        "summary": "Checked in.",
        "sentiment": Interaction.Sentiment.NEUTRAL,
        "participants": [],
    }
    defaults.update(overrides)
    return interaction_log(account=account, author=author, **defaults)


# --- Logging -------------------------------------------------------------------------------


def test_logging_with_a_next_step_creates_one_task_for_the_account_owner(
    client_for, manager, owner, account, contact, today
):
    # Given the manager logs a meeting on the owner's account with a next step due in 5 days
    due = today + dt.timedelta(days=5)
    url = reverse("accounts:interaction_create", args=[account.pk])
    data = _payload(
        today,
        kind="meeting",
        participants=[contact.pk],
        next_step="Send the ROI deck",
        next_step_due=due.isoformat(),
    )

    response = client_for(manager).post(url, data)

    # Then it lands on the account page, with one interaction and exactly one task
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{account.pk}/"
    interaction = Interaction.objects.get()
    assert interaction.account == account
    assert interaction.author == manager
    assert interaction.kind == "meeting"
    assert interaction.occurred_on == today - dt.timedelta(days=1)
    assert interaction.sentiment == "positive"
    assert list(interaction.participants.all()) == [contact]
    task = Task.objects.get()
    # ...for the account's owner, not for the manager who logged it
    assert task.owner == owner
    assert task.account == account
    assert task.title == "Send the ROI deck"
    assert task.due_date == due
    assert task.source == Task.Source.INTERACTION
    assert task.priority == Task.Priority.NORMAL
    assert task.status == Task.Status.OPEN
    assert task.interaction == interaction
    account.refresh_from_db()
    assert account.last_interaction_on == today - dt.timedelta(days=1)


def test_logging_without_a_next_step_creates_no_task(client_for, owner, account, today):
    url = reverse("accounts:interaction_create", args=[account.pk])

    response = client_for(owner).post(url, _payload(today, kind="note", summary="Quiet month."))

    assert response.status_code == 302
    assert Interaction.objects.get().summary == "Quiet month."
    assert Task.objects.count() == 0


def test_the_success_message_names_the_next_steps_owner(client_for, owner, account, today):
    url = reverse("accounts:interaction_create", args=[account.pk])
    due = today + dt.timedelta(days=2)
    data = _payload(today, next_step="Call back", next_step_due=due.isoformat())

    response = client_for(owner).post(url, data, follow=True)

    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        f"Call logged on Acme Corp. Next step added to {owner}'s tasks, due {due:%d %b %Y}."
    ]


def test_a_next_step_without_a_due_date_shows_the_error_and_saves_nothing(
    client_for, owner, account, contact, today
):
    url = reverse("accounts:interaction_create", args=[account.pk])
    data = _payload(today, participants=[contact.pk], next_step="Send the ROI deck")

    response = client_for(owner).post(url, data)

    # The full page comes back with the message beside the due-date field
    assert response.status_code == 200
    html = response.content.decode()
    assert _error_beside(html, "next_step_due") == "Give the next step a due date."
    assert "Nothing was saved." in html
    # ...and what was typed is still there
    assert "Send the ROI deck" in html
    assert Interaction.objects.count() == 0
    assert Task.objects.count() == 0
    account.refresh_from_db()
    assert account.last_interaction_on is None


def test_a_due_date_without_a_next_step_is_rejected(client_for, owner, account, today):
    url = reverse("accounts:interaction_create", args=[account.pk])
    data = _payload(today, next_step_due=(today + dt.timedelta(days=3)).isoformat())

    response = client_for(owner).post(url, data)

    html = response.content.decode()
    assert _error_beside(html, "next_step") == "Say what the next step is, or clear its due date."
    assert Interaction.objects.count() == 0


def test_a_next_step_due_in_the_past_is_rejected(client_for, owner, account, today):
    url = reverse("accounts:interaction_create", args=[account.pk])
    yesterday = today - dt.timedelta(days=1)
    data = _payload(today, next_step="Call back", next_step_due=yesterday.isoformat())

    response = client_for(owner).post(url, data)

    html = response.content.decode()
    assert _error_beside(html, "next_step_due") == "The next step can&#x27;t be due in the past."
    assert Interaction.objects.count() == 0
    assert Task.objects.count() == 0


def test_a_participant_from_another_account_is_rejected_and_nothing_saved(
    client_for, owner, account, contact, stranger, today
):
    url = reverse("accounts:interaction_create", args=[account.pk])
    data = _payload(
        today,
        participants=[contact.pk, stranger.pk],
        next_step="Follow up",
        next_step_due=(today + dt.timedelta(days=1)).isoformat(),
    )

    response = client_for(owner).post(url, data)

    html = response.content.decode()
    assert _error_beside(html, "participants") == (
        f"Select a valid choice. {stranger.pk} is not one of the available choices."
    )
    # The other account's contact is not even offered
    assert "Sam Else" not in html
    assert "Dana Buyer" in html
    assert Interaction.objects.count() == 0
    assert Task.objects.count() == 0


def test_a_date_in_the_future_is_rejected(client_for, owner, account, today):
    url = reverse("accounts:interaction_create", args=[account.pk])
    tomorrow = today + dt.timedelta(days=1)

    response = client_for(owner).post(url, _payload(today, occurred_on=tomorrow.isoformat()))

    html = response.content.decode()
    assert _error_beside(html, "occurred_on") == (
        f"The interaction&#x27;s date can&#x27;t be in the future (today is {today:%d %b %Y})."
    )
    assert Interaction.objects.count() == 0


def test_a_missing_summary_is_reported_beside_the_field(client_for, owner, account, today):
    url = reverse("accounts:interaction_create", args=[account.pk])

    response = client_for(owner).post(url, _payload(today, summary=""))

    assert _error_beside(response.content.decode(), "summary") == "Say what happened."
    assert Interaction.objects.count() == 0


def test_today_is_an_allowed_date(client_for, owner, account, today):
    url = reverse("accounts:interaction_create", args=[account.pk])

    client_for(owner).post(url, _payload(today, occurred_on=today.isoformat()))

    assert Interaction.objects.get().occurred_on == today


def test_the_log_page_offers_the_form_with_the_accounts_contacts(
    client_for, owner, account, contact, stranger
):
    response = client_for(owner).get(reverse("accounts:interaction_create", args=[account.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Log an interaction</h1>" in html
    assert "Dana Buyer" in html
    assert "Sam Else" not in html
    assert f'action="/accounts/{account.pk}/interactions/new/"' in html


@pytest.mark.parametrize("persona", ["teammate", "outsider", "executive"])
def test_people_who_cannot_edit_the_account_get_404_posting_an_interaction(
    request, client_for, account, today, persona
):
    user = request.getfixturevalue(persona)
    url = reverse("accounts:interaction_create", args=[account.pk])
    data = _payload(today, next_step="x", next_step_due=today.isoformat())

    response = client_for(user).post(url, data)

    assert response.status_code == 404
    assert Interaction.objects.count() == 0
    assert Task.objects.count() == 0


def test_an_admin_may_log_on_any_account(client_for, admin_user, account, today):
    url = reverse("accounts:interaction_create", args=[account.pk])

    response = client_for(admin_user).post(url, _payload(today))

    assert response.status_code == 302
    assert Interaction.objects.get().author == admin_user


# --- Last interaction date -----------------------------------------------------------------


def test_logging_moves_last_interaction_on_forward_only(owner, account, today):
    # Given the account last heard from us two days ago
    Account.objects.filter(pk=account.pk).update(last_interaction_on=today - dt.timedelta(days=2))
    account.refresh_from_db()

    # When an older call is logged, the date stays
    _log(account, owner, today, occurred_on=today - dt.timedelta(days=10))
    account.refresh_from_db()
    assert account.last_interaction_on == today - dt.timedelta(days=2)

    # When a newer one is logged, it moves to that day
    _log(account, owner, today, occurred_on=today - dt.timedelta(days=1))
    account.refresh_from_db()
    assert account.last_interaction_on == today - dt.timedelta(days=1)


def test_editing_and_deleting_recompute_last_interaction_on(client_for, owner, account, today):
    older = _log(account, owner, today, occurred_on=today - dt.timedelta(days=10))
    newer = _log(account, owner, today, occurred_on=today - dt.timedelta(days=3))
    account.refresh_from_db()
    assert account.last_interaction_on == today - dt.timedelta(days=3)
    client = client_for(owner)

    # Moving the newest interaction back 20 days leaves the 10-days-ago one as the newest
    edit = reverse("accounts:interaction_edit", args=[newer.pk])
    data = _payload(today, occurred_on=(today - dt.timedelta(days=20)).isoformat())
    response = client.post(edit, data)
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.last_interaction_on == today - dt.timedelta(days=10)

    # Deleting that one leaves the moved one (20 days ago)
    response = client.post(reverse("accounts:interaction_delete", args=[older.pk]))
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{account.pk}/"
    account.refresh_from_db()
    assert account.last_interaction_on == today - dt.timedelta(days=20)

    # Deleting the last one leaves no date at all
    client.post(reverse("accounts:interaction_delete", args=[newer.pk]))
    account.refresh_from_db()
    assert account.last_interaction_on is None
    assert Interaction.objects.count() == 0


def test_editing_changes_the_fields(client_for, owner, account, contact, today):
    interaction = _log(account, owner, today, occurred_on=today - dt.timedelta(days=4))
    data = _payload(
        today,
        kind="qbr",
        occurred_on=(today - dt.timedelta(days=2)).isoformat(),
        summary="QBR: adoption up, budget flat.",
        sentiment="negative",
        participants=[contact.pk],
    )

    response = client_for(owner).post(
        reverse("accounts:interaction_edit", args=[interaction.pk]), data
    )

    assert response.status_code == 302
    interaction.refresh_from_db()
    assert interaction.kind == "qbr"
    assert interaction.occurred_on == today - dt.timedelta(days=2)
    assert interaction.summary == "QBR: adoption up, budget flat."
    assert interaction.sentiment == "negative"
    assert list(interaction.participants.all()) == [contact]
    account.refresh_from_db()
    assert account.last_interaction_on == today - dt.timedelta(days=2)


def test_an_invalid_edit_changes_nothing(client_for, owner, account, today):
    interaction = _log(account, owner, today, occurred_on=today - dt.timedelta(days=4))
    future = (today + dt.timedelta(days=1)).isoformat()

    response = client_for(owner).post(
        reverse("accounts:interaction_edit", args=[interaction.pk]),
        _payload(today, occurred_on=future, summary="Changed"),
    )

    assert response.status_code == 200
    assert _error_beside(response.content.decode(), "occurred_on").startswith(
        "The interaction&#x27;s date can&#x27;t be in the future"
    )
    interaction.refresh_from_db()
    assert interaction.occurred_on == today - dt.timedelta(days=4)
    assert interaction.summary == "Checked in."
    account.refresh_from_db()
    assert account.last_interaction_on == today - dt.timedelta(days=4)


def test_the_edit_page_has_no_next_step_fields(client_for, owner, account, today):
    interaction = _log(account, owner, today)

    response = client_for(owner).get(reverse("accounts:interaction_edit", args=[interaction.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="summary"' in html
    assert 'name="next_step"' not in html
    assert f'action="/interactions/{interaction.pk}/edit/"' in html


# --- Who may edit and delete ---------------------------------------------------------------


@pytest.mark.parametrize("persona", ["teammate", "outsider", "manager", "executive"])
def test_only_the_author_or_an_admin_edits_or_deletes(request, client_for, owner, account, persona):
    interaction = InteractionFactory(account=account, author=owner, summary="Original")
    client = client_for(request.getfixturevalue(persona))
    edit = reverse("accounts:interaction_edit", args=[interaction.pk])
    delete = reverse("accounts:interaction_delete", args=[interaction.pk])

    assert client.get(edit).status_code == 404
    assert client.post(edit, _payload(timezone.localdate(), summary="Hijacked")).status_code == 404
    assert client.get(delete).status_code == 404
    assert client.post(delete).status_code == 404

    interaction.refresh_from_db()
    assert interaction.summary == "Original"


def test_the_author_and_an_admin_may_edit(client_for, owner, admin_user, account, today):
    interaction = InteractionFactory(account=account, author=owner, occurred_on=today)
    edit = reverse("accounts:interaction_edit", args=[interaction.pk])

    assert client_for(owner).post(edit, _payload(today, summary="By author")).status_code == 302
    interaction.refresh_from_db()
    assert interaction.summary == "By author"

    assert client_for(admin_user).post(edit, _payload(today, summary="By admin")).status_code == 302
    interaction.refresh_from_db()
    assert interaction.summary == "By admin"
    # Editing does not change who wrote it
    assert interaction.author == owner


def test_an_author_whose_account_moved_to_another_book_can_no_longer_edit(
    client_for, owner, outsider, account, today
):
    interaction = InteractionFactory(account=account, author=owner)
    Account.objects.filter(pk=account.pk).update(owner=outsider, team=outsider.team)

    response = client_for(owner).get(reverse("accounts:interaction_edit", args=[interaction.pk]))

    assert response.status_code == 404


def test_delete_asks_for_confirmation_before_deleting(client_for, owner, account, today):
    interaction = _log(account, owner, today, summary="Kick-off call")

    response = client_for(owner).get(reverse("accounts:interaction_delete", args=[interaction.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Delete this call?</h1>" in html
    assert "Kick-off call" in html
    assert Interaction.objects.filter(pk=interaction.pk).exists()


def test_deleting_an_interaction_keeps_its_next_step_task(owner, account, today):
    interaction = _log(
        account, owner, today, next_step="Send notes", next_step_due=today + dt.timedelta(days=1)
    )

    interaction_delete(interaction=interaction)

    task = Task.objects.get()
    assert task.title == "Send notes"
    assert task.interaction is None


# --- The service on its own ----------------------------------------------------------------


def test_the_service_refuses_a_next_step_without_a_due_date_and_saves_nothing(
    owner, account, today
):
    with pytest.raises(ValidationError) as excinfo:
        _log(account, owner, today, next_step="Call back")

    assert excinfo.value.message_dict == {"next_step_due": ["Give the next step a due date."]}
    assert Interaction.objects.count() == 0
    assert Task.objects.count() == 0


def test_the_service_refuses_another_accounts_contact(owner, account, stranger, today):
    with pytest.raises(ValidationError) as excinfo:
        _log(account, owner, today, participants=[stranger])

    assert excinfo.value.message_dict == {
        "participants": ["Sam Else is not a contact of Acme Corp."]
    }
    assert Interaction.objects.count() == 0


def test_a_next_step_on_an_unowned_account_goes_to_the_author(manager, today):
    account = AccountFactory(owner=None, team=None)

    _log(account, manager, today, next_step="Find an owner", next_step_due=today)

    assert Task.objects.get().owner == manager


def test_the_kind_has_no_empty_choice(account):
    from accounts.forms.interactions import InteractionForm

    choices = [value for value, _label in InteractionForm(account=account).fields["kind"].choices]
    assert choices == ["call", "meeting", "email", "qbr", "note"]
