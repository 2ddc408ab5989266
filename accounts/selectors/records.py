"""Reads behind the account, contact and contract forms."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Account, Contact, Contract, Team, User

# The industry datalist is a typing aid, not a catalogue: a long tail of one-off spellings
# would only bloat every form page.
INDUSTRY_SUGGESTIONS_MAX = 200


def contact_get_for_edit(*, user: User, contact_id: int) -> Contact:
    """The contact if the user may edit its account (own book for a CSM); 404 otherwise."""
    editable = Account.objects.editable_by(user).values("pk")
    try:
        return (
            Contact.objects.select_related("account")
            .filter(account__in=editable)
            .get(pk=contact_id)
        )
    except (Contact.DoesNotExist, ValueError, TypeError):
        raise Http404("No such contact.") from None


def account_owner_candidates() -> QuerySet[User]:
    """People who can own a book: active CSMs and managers."""
    return (
        User.objects.filter(is_active=True, role__in=[User.Role.CSM, User.Role.MANAGER])
        .select_related("team")
        .order_by("first_name", "last_name", "username")
    )


def teams_for_choice() -> QuerySet[Team]:
    return Team.objects.order_by("name")


def account_industries() -> list[str]:
    """Industries already in use, so a new account reuses the same spelling."""
    return list(
        Account.objects.exclude(industry="")
        .order_by("industry")
        .values_list("industry", flat=True)
        .distinct()[:INDUSTRY_SUGGESTIONS_MAX]
    )


def account_contracts_for_renewal(*, account: Account) -> list[Contract]:
    """The account's non-cancelled contracts, latest term first, with their renewal loaded."""
    return list(
        Contract.objects.filter(account=account)
        .exclude(status=Contract.Status.CANCELLED)
        .select_related("renewal")
        .order_by("-end_date", "-start_date", "-pk")
    )


def contract_renewal_suggestion(contracts: list[Contract]) -> Contract | None:
    """The term a new contract most likely continues: the latest one not yet renewed.

    `contracts` comes from account_contracts_for_renewal, whose select_related("renewal")
    makes the check below free of queries.
    """
    for contract in contracts:
        if not hasattr(contract, "renewal"):
            return contract
    return None
