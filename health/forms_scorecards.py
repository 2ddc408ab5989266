"""Forms for the scorecard settings: the rules of a new version, and a new scorecard.

One row per measure (Measure's six choices): included, weight, zero_at, full_at. The form
only validates and hands ComponentRule objects to the services, which write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from django import forms

from accounts.models import Segment
from health.models import Measure, Scorecard
from health.scoring import ComponentRule
from health.selectors_scorecards import MEASURE_SCALES
from health.services_scorecards import NAME_MAX_LENGTH, NOTE_MAX_LENGTH, PRIORITY_MAX


def _key(measure: str, part: str) -> str:
    return f"{measure}-{part}"


class ScorecardRulesForm(forms.Form):
    """The rules of a scorecard version: components, band thresholds and why.

    `components` (a version's JSON list) prefills the rows; measures it leaves out start
    unticked with the default scorecard's bounds, ready to be switched on.
    """

    red_below = forms.IntegerField(
        label="Red below",
        min_value=0,
        max_value=100,
        help_text="Scores under this are red.",
        error_messages={"required": "Give the score under which an account is red."},
    )
    green_from = forms.IntegerField(
        label="Green from",
        min_value=0,
        max_value=100,
        help_text="Scores from this up are green; between the two is yellow.",
        error_messages={"required": "Give the score from which an account is green."},
    )
    note = forms.CharField(
        label="Why this change",
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept with the version, with your name and the time: the record of the change.",
        error_messages={"required": "Say why you are making this change."},
    )
    # The version the editor started from; a version saved meanwhile is not overwritten.
    based_on = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        components: Sequence[Mapping[str, Any]] = (),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        existing = {c["measure"]: c for c in components}
        for measure, label in Measure.choices:
            scale = MEASURE_SCALES[measure]
            component = existing.get(measure)
            self.fields[_key(measure, "included")] = forms.BooleanField(
                label=f"Include {label}", required=False, initial=component is not None
            )
            self.fields[_key(measure, "weight")] = forms.IntegerField(
                label=f"{label} weight",
                required=False,
                min_value=0,
                max_value=100,
                initial=component["weight"] if component else 0,
                widget=forms.NumberInput(attrs={"step": 1, "aria-label": f"{label} weight"}),
            )
            for part, default in (("zero_at", scale.zero_at), ("full_at", scale.full_at)):
                bound = f"{label}: {'0 points at' if part == 'zero_at' else '100 points at'}"
                self.fields[_key(measure, part)] = forms.FloatField(
                    label=bound,
                    required=False,
                    initial=component[part] if component else default,
                    widget=forms.NumberInput(attrs={"step": "any", "aria-label": bound}),
                )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        any_weighted = False
        for measure, label in Measure.choices:
            if not cleaned.get(_key(measure, "included")):
                continue  # an unticked row is left out whatever its boxes say
            weight = cleaned.get(_key(measure, "weight"))
            zero_at = cleaned.get(_key(measure, "zero_at"))
            full_at = cleaned.get(_key(measure, "full_at"))
            if weight is None and _key(measure, "weight") not in self.errors:
                self.add_error(_key(measure, "weight"), f"Give {label} a weight, or untick it.")
            elif weight == 0:
                self.add_error(
                    _key(measure, "weight"),
                    f"An included measure needs a weight above 0: untick {label} to leave it out.",
                )
            elif weight is not None:
                any_weighted = True
            for part in ("zero_at", "full_at"):
                if (
                    cleaned.get(_key(measure, part)) is None
                    and _key(measure, part) not in self.errors
                ):
                    self.add_error(_key(measure, part), "Required for an included measure.")
            if zero_at is not None and full_at is not None and zero_at == full_at:
                self.add_error(
                    _key(measure, "full_at"),
                    "Must differ from the 0-point value: the score needs a range to move in.",
                )
        if not any_weighted and not any(key.endswith("-weight") for key in self.errors):
            self.add_error(None, "Include at least one measure with a weight above 0.")
        red_below, green_from = cleaned.get("red_below"), cleaned.get("green_from")
        if red_below is not None and green_from is not None and red_below > green_from:
            self.add_error(
                "green_from", f"Green from ({green_from}) can't be below red below ({red_below})."
            )
        return cleaned

    def component_rules(self) -> list[ComponentRule]:
        """The included rows as rules, in Measure order; call after is_valid()."""
        cleaned = self.cleaned_data
        return [
            ComponentRule(
                measure=measure,
                weight=cleaned[_key(measure, "weight")],
                zero_at=cleaned[_key(measure, "zero_at")],
                full_at=cleaned[_key(measure, "full_at")],
            )
            for measure in Measure.values
            if cleaned.get(_key(measure, "included"))
        ]

    def component_rows(self) -> list[dict[str, Any]]:
        """One row per measure for the template: its label, scale hint and bound fields
        (the checkbox, then weight, 0-point and 100-point inputs in table order)."""
        return [
            {
                "measure": measure,
                "label": label,
                "hint": MEASURE_SCALES[measure].hint,
                "included": self[_key(measure, "included")],
                "inputs": [self[_key(measure, part)] for part in ("weight", "zero_at", "full_at")],
            }
            for measure, label in Measure.choices
        ]

    def rules_fields(self) -> list[forms.BoundField]:
        return [self["red_below"], self["green_from"], self["note"]]


class _SegmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Segment) -> str:
        return f"{obj.name} ({obj.get_kind_display().lower()})"


class ScorecardCreateForm(ScorecardRulesForm):
    """A new scorecard and its first version. No segment makes it the default, and only one
    default may be active: asking for a second is a message beside the segment field."""

    name = forms.CharField(
        label="Name",
        max_length=NAME_MAX_LENGTH,
        error_messages={"required": "Give the scorecard a name."},
    )
    segment = _SegmentChoiceField(
        queryset=Segment.objects.none(),
        required=False,
        empty_label="No segment: the default scorecard",
        help_text="Accounts in this segment are scored with this scorecard.",
    )
    priority = forms.IntegerField(
        label="Priority",
        min_value=0,
        max_value=PRIORITY_MAX,
        initial=100,
        help_text="When an account is in several scorecards' segments, the lowest number wins.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        segment = cast(forms.ModelChoiceField, self.fields["segment"])
        segment.queryset = Segment.objects.order_by("name")
        note = self.fields["note"]
        note.required = False
        note.label = "Note"
        note.help_text = "Optional: what this scorecard is for. Kept with version 1."

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Scorecard.objects.filter(name__iexact=name).exists():
            raise forms.ValidationError(f"A scorecard named “{name}” already exists.")
        return name

    def clean_segment(self) -> Segment | None:
        segment = self.cleaned_data.get("segment")
        if segment is None:
            existing = Scorecard.objects.filter(segment__isnull=True, is_active=True).first()
            if existing is not None:
                raise forms.ValidationError(
                    f"“{existing}” is already the default scorecard, and there can be only one "
                    "active default. Choose a segment for this one."
                )
        return segment

    def header_fields(self) -> list[forms.BoundField]:
        return [self["name"], self["segment"], self["priority"]]
