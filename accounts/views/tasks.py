"""The task list (/tasks/) and the task actions: create on an account, complete, edit."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms.tasks import TaskFilterForm, TaskForm
from accounts.http import AuthenticatedRequest
from accounts.models import Task
from accounts.selectors.access import account_get_for_edit, local_today
from accounts.selectors.tasks import (
    TaskScope,
    task_get_for_edit,
    task_section_counts,
    task_section_of,
    tasks_open_for_list,
)
from accounts.services.tasks import task_complete as task_complete_service
from accounts.services.tasks import task_create as task_create_service
from accounts.services.tasks import task_update

_SECTIONS = [
    ("overdue", "Overdue", "Nothing overdue."),
    ("this_week", "Due this week", "Nothing due in the next seven days."),
    ("later", "Later", "Nothing due later."),
]


def _next_url(request: HttpRequest, fallback: str) -> str:
    """Where to go after an action: the `next` the page sent, if it is a local URL."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


@require_GET
def task_list(request: AuthenticatedRequest) -> HttpResponse:
    """Open tasks in three sections by due date: overdue, due this week, later.

    CSMs see their own tasks only; managers and admins may switch to their team's (all, for
    an admin) and filter by owner. Executives never have tasks: the page is not theirs.
    """
    user = request.user
    if not user.can_edit_accounts:
        raise PermissionDenied("The task list is for people who work accounts.")
    today = local_today()

    scope, owner, filter_form = TaskScope.MINE, None, None
    if not user.is_csm:
        filter_form = TaskFilterForm(request.GET, user=user)
        filter_form.is_valid()  # an unknown owner is reported and ignored, not a 404
        owner = filter_form.cleaned_data.get("owner")
        scope = filter_form.cleaned_data.get("scope") or TaskScope.MINE
        if owner is not None:
            scope = TaskScope.TEAM

    tasks = tasks_open_for_list(user=user, scope=scope, owner=owner)
    counts = task_section_counts(tasks=tasks, today=today)
    page = Paginator(tasks, settings.PAGE_SIZE).get_page(request.GET.get("page"))

    rows: dict[str, list[Task]] = {key: [] for key, _, _ in _SECTIONS}
    for task in page.object_list:
        rows[task_section_of(due_date=task.due_date, today=today)].append(task)
    sections = [
        {
            "key": key,
            "title": title,
            "empty": empty,
            "count": getattr(counts, key),
            "tasks": rows[key],
        }
        for key, title, empty in _SECTIONS
    ]
    context = {
        "today": today,
        "scope": scope,
        "owner": owner,
        "filter_form": filter_form,
        "counts": counts,
        "sections": sections,
        "page_obj": page,
        "next_url": request.get_full_path(),
    }
    return render(request, "accounts/task_list.html", context)


@require_http_methods(["GET", "POST"])
def task_create(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A manual task on account `pk`, for anyone who may edit the account."""
    account = account_get_for_edit(user=request.user, account_id=pk)
    form = TaskForm(request.POST if request.method == "POST" else None, account=account)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            task = task_create_service(
                account=account,
                owner=data["owner"],
                title=data["title"],
                due_date=data["due_date"],
                priority=data["priority"],
                description=data["description"],
                source=Task.Source.MANUAL,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"Task “{task.title}” added for {task.owner}, due {task.due_date:%d %b %Y}.",
            )
            return redirect(_next_url(request, account.get_absolute_url()))
    context = {
        "form": form,
        "account": account,
        "task": None,
        "saved_title": "",
        "next_url": _next_url(request, ""),
    }
    return render(request, "accounts/task_form.html", context)


@require_POST
def task_complete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Mark the task done; back to the page it was completed from."""
    task = task_get_for_edit(user=request.user, task_id=pk)
    if task.status == Task.Status.OPEN:
        task_complete_service(task=task, user=request.user)
        messages.success(request, f"Done: {task.title}.")
    else:
        messages.info(request, f"“{task.title}” was already {task.get_status_display().lower()}.")
    return redirect(_next_url(request, reverse("accounts:task_list")))


@require_http_methods(["GET", "POST"])
def task_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Reassign a task or change its title, due date or priority."""
    task = task_get_for_edit(user=request.user, task_id=pk)
    # The form writes onto the instance while validating; the page names the saved title.
    saved_title = task.title
    form = TaskForm(
        request.POST if request.method == "POST" else None, instance=task, account=task.account
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            task_update(
                task=task,
                title=data["title"],
                due_date=data["due_date"],
                priority=data["priority"],
                owner=data["owner"],
                description=data["description"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved “{task.title}”.")
            return redirect(_next_url(request, reverse("accounts:task_list")))
    context = {
        "form": form,
        "account": task.account,
        "task": task,
        "saved_title": saved_title,
        "next_url": _next_url(request, ""),
    }
    return render(request, "accounts/task_form.html", context)
