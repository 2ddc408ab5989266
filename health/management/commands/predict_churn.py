"""`manage.py predict_churn`: write every live account's churn risk for a day."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.jobs import CHURN_RISK, job_execute
from accounts.selectors.access import local_today
from health.churn_risk import churn_predictions_compute, risk_model_load


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = (
        "Predict each live account's probability of churning within 90 days from its latest "
        "health score, with the model of the latest 90-day backtest. Reruns for the same "
        "day replace that day's predictions."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=_date, help="The day (YYYY-MM-DD, default today).")

    def handle(self, *args: Any, **options: Any) -> None:
        day = options["date"] or local_today()
        written = job_execute(
            CHURN_RISK, day.isoformat(), lambda: churn_predictions_compute(today=day)
        )
        if written is None:
            raise CommandError(
                "Another run of the churn risk is in progress; this one was skipped."
            )
        model = risk_model_load()
        if model is None:
            self.stdout.write(
                self.style.WARNING(
                    "No prediction written: the latest 90-day backtest has too few churns. "
                    "Run `manage.py backtest_health --horizon 90` once more history exists."
                )
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{day}: {written:,} account{'s' if written != 1 else ''} predicted "
                f"({model.version})."
            )
        )
