"""`manage.py recompute_snapshots`: the dashboards' monthly metric snapshots, now."""

from __future__ import annotations

import time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.jobs import METRIC_SNAPSHOTS, job_execute
from accounts.selectors.access import local_today
from reports.models import MetricSnapshot, Scope
from reports.snapshots import metric_snapshots_recompute, recompute_steps


def _months(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a number of months.") from None
    if not 1 <= count <= 120:
        raise CommandError("--months must be between 1 and 120.")
    return count


def _figure(value: Decimal | None) -> str:
    return "n/a" if value is None else str(value.normalize())


class Command(BaseCommand):
    help = (
        "Recompute the metric snapshots the dashboards read (NPS, CSAT, CES, response rate, "
        "health and bands, usage, adoption, interactions, tasks, open follow-ups, and each "
        "quarter's retention) for every scope, for the last N months up to this one. Reruns "
        "replace the rows; nothing is duplicated. Run after recompute_metrics' retention "
        "snapshots and the day's health scores."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--months", type=_months, default=13, help="Months back, this one included (13)."
        )

    def handle(self, *args: object, **options: object) -> None:
        today = local_today()
        months: int = options["months"]  # type: ignore[assignment]
        started = time.monotonic()
        with tqdm(
            total=recompute_steps(months=months),
            unit="step",
            desc="Metric snapshots",
            file=self.stderr,
        ) as bar:
            written = job_execute(
                METRIC_SNAPSHOTS,
                today.isoformat(),
                lambda: metric_snapshots_recompute(today=today, months=months, progress=bar.update),
            )
        if written is None:
            raise CommandError(
                "Another run of the metric snapshots is in progress; this one was skipped."
            )
        elapsed = time.monotonic() - started
        self.stdout.write(f"{written:,} snapshot rows for {months} month(s) in {elapsed:.1f} s.")
        company = dict(
            MetricSnapshot.objects.filter(
                month=today.replace(day=1), scope=Scope.COMPANY, scope_key=""
            ).values_list("metric", "value")
        )
        if company:
            shown = ", ".join(
                f"{name} {_figure(company.get(name))}"
                for name in ("nps", "csat", "avg_health", "usage", "interactions")
            )
            self.stdout.write(f"{today:%Y-%m} company: {shown}.")
        self.stdout.write(self.style.SUCCESS("Done."))
