import datetime as dt

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from accounts.models import Account, UsageRecord
from accounts.selectors.access import local_today
from health.benchmark import (
    peak_rss_mb,
    per_account_loop,
    scores_on,
    timed,
    usage_aggregation_floor,
)
from health.services import health_scores_recompute


class Command(BaseCommand):
    help = (
        "Measure the nightly health recompute and retention metrics on the current database, "
        "against the floor (one INSERT ... SELECT ... ON CONFLICT) and the per-account ORM loop. "
        "Writes the day's scores and snapshots like the nightly job (idempotent)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date", type=dt.date.fromisoformat, help="Day to score (default today)."
        )
        parser.add_argument("--sample", type=int, default=1000, help="Accounts in the loop sample.")
        parser.add_argument(
            "--skip-memory", action="store_true", help="Skip the tracemalloc rerun (faster)."
        )

    def _row(self, label: str, figure: str) -> None:
        self.stdout.write(f"{label:<48} {figure}")

    def handle(self, *args: object, **options: object) -> None:
        from health.retention import retention_snapshots_recompute

        day = options["date"] or local_today()
        accounts = Account.objects.count()
        self._row("database", connection.vendor)
        self._row("accounts / usage rows", f"{accounts:,} / {UsageRecord.objects.count():,}")
        self._row("day", day.isoformat())

        floor = usage_aggregation_floor(day=day)
        self._row(
            "floor: INSERT..SELECT..ON CONFLICT usage agg",
            f"{floor.seconds:8.2f} s  ({floor.result:,} accounts)",
        )
        recompute = timed(lambda: health_scores_recompute(day=day))
        ratio = recompute.seconds / floor.seconds if floor.seconds else float("nan")
        self._row(
            "recompute_health, one day, all components",
            f"{recompute.seconds:8.2f} s  ({recompute.result.accounts_scored:,} scored, "
            f"{ratio:.1f}x the floor)",
        )
        rerun = timed(lambda: health_scores_recompute(day=day))
        self._row(
            "recompute_health rerun (idempotent)",
            f"{rerun.seconds:8.2f} s  ({scores_on(day):,} rows for the day)",
        )
        if not options["skip_memory"]:
            traced = timed(lambda: health_scores_recompute(day=day), trace_memory=True)
            self._row("recompute_health peak Python memory", f"{traced.peak_python_mb:8.1f} MB")

        metrics = timed(lambda: retention_snapshots_recompute(today=day))
        self._row(
            "recompute_metrics, 24 months, all scopes",
            f"{metrics.seconds:8.2f} s  ({metrics.result:,} snapshot rows)",
        )
        sample = min(options["sample"], accounts)
        loop = per_account_loop(day=day, sample=sample)
        extrapolated = loop.seconds / sample * accounts if sample else 0.0
        self._row(
            f"per-account ORM loop, {sample:,} accounts",
            f"{loop.seconds:8.2f} s  (-> {extrapolated:,.0f} s for {accounts:,})",
        )
        self._row("peak RSS of this process", f"{peak_rss_mb():8.0f} MB")
