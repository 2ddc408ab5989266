"""Milestone status: pure date arithmetic, shared by the account panel and the journeys page.

A milestone of the account's current stage is due `target_days` after the account entered
the stage and stuck `stuck_days` after it. Both ends are inclusive for the better status:
on the due day itself the milestone is still on track, on the stuck day itself it is still
only behind. No database, no clock: `today` is always passed in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class MilestoneStatus(StrEnum):
    DONE = "done"
    ON_TRACK = "on_track"
    BEHIND = "behind"
    STUCK = "stuck"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def band(self) -> str:
        """The CSS band colour of the status pill (static/css/app.css `.band-*`)."""
        return STATUS_BANDS[self]


STATUS_LABELS: dict[MilestoneStatus, str] = {
    MilestoneStatus.DONE: "Done",
    MilestoneStatus.ON_TRACK: "On track",
    MilestoneStatus.BEHIND: "Behind",
    MilestoneStatus.STUCK: "Stuck",
}
STATUS_BANDS: dict[MilestoneStatus, str] = {
    MilestoneStatus.DONE: "none",
    MilestoneStatus.ON_TRACK: "green",
    MilestoneStatus.BEHIND: "yellow",
    MilestoneStatus.STUCK: "red",
}


@dataclass(frozen=True)
class MilestoneTiming:
    status: MilestoneStatus
    due_on: dt.date  # entered + target_days: the last on-track day
    stuck_on: dt.date  # entered + stuck_days + 1: the first stuck day
    days_late: int  # days past due_on; 0 when done or on track


def milestone_timing(
    *,
    entered_on: dt.date,
    target_days: int,
    stuck_days: int,
    today: dt.date,
    completed: bool,
) -> MilestoneTiming:
    """Status of one milestone for an account that entered its stage on `entered_on`.

    done      completed (whenever)
    on_track  today <= entered + target_days
    behind    entered + target_days < today <= entered + stuck_days
    stuck     today > entered + stuck_days
    """
    due_on = entered_on + dt.timedelta(days=target_days)
    last_behind_day = entered_on + dt.timedelta(days=stuck_days)
    stuck_on = last_behind_day + dt.timedelta(days=1)
    if completed:
        status = MilestoneStatus.DONE
    elif today <= due_on:
        status = MilestoneStatus.ON_TRACK
    elif today <= last_behind_day:
        status = MilestoneStatus.BEHIND
    else:
        status = MilestoneStatus.STUCK
    late = (today - due_on).days if status in (MilestoneStatus.BEHIND, MilestoneStatus.STUCK) else 0
    return MilestoneTiming(status=status, due_on=due_on, stuck_on=stuck_on, days_late=late)


def milestone_status(
    *,
    entered_on: dt.date,
    target_days: int,
    stuck_days: int,
    today: dt.date,
    completed: bool,
) -> MilestoneStatus:
    return milestone_timing(
        entered_on=entered_on,
        target_days=target_days,
        stuck_days=stuck_days,
        today=today,
        completed=completed,
    ).status
