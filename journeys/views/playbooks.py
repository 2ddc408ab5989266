"""Playbook pages: the list with tasks made and closed, create and change a playbook with
its task templates, switch it on or off, its page with recent firings, and snoozes.

The playbook pages are for admins and CS managers (PRODUCT.md section 6); everyone else gets
403. Snoozing a playbook for one account is open to whoever may edit that account, so the
account page can offer it to the owner CSM; any other account answers 404.
"""

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

from accounts.http import AuthenticatedRequest
from accounts.models import User
from accounts.selectors.access import account_get_for_edit, local_today
from journeys.forms_playbooks import (
    AccountSnoozeForm,
    PlaybookForm,
    SnoozeLookupForm,
    TaskTemplateFormSet,
    TemplateFormSetBase,
    template_formset_initial,
)
from journeys.selectors_playbooks import (
    account_for_snooze_lookup,
    account_snoozes_active,
    param_names_for,
    playbook_firings_recent,
    playbook_get,
    playbook_rows,
    playbook_snoozes_active,
    playbook_trigger_text,
    playbooks_for_list,
    playbooks_for_snooze,
)
from journeys.services_playbooks import (
    playbook_active_set,
    playbook_snooze,
    playbook_unsnooze,
    playbook_update,
)
from journeys.services_playbooks import playbook_create as playbook_create_service

FIRINGS_PAGE_SIZE = 25


def _require_configure(user: User) -> None:
    if not user.can_configure:
        raise PermissionDenied("Only admins and CS managers manage playbooks.")


def _next_url(request: HttpRequest, fallback: str) -> str:
    candidate = request.POST.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


@require_GET
def playbook_list(request: AuthenticatedRequest) -> HttpResponse:
    _require_configure(request.user)
    page = Paginator(playbooks_for_list(), settings.PAGE_SIZE).get_page(request.GET.get("page"))
    rows = playbook_rows(page.object_list)
    return render(request, "journeys/playbook_list.html", {"page_obj": page, "rows": rows})


def _save_error(form: PlaybookForm, exc: ValidationError) -> list[str]:
    """Put the service's complaints beside their fields; return those about the tasks."""
    about_tasks: list[str] = []
    for key, problems in exc.message_dict.items():
        if key in form.fields:
            form.add_error(key, problems)
        else:
            about_tasks.extend(problems)
    return about_tasks


def _both_valid(form: PlaybookForm, formset: TemplateFormSetBase) -> bool:
    # Validate both, so every mistake on the page is shown at once.
    checks = [form.is_valid(), formset.is_valid()]
    return all(checks)


@require_http_methods(["GET", "POST"])
def playbook_create(request: AuthenticatedRequest) -> HttpResponse:
    _require_configure(request.user)
    bound = request.method == "POST"
    form = PlaybookForm(request.POST if bound else None)
    formset = TaskTemplateFormSet(request.POST if bound else None, prefix="tasks")
    template_errors: list[str] = []
    if bound and _both_valid(form, formset):
        data = form.cleaned_data
        try:
            playbook = playbook_create_service(
                name=data["name"],
                description=data["description"],
                trigger=data["trigger"],
                params=data["params"],
                is_active=data["is_active"],
                templates=formset.template_specs(),
                created_by=request.user,
            )
        except ValidationError as exc:
            template_errors = _save_error(form, exc)
        else:
            messages.success(
                request, f"Created the playbook “{playbook}”. It is evaluated every night."
            )
            return redirect("journeys:playbook_detail", pk=playbook.pk)
    context = {
        "form": form,
        "formset": formset,
        "template_errors": template_errors,
        "playbook": None,
    }
    return render(request, "journeys/playbook_form.html", context)


@require_http_methods(["GET", "POST"])
def playbook_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _require_configure(request.user)
    playbook = playbook_get(playbook_id=pk)
    bound = request.method == "POST"
    form = PlaybookForm(request.POST if bound else None, initial=PlaybookForm.initial_for(playbook))
    formset = TaskTemplateFormSet(
        request.POST if bound else None,
        initial=template_formset_initial(playbook),
        prefix="tasks",
    )
    template_errors: list[str] = []
    if bound and _both_valid(form, formset):
        data = form.cleaned_data
        try:
            playbook_update(
                playbook=playbook,
                name=data["name"],
                description=data["description"],
                trigger=data["trigger"],
                params=data["params"],
                is_active=data["is_active"],
                templates=formset.template_specs(),
            )
        except ValidationError as exc:
            template_errors = _save_error(form, exc)
        else:
            messages.success(
                request, f"Saved “{playbook}”. Occurrences it already acted on stay done."
            )
            return redirect("journeys:playbook_detail", pk=playbook.pk)
    context = {
        "form": form,
        "formset": formset,
        "template_errors": template_errors,
        "playbook": playbook,
    }
    return render(request, "journeys/playbook_form.html", context)


@require_POST
def playbook_active(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Switch a playbook on or off; off, it makes nothing and its tasks stay."""
    _require_configure(request.user)
    playbook = playbook_get(playbook_id=pk)
    action = request.POST.get("action")
    if action in ("activate", "deactivate"):
        playbook_active_set(playbook=playbook, is_active=action == "activate")
        state = "on: it acts from the next evaluation" if playbook.is_active else "off"
        messages.success(request, f"“{playbook}” is {state}.")
    return redirect("journeys:playbook_detail", pk=playbook.pk)


@require_http_methods(["GET", "POST"])
def playbook_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The playbook, its recent firings and snoozes; POST snoozes it for one account."""
    _require_configure(request.user)
    playbook = playbook_get(playbook_id=pk)
    today = local_today()
    snooze_form = SnoozeLookupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and snooze_form.is_valid():
        data = snooze_form.cleaned_data
        try:
            account = account_for_snooze_lookup(user=request.user, text=data["account"])
            playbook_snooze(
                playbook=playbook,
                account=account,
                until=data["until"],
                today=today,
                reason=data["reason"],
                user=request.user,
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for key, problems in exc.message_dict.items():
                    snooze_form.add_error(key if key in snooze_form.fields else None, problems)
            else:
                snooze_form.add_error("account", exc)
        else:
            messages.success(
                request, f"“{playbook}” is snoozed for {account} until {data['until']:%d %b %Y}."
            )
            return redirect("journeys:playbook_detail", pk=playbook.pk)

    firings = Paginator(playbook_firings_recent(playbook=playbook), FIRINGS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "playbook": playbook,
        "trigger_text": playbook_trigger_text(playbook, param_names_for([playbook])),
        "templates": list(playbook.templates.all()),
        "page_obj": firings,
        "snoozes": list(playbook_snoozes_active(playbook=playbook, today=today)),
        "snooze_form": snooze_form,
        "today": today,
    }
    return render(request, "journeys/playbook_detail.html", context)


@require_http_methods(["GET", "POST"])
def playbook_snooze_account(request: AuthenticatedRequest, account_pk: int) -> HttpResponse:
    """Snooze a playbook for one account: for whoever may edit the account, 404 otherwise."""
    account = account_get_for_edit(user=request.user, account_id=account_pk)
    today = local_today()
    initial = {"playbook": request.GET.get("playbook")} if request.GET.get("playbook") else {}
    form = AccountSnoozeForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        playbooks=playbooks_for_snooze(),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            playbook_snooze(
                playbook=data["playbook"],
                account=account,
                until=data["until"],
                today=today,
                reason=data["reason"],
                user=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"“{data['playbook']}” is snoozed for {account} until {data['until']:%d %b %Y}.",
            )
            return redirect("journeys:playbook_snooze", account_pk=account.pk)
    context = {
        "account": account,
        "form": form,
        "snoozes": list(account_snoozes_active(account=account, today=today)),
        "can_configure": request.user.can_configure,
    }
    return render(request, "journeys/playbook_snooze.html", context)


@require_POST
def playbook_unsnooze_account(
    request: AuthenticatedRequest, account_pk: int, playbook_pk: int
) -> HttpResponse:
    """Lift a snooze; the playbook acts on the account again from its next evaluation."""
    account = account_get_for_edit(user=request.user, account_id=account_pk)
    playbook = playbook_get(playbook_id=playbook_pk)
    if playbook_unsnooze(playbook=playbook, account=account):
        messages.success(request, f"“{playbook}” acts on {account} again.")
    fallback = reverse("journeys:playbook_snooze", kwargs={"account_pk": account.pk})
    return redirect(_next_url(request, fallback))
