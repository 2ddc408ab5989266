"""Periodic jobs: one recorded run at a time, skipped quietly when another holds the job."""

from __future__ import annotations

import datetime as dt
import re
import threading
from io import StringIO

import pytest
from celery.app.task import Context
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from accounts import jobs
from accounts.job_models import JobRun
from accounts.jobs import (
    HEALTH_SCORES,
    JobAlreadyRunning,
    job_run,
    job_run_hand_off,
    job_status_rows,
)
from accounts.models import UsageRecord
from accounts.tasks import account_rollups_refresh_task
from cs_platform.celery import app
from health.models import HealthRun, HealthScore
from health.tasks import (
    health_run_fail_task,
    health_scores_recompute_task,
    retention_snapshots_recompute_task,
)
from health.tasks_validation import backtest_task, churn_predictions_task
from journeys.tasks import playbooks_run_task
from reports.tasks import metric_snapshots_recompute_task
from reports.tasks_monthly import monthly_report_generate_task
from tests.factories import AccountFactory

DAY = dt.date(2026, 3, 15)
PAGE = "/health/"


def _runs(job: str) -> list[tuple[str, str, int | None]]:
    return list(
        JobRun.objects.filter(job=job).order_by("pk").values_list("period", "status", "rows")
    )


# --- job_run ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_run_records_its_period_status_and_rows():
    with job_run("retention_snapshots", "2026-03-15") as run:
        run.rows = 42
    with job_run("monthly_report", "2026-02") as run:
        run.rows = 1

    assert _runs("retention_snapshots") == [("2026-03-15", "succeeded", 42)]
    assert _runs("monthly_report") == [("2026-02", "succeeded", 1)]
    done = JobRun.objects.get(job="retention_snapshots")
    assert done.finished_at is not None
    assert done.finished_at >= done.started_at


@pytest.mark.django_db
def test_a_failing_body_records_the_error_and_raises():
    with pytest.raises(ZeroDivisionError), job_run("churn_risk", "2026-03-15"):
        _ = 1 / 0

    run = JobRun.objects.get(job="churn_risk")
    assert (run.status, run.error) == (JobRun.Status.FAILED, "ZeroDivisionError: division by zero")
    assert run.finished_at is not None


@pytest.mark.django_db
def test_a_run_left_running_by_a_killed_process_is_settled_by_the_next():
    # Given a run whose process died without recording its end (no lease: it held the lock)
    lost = JobRun.objects.create(job="playbooks", period="2026-03-14")

    with job_run("playbooks", "2026-03-15") as run:
        run.rows = 3

    lost.refresh_from_db()
    assert lost.status == JobRun.Status.FAILED
    assert lost.error.startswith("Lost:")
    assert _runs("playbooks") == [("2026-03-14", "failed", None), ("2026-03-15", "succeeded", 3)]


@pytest.mark.django_db
def test_a_handed_off_run_keeps_others_out_until_resumed():
    # Given a starter that handed its run off to other tasks (the health chord)
    with job_run(HEALTH_SCORES.name, "2026-03-15") as started:
        job_run_hand_off(started, lease=dt.timedelta(hours=6))
    started.refresh_from_db()
    assert started.status == JobRun.Status.RUNNING
    assert started.lease_until is not None

    # When another run of the job starts meanwhile, it is skipped
    with pytest.raises(JobAlreadyRunning), job_run(HEALTH_SCORES.name, "2026-03-15"):
        pytest.fail("the body of a skipped run must not run")

    # And the finishing step resumes and closes the same row
    with job_run(HEALTH_SCORES.name, "2026-03-15", resume=started.pk) as finished:
        finished.rows = 7
    assert _runs(HEALTH_SCORES.name) == [
        ("2026-03-15", "succeeded", 7),
        ("2026-03-15", "skipped", None),
    ]
    started.refresh_from_db()
    assert started.lease_until is None


@pytest.mark.django_db
def test_an_expired_lease_no_longer_blocks_and_is_recorded_lost():
    stale = JobRun.objects.create(
        job=HEALTH_SCORES.name,
        period="2026-03-14",
        lease_until=timezone.now() - dt.timedelta(minutes=1),
    )
    with job_run(HEALTH_SCORES.name, "2026-03-15") as run:
        run.rows = 2

    stale.refresh_from_db()
    assert stale.status == JobRun.Status.FAILED
    assert JobRun.objects.get(period="2026-03-15").status == JobRun.Status.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_second_concurrent_run_on_postgresql_is_skipped():
    if connection.vendor != "postgresql":
        pytest.skip("the advisory lock exists on PostgreSQL only; set DATABASE_URL")
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first_run() -> None:
        # Its own thread, so its own connection and its own advisory-lock session.
        try:
            with job_run("metric_snapshots", "2026-03-15") as run:
                holding.set()
                release.wait(10)
                run.rows = 5
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=first_run)
    thread.start()
    try:
        assert holding.wait(10)
        with pytest.raises(JobAlreadyRunning), job_run("metric_snapshots", "2026-03-15"):
            pytest.fail("the second run must not run its body")
    finally:
        release.set()
        thread.join(10)
    assert not errors
    assert sorted(_runs("metric_snapshots"), key=lambda r: r[1]) == [
        ("2026-03-15", "skipped", None),
        ("2026-03-15", "succeeded", 5),
    ]
    # The lock is released: the next run goes ahead.
    with job_run("metric_snapshots", "2026-03-16") as run:
        run.rows = 6
    assert JobRun.objects.get(period="2026-03-16").status == JobRun.Status.SUCCEEDED


# --- Celery tasks ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("task", "args", "job"),
    [
        (account_rollups_refresh_task, ["2026-03-15"], "account_rollups"),
        (retention_snapshots_recompute_task, ["2026-03-15"], "retention_snapshots"),
        (metric_snapshots_recompute_task, ["2026-03-15"], "metric_snapshots"),
        (playbooks_run_task, ["2026-03-15"], "playbooks"),
        (churn_predictions_task, ["2026-03-15"], "churn_risk"),
        (backtest_task, [90], "health_backtest"),
        (monthly_report_generate_task, ["2026-02"], "monthly_report"),
        (health_scores_recompute_task, ["2026-03-15"], "health_scores"),
    ],
)
def test_a_task_whose_job_is_held_returns_quietly_with_a_skipped_run(task, args, job, monkeypatch):
    # Given another process holding every job's lock
    monkeypatch.setattr(jobs, "_try_lock", lambda job: False)

    result = task.apply(args=args)

    # Then the task succeeds with nothing done: no exception, no retry, a skipped row
    assert (result.state, result.result) == ("SUCCESS", None)
    assert _runs(job) == [(args[0] if job != "health_backtest" else _today(), "skipped", None)]


def _today() -> str:
    from accounts.selectors.access import local_today

    return local_today().isoformat()


@pytest.mark.django_db
def test_the_nightly_health_task_skips_while_a_chord_is_in_flight(monkeypatch):
    in_flight = JobRun.objects.create(
        job=HEALTH_SCORES.name,
        period="2026-03-15",
        lease_until=timezone.now() + dt.timedelta(hours=1),
    )
    sent: list[object] = []
    monkeypatch.setattr("health.tasks.chord", lambda *a: sent.append(a))

    assert health_scores_recompute_task.apply(args=["2026-03-15"]).get() is None

    assert sent == []
    assert not HealthRun.objects.exists()
    in_flight.refresh_from_db()
    assert in_flight.status == JobRun.Status.RUNNING
    assert _runs(HEALTH_SCORES.name)[-1] == ("2026-03-15", "skipped", None)


@pytest.mark.django_db
def test_a_failed_chord_records_both_runs_as_failed():
    health_run = HealthRun.objects.create(day=DAY)
    job = JobRun.objects.create(
        job=HEALTH_SCORES.name, period=DAY.isoformat(), lease_until=timezone.now()
    )

    errback = health_run_fail_task.s(health_run.pk, job.pk)

    # As Celery calls the chord callback's errback when a chunk fails for good
    app.backend._call_task_errbacks(
        Context(id="chunk-1", errbacks=[errback], delivery_info={}), ValueError("bad row"), None
    )

    health_run.refresh_from_db()
    job.refresh_from_db()
    assert (health_run.status, health_run.error) == (
        HealthRun.Status.FAILED,
        "Chunk chunk-1 failed: ValueError: bad row",
    )
    assert (job.status, job.error, job.lease_until) == (
        JobRun.Status.FAILED,
        "Chunk chunk-1 failed: ValueError: bad row",
        None,
    )


# --- Commands -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_recompute_health_records_a_run_per_day(owner):
    account = AccountFactory(owner=owner, start_date=dt.date(2025, 1, 1))
    for day in (DAY - dt.timedelta(days=1), DAY):
        UsageRecord.objects.create(
            account=account, day=day, active_users=4, licensed_seats=8, key_features_used=5
        )

    call_command(
        "recompute_health", "--from", "2026-03-14", "--to", "2026-03-15", stdout=StringIO()
    )

    assert _runs(HEALTH_SCORES.name) == [
        ("2026-03-14", "succeeded", 1),
        ("2026-03-15", "succeeded", 1),
    ]
    assert HealthScore.objects.filter(account=account).count() == 2


@pytest.mark.django_db
def test_a_command_whose_job_is_held_says_so_and_does_nothing(owner, monkeypatch):
    AccountFactory(owner=owner, start_date=dt.date(2025, 1, 1))
    monkeypatch.setattr(jobs, "_try_lock", lambda job: False)

    with pytest.raises(CommandError, match="another run of the health scores is in progress"):
        call_command("recompute_health", "--date", "2026-03-15", stdout=StringIO())

    assert not HealthScore.objects.exists()
    assert _runs(HEALTH_SCORES.name) == [("2026-03-15", "skipped", None)]


# --- The health page ------------------------------------------------------------------------


def _finished(job: str, period: str, status: str, rows: int | None, at: dt.datetime) -> None:
    run = JobRun.objects.create(job=job, period=period, status=status, rows=rows, finished_at=at)
    JobRun.objects.filter(pk=run.pk).update(started_at=at - dt.timedelta(minutes=5))


@pytest.fixture
def job_history():
    tz = timezone.get_current_timezone()
    yesterday = dt.datetime(2026, 3, 14, 2, 4, tzinfo=tz)
    today = dt.datetime(2026, 3, 15, 2, 6, tzinfo=tz)
    # Health: succeeded yesterday, nothing today.
    _finished("health_scores", "2026-03-14", "succeeded", 1234, yesterday)
    # Churn risk: succeeded yesterday, failed today.
    _finished("churn_risk", "2026-03-14", "succeeded", 900, yesterday)
    _finished("churn_risk", "2026-03-15", "failed", None, today)
    JobRun.objects.filter(job="churn_risk", status="failed").update(error="OperationalError: gone")
    # Account rollups: succeeded today, after an earlier failure today.
    _finished("account_rollups", "2026-03-15", "failed", None, today - dt.timedelta(hours=1))
    _finished("account_rollups", "2026-03-15", "succeeded", 50, today)
    # Monthly report: the monthly job, never warned about.
    _finished("monthly_report", "2026-02", "succeeded", 1, dt.datetime(2026, 3, 1, 6, 1, tzinfo=tz))


@pytest.mark.django_db
def test_job_status_reads_every_job_in_one_query(job_history, django_assert_num_queries):
    with django_assert_num_queries(1):
        board = job_status_rows(today=DAY)

    by_name = {row.job.name: row for row in board.rows}
    assert len(board.rows) == len(jobs.JOBS) == 10
    health = by_name["health_scores"]
    assert (health.last_success_period, health.last_success_rows, health.today_missing) == (
        "2026-03-14",
        1234,
        True,
    )
    churn = by_name["churn_risk"]
    assert (churn.last_success_rows, churn.today_failed, churn.today_error) == (
        900,
        True,
        "OperationalError: gone",
    )
    rollups = by_name["account_rollups"]
    assert (rollups.today_status, rollups.warning) == ("succeeded", False)
    assert (by_name["monthly_report"].last_success_period, by_name["monthly_report"].warning) == (
        "2026-02",
        False,
    )
    # Missing today: health, retention, metric snapshots, playbooks, journey rollups,
    # webhook events; failed: churn risk.
    assert [row.job.name for row in board.warnings] == [
        "health_scores",
        "retention_snapshots",
        "metric_snapshots",
        "playbooks",
        "journey_rollups",
        "churn_risk",
        "health_webhook_events",
    ]


@pytest.mark.django_db
def test_the_health_page_shows_last_successes_and_warns_of_todays_gaps(
    client_for, manager, job_history, monkeypatch
):
    monkeypatch.setattr("health.views.overview.local_today", lambda: DAY)

    content = client_for(manager).get(PAGE).content.decode()

    health_row = re.search(r'<tr data-job="health_scores">.*?</tr>', content, re.S).group(0)
    assert "14 Mar 2026 02:04" in health_row
    assert "1,234" in health_row
    assert 'data-today="missing"' in health_row
    rollups_row = re.search(r'<tr data-job="account_rollups">.*?</tr>', content, re.S).group(0)
    assert "15 Mar 2026 02:06" in rollups_row
    assert 'data-today="succeeded"' in rollups_row
    warnings = re.search(r'<ul class="messages" id="job-warnings".*?</ul>', content, re.S).group(0)
    assert re.findall(r'data-job-warning="(\w+)"', warnings) == [
        "health_scores",
        "retention_snapshots",
        "metric_snapshots",
        "playbooks",
        "journey_rollups",
        "churn_risk",
        "health_webhook_events",
    ]
    assert "no run for 15 Mar 2026" in warnings
    assert "today's run failed (OperationalError: gone)" in warnings


@pytest.mark.django_db
def test_the_health_page_has_no_warning_when_every_nightly_job_ran_today(
    client_for, manager, monkeypatch
):
    monkeypatch.setattr("health.views.overview.local_today", lambda: DAY)
    at = dt.datetime(2026, 3, 15, 5, 0, tzinfo=timezone.get_current_timezone())
    for job in jobs.JOBS:
        if job.cadence == jobs.Cadence.DAILY:
            _finished(job.name, DAY.isoformat(), "succeeded", 10, at)

    content = client_for(manager).get(PAGE).content.decode()

    assert 'id="job-warnings"' not in content
    assert content.count('data-today="succeeded"') == 8


# --- Settings -------------------------------------------------------------------------------


def test_redis_redelivers_only_after_the_longest_task_and_retry_wait():
    # The longest countdown a message waits unacknowledged in a worker: an hour of backoff.
    longest_retry_wait = 60 * 60
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert visibility > settings.CELERY_TASK_TIME_LIMIT + longest_retry_wait
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_ACKS_LATE
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


@pytest.mark.django_db
def test_the_health_task_without_a_broker_runs_in_process_as_one_recorded_run(owner, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    account = AccountFactory(owner=owner, start_date=dt.date(2025, 1, 1))
    UsageRecord.objects.create(
        account=account, day=DAY, active_users=4, licensed_seats=8, key_features_used=5
    )

    assert health_scores_recompute_task(DAY.isoformat()) == 1

    assert _runs(HEALTH_SCORES.name) == [(DAY.isoformat(), "succeeded", 1)]


@pytest.mark.django_db
def test_the_health_task_with_no_accounts_finishes_without_a_chord(monkeypatch):
    sent: list[object] = []
    monkeypatch.setattr("health.tasks.chord", lambda *a: sent.append(a))

    assert health_scores_recompute_task(DAY.isoformat()) == 0

    assert sent == []
    assert _runs(HEALTH_SCORES.name) == [(DAY.isoformat(), "succeeded", 0)]
    assert HealthRun.objects.get().status == HealthRun.Status.SUCCEEDED
