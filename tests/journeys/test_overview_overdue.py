"""The journeys page's overdue list, counted in the database and read one page at a time,
must give milestones_overdue's rows in milestones_overdue's order.

Onboarding's milestones: kickoff 7/14 days, setup 21/35, training 30/45 (target/stuck).
On 15 Mar 2026, entries at 09:00 local time:

  Due day      entered 22 Feb  kickoff stuck 14 late; setup due today: still on track
  behind       entered 21 Feb  kickoff stuck 15; setup behind 1 (due yesterday)
  Last behind  entered  8 Feb  kickoff stuck 28; setup behind 14 (today is its last behind
                               day); training behind 5
  First stuck  entered  7 Feb  kickoff done; setup stuck 15 (stuck since today);
                               training behind 6
  Gone         entered  1 Jan  churned: no rows
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account
from journeys.models import Milestone, Stage
from journeys.selectors import (
    current_journeys,
    milestones_overdue,
    overdue_overview,
    stage_entries,
    stages_ordered,
)
from journeys.services import journey_start, milestone_complete
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 15)
KICKOFF, SETUP, TRAINING = "Kickoff call held", "Technical setup complete", "Admins trained"


def entered(name: str, month: int, day: int) -> Account:
    account = AccountFactory(name=name, arr=Decimal("1000"), start_date=dt.date(2025, 12, 1))
    journey_start(
        account=account,
        stage=Stage.objects.get(slug="onboarding"),
        by=None,
        at=timezone.make_aware(dt.datetime(2026, month, day, 9)),
    )
    return account


@pytest.fixture
def late_book(owner) -> None:
    entered("Due day", 2, 22)
    entered("behind", 2, 21)
    entered("Last behind", 2, 8)
    first_stuck = entered("First stuck", 2, 7)
    kickoff = Milestone.objects.get(stage__slug="onboarding", name=KICKOFF)
    milestone_complete(account=first_stuck, milestone=kickoff, by=owner)
    gone = entered("Gone", 1, 1)
    Account.objects.filter(pk=gone.pk).update(
        lifecycle_status=Account.Lifecycle.CHURNED, churned_on=dt.date(2026, 2, 1)
    )


def listed(rows) -> list[tuple[str, str, str, int]]:
    return [(r.account_name, r.milestone_name, r.status.value, r.days_late) for r in rows]


EXPECTED = [
    ("Last behind", KICKOFF, "stuck", 28),
    # A 15-day tie: names compare in lower case, so "behind" comes before "First stuck".
    ("behind", KICKOFF, "stuck", 15),
    ("First stuck", SETUP, "stuck", 15),
    ("Due day", KICKOFF, "stuck", 14),
    ("Last behind", SETUP, "behind", 14),
    ("First stuck", TRAINING, "behind", 6),
    ("Last behind", TRAINING, "behind", 5),
    ("behind", SETUP, "behind", 1),
]


def test_the_overdue_list_is_worked_out_by_hand(late_book):
    overdue = overdue_overview(Account.objects.all(), stages=stages_ordered(), today=TODAY)

    assert len(overdue.rows) == 8
    assert listed(overdue.rows) == EXPECTED
    assert (overdue.behind, overdue.stuck, overdue.stuck_accounts) == (4, 4, 4)


def test_it_gives_the_rows_and_counts_of_milestones_overdue(late_book):
    accounts = Account.objects.all()
    stages = stages_ordered()
    whole = milestones_overdue(
        accounts, stages=stages, current=current_journeys(accounts), today=TODAY
    )

    paged = overdue_overview(accounts, stages=stages, today=TODAY)

    assert list(paged.rows) == whole.rows
    assert (paged.behind, paged.stuck, paged.stuck_accounts) == (
        whole.behind,
        whole.stuck,
        whole.stuck_accounts,
    )


def test_any_slice_reads_the_same_rows_as_the_whole_list(late_book, django_assert_num_queries):
    rows = overdue_overview(Account.objects.all(), stages=stages_ordered(), today=TODAY).rows

    with django_assert_num_queries(1):
        page = rows[3:6]
    assert listed(page) == EXPECTED[3:6]
    assert listed(rows[0:3] + rows[3:6] + rows[6:9]) == EXPECTED
    assert listed([rows[-1], rows[4]]) == [EXPECTED[-1], EXPECTED[4]]
    assert rows[8:20] == []
    with pytest.raises(IndexError):
        rows[8]


def test_a_scope_without_late_milestones_lists_nothing(late_book, teammate):
    overdue = overdue_overview(
        Account.objects.filter(owner=teammate), stages=stages_ordered(), today=TODAY
    )

    assert (len(overdue.rows), list(overdue.rows)) == (0, [])
    assert (overdue.behind, overdue.stuck, overdue.stuck_accounts) == (0, 0, 0)


def test_stage_entries_count_live_accounts_per_entry_day(late_book):
    onboarding = Stage.objects.get(slug="onboarding").pk

    entries = stage_entries(Account.objects.all())

    assert sorted((e.stage_id, e.entered_on, e.accounts) for e in entries) == [
        (onboarding, dt.date(2026, 2, 7), 1),
        (onboarding, dt.date(2026, 2, 8), 1),
        (onboarding, dt.date(2026, 2, 21), 1),
        (onboarding, dt.date(2026, 2, 22), 1),
    ]
