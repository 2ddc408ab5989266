"""manage.py bench_ingest [--rows 1000000] [--batch 10000] [--accounts N]

Measures bulk usage ingestion through the real API stack, in process: a personal token,
POST /api/v1/usage-records/bulk/ with `--batch` rows per request, against the configured
database. Prints rows/s, wall time and peak memory.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import resource
import sys
import threading
import time
from argparse import ArgumentParser
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from tqdm import tqdm

from accounts.api_ingest import MAX_ITEMS
from accounts.api_tokens import ApiToken
from accounts.models import Account, UsageRecord, User
from accounts.selectors.access import local_today
from accounts.services.api_tokens import api_token_create, api_token_revoke
from cs_platform.api.throttles import IngestRateThrottle


@dataclass
class WorkerResult:
    db_pid: int | None
    # CPU seconds of this worker's PostgreSQL backend during its requests.
    db_cpu: float
    api_seconds: float = 0.0


BENCH_PREFIX = "BENCH-"
BENCH_USERNAME = "bench-ingest"
URL = "/api/v1/usage-records/bulk/"
# Benchmark accounts created per INSERT.
ACCOUNT_BATCH = 2_000


class Command(BaseCommand):
    help = (
        "Benchmark bulk usage ingestion through the API: creates (or reuses) benchmark "
        "accounts BENCH-000001..., deletes their usage rows, then POSTs --rows usage rows in "
        "--batch-row requests with a real token and reports rows/s. Touches no other data, "
        "but adds the accounts: run it against a scratch database, or pass --cleanup."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--rows", type=int, default=1_000_000, help="Usage rows to send.")
        parser.add_argument(
            "--batch", type=int, default=MAX_ITEMS, help=f"Rows per request (≤ {MAX_ITEMS})."
        )
        parser.add_argument(
            "--accounts",
            type=int,
            default=None,
            help="Benchmark accounts (default: --batch, so one request is one day of usage "
            "for every account).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Requests in flight at once, each from its own thread and connection, as "
            "several pushing clients or gunicorn workers would send them (default 1).",
        )
        parser.add_argument(
            "--cleanup",
            action="store_true",
            help="Delete the benchmark accounts (with their usage) and user afterwards.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rows: int = options["rows"]
        batch: int = options["batch"]
        if not 1 <= batch <= MAX_ITEMS:
            raise CommandError(f"--batch must be between 1 and {MAX_ITEMS}.")
        if rows < 1:
            raise CommandError("--rows must be positive.")
        account_count: int = options["accounts"] or batch
        days = math.ceil(rows / account_count)

        # Measure the production configuration: with DEBUG on, Django keeps the SQL of every
        # query (a 5,000-row INSERT is ~100 KB of text) and the numbers would mostly measure
        # that. The ingest throttle (120 requests/minute) is policy, not cost. Both are
        # changed for this command's process only, and put back afterwards.
        debug, rates = settings.DEBUG, IngestRateThrottle.THROTTLE_RATES
        settings.DEBUG = False
        IngestRateThrottle.THROTTLE_RATES = {**rates, "ingest": None}
        try:
            self._run(
                rows=rows,
                batch=batch,
                account_count=account_count,
                days=days,
                workers=max(1, options["workers"]),
            )
        finally:
            settings.DEBUG = debug
            IngestRateThrottle.THROTTLE_RATES = rates
            if options["cleanup"]:
                deleted, _ = Account.objects.filter(external_id__startswith=BENCH_PREFIX).delete()
                User.objects.filter(username=BENCH_USERNAME).delete()
                self.stdout.write(f"Cleaned up: {deleted:,} benchmark rows deleted.")

    def _run(self, *, rows: int, batch: int, account_count: int, days: int, workers: int) -> None:
        external_ids = self._ensure_accounts(account_count)
        deleted, _ = UsageRecord.objects.filter(
            account__external_id__startswith=BENCH_PREFIX
        ).delete()
        if deleted:
            self.stdout.write(f"Deleted {deleted:,} usage rows of an earlier run.")
        user = self._bench_user()
        token, secret = api_token_create(user=user, name="bench_ingest")
        first_day = local_today() - dt.timedelta(days=days)
        day_iso = [(first_day + dt.timedelta(days=d)).isoformat() for d in range(days)]
        offsets = list(range(0, rows, batch))
        self.stdout.write(
            f"Sending {rows:,} usage rows for {account_count:,} accounts over {days:,} days in "
            f"{len(offsets):,} requests of {batch:,} rows, {workers} at a time, to "
            f"{connection.vendor} ({connection.settings_dict['NAME']})."
        )
        bar = tqdm(total=rows, unit="row", unit_scale=True, file=sys.stderr)
        results: list[WorkerResult] = []
        failures: list[str] = []
        host = self._host()

        def work(mine: list[int]) -> None:
            """One client, one database connection: sends its share of the requests."""
            try:
                client = Client(SERVER_NAME=host)
                pid = self._db_backend_pid()
                result = WorkerResult(db_pid=pid, db_cpu=-(_process_cpu_seconds(pid) or 0.0))
                for offset in mine:
                    size = min(batch, rows - offset)
                    body = self._body(offset, size, external_ids, day_iso)
                    tick = time.perf_counter()
                    response = client.post(
                        URL,
                        data=body,
                        content_type="application/json",
                        secure=True,
                        HTTP_AUTHORIZATION=f"Bearer {secret}",
                    )
                    result.api_seconds += time.perf_counter() - tick
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.content[:300]!r}")
                        return
                    bar.update(size)
                result.db_cpu += _process_cpu_seconds(pid) or 0.0
                results.append(result)
            finally:
                if threading.current_thread() is not threading.main_thread():
                    connection.close()

        load_before = os.getloadavg()[0]
        cpu_started = time.process_time()
        started = time.perf_counter()
        try:
            if workers == 1:
                work(offsets)
            else:
                threads = [
                    threading.Thread(target=work, args=(offsets[k::workers],))
                    for k in range(workers)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
        finally:
            bar.close()
            api_token_revoke(token=ApiToken.objects.get(pk=token.pk), by=user)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        if failures:
            raise CommandError(f"A request failed with {failures[0]}")

        stored = UsageRecord.objects.filter(account__external_id__startswith=BENCH_PREFIX).count()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        api_seconds = max(result.api_seconds for result in results)
        self.stdout.write(
            self.style.SUCCESS(
                f"{rows:,} rows in {wall:.1f} s wall: {_per_second(rows, wall)} rows/s end to end "
                f"({_per_second(rows, api_seconds)} rows/s counting only time inside the API "
                "calls). "
                f"Peak RSS {peak_mb:,.0f} MB. {stored:,} benchmark usage rows stored."
            )
        )
        # The machine may be shared (CI, other test runs): say how busy it was, and how much
        # CPU the Django process and its PostgreSQL backends used, so a reader can tell the
        # cost of ingestion from the wait for a busy machine.
        self.stdout.write(
            f"Django process CPU {cpu:.1f} s ({_per_second(rows, cpu)} rows per CPU-second); "
            f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
            f"on {os.cpu_count()} CPUs."
        )
        if all(result.db_pid is not None for result in results):
            db_cpu = sum(result.db_cpu for result in results)
            self.stdout.write(
                f"PostgreSQL backend CPU {db_cpu:.1f} s ({_per_second(rows, db_cpu)} rows per "
                f"CPU-second); both together {_per_second(rows, cpu + db_cpu)} rows per "
                "CPU-second."
            )

    def _db_backend_pid(self) -> int | None:
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return int(cursor.fetchone()[0])

    def _ensure_accounts(self, count: int) -> list[str]:
        wanted = [f"{BENCH_PREFIX}{number:06d}" for number in range(1, count + 1)]
        existing = set(
            Account.objects.filter(external_id__startswith=BENCH_PREFIX).values_list(
                "external_id", flat=True
            )
        )
        missing = [external_id for external_id in wanted if external_id not in existing]
        start = local_today().replace(year=local_today().year - 2)
        for offset in range(0, len(missing), ACCOUNT_BATCH):
            Account.objects.bulk_create(
                [
                    Account(
                        name=f"Benchmark {external_id}", external_id=external_id, start_date=start
                    )
                    for external_id in missing[offset : offset + ACCOUNT_BATCH]
                ],
                ignore_conflicts=True,
            )
        if missing:
            self.stdout.write(f"Created {len(missing):,} benchmark accounts.")
        return wanted

    def _bench_user(self) -> User:
        user, _ = User.objects.get_or_create(
            username=BENCH_USERNAME,
            defaults={"role": User.Role.ADMIN, "first_name": "Ingest", "last_name": "Benchmark"},
        )
        if user.role != User.Role.ADMIN or not user.is_active:
            raise CommandError(f"User {BENCH_USERNAME!r} exists but is not an active admin.")
        return user

    def _host(self) -> str:
        hosts = [h for h in settings.ALLOWED_HOSTS if h not in {"*", ""} and not h.startswith(".")]
        return hosts[0] if hosts else "localhost"

    def _body(self, offset: int, size: int, external_ids: list[str], day_iso: list[str]) -> bytes:
        """Rows offset..offset+size-1, walking every account for one day, then the next day.
        What an integration would send; built outside the timed API call."""
        count = len(external_ids)
        items = []
        for row in range(offset, offset + size):
            day, account = divmod(row, count)
            seats = 10 + account % 90
            items.append(
                {
                    "account_external_id": external_ids[account],
                    "day": day_iso[day],
                    "active_users": (row * 7) % (seats + 1),
                    "licensed_seats": seats,
                    "logins": (row * 13) % 400,
                    "key_features_used": row % 11,
                    "events": (row * 31) % 5000,
                }
            )
        return json.dumps({"items": items}, separators=(",", ":")).encode()


def _process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU of a local process from /proc (the PostgreSQL backend serving this
    connection, when the server runs on this machine); None when it cannot be read."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _per_second(rows: int, seconds: float) -> str:
    # A small run can finish inside the clock's resolution (the CPU counters tick in 10 ms).
    return f"{rows / seconds:,.0f}" if seconds > 0 else "n/a"
