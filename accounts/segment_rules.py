"""A rule-based segment's criteria and their translation into one WHERE clause.

Rules are stored as JSON on Segment.rules; every key is optional and all given keys must
hold (AND); list values match any of their items (OR). Evaluated live in one query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q

from accounts.models import Account

# key -> (Account field lookup, allowed values or None for free text)
_CHOICE_RULES: dict[str, tuple[str, set[str] | None]] = {
    "industries": ("industry__in", None),
    "tiers": ("tier__in", set(Account.Tier.values)),
    "product_complexity": ("product_complexity__in", set(Account.Level.values)),
    "growth_potential": ("growth_potential__in", set(Account.Level.values)),
    "lifecycle_statuses": ("lifecycle_status__in", set(Account.Lifecycle.values)),
    "health_bands": ("health_band__in", set(Account.Band.values)),
}
_ID_RULES: dict[str, str] = {"owners": "owner_id__in", "teams": "team_id__in"}
RULE_KEYS = {*_CHOICE_RULES, *_ID_RULES, "arr_min", "arr_max", "renewal_within_days"}


def segment_rules_clean(rules: Mapping[str, Any]) -> dict[str, Any]:
    """Validated, normalised rules; raises ValidationError listing every problem."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key, value in rules.items():
        if key not in RULE_KEYS:
            errors[key] = f"Unknown rule {key!r}."
            continue
        if value in (None, "", []):
            continue
        if key in _CHOICE_RULES:
            allowed = _CHOICE_RULES[key][1]
            items = [str(v) for v in (value if isinstance(value, list) else [value])]
            bad = [v for v in items if allowed is not None and v not in allowed]
            if bad:
                errors[key] = f"Unknown value(s): {', '.join(bad)}."
            else:
                clean[key] = sorted(set(items))
        elif key in _ID_RULES:
            try:
                clean[key] = sorted(
                    {int(v) for v in (value if isinstance(value, list) else [value])}
                )
            except (TypeError, ValueError):
                errors[key] = "Expected a list of ids."
        elif key in {"arr_min", "arr_max"}:
            try:
                amount = Decimal(str(value))
            except InvalidOperation:
                errors[key] = "Expected an amount."
                continue
            if amount < 0:
                errors[key] = "ARR cannot be negative."
            else:
                clean[key] = str(amount)
        elif key == "renewal_within_days":
            try:
                days = int(value)
            except (TypeError, ValueError):
                errors[key] = "Expected a number of days."
                continue
            if not 1 <= days <= 730:
                errors[key] = "Between 1 and 730 days."
            else:
                clean[key] = days
    if (
        "arr_min" in clean
        and "arr_max" in clean
        and Decimal(clean["arr_min"]) > Decimal(clean["arr_max"])
    ):
        errors["arr_max"] = "The maximum ARR is below the minimum."
    if errors:
        raise ValidationError(errors)
    return clean


def segment_rules_q(rules: Mapping[str, Any], *, today: dt.date) -> Q:
    """The WHERE clause selecting the accounts matching cleaned rules (empty rules: all)."""
    q = Q()
    for key, (lookup, _allowed) in _CHOICE_RULES.items():
        if rules.get(key):
            q &= Q(**{lookup: rules[key]})
    for key, lookup in _ID_RULES.items():
        if rules.get(key):
            q &= Q(**{lookup: rules[key]})
    if rules.get("arr_min") is not None:
        q &= Q(arr__gte=Decimal(rules["arr_min"]))
    if rules.get("arr_max") is not None:
        q &= Q(arr__lte=Decimal(rules["arr_max"]))
    if rules.get("renewal_within_days"):
        horizon = today + dt.timedelta(days=int(rules["renewal_within_days"]))
        q &= Q(renewal_date__gte=today, renewal_date__lte=horizon)
    return q
