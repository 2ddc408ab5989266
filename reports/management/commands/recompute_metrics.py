import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.jobs import METRIC_SNAPSHOTS, RETENTION_SNAPSHOTS, job_execute
from accounts.selectors.access import local_today
from health.models import RetentionSnapshot
from health.retention import month_floor, recompute_steps, retention_snapshots_recompute
from health.retention_rates import grr, logo_churn_rate, nrr


def _month(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 (a calendar month)
    except ValueError:
        raise CommandError(f"{value!r} is not a month; use YYYY-MM.") from None


def _months(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a number of months.") from None
    if not 1 <= count <= 240:
        raise CommandError("--months must be between 1 and 240.")
    return count


def _rate(value: object) -> str:
    return "n/a" if value is None else f"{value} %"


class Command(BaseCommand):
    help = (
        "Recompute the monthly retention snapshots (ARR bridge, logo churn, renewals, ARR at "
        "risk) for every scope: the last N months up to this one, or one month. Reruns "
        "replace the rows; nothing is duplicated. Then the dashboards' metric snapshots."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--months", type=_months, default=24, help="Months back, this one included (24)."
        )
        parser.add_argument("--month", type=_month, help="Only this month (YYYY-MM).")

    def handle(self, *args: object, **options: object) -> None:
        today = local_today()
        only_month: dt.date | None = options["month"]  # type: ignore[assignment]
        months: int = options["months"]  # type: ignore[assignment]
        if only_month is not None and only_month > month_floor(today):
            raise CommandError(f"{only_month:%Y-%m} has not started yet.")
        count = 1 if only_month else months

        started = time.monotonic()
        with tqdm(
            total=recompute_steps(months=count), unit="step", desc="Retention", file=self.stderr
        ) as bar:
            # One month alone is recorded under that month, so it does not pass for the
            # night's full run.
            written = job_execute(
                RETENTION_SNAPSHOTS,
                f"{only_month:%Y-%m}" if only_month else today.isoformat(),
                lambda: retention_snapshots_recompute(
                    today=today, months=months, only_month=only_month, progress=bar.update
                ),
            )
        if written is None:
            raise CommandError(
                "Another run of the retention snapshots is in progress; this one was skipped."
            )
        elapsed = time.monotonic() - started

        latest = only_month or month_floor(today)
        company = RetentionSnapshot.objects.filter(
            month=latest, scope=RetentionSnapshot.Scope.COMPANY, scope_key=""
        ).first()
        self.stdout.write(f"{written} snapshot rows for {count} month(s) in {elapsed:.1f} s.")
        if company is not None:
            self.stdout.write(
                f"{latest:%Y-%m} company: start ARR {company.start_arr:,}, "
                f"end ARR {company.end_arr:,}, NRR {_rate(nrr(company))}, "
                f"GRR {_rate(grr(company))}, logo churn {_rate(logo_churn_rate(company))}."
            )
        # The dashboards' snapshots sit beside the retention rows and read them.
        from reports.snapshots import metric_snapshots_recompute

        started = time.monotonic()
        rows = job_execute(
            METRIC_SNAPSHOTS,
            today.isoformat(),
            lambda: metric_snapshots_recompute(today=today, months=max(13, count)),
        )
        if rows is None:
            raise CommandError(
                "Another run of the metric snapshots is in progress; this one was skipped."
            )
        self.stdout.write(f"{rows} dashboard metric rows in {time.monotonic() - started:.1f} s.")
        self.stdout.write(self.style.SUCCESS("Done."))
