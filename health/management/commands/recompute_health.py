import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.jobs import HEALTH_SCORES, JobAlreadyRunning, job_run
from accounts.models import Account
from accounts.selectors.access import local_today
from health.services import health_scores_recompute


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = (
        "Recompute health scores for one day (default: today) or a range of days, in this "
        "process. Reruns replace the day's scores; nothing is duplicated."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=_date, help="The day to score (YYYY-MM-DD).")
        parser.add_argument("--from", dest="date_from", type=_date, help="First day of a backfill.")
        parser.add_argument("--to", dest="date_to", type=_date, help="Last day of a backfill.")

    def handle(self, *args: object, **options: object) -> None:
        date, date_from, date_to = options["date"], options["date_from"], options["date_to"]
        if date and (date_from or date_to):
            raise CommandError("Give either --date or --from/--to, not both.")
        if bool(date_from) != bool(date_to):
            raise CommandError("A backfill needs both --from and --to.")
        if date_from and date_to:
            if date_to < date_from:
                raise CommandError("--to is before --from.")
            days = [date_from + dt.timedelta(days=n) for n in range((date_to - date_from).days + 1)]
        else:
            days = [date or local_today()]

        total_accounts = Account.objects.count()
        with tqdm(
            total=total_accounts * len(days), unit="account", desc="Scoring", file=self.stderr
        ) as bar:
            for day in days:
                bar.set_postfix_str(day.isoformat())
                try:
                    with job_run(HEALTH_SCORES.name, day.isoformat()) as job:
                        run = health_scores_recompute(day=day, progress=bar.update)
                        job.rows = run.accounts_scored
                except JobAlreadyRunning:
                    raise CommandError(
                        f"{day}: another run of the health scores is in progress; "
                        "this one was skipped."
                    ) from None
                bar.update(max(0, total_accounts - run.accounts_scored))
                self.stdout.write(
                    f"{day}: {run.accounts_scored} accounts scored, "
                    f"{run.alerts_raised} alerts raised."
                )
        self.stdout.write(self.style.SUCCESS(f"Done: {len(days)} day(s)."))
