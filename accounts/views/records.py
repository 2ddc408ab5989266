"""Pages that create and edit accounts, contacts and contracts."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.forms.records import AccountForm, ContactForm, ContractForm, form_add_errors
from accounts.models import Account, Contract, User
from accounts.selectors.access import account_get_for_edit
from accounts.selectors.records import (
    account_contracts_for_renewal,
    account_industries,
    contact_get_for_edit,
)
from accounts.services import records as services

# The contract form lists this many recent terms for context; the "renews" choice has all.
RECENT_TERMS_SHOWN = 5


def _user(request: HttpRequest) -> User:
    # LoginRequiredMiddleware guarantees an authenticated User on every view below.
    return cast(User, request.user)


def _bound(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


@require_http_methods(["GET", "POST"])
def account_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not (user.is_admin or user.is_manager):
        raise PermissionDenied("Only admins and managers create accounts.")
    form = AccountForm(_bound(request), user=user)
    if form.is_bound and form.is_valid():
        try:
            account = services.account_create(user=user, **form.cleaned_data)
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, f"Account “{account.name}” created.")
            return redirect(account)
    return render(
        request,
        "accounts/account_form.html",
        {
            "form": form,
            "account": None,
            "heading": "New account",
            "submit_label": "Create account",
            "cancel_url": reverse("accounts:account_list"),
            "industries": account_industries(),
        },
    )


@require_http_methods(["GET", "POST"])
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    account = account_get_for_edit(user=user, account_id=pk)
    # Captured before binding: a bound ModelForm writes the submitted values onto the
    # instance, and a rejected submit must still show what is stored.
    heading, owner, team = f"Edit {account.name}", account.owner, account.team
    form = AccountForm(_bound(request), instance=account, user=user)
    if form.is_bound and form.is_valid():
        data = {"owner": owner, "team": team, **form.cleaned_data}
        try:
            account = services.account_update(account=account, user=user, **data)
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, f"Account “{account.name}” saved.")
            return redirect(account)
    return render(
        request,
        "accounts/account_form.html",
        {
            "form": form,
            "account": account,
            "heading": heading,
            "current_owner": owner,
            "current_team": team,
            "submit_label": "Save changes",
            "cancel_url": account.get_absolute_url(),
            "industries": account_industries(),
        },
    )


@require_http_methods(["GET", "POST"])
def contact_create(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_get_for_edit(user=_user(request), account_id=pk)
    form = ContactForm(_bound(request), account=account)
    if form.is_bound and form.is_valid():
        try:
            contact = services.contact_create(account=account, **form.cleaned_data)
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, f"Contact {contact.name} added to {account.name}.")
            return redirect(account)
    return _contact_page(request, form=form, account=account, heading="New contact")


@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = contact_get_for_edit(user=_user(request), contact_id=pk)
    account = contact.account
    heading = f"Edit {contact.name}"
    form = ContactForm(_bound(request), instance=contact, account=account)
    if form.is_bound and form.is_valid():
        try:
            contact = services.contact_update(contact=contact, **form.cleaned_data)
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, f"Contact {contact.name} saved.")
            return redirect(account)
    return _contact_page(request, form=form, account=account, heading=heading)


def _contact_page(
    request: HttpRequest, *, form: ContactForm, account: Account, heading: str
) -> HttpResponse:
    return render(
        request,
        "accounts/contact_form.html",
        {
            "form": form,
            "account": account,
            "heading": heading,
            "cancel_url": account.get_absolute_url(),
        },
    )


@require_http_methods(["GET", "POST"])
def contract_create(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_get_for_edit(user=_user(request), account_id=pk)
    contracts = account_contracts_for_renewal(account=account)
    form = ContractForm(_bound(request), account=account, contracts=contracts)
    if form.is_bound and form.is_valid():
        try:
            contract = services.contract_create(account=account, **form.cleaned_data)
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(
                request,
                f"Contract {contract.start_date:%d %b %Y} – {contract.end_date:%d %b %Y} added. "
                f"{account.name} ARR is now ${account.arr:,.0f}.",
            )
            return redirect(account)
    return render(
        request,
        "accounts/contract_form.html",
        {
            "form": form,
            "account": account,
            "heading": f"Add a contract for {account.name}",
            "cancel_url": account.get_absolute_url(),
            "recent_terms": contracts[:RECENT_TERMS_SHOWN],
            "suggested": form.suggested,
            "comparison": _arr_comparison(form, contracts),
        },
    )


def _arr_comparison(form: ContractForm, contracts: list[Contract]) -> dict[str, Any] | None:
    """ARR of the term being renewed beside the new ARR, so expansion or contraction shows."""
    previous: Contract | None = form.suggested
    arr = None
    if form.is_bound:
        by_pk = {c.pk: c for c in contracts}
        chosen = form.data.get("previous") or ""
        previous = by_pk.get(int(chosen)) if chosen.isdigit() else None
        arr = form.cleaned_data.get("arr") if hasattr(form, "cleaned_data") else None
    if previous is None:
        return None
    comparison: dict[str, Any] = {"previous": previous, "previous_arr": previous.arr}
    if arr is not None:
        comparison["change"] = arr - previous.arr
        comparison["change_abs"] = abs(arr - previous.arr)
        if previous.arr:
            comparison["change_pct"] = (arr - previous.arr) / previous.arr * 100
    return comparison
