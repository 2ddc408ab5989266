"""Writes for playbooks: create and change a playbook with its task templates, switch it on
or off, snooze it for one account and lift the snooze."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from accounts.models import Account, Segment, Task, User
from journeys.models import Milestone, Playbook, PlaybookSnooze, PlaybookTaskTemplate, Stage

BANDS = [choice for choice, _ in Account.Band.choices]
MAX_POINTS = 100
# Renewal windows beyond two years and silences beyond ten are typos, not rules.
MAX_RENEWAL_DAYS = 730
MAX_QUIET_DAYS = 3650
MAX_DUE_IN_DAYS = 365
# A snooze is a pause, not a way to switch a playbook off for good for one account.
MAX_SNOOZE_DAYS = 366
ID_MAX = 2**63 - 1

# Which parameters each trigger takes; anything else in the input is dropped.
TRIGGER_PARAMS: dict[str, tuple[str, ...]] = {
    Playbook.Trigger.BAND_CHANGED_TO: ("band",),
    Playbook.Trigger.SCORE_DROPPED: ("points",),
    Playbook.Trigger.RENEWAL_IN_DAYS: ("days", "band_in"),
    Playbook.Trigger.STAGE_ENTERED: ("stage",),
    Playbook.Trigger.MILESTONE_OVERDUE: ("stage", "milestone"),
    Playbook.Trigger.DETRACTOR: (),
    Playbook.Trigger.NO_INTERACTION: ("days",),
    Playbook.Trigger.SEGMENT_ENTERED: ("segment",),
    Playbook.Trigger.SEGMENT_LEFT: ("segment",),
}


@dataclass(frozen=True)
class TemplateSpec:
    """One task a playbook makes. `pk` names an existing template to change in place."""

    title: str
    description: str = ""
    due_in_days: int = 3
    priority: str = Task.Priority.NORMAL
    assignee: str = PlaybookTaskTemplate.Assignee.OWNER
    pk: int | None = None


def _int_in(value: Any, low: int, high: int) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def _exists(model: type[Stage] | type[Segment], value: Any) -> bool:
    pk = _int_in(value, 1, ID_MAX)
    return pk is not None and model.objects.filter(pk=pk).exists()


def playbook_params_clean(*, trigger: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The trigger's parameters, checked and normalised; ValidationError keyed by parameter.

    Stages, milestones and segments are stored by id and must exist.
    """
    if trigger not in TRIGGER_PARAMS:
        raise ValidationError({"trigger": "Choose what fires the playbook."})
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    wanted = TRIGGER_PARAMS[trigger]
    if "band" in wanted:
        band = params.get("band")
        if band not in BANDS:
            errors["band"] = "Choose the band: red, yellow or green."
        else:
            clean["band"] = band
    if "points" in wanted:
        points = _int_in(params.get("points"), 1, MAX_POINTS)
        if points is None:
            errors["points"] = f"Give the drop in points, a whole number from 1 to {MAX_POINTS}."
        else:
            clean["points"] = points
    if "days" in wanted:
        high = MAX_RENEWAL_DAYS if trigger == Playbook.Trigger.RENEWAL_IN_DAYS else MAX_QUIET_DAYS
        days = _int_in(params.get("days"), 1, high)
        if days is None:
            errors["days"] = f"Give the number of days, a whole number from 1 to {high}."
        else:
            clean["days"] = days
    if "band_in" in wanted:
        bands = params.get("band_in") or []
        if not isinstance(bands, list | tuple) or any(b not in BANDS for b in bands):
            errors["band_in"] = "Pick bands among red, yellow and green."
        elif bands and len(set(bands)) < len(BANDS):
            # All three bands is the same as no condition; store it as none.
            clean["band_in"] = sorted(set(bands), key=BANDS.index)
    if "stage" in wanted:
        stage_id = params.get("stage")
        required = trigger == Playbook.Trigger.STAGE_ENTERED
        if stage_id in (None, ""):
            if required:
                errors["stage"] = "Choose the stage."
        elif not _exists(Stage, stage_id):
            errors["stage"] = "That stage no longer exists."
        else:
            clean["stage"] = int(stage_id)
    if "milestone" in wanted and params.get("milestone") not in (None, ""):
        milestone_id = _int_in(params["milestone"], 1, ID_MAX)
        milestone = Milestone.objects.filter(pk=milestone_id).first() if milestone_id else None
        if milestone is None:
            errors["milestone"] = "That milestone no longer exists."
        elif "stage" in clean and milestone.stage_id != clean["stage"]:
            errors["milestone"] = "That milestone belongs to another stage."
        else:
            clean["milestone"] = milestone.pk
    if "segment" in wanted:
        segment_id = params.get("segment")
        if segment_id in (None, ""):
            errors["segment"] = "Choose the segment."
        elif not _exists(Segment, segment_id):
            errors["segment"] = "That segment no longer exists."
        else:
            clean["segment"] = int(segment_id)
    if errors:
        raise ValidationError(errors)
    return clean


def _templates_clean(templates: Sequence[TemplateSpec]) -> list[TemplateSpec]:
    if not templates:
        raise ValidationError({NON_FIELD_ERRORS: "A playbook needs at least one task to make."})
    problems = []
    for number, spec in enumerate(templates, start=1):
        if not spec.title.strip():
            problems.append(f"Task {number} needs a title.")
        if not 0 <= spec.due_in_days <= MAX_DUE_IN_DAYS:
            problems.append(f"Task {number}: due in 0 to {MAX_DUE_IN_DAYS} days.")
        if spec.priority not in Task.Priority.values:
            problems.append(f"Task {number}: unknown priority {spec.priority!r}.")
        if spec.assignee not in PlaybookTaskTemplate.Assignee.values:
            problems.append(f"Task {number}: unknown assignee {spec.assignee!r}.")
    if problems:
        raise ValidationError({NON_FIELD_ERRORS: problems})
    return list(templates)


def _name_clean(name: str, *, playbook: Playbook | None) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the playbook a name."})
    clash = Playbook.objects.filter(name__iexact=name)
    if playbook is not None:
        clash = clash.exclude(pk=playbook.pk)
    if clash.exists():
        raise ValidationError({"name": f"A playbook called “{name}” already exists."})
    return name


def _templates_write(*, playbook: Playbook, templates: Sequence[TemplateSpec]) -> None:
    """Make the playbook's templates exactly `templates`: change, add, delete.

    A template changed in place keeps its firings, so it does not fire again for the
    occurrences it already acted on; a deleted one takes its firings with it (the tasks stay
    on the accounts).
    """
    current = {t.pk: t for t in playbook.templates.all()}
    unknown = [s.pk for s in templates if s.pk is not None and s.pk not in current]
    if unknown:
        raise ValidationError(
            {NON_FIELD_ERRORS: "A task template was removed meanwhile; reload the page."}
        )
    kept = {s.pk for s in templates if s.pk is not None}
    playbook.templates.exclude(pk__in=kept).delete()
    for order, spec in enumerate(templates):
        template = current.get(spec.pk) if spec.pk else None
        template = template or PlaybookTaskTemplate(playbook=playbook)
        template.title = spec.title.strip()
        template.description = spec.description.strip()
        template.due_in_days = spec.due_in_days
        template.priority = spec.priority
        template.assignee = spec.assignee
        template.order = order
        template.save()


def _validated(
    *,
    playbook: Playbook | None,
    name: str,
    trigger: str,
    params: Mapping[str, Any],
    templates: Sequence[TemplateSpec],
) -> tuple[str, dict[str, Any], list[TemplateSpec]]:
    """Every problem at once, keyed by field, so the form shows them all beside their fields."""
    errors: dict[str, list[str]] = {}
    clean_name, clean_params, clean_templates = "", {}, []
    try:
        clean_name = _name_clean(name, playbook=playbook)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        clean_params = playbook_params_clean(trigger=trigger, params=params)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        clean_templates = _templates_clean(templates)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return clean_name, clean_params, clean_templates


@transaction.atomic
def playbook_create(
    *,
    name: str,
    trigger: str,
    params: Mapping[str, Any],
    templates: Sequence[TemplateSpec],
    created_by: User | None,
    description: str = "",
    is_active: bool = True,
) -> Playbook:
    """A new playbook with its task templates. It fires from the next evaluation on."""
    clean_name, clean_params, clean_templates = _validated(
        playbook=None, name=name, trigger=trigger, params=params, templates=templates
    )
    playbook = Playbook.objects.create(
        name=clean_name,
        description=description.strip(),
        trigger=trigger,
        params=clean_params,
        is_active=is_active,
        created_by=created_by,
    )
    _templates_write(playbook=playbook, templates=clean_templates)
    return playbook


@transaction.atomic
def playbook_update(
    *,
    playbook: Playbook,
    name: str,
    trigger: str,
    params: Mapping[str, Any],
    templates: Sequence[TemplateSpec],
    description: str = "",
    is_active: bool = True,
) -> Playbook:
    """Change a playbook and its templates. Firings so far stay: no occurrence refires."""
    clean_name, clean_params, clean_templates = _validated(
        playbook=playbook, name=name, trigger=trigger, params=params, templates=templates
    )
    playbook.name = clean_name
    playbook.description = description.strip()
    playbook.trigger = trigger
    playbook.params = clean_params
    playbook.is_active = is_active
    playbook.save()
    _templates_write(playbook=playbook, templates=clean_templates)
    return playbook


@transaction.atomic
def playbook_active_set(*, playbook: Playbook, is_active: bool) -> Playbook:
    playbook.is_active = is_active
    playbook.save(update_fields=["is_active", "updated_at"])
    return playbook


@transaction.atomic
def playbook_snooze(
    *,
    playbook: Playbook,
    account: Account,
    until: dt.date,
    today: dt.date,
    reason: str = "",
    user: User | None = None,
) -> PlaybookSnooze:
    """Hold the playbook for this account through `until` (inclusive); it fires again after.

    A second snooze of the same playbook on the same account replaces the first. The caller
    has checked that `user` may edit the account.
    """
    if until < today:
        raise ValidationError(
            {"until": f"Snooze until today or later (today is {today:%d %b %Y})."}
        )
    if (until - today).days > MAX_SNOOZE_DAYS:
        raise ValidationError(
            {"until": "Snooze for at most a year; switch the playbook off to stop it for good."}
        )
    reason = reason.strip()
    if len(reason) > 300:
        raise ValidationError({"reason": "Keep the reason to 300 characters."})
    snooze, _ = PlaybookSnooze.objects.update_or_create(
        playbook=playbook,
        account=account,
        defaults={"until": until, "reason": reason, "created_by": user},
    )
    return snooze


@transaction.atomic
def playbook_unsnooze(*, playbook: Playbook, account: Account) -> bool:
    """Lift the snooze; the playbook acts on the account again from its next evaluation."""
    deleted, _ = PlaybookSnooze.objects.filter(playbook=playbook, account=account).delete()
    return deleted > 0
