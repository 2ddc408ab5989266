"""Writes of the journeys app: where an account stands, its milestones, the sales handoff, and
the stages and milestones themselves.

Every move of an account between stages goes through journey_move (or journey_start for the
first stage), so each one leaves a StageTransition saying from, to, when, who or which rule,
and why; and each one asks the playbooks to look at the account once the move is committed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.audit import FROM_REQUEST, Action, audit_record, changes_between
from accounts.models import Account, User
from accounts.selectors.access import local_today
from accounts.services.webhooks import webhook_event_emit
from accounts.webhook_models import WebhookEvent
from journeys.models import (
    AccountJourney,
    Handoff,
    Milestone,
    MilestoneCompletion,
    Stage,
    StageTransition,
)

AUTO_ADVANCE_RULE = "auto:milestones"
REASON_MAX_LENGTH = 1000
NOTE_MAX_LENGTH = 2000
STAGE_FIELDS = ("name", "slug", "order", "target_days", "auto_advance", "description")
MILESTONE_FIELDS = ("name", "target_days", "stuck_days", "is_required", "order", "description")


def _enqueue_playbooks(account: Account) -> None:
    """Let the playbooks react to the move ("stage entered") once it is committed."""
    # Imported here: the playbook engine behind the task reads journeys, and a module-level
    # import would tie this module's import to the engine's.
    from journeys.tasks import playbooks_run_task

    today = local_today()
    account_ids = [account.pk]
    transaction.on_commit(lambda: playbooks_run_task.delay(today.isoformat(), account_ids))


def _ensure_handoff(account: Account, stage: Stage) -> None:
    """Entering onboarding opens an empty handoff for sales to fill, unless one exists."""
    if stage.slug == Stage.ONBOARDING_SLUG:
        Handoff.objects.get_or_create(account=account)


# --- The account's journey ---------------------------------------------------------------


@transaction.atomic
def journey_start(
    *,
    account: Account,
    stage: Stage,
    by: User | None,
    rule: str = "",
    reason: str = "",
    at: dt.datetime | None = None,
) -> AccountJourney:
    """Put an account on its journey in `stage`, recording a transition from nowhere.

    `at` backdates the entry (imports, history); it defaults to now.
    """
    at = at or timezone.now()
    if AccountJourney.objects.filter(account=account).exists():
        raise ValidationError("This account's journey has already started; move it instead.")
    try:
        # A savepoint, so a concurrent start that won the race leaves this transaction usable.
        with transaction.atomic():
            journey = AccountJourney.objects.create(account=account, stage=stage, entered_at=at)
    except IntegrityError:
        raise ValidationError(
            "This account's journey has already started; move it instead."
        ) from None
    StageTransition.objects.create(
        account=account, from_stage=None, to_stage=stage, at=at, by=by, rule=rule, reason=reason
    )
    _audit_move(account, from_stage=None, to_stage=stage, by=by, rule=rule, reason=reason, at=at)
    _ensure_handoff(account, stage)
    _enqueue_playbooks(account)
    return journey


@transaction.atomic
def journey_move(
    *,
    account: Account,
    to_stage: Stage,
    by: User | None = None,
    rule: str = "",
    reason: str = "",
    at: dt.datetime | None = None,
) -> StageTransition:
    """Move an account to `to_stage` (forward or back) and record who or which rule, and why.

    The journey row is locked, so two moves of one account run one after the other and the
    second records the stage the first left it in.
    """
    at = at or timezone.now()
    journey = (
        AccountJourney.objects.select_for_update()
        .select_related("stage")
        .filter(account=account)
        .first()
    )
    if journey is None:
        raise ValidationError("This account's journey has not started yet: start it first.")
    if journey.stage_id == to_stage.pk:
        raise ValidationError({"to_stage": f"The account is already in {to_stage}."})
    if at < journey.entered_at:
        raise ValidationError(
            f"The move can't be dated before the account entered {journey.stage} "
            f"({timezone.localtime(journey.entered_at):%d %b %Y %H:%M})."
        )
    transition = StageTransition.objects.create(
        account=account,
        from_stage=journey.stage,
        to_stage=to_stage,
        at=at,
        by=by,
        rule=rule,
        reason=reason,
    )
    journey.stage = to_stage
    journey.entered_at = at
    journey.save(update_fields=["stage", "entered_at"])
    _audit_move(
        account,
        from_stage=transition.from_stage,
        to_stage=to_stage,
        by=by,
        rule=rule,
        reason=reason,
        at=at,
    )
    _ensure_handoff(account, to_stage)
    _enqueue_playbooks(account)
    webhook_event_emit(
        event=WebhookEvent.STAGE_CHANGED,
        payload={
            "account_id": account.pk,
            "from_stage": transition.from_stage.slug if transition.from_stage else None,
            "to_stage": to_stage.slug,
            "at": at.isoformat(),
            "by_id": by.pk if by else None,
            "rule": rule,
        },
    )
    return transition


def _audit_move(
    account: Account,
    *,
    from_stage: Stage | None,
    to_stage: Stage,
    by: User | None,
    rule: str,
    reason: str,
    at: dt.datetime,
) -> None:
    # A rule's move (by=None) happens inside someone's request: that person is its actor.
    audit_record(
        Action.STAGE_MOVE,
        actor=by if by is not None else FROM_REQUEST,
        obj=account,
        changes={"stage": [from_stage.name if from_stage else None, to_stage.name]},
        details={
            "from_stage_id": from_stage.pk if from_stage else None,
            "to_stage_id": to_stage.pk,
            "rule": rule,
            "reason": reason,
            "at": at,
        },
    )


def _audit_config(
    obj: Stage | Milestone, *, fields: tuple[str, ...], before: dict[str, object]
) -> None:
    changes = changes_between(before, {f: getattr(obj, f) for f in fields})
    if changes:
        audit_record(Action.STAGE_CONFIG, obj=obj, changes=changes)


@dataclass(frozen=True)
class MilestoneCompleted:
    completion: MilestoneCompletion
    # Set when this completion finished the stage's required milestones and moved the account.
    advanced: StageTransition | None = None


def _next_stage(stage: Stage) -> Stage | None:
    return Stage.objects.filter(order__gt=stage.order).order_by("order").first()


@transaction.atomic
def milestone_complete(
    *,
    account: Account,
    milestone: Milestone,
    by: User | None,
    note: str = "",
    at: dt.datetime | None = None,
) -> MilestoneCompleted:
    """Record a milestone of the account's current stage as done, by whom, with a note.

    When the stage advances automatically and this was the last of its required milestones,
    the account moves to the next stage by order in the same transaction (rule
    "auto:milestones"). A stage with no required milestone never advances by itself: there is
    nothing whose completion could mean "this stage is finished".
    """
    at = at or timezone.now()
    # The lock serialises completions on one account, so two editors finishing the last two
    # milestones at once advance it exactly once.
    journey = (
        AccountJourney.objects.select_for_update()
        .select_related("stage")
        .filter(account=account)
        .first()
    )
    if journey is None:
        raise ValidationError("This account's journey has not started yet: start it first.")
    if milestone.stage_id != journey.stage_id:
        raise ValidationError(
            f"“{milestone.name}” belongs to {milestone.stage}, not to the account's current "
            f"stage ({journey.stage})."
        )
    if MilestoneCompletion.objects.filter(account=account, milestone=milestone).exists():
        raise ValidationError(f"“{milestone.name}” is already done.")
    completion = MilestoneCompletion.objects.create(
        account=account, milestone=milestone, completed_at=at, completed_by=by, note=note
    )

    stage = journey.stage
    if not stage.auto_advance:
        return MilestoneCompleted(completion=completion)
    required = set(
        Milestone.objects.filter(stage=stage, is_required=True).values_list("pk", flat=True)
    )
    done = set(
        MilestoneCompletion.objects.filter(account=account, milestone__in=required).values_list(
            "milestone_id", flat=True
        )
    )
    next_stage = _next_stage(stage)
    if not required or required - done or next_stage is None:
        return MilestoneCompleted(completion=completion)
    transition = journey_move(
        account=account,
        to_stage=next_stage,
        by=None,
        rule=AUTO_ADVANCE_RULE,
        reason=f"Every required milestone of {stage} is done.",
        at=max(at, journey.entered_at),
    )
    return MilestoneCompleted(completion=completion, advanced=transition)


@transaction.atomic
def milestone_reopen(*, account: Account, milestone: Milestone, by: User | None) -> None:
    """Undo a completion recorded by mistake. A move it caused stays: move back by hand."""
    deleted, _ = MilestoneCompletion.objects.filter(account=account, milestone=milestone).delete()
    if not deleted:
        raise ValidationError(f"“{milestone.name}” is not done, so there is nothing to reopen.")


# --- The sales -> CS handoff -------------------------------------------------------------


@transaction.atomic
def handoff_save(
    *,
    account: Account,
    by: User | None,
    goals: str = "",
    promised_outcomes: str = "",
    stakeholders: str = "",
    go_live_date: dt.date | None = None,
    sales_notes: str = "",
) -> Handoff:
    """Write the account's handoff, making it if the account never entered onboarding."""
    handoff, _ = Handoff.objects.update_or_create(
        account=account,
        defaults={
            "goals": goals,
            "promised_outcomes": promised_outcomes,
            "stakeholders": stakeholders,
            "go_live_date": go_live_date,
            "sales_notes": sales_notes,
            "updated_by": by,
        },
    )
    return handoff


# --- Stages and milestones (settings) ----------------------------------------------------


def milestone_days_errors(*, target_days: int, stuck_days: int) -> dict[str, str]:
    """Why a milestone's days are refused (empty when fine); shared with the form."""
    if stuck_days < target_days:
        return {
            "stuck_days": (
                f"The stuck threshold ({stuck_days} days) can't come before the target "
                f"({target_days} days): a milestone is behind first, stuck later."
            )
        }
    return {}


@transaction.atomic
def stage_create(
    *,
    name: str,
    slug: str,
    order: int | None = None,
    target_days: int | None = None,
    auto_advance: bool = False,
    description: str = "",
) -> Stage:
    """A new stage; without an order it goes last."""
    if order is None:
        order = (Stage.objects.aggregate(last=Max("order"))["last"] or 0) + 1
    stage = Stage(
        name=name,
        slug=slug,
        order=order,
        target_days=target_days,
        auto_advance=auto_advance,
        description=description,
    )
    stage.full_clean()
    stage.save()
    _audit_config(stage, fields=STAGE_FIELDS, before={})
    return stage


@transaction.atomic
def stage_update(
    *,
    stage: Stage,
    name: str,
    slug: str,
    order: int,
    target_days: int | None,
    auto_advance: bool,
    description: str = "",
) -> Stage:
    before = {f: getattr(stage, f) for f in STAGE_FIELDS}
    stage.name = name
    stage.slug = slug
    stage.order = order
    stage.target_days = target_days
    stage.auto_advance = auto_advance
    stage.description = description
    stage.full_clean()
    stage.save()
    _audit_config(stage, fields=STAGE_FIELDS, before=before)
    return stage


@transaction.atomic
def stages_reorder(*, stage_ids: list[int]) -> list[Stage]:
    """Give the stages the order of `stage_ids` (1, 2, 3 ...); it must list every stage once.

    `order` is unique and checked row by row, so the stages first step aside to numbers above
    every current one, then take their places.
    """
    stages = {stage.pk: stage for stage in Stage.objects.select_for_update()}
    if sorted(stage_ids) != sorted(stages):
        raise ValidationError("List every stage exactly once to reorder them.")
    aside = (max((s.order for s in stages.values()), default=0)) + 1
    for position, pk in enumerate(stage_ids):
        Stage.objects.filter(pk=pk).update(order=aside + position)
    before = [stages[pk].name for pk in sorted(stages, key=lambda pk: stages[pk].order)]
    for position, pk in enumerate(stage_ids, start=1):
        Stage.objects.filter(pk=pk).update(order=position)
        stages[pk].order = position
    after = [stages[pk].name for pk in stage_ids]
    if before != after:
        audit_record(
            Action.STAGE_CONFIG,
            object_type="stage",
            object_label="Stage order",
            changes={"order": [before, after]},
        )
    return [stages[pk] for pk in stage_ids]


def _milestone_check(milestone: Milestone) -> None:
    errors = milestone_days_errors(
        target_days=milestone.target_days, stuck_days=milestone.stuck_days
    )
    if errors:
        raise ValidationError(errors)
    milestone.full_clean()


@transaction.atomic
def milestone_create(
    *,
    stage: Stage,
    name: str,
    target_days: int,
    stuck_days: int,
    is_required: bool = True,
    order: int | None = None,
    description: str = "",
) -> Milestone:
    """A new milestone of `stage`; without an order it goes last."""
    if order is None:
        last = Milestone.objects.filter(stage=stage).aggregate(last=Max("order"))["last"]
        order = 0 if last is None else last + 1
    milestone = Milestone(
        stage=stage,
        name=name,
        target_days=target_days,
        stuck_days=stuck_days,
        is_required=is_required,
        order=order,
        description=description,
    )
    _milestone_check(milestone)
    milestone.save()
    _audit_config(milestone, fields=MILESTONE_FIELDS, before={})
    return milestone


@transaction.atomic
def milestone_update(
    *,
    milestone: Milestone,
    name: str,
    target_days: int,
    stuck_days: int,
    is_required: bool,
    order: int,
    description: str = "",
) -> Milestone:
    """Change a milestone. Statuses follow at once: they are computed, never stored."""
    before = {f: getattr(milestone, f) for f in MILESTONE_FIELDS}
    milestone.name = name
    milestone.target_days = target_days
    milestone.stuck_days = stuck_days
    milestone.is_required = is_required
    milestone.order = order
    milestone.description = description
    _milestone_check(milestone)
    milestone.save()
    _audit_config(milestone, fields=MILESTONE_FIELDS, before=before)
    return milestone
