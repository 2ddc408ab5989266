"""Celery entry points of the monthly report: an ISO month or an id in, one service call.

The worker must import this module: the lead lists it in Celery's imports (autodiscovery
only finds `reports.tasks`).
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from accounts.jobs import MONTHLY_REPORT, JobAlreadyRunning, job_run
from accounts.models import User
from accounts.selectors.access import local_today
from reports.models import MonthlyReport
from reports.monthly import month_key, month_parse, report_month_default
from reports.services_monthly import DeliveryFailed, monthly_report_generate, report_delivery_send

# Only errors a retry can cure: the database or broker briefly unreachable.
TRANSIENT = (OperationalError, ConnectionError, TimeoutError)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=60, retry_backoff_max=900, max_retries=3)
def monthly_report_generate_task(
    month_iso: str | None = None,
    by_id: int | None = None,
    *,
    only_if_missing: bool = False,
    notify: bool = True,
) -> int | None:
    """Generate the report of `month_iso` ("2026-10"; default: the month before today's) and
    return its version.

    The monthly beat entry passes only_if_missing=True, which makes it idempotent: a rerun
    (a redelivered message, beat firing twice) finds the report and neither bumps its version
    nor emails anyone again. Regenerating is the explicit path (the page, the command).
    Not acks_late: a generation half done rolls back, and a lost one is rerun by hand.

    One run of the monthly report job (rows: 1 when a version was generated, 0 when
    only_if_missing found one); None when another generation is in progress, so two
    requests never race for the same version number.
    """
    today = local_today()
    month = month_parse(month_iso) if month_iso else report_month_default(today=today)
    try:
        with job_run(MONTHLY_REPORT.name, month_key(month)) as run:
            if only_if_missing:
                existing = MonthlyReport.objects.filter(month=month).values_list(
                    "version", flat=True
                )
                if existing:
                    run.rows = 0
                    return existing[0]
            by = User.objects.filter(pk=by_id).first() if by_id else None
            version = monthly_report_generate(
                month=month, by=by, today=today, notify=notify
            ).version
            run.rows = 1
    except JobAlreadyRunning:
        return None
    return version


@shared_task(
    acks_late=True,
    autoretry_for=(DeliveryFailed, *TRANSIENT),
    retry_backoff=60,
    retry_backoff_max=3_600,
    retry_jitter=True,
    max_retries=5,
)
def report_delivery_send_task(delivery_id: int) -> str:
    """Email one delivery; a failure is recorded on its row and retried with backoff
    (1, 2, 4, 8, 16 minutes, jittered), six attempts in all. Safe to redeliver: a sent
    delivery is not sent again."""
    return report_delivery_send(delivery_id=delivery_id).status
