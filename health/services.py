"""Writes of the health app: running the recompute, overrides, scorecard versions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from health.models import HealthRun
from health.recompute import (
    account_health_refresh,
    health_alerts_raise,
    health_scores_recompute_chunks,
    scorecard_plan_load,
)


def health_run_start(*, day: dt.date) -> HealthRun:
    return HealthRun.objects.create(day=day)


def health_run_finish(*, run_id: int, day: dt.date) -> HealthRun:
    """The last step of a run: accounts' current score, alerts, and the run's record."""
    from health.models import HealthScore

    with transaction.atomic():
        account_health_refresh(day=day)
        alerts = health_alerts_raise(day=day)
        run = HealthRun.objects.select_for_update().get(pk=run_id)
        run.status = HealthRun.Status.SUCCEEDED
        run.accounts_scored = HealthScore.objects.filter(day=day).count()
        run.alerts_raised = alerts
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "accounts_scored", "alerts_raised", "finished_at"])
    return run


def health_run_fail(*, run_id: int, error: str) -> None:
    """Record a run whose chord failed (a chunk out of retries): its finishing step never runs."""
    HealthRun.objects.filter(pk=run_id, status=HealthRun.Status.RUNNING).update(
        status=HealthRun.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def health_scores_recompute(
    *, day: dt.date, progress: Callable[[int], None] | None = None
) -> HealthRun:
    """Recompute every account's health for `day` in this process, chunk by chunk.

    The Celery task fans the same chunks out as a chord; this path serves the command, the
    in-process demo and a single worker. Safe to rerun and to kill: each chunk commits on
    its own and a rerun replaces what is there.
    """
    run = health_run_start(day=day)
    try:
        health_scores_recompute_chunks(day=day, plan=scorecard_plan_load(), progress=progress)
    except Exception as exc:
        HealthRun.objects.filter(pk=run.pk).update(
            status=HealthRun.Status.FAILED, error=repr(exc)[:2000], finished_at=timezone.now()
        )
        raise
    return health_run_finish(run_id=run.pk, day=day)
