"""The playbook pages: the list's counts, creating and changing a playbook, switching it off,
snoozing it for an account, and who may do any of it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from accounts.models import Task
from accounts.selectors.access import local_today
from journeys.models import Playbook, PlaybookSnooze, PlaybookTaskTemplate
from journeys.playbooks import playbooks_run
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

LIST = reverse("journeys:playbook_list")
CREATE = reverse("journeys:playbook_create")


def detail_url(playbook: Playbook) -> str:
    return reverse("journeys:playbook_detail", args=[playbook.pk])


def cell(html: str, playbook: Playbook, name: str) -> str:
    """The text of the list cell `data-<name>` in the playbook's row."""
    row = re.search(rf'<tr data-playbook="{playbook.pk}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {playbook}"
    found = re.search(rf"<td[^>]*data-{name}[^>]*>(.*?)</td>", row.group(1), re.S)
    assert found, f"no {name} cell for {playbook}"
    return found.group(1).strip()


def form_post(**overrides: object) -> dict[str, object]:
    """A create/edit POST: the playbook, one task row and a blank spare row."""
    data: dict[str, object] = {
        "name": "Renewal risk review",
        "description": "",
        "trigger": "renewal_in_days",
        "is_active": "on",
        "band": "",
        "points": "",
        "days": "60",
        "band_in": ["red"],
        "stage": "",
        "milestone": "",
        "segment": "",
        "tasks-TOTAL_FORMS": "2",
        "tasks-INITIAL_FORMS": "0",
        "tasks-MIN_NUM_FORMS": "0",
        "tasks-MAX_NUM_FORMS": "20",
        "tasks-0-id": "",
        "tasks-0-title": "Renewal risk review for {account}",
        "tasks-0-description": "Agree a save plan.",
        "tasks-0-due_in_days": "5",
        "tasks-0-priority": "high",
        "tasks-0-assignee": "team_manager",
        "tasks-1-id": "",
        "tasks-1-title": "",
        "tasks-1-description": "",
        "tasks-1-due_in_days": "3",
        "tasks-1-priority": "normal",
        "tasks-1-assignee": "owner",
    }
    data.update(overrides)
    return data


@pytest.fixture
def renewal_playbook() -> Playbook:
    """The default "Renewal in 90 days", the only one left switched on."""
    Playbook.objects.exclude(name="Renewal in 90 days").update(is_active=False)
    return Playbook.objects.get(name="Renewal in 90 days")


# --- the list -------------------------------------------------------------------------


def test_list_counts_tasks_made_and_closed_per_playbook(
    client_for, manager, owner, renewal_playbook, django_assert_max_num_queries
):
    today = local_today()
    accounts = [
        AccountFactory(owner=owner, renewal_date=today + dt.timedelta(days=n)) for n in (10, 20, 30)
    ]
    assert playbooks_run(today=today) == 3
    done = Task.objects.get(account=accounts[0])
    done.status, done.completed_at = Task.Status.DONE, done.created_at
    done.save()
    Task.objects.filter(account=accounts[1]).update(status=Task.Status.CANCELLED)
    detractor = Playbook.objects.get(name="Detractor follow-up")

    client = client_for(manager)
    # Session, user, page count, playbooks with counts, templates, stage names.
    with django_assert_max_num_queries(6):
        response = client.get(LIST)

    html = response.content.decode()
    # Three made; one done; the cancelled one is not "closed" in the sense of followed up.
    assert (cell(html, renewal_playbook, "made"), cell(html, renewal_playbook, "closed")) == (
        "3",
        "1",
    )
    assert (cell(html, detractor, "made"), cell(html, detractor, "closed")) == ("0", "0")
    assert cell(html, renewal_playbook, "trigger") == "Renewal within 90 days"
    assert cell(html, detractor, "trigger") == "NPS detractor (0–6) or CSAT of 1–2 received"
    onboarding = Playbook.objects.get(name="Onboarding milestone overdue")
    assert cell(html, onboarding, "trigger") == "A milestone of Onboarding overdue"
    red = Playbook.objects.get(name="Health dropped to red")
    assert cell(html, red, "trigger") == "Health band changed to Red"


def test_list_query_count_does_not_grow_with_playbooks(
    client_for, admin_user, django_assert_max_num_queries
):
    for n in range(20):
        Playbook.objects.create(name=f"Quiet {n}", trigger="no_interaction", params={"days": n + 1})
    client = client_for(admin_user)
    # Session, user, page count, playbooks with counts, templates, stage names.
    with django_assert_max_num_queries(6):
        response = client.get(LIST)
    assert response.content.decode().count("<tr data-playbook=") == 24


@pytest.mark.parametrize("persona", ["owner", "executive"])
def test_csms_and_executives_get_403_on_every_playbook_page(request, client_for, persona):
    client = client_for(request.getfixturevalue(persona))
    playbook = Playbook.objects.get(name="Detractor follow-up")
    for url in (
        LIST,
        CREATE,
        detail_url(playbook),
        reverse("journeys:playbook_edit", args=[playbook.pk]),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(CREATE, form_post()).status_code == 403
    response = client.post(
        reverse("journeys:playbook_active", args=[playbook.pk]), {"action": "deactivate"}
    )
    assert response.status_code == 403
    playbook.refresh_from_db()
    assert playbook.is_active
    assert not Playbook.objects.filter(name="Renewal risk review").exists()


# --- create and change ----------------------------------------------------------------


def test_manager_creates_a_playbook_with_its_task(client_for, manager):
    response = client_for(manager).post(CREATE, form_post())

    playbook = Playbook.objects.get(name="Renewal risk review")
    assert response.status_code == 302
    assert response["Location"] == detail_url(playbook)
    assert (playbook.trigger, playbook.params, playbook.is_active, playbook.created_by) == (
        "renewal_in_days",
        {"days": 60, "band_in": ["red"]},
        True,
        manager,
    )
    assert list(playbook.templates.values_list("title", "due_in_days", "priority", "assignee")) == [
        ("Renewal risk review for {account}", 5, "high", "team_manager")
    ]


def test_a_missing_trigger_setting_is_shown_beside_its_field_and_nothing_is_saved(
    client_for, manager
):
    response = client_for(manager).post(CREATE, form_post(days=""))

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(
        r'data-error-for="days"[^>]*>Give the number of days, a whole number from 1 to 730\.',
        html,
    )
    assert not Playbook.objects.filter(name="Renewal risk review").exists()
    assert PlaybookTaskTemplate.objects.count() == 4  # the defaults' only


def test_a_playbook_without_tasks_or_with_a_taken_name_is_refused(client_for, manager):
    client = client_for(manager)
    blank_row = {
        "tasks-0-title": "",
        "tasks-0-description": "",
        "tasks-0-due_in_days": "3",
        "tasks-0-priority": "normal",
        "tasks-0-assignee": "owner",
    }
    response = client.post(CREATE, form_post(**blank_row))
    assert "Add at least one task for the playbook to make." in response.content.decode()

    # A row filled in but for its title is a mistake, not a blank row.
    response = client.post(CREATE, form_post(**{"tasks-0-title": ""}))
    assert re.search(
        r'data-error-for="tasks-0-title"[^>]*>Give the task a title, or tick Remove\.',
        response.content.decode(),
    )

    response = client.post(CREATE, form_post(name="detractor FOLLOW-UP"))
    assert re.search(
        r'data-error-for="name"[^>]*>A playbook called “detractor FOLLOW-UP” already exists\.',
        response.content.decode(),
    )
    assert Playbook.objects.count() == 4


def test_segment_trigger_needs_a_segment(client_for, manager):
    response = client_for(manager).post(CREATE, form_post(trigger="segment_entered", days=""))
    assert re.search(
        r'data-error-for="segment"[^>]*>Choose the segment\.', response.content.decode()
    )
    assert Playbook.objects.count() == 4


def test_editing_keeps_a_changed_template_and_removes_a_deleted_one(client_for, admin_user):
    playbook = Playbook.objects.get(name="Detractor follow-up")
    template = playbook.templates.get()
    edit = reverse("journeys:playbook_edit", args=[playbook.pk])
    client = client_for(admin_user)
    assert client.get(edit).status_code == 200

    response = client.post(
        edit,
        form_post(
            name="Detractor follow-up",
            trigger="detractor",
            days="",
            band_in=[],
            **{
                "tasks-TOTAL_FORMS": "2",
                "tasks-INITIAL_FORMS": "1",
                "tasks-0-id": str(template.pk),
                "tasks-0-title": "Call {account} within 2 days",
                "tasks-0-due_in_days": "2",
                "tasks-0-assignee": "owner",
                "tasks-1-title": "Manager reads the verbatim",
                "tasks-1-assignee": "team_manager",
            },
        ),
    )
    assert response.status_code == 302
    playbook.refresh_from_db()
    assert playbook.params == {}
    rows = list(playbook.templates.values_list("pk", "title", "due_in_days", "assignee"))
    assert rows[0] == (template.pk, "Call {account} within 2 days", 2, "owner")
    assert rows[1][1:] == ("Manager reads the verbatim", 3, "team_manager")

    response = client.post(
        edit,
        form_post(
            name="Detractor follow-up",
            trigger="detractor",
            days="",
            band_in=[],
            **{
                "tasks-TOTAL_FORMS": "2",
                "tasks-INITIAL_FORMS": "2",
                "tasks-0-id": str(template.pk),
                "tasks-0-title": "Call {account} within 2 days",
                "tasks-0-DELETE": "on",
                "tasks-1-id": str(rows[1][0]),
                "tasks-1-title": "Manager reads the verbatim",
                "tasks-1-assignee": "team_manager",
            },
        ),
    )
    assert response.status_code == 302
    assert list(playbook.templates.values_list("title", flat=True)) == [
        "Manager reads the verbatim"
    ]


def test_switching_a_playbook_off_and_on(client_for, manager):
    playbook = Playbook.objects.get(name="Detractor follow-up")
    url = reverse("journeys:playbook_active", args=[playbook.pk])
    client = client_for(manager)

    assert client.post(url, {"action": "deactivate"}).status_code == 302
    playbook.refresh_from_db()
    assert not playbook.is_active
    client.post(url, {"action": "activate"})
    playbook.refresh_from_db()
    assert playbook.is_active


# --- detail and snoozes ---------------------------------------------------------------


def test_detail_lists_recent_firings_within_a_query_budget(
    client_for, manager, owner, renewal_playbook, django_assert_max_num_queries
):
    today = local_today()
    for n in range(5):
        AccountFactory(owner=owner, name=f"Renewing {n}", renewal_date=today + dt.timedelta(days=n))
    playbooks_run(today=today)
    client = client_for(manager)
    # Session, user, playbook with counts, templates, firings count and page, snoozes.
    with django_assert_max_num_queries(7):
        response = client.get(detail_url(renewal_playbook))
    html = response.content.decode()
    assert html.count("<tr data-firing=") == 5
    assert "Renewing 3" in html
    assert re.search(r"data-made>5<", html)


def test_snooze_from_the_playbook_page_by_external_id_or_name(
    client_for, manager, account, renewal_playbook
):
    client = client_for(manager)
    until = local_today() + dt.timedelta(days=14)

    response = client.post(
        detail_url(renewal_playbook),
        {"account": account.external_id, "until": until.isoformat(), "reason": "In legal review"},
    )
    assert response.status_code == 302
    snooze = PlaybookSnooze.objects.get()
    assert (snooze.account, snooze.until, snooze.reason, snooze.created_by) == (
        account,
        until,
        "In legal review",
        manager,
    )

    # Again by name: the same snooze, moved on.
    later = until + dt.timedelta(days=7)
    client.post(detail_url(renewal_playbook), {"account": "acme corp", "until": later.isoformat()})
    assert list(PlaybookSnooze.objects.values_list("account", "until")) == [(account.pk, later)]


def test_snooze_form_errors_are_beside_their_fields(client_for, manager, owner, renewal_playbook):
    AccountFactory(owner=owner, name="Twin")
    AccountFactory(owner=owner, name="Twin")
    client = client_for(manager)
    today = local_today()

    response = client.post(
        detail_url(renewal_playbook), {"account": "Nobody Inc", "until": today.isoformat()}
    )
    assert re.search(
        r'data-error-for="account"[^>]*>No account you can edit has the external id or name',
        response.content.decode(),
    )
    response = client.post(detail_url(renewal_playbook), {"account": "Twin", "until": today})
    assert "Several accounts are called “Twin”: use the external id." in response.content.decode()
    AccountFactory(owner=owner, name="Solo")
    response = client.post(
        detail_url(renewal_playbook),
        {"account": "Solo", "until": (today - dt.timedelta(days=1)).isoformat()},
    )
    assert re.search(
        r'data-error-for="until"[^>]*>Snooze until today or later', response.content.decode()
    )
    assert not PlaybookSnooze.objects.exists()


def test_the_owner_snoozes_a_playbook_from_the_account_and_lifts_it(
    client_for, owner, account, renewal_playbook
):
    url = reverse("journeys:playbook_snooze", args=[account.pk])
    client = client_for(owner)
    until = local_today() + dt.timedelta(days=3)

    assert client.get(url).status_code == 200
    response = client.post(url, {"playbook": renewal_playbook.pk, "until": until.isoformat()})
    assert response.status_code == 302
    assert list(PlaybookSnooze.objects.values_list("playbook", "account", "until")) == [
        (renewal_playbook.pk, account.pk, until)
    ]
    page = client.get(url).content.decode()
    assert f'<tr data-snooze="{renewal_playbook.pk}">' in page

    lift = reverse("journeys:playbook_unsnooze", args=[account.pk, renewal_playbook.pk])
    assert client.post(lift).status_code == 302
    assert not PlaybookSnooze.objects.exists()


def test_an_inactive_playbook_cannot_be_snoozed_from_the_account(
    client_for, owner, account, renewal_playbook
):
    off = Playbook.objects.get(name="Detractor follow-up")
    url = reverse("journeys:playbook_snooze", args=[account.pk])
    response = client_for(owner).post(url, {"playbook": off.pk, "until": local_today().isoformat()})
    assert re.search(
        r'data-error-for="playbook"[^>]*>Choose one of the active playbooks\.',
        response.content.decode(),
    )
    assert not PlaybookSnooze.objects.exists()


@pytest.mark.parametrize("persona", ["outsider", "teammate", "executive"])
def test_snoozing_an_account_you_cannot_edit_is_404(
    request, client_for, account, renewal_playbook, persona
):
    client = client_for(request.getfixturevalue(persona))
    url = reverse("journeys:playbook_snooze", args=[account.pk])
    until = (local_today() + dt.timedelta(days=3)).isoformat()

    assert client.get(url).status_code == 404
    assert client.post(url, {"playbook": renewal_playbook.pk, "until": until}).status_code == 404
    assert not PlaybookSnooze.objects.exists()

    PlaybookSnooze.objects.create(playbook=renewal_playbook, account=account, until=until)
    lift = reverse("journeys:playbook_unsnooze", args=[account.pk, renewal_playbook.pk])
    assert client.post(lift).status_code == 404
    assert PlaybookSnooze.objects.count() == 1
