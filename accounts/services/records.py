"""Writes behind the account, contact and contract forms (and anything else that creates them).

The rules live here, in the `*_errors` functions: the forms call them so that every message
appears beside its field on the first submit, and the services call them again (raising
ValidationError keyed by field name) so an API call or a script cannot bypass them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account, Contact, Contract, Team, User
from accounts.services.rollups import account_rollups_refresh

Errors = dict[str, str]

OWNER_ROLES = (User.Role.CSM, User.Role.MANAGER)
CONCURRENT_CHANGE = "Someone saved a conflicting change at the same time; please try again."


# --- Rules -----------------------------------------------------------------------------
# Each returns {field: message}; empty means the input obeys the rule.


def account_churn_errors(
    *,
    lifecycle_status: str,
    start_date: dt.date | None,
    churned_on: dt.date | None,
    churn_reason: str,
) -> Errors:
    if lifecycle_status != Account.Lifecycle.CHURNED:
        return {}
    errors: Errors = {}
    if churned_on is None:
        errors["churned_on"] = "A churned account needs the date it churned."
    elif start_date is not None and churned_on < start_date:
        errors["churned_on"] = "The churn date can't be before the start date."
    if not churn_reason:
        errors["churn_reason"] = "A churned account needs a churn reason."
    return errors


def account_owner_errors(*, owner: User | None) -> Errors:
    if owner is not None and not (owner.is_active and owner.role in OWNER_ROLES):
        return {"owner": "Only an active CSM or manager can own an account."}
    return {}


def account_external_id_errors(*, external_id: str | None, account_id: int | None) -> Errors:
    if not external_id:
        return {}
    taken = Account.objects.filter(external_id=external_id)
    if account_id is not None:
        taken = taken.exclude(pk=account_id)
    if taken.exists():
        return {"external_id": "Another account already has this CRM id."}
    return {}


def contact_email_errors(*, account: Account, email: str, contact_id: int | None) -> Errors:
    # Case-insensitive: Jane@X.com and jane@x.com are one person to a survey import.
    taken = Contact.objects.filter(account=account, email__iexact=email)
    if contact_id is not None:
        taken = taken.exclude(pk=contact_id)
    if taken.exists():
        return {"email": "This account already has a contact with this email."}
    return {}


def contract_terms_errors(
    *,
    start_date: dt.date,
    end_date: dt.date,
    previous: Contract | None,
    arr: Decimal | None = None,
    seats: int | None = None,
) -> Errors:
    """Dates and amounts of a term; `arr`/`seats` None means "checked elsewhere" (a form
    field that already validated them)."""
    errors: Errors = {}
    if end_date <= start_date:
        errors["end_date"] = "The end date must be after the start date."
    if previous is not None and start_date <= previous.start_date:
        errors["start_date"] = (
            f"A renewal must start after the term it renews "
            f"(which started {previous.start_date:%d %b %Y})."
        )
    if arr is not None and arr < 0:
        errors["arr"] = "ARR can't be negative."
    if seats is not None and seats < 0:
        errors["seats"] = "Seats can't be negative."
    return errors


def contract_previous_errors(*, account: Account, previous: Contract | None) -> Errors:
    """A renewal continues one earlier term of the same account, and a term renews once.

    However long the gap after the previous end, the link is accepted: a late renewal still
    continues that relationship (the renewal-rate metric applies its own 30-day window).
    """
    if previous is None:
        return {}
    if previous.account_id != account.pk:
        return {"previous": "Choose one of this account's own contracts."}
    if previous.status == Contract.Status.CANCELLED:
        return {"previous": "A cancelled contract can't be renewed."}
    renewal = Contract.objects.filter(previous=previous).only("start_date").first()
    if renewal is not None:
        return {
            "previous": f"That contract was already renewed by the term starting "
            f"{renewal.start_date:%d %b %Y}."
        }
    return {}


def contract_external_id_errors(*, external_id: str | None) -> Errors:
    if external_id and Contract.objects.filter(external_id=external_id).exists():
        return {"external_id": "Another contract already has this CRM id."}
    return {}


def _raise_if(*errors: Errors) -> None:
    merged: Errors = {}
    for found in errors:
        for field, message in found.items():
            merged.setdefault(field, message)
    if merged:
        raise ValidationError(merged)


# --- Accounts --------------------------------------------------------------------------


@transaction.atomic
def account_create(
    *,
    user: User,
    name: str,
    start_date: dt.date,
    external_id: str | None = None,
    domain: str = "",
    owner: User | None = None,
    team: Team | None = None,
    industry: str = "",
    tier: str = Account.Tier.SCALED,
    product_complexity: str = Account.Level.MEDIUM,
    growth_potential: str = Account.Level.MEDIUM,
    lifecycle_status: str = Account.Lifecycle.ONBOARDING,
    churned_on: dt.date | None = None,
    churn_reason: str = "",
    churn_note: str = "",
) -> Account:
    """Add a customer to the portfolio; only admins and managers do that."""
    if not (user.is_admin or user.is_manager):
        raise PermissionDenied("Only admins and managers create accounts.")
    account = Account()
    _account_apply(
        account,
        name=name,
        external_id=external_id,
        domain=domain,
        owner=owner,
        team_id=team.pk if team is not None else None,
        industry=industry,
        tier=tier,
        product_complexity=product_complexity,
        growth_potential=growth_potential,
        lifecycle_status=lifecycle_status,
        start_date=start_date,
        churned_on=churned_on,
        churn_reason=churn_reason,
        churn_note=churn_note,
    )
    _save_or_conflict(account)
    return account


@transaction.atomic
def account_update(
    *,
    account: Account,
    user: User,
    name: str,
    start_date: dt.date,
    external_id: str | None = None,
    domain: str = "",
    owner: User | None = None,
    team: Team | None = None,
    industry: str = "",
    tier: str = Account.Tier.SCALED,
    product_complexity: str = Account.Level.MEDIUM,
    growth_potential: str = Account.Level.MEDIUM,
    lifecycle_status: str = Account.Lifecycle.ONBOARDING,
    churned_on: dt.date | None = None,
    churn_reason: str = "",
    churn_note: str = "",
) -> Account:
    """Change an account. A CSM edits their own accounts but cannot hand one to someone else
    or move it to another team: that is the manager's call. Returns the saved row."""
    # Re-read under a row lock: the caller's instance may carry a bound form's changes, and
    # the ownership rule must compare against what is really stored.
    stored = Account.objects.select_for_update().get(pk=account.pk)
    if not Account.objects.editable_by(user).filter(pk=stored.pk).exists():
        raise PermissionDenied("You can't edit this account.")
    team_id = team.pk if team is not None else None
    if user.is_csm:
        owner_id = owner.pk if owner is not None else None
        if owner_id != stored.owner_id or (team_id is not None and team_id != stored.team_id):
            raise ValidationError({"owner": "Only a manager can reassign an account."})
        team_id = stored.team_id
    _account_apply(
        stored,
        name=name,
        external_id=external_id,
        domain=domain,
        owner=owner,
        team_id=team_id,
        industry=industry,
        tier=tier,
        product_complexity=product_complexity,
        growth_potential=growth_potential,
        lifecycle_status=lifecycle_status,
        start_date=start_date,
        churned_on=churned_on,
        churn_reason=churn_reason,
        churn_note=churn_note,
    )
    _save_or_conflict(stored)
    return stored


def _account_apply(
    account: Account,
    *,
    name: str,
    external_id: str | None,
    domain: str,
    owner: User | None,
    team_id: int | None,
    industry: str,
    tier: str,
    product_complexity: str,
    growth_potential: str,
    lifecycle_status: str,
    start_date: dt.date,
    churned_on: dt.date | None,
    churn_reason: str,
    churn_note: str,
) -> None:
    external_id = (external_id or "").strip() or None
    _raise_if(
        account_owner_errors(owner=owner),
        account_churn_errors(
            lifecycle_status=lifecycle_status,
            start_date=start_date,
            churned_on=churned_on,
            churn_reason=churn_reason,
        ),
        account_external_id_errors(external_id=external_id, account_id=account.pk),
    )
    if lifecycle_status != Account.Lifecycle.CHURNED:
        # A customer who is not churned must not carry a churn date or reason: the churn
        # metrics read them. The note stays, as history of a win-back.
        churned_on, churn_reason = None, ""
    if team_id is None and owner is not None:
        # Left empty, the team follows the owner so the owner's teammates see the account.
        team_id = owner.team_id
    account.name = name.strip()
    account.external_id = external_id
    account.domain = domain.strip()
    account.owner = owner
    account.team_id = team_id
    account.industry = industry.strip()
    account.tier = tier
    account.product_complexity = product_complexity
    account.growth_potential = growth_potential
    account.lifecycle_status = lifecycle_status
    account.start_date = start_date
    account.churned_on = churned_on
    account.churn_reason = churn_reason
    account.churn_note = churn_note


# --- Contacts --------------------------------------------------------------------------


@transaction.atomic
def contact_create(
    *,
    account: Account,
    name: str,
    email: str,
    title: str = "",
    phone: str = "",
    is_decision_maker: bool = False,
    is_executive_sponsor: bool = False,
    is_active: bool = True,
) -> Contact:
    contact = Contact(account=account)
    _contact_apply(
        contact,
        name=name,
        email=email,
        title=title,
        phone=phone,
        is_decision_maker=is_decision_maker,
        is_executive_sponsor=is_executive_sponsor,
        is_active=is_active,
    )
    _save_or_conflict(contact)
    return contact


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    name: str,
    email: str,
    title: str = "",
    phone: str = "",
    is_decision_maker: bool = False,
    is_executive_sponsor: bool = False,
    is_active: bool = True,
) -> Contact:
    _contact_apply(
        contact,
        name=name,
        email=email,
        title=title,
        phone=phone,
        is_decision_maker=is_decision_maker,
        is_executive_sponsor=is_executive_sponsor,
        is_active=is_active,
    )
    _save_or_conflict(contact)
    return contact


def _contact_apply(
    contact: Contact,
    *,
    name: str,
    email: str,
    title: str,
    phone: str,
    is_decision_maker: bool,
    is_executive_sponsor: bool,
    is_active: bool,
) -> None:
    email = email.strip()
    _raise_if(contact_email_errors(account=contact.account, email=email, contact_id=contact.pk))
    contact.name = name.strip()
    contact.email = email
    contact.title = title.strip()
    contact.phone = phone.strip()
    contact.is_decision_maker = is_decision_maker
    contact.is_executive_sponsor = is_executive_sponsor
    contact.is_active = is_active


# --- Contracts -------------------------------------------------------------------------


@transaction.atomic
def contract_create(
    *,
    account: Account,
    start_date: dt.date,
    end_date: dt.date,
    arr: Decimal,
    seats: int = 0,
    status: str = Contract.Status.ACTIVE,
    previous: Contract | None = None,
    external_id: str | None = None,
    today: dt.date | None = None,
) -> Contract:
    """Add a contract term, then refresh the account's ARR and renewal date (also on the
    `account` instance passed in).

    Overlapping an existing term is allowed: a customer may hold several products at once.
    The rollup runs inside this transaction so the account never shows an ARR that the
    stored contracts do not add up to. `today` defaults to the local date.
    """
    external_id = (external_id or "").strip() or None
    _raise_if(
        contract_terms_errors(
            start_date=start_date, end_date=end_date, arr=arr, seats=seats, previous=previous
        ),
        contract_previous_errors(account=account, previous=previous),
        contract_external_id_errors(external_id=external_id),
    )
    contract = Contract(
        account=account,
        start_date=start_date,
        end_date=end_date,
        arr=arr,
        seats=seats,
        status=status,
        previous=previous,
        external_id=external_id,
    )
    _save_or_conflict(contract)
    account_rollups_refresh(today=today or timezone.localdate(), account_ids=[account.pk])
    # The rollup is a queryset UPDATE; bring the caller's instance up to date with it.
    account.refresh_from_db(fields=["arr", "renewal_date"])
    return contract


def _save_or_conflict(instance: Account | Contact | Contract) -> None:
    """Save; a constraint hit here means a concurrent write slipped past the checks above."""
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        raise ValidationError(CONCURRENT_CHANGE) from None
