"""Run bookkeeping and mutual exclusion for periodic jobs.

Every nightly and monthly job runs inside `job_run(...)`: it records a JobRun row and holds a
PostgreSQL session advisory lock keyed by the job's name, so two beats, a redelivered message
and a manual command never run the same job at once. The lock lives on the connection, so a
worker killed mid-run releases it when its connection drops.

A job whose work continues in other tasks after its starter returns (the health chord) cannot
keep a session lock across processes: the starter hands the run off with a lease instead
(`job_run_hand_off`), and the step that finishes it resumes the same row under the lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from accounts.job_models import JobRun

logger = logging.getLogger(__name__)

# Advisory-lock keys share one 64-bit space with anything else using advisory locks on the
# database; this namespace (the first argument of the two-int form) keeps ours apart.
LOCK_NAMESPACE = 0x43530001  # fits a signed int4, as the two-argument form requires
# How often a caller willing to wait for the lock tries again.
LOCK_POLL_SECONDS = 0.25


class Cadence:
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True)
class Job:
    name: str
    label: str
    cadence: str


# Every periodic job of cs_platform/beat_schedule.py, by the name its runs are recorded
# under. Names only: the jobs themselves live in their apps' tasks and commands.
ACCOUNT_ROLLUPS = Job("account_rollups", "Account rollups (ARR, renewal date)", Cadence.DAILY)
HEALTH_SCORES = Job("health_scores", "Health scores", Cadence.DAILY)
RETENTION_SNAPSHOTS = Job("retention_snapshots", "Retention snapshots", Cadence.DAILY)
METRIC_SNAPSHOTS = Job("metric_snapshots", "Dashboard metric snapshots", Cadence.DAILY)
PLAYBOOKS = Job("playbooks", "Playbooks", Cadence.DAILY)
JOURNEY_ROLLUPS = Job("journey_rollups", "Journeys page rollups", Cadence.DAILY)
HEALTH_BACKTEST = Job("health_backtest", "Score backtest", Cadence.WEEKLY)
CHURN_RISK = Job("churn_risk", "Churn risk", Cadence.DAILY)
MONTHLY_REPORT = Job("monthly_report", "Monthly report", Cadence.MONTHLY)
HEALTH_WEBHOOK_EVENTS = Job(
    "health_webhook_events", "Webhooks: band changes, renewals at risk", Cadence.DAILY
)
JOBS = (
    ACCOUNT_ROLLUPS,
    HEALTH_SCORES,
    RETENTION_SNAPSHOTS,
    METRIC_SNAPSHOTS,
    PLAYBOOKS,
    JOURNEY_ROLLUPS,
    HEALTH_BACKTEST,
    CHURN_RISK,
    HEALTH_WEBHOOK_EVENTS,
    MONTHLY_REPORT,
)


class JobAlreadyRunning(Exception):
    """Another process holds the job's lock (or a handed-off run of it is in flight); the
    caller's run was recorded as skipped."""


def job_lock_key(job: str) -> int:
    """A stable signed int4 for the job's name (crc32 is stable across processes, hash() is not)."""
    return zlib.crc32(job.encode()) - (1 << 31)


def _try_lock(job: str) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: the single-process demo has nothing to exclude.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, job_lock_key(job)])
        return bool(cursor.fetchone()[0])


def _lock(job: str, *, wait: float) -> bool:
    deadline = time.monotonic() + wait
    while not _try_lock(job):
        if time.monotonic() >= deadline:
            return False
        time.sleep(LOCK_POLL_SECONDS)
    return True


def _unlock(job: str) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, job_lock_key(job)])


def _skip(job: str, period: str) -> JobAlreadyRunning:
    JobRun.objects.create(
        job=job, period=period, status=JobRun.Status.SKIPPED, finished_at=timezone.now()
    )
    logger.info("Job %s (%s) skipped: another run of it is in progress.", job, period)
    return JobAlreadyRunning(job)


def _start(job: str, period: str, resume: int | None) -> JobRun:
    """Under the lock: the row of this run, after settling runs that died without a word."""
    now = timezone.now()
    running = JobRun.objects.filter(job=job, status=JobRun.Status.RUNNING)
    if resume is None and running.filter(lease_until__gt=now).exists():
        raise _skip(job, period)
    # Holding the lock, no other run can be alive except a leased one: a running row without
    # a live lease belongs to a process that was killed before it could record its end.
    lost = running.filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
    if resume is not None:
        lost = lost.exclude(pk=resume)
    lost.update(
        status=JobRun.Status.FAILED,
        error="Lost: the process running it stopped before it finished.",
        finished_at=now,
    )
    if resume is not None:
        run = JobRun.objects.filter(pk=resume, job=job).first()
        if run is not None:
            return run
    return JobRun.objects.create(job=job, period=period)


@contextmanager
def job_run(
    job: str, period: str = "", *, resume: int | None = None, wait: float = 0.0
) -> Iterator[JobRun]:
    """Record one run of `job` for `period` and hold its lock while the body runs.

    The body may set `run.rows`, or call `job_run_hand_off` when its work continues in other
    tasks. `resume` finishes a handed-off run (its row id) instead of starting a new one.
    `wait` is how many seconds to wait for the lock before giving up.

    Raises JobAlreadyRunning (after recording a skipped run) when another run holds the lock
    or a handed-off run is in flight; records the error and re-raises when the body fails.
    """
    if not _lock(job, wait=wait):
        raise _skip(job, period)
    try:
        run = _start(job, period, resume)
        lease_at_start = run.lease_until
        try:
            yield run
        except BaseException as error:
            run.status = JobRun.Status.FAILED
            run.error = f"{type(error).__name__}: {error}"[:2000]
            run.finished_at = timezone.now()
            run.lease_until = None
            run.save(update_fields=["status", "error", "finished_at", "lease_until"])
            raise
        if run.lease_until is not None and run.lease_until != lease_at_start:
            run.save(update_fields=["lease_until"])  # handed off: another step finishes it
        else:
            run.status = JobRun.Status.SUCCEEDED
            run.finished_at = timezone.now()
            run.lease_until = None
            run.error = ""
            run.save(update_fields=["status", "rows", "finished_at", "lease_until", "error"])
    finally:
        _unlock(job)


def job_run_hand_off(run: JobRun, *, lease: dt.timedelta) -> None:
    """Leave `run` in flight when its job_run block ends: its work goes on in other tasks,
    which resume it by id. Until the lease ends a new run of the job is skipped."""
    run.lease_until = timezone.now() + lease
    run.save(update_fields=["lease_until"])


def job_run_fail(*, run_id: int, error: str) -> None:
    """Record that a handed-off run failed in a step that cannot resume it (a chord part)."""
    JobRun.objects.filter(pk=run_id, status=JobRun.Status.RUNNING).update(
        status=JobRun.Status.FAILED,
        error=error[:2000],
        finished_at=timezone.now(),
        lease_until=None,
    )


def job_execute(job: Job, period: str, body: Callable[[], int]) -> int | None:
    """Run `body` (returning its row count) as one run of `job`; None when skipped.

    For Celery tasks and commands: a run skipped because another holds the job is an
    expected outcome, logged and recorded, neither an error nor a reason to retry.
    """
    try:
        with job_run(job.name, period) as run:
            run.rows = body()
    except JobAlreadyRunning:
        return None
    return run.rows


# --- Reads for the health page -----------------------------------------------------------


@dataclass(frozen=True)
class JobStatus:
    job: Job
    last_success_at: dt.datetime | None
    last_success_period: str
    last_success_rows: int | None
    # The latest run (skips aside) covering today, for daily jobs: its status and error.
    today_status: str | None
    today_error: str

    @property
    def today_missing(self) -> bool:
        return self.job.cadence == Cadence.DAILY and self.today_status is None

    @property
    def today_failed(self) -> bool:
        return self.job.cadence == Cadence.DAILY and self.today_status == JobRun.Status.FAILED

    @property
    def warning(self) -> bool:
        return self.today_missing or self.today_failed


@dataclass(frozen=True)
class JobBoard:
    rows: list[JobStatus]

    @property
    def warnings(self) -> list[JobStatus]:
        return [row for row in self.rows if row.warning]


def job_status_rows(*, today: dt.date) -> JobBoard:
    """Each periodic job's last success and, for nightly jobs, today's outcome.

    One query: the jobs' runs grouped by job, each group reading its newest success and its
    newest run of today through correlated subqueries on (job, status, started_at).
    """
    today_iso = today.isoformat()
    runs = JobRun.objects.filter(job=OuterRef("job")).order_by("-started_at")
    success = runs.filter(status=JobRun.Status.SUCCEEDED)
    today_run = runs.filter(period=today_iso).exclude(status=JobRun.Status.SKIPPED)
    found = {
        row["job"]: row
        for row in JobRun.objects.filter(job__in=[j.name for j in JOBS])
        .order_by()
        .values("job")
        .distinct()
        .annotate(
            success_at=Subquery(success.values("finished_at")[:1]),
            success_period=Subquery(success.values("period")[:1]),
            success_rows=Subquery(success.values("rows")[:1]),
            today_status=Subquery(today_run.values("status")[:1]),
            today_error=Subquery(today_run.values("error")[:1]),
        )
    }
    rows = []
    for job in JOBS:
        row: Mapping[str, Any] = found.get(job.name, {})
        rows.append(
            JobStatus(
                job=job,
                last_success_at=row.get("success_at"),
                last_success_period=row.get("success_period") or "",
                last_success_rows=row.get("success_rows"),
                today_status=row.get("today_status"),
                today_error=row.get("today_error") or "",
            )
        )
    return JobBoard(rows=rows)
