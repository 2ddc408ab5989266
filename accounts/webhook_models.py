"""Outbound webhooks: endpoints admins register, and one delivery row per event sent to one."""

from __future__ import annotations

from django.db import models

from accounts.models import User


class WebhookEvent(models.TextChoices):
    HEALTH_BAND_CHANGED = "health.band_changed", "Health band changed"
    DETRACTOR_RECEIVED = "feedback.detractor_received", "Detractor received"
    STAGE_CHANGED = "journey.stage_changed", "Journey stage changed"
    RENEWAL_AT_RISK = "renewal.at_risk", "Renewal at risk"
    TASK_CREATED = "task.created", "Task created"


# Sent only by the "Send test event" button, whatever the endpoint subscribes to.
TEST_EVENT = "webhook.test"


class WebhookEndpoint(models.Model):
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "accounts"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url

    @property
    def event_labels(self) -> list[str]:
        labels = dict(WebhookEvent.choices)
        return [labels.get(event, event) for event in self.events]


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # What the delivery announces, for events that a nightly producer finds again on every
    # run ("health.band_changed:2026-03-01:42", "renewal.at_risk:2026-05-31:42"): the
    # constraint below lets each endpoint hear of it once. Empty for one-off events.
    dedupe_key = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        app_label = "accounts"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="webhook_delivery_once_per_key",
            ),
        ]
        indexes = [
            # The endpoint page: its deliveries, newest first.
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint_idx"),
            # The deliveries log filtered by status.
            models.Index(fields=["status", "-created_at"], name="webhook_delivery_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"
