"""Time in stage and time to value worked out by PostgreSQL must give the numbers of the
Python way (kept for SQLite), on a history built to catch the edge cases by hand.

All moments are UTC; today is 15 Mar 2026 (time-to-value months Apr 2025 .. Mar 2026).

  A  start 1 Dec 2025  onboarding 1 Jan 09:00 -> activation 1 Jan 15:00 (same day: 0 d)
                       -> onboarding 20 Jan (back: 19 d in activation)
                       -> activation 5 Feb (16 d), open since
  B  start 5 Jan       onboarding 5 Jan -> activation 10 Jan 11:30 (5 d)
                       -> adoption 10 Jan 11:30, the same moment (0 d in activation)
                       -> renewal 20 Jan (10 d in adoption), open since
  C  start 1 Mar       onboarding 15 Jan -> activation 14 Feb (30 d; starts after its exit)
  D  start 1 Feb       onboarding since 1 Feb: open, no stay and no value yet
  F  start 1 Feb       onboarding 1 Mar -> activation 20 Mar (19 d; exit after today)
  G  start 1 Jan 2025  onboarding 1 Feb 2025 -> activation 10 Mar 2025 (37 d; before the
                       twelve months)
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Account
from journeys.models import Stage
from journeys.selectors import (
    month_starts,
    stay_stats_python,
    stay_stats_sql,
    ttv_stats_python,
    ttv_stats_sql,
)
from journeys.services import journey_move, journey_start
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 15)
needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="percentile_cont is PostgreSQL's"
)


def utc(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def history(name: str, start: dt.date, *steps) -> Account:
    """steps: (stage slug, moment) in order; the first starts the journey."""
    account = AccountFactory(name=name, arr=Decimal("1000"), start_date=start)
    stages = {s.slug: s for s in Stage.objects.all()}
    (first, when), *rest = steps
    journey_start(account=account, stage=stages[first], by=None, at=when)
    for slug, moment in rest:
        journey_move(account=account, to_stage=stages[slug], reason="test", at=moment)
    return account


@pytest.fixture
def edge_cases() -> dict[str, Account]:
    return {
        "a": history(
            "A",
            dt.date(2025, 12, 1),
            ("onboarding", utc(2026, 1, 1, 9)),
            ("activation", utc(2026, 1, 1, 15)),
            ("onboarding", utc(2026, 1, 20)),
            ("activation", utc(2026, 2, 5)),
        ),
        "b": history(
            "B",
            dt.date(2026, 1, 5),
            ("onboarding", utc(2026, 1, 5)),
            ("activation", utc(2026, 1, 10, 11, 30)),
            ("adoption", utc(2026, 1, 10, 11, 30)),
            ("renewal", utc(2026, 1, 20)),
        ),
        "c": history(
            "C",
            dt.date(2026, 3, 1),
            ("onboarding", utc(2026, 1, 15)),
            ("activation", utc(2026, 2, 14)),
        ),
        "d": history("D", dt.date(2026, 2, 1), ("onboarding", utc(2026, 2, 1))),
        "f": history(
            "F",
            dt.date(2026, 2, 1),
            ("onboarding", utc(2026, 3, 1)),
            ("activation", utc(2026, 3, 20)),
        ),
        "g": history(
            "G",
            dt.date(2025, 1, 1),
            ("onboarding", utc(2025, 2, 1)),
            ("activation", utc(2025, 3, 10)),
        ),
    }


def by_slug(stats: dict) -> dict:
    slugs = dict(Stage.objects.values_list("pk", "slug"))
    return {slugs[stage_id]: values for stage_id, values in stats.items()}


def test_stays_by_hand_in_utc(edge_cases):
    """Onboarding 0, 5, 16, 19, 30, 37: median (16 + 19) / 2 = 17.5; p90 at rank 4.5:
    30 + 0.5 x 7 = 33.5. Activation 19 and 0 (B's, the earlier pk of two moves at the same
    moment): median 9.5, p90 at rank 0.9: 0 + 0.9 x 19 = 17.1. Adoption: B's 10 days."""
    with timezone.override("UTC"):
        stats = by_slug(stay_stats_python(Account.objects.all()))

    assert stats["onboarding"] == (6, 17.5, pytest.approx(33.5))
    assert stats["activation"][:2] == (2, 9.5)
    assert stats["activation"][2] == pytest.approx(17.1)
    assert stats["adoption"] == (1, 10, 10)
    assert "renewal" not in stats  # B is still there: an open stay


def test_time_to_value_by_hand_in_utc(edge_cases):
    """First exits: A 1 Jan (31 d), B 10 Jan (5 d), C 14 Feb (0: its start is later).
    F's exit is after today, G's before April 2025: neither counts. January: 31 and 5,
    median 18; February 0; over the three: 5."""
    with timezone.override("UTC"):
        by_month, overall = ttv_stats_python(
            Account.objects.all(), starts=month_starts(TODAY, 12), today=TODAY
        )

    assert by_month == {dt.date(2026, 1, 1): (2, 18), dt.date(2026, 2, 1): (1, 0)}
    assert overall == (3, 5)


@needs_postgresql
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland", "America/Los_Angeles"])
def test_postgresql_stays_match_the_python_way(edge_cases, zone):
    """In Auckland (UTC+13) A's 09:00 and 15:00 moves fall on two local days, and B's 11:30
    moves on the next day: local days, not UTC ones, must be subtracted on both ways."""
    with timezone.override(zone):
        for accounts in (
            Account.objects.all(),
            Account.objects.filter(pk__in=[edge_cases["a"].pk, edge_cases["b"].pk]),
            Account.objects.none(),
        ):
            python = stay_stats_python(accounts)
            sql = stay_stats_sql(accounts)
            assert sql.keys() == python.keys()
            for stage_id, (stays, median, p90) in python.items():
                assert sql[stage_id] == (stays, pytest.approx(median), pytest.approx(p90))


@needs_postgresql
def test_postgresql_stays_in_utc_are_the_hand_worked_ones(edge_cases):
    with timezone.override("UTC"):
        stats = by_slug(stay_stats_sql(Account.objects.all()))

    assert stats["onboarding"] == (6, 17.5, pytest.approx(33.5))
    assert stats["activation"] == (2, 9.5, pytest.approx(17.1))
    assert stats["adoption"] == (1, 10, 10)
    assert "renewal" not in stats


@needs_postgresql
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland", "America/Los_Angeles"])
def test_postgresql_time_to_value_matches_the_python_way(edge_cases, zone):
    starts = month_starts(TODAY, 12)
    with timezone.override(zone):
        for accounts in (
            Account.objects.all(),
            Account.objects.exclude(pk=edge_cases["b"].pk),
            Account.objects.none(),
        ):
            python = ttv_stats_python(accounts, starts=starts, today=TODAY)
            sql = ttv_stats_sql(accounts, starts=starts, today=TODAY)
            assert sql == python


@needs_postgresql
def test_postgresql_time_to_value_counts_the_first_exit_only(edge_cases):
    """A returns to onboarding and leaves it again on 5 Feb: still 31 days, in January."""
    with timezone.override("UTC"):
        by_month, overall = ttv_stats_sql(
            Account.objects.all(), starts=month_starts(TODAY, 12), today=TODAY
        )

    assert by_month == {dt.date(2026, 1, 1): (2, 18.0), dt.date(2026, 2, 1): (1, 0.0)}
    assert overall == (3, 5.0)
