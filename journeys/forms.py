"""Forms of the journeys app. They validate and hand clean values to the services, which write;
none of them saves a model itself."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.validators import MinValueValidator
from django.db.models import QuerySet

from accounts.forms.scope_csm import csm_field_scope
from accounts.models import Account, Segment, Team, User
from journeys.models import Handoff, Milestone, Stage
from journeys.services import NOTE_MAX_LENGTH, REASON_MAX_LENGTH, milestone_days_errors


class JourneyScopeForm(forms.Form):
    """The journeys page's scope: segment, team, CSM, all in the URL.

    The choices are limited to what the viewer may see and the accounts they narrow are
    already accounts_visible_to(viewer): a filter can only narrow a book, never widen it.
    """

    segment = forms.ModelChoiceField(
        queryset=Segment.objects.all(), required=False, empty_label="All segments"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="All teams"
    )
    csm = forms.ModelChoiceField(
        label="CSM", queryset=User.objects.none(), required=False, empty_label="All CSMs"
    )

    def __init__(
        self, data: Any = None, *, user: User, visible: QuerySet[Account], **kwargs: Any
    ) -> None:
        super().__init__(data, **kwargs)
        self.fields["segment"].error_messages["invalid_choice"] = "No such segment."
        self.fields["team"].error_messages["invalid_choice"] = (
            "Pick one of the teams listed: you can only see your own team's accounts."
        )
        self.fields["csm"].error_messages["invalid_choice"] = (
            "Pick one of the CSMs listed: they own the accounts you can see."
        )
        teams = Team.objects.all()
        if not user.sees_all_accounts:
            teams = teams.filter(pk=user.team_id) if user.team_id else teams.none()
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = teams
        # Hundreds of CSMs: list the picked team's, as the other dashboards do.
        csm_field_scope(self, user=user, visible=visible)

    @property
    def is_filtered(self) -> bool:
        return any(self.data.get(name) for name in ("segment", "team", "csm"))


# --- Settings ----------------------------------------------------------------------------


class StageForm(forms.ModelForm):
    class Meta:
        model = Stage
        fields = ["name", "slug", "order", "target_days", "auto_advance", "description"]
        labels = {"target_days": "Target days", "auto_advance": "Advance automatically"}
        help_texts = {
            "slug": "A short handle for imports and the API. The stage whose handle is "
            "“onboarding” ends time to value.",
            "order": "Position in the journey: 1 comes first. Each stage has its own number.",
            "target_days": "How long an account should spend in this stage. Optional.",
            "auto_advance": "Move accounts to the next stage as soon as every required "
            "milestone of this one is done.",
        }
        error_messages = {
            "name": {
                "required": "Give the stage a name.",
                "unique": "Another stage already has this name.",
            },
            "slug": {
                "required": "Give the stage a handle (letters, digits, - and _).",
                "unique": "Another stage already uses this handle.",
                "invalid": "Use only letters, digits, hyphens and underscores.",
            },
            "order": {
                "required": "Give the stage its position (1 comes first).",
                "unique": "Another stage already has this position: pick a free number, or "
                "use the arrows on the stages list to reorder.",
            },
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        order = self.fields["order"]
        order.validators.append(
            MinValueValidator(1, message="Positions start at 1: use 1 for the first stage.")
        )
        order.widget.attrs["min"] = 1
        if self.instance.pk is None:
            order.required = False
            order.help_text += " Leave it empty to add the stage last."


class MilestoneForm(forms.ModelForm):
    class Meta:
        model = Milestone
        fields = ["name", "target_days", "stuck_days", "is_required", "order", "description"]
        labels = {
            "target_days": "Target days",
            "stuck_days": "Stuck after days",
            "is_required": "Required to advance",
        }
        help_texts = {
            "target_days": "Due this many days after the account enters the stage; "
            "behind after that.",
            "stuck_days": "Stuck after this many days from stage entry. At least the target.",
            "is_required": "Automatic advancement waits for every required milestone.",
            "order": "Position within the stage: lower numbers first.",
        }
        error_messages = {
            "name": {"required": "Give the milestone a name."},
            "target_days": {"required": "Give the number of days the milestone is due after."},
            "stuck_days": {"required": "Give the number of days after which it is stuck."},
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, stage: Stage, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.stage = stage
        self.instance.stage = stage
        if self.instance.pk is None:
            order = self.fields["order"]
            order.required = False
            order.initial = None
            order.help_text += " Leave it empty to add the milestone last."

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = Milestone.objects.filter(stage=self.stage, name__iexact=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"{self.stage} already has a milestone named “{name}”.")
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        target, stuck = cleaned.get("target_days"), cleaned.get("stuck_days")
        if target is not None and stuck is not None:
            for field, message in milestone_days_errors(
                target_days=target, stuck_days=stuck
            ).items():
                self.add_error(field, message)
        return cleaned


# --- An account's journey ----------------------------------------------------------------


class _StageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Stage) -> str:
        return obj.name


class JourneyStartForm(forms.Form):
    stage = _StageChoiceField(
        queryset=Stage.objects.order_by("order"),
        empty_label=None,
        error_messages={
            "required": "Choose the stage the account starts in.",
            "invalid_choice": "Choose one of the stages listed.",
        },
    )
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class JourneyMoveForm(forms.Form):
    to_stage = _StageChoiceField(
        label="Move to",
        queryset=Stage.objects.order_by("order"),
        error_messages={
            "required": "Choose the stage to move the account to.",
            "invalid_choice": "Choose one of the stages listed.",
        },
    )
    reason = forms.CharField(
        label="Why",
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why you are moving the account: it stays on record."},
    )

    def __init__(self, *args: Any, current: Stage | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current = current

    def clean_to_stage(self) -> Stage:
        stage = self.cleaned_data["to_stage"]
        if self.current is not None and stage.pk == self.current.pk:
            raise forms.ValidationError(f"The account is already in {stage}.")
        return stage

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why you are moving the account: it stays on record.")
        return reason


class MilestoneCompleteForm(forms.Form):
    note = forms.CharField(
        max_length=NOTE_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class HandoffForm(forms.ModelForm):
    class Meta:
        model = Handoff
        fields = ["goals", "promised_outcomes", "stakeholders", "go_live_date", "sales_notes"]
        labels = {
            "goals": "Customer goals",
            "promised_outcomes": "Outcomes sales promised",
            "stakeholders": "Stakeholders",
            "go_live_date": "Go-live date",
            "sales_notes": "Notes from sales",
        }
        help_texts = {
            "goals": "What the customer bought us to achieve, in their words.",
            "stakeholders": "Who is who: champion, sponsor, admins, their roles.",
        }
        widgets = {
            "goals": forms.Textarea(attrs={"rows": 3}),
            "promised_outcomes": forms.Textarea(attrs={"rows": 3}),
            "stakeholders": forms.Textarea(attrs={"rows": 3}),
            "go_live_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "sales_notes": forms.Textarea(attrs={"rows": 4}),
        }
        error_messages = {
            "go_live_date": {"invalid": "Enter the go-live date as YYYY-MM-DD."},
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
