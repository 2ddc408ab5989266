"""Celery tasks of outbound webhooks: sending one delivery, and the nightly producer of
health events. Re-exported by accounts.tasks, whose import registers both with the worker."""

import datetime as dt

from celery import shared_task
from django.db import OperationalError

from accounts.jobs import HEALTH_WEBHOOK_EVENTS, job_execute
from accounts.selectors.access import local_today
from accounts.services.webhooks import WebhookDeliveryError, webhook_delivery_send

MAX_RETRIES = 6


# Backoff 1, 2, 4 … 64 s (jittered, capped at an hour): a receiver down for a deploy
# recovers within the retries; after MAX_RETRIES the row stays "failed" on the log page.
@shared_task(
    acks_late=True,
    autoretry_for=(WebhookDeliveryError,),
    retry_backoff=True,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def webhook_delivery_send_task(delivery_id: int) -> str:
    delivery = webhook_delivery_send(delivery_id=delivery_id)
    return delivery.status if delivery is not None else "gone"


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=30, max_retries=3)
def health_webhook_events_task(day_iso: str | None = None) -> int | None:
    """Nightly, after the health scores: announce the day's band changes and renewals at
    risk to subscribed endpoints. Idempotent (each endpoint hears of each occurrence once),
    so a redelivered or repeated run sends nothing new. Returns the deliveries queued, None
    when another run of the job holds its lock."""
    # Imported here: the producers read health scores, a floor above accounts; this entry
    # point sits beside the delivery task so the worker registers both from accounts.tasks.
    from health.webhook_events import health_webhook_events_emit

    day = dt.date.fromisoformat(day_iso) if day_iso else local_today()
    return job_execute(
        HEALTH_WEBHOOK_EVENTS,
        day.isoformat(),
        lambda: health_webhook_events_emit(day=day).deliveries,
    )
