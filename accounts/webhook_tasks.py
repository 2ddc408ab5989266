"""Celery task sending one webhook delivery; re-exported by accounts.tasks for autodiscovery."""

from celery import shared_task

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
