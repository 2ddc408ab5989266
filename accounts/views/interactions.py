"""Logging, editing and deleting interactions. The account page carries the logging form
(partials/_interaction_form.html); these views take its POST and own the full-page forms."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms.interactions import InteractionForm
from accounts.http import AuthenticatedRequest
from accounts.selectors.access import account_get_for_edit
from accounts.selectors.tasks import interaction_get_for_edit
from accounts.services.interactions import (
    interaction_delete as interaction_delete_service,
)
from accounts.services.interactions import interaction_log, interaction_update


@require_http_methods(["GET", "POST"])
def interaction_create(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Log an interaction on account `pk`; errors come back on a full page, nothing saved."""
    account = account_get_for_edit(user=request.user, account_id=pk)
    form = InteractionForm(request.POST if request.method == "POST" else None, account=account)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            interaction = interaction_log(
                account=account,
                author=request.user,
                kind=data["kind"],
                occurred_on=data["occurred_on"],
                summary=data["summary"],
                sentiment=data["sentiment"],
                participants=data["participants"],
                next_step=data["next_step"],
                next_step_due=data["next_step_due"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            message = f"{interaction.get_kind_display()} logged on {account}."
            task = interaction.tasks.select_related("owner").first()
            if task is not None:
                message += (
                    f" Next step added to {task.owner}'s tasks, due {task.due_date:%d %b %Y}."
                )
            messages.success(request, message)
            return redirect(account)
    context = {"form": form, "account": account, "editing": False}
    return render(request, "accounts/interaction_form.html", context)


@require_http_methods(["GET", "POST"])
def interaction_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Change an interaction: its author (while they may edit the account) or an admin."""
    interaction = interaction_get_for_edit(user=request.user, interaction_id=pk)
    account = interaction.account
    form = InteractionForm(
        request.POST if request.method == "POST" else None,
        instance=interaction,
        account=account,
        with_next_step=False,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            interaction_update(
                interaction=interaction,
                kind=data["kind"],
                occurred_on=data["occurred_on"],
                summary=data["summary"],
                sentiment=data["sentiment"],
                participants=data["participants"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Updated the {interaction.get_kind_display().lower()}.")
            return redirect(account)
    context = {"form": form, "account": account, "interaction": interaction, "editing": True}
    return render(request, "accounts/interaction_form.html", context)


@require_http_methods(["GET", "POST"])
def interaction_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes (author or admin only)."""
    interaction = interaction_get_for_edit(user=request.user, interaction_id=pk)
    account = interaction.account
    if request.method == "POST":
        label = str(interaction)
        interaction_delete_service(interaction=interaction)
        messages.success(request, f"Deleted: {label}.")
        return redirect(account)
    context = {"interaction": interaction, "account": account}
    return render(request, "accounts/interaction_confirm_delete.html", context)
