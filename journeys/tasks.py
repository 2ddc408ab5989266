from __future__ import annotations

import datetime as dt

from celery import shared_task

from accounts.jobs import JOURNEY_ROLLUPS, PLAYBOOKS, job_execute
from accounts.selectors.access import local_today
from journeys.playbooks import playbooks_run
from journeys.rollups import journey_rollups_recompute


@shared_task(acks_late=True)
def playbooks_run_task(
    today_iso: str | None = None, account_ids: list[int] | None = None
) -> int | None:
    """Evaluate playbooks: nightly for every account, or right after an event for a few.

    The nightly run is the periodic job (recorded, one at a time; None when skipped). A run
    for a few accounts is not: it must not be skipped because the nightly one holds the job,
    and each occurrence is written once whoever gets there first.
    """
    today = dt.date.fromisoformat(today_iso) if today_iso else local_today()
    if account_ids is not None:
        return playbooks_run(today=today, account_ids=account_ids)
    return job_execute(PLAYBOOKS, today.isoformat(), lambda: playbooks_run(today=today))


@shared_task(acks_late=True)
def journey_rollups_recompute_task(today_iso: str | None = None) -> int | None:
    """The journeys page's figures per scope for the day (rows written; None when another run
    holds the job). Idempotent: a rerun replaces every row."""
    today = dt.date.fromisoformat(today_iso) if today_iso else local_today()
    return job_execute(
        JOURNEY_ROLLUPS, today.isoformat(), lambda: journey_rollups_recompute(today=today)
    )
