"""`manage.py generate_monthly_report [--month YYYY-MM]`: generate (or regenerate) a month's
executive report, by default the month before today's."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.jobs import MONTHLY_REPORT, JobAlreadyRunning, job_run
from accounts.selectors.access import local_today
from reports.models import ReportDelivery
from reports.monthly import month_key, month_label, month_parse, report_month_default
from reports.services_monthly import monthly_report_generate


class Command(BaseCommand):
    help = (
        "Generate the monthly executive report for --month YYYY-MM (default: last month). "
        "An existing report is replaced by a new version; the old one stays in its history. "
        "Subscribers are emailed unless --no-email."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", help="The month, as YYYY-MM (default: last month).")
        parser.add_argument("--no-email", action="store_true", help="Do not email the subscribers.")
        parser.add_argument(
            "--no-charts",
            action="store_true",
            help="Print the PDF without charts (no Chromium is started).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        today = local_today()
        try:
            month = (
                month_parse(options["month"])
                if options["month"]
                else report_month_default(today=today)
            )
            with job_run(MONTHLY_REPORT.name, month_key(month)) as run:
                report = monthly_report_generate(
                    month=month,
                    today=today,
                    notify=not options["no_email"],
                    charts=not options["no_charts"],
                )
                run.rows = 1
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except JobAlreadyRunning:
            raise CommandError(
                "Another generation of a monthly report is in progress; this one was skipped."
            ) from None
        deliveries = ReportDelivery.objects.filter(report=report, version=report.version).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated the {month_label(report.month)} report, version {report.version}; "
                f"{deliveries} email(s) queued."
            )
        )
        for sentence in report.data["summary"]:
            self.stdout.write(f"  {sentence}")
