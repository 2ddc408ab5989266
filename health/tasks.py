"""Celery entry points of the health app: ISO dates and ids in, one service call each."""

from __future__ import annotations

import datetime as dt
import logging
import time

from celery import chord, shared_task
from celery.app.task import Context
from django.conf import settings
from django.db import OperationalError

from accounts.jobs import (
    HEALTH_SCORES,
    RETENTION_SNAPSHOTS,
    JobAlreadyRunning,
    job_execute,
    job_run,
    job_run_fail,
    job_run_hand_off,
)
from accounts.selectors.access import local_today
from health import recompute
from health.recompute import account_id_chunks, health_scores_recompute_chunk
from health.services import (
    health_run_fail,
    health_run_finish,
    health_run_start,
    health_scores_recompute,
)

logger = logging.getLogger(__name__)

# Only errors a retry can cure: the database or broker briefly unreachable.
TRANSIENT = (OperationalError, ConnectionError, TimeoutError)


# How long a handed-off health run counts as in flight: well past a night's chord, and short
# enough that a chord whose messages were lost does not block the next night's run.
HEALTH_RUN_LEASE = dt.timedelta(hours=6)
# The finishing step may find the lock briefly held by a starter checking the lease.
FINISH_LOCK_WAIT_SECONDS = 30.0

# How one nightly recompute holds together across the chord's tasks:
# - The starter takes the job's lock, refuses to start while another run's lease is live,
#   records the JobRun and the HealthRun, hands the JobRun off with a lease, releases the
#   lock, then sends the chord. A second starter (beat twice, a redelivery, the command) in
#   the meantime sees the lease and is recorded as skipped.
# - The chunks take no lock: each is idempotent (it replaces its accounts' rows for the day
#   in one transaction), so a chunk redelivered after its worker was killed, even after it
#   had committed, rewrites the same rows. Redis redelivers only past the visibility
#   timeout, which outlasts the hard time limit, so a chunk never runs twice at once.
# - The finisher resumes the same JobRun under the lock, so it never overlaps an in-process
#   run of the job; redelivered, it repeats the same idempotent finishing step.
# - A chunk out of retries fails the chord: the errback records both runs as failed. A run
#   whose messages vanished stays "running" until its lease ends; the next run settles it.


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def health_scores_recompute_chunk_task(day_iso: str, id_from: int, id_to: int) -> int:
    """Idempotent: rerunning a chunk replaces its rows, so redelivery after a kill is safe."""
    written = health_scores_recompute_chunk(
        day=dt.date.fromisoformat(day_iso), id_from=id_from, id_to=id_to
    )
    if settings.FAULT_INJECTION_HEALTH_CHUNK_DELAY_MS:
        time.sleep(settings.FAULT_INJECTION_HEALTH_CHUNK_DELAY_MS / 1000)
    return written


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=30, max_retries=5)
def health_run_finish_task(
    _chunk_results: list[int], run_id: int, day_iso: str, job_run_id: int | None = None
) -> int | None:
    """The chord's last step: accounts' current score, alerts, and both runs' records."""
    try:
        with job_run(
            HEALTH_SCORES.name, day_iso, resume=job_run_id, wait=FINISH_LOCK_WAIT_SECONDS
        ) as job:
            job.rows = health_run_finish(
                run_id=run_id, day=dt.date.fromisoformat(day_iso)
            ).accounts_scored
    except JobAlreadyRunning:
        return None
    return job.rows


@shared_task
def health_run_fail_task(
    request: Context, exc: BaseException, traceback: object, run_id: int, job_run_id: int
) -> None:
    """The chord's errback: a chunk failed for good, so the finishing step will not run."""
    error = f"Chunk {request.id} failed: {type(exc).__name__}: {exc}"
    logger.error("Health run %s: %s", run_id, error)
    health_run_fail(run_id=run_id, error=error)
    job_run_fail(run_id=job_run_id, error=error)


@shared_task
def health_scores_recompute_task(
    day_iso: str | None = None, chunk_size: int | None = None
) -> int | None:
    """Nightly: fan the day's chunks out as a chord; the finishing step records the run.

    `chunk_size` accounts per chunk (default recompute.CHUNK_SIZE): finer chunks spread one
    night over more workers.
    Without a broker (the demo) the same work runs in-process. Returns None when the chord
    was sent or another run of the job is in progress (recorded as skipped).
    """
    day = dt.date.fromisoformat(day_iso) if day_iso else local_today()
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return job_execute(
            HEALTH_SCORES, day.isoformat(), lambda: health_scores_recompute(day=day).accounts_scored
        )
    try:
        with job_run(HEALTH_SCORES.name, day.isoformat()) as job:
            run = health_run_start(day=day)
            chunks = [
                health_scores_recompute_chunk_task.si(day.isoformat(), id_from, id_to)
                for id_from, id_to in account_id_chunks(
                    day=day, chunk_size=chunk_size or recompute.CHUNK_SIZE
                )
            ]
            if not chunks:
                job.rows = health_run_finish(run_id=run.pk, day=day).accounts_scored
                return job.rows
            job_run_hand_off(job, lease=HEALTH_RUN_LEASE)
    except JobAlreadyRunning:
        return None
    # Sent after the lock is released, so the finisher does not find it still held; the
    # lease keeps other runs out meanwhile.
    finish = health_run_finish_task.s(run.pk, day.isoformat(), job.pk)
    chord(chunks)(finish.on_error(health_run_fail_task.s(run.pk, job.pk)))
    return None


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=30, max_retries=5)
def retention_snapshots_recompute_task(today_iso: str | None = None) -> int | None:
    """Nightly: the monthly retention snapshots (idempotent upserts); None when skipped."""
    from health.retention import retention_snapshots_recompute

    today = dt.date.fromisoformat(today_iso) if today_iso else local_today()
    return job_execute(
        RETENTION_SNAPSHOTS, today.isoformat(), lambda: retention_snapshots_recompute(today=today)
    )


# Registered here so Celery's autodiscovery (which imports <app>.tasks) finds them.
from health.tasks_validation import backtest_task, churn_predictions_task  # noqa: E402, F401
