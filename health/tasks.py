"""Celery entry points of the health app: ISO dates and ids in, one service call each."""

from __future__ import annotations

import datetime as dt

from celery import chord, shared_task
from django.conf import settings
from django.db import OperationalError

from accounts.selectors.access import local_today
from health.recompute import account_id_chunks, health_scores_recompute_chunk
from health.services import health_run_finish, health_run_start, health_scores_recompute

# Only errors a retry can cure: the database or broker briefly unreachable.
TRANSIENT = (OperationalError, ConnectionError, TimeoutError)


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def health_scores_recompute_chunk_task(day_iso: str, id_from: int, id_to: int) -> int:
    """Idempotent: rerunning a chunk replaces its rows, so redelivery after a kill is safe."""
    return health_scores_recompute_chunk(
        day=dt.date.fromisoformat(day_iso), id_from=id_from, id_to=id_to
    )


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=30, max_retries=5)
def health_run_finish_task(_chunk_results: list[int], run_id: int, day_iso: str) -> int:
    run = health_run_finish(run_id=run_id, day=dt.date.fromisoformat(day_iso))
    return run.accounts_scored


@shared_task
def health_scores_recompute_task(day_iso: str | None = None) -> int | None:
    """Nightly: fan the day's chunks out as a chord; the finishing step records the run.

    Without a broker (the demo) the same work runs in-process.
    """
    day = dt.date.fromisoformat(day_iso) if day_iso else local_today()
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return health_scores_recompute(day=day).accounts_scored
    run = health_run_start(day=day)
    chunks = [
        health_scores_recompute_chunk_task.si(day.isoformat(), id_from, id_to)
        for id_from, id_to in account_id_chunks(day=day)
    ]
    if not chunks:
        return health_run_finish(run_id=run.pk, day=day).accounts_scored
    chord(chunks)(health_run_finish_task.s(run.pk, day.isoformat()))
    return None


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=30, max_retries=5)
def retention_snapshots_recompute_task(today_iso: str | None = None) -> int:
    """Nightly: the monthly retention snapshots (idempotent upserts)."""
    from health.retention import retention_snapshots_recompute

    today = dt.date.fromisoformat(today_iso) if today_iso else local_today()
    return retention_snapshots_recompute(today=today)


# Registered here so Celery's autodiscovery (which imports <app>.tasks) finds them.
from health.tasks_validation import backtest_task, churn_predictions_task  # noqa: E402, F401
