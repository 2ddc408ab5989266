"""Milestone status at the exact boundary days, worked out by hand.

The milestone: entered the stage on 1 Jan 2026, target 7 days, stuck after 14 days. So it is
due on 8 Jan (the last on-track day), behind from 9 Jan to 15 Jan, and stuck from 16 Jan.
"""

import datetime as dt

import pytest

from journeys.status import MilestoneStatus, milestone_status, milestone_timing

ENTERED = dt.date(2026, 1, 1)


def status_on(day: dt.date, *, completed: bool = False, target: int = 7, stuck: int = 14):
    return milestone_status(
        entered_on=ENTERED, target_days=target, stuck_days=stuck, today=day, completed=completed
    )


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 1, 1), MilestoneStatus.ON_TRACK),  # the entry day
        (dt.date(2026, 1, 8), MilestoneStatus.ON_TRACK),  # entered + 7: still on track
        (dt.date(2026, 1, 9), MilestoneStatus.BEHIND),  # entered + 8: first behind day
        (dt.date(2026, 1, 15), MilestoneStatus.BEHIND),  # entered + 14: last behind day
        (dt.date(2026, 1, 16), MilestoneStatus.STUCK),  # entered + 15: first stuck day
        (dt.date(2026, 6, 1), MilestoneStatus.STUCK),
    ],
)
def test_an_open_milestone_changes_status_on_the_boundary_days(day, expected):
    assert status_on(day) == expected


@pytest.mark.parametrize("day", [dt.date(2026, 1, 1), dt.date(2026, 1, 9), dt.date(2026, 3, 1)])
def test_a_completed_milestone_is_done_whatever_the_day(day):
    assert status_on(day, completed=True) == MilestoneStatus.DONE


def test_days_late_count_from_the_due_day():
    on_due_day = milestone_timing(
        entered_on=ENTERED, target_days=7, stuck_days=14, today=dt.date(2026, 1, 8), completed=False
    )
    first_behind = milestone_timing(
        entered_on=ENTERED, target_days=7, stuck_days=14, today=dt.date(2026, 1, 9), completed=False
    )
    first_stuck = milestone_timing(
        entered_on=ENTERED,
        target_days=7,
        stuck_days=14,
        today=dt.date(2026, 1, 16),
        completed=False,
    )

    assert on_due_day.due_on == dt.date(2026, 1, 8)
    assert on_due_day.days_late == 0
    assert first_behind.days_late == 1
    assert first_stuck.days_late == 8
    assert first_stuck.stuck_on == dt.date(2026, 1, 16)


def test_a_done_milestone_is_never_late():
    timing = milestone_timing(
        entered_on=ENTERED, target_days=7, stuck_days=14, today=dt.date(2026, 2, 1), completed=True
    )
    assert timing.days_late == 0


def test_a_milestone_whose_stuck_threshold_equals_its_target_goes_straight_to_stuck():
    assert status_on(dt.date(2026, 1, 8), target=7, stuck=7) == MilestoneStatus.ON_TRACK
    assert status_on(dt.date(2026, 1, 9), target=7, stuck=7) == MilestoneStatus.STUCK


def test_a_milestone_due_on_the_entry_day_is_behind_the_next_day():
    assert status_on(dt.date(2026, 1, 1), target=0, stuck=3) == MilestoneStatus.ON_TRACK
    assert status_on(dt.date(2026, 1, 2), target=0, stuck=3) == MilestoneStatus.BEHIND
    assert status_on(dt.date(2026, 1, 4), target=0, stuck=3) == MilestoneStatus.BEHIND
    assert status_on(dt.date(2026, 1, 5), target=0, stuck=3) == MilestoneStatus.STUCK


def test_statuses_carry_their_label_and_pill_colour():
    assert MilestoneStatus.ON_TRACK.label == "On track"
    assert MilestoneStatus.BEHIND.band == "yellow"
    assert MilestoneStatus.STUCK.band == "red"
