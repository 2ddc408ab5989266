"""The nightly job through a real Celery worker on Redis: the broker path, proven once.

Every other test calls the services directly.
"""

import datetime as dt
import os
import time

import pytest
from django.conf import settings

from accounts.job_models import JobRun
from accounts.models import UsageRecord
from health import tasks
from health.models import HealthRun, HealthScore
from tests.factories import AccountFactory

DAY = dt.date(2026, 6, 30)


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
def celery_worker_on_redis():
    if not _redis_reachable():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI must run this test against Redis: set REDIS_URL")
        pytest.skip("needs REDIS_URL pointing at a running Redis")
    from celery.contrib.testing.worker import start_worker

    from cs_platform.celery import app

    with start_worker(
        app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30
    ):
        yield


@pytest.mark.django_db(transaction=True)
def test_the_nightly_recompute_runs_as_a_chord_on_a_real_worker(owner, celery_worker_on_redis):
    accounts = [AccountFactory(owner=owner, start_date=dt.date(2025, 1, 1)) for _ in range(4)]
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=a,
            day=DAY - dt.timedelta(days=n),
            active_users=4,
            licensed_seats=8,
            key_features_used=5,
        )
        for a in accounts
        for n in range(3)
    )

    # Two chunks of 2 accounts each, so the chord really fans out.
    tasks.health_scores_recompute_task.delay(DAY.isoformat(), chunk_size=2)

    deadline = time.monotonic() + 60
    run = None
    while time.monotonic() < deadline:
        run = HealthRun.objects.filter(day=DAY).first()
        finished = JobRun.objects.filter(job="health_scores").exclude(status=JobRun.Status.RUNNING)
        if run and run.status != HealthRun.Status.RUNNING and finished.exists():
            break
        time.sleep(0.3)
    assert run is not None
    assert run.status == HealthRun.Status.SUCCEEDED, run.error
    assert run.accounts_scored == 4
    # usage 4/8 = 0.5 -> (0.5-0.1)/0.7 = 57 points; adoption 0.5 -> 67 points; support has
    # no source connected, no trend, sentiment or contacts: (30*57 + 15*67) / 45 = 60.3 -> 60.
    assert sorted(HealthScore.objects.filter(day=DAY).values_list("score", flat=True)) == [60] * 4
    # The starter handed its run off; the finisher resumed and closed the same row.
    job = JobRun.objects.get(job="health_scores")
    assert (job.period, job.status, job.rows, job.lease_until) == (
        DAY.isoformat(),
        JobRun.Status.SUCCEEDED,
        4,
        None,
    )
