"""Segments: creating and editing them, static membership, and the reads their pages need.

Members of a rule segment are never stored: accounts.selectors.segments evaluates the rules
live in one query. A static segment's members are SegmentMembership rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404

from accounts.audit import Action, audit_record, changes_between, ids_sample
from accounts.models import Account, Segment, SegmentMembership, Team, User
from accounts.segment_rules import segment_rules_clean, segment_rules_q

# --- writes -----------------------------------------------------------------------------


@transaction.atomic
def segment_create(
    *,
    name: str,
    description: str = "",
    kind: str,
    rules: Mapping[str, Any] | None = None,
    created_by: User | None,
) -> Segment:
    """A new segment; rules are validated (ValidationError per rule key) for rule segments."""
    clean = segment_rules_clean(rules or {}) if kind == Segment.Kind.RULE else {}
    segment = Segment.objects.create(
        name=name, description=description, kind=kind, rules=clean, created_by=created_by
    )
    audit_record(
        Action.SEGMENT_CHANGE,
        obj=segment,
        changes=changes_between({}, {"name": name, "kind": kind, "rules": clean}),
    )
    return segment


@transaction.atomic
def segment_update(
    *, segment: Segment, name: str, description: str, rules: Mapping[str, Any] | None = None
) -> Segment:
    """Rename, redescribe and (for rule segments) change the rules. The kind is fixed once
    created: switching would silently swap a hand-made list for a rule or back."""
    before = {"name": segment.name, "description": segment.description, "rules": segment.rules}
    segment.name = name
    segment.description = description
    if segment.kind == Segment.Kind.RULE:
        segment.rules = segment_rules_clean(rules or {})
    segment.save(update_fields=["name", "description", "rules", "updated_at"])
    after = {"name": segment.name, "description": segment.description, "rules": segment.rules}
    if changes := changes_between(before, after):
        audit_record(Action.SEGMENT_CHANGE, obj=segment, changes=changes)
    return segment


@transaction.atomic
def segment_members_add(*, segment: Segment, account_ids: Iterable[int]) -> int:
    """Add accounts to a static segment; returns how many were not members yet."""
    if segment.kind != Segment.Kind.STATIC:
        raise ValueError("Only static segments have members added by hand.")
    wanted = set(account_ids)
    already = set(
        SegmentMembership.objects.filter(segment=segment, account_id__in=wanted).values_list(
            "account_id", flat=True
        )
    )
    new = sorted(wanted - already)
    # ignore_conflicts: a concurrent add of the same account is not an error.
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=segment, account_id=pk) for pk in new], ignore_conflicts=True
    )
    if new:
        segment.save(update_fields=["updated_at"])
        audit_record(
            Action.SEGMENT_CHANGE,
            obj=segment,
            details={"members_added": len(new), "account_ids_sample": ids_sample(new)},
        )
    return len(new)


@transaction.atomic
def segment_members_remove(*, segment: Segment, account_ids: Iterable[int]) -> int:
    """Remove accounts from a static segment; returns how many were removed."""
    if segment.kind != Segment.Kind.STATIC:
        raise ValueError("Only static segments have members removed by hand.")
    wanted = set(account_ids)
    removed, _ = SegmentMembership.objects.filter(segment=segment, account_id__in=wanted).delete()
    if removed:
        segment.save(update_fields=["updated_at"])
        audit_record(
            Action.SEGMENT_CHANGE,
            obj=segment,
            details={"members_removed": removed, "account_ids_sample": ids_sample(sorted(wanted))},
        )
    return removed


# --- reads for the segment pages ---------------------------------------------------------


@dataclass(frozen=True)
class SegmentTotals:
    members: int
    arr: Decimal


def segment_get(*, segment_id: int) -> Segment:
    try:
        return Segment.objects.get(pk=segment_id)
    except Segment.DoesNotExist:
        raise Http404("No such segment.") from None


def accounts_totals(*, accounts: QuerySet[Account]) -> SegmentTotals:
    """How many accounts and their ARR, in one query."""
    totals = accounts.order_by().aggregate(members=Count("pk"), arr=Sum("arr"))
    return SegmentTotals(members=totals["members"], arr=totals["arr"] or Decimal("0"))


def segment_rules_totals(
    *, rules: Mapping[str, Any], accounts: QuerySet[Account], today: dt.date
) -> SegmentTotals:
    """Members and ARR of cleaned rules among `accounts` (the viewer's scope), one query."""
    return accounts_totals(accounts=accounts.filter(segment_rules_q(rules, today=today)))


def segments_totals(
    *, segments: Iterable[Segment], accounts: QuerySet[Account], today: dt.date
) -> dict[int, SegmentTotals]:
    """Members and ARR of many segments among `accounts`, in at most two queries.

    Rule segments: one aggregate with a filtered Count/Sum per segment. Static segments:
    one grouped query over memberships of the visible accounts.
    """
    segments = list(segments)
    totals: dict[int, SegmentTotals] = {}
    rule_segments = [s for s in segments if s.kind == Segment.Kind.RULE]
    if rule_segments:
        aggregates: dict[str, Any] = {}
        for segment in rule_segments:
            where = segment_rules_q(segment.rules, today=today)
            aggregates[f"n{segment.pk}"] = Count("pk", filter=where)
            aggregates[f"a{segment.pk}"] = Sum("arr", filter=where)
        sums = accounts.order_by().aggregate(**aggregates)
        for segment in rule_segments:
            totals[segment.pk] = SegmentTotals(
                members=sums[f"n{segment.pk}"], arr=sums[f"a{segment.pk}"] or Decimal("0")
            )
    static_ids = [s.pk for s in segments if s.kind == Segment.Kind.STATIC]
    if static_ids:
        grouped = (
            SegmentMembership.objects.filter(segment_id__in=static_ids, account__in=accounts)
            .order_by()
            .values("segment_id")
            .annotate(members=Count("pk"), arr=Sum("account__arr"))
        )
        for row in grouped:
            totals[row["segment_id"]] = SegmentTotals(
                members=row["members"], arr=row["arr"] or Decimal("0")
            )
        for pk in static_ids:
            totals.setdefault(pk, SegmentTotals(members=0, arr=Decimal("0")))
    return totals


def segment_member_candidates(
    *, segment: Segment, accounts: QuerySet[Account], query: str, limit: int = 20
) -> list[Account]:
    """Accounts matching a name or external id search that are not members yet."""
    query = query.strip()
    if not query:
        return []
    return list(
        accounts.filter(Q(name__icontains=query) | Q(external_id__iexact=query))
        .exclude(segment_memberships__segment=segment)
        .select_related("owner", "team")
        .order_by("name", "pk")[:limit]
    )


def segment_industries(*, extra: Iterable[str] = ()) -> list[str]:
    """Distinct industries of existing accounts (plus `extra`, e.g. a rule's own values)."""
    found = set(
        Account.objects.exclude(industry="")
        .order_by()
        .values_list("industry", flat=True)
        .distinct()
    )
    return sorted(found | set(extra), key=str.lower)


# rule key -> (what it is about, stored value -> label); industries are free text.
_CHOICE_LABELS: dict[str, tuple[str, dict[str, str]]] = {
    "industries": ("Industry", {}),
    "tiers": ("Tier", dict(Account.Tier.choices)),
    "product_complexity": ("Product complexity", dict(Account.Level.choices)),
    "growth_potential": ("Growth potential", dict(Account.Level.choices)),
    "lifecycle_statuses": ("Lifecycle status", dict(Account.Lifecycle.choices)),
    "health_bands": ("Health band", dict(Account.Band.choices)),
}


def _money(value: str | Decimal) -> str:
    return f"${Decimal(value):,.0f}"


def _either(values: Iterable[str]) -> str:
    items = list(values)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def segment_rules_describe(rules: Mapping[str, Any]) -> list[str]:
    """The rules as sentences a person reads ("Tier is High-touch"); at most two queries,
    for owner and team names."""
    lines: list[str] = []
    low, high = rules.get("arr_min"), rules.get("arr_max")
    if low is not None and high is not None:
        lines.append(f"ARR between {_money(low)} and {_money(high)}")
    elif low is not None:
        lines.append(f"ARR at least {_money(low)}")
    elif high is not None:
        lines.append(f"ARR at most {_money(high)}")
    for key, (label, names) in _CHOICE_LABELS.items():
        if rules.get(key):
            lines.append(f"{label} is {_either(str(names.get(v, v)) for v in rules[key])}")
    if rules.get("owners"):
        people = {u.pk: str(u) for u in User.objects.filter(pk__in=rules["owners"])}
        owners = [people.get(pk, f"a removed user (#{pk})") for pk in rules["owners"]]
        lines.append(f"Owner is {_either(owners)}")
    if rules.get("teams"):
        found = dict(Team.objects.filter(pk__in=rules["teams"]).values_list("pk", "name"))
        teams = [found.get(pk, f"a removed team (#{pk})") for pk in rules["teams"]]
        lines.append(f"Team is {_either(teams)}")
    if rules.get("renewal_within_days"):
        lines.append(f"Renews within the next {rules['renewal_within_days']} days")
    return lines
