"""Bulk ingestion: usage records, support tickets and survey answers are upserted on their
natural keys, all or nothing, with idempotent retries and their own throttle."""

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone

from accounts.models import SupportTicket, Task, UsageRecord
from feedback.models import FollowUp, SurveyAnswer
from tests.api import fresh_cache, token_client  # noqa: F401
from tests.factories import (
    AccountFactory,
    ContactFactory,
    SupportTicketFactory,
    SurveyFactory,
    UsageRecordFactory,
)

pytestmark = pytest.mark.usefixtures("fresh_cache")

USAGE = "/api/v1/usage-records/bulk/"
TICKETS = "/api/v1/support-tickets/bulk/"
ANSWERS = "/api/v1/survey-answers/bulk/"


@pytest.fixture
def acme(account):
    account.external_id = "ACME"
    account.save(update_fields=["external_id"])
    return account


@pytest.fixture
def beta(owner):
    return AccountFactory(name="Beta", external_id="BETA", owner=owner)


def usage(external_id: str, day: str, **counts) -> dict:
    return {"account_external_id": external_id, "day": day, **counts}


# --- Usage ---------------------------------------------------------------------------------


def test_usage_is_upserted_on_account_and_day(owner, acme, beta):
    UsageRecordFactory(account=acme, day=dt.date(2026, 1, 1), active_users=1, events=1)
    client = token_client(owner)

    response = client.post(
        USAGE,
        {
            "items": [
                usage("ACME", "2026-01-01", active_users=12, licensed_seats=20, events=300),
                usage("ACME", "2026-01-02", active_users=14),
                usage("BETA", "2026-01-01", logins=7, key_features_used=3),
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {"upserted": 3}
    rows = {
        (r.account_id, r.day): (
            r.active_users,
            r.licensed_seats,
            r.logins,
            r.key_features_used,
            r.events,
        )
        for r in UsageRecord.objects.all()
    }
    assert rows == {
        (acme.pk, dt.date(2026, 1, 1)): (12, 20, 0, 0, 300),
        (acme.pk, dt.date(2026, 1, 2)): (14, 0, 0, 0, 0),
        (beta.pk, dt.date(2026, 1, 1)): (0, 0, 7, 3, 0),
    }


def test_one_bad_item_writes_nothing_and_every_error_is_listed_by_index_and_field(
    owner, teammate, acme
):
    AccountFactory(external_id="TEAMMATE", owner=teammate)
    items = [
        usage("ACME", "2026-01-01", active_users=5),
        usage("ACME", "2026-13-01"),
        usage("NOPE", "2026-01-01"),
        usage("TEAMMATE", "2026-01-01"),
        usage("ACME", "2026-01-02", logins=-1, key_features_used=40_000),
        usage("ACME", "2026-01-01", active_users=6),
        "not an object",
    ]

    response = token_client(owner).post(USAGE, {"items": items}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "6 of 7 items are invalid; nothing was written."
    forbidden = "No account with this external id, or not one you may edit."
    assert body["errors"] == [
        {
            "index": 1,
            "field": "day",
            "message": "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
        },
        {"index": 2, "field": "account_external_id", "message": forbidden},
        {"index": 3, "field": "account_external_id", "message": forbidden},
        {
            "index": 4,
            "field": "logins",
            "message": "Ensure this value is greater than or equal to 0.",
        },
        {
            "index": 4,
            "field": "key_features_used",
            "message": "Ensure this value is less than or equal to 32767.",
        },
        {"index": 5, "field": "day", "message": "Item 0 has the same account and day."},
        {
            "index": 6,
            "field": "non_field_errors",
            "message": "Invalid data. Expected a dictionary, but got str.",
        },
    ]
    assert not UsageRecord.objects.exists()


def test_the_envelope_must_hold_one_to_ten_thousand_items(owner, acme):
    client = token_client(owner)

    assert client.post(USAGE, {"items": []}, format="json").json() == {
        "items": ["Ensure this field has at least 1 elements."]
    }
    too_many = [usage("ACME", "2026-01-01")] * 10_001
    assert client.post(USAGE, {"items": too_many}, format="json").json() == {
        "items": ["Ensure this field has no more than 10000 elements."]
    }
    assert client.post(USAGE, [usage("ACME", "2026-01-01")], format="json").status_code == 400
    assert not UsageRecord.objects.exists()


def test_a_body_that_is_not_json_is_a_400(owner):
    response = token_client(owner).post(USAGE, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_ingest_resolves_all_accounts_in_one_query(owner, acme, django_assert_max_num_queries):
    for number in range(50):
        AccountFactory(external_id=f"X{number}", owner=owner)
    items = [usage(f"X{number}", "2026-01-01", active_users=number) for number in range(50)]
    client = token_client(owner)

    # token, last_used, account lookup, savepoint + INSERT + release
    with django_assert_max_num_queries(6):
        response = client.post(USAGE, {"items": items}, format="json")

    assert response.json() == {"upserted": 50}


# --- Idempotency ---------------------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_first_answer_without_writing(owner, acme):
    client = token_client(owner)
    body = {"items": [usage("ACME", "2026-01-01", active_users=12)]}

    first = client.post(USAGE, body, format="json", HTTP_IDEMPOTENCY_KEY="day-2026-01-01")
    # If the retry wrote, the row would come back.
    UsageRecord.objects.all().delete()
    retry = client.post(USAGE, body, format="json", HTTP_IDEMPOTENCY_KEY="day-2026-01-01")

    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json() == {"upserted": 1}
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert not UsageRecord.objects.exists()


def test_the_same_key_with_another_body_is_a_409(owner, acme):
    client = token_client(owner)
    client.post(
        USAGE,
        {"items": [usage("ACME", "2026-01-01", active_users=12)]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )

    response = client.post(
        USAGE,
        {"items": [usage("ACME", "2026-01-01", active_users=99)]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )

    assert response.status_code == 409
    assert UsageRecord.objects.get().active_users == 12


def test_keys_are_per_user(owner, manager, acme):
    body = {"items": [usage("ACME", "2026-01-01", active_users=12)]}
    token_client(owner).post(USAGE, body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    UsageRecord.objects.all().delete()

    response = token_client(manager).post(USAGE, body, format="json", HTTP_IDEMPOTENCY_KEY="shared")

    assert "Idempotent-Replayed" not in response.headers
    assert UsageRecord.objects.get().active_users == 12


def test_a_failed_request_does_not_burn_its_key(owner, acme):
    client = token_client(owner)
    body = {"items": [usage("LATER", "2026-01-01")]}
    assert client.post(USAGE, body, format="json", HTTP_IDEMPOTENCY_KEY="k2").status_code == 400
    AccountFactory(external_id="LATER", owner=owner)

    response = client.post(USAGE, body, format="json", HTTP_IDEMPOTENCY_KEY="k2")

    assert response.status_code == 200
    assert UsageRecord.objects.count() == 1


def test_a_malformed_key_is_a_400(owner, acme):
    response = token_client(owner).post(
        USAGE,
        {"items": [usage("ACME", "2026-01-01")]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="has spaces",
    )

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()


# --- Tickets -------------------------------------------------------------------------------


def ticket(external_id: str, account: str = "ACME", **fields) -> dict:
    return {
        "external_id": external_id,
        "account_external_id": account,
        "subject": "Export is slow",
        "opened_at": "2026-01-10T09:00:00Z",
        **fields,
    }


def test_tickets_are_upserted_on_their_external_id(owner, acme, beta):
    SupportTicketFactory(account=acme, external_id="T-1", status="open")

    response = token_client(owner).post(
        TICKETS,
        {
            "items": [
                ticket("T-1", "BETA", status="solved", closed_at="2026-01-11T10:00:00Z"),
                ticket("T-2", priority="urgent"),
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    one = SupportTicket.objects.get(external_id="T-1")
    assert (one.account, one.status, one.closed_at) == (
        beta,
        "solved",
        dt.datetime(2026, 1, 11, 10, tzinfo=dt.UTC),
    )
    assert SupportTicket.objects.get(external_id="T-2").priority == "urgent"
    assert SupportTicket.objects.count() == 2


def test_a_ticket_closing_before_it_opened_is_an_item_error(owner, acme):
    response = token_client(owner).post(
        TICKETS,
        {"items": [ticket("T-1", closed_at="2026-01-09T00:00:00Z"), ticket("T-1")]},
        format="json",
    )

    assert response.json()["errors"] == [
        {"index": 0, "field": "closed_at", "message": "A ticket can't close before it opened."},
    ]
    assert not SupportTicket.objects.exists()


def test_a_csm_cannot_move_another_teams_ticket_onto_their_account(owner, outsider, acme):
    theirs = SupportTicketFactory(account=AccountFactory(owner=outsider), external_id="T-9")

    response = token_client(owner).post(TICKETS, {"items": [ticket("T-9")]}, format="json")

    assert response.json()["errors"] == [
        {
            "index": 0,
            "field": "external_id",
            "message": "This ticket belongs to an account you may not edit.",
        }
    ]
    theirs.refresh_from_db()
    assert theirs.account.owner == outsider


# --- Survey answers ------------------------------------------------------------------------


def test_survey_answers_are_recorded_with_their_follow_ups(
    owner, acme, django_capture_on_commit_callbacks
):
    survey = SurveyFactory(kind="nps")
    contact = ContactFactory(account=acme, email="dana@acme.example", name="Dana")
    now = timezone.now().replace(microsecond=0)
    items = [
        {
            "external_id": "A-1",
            "account_external_id": "ACME",
            "survey": survey.pk,
            "email": "DANA@acme.example",
            "score": 3,
            "comment": "Too slow",
            "answered_at": now.isoformat(),
        },
        {
            "external_id": "A-2",
            "account_external_id": "ACME",
            "survey": survey.pk,
            "score": 10,
            "answered_at": (now - dt.timedelta(days=400)).isoformat(),
        },
    ]

    with (
        mock.patch("feedback.api_ingest.playbooks_run_task") as playbooks,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = token_client(owner).post(ANSWERS, {"items": items}, format="json")

    assert response.status_code == 200, response.json()
    detractor = SurveyAnswer.objects.get(external_id="A-1")
    assert (detractor.contact, detractor.score, detractor.source, detractor.kind) == (
        contact,
        3,
        "api",
        "nps",
    )
    assert SurveyAnswer.objects.get(external_id="A-2").contact is None
    follow_up = FollowUp.objects.get()
    assert follow_up.answer == detractor
    assert Task.objects.get(pk=follow_up.task_id).owner == owner
    playbooks.delay.assert_called_once_with(timezone.localdate(now).isoformat(), [acme.pk])

    # Resending updates the same answers instead of adding new ones.
    items[0]["score"] = 4
    token_client(owner).post(ANSWERS, {"items": items}, format="json")
    assert SurveyAnswer.objects.count() == 2
    assert SurveyAnswer.objects.get(external_id="A-1").score == 4


def test_answers_off_the_surveys_scale_or_survey_are_item_errors(owner, acme):
    csat = SurveyFactory(kind="csat")
    base = {"account_external_id": "ACME", "answered_at": "2026-01-10T09:00:00Z"}

    response = token_client(owner).post(
        ANSWERS,
        {
            "items": [
                {**base, "external_id": "A-1", "survey": csat.pk, "score": 0},
                {**base, "external_id": "A-2", "survey": 999_999, "score": 5},
            ]
        },
        format="json",
    )

    assert response.json()["errors"] == [
        {"index": 0, "field": "score", "message": "Choose a score from 1 to 5."},
        {"index": 1, "field": "survey", "message": "No such survey."},
    ]
    assert not SurveyAnswer.objects.exists()


# --- Throttling ----------------------------------------------------------------------------


def _rates(settings, **rates: str) -> None:
    framework = dict(settings.REST_FRAMEWORK)
    framework["DEFAULT_THROTTLE_RATES"] = {**framework["DEFAULT_THROTTLE_RATES"], **rates}
    settings.REST_FRAMEWORK = framework


def test_bulk_requests_beyond_the_ingest_rate_get_429(owner, acme, settings):
    _rates(settings, ingest="2/minute")
    client = token_client(owner)
    body = {"items": [usage("ACME", "2026-01-01")]}

    statuses = [client.post(USAGE, body, format="json").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert int(client.post(USAGE, body, format="json").headers["Retry-After"]) > 0


def test_reads_beyond_the_token_rate_get_429_per_token(owner, acme, settings):
    _rates(settings, token="2/minute")
    first, second = token_client(owner), token_client(owner)

    statuses = [first.get("/api/v1/accounts/").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    # Counted per token: another token of the same person still gets through.
    assert second.get("/api/v1/accounts/").status_code == 200
