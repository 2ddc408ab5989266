"""The ingest benchmark runs the real endpoint end to end (here on a tiny load)."""

import io

from django.conf import settings
from django.core.management import call_command

from accounts.api_tokens import ApiToken
from accounts.models import Account, UsageRecord
from cs_platform.api.throttles import IngestRateThrottle


def test_bench_ingest_sends_every_row_through_the_api_and_reports_its_speed(db):
    rates = IngestRateThrottle.THROTTLE_RATES
    out = io.StringIO()

    call_command("bench_ingest", rows=25, batch=10, accounts=10, stdout=out)

    # 25 rows over 10 accounts: days 1 and 2 for every account, day 3 for the first five.
    assert UsageRecord.objects.count() == 25
    assert UsageRecord.objects.values("day").distinct().count() == 3
    assert "25 rows in" in out.getvalue()
    assert "rows/s" in out.getvalue()
    assert ApiToken.objects.get().revoked_at is not None
    # What the command changes for its run is put back.
    assert settings.DEBUG is False
    assert IngestRateThrottle.THROTTLE_RATES is rates


def test_bench_ingest_cleans_up_when_asked(db):
    call_command("bench_ingest", rows=10, batch=10, accounts=10, cleanup=True, stdout=io.StringIO())

    assert not Account.objects.filter(external_id__startswith="BENCH-").exists()
    assert not UsageRecord.objects.exists()
