from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Account, Segment, Team, User
from accounts.segment_rules import segment_rules_clean
from accounts.services.segments import segment_industries

# The rule fields, in the order the form shows them; each is named after its rule key
# (a test checks this list against accounts.segment_rules.RULE_KEYS).
RULE_FIELDS = [
    "arr_min",
    "arr_max",
    "industries",
    "tiers",
    "product_complexity",
    "growth_potential",
    "owners",
    "teams",
    "lifecycle_statuses",
    "health_bands",
    "renewal_within_days",
]


class SegmentRulesForm(forms.Form):
    """A rule segment's criteria; `rules` holds the cleaned rules once the form is valid.

    Also bound to GET parameters for the live preview, so it carries no name or kind.
    """

    arr_min = forms.DecimalField(
        label="ARR at least", required=False, max_digits=14, decimal_places=2
    )
    arr_max = forms.DecimalField(
        label="ARR at most", required=False, max_digits=14, decimal_places=2
    )
    industries = forms.MultipleChoiceField(
        required=False, widget=forms.SelectMultiple(attrs={"size": 5})
    )
    tiers = forms.MultipleChoiceField(
        required=False, choices=Account.Tier.choices, widget=forms.CheckboxSelectMultiple
    )
    product_complexity = forms.MultipleChoiceField(
        required=False, choices=Account.Level.choices, widget=forms.CheckboxSelectMultiple
    )
    growth_potential = forms.MultipleChoiceField(
        required=False, choices=Account.Level.choices, widget=forms.CheckboxSelectMultiple
    )
    owners = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False, widget=forms.SelectMultiple(attrs={"size": 5})
    )
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.none(), required=False, widget=forms.SelectMultiple(attrs={"size": 5})
    )
    lifecycle_statuses = forms.MultipleChoiceField(
        label="Lifecycle status",
        required=False,
        choices=Account.Lifecycle.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    health_bands = forms.MultipleChoiceField(
        label="Health band",
        required=False,
        choices=Account.Band.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    renewal_within_days = forms.IntegerField(
        label="Renewing within (days)",
        required=False,
        help_text="Accounts whose renewal date falls in the next N days.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        current = self.data.getlist("industries") if hasattr(self.data, "getlist") else []
        current = [*current, *(self.initial.get("industries") or [])]
        industries = cast(forms.MultipleChoiceField, self.fields["industries"])
        industries.choices = [(i, i) for i in segment_industries(extra=current)]
        # Executives own no book; everyone else may.
        owners = cast(forms.ModelMultipleChoiceField, self.fields["owners"])
        owners.queryset = User.objects.filter(is_active=True).exclude(role=User.Role.EXECUTIVE)
        teams = cast(forms.ModelMultipleChoiceField, self.fields["teams"])
        teams.queryset = Team.objects.all()
        self.rules: dict[str, Any] = {}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self._rules_apply(cleaned):
            raw: dict[str, Any] = {}
            for key in RULE_FIELDS:
                if key in self.errors:
                    continue
                value = cleaned.get(key)
                if key in {"owners", "teams"}:
                    value = [obj.pk for obj in value] if value else []
                elif isinstance(value, Decimal):
                    value = str(value)
                raw[key] = value
            try:
                self.rules = segment_rules_clean(raw)
            except ValidationError as exc:
                for key, messages in exc.message_dict.items():
                    self.add_error(key if key in self.fields else None, messages)
        return cleaned

    def _rules_apply(self, cleaned: dict[str, Any]) -> bool:
        return True


class SegmentForm(SegmentRulesForm):
    """Create or edit a segment: its name and kind, and the rules when it is rule-based."""

    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    kind = forms.ChoiceField(
        choices=Segment.Kind.choices,
        initial=Segment.Kind.RULE,
        widget=forms.RadioSelect,
        help_text="A rule segment's members update by themselves; a static list is kept by hand.",
    )

    field_order = ["name", "description", "kind", *RULE_FIELDS]

    def __init__(self, *args: Any, segment: Segment | None = None, **kwargs: Any) -> None:
        if segment is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": segment.name,
                    "description": segment.description,
                    "kind": segment.kind,
                    **segment.rules,
                },
            )
        super().__init__(*args, **kwargs)
        self.segment = segment
        if segment is not None:
            # Fixed once created (see segment_update); a disabled field keeps its initial.
            self.fields["kind"].disabled = True
            self.fields["kind"].help_text = "The kind of a segment cannot change once created."

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = Segment.objects.filter(name__iexact=name)
        if self.segment is not None:
            taken = taken.exclude(pk=self.segment.pk)
        if taken.exists():
            raise ValidationError("A segment with this name already exists.")
        return name

    def _rules_apply(self, cleaned: dict[str, Any]) -> bool:
        return cleaned.get("kind") == Segment.Kind.RULE

    def rule_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in RULE_FIELDS]


class SegmentMembersForm(forms.Form):
    """Add accounts to a static segment by external id, one or many at once."""

    external_ids = forms.CharField(
        label="External ids",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "ACC-00012, ACC-00013"}),
        help_text="Separated by commas, spaces or new lines.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_external_ids(self) -> list[str]:
        raw = self.cleaned_data["external_ids"].replace(",", " ").split()
        ids = list(dict.fromkeys(raw))
        if not ids:
            raise ValidationError("Give at least one external id.")
        if len(ids) > 1000:
            raise ValidationError("At most 1,000 at a time.")
        return ids
