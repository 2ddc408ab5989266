"""`manage.py backtest_health`: backtest the stored health scores against churn."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.jobs import HEALTH_BACKTEST, JobAlreadyRunning, job_run
from accounts.models import Segment
from accounts.selectors.access import local_today
from health.backtest import HORIZONS
from health.services_validation import backtest_run


class Command(BaseCommand):
    help = (
        "Backtest the stored health scores: how well did they predict churn within the "
        "horizon? Stores the result for /health/validation/ (and, for 90 days over the whole "
        "portfolio, the model behind the nightly churn risk). Reads only; safe to rerun."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--horizon", type=int, default=90, choices=HORIZONS, help="Days (default 90)."
        )
        parser.add_argument("--segment", type=int, help="A segment id (default: every account).")

    def handle(self, *args: Any, **options: Any) -> None:
        segment = None
        if options["segment"] is not None:
            segment = Segment.objects.filter(pk=options["segment"]).first()
            if segment is None:
                raise CommandError(f"No segment with id {options['segment']}.")
        try:
            if segment is None:
                # The whole portfolio: one run of the weekly backtest job.
                with job_run(HEALTH_BACKTEST.name, local_today().isoformat()) as run:
                    backtest = backtest_run(horizon_days=options["horizon"], segment=None)
                    run.rows = backtest.data["observations"]
            else:
                backtest = backtest_run(horizon_days=options["horizon"], segment=segment)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        except JobAlreadyRunning:
            raise CommandError(
                "Another whole-portfolio backtest is in progress; this one was skipped."
            ) from None
        data = backtest.data
        self.stdout.write(
            f"{data['observations']:,} observations on {data['sample_dates']} date"
            f"{'s' if data['sample_dates'] != 1 else ''} "
            f"({data['first_day']} to {data['last_day']}), {data['churn_events']} churned "
            f"accounts within {data['horizon_days']} days."
        )
        if not data["enough_outcomes"]:
            self.stdout.write(
                self.style.WARNING(f"Too few churns for an AUC (fewer than {data['min_churns']}).")
            )
        else:
            self.stdout.write(f"AUC of the score: {data['auc']:.3f}")
            for row in data["bands"]:
                rate = "—" if row["rate"] is None else f"{row['rate'] * 100:.1f} %"
                self.stdout.write(
                    f"  {row['band']:<6} {row['observations']:>7,} observations, "
                    f"{row['churned']:>5,} churned: {rate}"
                )
            proposal = data.get("proposal")
            if proposal:
                self.stdout.write(
                    f"Out of sample: current weights AUC {proposal['auc_current']:.3f}, "
                    f"proposed {proposal['auc_proposed']:.3f} {proposal['weights']}"
                )
            elif data.get("split_note"):
                self.stdout.write(data["split_note"])
        self.stdout.write(self.style.SUCCESS(f"Stored backtest {backtest.pk}."))
