import datetime as dt

from celery import shared_task

from accounts.jobs import ACCOUNT_ROLLUPS, job_execute
from accounts.selectors import local_today
from accounts.services import account_rollups_refresh


@shared_task(acks_late=True)
def account_rollups_refresh_task(today_iso: str | None = None) -> int | None:
    """Nightly: ARR and renewal date of every account from its contracts (idempotent);
    None when another run of the job is in progress."""
    today = dt.date.fromisoformat(today_iso) if today_iso else local_today()
    return job_execute(
        ACCOUNT_ROLLUPS, today.isoformat(), lambda: account_rollups_refresh(today=today)
    )


# Registered here so Celery's autodiscovery (which imports <app>.tasks) finds it.
from accounts.import_tasks import csv_import_run_task  # noqa: E402, F401
from accounts.webhook_tasks import webhook_delivery_send_task  # noqa: E402, F401
