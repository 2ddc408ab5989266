"""The nightly "health band changed" and "renewal at risk" webhooks: each subscribed endpoint
gets one delivery per occurrence, a rerun sends nothing new, other endpoints get none, and
the work is a fixed number of queries however many accounts there are."""

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest

from accounts.models import Account, JobRun
from accounts.webhook_models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from accounts.webhook_tasks import health_webhook_events_task
from health.models import HealthScore, ScorecardVersion
from health.webhook_events import health_webhook_events_emit
from tests.factories import AccountFactory

DAY = dt.date(2026, 3, 10)
BAND_CHANGED = WebhookEvent.HEALTH_BAND_CHANGED.value
AT_RISK = WebhookEvent.RENEWAL_AT_RISK.value


def _endpoint(events: list[str], *, active: bool = True) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        url="https://hooks.example.com/in", events=events, secret="s", is_active=active
    )


def _score(account: Account, day: dt.date, score: int) -> HealthScore:
    band = "red" if score < 40 else "yellow" if score < 70 else "green"
    return HealthScore.objects.create(
        account=account,
        day=day,
        score=score,
        band=band,
        computed_score=score,
        computed_band=band,
        components={},
        scorecard_version=ScorecardVersion.objects.get(scorecard__name="Default"),
    )


@pytest.fixture
def no_sending():
    """Deliveries are rows here; their HTTP sends are another test file's concern."""
    with mock.patch("accounts.services.webhooks._enqueue_bulk") as enqueue:
        yield enqueue


@pytest.fixture
def night(db):
    """Four accounts scored on DAY and on earlier days:
    - Falling: green 75 on DAY-1, red 30 on DAY  -> band changed green -> red
    - Steady: yellow 50 on DAY-1, yellow 60 on DAY -> same band, nothing
    - Rising: red 20 on DAY-3 (no score DAY-1 or DAY-2), green 80 on DAY -> red -> green
    - Newcomer: first score ever on DAY, red 10 -> no previous band, nothing
    Renewals: Falling renews DAY+30 (red: at risk); Steady renews DAY+90 (yellow, the last
    day of the window: at risk); Rising renews DAY+10 but is green (not at risk); Newcomer
    renews DAY+91 (red, one day past the window: not at risk)."""
    falling = AccountFactory(name="Falling", renewal_date=DAY + dt.timedelta(days=30))
    steady = AccountFactory(
        name="Steady", renewal_date=DAY + dt.timedelta(days=90), arr=Decimal("1200.00")
    )
    rising = AccountFactory(name="Rising", renewal_date=DAY + dt.timedelta(days=10))
    newcomer = AccountFactory(name="Newcomer", renewal_date=DAY + dt.timedelta(days=91))
    _score(falling, DAY - dt.timedelta(days=1), 75)
    _score(falling, DAY, 30)
    _score(steady, DAY - dt.timedelta(days=1), 50)
    _score(steady, DAY, 60)
    _score(rising, DAY - dt.timedelta(days=3), 20)
    _score(rising, DAY, 80)
    _score(newcomer, DAY, 10)
    return {"falling": falling, "steady": steady, "rising": rising, "newcomer": newcomer}


def test_each_band_change_reaches_a_subscribed_endpoint_exactly_once(night, no_sending):
    endpoint = _endpoint([BAND_CHANGED])

    outcome = health_webhook_events_emit(day=DAY)

    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("payload__account_id")
    payloads = {d.payload["account_name"]: d.payload for d in deliveries}
    assert set(payloads) == {"Falling", "Rising"}
    assert {d.event for d in deliveries} == {BAND_CHANGED}
    assert payloads["Falling"] == {
        "account_id": night["falling"].pk,
        "account_name": "Falling",
        "day": "2026-03-10",
        "from_band": "green",
        "to_band": "red",
        "score": 30,
        "previous_score": 75,
        "previous_day": "2026-03-09",
    }
    # The previous score is the latest before DAY, even three days back.
    assert (payloads["Rising"]["from_band"], payloads["Rising"]["previous_day"]) == (
        "red",
        "2026-03-07",
    )
    assert (outcome.band_changes, outcome.renewals_at_risk, outcome.deliveries) == (2, 2, 2)


def test_each_renewal_at_risk_reaches_a_subscribed_endpoint_once(night, no_sending):
    endpoint = _endpoint([AT_RISK])

    health_webhook_events_emit(day=DAY)

    payloads = {
        d.payload["account_name"]: d.payload
        for d in WebhookDelivery.objects.filter(endpoint=endpoint)
    }
    assert set(payloads) == {"Falling", "Steady"}
    assert payloads["Steady"]["renewal_date"] == "2026-06-08"
    assert payloads["Steady"]["days_to_renewal"] == 90
    assert payloads["Steady"]["band"] == "yellow"
    assert payloads["Steady"]["arr"] == "1200.00"
    assert payloads["Falling"]["days_to_renewal"] == 30


def test_a_rerun_and_the_next_night_announce_nothing_new(night, no_sending):
    endpoint = _endpoint([BAND_CHANGED, AT_RISK])
    health_webhook_events_emit(day=DAY)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 4

    again = health_webhook_events_emit(day=DAY)
    # The next night: same bands (no change), the same renewals still at risk.
    next_day = DAY + dt.timedelta(days=1)
    _score(night["falling"], next_day, 31)
    _score(night["steady"], next_day, 61)
    following = health_webhook_events_emit(day=next_day)

    assert again.deliveries == following.deliveries == 0
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 4


def test_a_renewal_moved_to_a_later_date_is_a_new_occurrence(night, no_sending):
    endpoint = _endpoint([AT_RISK])
    health_webhook_events_emit(day=DAY)
    Account.objects.filter(pk=night["falling"].pk).update(renewal_date=DAY + dt.timedelta(days=40))

    outcome = health_webhook_events_emit(day=DAY)

    assert outcome.deliveries == 1
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 3


def test_unsubscribed_and_paused_endpoints_get_nothing(night, no_sending):
    other = _endpoint([WebhookEvent.TASK_CREATED.value])
    paused = _endpoint([BAND_CHANGED, AT_RISK], active=False)
    only_changes = _endpoint([BAND_CHANGED])

    health_webhook_events_emit(day=DAY)

    assert not WebhookDelivery.objects.filter(endpoint__in=[other, paused]).exists()
    assert set(
        WebhookDelivery.objects.filter(endpoint=only_changes).values_list("event", flat=True)
    ) == {BAND_CHANGED}


def test_an_endpoint_added_later_hears_of_renewals_still_at_risk_but_the_first_does_not_again(
    night, no_sending
):
    first = _endpoint([AT_RISK])
    health_webhook_events_emit(day=DAY)
    second = _endpoint([AT_RISK])

    outcome = health_webhook_events_emit(day=DAY)

    assert outcome.deliveries == 2
    assert WebhookDelivery.objects.filter(endpoint=first).count() == 2
    assert WebhookDelivery.objects.filter(endpoint=second).count() == 2


def test_the_sends_are_queued_in_bulk_on_commit(
    night, django_capture_on_commit_callbacks, no_sending
):
    _endpoint([BAND_CHANGED, AT_RISK])

    with django_capture_on_commit_callbacks(execute=True):
        health_webhook_events_emit(day=DAY)

    # One bulk enqueue per event, not one call per delivery.
    assert no_sending.call_count == 2
    queued = sorted(pk for call in no_sending.call_args_list for pk in call.args[0])
    assert queued == sorted(WebhookDelivery.objects.values_list("pk", flat=True))


def _accounts_changing_band(count: int) -> None:
    for _number in range(count):
        account = AccountFactory(renewal_date=DAY + dt.timedelta(days=5))
        _score(account, DAY - dt.timedelta(days=1), 80)
        _score(account, DAY, 20)


@pytest.mark.parametrize("accounts", [5, 50])
def test_the_queries_do_not_grow_with_accounts(
    db, accounts, django_assert_max_num_queries, no_sending
):
    _endpoint([BAND_CHANGED, AT_RISK])
    _accounts_changing_band(accounts)

    # Two producers (one query each) and per event: endpoints, delivered keys, one insert
    # (8); the rest are the savepoints of the atomic blocks (6).
    with django_assert_max_num_queries(14):
        outcome = health_webhook_events_emit(day=DAY)

    assert outcome.deliveries == 2 * accounts


def test_the_nightly_task_records_its_run_and_returns_the_deliveries(night, no_sending):
    _endpoint([BAND_CHANGED])

    assert health_webhook_events_task(DAY.isoformat()) == 2
    assert health_webhook_events_task(DAY.isoformat()) == 0
    runs = JobRun.objects.filter(job="health_webhook_events", period="2026-03-10")
    assert [run.status for run in runs.order_by("pk")] == ["succeeded", "succeeded"]
    assert [run.rows for run in runs.order_by("pk")] == [2, 0]


def test_the_nightly_task_skips_when_another_run_holds_the_lock(night, no_sending):
    with mock.patch("accounts.jobs._try_lock", return_value=False):
        assert health_webhook_events_task(DAY.isoformat()) is None
    assert not WebhookDelivery.objects.exists()
    assert JobRun.objects.get(job="health_webhook_events").status == "skipped"


def test_the_job_is_scheduled_at_02_50():
    from cs_platform.beat_schedule import BEAT_SCHEDULE

    entry = BEAT_SCHEDULE["health-webhook-events"]
    assert entry["task"] == "accounts.webhook_tasks.health_webhook_events_task"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({2}, {50})


def test_the_bulk_enqueue_sends_one_group_of_delivery_tasks():
    from accounts.services.webhooks import _enqueue_bulk

    with mock.patch("celery.group") as group:
        _enqueue_bulk([11, 12, 13])

    assert group.call_count == 1
    signatures = list(group.call_args.args[0])
    assert [sig.task for sig in signatures] == [
        "accounts.webhook_tasks.webhook_delivery_send_task"
    ] * 3
    assert [sig.args for sig in signatures] == [(11,), (12,), (13,)]
    group.return_value.apply_async.assert_called_once_with()
