"""A real worker killed in the middle of the nightly recompute: the chunk it was running is
redelivered and rerun, and the stored scores are those of an uninterrupted run.

PostgreSQL and Redis only: the worker is a separate OS process (`celery worker --pool=prefork
--concurrency=1`) that must see the test database, so the test commits (transaction=True) and
hands the worker the test database's URL. Each chunk waits after committing its rows
(FAULT_INJECTION_HEALTH_CHUNK_DELAY_MS), so the pool child is killed with a chunk written but
not yet acknowledged: the harshest moment, where a rerun must replace rather than duplicate.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.job_models import JobRun
from accounts.models import UsageRecord
from health.models import HealthRun, HealthScore
from health.services import health_scores_recompute
from tests.factories import AccountFactory

DAY = dt.date(2026, 6, 30)
ACCOUNTS = 40
CHUNK_SIZE = 5  # 8 chunks, run one after another by the single pool child
CHUNK_DELAY_MS = 1200
DEADLINE_SECONDS = 120
CELERY = Path(sys.executable).with_name("celery")

pytestmark = pytest.mark.django_db(transaction=True)


def _redis_reachable() -> bool:
    if not settings.REDIS_URL:
        return False
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False
    return True


@pytest.fixture
def needs_postgresql_and_redis():
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs DATABASE_URL on PostgreSQL: the worker process must reach the test database"
        )
    if not _redis_reachable():
        pytest.skip("needs REDIS_URL pointing at a running Redis: the broker of the real worker")


def _seed(owner) -> None:
    """Accounts with different usage, so the scores compared below differ from one another."""
    accounts = [
        AccountFactory(owner=owner, start_date=dt.date(2025, 1, 1)) for _ in range(ACCOUNTS)
    ]
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=account,
            day=DAY - dt.timedelta(days=n),
            active_users=1 + (i % 8),
            licensed_seats=8,
            key_features_used=i % 10,
        )
        for i, account in enumerate(accounts)
        for n in (0, 1, 2, 35, 36)
    )


def _scores() -> dict[int, tuple[object, ...]]:
    return {
        row[0]: row[1:]
        for row in HealthScore.objects.filter(day=DAY).values_list(
            "account_id",
            "score",
            "band",
            "computed_score",
            "computed_band",
            "components",
            "missing",
            "scorecard_version_id",
            "usage_through",
        )
    }


def _worker_env() -> dict[str, str]:
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"  # the test database pytest-django made
    )
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cs_platform.settings.test",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "FAULT_INJECTION_HEALTH_CHUNK_DELAY_MS": str(CHUNK_DELAY_MS),
    }


def _pool_children(pid: int) -> list[int]:
    """The worker's pool processes: its direct children, read from /proc."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if not path.exists():
        return []
    return [int(child) for child in path.read_text().split()]


def _wait_for(condition, *, what: str, worker: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if worker.poll() is not None:
            pytest.fail(f"the worker exited while waiting for {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def test_a_pool_child_killed_mid_recompute_leaves_the_scores_of_an_uninterrupted_run(
    owner, needs_postgresql_and_redis
):
    # Given the scores of an uninterrupted run, then the day emptied again
    _seed(owner)
    health_scores_recompute(day=DAY)
    uninterrupted = _scores()
    assert len(uninterrupted) == ACCOUNTS
    assert len({row[0] for row in uninterrupted.values()}) > 3  # scores really differ
    HealthScore.objects.filter(day=DAY).delete()
    HealthRun.objects.all().delete()

    from cs_platform.celery import app
    from health.tasks import health_scores_recompute_task

    app.control.purge()  # nothing left over from an earlier run on this Redis database
    log = Path(tempfile.mkstemp(prefix="worker-kill-", suffix=".log")[1])
    with log.open("w") as out:
        worker = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "cs_platform",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"kill-test-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=settings.BASE_DIR,
            env=_worker_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the finally kills the pool too
        )
    try:
        # When the nightly recompute runs on it and the pool child is killed once half the
        # chunks are written, while it waits to acknowledge the last of them
        health_scores_recompute_task.delay(DAY.isoformat(), chunk_size=CHUNK_SIZE)
        half = ACCOUNTS // 2
        _wait_for(
            lambda: HealthScore.objects.filter(day=DAY).count() >= half,
            what="half the chunks",
            worker=worker,
            log=log,
        )
        killed = _pool_children(worker.pid)
        assert len(killed) == 1, killed
        os.kill(killed[0], signal.SIGKILL)
        written_at_kill = HealthScore.objects.filter(day=DAY).count()

        # Then the chunk is redelivered to a new pool child and the run completes
        _wait_for(
            lambda: (
                JobRun.objects.filter(job="health_scores")
                .exclude(status=JobRun.Status.RUNNING)
                .exists()
            ),
            what="the end of the run",
            worker=worker,
            log=log,
        )
        replacement = _pool_children(worker.pid)
    finally:
        try:
            os.killpg(worker.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        worker.wait(timeout=10)

    worker_log = log.read_text()
    log.unlink()
    assert written_at_kill < ACCOUNTS, "the kill came after the last chunk: nothing was tested"
    assert replacement
    assert replacement != killed
    # The chunk the child was running when killed had committed its rows, was redelivered,
    # and ran again to completion on the new child.
    before_kill, _, after_kill = worker_log.partition("signal 9 (SIGKILL)")
    assert after_kill, worker_log[-3000:]
    in_flight = re.findall(
        r"health_scores_recompute_chunk_task\[([0-9a-f-]+)\] received", before_kill
    )
    assert re.search(
        rf"health_scores_recompute_chunk_task\[{in_flight[-1]}\] succeeded", after_kill
    ), after_kill[-3000:]

    run = HealthRun.objects.get(day=DAY)
    assert (run.status, run.accounts_scored) == (HealthRun.Status.SUCCEEDED, ACCOUNTS), run.error
    job = JobRun.objects.get(job="health_scores")
    assert (job.period, job.status, job.rows) == (DAY.isoformat(), JobRun.Status.SUCCEEDED, 40)
    # The same rows as the uninterrupted run: same scores, bands and components, and one row
    # per account and day (the unique constraint would refuse a second; the count checks it).
    assert HealthScore.objects.filter(day=DAY).count() == ACCOUNTS
    assert _scores() == uninterrupted
