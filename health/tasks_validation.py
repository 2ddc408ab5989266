"""Celery entry points of score validation: ISO dates and ids in, one service call each."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import OperationalError

from accounts.jobs import CHURN_RISK, HEALTH_BACKTEST, job_execute
from accounts.models import Segment
from accounts.selectors.access import local_today
from health.churn_risk import churn_predictions_compute
from health.services_validation import backtest_run

# Only errors a retry can cure: the database or broker briefly unreachable.
TRANSIENT = (OperationalError, ConnectionError, TimeoutError)


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def churn_predictions_task(today_iso: str | None = None) -> int | None:
    """Nightly: every live account's churn risk for the day. Idempotent (keyed upsert), so
    redelivery after a killed worker just rewrites the same rows. None when skipped."""
    today = dt.date.fromisoformat(today_iso) if today_iso else local_today()
    return job_execute(
        CHURN_RISK, today.isoformat(), lambda: churn_predictions_compute(today=today)
    )


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=30, max_retries=3)
def backtest_task(horizon_days: int, segment_id: int | None = None) -> int | None:
    """Backtest the stored scores over a horizon; returns the stored backtest's id.

    A rerun stores another backtest (the page shows the latest), so redelivery is harmless.
    A segment deleted meanwhile backtests nothing. A whole-portfolio backtest (the weekly
    job, or the same asked from the page) is one run of the backtest job: None when another
    is in progress. A segment's is a one-off and is not recorded.
    """
    if segment_id is not None:
        segment = Segment.objects.filter(pk=segment_id).first()
        if segment is None:
            return 0
        return backtest_run(horizon_days=horizon_days, segment=segment).pk
    stored: list[int] = []

    def body() -> int:
        backtest = backtest_run(horizon_days=horizon_days, segment=None)
        stored.append(backtest.pk)
        return backtest.data["observations"]

    if job_execute(HEALTH_BACKTEST, local_today().isoformat(), body) is None:
        return None
    return stored[0]
