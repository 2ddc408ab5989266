"""Reads for tasks (and the interaction getter that the task and interaction pages share).

Every request-driven lookup of a task or an interaction goes through the getters here, so
"who may act on this row" is answered in one place, next to account_get_for_edit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from accounts.models import Account, Interaction, Task, Team, User


def task_get_for_edit(*, user: User, task_id: int) -> Task:
    """The task if the user may act on it: they may edit its account, or they own it.

    Owning is enough so a CSM can still close a task on an account that moved to another
    book; executives never act on tasks, even one that was assigned to them by mistake.
    404 otherwise, so the task's existence does not leak.
    """
    if not user.is_authenticated or not user.is_active or not user.can_edit_accounts:
        raise Http404("No such task.")
    tasks = Task.objects.select_related("account", "account__owner", "account__team", "owner")
    if user.is_csm:
        # Admins and managers may edit every account, so only a CSM needs the filter.
        tasks = tasks.filter(Q(account__in=Account.objects.editable_by(user)) | Q(owner=user))
    try:
        return tasks.get(pk=task_id)
    except (Task.DoesNotExist, ValueError, TypeError):
        raise Http404("No such task.") from None


def interaction_get_for_edit(*, user: User, interaction_id: int) -> Interaction:
    """The interaction if the user may change it: its author, while they may still edit the
    account (a CSM whose account moved to another book no longer writes on it), or an admin.
    404 otherwise."""
    if not user.is_authenticated or not user.is_active or not user.can_edit_accounts:
        raise Http404("No such interaction.")
    interactions = Interaction.objects.all()
    if not user.is_admin:
        interactions = interactions.filter(
            author=user, account__in=Account.objects.editable_by(user)
        )
    try:
        return interactions.select_related("account", "account__owner", "author").get(
            pk=interaction_id
        )
    except (Interaction.DoesNotExist, ValueError, TypeError):
        raise Http404("No such interaction.") from None


def task_owner_candidates(*, account: Account) -> QuerySet[User]:
    """Who a task on this account may be assigned to: people who can see and work it.

    Admins and managers see every account; a CSM sees their own book and their team's.
    Executives are read-only and never own tasks.
    """
    may_see = Q(role__in=[User.Role.ADMIN, User.Role.MANAGER]) | Q(is_superuser=True)
    if account.owner_id is not None:
        may_see |= Q(pk=account.owner_id)
    if account.team_id is not None:
        may_see |= Q(role=User.Role.CSM, team_id=account.team_id)
    return User.objects.filter(may_see, is_active=True).exclude(
        role=User.Role.EXECUTIVE, is_superuser=False
    )


def task_owner_filter_choices(*, user: User) -> QuerySet[User]:
    """Owners a manager may filter the team's tasks by: members of the teams they manage and
    themselves; an admin may pick anyone who can own tasks. Nobody else filters by owner."""
    owners = User.objects.filter(is_active=True).exclude(
        role=User.Role.EXECUTIVE, is_superuser=False
    )
    if user.is_admin:
        return owners
    if user.is_manager:
        return owners.filter(Q(team__in=Team.objects.filter(manager=user)) | Q(pk=user.pk))
    return owners.none()


class TaskScope:
    MINE = "mine"
    TEAM = "team"


def tasks_open_for_list(
    *, user: User, scope: str = TaskScope.MINE, owner: User | None = None
) -> QuerySet[Task]:
    """Open tasks for /tasks/, soonest due first, with what each row shows joined in.

    A CSM always gets their own tasks whatever the scope asked for. A manager's team scope is
    the open tasks whose owner is on a team they manage (their own included); an admin's is
    every open task. `owner` narrows the team scope to one person; callers pass only an
    owner taken from task_owner_filter_choices.
    """
    tasks = Task.objects.open().select_related("account", "owner")
    if user.is_csm or not user.can_edit_accounts or scope != TaskScope.TEAM:
        tasks = tasks.filter(owner=user)
    elif user.is_manager and not user.is_admin:
        tasks = tasks.filter(Q(owner__team__in=Team.objects.filter(manager=user)) | Q(owner=user))
    if owner is not None and scope == TaskScope.TEAM and not user.is_csm:
        tasks = tasks.filter(owner=owner)
    return tasks.order_by("due_date", "pk")


@dataclass(frozen=True)
class TaskSectionCounts:
    overdue: int
    this_week: int
    later: int

    @property
    def total(self) -> int:
        return self.overdue + self.this_week + self.later


def task_week_end(*, today: dt.date) -> dt.date:
    """Last day of "Due this week": today and the seven days after it."""
    return today + dt.timedelta(days=7)


def task_section_of(*, due_date: dt.date, today: dt.date) -> str:
    """Which /tasks/ section a due date falls in: "overdue", "this_week" or "later"."""
    if due_date < today:
        return "overdue"
    if due_date <= task_week_end(today=today):
        return "this_week"
    return "later"


def task_section_counts(*, tasks: QuerySet[Task], today: dt.date) -> TaskSectionCounts:
    """How many of the tasks fall in each section, in one aggregate query."""
    week_end = task_week_end(today=today)
    totals = tasks.order_by().aggregate(
        overdue=Count("pk", filter=Q(due_date__lt=today)),
        this_week=Count("pk", filter=Q(due_date__gte=today, due_date__lte=week_end)),
        later=Count("pk", filter=Q(due_date__gt=week_end)),
    )
    return TaskSectionCounts(**totals)
