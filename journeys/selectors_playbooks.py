"""Reads for the playbook pages: the list with tasks made and closed, a playbook's recent
firings and snoozes, its trigger in words, and finding an account to snooze by name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from accounts.models import Account, Segment, Task, User
from journeys.models import (
    Milestone,
    Playbook,
    PlaybookFiring,
    PlaybookSnooze,
    PlaybookTaskTemplate,
    Stage,
)

_BAND_WORDS = {"red": "Red", "yellow": "Yellow", "green": "Green"}


@dataclass(frozen=True)
class ParamNames:
    """Names of the stages, milestones and segments that playbooks refer to by id."""

    stages: Mapping[int, str] = field(default_factory=dict)
    milestones: Mapping[int, str] = field(default_factory=dict)
    segments: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PlaybookRow:
    playbook: Playbook
    trigger_text: str
    templates: list[PlaybookTaskTemplate]
    made: int
    closed: int


def _with_task_counts(playbooks: QuerySet[Playbook]) -> QuerySet[Playbook]:
    # One grouped query: a task shared by several templates of a playbook counts once.
    return playbooks.annotate(
        tasks_made=Count("firings__task", distinct=True),
        tasks_closed=Count(
            "firings__task",
            filter=Q(firings__task__status=Task.Status.DONE),
            distinct=True,
        ),
    )


def playbooks_for_list() -> QuerySet[Playbook]:
    """Every playbook, active first, with its templates and tasks made / closed."""
    return (
        _with_task_counts(Playbook.objects.all())
        .prefetch_related("templates")
        .order_by("-is_active", "name")
    )


def param_names_for(playbooks: Iterable[Playbook]) -> ParamNames:
    """The names behind the ids in these playbooks' parameters: at most three queries."""
    stage_ids: set[int] = set()
    milestone_ids: set[int] = set()
    segment_ids: set[int] = set()
    for playbook in playbooks:
        params = playbook.params or {}
        for key, bucket in (
            ("stage", stage_ids),
            ("milestone", milestone_ids),
            ("segment", segment_ids),
        ):
            value = params.get(key)
            if isinstance(value, int):
                bucket.add(value)
    return ParamNames(
        stages=dict(Stage.objects.filter(pk__in=stage_ids).values_list("pk", "name"))
        if stage_ids
        else {},
        milestones=dict(Milestone.objects.filter(pk__in=milestone_ids).values_list("pk", "name"))
        if milestone_ids
        else {},
        segments=dict(Segment.objects.filter(pk__in=segment_ids).values_list("pk", "name"))
        if segment_ids
        else {},
    )


def _id(value: object) -> int:
    return value if isinstance(value, int) else 0


def playbook_trigger_text(playbook: Playbook, names: ParamNames) -> str:
    """The trigger in words, as a CS manager would say it."""
    params = playbook.params or {}
    trigger = playbook.trigger
    gone = "(deleted)"
    if trigger == Playbook.Trigger.BAND_CHANGED_TO:
        return f"Health band changed to {_BAND_WORDS.get(params.get('band', ''), '?')}"
    if trigger == Playbook.Trigger.SCORE_DROPPED:
        return f"Health score dropped by {params.get('points', '?')} points or more in 7 days"
    if trigger == Playbook.Trigger.RENEWAL_IN_DAYS:
        text = f"Renewal within {params.get('days', '?')} days"
        bands = params.get("band_in") or []
        if bands:
            text += " and health " + " or ".join(_BAND_WORDS.get(b, b).lower() for b in bands)
        return text
    if trigger == Playbook.Trigger.STAGE_ENTERED:
        return f"Entered the stage {names.stages.get(_id(params.get('stage')), gone)}"
    if trigger == Playbook.Trigger.MILESTONE_OVERDUE:
        if params.get("milestone"):
            return f"Milestone “{names.milestones.get(_id(params['milestone']), gone)}” overdue"
        if params.get("stage"):
            return f"A milestone of {names.stages.get(_id(params['stage']), gone)} overdue"
        return "A milestone of the current stage overdue"
    if trigger == Playbook.Trigger.DETRACTOR:
        return "NPS detractor (0–6) or CSAT of 1–2 received"
    if trigger == Playbook.Trigger.NO_INTERACTION:
        return f"No interaction in {params.get('days', '?')} days"
    if trigger == Playbook.Trigger.SEGMENT_ENTERED:
        return f"Entered the segment {names.segments.get(_id(params.get('segment')), gone)}"
    if trigger == Playbook.Trigger.SEGMENT_LEFT:
        return f"Left the segment {names.segments.get(_id(params.get('segment')), gone)}"
    return playbook.get_trigger_display()


def playbook_rows(playbooks: Iterable[Playbook]) -> list[PlaybookRow]:
    """Rows for the list page from a page of playbooks_for_list()."""
    playbooks = list(playbooks)
    names = param_names_for(playbooks)
    return [
        PlaybookRow(
            playbook=p,
            trigger_text=playbook_trigger_text(p, names),
            templates=list(p.templates.all()),
            made=getattr(p, "tasks_made", 0),
            closed=getattr(p, "tasks_closed", 0),
        )
        for p in playbooks
    ]


def playbook_get(*, playbook_id: int) -> Playbook:
    """The playbook with its templates and task counts; 404 if there is none."""
    try:
        return (
            _with_task_counts(Playbook.objects.all())
            .prefetch_related("templates")
            .get(pk=playbook_id)
        )
    except (Playbook.DoesNotExist, ValueError, TypeError):
        raise Http404("No such playbook.") from None


def playbook_firings_recent(*, playbook: Playbook) -> QuerySet[PlaybookFiring]:
    """The playbook's firings, newest first, with what the page shows of each."""
    return (
        PlaybookFiring.objects.filter(playbook=playbook)
        .select_related("account", "template", "task", "task__owner")
        .order_by("-fired_at", "-pk")
    )


def playbook_snoozes_active(*, playbook: Playbook, today: dt.date) -> QuerySet[PlaybookSnooze]:
    return (
        PlaybookSnooze.objects.filter(playbook=playbook, until__gte=today)
        .select_related("account", "created_by")
        .order_by("until", "account__name")
    )


def account_snoozes_active(*, account: Account, today: dt.date) -> QuerySet[PlaybookSnooze]:
    return (
        PlaybookSnooze.objects.filter(account=account, until__gte=today)
        .select_related("playbook", "created_by")
        .order_by("playbook__name")
    )


def playbooks_for_snooze() -> QuerySet[Playbook]:
    """Playbooks one can snooze: the active ones (an inactive one makes nothing anyway)."""
    return Playbook.objects.filter(is_active=True).order_by("name")


def account_for_snooze_lookup(*, user: User, text: str) -> Account:
    """The account named by external id or exact name, among those the user may edit.

    ValidationError (for the form field) when none or several match; an account the user
    may not edit is reported exactly like one that does not exist.
    """
    text = text.strip()
    if not text:
        raise ValidationError("Give the account's external id or its name.")
    editable = Account.objects.editable_by(user)
    by_id = list(editable.filter(external_id=text)[:1])
    if by_id:
        return by_id[0]
    by_name = list(editable.filter(name__iexact=text).order_by("pk")[:2])
    if not by_name:
        raise ValidationError(f"No account you can edit has the external id or name “{text}”.")
    if len(by_name) > 1:
        raise ValidationError(f"Several accounts are called “{text}”: use the external id.")
    return by_name[0]
