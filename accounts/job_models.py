"""JobRun: one run of a nightly or monthly job, for the operations view and freshness warnings.

Kept in its own module; accounts/models.py imports it at the bottom so Django registers it
with the accounts app.
"""

from __future__ import annotations

from django.db import models


class JobRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        # Another run of the same job held the lock: this one did nothing.
        SKIPPED = "skipped", "Skipped (already running)"

    job = models.CharField(max_length=64)
    # The period the run covers: a day (2026-11-25) or a month (2026-10); blank when none.
    period = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Set when the run's work continues in other tasks after the one that started it
    # returned (the health chord): until then the run counts as in flight and a new run of
    # the job is skipped; past it, the run is presumed lost (its messages or worker gone).
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # "Last successful run of each job" and "today's run" on the health page; a run in
            # flight or lost (status running) when a job starts.
            models.Index(fields=["job", "status", "-started_at"], name="job_run_job_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.job} {self.period}: {self.status}"
