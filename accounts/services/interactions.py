"""Writes for interactions: logging one (and its next step), editing and deleting it.

Account.last_interaction_on is denormalised for sorting the account list by recency; every
write here keeps it equal to the newest interaction's date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, Q, Subquery

from accounts.models import Account, Contact, Interaction, Task, User
from accounts.selectors.access import local_today
from accounts.services.tasks import task_create


def _validate(
    *, account: Account, occurred_on: dt.date, participants: list[Contact], summary: str
) -> None:
    # The form says the same beside each field; this guards the API and other callers.
    errors: dict[str, str] = {}
    if occurred_on > local_today():
        errors["occurred_on"] = "The interaction's date can't be in the future."
    if not summary.strip():
        errors["summary"] = "Say what happened."
    strangers = [c for c in participants if c.account_id != account.pk]
    if strangers:
        errors["participants"] = (
            f"{', '.join(c.name for c in strangers)} is not a contact of {account}."
        )
    if errors:
        raise ValidationError(errors)


def _last_interaction_refresh(*, account: Account) -> None:
    """Set the account's last_interaction_on to its newest interaction's date (or None)."""
    newest = (
        Interaction.objects.filter(account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(newest=Max("occurred_on"))
        .values("newest")
    )
    Account.objects.filter(pk=account.pk).update(last_interaction_on=Subquery(newest))
    account.refresh_from_db(fields=["last_interaction_on"])


@transaction.atomic
def interaction_log(
    *,
    account: Account,
    author: User,
    kind: str,
    occurred_on: dt.date,
    summary: str,
    sentiment: str,
    participants: Iterable[Contact],
    next_step: str = "",
    next_step_due: dt.date | None = None,
) -> Interaction:
    """Record an interaction on the account, and its next step as a task for the owner.

    All or nothing: a bad next step leaves no interaction behind. The next step's task goes
    to the account owner (the author when the account has none, so it is not orphaned),
    with normal priority and source "interaction".
    """
    participants = list(participants)
    _validate(account=account, occurred_on=occurred_on, participants=participants, summary=summary)
    next_step = next_step.strip()
    if next_step:
        if next_step_due is None:
            raise ValidationError({"next_step_due": "Give the next step a due date."})
        if next_step_due < local_today():
            raise ValidationError({"next_step_due": "The next step can't be due in the past."})

    interaction = Interaction(
        account=account,
        author=author,
        kind=kind,
        occurred_on=occurred_on,
        summary=summary.strip(),
        sentiment=sentiment,
    )
    interaction.clean_fields(exclude=["account", "author"])
    interaction.save()
    if participants:
        interaction.participants.set(participants)

    if next_step and next_step_due is not None:
        task_create(
            account=account,
            owner=account.owner or author,
            title=next_step,
            due_date=next_step_due,
            priority=Task.Priority.NORMAL,
            source=Task.Source.INTERACTION,
            interaction=interaction,
        )

    # Only ever moves forward: a conditional UPDATE, so two CSMs logging at once can't
    # overwrite a newer date with an older one.
    Account.objects.filter(pk=account.pk).filter(
        Q(last_interaction_on__isnull=True) | Q(last_interaction_on__lt=occurred_on)
    ).update(last_interaction_on=occurred_on)
    account.refresh_from_db(fields=["last_interaction_on"])
    return interaction


@transaction.atomic
def interaction_update(
    *,
    interaction: Interaction,
    kind: str,
    occurred_on: dt.date,
    summary: str,
    sentiment: str,
    participants: Iterable[Contact],
) -> Interaction:
    """Change what was logged; moving the date recomputes the account's last interaction
    (it can go back when the newest interaction is moved earlier)."""
    account = interaction.account
    participants = list(participants)
    _validate(account=account, occurred_on=occurred_on, participants=participants, summary=summary)
    interaction.kind = kind
    interaction.occurred_on = occurred_on
    interaction.summary = summary.strip()
    interaction.sentiment = sentiment
    interaction.clean_fields(exclude=["account", "author"])
    interaction.save(update_fields=["kind", "occurred_on", "summary", "sentiment", "updated_at"])
    interaction.participants.set(participants)
    _last_interaction_refresh(account=account)
    return interaction


@transaction.atomic
def interaction_delete(*, interaction: Interaction) -> None:
    """Delete the interaction; the account's last interaction falls back to the newest one
    left, or None. Tasks made from its next step stay (their link is cleared)."""
    account = interaction.account
    interaction.delete()
    _last_interaction_refresh(account=account)
