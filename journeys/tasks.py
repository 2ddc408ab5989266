from __future__ import annotations

import datetime as dt

from celery import shared_task

from accounts.selectors.access import local_today
from journeys.playbooks import playbooks_run


@shared_task(acks_late=True)
def playbooks_run_task(today_iso: str | None = None, account_ids: list[int] | None = None) -> int:
    """Evaluate playbooks: nightly for every account, or right after an event for a few."""
    today = dt.date.fromisoformat(today_iso) if today_iso else local_today()
    return playbooks_run(today=today, account_ids=account_ids)
