"""Overriding an account's health score, and revoking an override.

Who may: admins, managers and the account's owner CSM, the people who may edit the account
(account_get_for_edit); teammates, other CSMs and executives get 404, as for any account
they may not change. The account page links here.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthenticatedRequest
from accounts.selectors.access import account_get_for_edit, local_today
from health.forms_overrides import HealthOverrideForm
from health.selectors_scorecards import (
    account_latest_score,
    health_override_active,
    health_override_get_for_edit,
    health_overrides_for_account,
)
from health.services_overrides import health_override_create, health_override_revoke


@require_http_methods(["GET", "POST"])
def override_create(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The override page of account `pk`: its scores, the override in force, the history,
    and the form; a valid POST overrides and returns to the account page."""
    account = account_get_for_edit(user=request.user, account_id=pk)
    form = HealthOverrideForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            override = health_override_create(
                account=account,
                user=request.user,
                score=data["score"],
                reason=data["reason"],
                expires_on=data["expires_on"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"Health of {account} overridden to {override.score} until "
                f"{override.expires_on:%d %b %Y}.",
            )
            return redirect(account.get_absolute_url())

    today = local_today()
    history = Paginator(health_overrides_for_account(account=account), settings.PAGE_SIZE)
    context = {
        "account": account,
        "latest": account_latest_score(account=account),
        "active": health_override_active(account=account, today=today),
        "page_obj": history.get_page(request.GET.get("page")),
        "form": form,
        "today": today,
    }
    return render(request, "health/override_form.html", context)


@require_POST
def override_revoke(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """End override `pk` now; the account shows its computed score again.

    The service writes the restored score onto `account` as well, so the message needs no
    second read."""
    override = health_override_get_for_edit(user=request.user, override_id=pk)
    account = override.account
    try:
        health_override_revoke(override=override, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("health:override_create", pk=account.pk)
    shown = (
        f"{account.health_score} ({account.get_health_band_display().lower()})"
        if account.health_score is not None
        else "no score yet"
    )
    messages.success(request, f"Override on {account} revoked; its health is back to {shown}.")
    return redirect(account.get_absolute_url())
