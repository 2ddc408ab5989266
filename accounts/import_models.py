"""ImportJob: one CSV upload from the /imports/ page, from preview to result.

Kept in its own module so the import feature is reviewable in one place; accounts/models.py
imports it at the bottom so Django registers it with the accounts app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from cs_platform.models import TimeStampedModel


class ImportJob(TimeStampedModel):
    class Kind(models.TextChoices):
        ACCOUNTS = "accounts", "Accounts"
        CONTACTS = "contacts", "Contacts"
        CONTRACTS = "contracts", "Contracts"

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting confirmation"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The record of who imported what stays when that person leaves.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="import_jobs",
    )
    file_name = models.CharField(max_length=255)
    # The file's text, so a worker on another machine needs no shared file storage. Uploads
    # are capped at IMPORT_MAX_BYTES, and the text is cleared once the job has finished.
    content = models.TextField(blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    # Planned at preview, then replaced by what the run actually wrote.
    rows_new = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    # The first rows as they will be written: [{"line", "action", "values": {column: text}}].
    preview = models.JSONField(default=list, blank=True)
    # Every bad row: [{"line", "column", "message"}].
    errors = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["accounts", "contacts", "contracts"]),
                name="import_job_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "queued", "running", "succeeded", "failed"]),
                name="import_job_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(rows_done__lte=models.F("rows_total")),
                name="import_job_done_within_total",
            ),
        ]
        indexes = [
            # "Recent imports" on the upload page, newest first.
            models.Index(fields=["-created_at"], name="import_job_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import of {self.file_name} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("accounts:import_detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}

    @property
    def percent_done(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_done * 100 // self.rows_total)
