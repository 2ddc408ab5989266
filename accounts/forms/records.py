"""Forms for accounts, contacts and contracts.

The forms parse input and show every rule's message beside its field; the rules themselves
live in accounts.services.records (the `*_errors` functions), which the services enforce
again. Choice lists are evaluated once in __init__, so rendering a form runs no query.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Account, Contact, Contract, User
from accounts.selectors.records import (
    account_owner_candidates,
    contract_renewal_suggestion,
    teams_for_choice,
)
from accounts.services.records import (
    Errors,
    account_churn_errors,
    account_external_id_errors,
    contact_email_errors,
    contract_external_id_errors,
    contract_previous_errors,
    contract_terms_errors,
)

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def form_add_errors(form: forms.BaseForm, errors: Errors | ValidationError) -> None:
    """Put rule or service errors beside their fields; unknown fields go to the top."""
    if isinstance(errors, ValidationError):
        if not hasattr(errors, "error_dict"):
            form.add_error(None, errors)
            return
        items: list[tuple[str, Any]] = list(errors.error_dict.items())
    else:
        items = list(errors.items())
    for field, messages in items:
        # A field that already failed to parse keeps its own message, not a second one.
        if field in form.errors:
            continue
        form.add_error(field if field in form.fields else None, messages)


def _one_year_term(start: dt.date) -> dt.date:
    """The last day of a one-year term starting on `start` (29 Feb starts end on 28 Feb)."""
    try:
        return start.replace(year=start.year + 1) - dt.timedelta(days=1)
    except ValueError:
        return start.replace(year=start.year + 1, day=28)


class AccountForm(forms.ModelForm):
    """Create or edit an account. A CSM gets no owner or team field: reassigning an account
    is a manager's decision."""

    class Meta:
        model = Account
        fields = [
            "name",
            "external_id",
            "domain",
            "owner",
            "team",
            "industry",
            "tier",
            "product_complexity",
            "growth_potential",
            "lifecycle_status",
            "start_date",
            "churned_on",
            "churn_reason",
            "churn_note",
        ]
        labels = {
            "external_id": "CRM id",
            "start_date": "Customer since",
            "churned_on": "Churn date",
            "churn_reason": "Churn reason",
            "churn_note": "Churn note",
        }
        help_texts = {
            "external_id": "The account's id in your CRM; imports and the API match on it.",
            "domain": "e.g. acme.com",
            "start_date": "Start of the first contract.",
            "team": "Leave empty to use the owner's team.",
            "churned_on": "Required when the account has churned.",
        }
        widgets = {
            "start_date": DATE,
            "churned_on": DATE,
            "churn_note": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["industry"].widget.attrs["list"] = "industry-options"
        self.fields["churn_reason"].help_text = "Required when the account has churned."
        if not self.instance.pk:
            # ModelForm initial comes from the (blank) instance, so field.initial is ignored.
            self.initial.setdefault("start_date", timezone.localdate())
        if user.is_csm:
            del self.fields["owner"]
            del self.fields["team"]
            return
        owner = cast(forms.ModelChoiceField, self.fields["owner"])
        owner.queryset = account_owner_candidates()
        owner.choices = [("", "— Unassigned —")] + [
            (person.pk, f"{person} · {person.team}" if person.team else str(person))
            for person in owner.queryset
        ]
        team = cast(forms.ModelChoiceField, self.fields["team"])
        team.queryset = teams_for_choice()
        team.choices = [("", "— Owner's team —")] + [(t.pk, str(t)) for t in team.queryset]

    def clean_external_id(self) -> str | None:
        external_id = (self.cleaned_data.get("external_id") or "").strip() or None
        errors = account_external_id_errors(external_id=external_id, account_id=self.instance.pk)
        if errors:
            raise ValidationError(errors["external_id"])
        return external_id

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        status = cleaned.get("lifecycle_status")
        if status is None:
            return cleaned
        form_add_errors(
            self,
            account_churn_errors(
                lifecycle_status=status,
                start_date=cleaned.get("start_date"),
                churned_on=cleaned.get("churned_on"),
                churn_reason=cleaned.get("churn_reason", ""),
            ),
        )
        if status != Account.Lifecycle.CHURNED:
            cleaned["churned_on"] = None
            cleaned["churn_reason"] = ""
        return cleaned


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = [
            "name",
            "email",
            "title",
            "phone",
            "is_decision_maker",
            "is_executive_sponsor",
            "is_active",
        ]
        labels = {
            "title": "Job title",
            "is_decision_maker": "Decision maker",
            "is_executive_sponsor": "Executive sponsor",
            "is_active": "Still at the account",
        }
        help_texts = {"is_active": "Untick when the person has left; their history stays."}

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        kwargs.setdefault("instance", Contact(account=account))
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        errors = contact_email_errors(
            account=self.account, email=email, contact_id=self.instance.pk
        )
        if errors:
            raise ValidationError(errors["email"])
        return email


class ContractForm(forms.ModelForm):
    """Add a contract term. `contracts` is the account's renewable history, latest first
    (accounts.selectors.records.account_contracts_for_renewal); it feeds the "renews" list
    and the suggested defaults without another query."""

    arr = forms.DecimalField(
        label="ARR",
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0"),
        error_messages={"min_value": "ARR can't be negative."},
        help_text="Annual recurring revenue of this term.",
    )

    class Meta:
        model = Contract
        fields = ["start_date", "end_date", "arr", "seats", "status", "previous", "external_id"]
        labels = {"previous": "Renews", "external_id": "CRM id"}
        help_texts = {
            "previous": "The earlier term this contract continues; leave empty for a new one.",
            "end_date": "Last day of the term: the renewal date.",
        }
        widgets = {"start_date": DATE, "end_date": DATE}
        error_messages = {"seats": {"min_value": "Seats can't be negative."}}

    def __init__(
        self, *args: Any, account: Account, contracts: list[Contract], **kwargs: Any
    ) -> None:
        kwargs.setdefault("instance", Contract(account=account))
        super().__init__(*args, **kwargs)
        self.account = account
        previous = cast(forms.ModelChoiceField, self.fields["previous"])
        previous.queryset = Contract.objects.filter(account=account).exclude(
            status=Contract.Status.CANCELLED
        )
        previous.error_messages["invalid_choice"] = "Choose one of this account's own contracts."
        previous.choices = [("", "— None: a new contract —")] + [
            (c.pk, _contract_label(c)) for c in contracts
        ]
        self.suggested = contract_renewal_suggestion(contracts)
        start = (
            self.suggested.end_date + dt.timedelta(days=1)
            if self.suggested
            else timezone.localdate()
        )
        # Suggest continuing the latest open term: it starts the day after that one ends and
        # keeps its seats. (ModelForm takes initial values from self.initial, not the fields.)
        if self.initial.get("start_date") is None:
            self.initial["start_date"] = start
            self.initial["end_date"] = _one_year_term(start)
        if self.suggested and self.initial.get("previous") is None:
            self.initial["previous"] = self.suggested.pk
            self.initial["seats"] = self.suggested.seats

    def clean_previous(self) -> Contract | None:
        previous = self.cleaned_data.get("previous")
        errors = contract_previous_errors(account=self.account, previous=previous)
        if errors:
            raise ValidationError(errors["previous"])
        return previous

    def clean_external_id(self) -> str | None:
        external_id = (self.cleaned_data.get("external_id") or "").strip() or None
        errors = contract_external_id_errors(external_id=external_id)
        if errors:
            raise ValidationError(errors["external_id"])
        return external_id

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        start, end = cleaned.get("start_date"), cleaned.get("end_date")
        if start is not None and end is not None:
            form_add_errors(
                self,
                contract_terms_errors(
                    start_date=start, end_date=end, previous=cleaned.get("previous")
                ),
            )
        return cleaned


def _contract_label(contract: Contract) -> str:
    label = (
        f"{contract.start_date:%d %b %Y} – {contract.end_date:%d %b %Y} · "
        f"${contract.arr:,.0f} ARR · {contract.seats} seats"
    )
    if hasattr(contract, "renewal"):
        label += " (already renewed)"
    return label
