"""Run bookkeeping and mutual exclusion for periodic jobs.

Every nightly and monthly job runs inside `job_run(...)`: it records a JobRun row and holds a
PostgreSQL session advisory lock keyed by the job's name, so two beats, a redelivered message
and a manual command never run the same job at once. The lock lives on the connection, so a
worker killed mid-run releases it when its connection drops.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django.utils import timezone

from accounts.job_models import JobRun

# Advisory-lock keys share one 64-bit space with anything else using advisory locks on the
# database; this namespace (the first argument of the two-int form) keeps ours apart.
LOCK_NAMESPACE = 0x43530001 - (1 << 32)  # a signed int4


class JobAlreadyRunning(Exception):
    """Another process holds the job's lock; the caller's run was recorded as skipped."""


def job_lock_key(job: str) -> int:
    """A stable signed int4 for the job's name (crc32 is stable across processes, hash() is not)."""
    return zlib.crc32(job.encode()) - (1 << 31)


def _try_lock(job: str) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: the single-process demo has nothing to exclude.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, job_lock_key(job)])
        return bool(cursor.fetchone()[0])


def _unlock(job: str) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, job_lock_key(job)])


@contextmanager
def job_run(job: str, period: str = "") -> Iterator[JobRun]:
    """Record one run of `job` for `period` and hold its lock while the body runs.

    The body may set `run.rows`. Raises JobAlreadyRunning (after recording a skipped run) when
    another run holds the lock; records the error and re-raises when the body fails.
    """
    if not _try_lock(job):
        JobRun.objects.create(
            job=job, period=period, status=JobRun.Status.SKIPPED, finished_at=timezone.now()
        )
        raise JobAlreadyRunning(job)
    try:
        run = JobRun.objects.create(job=job, period=period)
        try:
            yield run
        except BaseException as error:
            run.status = JobRun.Status.FAILED
            run.error = f"{type(error).__name__}: {error}"[:2000]
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "error", "finished_at"])
            raise
        run.status = JobRun.Status.SUCCEEDED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "rows", "finished_at"])
    finally:
        _unlock(job)
