"""Outbound webhooks: registering endpoints, emitting events, and delivering them signed.

Signing (documented for receivers on the endpoint page):
    X-CS-Event: <event>          X-CS-Delivery: <delivery id>     X-CS-Timestamp: <unix seconds>
    X-CS-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>
The timestamp is inside the signed bytes so a captured request cannot be replayed later
with a fresh timestamp; receivers reject old timestamps and verify over the raw body.

Deliveries are rows first and HTTP later: webhook_event_emit writes one row per subscribed
endpoint and enqueues the send on commit, so a rolled-back change never notifies anyone.
webhook_events_emit_bulk does the same for many occurrences found by a nightly producer,
each announced to each endpoint once (keyed by its dedupe key).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.webhook_models import TEST_EVENT, WebhookDelivery, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)

SECRET_BYTES = 32
TIMEOUT_SECONDS = 10
RECENT_DELIVERIES = 5
# Enough of a failing receiver's answer to diagnose it, without storing whole error pages.
ERROR_MAX_CHARS = 500
USER_AGENT = "CS-Platform-Webhooks/1"


class WebhookDeliveryError(Exception):
    """A delivery attempt failed; raised so the Celery task retries with backoff."""


def webhook_secret_generate() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def webhook_body(*, delivery: WebhookDelivery) -> bytes:
    """The exact bytes sent; stable across retries so a receiver can dedupe by delivery id."""
    document = {
        "id": delivery.pk,
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(
        document, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True
    ).encode()


def _validate(*, url: str, events: list[str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        errors["url"] = "Enter a full http:// or https:// address, e.g. https://example.com/hooks."
    known = set(WebhookEvent.values)
    if not events:
        errors["events"] = "Choose at least one event to send."
    elif any(event not in known for event in events):
        errors["events"] = "Choose events from the list."
    return errors


@transaction.atomic
def webhook_endpoint_create(
    *, url: str, events: list[str], created_by: User, is_active: bool = True
) -> WebhookEndpoint:
    errors = _validate(url=url, events=events)
    if errors:
        raise ValidationError(errors)
    endpoint = WebhookEndpoint.objects.create(
        url=url.strip(),
        events=sorted(set(events)),
        secret=webhook_secret_generate(),
        is_active=is_active,
        created_by=created_by,
    )
    logger.info("Webhook endpoint %s created by user %s", endpoint.pk, created_by.pk)
    return endpoint


@transaction.atomic
def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, url: str, events: list[str], is_active: bool
) -> WebhookEndpoint:
    errors = _validate(url=url, events=events)
    if errors:
        raise ValidationError(errors)
    endpoint.url = url.strip()
    endpoint.events = sorted(set(events))
    endpoint.is_active = is_active
    endpoint.save(update_fields=["url", "events", "is_active"])
    return endpoint


@transaction.atomic
def webhook_endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint.secret = webhook_secret_generate()
    endpoint.save(update_fields=["secret"])
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    logger.info("Webhook endpoint %s (%s) deleted", endpoint.pk, endpoint.url)
    endpoint.delete()


def _enqueue(delivery_ids: list[int]) -> None:
    # Imported here: the task module imports this one.
    from accounts.webhook_tasks import webhook_delivery_send_task

    for delivery_id in delivery_ids:
        try:
            webhook_delivery_send_task.delay(delivery_id)
        except Exception:
            # A broker outage, or an eager (no-Redis) run whose receiver failed, must not turn
            # the change that emitted the event into an error: the row shows the failure.
            logger.exception("Webhook delivery %s could not be queued", delivery_id)


@transaction.atomic
def webhook_event_emit(*, event: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    """One pending delivery per active endpoint subscribed to `event`; sent after commit."""
    if event not in WebhookEvent.values:
        raise ValueError(f"Unknown webhook event {event!r}")
    # Few endpoints exist, and filtering a JSON list in Python works on every database.
    endpoints = [ep for ep in WebhookEndpoint.objects.filter(is_active=True) if event in ep.events]
    if not endpoints:
        return []
    # Round-trip through JSON now so dates and decimals are stored as the receiver will see them.
    data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(endpoint=ep, event=event, payload=data) for ep in endpoints]
    )
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: _enqueue(ids))
    return deliveries


# Keys per "which of these did each endpoint already get?" query: bounds the statement's
# parameters (SQLite allows 32,766) while a night's events stay a query or two.
DEDUPE_LOOKUP_BATCH = 5_000


def _enqueue_bulk(delivery_ids: list[int]) -> None:
    """Queue many sends as one Celery group: one producer connection for the lot, not one
    publish round trip per delivery."""
    from celery import group

    from accounts.webhook_tasks import webhook_delivery_send_task

    if not delivery_ids:
        return
    try:
        group(webhook_delivery_send_task.s(pk) for pk in delivery_ids).apply_async()
    except Exception:
        logger.exception("%d webhook deliveries could not be queued", len(delivery_ids))


@transaction.atomic
def webhook_events_emit_bulk(
    *, event: str, occurrences: Sequence[tuple[str, dict[str, Any]]]
) -> list[WebhookDelivery]:
    """Many occurrences of one event, each as (dedupe key, payload): one pending delivery per
    subscribed endpoint and occurrence it has not had yet; sent after commit.

    A fixed number of queries whatever the number of occurrences: the subscribed endpoints,
    the keys they already have (per DEDUPE_LOOKUP_BATCH keys), one bulk insert. A rerun
    finds every key delivered and writes nothing; the unique (endpoint, dedupe_key)
    constraint stops a concurrent run that slipped past the lookup.
    """
    if event not in WebhookEvent.values:
        raise ValueError(f"Unknown webhook event {event!r}")
    if not occurrences:
        return []
    endpoints = [ep for ep in WebhookEndpoint.objects.filter(is_active=True) if event in ep.events]
    if not endpoints:
        return []
    keys = [key for key, _payload in occurrences]
    if any(not key for key in keys):
        raise ValueError("Every bulk occurrence needs a dedupe key.")
    done: set[tuple[int, str]] = set()
    for start in range(0, len(keys), DEDUPE_LOOKUP_BATCH):
        done.update(
            WebhookDelivery.objects.filter(
                endpoint__in=endpoints, dedupe_key__in=keys[start : start + DEDUPE_LOOKUP_BATCH]
            ).values_list("endpoint_id", "dedupe_key")
        )
    # Round-trip through JSON now so dates and decimals are stored as the receiver sees them.
    data = json.loads(json.dumps([payload for _key, payload in occurrences], cls=DjangoJSONEncoder))
    fresh = [
        WebhookDelivery(endpoint=ep, event=event, payload=payload, dedupe_key=key)
        for ep in endpoints
        for key, payload in zip(keys, data, strict=True)
        if (ep.pk, key) not in done
    ]
    if not fresh:
        return []
    deliveries = WebhookDelivery.objects.bulk_create(fresh, batch_size=DEDUPE_LOOKUP_BATCH)
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: _enqueue_bulk(ids))
    return deliveries


@transaction.atomic
def webhook_test_send(*, endpoint: WebhookEndpoint, sent_by: User) -> WebhookDelivery:
    """A test delivery to one endpoint, active or not, whatever its subscriptions."""
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event=TEST_EVENT,
        payload={"message": "Test event from CS Platform", "sent_by": sent_by.get_username()},
    )
    transaction.on_commit(lambda: _enqueue([delivery.pk]))
    return delivery


class _SameHostRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects only within the registered host: the signed body and headers must
    never be handed to a host the admin did not register."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        old = urllib.parse.urlsplit(req.full_url)
        new = urllib.parse.urlsplit(newurl)
        if (new.scheme, new.hostname, new.port) != (old.scheme, old.hostname, old.port):
            raise urllib.error.HTTPError(
                newurl, code, f"Redirect to another host refused: {newurl}", headers, fp
            )
        # Python drops the body on 301/302/303; 307/308 keep it.
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_SameHostRedirectHandler)


def _record(delivery: WebhookDelivery, *, ok: bool, status: int | None, error: str) -> None:
    delivery.attempts += 1
    delivery.response_status = status
    delivery.last_error = error[:ERROR_MAX_CHARS]
    if ok:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.delivered_at = timezone.now()
    else:
        delivery.status = WebhookDelivery.Status.FAILED
    delivery.save(
        update_fields=["attempts", "response_status", "last_error", "status", "delivered_at"]
    )


def webhook_delivery_send(*, delivery_id: int) -> WebhookDelivery | None:
    """Sign and POST one delivery; record the outcome; raise WebhookDeliveryError on failure.

    Not atomic on purpose: the attempt must be recorded even though the exception that makes
    Celery retry propagates. Returns None when there is nothing (left) to send.
    """
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return None  # the endpoint was deleted, with its deliveries
    if delivery.status == WebhookDelivery.Status.SUCCEEDED:
        return delivery  # a redelivered task (acks_late) must not send twice
    endpoint = delivery.endpoint
    if not endpoint.is_active and delivery.event != TEST_EVENT:
        return delivery
    body = webhook_body(delivery=delivery)
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-CS-Event": delivery.event,
            "X-CS-Delivery": str(delivery.pk),
            "X-CS-Timestamp": timestamp,
            "X-CS-Signature": webhook_signature(
                secret=endpoint.secret, timestamp=timestamp, body=body
            ),
        },
    )
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        detail = exc.read(ERROR_MAX_CHARS).decode(errors="replace") if exc.fp else ""
        error = f"HTTP {exc.code}: {exc.reason}" + (f" — {detail}" if detail else "")
        _record(delivery, ok=False, status=exc.code if exc.code >= 100 else None, error=error)
        raise WebhookDeliveryError(error) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        error = f"{type(exc).__name__}: {reason}"
        _record(delivery, ok=False, status=None, error=error)
        raise WebhookDeliveryError(error) from exc
    if not 200 <= status < 300:
        error = f"HTTP {status}: expected a 2xx answer"
        _record(delivery, ok=False, status=status, error=error)
        raise WebhookDeliveryError(error)
    _record(delivery, ok=True, status=status, error="")
    return delivery


# Reads for the settings pages.


def webhook_endpoints_with_stats() -> QuerySet[WebhookEndpoint]:
    recent = WebhookDelivery.objects.order_by("-created_at", "-id")[:RECENT_DELIVERIES]
    return (
        WebhookEndpoint.objects.select_related("created_by")
        .annotate(
            deliveries_total=Count("deliveries"),
            deliveries_succeeded=Count(
                "deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.SUCCEEDED)
            ),
            deliveries_failed=Count(
                "deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.FAILED)
            ),
            last_delivery_at=Max("deliveries__created_at"),
        )
        .prefetch_related(Prefetch("deliveries", queryset=recent, to_attr="recent_deliveries"))
        .order_by("-created_at", "-id")
    )


def webhook_deliveries(
    *, endpoint: WebhookEndpoint | None = None, status: str = ""
) -> QuerySet[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.select_related("endpoint").order_by("-created_at", "-id")
    if endpoint is not None:
        deliveries = deliveries.filter(endpoint=endpoint)
    if status in WebhookDelivery.Status.values:
        deliveries = deliveries.filter(status=status)
    return deliveries
