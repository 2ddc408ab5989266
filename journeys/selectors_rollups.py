"""The journeys page read from the nightly rollup of its scope (journeys.rollups): the same
figures as the live selectors of journeys.selectors for the rollup's day, in a few index
reads whatever the number of accounts.

The overdue list names accounts, so only their ids are stored: a page reads the stored
groups overlapping it, then those accounts by primary key, still narrowed to the viewer's
accounts and dropping milestones done since.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models.functions import TruncDate

from accounts.models import Account, AccountQuerySet, Segment, Team, User
from health.models import RetentionSnapshot
from health.selectors import RollupScope, rollup_scope_for
from journeys.models import (
    JourneyOverdueGroup,
    JourneyRollup,
    JourneyStageRollup,
    JourneyTtvMonth,
    MilestoneCompletion,
    Stage,
)
from journeys.selectors import (
    TTV_MONTHS,
    Funnel,
    FunnelStep,
    OverdueMilestone,
    OverdueMilestones,
    SlicedOverdueRows,
    StageTime,
    TimeToValue,
    TtvMonth,
    _person,
    month_starts,
)
from journeys.status import MilestoneStatus, milestone_timing


def journey_rollup_scope(
    *, user: User, segment: Segment | None, team: Team | None, csm: User | None
) -> RollupScope | None:
    """The one nightly scope whose accounts are exactly what `user` sees under these filters
    (health.selectors.rollup_scope_for), or None: then the page counts live.

    A CSM sees their own accounts and their team's. Unfiltered, that is their team's scope
    when they own no account outside their team (one indexed lookup), their own scope when
    they have no team; filtered by themselves, it is their own scope.
    """
    found = rollup_scope_for(user=user, segment=segment, team=team, csm=csm)
    if found is not None or user.sees_all_accounts or segment is not None or team is not None:
        return found
    Scope = RetentionSnapshot.Scope
    if csm is not None:
        return RollupScope(Scope.CSM, str(user.pk)) if csm.pk == user.pk else None
    if user.team_id is None:
        return RollupScope(Scope.CSM, str(user.pk))
    if Account.objects.filter(owner=user).exclude(team_id=user.team_id).exists():
        return None
    return RollupScope(Scope.TEAM, str(user.team_id))


class StoredOverdueRows(SlicedOverdueRows):
    """The late milestones of a scope in list order, as of the rollup's day.

    Its length is the stored count; a slice reads the stored groups overlapping it with
    their milestones (one query), their accounts by primary key within the viewer's (one)
    and which of those milestones were done since the night (one). A milestone done, or an
    account moved on or churned since, is left out, so a page may then show fewer rows than
    its size until the next run.
    """

    def __init__(
        self,
        scope: RollupScope,
        *,
        accounts: AccountQuerySet,
        total: int,
        stage_names: dict[int, str],
        day: dt.date,
    ) -> None:
        self._scope = scope
        self._accounts = accounts
        self._total = total
        self._stage_names = stage_names
        self._day = day

    def _read(self, start: int, stop: int) -> list[OverdueMilestone]:
        if start >= stop:
            return []
        # Flat values, not model instances: a page overlaps some fifty groups.
        groups = list(
            JourneyOverdueGroup.objects.filter(
                scope=self._scope.scope,
                scope_key=self._scope.key,
                first_row__lt=stop,
                end_row__gt=start,
            ).values_list(
                "first_row",
                "account_ids",
                "entered_on",
                "milestone_id",
                "milestone__stage_id",
                "milestone__name",
                "milestone__order",
                "milestone__is_required",
                "milestone__target_days",
                "milestone__stuck_days",
            )
        )
        if not groups:
            return []
        first = min(group[0] for group in groups)
        wanted = {account_id for group in groups for account_id in group[1]}
        # Through the viewer's accounts: a stored id they may not see is never named.
        found = {
            row[0]: row[1:]
            for row in self._accounts.live()
            .filter(pk__in=wanted)
            .order_by()
            .values_list(
                "id",
                "name",
                "owner__first_name",
                "owner__last_name",
                "owner__username",
                "journey__stage_id",
                TruncDate("journey__entered_at"),
            )
        }
        done = set(
            MilestoneCompletion.objects.filter(
                account_id__in=list(found),
                milestone_id__in={group[3] for group in groups},
            ).values_list("account_id", "milestone_id")
        )
        rows: list[tuple[tuple[bool, int], str, int, tuple[int, int], OverdueMilestone]] = []
        for (
            _,
            account_ids,
            entered_on,
            milestone_id,
            stage_id,
            milestone_name,
            order,
            is_required,
            target_days,
            stuck_days,
        ) in groups:
            timing = milestone_timing(
                entered_on=entered_on,
                target_days=target_days,
                stuck_days=stuck_days,
                today=self._day,
                completed=False,
            )
            key = (timing.status != MilestoneStatus.STUCK, -timing.days_late)
            stage_name = self._stage_names.get(stage_id, "")
            for account_id in account_ids:
                account = found.get(account_id)
                # Churned, moved on or done since the night: no longer late this way.
                if (
                    account is None
                    or account[4:] != (stage_id, entered_on)
                    or (account_id, milestone_id) in done
                ):
                    continue
                name, first_name, last_name, username = account[:4]
                row = OverdueMilestone(
                    account_id=account_id,
                    account_name=name,
                    owner_name=_person(first_name, last_name, username),
                    stage_name=stage_name,
                    milestone_name=milestone_name,
                    is_required=is_required,
                    status=timing.status,
                    due_on=timing.due_on,
                    days_late=timing.days_late,
                )
                rows.append((key, name.lower(), account_id, (order, milestone_id), row))
        rows.sort(key=lambda r: r[:4])
        return [r[4] for r in rows][start - first : stop - first]


@dataclass(frozen=True)
class StoredJourneys:
    day: dt.date  # the day the figures are for
    computed_at: dt.datetime
    funnel: Funnel
    times: list[StageTime]
    overdue: OverdueMilestones
    ttv: TimeToValue


def journeys_stored(
    scope: RollupScope, *, accounts: AccountQuerySet, stages: Sequence[Stage]
) -> StoredJourneys | None:
    """The scope's page as the nightly job stored it, in three queries (and the overdue
    list's when a page of it is read); None before the job has covered the scope.

    `accounts` are the viewer's accounts narrowed to the scope: the overdue list reads its
    names through them, so the stored groups can never show an account one may not see.
    """
    header = JourneyRollup.objects.filter(scope=scope.scope, scope_key=scope.key).first()
    if header is None:
        return None
    by_stage = {
        row.stage_id: row
        for row in JourneyStageRollup.objects.filter(scope=scope.scope, scope_key=scope.key)
    }
    by_month = {
        month: (n, median)
        for month, n, median in JourneyTtvMonth.objects.filter(
            scope=scope.scope, scope_key=scope.key
        ).values_list("month", "accounts", "median_days")
    }

    steps = []
    times = []
    for stage in stages:
        row = by_stage.get(stage.pk) or JourneyStageRollup(stage=stage)
        steps.append(FunnelStep(stage=stage, label=stage.name, accounts=row.accounts, arr=row.arr))
        times.append(
            StageTime(
                stage=stage,
                stays=row.stays,
                median_days=row.median_days,
                p90_days=row.p90_days,
                in_stage_now=row.in_stage_now,
                over_target_now=row.over_target_now,
            )
        )
    not_started = FunnelStep(
        stage=None,
        label="Not started",
        accounts=header.not_started_accounts,
        arr=header.not_started_arr,
    )
    funnel = Funnel(
        steps=steps,
        not_started=not_started,
        total_accounts=not_started.accounts + sum(step.accounts for step in steps),
        total_arr=sum((step.arr for step in steps), Decimal(not_started.arr)),
    )
    overdue = OverdueMilestones(
        rows=StoredOverdueRows(
            scope,
            accounts=accounts,
            total=header.behind + header.stuck,
            stage_names={stage.pk: stage.name for stage in stages},
            day=header.day,
        ),
        behind=header.behind,
        stuck=header.stuck,
        stuck_accounts=header.stuck_accounts,
    )
    ttv = TimeToValue(
        months=[
            TtvMonth(
                month=month,
                accounts=by_month.get(month, (0, None))[0],
                median_days=by_month.get(month, (0, None))[1],
            )
            for month in month_starts(header.day, TTV_MONTHS)
        ],
        accounts=header.ttv_accounts,
        median_days=header.ttv_median_days,
    )
    return StoredJourneys(
        day=header.day,
        computed_at=header.computed_at,
        funnel=funnel,
        times=times,
        overdue=overdue,
        ttv=ttv,
    )
