"""Forms for the playbook pages: the playbook with its trigger's parameters, its task
templates as a formset, and the snooze forms. Forms validate and hand plain values to
journeys/services_playbooks.py, which checks again (for every other caller) and writes."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

from accounts.models import Account, Segment, Task
from journeys.models import Milestone, Playbook, PlaybookTaskTemplate, Stage
from journeys.services_playbooks import (
    MAX_DUE_IN_DAYS,
    TRIGGER_PARAMS,
    TemplateSpec,
    playbook_params_clean,
)

PARAM_FIELDS = ("band", "points", "days", "band_in", "stage", "milestone", "segment")


class _MilestoneChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Milestone) -> str:
        return f"{obj.stage.name}: {obj.name}"


class PlaybookForm(forms.Form):
    """A playbook's name, trigger and the trigger's parameters.

    Every parameter field is on the form; clean() keeps those the chosen trigger takes and
    puts the service's complaints beside the field they concern.
    """

    name = forms.CharField(max_length=200, error_messages={"required": "Give the playbook a name."})
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Why it exists."
    )
    trigger = forms.ChoiceField(
        choices=[("", "Choose a trigger"), *Playbook.Trigger.choices],
        error_messages={"required": "Choose what fires the playbook."},
    )
    is_active = forms.BooleanField(
        label="Active", required=False, initial=True, help_text="Evaluated every night."
    )
    band = forms.ChoiceField(
        label="Band",
        required=False,
        choices=[("", "—"), *Account.Band.choices],
        help_text="For “Health band changed to”.",
    )
    points = forms.IntegerField(
        label="Points", required=False, help_text="For “Health score dropped”: the fall."
    )
    days = forms.IntegerField(
        label="Days",
        required=False,
        help_text="For “Renewal within N days” and “No interaction in N days”.",
    )
    band_in = forms.MultipleChoiceField(
        label="Only when health is",
        required=False,
        choices=Account.Band.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="For “Renewal within N days”: leave all unticked for any band.",
    )
    stage = forms.ModelChoiceField(
        label="Stage",
        required=False,
        queryset=Stage.objects.none(),
        empty_label="—",
        help_text="For “Journey stage entered”; for “Milestone overdue”, optional.",
    )
    milestone = _MilestoneChoiceField(
        label="Milestone",
        required=False,
        queryset=Milestone.objects.none(),
        empty_label="Any milestone",
        help_text="For “Milestone overdue”, optional.",
    )
    segment = forms.ModelChoiceField(
        label="Segment",
        required=False,
        queryset=Segment.objects.none(),
        empty_label="—",
        help_text="For “Segment entered” and “Segment left”.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["stage"]).queryset = Stage.objects.order_by(
            "order"
        )
        cast(
            forms.ModelChoiceField, self.fields["milestone"]
        ).queryset = Milestone.objects.select_related("stage")
        cast(forms.ModelChoiceField, self.fields["segment"]).queryset = Segment.objects.order_by(
            "name"
        )

    @classmethod
    def initial_for(cls, playbook: Playbook) -> dict[str, Any]:
        params = playbook.params or {}
        return {
            "name": playbook.name,
            "description": playbook.description,
            "trigger": playbook.trigger,
            "is_active": playbook.is_active,
            **{key: params.get(key) for key in PARAM_FIELDS if key in params},
        }

    @property
    def header_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("name", "trigger", "description", "is_active")]

    @property
    def param_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in PARAM_FIELDS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        trigger = cleaned.get("trigger")
        if not trigger:
            return cleaned
        raw: dict[str, Any] = {}
        for key in TRIGGER_PARAMS.get(trigger, ()):
            value = cleaned.get(key)
            raw[key] = value.pk if isinstance(value, models.Model) else value
        try:
            cleaned["params"] = playbook_params_clean(trigger=trigger, params=raw)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                if key in self.fields and key not in self.errors:
                    self.add_error(key, messages)
        return cleaned


class TaskTemplateForm(forms.Form):
    """One task the playbook makes. `{account}` in the title or description is replaced by
    the account's name."""

    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    title = forms.CharField(
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Call {account} within 3 days"}),
    )
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 30})
    )
    due_in_days = forms.IntegerField(
        label="Due in (days)",
        min_value=0,
        max_value=MAX_DUE_IN_DAYS,
        initial=3,
        error_messages={"required": "Give the number of days to the due date."},
    )
    priority = forms.ChoiceField(choices=Task.Priority.choices, initial=Task.Priority.NORMAL)
    assignee = forms.ChoiceField(
        choices=PlaybookTaskTemplate.Assignee.choices,
        initial=PlaybookTaskTemplate.Assignee.OWNER,
        help_text="The team's manager falls back to the owner for accounts with no manager.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # Only a row someone filled in needs a title; the blank spare row is ignored.
        if self.has_changed() and not cleaned.get("DELETE") and not cleaned.get("title"):
            if "title" not in self.errors:
                self.add_error("title", "Give the task a title, or tick Remove.")
        return cleaned

    def spec(self) -> TemplateSpec:
        data = self.cleaned_data
        return TemplateSpec(
            pk=data.get("id"),
            title=data["title"],
            description=data.get("description", ""),
            due_in_days=data["due_in_days"],
            priority=data["priority"],
            assignee=data["assignee"],
        )


class TemplateFormSetBase(forms.BaseFormSet):
    def template_specs(self) -> list[TemplateSpec]:
        """The rows to keep, in page order: filled in and not ticked for removal."""
        return [
            form.spec()
            for form in self.forms
            if form.cleaned_data.get("title") and not form.cleaned_data.get("DELETE")
        ]

    def clean(self) -> None:
        if any(self.errors):
            return
        if not self.template_specs():
            raise ValidationError("Add at least one task for the playbook to make.")


TaskTemplateFormSet = cast(
    type[TemplateFormSetBase],
    forms.formset_factory(
        TaskTemplateForm, formset=TemplateFormSetBase, extra=1, can_delete=True, max_num=20
    ),
)


def template_formset_initial(playbook: Playbook) -> list[dict[str, Any]]:
    return [
        {
            "id": t.pk,
            "title": t.title,
            "description": t.description,
            "due_in_days": t.due_in_days,
            "priority": t.priority,
            "assignee": t.assignee,
        }
        for t in playbook.templates.all()
    ]


class SnoozeLookupForm(forms.Form):
    """On a playbook's page: snooze it for an account named by external id or name."""

    account = forms.CharField(
        label="Account",
        max_length=200,
        help_text="Its external id (e.g. ACC-00042) or its exact name.",
        error_messages={"required": "Give the account's external id or its name."},
    )
    until = forms.DateField(
        label="Snoozed until",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Included: the playbook acts on the account again the day after.",
        error_messages={"required": "Give the last day of the snooze.", "invalid": "Enter a date."},
    )
    reason = forms.CharField(label="Why", max_length=300, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class AccountSnoozeForm(forms.Form):
    """On an account: snooze one of the active playbooks for it."""

    playbook = forms.ModelChoiceField(
        label="Playbook",
        queryset=Playbook.objects.none(),
        empty_label="Choose a playbook",
        error_messages={
            "required": "Choose the playbook to snooze.",
            "invalid_choice": "Choose one of the active playbooks.",
        },
    )
    until = forms.DateField(
        label="Snoozed until",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Included: the playbook acts on the account again the day after.",
        error_messages={"required": "Give the last day of the snooze.", "invalid": "Enter a date."},
    )
    reason = forms.CharField(label="Why", max_length=300, required=False)

    def __init__(self, *args: Any, playbooks: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["playbook"]).queryset = playbooks
