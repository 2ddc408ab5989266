"""Reads behind the 360° account page: contract history with the change between terms, and
one timeline merging what was logged, done, answered and raised on the account.

Each source is one bounded query whatever the account's history, so the page runs a fixed
number of queries. Sources from upper floors (survey answers live in feedback) are read by
the page's view and handed in as entries, so this floor never imports them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account, Contact, Contract, SupportTicket, Task, User

# The timeline shows the newest entries only; older history belongs in reports and exports.
TIMELINE_LIMIT = 50
TIMELINE_KINDS = ("interaction", "task", "survey", "ticket")
# PRODUCT.md section 3: a contract is renewed when the next one starts within 30 days of its end.
RENEWAL_GAP_DAYS = 30


@dataclass(frozen=True)
class ContractTerm:
    contract: Contract
    # ARR above (+) or below (-) the term it continues; None for a new contract.
    change: Decimal | None

    @property
    def change_kind(self) -> str:
        if self.change is None:
            return "new"
        if self.change > 0:
            return "expansion"
        if self.change < 0:
            return "contraction"
        return "flat"

    @property
    def change_amount(self) -> Decimal | None:
        return None if self.change is None else abs(self.change)


@dataclass(frozen=True)
class TimelineEntry:
    kind: str  # one of TIMELINE_KINDS
    event: str  # what happened: "logged", "created", "completed", "answered", "opened", "closed"
    day: dt.date
    # Orders entries of one day: the moment it happened, or was recorded for dated entries.
    moment: dt.datetime
    item: object
    editable: bool = False

    @property
    def sort_key(self) -> tuple[dt.date, dt.datetime]:
        return (self.day, self.moment)


def account_can_edit(*, user: User, account: Account) -> bool:
    """Whether the user may change this account: the same rule as account_get_for_edit."""
    return Account.objects.editable_by(user).filter(pk=account.pk).exists()


def account_contract_history(*, account: Account) -> list[ContractTerm]:
    """Every contract of the account, newest first, each with its change vs the term before.

    The term before is the contract's `previous` link, or else (imports rarely carry the
    link) the latest contract that ended within RENEWAL_GAP_DAYS before this one started.
    """
    contracts = list(account.contracts.order_by("start_date", "pk"))
    by_pk = {c.pk: c for c in contracts}
    terms = []
    for contract in contracts:
        previous = by_pk.get(contract.previous_id) if contract.previous_id else None
        if previous is None:
            previous = _term_before(contract, contracts)
        change = None if previous is None else contract.arr - previous.arr
        terms.append(ContractTerm(contract=contract, change=change))
    terms.reverse()
    return terms


def _term_before(contract: Contract, contracts: list[Contract]) -> Contract | None:
    earlier = [
        c
        for c in contracts
        if c.pk != contract.pk
        and c.end_date < contract.start_date
        and (contract.start_date - c.end_date).days <= RENEWAL_GAP_DAYS
    ]
    return max(earlier, key=lambda c: (c.end_date, c.pk), default=None)


def account_contacts(*, account: Account) -> QuerySet[Contact]:
    """Current contacts first; decision makers and sponsors before the rest."""
    return account.contacts.order_by(
        "-is_active", "-is_decision_maker", "-is_executive_sponsor", "name"
    )


def account_open_tasks(*, account: Account) -> QuerySet[Task]:
    return account.tasks.open().select_related("owner").order_by("due_date", "pk")


def account_timeline(
    *,
    account: Account,
    viewer: User,
    kind: str | None = None,
    extra: Iterable[TimelineEntry] = (),
    limit: int = TIMELINE_LIMIT,
) -> list[TimelineEntry]:
    """The newest `limit` entries across kinds, newest first; `kind` keeps only one kind.

    `extra` carries entries read by upper floors (survey answers), already limited.
    """
    entries: list[TimelineEntry] = [e for e in extra if kind in (None, e.kind)]
    if kind in (None, "interaction"):
        entries += _interaction_entries(account, viewer, limit)
    if kind in (None, "task"):
        entries += _task_entries(account, limit)
    if kind in (None, "ticket"):
        entries += _ticket_entries(account, limit)
    entries.sort(key=lambda e: e.sort_key, reverse=True)
    return entries[:limit]


def timeline_entry_at(
    *, kind: str, event: str, at: dt.datetime, item: object, editable: bool = False
) -> TimelineEntry:
    """An entry for something that happened at a moment (shown on its local date)."""
    return TimelineEntry(
        kind=kind,
        event=event,
        day=timezone.localdate(at),
        moment=at,
        item=item,
        editable=editable,
    )


def _interaction_entries(account: Account, viewer: User, limit: int) -> list[TimelineEntry]:
    interactions = (
        account.interactions.select_related("author")
        .prefetch_related("participants")
        .order_by("-occurred_on", "-created_at")[:limit]
    )
    may_edit_own = viewer.can_edit_accounts
    return [
        TimelineEntry(
            kind="interaction",
            event="logged",
            day=i.occurred_on,
            moment=i.created_at,
            item=i,
            editable=may_edit_own and i.author_id == viewer.pk,
        )
        for i in interactions
    ]


def _task_entries(account: Account, limit: int) -> list[TimelineEntry]:
    # A task yields up to two entries (created, completed). Ranking tasks by their latest
    # event is enough: any of the newest `limit` events belongs to one of the `limit` tasks
    # with the newest latest event (completion never precedes creation).
    tasks = (
        account.tasks.select_related("owner", "completed_by")
        .annotate(latest=Coalesce("completed_at", "created_at"))
        .order_by("-latest", "-pk")[:limit]
    )
    entries = []
    for task in tasks:
        entries.append(
            timeline_entry_at(kind="task", event="created", at=task.created_at, item=task)
        )
        if task.completed_at is not None:
            entries.append(
                timeline_entry_at(kind="task", event="completed", at=task.completed_at, item=task)
            )
    return entries


def _ticket_entries(account: Account, limit: int) -> list[TimelineEntry]:
    # Same reasoning as tasks: a ticket closes after it opens (a database constraint).
    tickets = (
        SupportTicket.objects.filter(account=account)
        .annotate(latest=Coalesce("closed_at", "opened_at"))
        .order_by("-latest", "-pk")[:limit]
    )
    entries = []
    for ticket in tickets:
        entries.append(
            timeline_entry_at(kind="ticket", event="opened", at=ticket.opened_at, item=ticket)
        )
        if ticket.closed_at is not None:
            entries.append(
                timeline_entry_at(kind="ticket", event="closed", at=ticket.closed_at, item=ticket)
            )
    return entries
