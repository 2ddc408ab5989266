"""`manage.py seed_demo`: load the deterministic synthetic demo data."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from reports.demo import demo_data_present, demo_data_seed


class Command(BaseCommand):
    help = (
        "Replace the demo data with deterministic synthetic customers: accounts, contacts, "
        "contracts, daily usage, tickets, interactions, tasks and survey answers. Creates "
        "the logins admin, manager, csm and exec (password: demo). Removes all accounts "
        "first unless --if-empty finds some and leaves them alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--accounts", type=int, default=400, help="Accounts (default 400).")
        parser.add_argument(
            "--days", type=int, default=365, help="Days of usage and activity (default 365)."
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument(
            "--health-days",
            type=int,
            default=60,
            help="Days of daily health score history to compute after seeding, ending "
            "today, with about one scored day a week before them back to the start of the "
            "usage window (default 60; 0 skips it all, e.g. for benchmarks).",
        )
        parser.add_argument(
            "--reports",
            type=int,
            default=3,
            help="Monthly executive reports to publish for the last closed months (default "
            "3, so an executive's home shows last month's report; 0 skips them). Needs the "
            "health history: skipped with --health-days 0.",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when the database already has accounts (used by `make run`).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        accounts, days = options["accounts"], options["days"]
        if accounts < 1:
            raise CommandError("--accounts must be at least 1.")
        if not 1 <= days <= 3650:
            raise CommandError("--days must be between 1 and 3650.")
        if options["if_empty"] and demo_data_present():
            self.stdout.write("Accounts already exist; leaving the data as it is (--if-empty).")
            return
        summary = demo_data_seed(
            accounts=accounts,
            days=days,
            seed=options["seed"],
            today=timezone.localdate(),
            # tqdm redraws one line with \r; Django's OutputWrapper would add newlines.
            progress_file=sys.stderr if options["verbosity"] >= 1 else None,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {summary.accounts:,} accounts ({summary.churned_accounts:,} churned), "
                f"{summary.contacts:,} contacts, {summary.contracts:,} contracts, "
                f"{summary.usage_records:,} usage records, {summary.tickets:,} tickets, "
                f"{summary.interactions:,} interactions, {summary.tasks:,} tasks, "
                f"{summary.survey_answers:,} survey answers, {summary.users:,} staff in "
                f"{summary.teams} teams in {summary.seconds:.1f} s."
            )
        )
        from reports.demo.journeys import journeys_demo_seed, segments_demo_seed

        segments_demo_seed()
        placed = journeys_demo_seed(today=timezone.localdate(), seed=options["seed"])
        self.stdout.write(f"Placed {placed:,} accounts on their journey.")
        from reports.demo.manager_setup import manager_setup_seed

        setup = manager_setup_seed(today=timezone.localdate())
        self.stdout.write(
            f"Set up {setup.targets} targets, {setup.tags} feedback tags "
            f"({setup.answers_tagged:,} answers tagged) and {setup.initiatives} initiative(s)."
        )
        health_days = min(max(options["health_days"], 0), days)
        if health_days:
            self._health_history(days=health_days, usage_days=days, show=options["verbosity"] >= 1)
            self._monthly_reports(count=max(options["reports"], 0), days=days)
        self.stdout.write("Logins: admin, manager, csm, exec; password: demo")

    def _monthly_reports(self, *, count: int, days: int) -> None:
        """Publish the last closed months' reports, oldest first, each recorded as a run of
        the monthly job; no email goes out. Months before the usage window are left out:
        their report would be empty."""
        from accounts.jobs import MONTHLY_REPORT, job_execute
        from health.retention import month_add, month_floor
        from reports.monthly import month_key, month_label
        from reports.services_monthly import monthly_report_generate

        today = timezone.localdate()
        first_month = month_floor(today - dt.timedelta(days=days - 1))
        months = [month_add(month_floor(today), -back) for back in range(count, 0, -1)]

        def publish(month: dt.date) -> int:
            monthly_report_generate(month=month, today=today, notify=False)
            return 1

        published = []
        for month in months:
            if month < first_month:
                continue
            job_execute(MONTHLY_REPORT, month_key(month), lambda month=month: publish(month))
            published.append(month_label(month))
        if published:
            self.stdout.write(f"Published the monthly reports of {', '.join(published)}.")

    def _health_history(self, *, days: int, usage_days: int, show: bool) -> None:
        """Score the last `days` days, and about weekly before them, then the nightly jobs,
        so the demo's health trends, movers, dashboards and churn risk have a history from
        the first login."""
        from tqdm import tqdm

        from health.services import health_scores_recompute
        from reports.demo.health_history import health_history_days

        today = timezone.localdate()
        history = health_history_days(today=today, daily_days=days, usage_days=usage_days)
        for day in tqdm(
            history, desc="Health history", unit="day", disable=not show, file=sys.stderr
        ):
            health_scores_recompute(day=day)
        snapshots, tasks = self._nightly_jobs(today=today)
        earlier = len(history) - (days - 1)
        self.stdout.write(
            f"Health scored for {days} days and {earlier} earlier days, about a week apart; "
            f"{snapshots:,} retention snapshots; {tasks:,} playbook tasks."
        )

    def _nightly_jobs(self, *, today: dt.date) -> tuple[int, int]:
        """Today's nightly jobs in the beat's order, each recorded as its job's run, so the
        health page's job table starts green (without a scheduler, as in `make run`, it
        warns from the next day on, as it should)."""
        from accounts.jobs import HEALTH_SCORES, job_execute
        from accounts.tasks import account_rollups_refresh_task
        from accounts.webhook_tasks import health_webhook_events_task
        from health.churn_risk import RISK_HORIZON_DAYS
        from health.services import health_scores_recompute
        from health.tasks import retention_snapshots_recompute_task
        from health.tasks_validation import backtest_task, churn_predictions_task
        from journeys.tasks import journey_rollups_recompute_task, playbooks_run_task
        from reports.tasks import metric_snapshots_recompute_task

        day = today.isoformat()
        # Called directly, a task runs here and now; health runs its service rather than
        # the task, which with a broker would fan out to workers.
        account_rollups_refresh_task(day)
        job_execute(HEALTH_SCORES, day, lambda: health_scores_recompute(day=today).accounts_scored)
        snapshots = (retention_snapshots_recompute_task(day) or 0) + (
            metric_snapshots_recompute_task(day) or 0
        )
        tasks = playbooks_run_task(day) or 0
        journey_rollups_recompute_task(day)
        health_webhook_events_task(day)
        # The weekly backtest first, as on a Sunday night: churn risk learns from it.
        backtest_task(RISK_HORIZON_DAYS)
        churn_predictions_task(day)
        return snapshots, tasks
