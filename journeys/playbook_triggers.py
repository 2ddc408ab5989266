"""What each playbook trigger fires for: one set-based function per trigger.

Every function reads a couple of queries over all the accounts it is given (a queryset of
live accounts, possibly narrowed to a few ids) and returns one `Fire` per (account,
occurrence). The occurrence key names *what happened*, so the engine in journeys/playbooks.py
can tell a new occurrence from one it has already acted on. None of these functions writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from accounts.models import Account, Segment
from accounts.selectors.segments import segment_accounts
from feedback.models import SurveyAnswer
from health.models import HealthScore
from journeys.models import (
    AccountJourney,
    Milestone,
    MilestoneCompletion,
    Playbook,
    PlaybookFiring,
    SegmentPresence,
)
from journeys.status import MilestoneStatus, milestone_timing

# The health alert compares with the score a week earlier and stays quiet for a week after
# alerting (health/recompute.py); the playbook trigger uses the same window.
DROP_WINDOW_DAYS = 7
# Detractors answered within this many days before today are picked up, so a night the job
# did not run is caught up the next night; the occurrence key stops a second task.
DETRACTOR_WINDOW_DAYS = 7
NPS_DETRACTOR_MAX = 6
CSAT_UNHAPPY_MAX = 2


@dataclass(frozen=True)
class Fire:
    """One occurrence of a trigger on one account.

    `context` fills placeholders in the task's title and description ({renewal_date},
    {band}, ...); its "reason" says in words why the task exists and ends the description.
    `dedupe_key` is set when the task must converge with one another part of the app makes
    for the same event (the health alert, the detractor follow-up).
    """

    account_id: int
    occurrence: str
    context: Mapping[str, str] = field(default_factory=dict)
    dedupe_key: str = ""


@dataclass
class SegmentDiff:
    """Accounts that entered or left a segment since the presence rows were last written."""

    segment: Segment
    entered: list[int]
    # Accounts that left and are still live: only those get tasks.
    left_live: list[int]
    # Presence rows to delete: everyone who left, churned or not.
    left_all: list[int]
    # First evaluation of the segment: the current members, recorded without firing.
    initialise: list[int]


TriggerFn = Callable[..., list[Fire]]


def _latest_score_day(accounts: QuerySet[Account], today: dt.date) -> dt.date | None:
    # The nightly recompute scores every account for the same day, so the newest day on or
    # before `today` is the day to compare; the health alert keys its task on that day too.
    return HealthScore.objects.filter(day__lte=today, account__in=accounts).aggregate(
        latest=Max("day")
    )["latest"]


def band_changed_to(
    playbook: Playbook, *, today: dt.date, accounts: QuerySet[Account], **_: Any
) -> list[Fire]:
    """Accounts whose band on the latest scored day is `band` and differed the day before.

    An account with no score the day before has not *changed* band: nothing fires, as with
    the health alert. For red the task shares the alert's key, so both make one task.
    """
    band = str(playbook.params.get("band", ""))
    day = _latest_score_day(accounts, today)
    if not band or day is None:
        return []
    previous_day = day - dt.timedelta(days=1)
    rows = HealthScore.objects.filter(account__in=accounts, day__in=[day, previous_day])
    bands: dict[int, dict[dt.date, str]] = {}
    for account_id, score_day, score_band in rows.values_list("account_id", "day", "band"):
        bands.setdefault(account_id, {})[score_day] = score_band
    fires = []
    for account_id, by_day in bands.items():
        before = by_day.get(previous_day)
        if by_day.get(day) != band or before is None or before == band:
            continue
        fires.append(
            Fire(
                account_id=account_id,
                occurrence=f"band-{band}:{day.isoformat()}",
                context={
                    "band": band,
                    "previous_band": before,
                    "day": day.isoformat(),
                    "reason": f"Health went from {before} to {band} on {day.isoformat()}.",
                },
                dedupe_key=f"health-red:{day.isoformat()}" if band == "red" else "",
            )
        )
    return fires


def score_dropped(
    playbook: Playbook, *, today: dt.date, accounts: QuerySet[Account], **_: Any
) -> list[Fire]:
    """Score on the latest day fell by at least `points` against the score 7 days before.

    Once fired, the playbook stays quiet for that account for the rest of the week: a slide
    over several nights is one conversation, not one task a night.
    """
    points = int(playbook.params.get("points") or 0)
    day = _latest_score_day(accounts, today)
    if points <= 0 or day is None:
        return []
    week_before = day - dt.timedelta(days=DROP_WINDOW_DAYS)
    scores: dict[int, dict[dt.date, int]] = {}
    rows = HealthScore.objects.filter(account__in=accounts, day__in=[day, week_before])
    for account_id, score_day, score in rows.values_list("account_id", "day", "score"):
        scores.setdefault(account_id, {})[score_day] = score
    recent_keys = [
        f"drop:{(day - dt.timedelta(days=n)).isoformat()}" for n in range(1, DROP_WINDOW_DAYS)
    ]
    quiet = set(
        PlaybookFiring.objects.filter(
            playbook=playbook, occurrence__in=recent_keys, account__in=accounts
        ).values_list("account_id", flat=True)
    )
    fires = []
    for account_id, by_day in scores.items():
        now, before = by_day.get(day), by_day.get(week_before)
        if now is None or before is None or before - now < points or account_id in quiet:
            continue
        fires.append(
            Fire(
                account_id=account_id,
                occurrence=f"drop:{day.isoformat()}",
                context={
                    "score": str(now),
                    "previous_score": str(before),
                    "points": str(before - now),
                    "reason": f"Health fell {before - now} points in {DROP_WINDOW_DAYS} days "
                    f"(from {before} to {now}) by {day.isoformat()}.",
                },
            )
        )
    return fires


def renewal_in_days(
    playbook: Playbook, *, today: dt.date, accounts: QuerySet[Account], **_: Any
) -> list[Fire]:
    """Renewal date within [today, today + days], optionally only for some health bands.

    Keyed by the renewal date: one task per renewal, whichever night first sees it.
    """
    days = int(playbook.params.get("days") or 0)
    if days <= 0:
        return []
    renewing = accounts.filter(
        renewal_date__gte=today, renewal_date__lte=today + dt.timedelta(days)
    )
    band_in = playbook.params.get("band_in") or []
    if band_in:
        renewing = renewing.filter(health_band__in=band_in)
    fires = []
    for account_id, renewal, band in renewing.values_list("pk", "renewal_date", "health_band"):
        if renewal is None:  # excluded by the filter; says so to the type checker
            continue
        band_note = f" Health is {band}." if band else ""
        fires.append(
            Fire(
                account_id=account_id,
                occurrence=f"renewal:{renewal.isoformat()}",
                context={
                    "renewal_date": renewal.isoformat(),
                    "days_to_renewal": str((renewal - today).days),
                    "reason": f"Renews on {renewal.isoformat()}, in {(renewal - today).days} "
                    f"days.{band_note}",
                },
            )
        )
    return fires


def stage_entered(
    playbook: Playbook, *, today: dt.date, accounts: QuerySet[Account], **_: Any
) -> list[Fire]:
    """Accounts now in the stage; each entry (its date) is its own occurrence."""
    stage_id = playbook.params.get("stage")
    if not stage_id:
        return []
    journeys = AccountJourney.objects.filter(stage_id=stage_id, account__in=accounts)
    fires = []
    for account_id, entered_at, stage_name in journeys.values_list(
        "account_id", "entered_at", "stage__name"
    ):
        entered_on = timezone.localdate(entered_at)
        fires.append(
            Fire(
                account_id=account_id,
                occurrence=f"stage:{stage_id}:{entered_on.isoformat()}",
                context={
                    "stage": stage_name,
                    "entered_on": entered_on.isoformat(),
                    "reason": f"Entered the stage {stage_name} on {entered_on.isoformat()}.",
                },
            )
        )
    return fires


def milestone_overdue(
    playbook: Playbook, *, today: dt.date, accounts: QuerySet[Account], **_: Any
) -> list[Fire]:
    """Milestones of the account's current stage past their target and not completed.

    "Past target" is the journeys page's "behind" or "stuck" (journeys/status.py): more than
    `target_days` whole days since the stage was entered. One occurrence per milestone per
    stage entry, so an account that comes back into the stage is chased again.
    """
    milestones = Milestone.objects.all()
    if playbook.params.get("stage"):
        milestones = milestones.filter(stage_id=playbook.params["stage"])
    if playbook.params.get("milestone"):
        milestones = milestones.filter(pk=playbook.params["milestone"])
    by_stage: dict[int, list[tuple[int, str, int, int, str]]] = {}
    for pk, stage_id, name, target_days, stuck_days, stage_name in milestones.values_list(
        "pk", "stage_id", "name", "target_days", "stuck_days", "stage__name"
    ):
        by_stage.setdefault(stage_id, []).append((pk, name, target_days, stuck_days, stage_name))
    if not by_stage:
        return []
    shortest = min(m[2] for ms in by_stage.values() for m in ms)
    # Late means entered before (today - target) in local days; nobody who entered on or
    # after that day for the shortest target can be late on any milestone yet.
    latest_entry = timezone.make_aware(
        dt.datetime.combine(today - dt.timedelta(days=shortest), dt.time.min)
    )
    journeys = AccountJourney.objects.filter(
        account__in=accounts, stage_id__in=list(by_stage), entered_at__lt=latest_entry
    )
    done = set(
        MilestoneCompletion.objects.filter(
            account__in=journeys.values("account_id"),
            milestone_id__in=[m[0] for ms in by_stage.values() for m in ms],
        ).values_list("account_id", "milestone_id")
    )
    fires = []
    for account_id, stage_id, entered_at in journeys.values_list(
        "account_id", "stage_id", "entered_at"
    ):
        entered_on = timezone.localdate(entered_at)
        for milestone_id, name, target_days, stuck_days, stage_name in by_stage[stage_id]:
            timing = milestone_timing(
                entered_on=entered_on,
                target_days=target_days,
                stuck_days=stuck_days,
                today=today,
                completed=(account_id, milestone_id) in done,
            )
            if timing.status not in (MilestoneStatus.BEHIND, MilestoneStatus.STUCK):
                continue
            due_on = timing.due_on.isoformat()
            fires.append(
                Fire(
                    account_id=account_id,
                    occurrence=f"milestone:{milestone_id}:{entered_on.isoformat()}",
                    context={
                        "milestone": name,
                        "stage": stage_name,
                        "due_on": due_on,
                        "reason": f"“{name}” was due on {due_on}, {target_days} days after "
                        f"entering {stage_name} on {entered_on.isoformat()}, and is not done.",
                    },
                )
            )
    return fires


def detractor(
    playbook: Playbook, *, today: dt.date, accounts: QuerySet[Account], **_: Any
) -> list[Fire]:
    """NPS 0–6 or CSAT 1–2 answered recently; one occurrence per answer.

    The task shares the key of the feedback close-the-loop ("detractor:<answer id>"), so the
    two converge on one task whichever comes first.
    """
    since = timezone.make_aware(
        dt.datetime.combine(today - dt.timedelta(days=DETRACTOR_WINDOW_DAYS), dt.time.min)
    )
    until = timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min))
    answers = SurveyAnswer.objects.filter(
        Q(kind="nps", score__lte=NPS_DETRACTOR_MAX) | Q(kind="csat", score__lte=CSAT_UNHAPPY_MAX),
        account__in=accounts,
        answered_at__gte=since,
        answered_at__lt=until,
    )
    fires = []
    for answer_id, account_id, kind, score, comment, answered_at in answers.values_list(
        "pk", "account_id", "kind", "score", "comment", "answered_at"
    ):
        answered_on = timezone.localdate(answered_at)
        said = f" They said: “{comment.strip()}”" if comment.strip() else ""
        fires.append(
            Fire(
                account_id=account_id,
                occurrence=f"answer:{answer_id}",
                context={
                    "kind": kind.upper(),
                    "score": str(score),
                    "answered_on": answered_on.isoformat(),
                    "reason": f"{kind.upper()} answer of {score} on {answered_on.isoformat()}."
                    f"{said}",
                },
                dedupe_key=f"detractor:{answer_id}",
            )
        )
    return fires


def no_interaction(
    playbook: Playbook, *, today: dt.date, accounts: QuerySet[Account], **_: Any
) -> list[Fire]:
    """Last interaction more than `days` ago, or none at all on an account older than that.

    Keyed by the last interaction's date: logging one and going quiet again is a new
    occurrence; staying quiet is the same one.
    """
    days = int(playbook.params.get("days") or 0)
    if days <= 0:
        return []
    cutoff = today - dt.timedelta(days=days)
    quiet = accounts.filter(
        Q(last_interaction_on__lt=cutoff)
        | Q(last_interaction_on__isnull=True, start_date__lt=cutoff)
    )
    fires = []
    for account_id, last, started in quiet.values_list("pk", "last_interaction_on", "start_date"):
        reason = (
            f"No interaction logged since {last.isoformat()}."
            if last
            else f"No interaction logged since the account started on {started.isoformat()}."
        )
        fires.append(
            Fire(
                account_id=account_id,
                occurrence=f"quiet-since:{last.isoformat() if last else 'never'}",
                context={
                    "last_interaction_on": last.isoformat() if last else "never",
                    "reason": reason,
                },
            )
        )
    return fires


def segment_diff(
    segment_id: int,
    *,
    today: dt.date,
    accounts: QuerySet[Account],
    account_ids: list[int] | None,
) -> SegmentDiff | None:
    """Who entered and who left the segment since the presence rows were written.

    With no presence rows at all the segment has never been evaluated: every current member
    is recorded silently, so a new playbook does not fire for the whole segment at once.
    """
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return None
    members = segment_accounts(segment, today=today).exclude(
        lifecycle_status=Account.Lifecycle.CHURNED
    )
    presences = SegmentPresence.objects.filter(segment=segment)
    if not presences.exists():
        initial = list(members.values_list("pk", flat=True).distinct())
        return SegmentDiff(segment, entered=[], left_live=[], left_all=[], initialise=initial)
    if account_ids is not None:
        presences = presences.filter(account_id__in=account_ids)
    current = set(members.filter(pk__in=accounts.values("pk")).values_list("pk", flat=True))
    present = dict(presences.values_list("account_id", "account__lifecycle_status"))
    left = sorted(set(present) - current)
    return SegmentDiff(
        segment,
        entered=sorted(current - set(present)),
        left_live=[pk for pk in left if present[pk] != Account.Lifecycle.CHURNED],
        left_all=left,
        initialise=[],
    )


def segment_entered(
    playbook: Playbook, *, today: dt.date, segment_diffs: Mapping[int, SegmentDiff], **_: Any
) -> list[Fire]:
    diff = segment_diffs.get(int(playbook.params.get("segment") or 0))
    if diff is None:
        return []
    reason = f"Entered the segment “{diff.segment.name}” on {today.isoformat()}."
    return [
        Fire(
            account_id=pk,
            occurrence=f"enter:{today.isoformat()}",
            context={"segment": diff.segment.name, "reason": reason},
        )
        for pk in diff.entered
    ]


def segment_left(
    playbook: Playbook, *, today: dt.date, segment_diffs: Mapping[int, SegmentDiff], **_: Any
) -> list[Fire]:
    diff = segment_diffs.get(int(playbook.params.get("segment") or 0))
    if diff is None:
        return []
    reason = f"Left the segment “{diff.segment.name}” on {today.isoformat()}."
    return [
        Fire(
            account_id=pk,
            occurrence=f"leave:{today.isoformat()}",
            context={"segment": diff.segment.name, "reason": reason},
        )
        for pk in diff.left_live
    ]


TRIGGERS: dict[str, TriggerFn] = {
    Playbook.Trigger.BAND_CHANGED_TO: band_changed_to,
    Playbook.Trigger.SCORE_DROPPED: score_dropped,
    Playbook.Trigger.RENEWAL_IN_DAYS: renewal_in_days,
    Playbook.Trigger.STAGE_ENTERED: stage_entered,
    Playbook.Trigger.MILESTONE_OVERDUE: milestone_overdue,
    Playbook.Trigger.DETRACTOR: detractor,
    Playbook.Trigger.NO_INTERACTION: no_interaction,
    Playbook.Trigger.SEGMENT_ENTERED: segment_entered,
    Playbook.Trigger.SEGMENT_LEFT: segment_left,
}
SEGMENT_TRIGGERS = {Playbook.Trigger.SEGMENT_ENTERED, Playbook.Trigger.SEGMENT_LEFT}
