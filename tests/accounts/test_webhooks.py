"""Outbound webhooks: signed deliveries to a real receiver on 127.0.0.1, retries, and the
admin-only settings pages."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.urls import include, path, reverse

from accounts.services.webhooks import (
    WebhookDeliveryError,
    webhook_delivery_send,
    webhook_endpoint_create,
    webhook_event_emit,
)
from accounts.webhook_models import TEST_EVENT, WebhookDelivery, WebhookEndpoint, WebhookEvent
from accounts.webhook_tasks import webhook_delivery_send_task
from cs_platform.urls import urlpatterns as project_urlpatterns

# The lead wires this include into cs_platform.urls; until then the tests mount it themselves.
urlpatterns = [
    path("settings/webhooks/", include("accounts.urls_webhooks")),
    *project_urlpatterns,
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

TASK_CREATED = WebhookEvent.TASK_CREATED.value
BAND_CHANGED = WebhookEvent.HEALTH_BAND_CHANGED.value


@dataclass
class Receiver:
    url: str
    answer: int = 200
    location: str = ""
    requests: list[tuple[str, Message, bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 that records each request and answers `answer`."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            # The Message keeps lookups case-insensitive, as HTTP header names are.
            state.requests.append((self.path, self.headers, body))
            self.send_response(state.answer)
            if state.location:
                self.send_header("Location", state.location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"no" if state.answer >= 300 else b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _task_runs_inline():
    """Tests run without a broker: `delay` runs the task body in-process instead."""
    return mock.patch.object(
        webhook_delivery_send_task,
        "delay",
        side_effect=lambda delivery_id: webhook_delivery_send_task.apply(
            args=[delivery_id], throw=True
        ),
    )


def _endpoint(receiver: Receiver, admin, events: list[str], *, active: bool = True):
    return webhook_endpoint_create(
        url=receiver.url, events=events, created_by=admin, is_active=active
    )


def test_a_delivery_is_signed_with_the_endpoints_secret_over_timestamp_and_exact_body(
    receiver, admin_user
):
    endpoint = _endpoint(receiver, admin_user, [TASK_CREATED])
    [delivery] = webhook_event_emit(event=TASK_CREATED, payload={"task_id": 7, "title": "Call"})

    webhook_delivery_send(delivery_id=delivery.pk)

    [(request_path, headers, body)] = receiver.requests
    assert request_path == "/hooks"
    assert headers["X-CS-Event"] == "task.created"
    assert headers["X-CS-Delivery"] == str(delivery.pk)
    timestamp = headers["X-CS-Timestamp"]
    expected = hmac.new(
        endpoint.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-CS-Signature"] == f"sha256={expected}"
    # A different secret, or the body without the timestamp, does not verify.
    wrong = hmac.new(b"other", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-CS-Signature"] != f"sha256={wrong}"
    document = json.loads(body)
    assert document["id"] == delivery.pk
    assert document["event"] == "task.created"
    assert document["data"] == {"task_id": 7, "title": "Call"}
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.attempts == 1
    assert delivery.response_status == 200
    assert delivery.last_error == ""
    assert delivery.delivered_at is not None


def test_the_secret_is_32_random_bytes_url_safe_and_differs_per_endpoint(receiver, admin_user):
    first = _endpoint(receiver, admin_user, [TASK_CREATED])
    second = _endpoint(receiver, admin_user, [TASK_CREATED])
    assert len(first.secret) == 43  # token_urlsafe(32): 32 bytes in unpadded base64
    assert first.secret != second.secret


def test_only_active_endpoints_subscribed_to_the_event_receive_it(
    receiver, admin_user, django_capture_on_commit_callbacks
):
    subscribed = _endpoint(receiver, admin_user, [TASK_CREATED, BAND_CHANGED])
    _endpoint(receiver, admin_user, [BAND_CHANGED])
    _endpoint(receiver, admin_user, [TASK_CREATED], active=False)

    with _task_runs_inline(), django_capture_on_commit_callbacks(execute=True):
        deliveries = webhook_event_emit(event=TASK_CREATED, payload={"task_id": 1})

    assert [d.endpoint_id for d in deliveries] == [subscribed.pk]
    assert WebhookDelivery.objects.count() == 1
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.SUCCEEDED


def test_an_event_nobody_subscribes_to_creates_no_delivery(receiver, admin_user):
    _endpoint(receiver, admin_user, [BAND_CHANGED])
    assert webhook_event_emit(event=TASK_CREATED, payload={}) == []
    assert WebhookDelivery.objects.count() == 0


def test_emitting_an_unknown_event_is_a_programming_error(admin_user):
    with pytest.raises(ValueError, match="Unknown webhook event"):
        webhook_event_emit(event="task.exploded", payload={})


def test_emitting_enqueues_the_send_only_on_commit(
    receiver, admin_user, django_capture_on_commit_callbacks
):
    _endpoint(receiver, admin_user, [TASK_CREATED])
    with mock.patch.object(webhook_delivery_send_task, "delay") as delay:
        with django_capture_on_commit_callbacks() as callbacks:
            [delivery] = webhook_event_emit(event=TASK_CREATED, payload={"task_id": 3})
            assert delay.call_count == 0
        assert len(callbacks) == 1
        assert delay.call_count == 0  # captured, not yet run: nothing sent before commit
        callbacks[0]()
    delay.assert_called_once_with(delivery.pk)
    assert receiver.requests == []


def test_a_receiver_answering_500_fails_the_attempt_and_a_later_attempt_can_succeed(
    receiver, admin_user
):
    _endpoint(receiver, admin_user, [TASK_CREATED])
    [delivery] = webhook_event_emit(event=TASK_CREATED, payload={"task_id": 9})
    receiver.answer = 500

    for attempt in (1, 2):
        with pytest.raises(WebhookDeliveryError, match="HTTP 500"):
            webhook_delivery_send(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        assert delivery.status == WebhookDelivery.Status.FAILED
        assert delivery.attempts == attempt
        assert delivery.response_status == 500
        assert delivery.last_error.startswith("HTTP 500")
        assert delivery.delivered_at is None

    receiver.answer = 204
    webhook_delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 3, 204)
    assert delivery.last_error == ""
    # Every attempt carried the same delivery id, so the receiver can dedupe.
    assert {headers["X-CS-Delivery"] for _, headers, _ in receiver.requests} == {str(delivery.pk)}
    assert len(receiver.requests) == 3

    # A redelivered task for a succeeded delivery sends nothing more.
    webhook_delivery_send(delivery_id=delivery.pk)
    assert len(receiver.requests) == 3


def test_a_failed_send_makes_the_task_retry_with_exponential_backoff(receiver, admin_user):
    assert WebhookDeliveryError in webhook_delivery_send_task.autoretry_for
    assert webhook_delivery_send_task.retry_backoff is True
    assert webhook_delivery_send_task.max_retries == 6

    _endpoint(receiver, admin_user, [TASK_CREATED])
    [delivery] = webhook_event_emit(event=TASK_CREATED, payload={})
    receiver.answer = 503
    # Run in-process, the task raises Retry instead of re-queueing on the broker.
    with pytest.raises(Retry) as retry:
        webhook_delivery_send_task.apply(args=[delivery.pk], throw=True)
    # Backoff for the first retry: 2**0 s, jittered down, never above it.
    assert 0 <= retry.value.when <= 1
    assert isinstance(retry.value.exc, WebhookDeliveryError)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, 503)
    assert len(receiver.requests) == 1


def test_an_unreachable_receiver_is_recorded_as_a_failed_attempt(admin_user):
    endpoint = webhook_endpoint_create(
        url="http://127.0.0.1:9/hooks", events=[TASK_CREATED], created_by=admin_user
    )
    [delivery] = webhook_event_emit(event=TASK_CREATED, payload={})
    with pytest.raises(WebhookDeliveryError):
        webhook_delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.endpoint_id == endpoint.pk
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, None)
    assert "URLError" in delivery.last_error or "Error" in delivery.last_error


def test_a_redirect_to_another_host_is_refused_and_not_followed(receiver, admin_user):
    _endpoint(receiver, admin_user, [TASK_CREATED])
    [delivery] = webhook_event_emit(event=TASK_CREATED, payload={})
    receiver.answer = 307
    receiver.location = "http://elsewhere.invalid/steal"
    with pytest.raises(WebhookDeliveryError):
        webhook_delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "another host" in delivery.last_error
    assert len(receiver.requests) == 1


# The settings pages.

PAGES_GET = ["webhooks:list", "webhooks:create", "webhooks:deliveries"]
PAGES_ENDPOINT_GET = ["webhooks:detail", "webhooks:edit", "webhooks:delete"]
PAGES_ENDPOINT_POST = ["webhooks:test", "webhooks:rotate", "webhooks:delete", "webhooks:edit"]


@pytest.mark.parametrize("persona", ["owner", "manager", "executive"])
def test_non_admins_get_403_on_every_webhook_page_and_change_nothing(
    persona, request, client_for, admin_user, receiver
):
    endpoint = _endpoint(receiver, admin_user, [TASK_CREATED])
    secret = endpoint.secret
    client = client_for(request.getfixturevalue(persona))
    for name in PAGES_GET:
        assert client.get(reverse(name)).status_code == 403, name
    for name in PAGES_ENDPOINT_GET:
        assert client.get(reverse(name, args=[endpoint.pk])).status_code == 403, name
    for name in PAGES_ENDPOINT_POST:
        response = client.post(reverse(name, args=[endpoint.pk]), {"url": "http://x.example"})
        assert response.status_code == 403, name
    response = client.post(
        reverse("webhooks:create"), {"url": "https://evil.example", "events": [TASK_CREATED]}
    )
    assert response.status_code == 403
    assert WebhookEndpoint.objects.count() == 1
    endpoint.refresh_from_db()
    assert endpoint.secret == secret
    assert WebhookDelivery.objects.count() == 0


def test_an_admin_adds_an_endpoint_and_sees_its_secret(client_for, admin_user):
    client = client_for(admin_user)
    response = client.post(
        reverse("webhooks:create"),
        {
            "url": "https://hooks.example.com/cs",
            "events": [TASK_CREATED, BAND_CHANGED],
            "is_active": "on",
        },
    )
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("webhooks:detail", args=[endpoint.pk])
    assert endpoint.url == "https://hooks.example.com/cs"
    assert endpoint.events == ["health.band_changed", "task.created"]
    assert endpoint.is_active is True
    assert endpoint.created_by == admin_user

    page = client.get(reverse("webhooks:detail", args=[endpoint.pk]))
    assert page.status_code == 200
    assert page["Cache-Control"] == "no-store"
    assert endpoint.secret in page.content.decode()


def test_bad_input_shows_messages_beside_the_fields_and_creates_nothing(client_for, admin_user):
    client = client_for(admin_user)
    response = client.post(reverse("webhooks:create"), {"url": "ftp://files.example", "events": []})
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["url"] == ["Enter an http:// or https:// address."]
    assert form.errors["events"] == ["This field is required."]
    assert b'data-error-for="events"' in response.content
    assert WebhookEndpoint.objects.count() == 0


def test_an_admin_edits_pauses_and_deletes_an_endpoint(client_for, admin_user, receiver):
    endpoint = _endpoint(receiver, admin_user, [TASK_CREATED])
    client = client_for(admin_user)
    response = client.post(
        reverse("webhooks:edit", args=[endpoint.pk]),
        {"url": "https://new.example.com/h", "events": [BAND_CHANGED]},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.is_active) == (
        "https://new.example.com/h",
        ["health.band_changed"],
        False,
    )
    # Paused: no delivery even for a subscribed event.
    assert webhook_event_emit(event=BAND_CHANGED, payload={}) == []

    assert client.get(reverse("webhooks:delete", args=[endpoint.pk])).status_code == 200
    response = client.post(reverse("webhooks:delete", args=[endpoint.pk]))
    assert response["Location"] == reverse("webhooks:list")
    assert WebhookEndpoint.objects.count() == 0


def test_send_test_event_queues_a_test_delivery_sent_on_commit(
    client_for, admin_user, receiver, django_capture_on_commit_callbacks
):
    endpoint = _endpoint(receiver, admin_user, [BAND_CHANGED])
    client = client_for(admin_user)
    with _task_runs_inline(), django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("webhooks:test", args=[endpoint.pk]))
    assert response.status_code == 302
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == TEST_EVENT
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    [(_, headers, _)] = receiver.requests
    assert headers["X-CS-Event"] == "webhook.test"


def test_the_list_shows_each_endpoints_delivery_stats_in_fixed_queries(
    client_for, admin_user, receiver, django_assert_max_num_queries
):
    busy = _endpoint(receiver, admin_user, [TASK_CREATED])
    quiet = _endpoint(receiver, admin_user, [BAND_CHANGED])
    statuses = ["succeeded", "succeeded", "failed", "pending"]
    WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(endpoint=busy, event=TASK_CREATED, status=s) for s in statuses]
    )
    client = client_for(admin_user)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("webhooks:list"))
    assert response.status_code == 200
    rows = {endpoint.pk: endpoint for endpoint in response.context["page_obj"].object_list}
    assert (rows[busy.pk].deliveries_succeeded, rows[busy.pk].deliveries_failed) == (2, 1)
    assert rows[busy.pk].deliveries_total == 4
    assert len(rows[busy.pk].recent_deliveries) == 4
    assert (rows[quiet.pk].deliveries_total, rows[quiet.pk].recent_deliveries) == (0, [])


def test_the_deliveries_log_filters_by_status_and_shows_attempts_and_errors(
    client_for, admin_user, receiver
):
    endpoint = _endpoint(receiver, admin_user, [TASK_CREATED])
    WebhookDelivery.objects.create(
        endpoint=endpoint, event=TASK_CREATED, status="succeeded", attempts=1, response_status=200
    )
    failed = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event=TASK_CREATED,
        status="failed",
        attempts=4,
        response_status=502,
        last_error="HTTP 502: Bad Gateway",
    )
    client = client_for(admin_user)
    response = client.get(reverse("webhooks:deliveries"), {"status": "failed"})
    assert [d.pk for d in response.context["page_obj"].object_list] == [failed.pk]
    html = response.content.decode()
    assert "HTTP 502: Bad Gateway" in html
    assert f'data-delivery="{failed.pk}"' in html

    empty = client.get(reverse("webhooks:list"))
    assert empty.status_code == 200
    WebhookEndpoint.objects.all().delete()
    assert "No webhook endpoints yet" in client.get(reverse("webhooks:list")).content.decode()


def test_the_endpoint_page_logs_its_deliveries_and_the_edit_form_is_prefilled(
    client_for, admin_user, receiver, django_assert_max_num_queries
):
    endpoint = _endpoint(receiver, admin_user, [TASK_CREATED])
    other = _endpoint(receiver, admin_user, [TASK_CREATED])
    mine = WebhookDelivery.objects.create(
        endpoint=endpoint, event=TASK_CREATED, status="failed", attempts=3, last_error="timed out"
    )
    WebhookDelivery.objects.create(endpoint=other, event=TASK_CREATED)
    client = client_for(admin_user)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("webhooks:detail", args=[endpoint.pk]))
    assert [d.pk for d in page.context["page_obj"].object_list] == [mine.pk]
    html = page.content.decode()
    assert "timed out" in html
    assert "X-CS-Signature" in html

    form = client.get(reverse("webhooks:edit", args=[endpoint.pk])).context["form"]
    assert form["url"].value() == receiver.url
    assert form["events"].value() == ["task.created"]

    old_secret = endpoint.secret
    client.post(reverse("webhooks:rotate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret
    assert len(endpoint.secret) == 43


def test_the_apps_emit_their_events_to_subscribed_endpoints(
    owner, account, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    from accounts.services.tasks import task_create
    from accounts.webhook_models import WebhookDelivery, WebhookEndpoint, WebhookEvent
    from feedback.services import answer_record
    from journeys.models import Stage
    from journeys.services import journey_move, journey_start
    from tests.factories import SurveyFactory

    WebhookEndpoint.objects.create(
        url="http://127.0.0.1:9/hook",
        events=[
            WebhookEvent.TASK_CREATED,
            WebhookEvent.STAGE_CHANGED,
            WebhookEvent.DETRACTOR_RECEIVED,
        ],
        secret="s3cret",
    )
    with django_capture_on_commit_callbacks(execute=False):
        task_create(
            account=account,
            owner=owner,
            title="Call Acme",
            due_date=timezone.localdate() + dt.timedelta(days=2),
        )
        journey_start(account=account, stage=Stage.objects.get(slug="onboarding"), by=owner)
        journey_move(
            account=account, to_stage=Stage.objects.get(slug="activation"), by=owner, reason="Live"
        )
        answer_record(survey=SurveyFactory(kind="nps"), account=account, contact=None, score=2)

    events = sorted(WebhookDelivery.objects.values_list("event", flat=True))
    assert events.count(WebhookEvent.TASK_CREATED) >= 1
    assert events.count(WebhookEvent.STAGE_CHANGED) == 1
    assert events.count(WebhookEvent.DETRACTOR_RECEIVED) == 1
    moved = WebhookDelivery.objects.get(event=WebhookEvent.STAGE_CHANGED)
    assert (moved.payload["from_stage"], moved.payload["to_stage"]) == ("onboarding", "activation")
