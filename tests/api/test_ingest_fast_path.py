"""The fast path of usage ingestion: plainly valid items skip the serializer, large requests
load through COPY on PostgreSQL, bodies parse with orjson. Each must behave exactly like
the general path: same stored rows, same upserts, same errors, all or nothing."""

import datetime as dt
import json

import pytest
from django.db import connection, transaction

from accounts.api_ingest import COPY_MIN_ROWS, usage_upsert
from accounts.models import UsageRecord
from tests.api import fresh_cache, token_client  # noqa: F401
from tests.factories import AccountFactory, UsageRecordFactory

pytestmark = pytest.mark.usefixtures("fresh_cache")

USAGE = "/api/v1/usage-records/bulk/"
DAY = dt.date(2026, 1, 1)


@pytest.fixture
def book(owner):
    """Two accounts of the owner; COPY_MIN_ROWS + 200 rows are 2 accounts x 600 days."""
    return [AccountFactory(external_id=f"BOOK-{n}", owner=owner) for n in (1, 2)]


def _items(days: int) -> list[dict]:
    return [
        {
            "account_external_id": f"BOOK-{n}",
            "day": (DAY + dt.timedelta(days=d)).isoformat(),
            "active_users": d % 7,
            "licensed_seats": 10,
            "events": d * n,
        }
        for d in range(days)
        for n in (1, 2)
    ]


def test_a_large_request_stores_every_row_and_replaces_existing_ones(owner, book):
    UsageRecordFactory(account=book[0], day=DAY, active_users=99, logins=5, events=1)
    items = _items(600)
    assert len(items) >= COPY_MIN_ROWS

    response = token_client(owner).post(USAGE, {"items": items}, format="json")

    assert response.json() == {"upserted": 1200}
    assert UsageRecord.objects.count() == 1200
    replaced = UsageRecord.objects.get(account=book[0], day=DAY)
    # Replaced whole: the counts not sent are 0, not the old values.
    assert (replaced.active_users, replaced.licensed_seats, replaced.logins, replaced.events) == (
        0,
        10,
        0,
        0,
    )
    last = UsageRecord.objects.get(account=book[1], day=DAY + dt.timedelta(days=599))
    # day 599: active 599 % 7 = 4, events 599 * 2 = 1198
    assert (last.active_users, last.events) == (4, 1198)


def test_one_odd_item_in_a_large_request_gets_the_general_paths_messages(owner, book):
    items = _items(600)
    items[5]["events"] = True
    items[7]["active_users"] = 2**70  # beyond 64 bits: the json module's parse takes it
    items[9]["day"] = "2026-02-30"
    items[12]["account_external_id"] = "  BOOK-1  "  # its own account: trimmed, as before

    response = token_client(owner).post(USAGE, {"items": items}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 5, "field": "events", "message": "A valid integer is required."},
        {
            "index": 7,
            "field": "active_users",
            "message": "Ensure this value is less than or equal to 2147483647.",
        },
        {
            "index": 9,
            "field": "day",
            "message": "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
        },
    ]
    assert not UsageRecord.objects.exists()


def test_a_duplicate_in_a_large_request_writes_nothing(owner, book):
    items = _items(600)
    items.append(dict(items[0]))

    response = token_client(owner).post(USAGE, {"items": items}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 1200, "field": "day", "message": "Item 0 has the same account and day."}
    ]
    assert not UsageRecord.objects.exists()


def test_a_body_orjson_refuses_is_parsed_as_before(owner, book):
    # NaN is not JSON: refused by both parsers, with DRF's message.
    body = '{"items": [{"account_external_id": "BOOK-1", "day": "2026-01-01", "events": NaN}]}'

    response = token_client(owner).post(USAGE, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert not UsageRecord.objects.exists()


def test_two_large_upserts_in_one_transaction_both_land(book):
    rows = [(book[0].pk, DAY + dt.timedelta(days=d), 1, 2, 3, 4, 5) for d in range(COPY_MIN_ROWS)]
    later = [(book[1].pk, day, 6, 7, 8, 9, 10) for _pk, day, *_counts in rows]

    with transaction.atomic():
        usage_upsert(rows)
        usage_upsert(later)

    assert UsageRecord.objects.filter(account=book[0]).count() == COPY_MIN_ROWS
    assert UsageRecord.objects.filter(account=book[1], events=10).count() == COPY_MIN_ROWS


def test_the_large_path_runs_a_fixed_number_of_queries(owner, book, django_assert_max_num_queries):
    client = token_client(owner)
    body = json.dumps({"items": _items(600)})

    # token, last_used, account lookup, savepoint, (CREATE, INSERT + DROP on PostgreSQL; or
    # bulk_create's batches of SQLite's parameter limit), release: not one per row.
    budget = 7 if connection.vendor == "postgresql" else 14
    with django_assert_max_num_queries(budget):
        response = client.post(USAGE, body, content_type="application/json")

    assert response.status_code == 200
