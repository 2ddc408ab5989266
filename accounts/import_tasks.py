"""Celery entry point for CSV imports started from the upload page.

Registered by importing it from accounts/tasks.py (Celery autodiscovery reads tasks.py).
"""

from __future__ import annotations

from celery import shared_task

from accounts.selectors.access import local_today
from accounts.services.imports import import_job_run


# acks_late: a worker killed mid-import redelivers the message, and the rerun repeats the
# same upserts (the write is one transaction, so the killed run left nothing behind).
@shared_task(acks_late=True)
def csv_import_run_task(import_job_id: int) -> str:
    """Run one confirmed ImportJob; returns its final status."""
    return import_job_run(job_id=import_job_id, today=local_today()).status
