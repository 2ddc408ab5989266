"""The nightly webhook producers of the health floor: "health band changed" and "renewal at
risk", found for one day with one query each and announced through
accounts.services.webhooks.webhook_events_emit_bulk.

- Band changed: every account whose score on day D has another band than its previous
  score (the latest day before D). An account with no earlier score has not changed band.
  The dedupe key names the day, so a rerun for D announces nothing again.
- Renewal at risk: every live account renewing within RISK_RENEWAL_DAYS of D (inclusive,
  Account.renewal_date) whose score on D is red or yellow: the "renewing within 90 days
  with a yellow or red band" of ARR at risk (PRODUCT.md section 3). The dedupe key names
  the renewal date, so each renewal is announced once however many nights it stays at risk;
  a renewal that moves to a later date is a new one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.db import transaction
from django.db.models import OuterRef, Subquery

from accounts.models import Account
from accounts.services.webhooks import webhook_events_emit_bulk
from accounts.webhook_models import WebhookEvent
from health.models import Band, HealthScore
from health.retention import RISK_RENEWAL_DAYS

RISK_BANDS = (Band.RED, Band.YELLOW)


@dataclass(frozen=True)
class HealthWebhookEvents:
    band_changes: int
    renewals_at_risk: int
    deliveries: int


def band_changes_on(*, day: dt.date) -> list[tuple[str, dict[str, Any]]]:
    """(dedupe key, payload) of every account whose band on `day` differs from its previous
    score's. One query: the previous score is found through the (account, day) unique index."""
    previous = HealthScore.objects.filter(account=OuterRef("account"), day__lt=day).order_by("-day")
    rows = (
        HealthScore.objects.filter(day=day)
        .annotate(
            previous_band=Subquery(previous.values("band")[:1]),
            previous_score=Subquery(previous.values("score")[:1]),
            previous_day=Subquery(previous.values("day")[:1]),
        )
        .filter(previous_band__isnull=False)
        .values_list(
            "account_id",
            "account__name",
            "band",
            "score",
            "previous_band",
            "previous_score",
            "previous_day",
        )
        .order_by("account_id")
    )
    occurrences = []
    for account_id, name, band, score, previous_band, previous_score, previous_day in rows:
        if band == previous_band:
            continue
        occurrences.append(
            (
                f"{WebhookEvent.HEALTH_BAND_CHANGED}:{day.isoformat()}:{account_id}",
                {
                    "account_id": account_id,
                    "account_name": name,
                    "day": day,
                    "from_band": previous_band,
                    "to_band": band,
                    "score": score,
                    "previous_score": previous_score,
                    "previous_day": previous_day,
                },
            )
        )
    return occurrences


def renewals_at_risk_on(*, day: dt.date) -> list[tuple[str, dict[str, Any]]]:
    """(dedupe key, payload) of every live account renewing within RISK_RENEWAL_DAYS of
    `day` with a red or yellow score on `day`. One query."""
    rows = (
        HealthScore.objects.filter(
            day=day,
            band__in=RISK_BANDS,
            account__renewal_date__gte=day,
            account__renewal_date__lte=day + dt.timedelta(days=RISK_RENEWAL_DAYS),
        )
        .exclude(account__lifecycle_status=Account.Lifecycle.CHURNED)
        .values_list(
            "account_id",
            "account__name",
            "account__renewal_date",
            "account__arr",
            "band",
            "score",
        )
        .order_by("account_id")
    )
    # renewal_date is never None here: the range filter excludes null dates.
    return [
        (
            f"{WebhookEvent.RENEWAL_AT_RISK}:{renewal_date.isoformat()}:{account_id}",
            {
                "account_id": account_id,
                "account_name": name,
                "renewal_date": renewal_date,
                "days_to_renewal": (renewal_date - day).days,
                "arr": arr,
                "band": band,
                "score": score,
                "day": day,
            },
        )
        for account_id, name, renewal_date, arr, band, score in cast(
            "Iterable[tuple[int, str, dt.date, Decimal, str, int]]", rows
        )
    ]


@transaction.atomic
def health_webhook_events_emit(*, day: dt.date) -> HealthWebhookEvents:
    """Announce the day's band changes and renewals at risk to the subscribed endpoints.

    Idempotent: each (endpoint, occurrence) gets one delivery, so a rerun for the same day
    (a redelivered task, a manual run) sends nothing new. Run after the day's scores exist.
    """
    changes = band_changes_on(day=day)
    renewals = renewals_at_risk_on(day=day)
    sent = webhook_events_emit_bulk(event=WebhookEvent.HEALTH_BAND_CHANGED, occurrences=changes)
    sent += webhook_events_emit_bulk(event=WebhookEvent.RENEWAL_AT_RISK, occurrences=renewals)
    return HealthWebhookEvents(
        band_changes=len(changes), renewals_at_risk=len(renewals), deliveries=len(sent)
    )
