"""Writes for tasks: made by hand, from an interaction's next step, completed, reassigned."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Interaction, Task, User
from accounts.selectors.tasks import task_owner_candidates
from accounts.services.webhooks import webhook_event_emit
from accounts.webhook_models import WebhookEvent

# Relations are checked by _check_owner and the database's foreign keys; clean_fields would
# run one more query per relation to look each up again.
_RELATIONS = ["account", "owner", "interaction", "completed_by"]


def _check_owner(*, account: Account, owner: User | None) -> None:
    # The form already limits the choices; this guards every other caller (API, shell).
    if owner is None:
        return
    if not task_owner_candidates(account=account).filter(pk=owner.pk).exists():
        raise ValidationError(
            {"owner": f"{owner} cannot see {account}, so cannot own a task on it."}
        )


@transaction.atomic
def task_create(
    *,
    account: Account,
    owner: User | None,
    title: str,
    due_date: dt.date,
    priority: str = Task.Priority.NORMAL,
    description: str = "",
    source: str = Task.Source.MANUAL,
    interaction: Interaction | None = None,
) -> Task:
    """Create an open task on the account; the owner must be someone who can see it."""
    _check_owner(account=account, owner=owner)
    task = Task(
        account=account,
        owner=owner,
        title=title.strip(),
        description=description.strip(),
        due_date=due_date,
        priority=priority,
        source=source,
        interaction=interaction,
    )
    task.clean_fields(exclude=_RELATIONS)
    task.save()
    webhook_event_emit(
        event=WebhookEvent.TASK_CREATED,
        payload={
            "task_id": task.pk,
            "account_id": task.account_id,
            "title": task.title,
            "due_date": task.due_date.isoformat(),
            "owner_id": task.owner_id,
            "source": task.source,
        },
    )
    return task


@transaction.atomic
def task_complete(*, task: Task, user: User) -> Task:
    """Mark an open task done by `user`, now. Completing a closed task changes nothing.

    The conditional UPDATE makes a double click (or two people at once) record one
    completion, by whoever came first.
    """
    now = timezone.now()
    updated = Task.objects.filter(pk=task.pk, status=Task.Status.OPEN).update(
        status=Task.Status.DONE, completed_at=now, completed_by=user, updated_at=now
    )
    task.refresh_from_db(fields=["status", "completed_at", "completed_by", "updated_at"])
    if updated:
        task.completed_by = user
    return task


@transaction.atomic
def task_update(
    *,
    task: Task,
    title: str,
    due_date: dt.date,
    priority: str,
    owner: User | None,
    description: str | None = None,
) -> Task:
    """Change a task's title, due date, priority or owner (reassigning it).

    The new owner must be able to see the task's account: a CSM-owned team account can go
    to that team's CSMs, managers and admins, never to another team.
    """
    # Checked even when the owner is unchanged: someone who moved team must not keep it.
    _check_owner(account=task.account, owner=owner)
    task.title = title.strip()
    task.due_date = due_date
    task.priority = priority
    task.owner = owner
    fields = ["title", "due_date", "priority", "owner", "updated_at"]
    if description is not None:
        task.description = description.strip()
        fields.append("description")
    task.clean_fields(exclude=_RELATIONS)
    task.save(update_fields=fields)
    return task
