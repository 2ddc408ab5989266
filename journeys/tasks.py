from __future__ import annotations

import datetime as dt

from celery import shared_task

from accounts.jobs import PLAYBOOKS, job_execute
from accounts.selectors.access import local_today
from journeys.playbooks import playbooks_run


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
