"""Measurements behind `manage.py bench_health`: the real recompute against two baselines.

The floor is one hand-written INSERT ... SELECT ... GROUP BY ... ON CONFLICT doing the usage
aggregation alone; the ceiling is the naive per-account ORM loop on a sample, extrapolated.
"""

from __future__ import annotations

import datetime as dt
import resource
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, Sum

from accounts.models import Account, Interaction, SupportTicket, UsageRecord
from health.models import HealthScore


@dataclass
class Timing:
    seconds: float
    peak_python_mb: float | None = None
    result: Any = None


def timed(fn: Callable[[], Any], *, trace_memory: bool = False) -> Timing:
    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        result = fn()
    finally:
        elapsed = time.perf_counter() - started
        peak = None
        if trace_memory:
            peak = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
    return Timing(seconds=elapsed, peak_python_mb=peak, result=result)


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def usage_aggregation_floor(*, day: dt.date) -> Timing:
    """One INSERT ... SELECT ... ON CONFLICT computing the 30/60-day usage aggregates of every
    account into a scratch table: the least work any recompute has to do."""
    recent_from = day - dt.timedelta(days=29)
    previous_from = day - dt.timedelta(days=59)
    table = UsageRecord._meta.db_table
    vendor = connection.vendor
    # SQLite needs WHERE before ON CONFLICT in INSERT ... SELECT to parse the upsert.
    where_true = "WHERE true" if vendor == "sqlite" else ""
    create = (
        "CREATE TEMP TABLE IF NOT EXISTS bench_usage_agg ("
        " account_id bigint PRIMARY KEY, recent_active bigint, recent_seats bigint,"
        " recent_rows integer, previous_active bigint, previous_rows integer,"
        " recent_features integer, through date)"
    )
    upsert = f"""
        INSERT INTO bench_usage_agg
        SELECT * FROM (
            SELECT account_id,
                   SUM(CASE WHEN day >= %s THEN active_users ELSE 0 END),
                   SUM(CASE WHEN day >= %s THEN licensed_seats ELSE 0 END),
                   SUM(CASE WHEN day >= %s THEN 1 ELSE 0 END),
                   SUM(CASE WHEN day < %s THEN active_users ELSE 0 END),
                   SUM(CASE WHEN day < %s THEN 1 ELSE 0 END),
                   MAX(CASE WHEN day >= %s THEN key_features_used END),
                   MAX(day)
            FROM {table}
            WHERE day >= %s AND day <= %s
            GROUP BY account_id
        ) AS agg {where_true}
        ON CONFLICT (account_id) DO UPDATE SET
            recent_active = excluded.recent_active, recent_seats = excluded.recent_seats,
            recent_rows = excluded.recent_rows, previous_active = excluded.previous_active,
            previous_rows = excluded.previous_rows, recent_features = excluded.recent_features,
            through = excluded.through
    """
    params = [recent_from] * 5 + [recent_from, previous_from, day]

    def run() -> int:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(create)
            cursor.execute(upsert, params)
            return cursor.rowcount

    return timed(run)


def per_account_loop(*, day: dt.date, sample: int) -> Timing:
    """The naive way: a handful of queries per account and a save each, on `sample` accounts.

    Writes nothing: it runs inside a transaction that is rolled back.
    """
    ids = list(Account.objects.order_by("pk").values_list("pk", flat=True)[:sample])
    recent_from = day - dt.timedelta(days=29)

    class Rollback(Exception):
        pass

    def run() -> int:
        try:
            with transaction.atomic():
                for account_id in ids:
                    usage = UsageRecord.objects.filter(
                        account_id=account_id, day__gte=recent_from, day__lte=day
                    ).aggregate(active=Sum("active_users"), seats=Sum("licensed_seats"))
                    SupportTicket.objects.filter(account_id=account_id).aggregate(n=Count("pk"))
                    Interaction.objects.filter(account_id=account_id).aggregate(
                        last=Max("occurred_on")
                    )
                    account = Account.objects.get(pk=account_id)
                    ratio = (usage["active"] or 0) / (usage["seats"] or 1)
                    account.health_score = min(100, round(ratio * 100))
                    account.save(update_fields=["health_score"])
                raise Rollback
        except Rollback:
            pass
        return len(ids)

    return timed(run)


def scores_on(day: dt.date) -> int:
    return HealthScore.objects.filter(day=day).count()
