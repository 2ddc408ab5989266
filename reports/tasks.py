"""Celery entry points of the reports app's dashboards: ISO dates in, one service call."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import OperationalError

from accounts.jobs import METRIC_SNAPSHOTS, job_execute
from accounts.selectors.access import local_today
from reports.snapshots import metric_snapshots_recompute

# Only errors a retry can cure: the database or broker briefly unreachable.
TRANSIENT = (OperationalError, ConnectionError, TimeoutError)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=30, max_retries=5)
def metric_snapshots_recompute_task(today_iso: str | None = None) -> int | None:
    """Nightly: the dashboards' metric snapshots (idempotent upserts in one transaction, so
    a redelivered or killed run leaves either the old rows or the new ones); None when
    another run of the job is in progress."""
    today = dt.date.fromisoformat(today_iso) if today_iso else local_today()
    return job_execute(
        METRIC_SNAPSHOTS, today.isoformat(), lambda: metric_snapshots_recompute(today=today)
    )


# Registered here so Celery's autodiscovery (which imports <app>.tasks) finds them.
from reports.tasks_monthly import (  # noqa: E402, F401
    monthly_report_generate_task,
    report_delivery_send_task,
)
