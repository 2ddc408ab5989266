"""The task list (/tasks/) and the task actions: create, complete, edit and reassign."""

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Task
from accounts.selectors.tasks import task_get_for_edit
from accounts.services.tasks import task_update
from tests.factories import AccountFactory, TaskFactory

TASKS = "/tasks/"


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def teammate_account(teammate):
    return AccountFactory(name="Beta Ltd", owner=teammate)


@pytest.fixture
def outsider_account(outsider):
    return AccountFactory(name="Gamma SMB", owner=outsider)


def _sections(html: str) -> dict[str, set[int]]:
    """Task ids shown in each section of the list, keyed by the section's data attribute."""
    found: dict[str, set[int]] = {}
    parts = re.split(r'data-section="(\w+)"', html)
    # parts = [before, key1, body1, key2, body2, ...]
    for key, body in zip(parts[1::2], parts[2::2], strict=True):
        found[key] = {int(pk) for pk in re.findall(r'data-task-id="(\d+)"', body)}
    return found


def _shown(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'data-task-id="(\d+)"', html)}


def _edit_payload(task, **overrides):
    data = {
        "title": task.title,
        "owner": task.owner_id,
        "due_date": task.due_date.isoformat(),
        "priority": task.priority,
        "description": task.description,
    }
    data.update(overrides)
    return data


# --- The list ------------------------------------------------------------------------------


def test_tasks_are_grouped_into_overdue_this_week_and_later(client_for, owner, account, today):
    yesterday = TaskFactory(account=account, title="Yesterday", due_date=today - dt.timedelta(1))
    in_3_days = TaskFactory(account=account, title="In 3", due_date=today + dt.timedelta(3))
    in_20_days = TaskFactory(account=account, title="In 20", due_date=today + dt.timedelta(20))
    # The edges: today and today + 7 are "this week", today + 8 is "later"
    due_today = TaskFactory(account=account, title="Today", due_date=today)
    in_7_days = TaskFactory(account=account, title="In 7", due_date=today + dt.timedelta(7))
    in_8_days = TaskFactory(account=account, title="In 8", due_date=today + dt.timedelta(8))

    response = client_for(owner).get(TASKS)

    assert response.status_code == 200
    html = response.content.decode()
    assert _sections(html) == {
        "overdue": {yesterday.pk},
        "this_week": {due_today.pk, in_3_days.pk, in_7_days.pk},
        "later": {in_8_days.pk, in_20_days.pk},
    }
    assert 'data-kpi="overdue">1<' in html
    assert 'data-kpi="this_week">3<' in html
    assert 'data-kpi="later">2<' in html


def test_a_row_shows_title_account_due_date_priority_source_and_owner(
    client_for, owner, account, today
):
    task = TaskFactory(
        account=account,
        title="Renewal risk review",
        due_date=dt.date(2099, 3, 4),
        priority=Task.Priority.URGENT,
        source=Task.Source.PLAYBOOK,
    )

    html = client_for(owner).get(TASKS).content.decode()

    row = html[html.index(f'data-task-id="{task.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Renewal risk review" in row
    assert f'<a href="/accounts/{account.pk}/">Acme Corp</a>' in row
    assert "Wed 4 Mar 2099" in row
    assert '<span class="band band-red" data-priority="urgent">Urgent</span>' in row
    assert '<span class="tag" data-source="playbook">Playbook</span>' in row
    assert f"<td>{owner}</td>" in row


def test_a_csm_sees_only_their_own_open_tasks(client_for, owner, account, teammate_account, today):
    mine = TaskFactory(account=account, due_date=today)
    TaskFactory(
        account=account, due_date=today, status=Task.Status.DONE, completed_at=timezone.now()
    )
    teammates = TaskFactory(account=teammate_account, due_date=today)

    response = client_for(owner).get(TASKS)
    # Asking for the team scope changes nothing for a CSM
    team_response = client_for(owner).get(TASKS, {"scope": "team", "owner": teammates.owner_id})

    assert _shown(response.content.decode()) == {mine.pk}
    assert _shown(team_response.content.decode()) == {mine.pk}
    assert "<h1>My tasks</h1>" in team_response.content.decode()


def test_an_empty_list_says_so(client_for, owner):
    html = client_for(owner).get(TASKS).content.decode()

    assert "<h2>No open tasks</h2>" in html
    assert "data-section=" not in html


def test_a_managers_team_scope_shows_a_teammates_task(
    client_for, manager, owner, account, teammate_account, outsider_account, today
):
    owners_task = TaskFactory(account=account, due_date=today)
    teammates_task = TaskFactory(account=teammate_account, due_date=today)
    managers_own = TaskFactory(account=account, owner=manager, due_date=today)
    # SMB is not a team this manager manages
    TaskFactory(account=outsider_account, due_date=today)
    client = client_for(manager)

    mine = _shown(client.get(TASKS).content.decode())
    team = client.get(TASKS, {"scope": "team"}).content.decode()

    assert mine == {managers_own.pk}
    assert _shown(team) == {owners_task.pk, teammates_task.pk, managers_own.pk}
    assert "<h1>My team's tasks</h1>" in team


def test_a_manager_filters_the_team_by_owner(
    client_for, manager, account, teammate_account, outsider_account, outsider, teammate, today
):
    TaskFactory(account=account, due_date=today)
    teammates_task = TaskFactory(account=teammate_account, due_date=today)
    TaskFactory(account=outsider_account, due_date=today)
    client = client_for(manager)

    by_teammate = client.get(TASKS, {"scope": "team", "owner": teammate.pk}).content.decode()
    # Someone on a team the manager does not manage is not a choice: reported, not shown
    by_outsider = client.get(TASKS, {"scope": "team", "owner": outsider.pk}).content.decode()

    assert _shown(by_teammate) == {teammates_task.pk}
    assert "You can&#x27;t see that person&#x27;s tasks." in by_outsider
    assert outsider_account.tasks.get().pk not in _shown(by_outsider)
    assert f'<option value="{outsider.pk}"' not in by_outsider
    assert f'<option value="{teammate.pk}"' in by_outsider


def test_an_admins_team_scope_shows_every_open_task(
    client_for, admin_user, account, teammate_account, outsider_account, today
):
    tasks = {
        TaskFactory(account=account, due_date=today).pk,
        TaskFactory(account=teammate_account, due_date=today).pk,
        TaskFactory(account=outsider_account, due_date=today).pk,
    }

    html = client_for(admin_user).get(TASKS, {"scope": "team"}).content.decode()

    assert _shown(html) == tasks
    assert "<h1>All open tasks</h1>" in html


def test_an_executive_gets_403_on_the_task_list(client_for, executive):
    assert client_for(executive).get(TASKS).status_code == 403


def test_the_list_is_paginated(client_for, owner, account, today, settings):
    settings.PAGE_SIZE = 2
    tasks = [TaskFactory(account=account, due_date=today + dt.timedelta(days=n)) for n in range(5)]

    page_2 = client_for(owner).get(TASKS, {"page": 2}).content.decode()

    # Soonest first: page 2 holds the 3rd and 4th (due in 2 and 3 days)
    assert _shown(page_2) == {tasks[2].pk, tasks[3].pk}
    assert "Page 2 of 3 · 5 open tasks" in page_2
    assert 'href="?page=3"' in page_2
    assert 'href="?page=1"' in page_2


@pytest.mark.parametrize("count", [3, 30])
def test_the_list_runs_a_fixed_number_of_queries(
    client_for,
    manager,
    owner,
    account,
    teammate_account,
    today,
    count,
    django_assert_max_num_queries,
):
    for n in range(count):
        TaskFactory(
            account=account if n % 2 else teammate_account, due_date=today + dt.timedelta(n - 5)
        )
    client = client_for(manager)

    # session, user, the user's team (base.html), section counts, page count, page rows,
    # owner choices: 7 whatever the number of tasks
    with django_assert_max_num_queries(7):
        response = client.get(TASKS, {"scope": "team"})
    assert len(_shown(response.content.decode())) == count

    csm = client_for(owner)
    # the same without the owner choices, which a CSM does not get
    with django_assert_max_num_queries(6):
        response = csm.get(TASKS)
    # the owner's are the odd-numbered ones, on their account
    assert len(_shown(response.content.decode())) == count // 2


# --- Completing ----------------------------------------------------------------------------


def test_completing_a_task_removes_it_from_the_list(client_for, owner, account, today):
    task = TaskFactory(account=account, due_date=today)
    other = TaskFactory(account=account, due_date=today)
    client = client_for(owner)

    response = client.post(reverse("accounts:task_complete", args=[task.pk]))

    assert response.status_code == 302
    assert response["Location"] == TASKS
    task.refresh_from_db()
    assert task.status == Task.Status.DONE
    assert task.completed_by == owner
    assert task.completed_at is not None
    assert abs(timezone.now() - task.completed_at) < dt.timedelta(minutes=1)
    assert _shown(client.get(TASKS).content.decode()) == {other.pk}


def test_completing_returns_to_a_local_next_url_only(client_for, owner, account, today):
    first = TaskFactory(account=account, due_date=today)
    second = TaskFactory(account=account, due_date=today)
    client = client_for(owner)
    url = reverse("accounts:task_complete", args=[first.pk])

    local = client.post(url, {"next": f"/accounts/{account.pk}/"})
    evil = client.post(
        reverse("accounts:task_complete", args=[second.pk]), {"next": "https://evil.example/"}
    )

    assert local["Location"] == f"/accounts/{account.pk}/"
    assert evil["Location"] == TASKS


def test_completing_twice_keeps_the_first_completion(client_for, owner, manager, account, today):
    task = TaskFactory(account=account, due_date=today)
    url = reverse("accounts:task_complete", args=[task.pk])
    client_for(owner).post(url)
    task.refresh_from_db()
    first_completed_at = task.completed_at

    client_for(manager).post(url)

    task.refresh_from_db()
    assert task.completed_by == owner
    assert task.completed_at == first_completed_at


def test_completing_needs_a_post(client_for, owner, account, today):
    task = TaskFactory(account=account, due_date=today)

    response = client_for(owner).get(reverse("accounts:task_complete", args=[task.pk]))

    assert response.status_code == 405
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN


@pytest.mark.parametrize("persona", ["teammate", "outsider", "executive"])
def test_completing_someone_elses_task_on_an_account_you_cannot_edit_gives_404(
    request, client_for, account, today, persona
):
    task = TaskFactory(account=account, due_date=today)

    response = client_for(request.getfixturevalue(persona)).post(
        reverse("accounts:task_complete", args=[task.pk])
    )

    assert response.status_code == 404
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN
    assert task.completed_at is None
    assert task.completed_by is None


def test_the_tasks_owner_may_complete_it_on_an_account_they_cannot_edit(
    client_for, owner, teammate_account, today
):
    # A task on the teammate's account, assigned to the owner
    task = TaskFactory(account=teammate_account, owner=owner, due_date=today)

    response = client_for(owner).post(reverse("accounts:task_complete", args=[task.pk]))

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == Task.Status.DONE


def test_a_manager_may_complete_a_task_on_any_account(client_for, manager, account, today):
    task = TaskFactory(account=account, due_date=today)

    client_for(manager).post(reverse("accounts:task_complete", args=[task.pk]))

    task.refresh_from_db()
    assert task.status == Task.Status.DONE
    assert task.completed_by == manager


# --- The access-checked getter -------------------------------------------------------------


def test_task_get_for_edit_returns_the_task_to_its_owner_and_account_editors(
    owner, teammate, manager, executive, account, teammate_account, today
):
    on_owners_account = TaskFactory(account=account, owner=teammate, due_date=today)
    on_teammates_account = TaskFactory(account=teammate_account, due_date=today)

    # The account's owner may edit it; the teammate owns the task
    assert task_get_for_edit(user=owner, task_id=on_owners_account.pk) == on_owners_account
    assert task_get_for_edit(user=teammate, task_id=on_owners_account.pk) == on_owners_account
    assert task_get_for_edit(user=manager, task_id=on_teammates_account.pk) == on_teammates_account
    with pytest.raises(Http404):
        task_get_for_edit(user=owner, task_id=on_teammates_account.pk)
    with pytest.raises(Http404):
        task_get_for_edit(user=executive, task_id=on_owners_account.pk)
    with pytest.raises(Http404):
        task_get_for_edit(user=owner, task_id=999_999)


# --- Editing and reassigning ---------------------------------------------------------------


def test_reassigning_to_a_user_of_another_team_is_rejected(
    client_for, owner, outsider, account, today
):
    task = TaskFactory(account=account, due_date=today + dt.timedelta(days=2), title="Call")
    url = reverse("accounts:task_edit", args=[task.pk])

    response = client_for(owner).post(url, _edit_payload(task, owner=outsider.pk, title="New"))

    assert response.status_code == 200
    html = response.content.decode()
    assert (
        'data-error-for="owner" role="alert">Pick someone who can see this account: its team, '
        "a manager or an admin.</div>"
    ) in html
    assert "Nothing was saved." in html
    assert f'<option value="{outsider.pk}"' not in html
    task.refresh_from_db()
    assert task.owner == owner
    assert task.title == "Call"


def test_reassigning_to_a_teammate_or_manager_and_changing_fields_works(
    client_for, owner, teammate, manager, account, today
):
    task = TaskFactory(account=account, due_date=today + dt.timedelta(days=2))
    url = reverse("accounts:task_edit", args=[task.pk])
    new_due = today + dt.timedelta(days=9)
    client = client_for(owner)

    response = client.post(
        url,
        _edit_payload(
            task,
            owner=teammate.pk,
            title="Prepare QBR deck",
            due_date=new_due.isoformat(),
            priority="high",
            next=f"/accounts/{account.pk}/",
        ),
    )

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{account.pk}/"
    task.refresh_from_db()
    assert task.owner == teammate
    assert task.title == "Prepare QBR deck"
    assert task.due_date == new_due
    assert task.priority == Task.Priority.HIGH

    client.post(url, _edit_payload(task, owner=manager.pk))
    task.refresh_from_db()
    assert task.owner == manager


def test_an_edit_to_a_past_due_date_is_rejected_but_an_overdue_task_keeps_its_date(
    client_for, owner, teammate, account, today
):
    last_week = today - dt.timedelta(days=7)
    task = TaskFactory(account=account, due_date=last_week)
    url = reverse("accounts:task_edit", args=[task.pk])
    client = client_for(owner)

    # Reassigning an overdue task without touching its date is fine
    assert client.post(url, _edit_payload(task, owner=teammate.pk)).status_code == 302
    task.refresh_from_db()
    assert task.owner == teammate
    assert task.due_date == last_week

    # Moving it to another past day is not
    yesterday = today - dt.timedelta(days=1)
    response = client.post(url, _edit_payload(task, due_date=yesterday.isoformat()))
    assert (
        f"The due date can&#x27;t be in the past (today is {today:%d %b %Y})."
        in response.content.decode()
    )
    task.refresh_from_db()
    assert task.due_date == last_week


def test_a_blank_title_is_reported_beside_the_field(client_for, owner, account, today):
    task = TaskFactory(account=account, due_date=today, title="Keep me")

    response = client_for(owner).post(
        reverse("accounts:task_edit", args=[task.pk]), _edit_payload(task, title="  ")
    )

    assert 'data-error-for="title" role="alert">Give the task a title.</div>' in (
        response.content.decode()
    )
    task.refresh_from_db()
    assert task.title == "Keep me"


@pytest.mark.parametrize("persona", ["teammate", "outsider", "executive"])
def test_editing_a_task_you_cannot_act_on_gives_404(
    request, client_for, owner, account, today, persona
):
    user = request.getfixturevalue(persona)
    task = TaskFactory(account=account, due_date=today, title="Mine")
    url = reverse("accounts:task_edit", args=[task.pk])
    client = client_for(user)

    assert client.get(url).status_code == 404
    assert client.post(url, _edit_payload(task, owner=owner.pk, title="Theirs")).status_code == 404
    task.refresh_from_db()
    assert task.title == "Mine"


def test_the_service_refuses_an_owner_who_cannot_see_the_account(owner, outsider, account, today):
    task = TaskFactory(account=account, due_date=today)

    with pytest.raises(ValidationError) as excinfo:
        task_update(
            task=task, title="x", due_date=today, priority=Task.Priority.LOW, owner=outsider
        )

    assert excinfo.value.message_dict == {
        "owner": [f"{outsider} cannot see Acme Corp, so cannot own a task on it."]
    }
    task.refresh_from_db()
    assert task.owner == owner


# --- Creating ------------------------------------------------------------------------------


def test_creating_a_manual_task_on_an_account(client_for, owner, teammate, account, today):
    due = today + dt.timedelta(days=4)

    response = client_for(owner).post(
        reverse("accounts:task_create", args=[account.pk]),
        {
            "title": "Book the QBR",
            "owner": teammate.pk,
            "due_date": due.isoformat(),
            "priority": "high",
            "description": "Before the renewal.",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/{account.pk}/"
    task = Task.objects.get()
    assert task.account == account
    assert task.owner == teammate
    assert task.title == "Book the QBR"
    assert task.due_date == due
    assert task.priority == Task.Priority.HIGH
    assert task.source == Task.Source.MANUAL
    assert task.status == Task.Status.OPEN
    assert task.description == "Before the renewal."


def test_the_new_task_form_suggests_the_account_owner(client_for, owner, account):
    html = (
        client_for(owner).get(reverse("accounts:task_create", args=[account.pk])).content.decode()
    )

    assert "<h1>New task</h1>" in html
    assert f'<option value="{owner.pk}" selected>' in html


def test_a_new_task_needs_a_title_and_a_due_date_not_in_the_past(client_for, owner, account, today):
    url = reverse("accounts:task_create", args=[account.pk])
    client = client_for(owner)

    missing = client.post(url, {"title": "", "owner": owner.pk, "priority": "normal"})
    past = client.post(
        url,
        {
            "title": "Late",
            "owner": owner.pk,
            "due_date": (today - dt.timedelta(days=1)).isoformat(),
            "priority": "normal",
        },
    )

    missing_html = missing.content.decode()
    assert 'data-error-for="title" role="alert">Give the task a title.</div>' in missing_html
    assert 'data-error-for="due_date" role="alert">Give the task a due date.</div>' in missing_html
    assert "The due date can&#x27;t be in the past" in past.content.decode()
    assert Task.objects.count() == 0


@pytest.mark.parametrize("persona", ["teammate", "outsider", "executive"])
def test_creating_a_task_on_an_account_you_cannot_edit_gives_404(
    request, client_for, owner, account, today, persona
):
    response = client_for(request.getfixturevalue(persona)).post(
        reverse("accounts:task_create", args=[account.pk]),
        {"title": "Sneaky", "owner": owner.pk, "due_date": today.isoformat(), "priority": "low"},
    )

    assert response.status_code == 404
    assert Task.objects.count() == 0


def test_a_new_task_cannot_go_to_someone_who_cannot_see_the_account(
    client_for, owner, outsider, account, today
):
    response = client_for(owner).post(
        reverse("accounts:task_create", args=[account.pk]),
        {"title": "x", "owner": outsider.pk, "due_date": today.isoformat(), "priority": "low"},
    )

    assert 'data-error-for="owner"' in response.content.decode()
    assert Task.objects.count() == 0


def test_owner_choices_of_a_team_account_are_its_team_managers_and_admins(
    client_for, owner, teammate, outsider, manager, admin_user, executive, account
):
    html = (
        client_for(owner).get(reverse("accounts:task_create", args=[account.pk])).content.decode()
    )

    offered = {int(pk) for pk in re.findall(r'<option value="(\d+)"', html)}
    # priority options have no numeric values, so these are the owner choices
    assert offered == {owner.pk, teammate.pk, manager.pk, admin_user.pk}
    assert Account.objects.get(pk=account.pk).team == owner.team
