"""The form to override an account's health score."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from accounts.selectors.access import local_today
from health.services_overrides import OVERRIDE_MAX_DAYS, override_expiry_errors

# A month is the usual horizon of a judgement ("until the renewal call").
DEFAULT_OVERRIDE_DAYS = 30


class HealthOverrideForm(forms.Form):
    score = forms.IntegerField(
        label="Score",
        min_value=0,
        max_value=100,
        help_text="0–100; the band follows the scorecard's thresholds.",
        error_messages={"required": "Give the score to show instead of the computed one."},
    )
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the computed score is wrong for this account. Kept with your name.",
        error_messages={"required": "Say why you override the score."},
    )
    expires_on = forms.DateField(
        label="Expires on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=f"The last day the override holds; at most {OVERRIDE_MAX_DAYS} days ahead.",
        error_messages={"required": "Choose when the override ends."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.today = local_today()
        expires = self.fields["expires_on"].widget
        expires.attrs["min"] = (self.today + dt.timedelta(days=1)).isoformat()
        expires.attrs["max"] = (self.today + dt.timedelta(days=OVERRIDE_MAX_DAYS)).isoformat()
        if not self.is_bound:
            self.initial.setdefault(
                "expires_on", self.today + dt.timedelta(days=DEFAULT_OVERRIDE_DAYS)
            )

    def clean_expires_on(self) -> dt.date:
        expires_on: dt.date = self.cleaned_data["expires_on"]
        if errors := override_expiry_errors(expires_on=expires_on, today=self.today):
            raise forms.ValidationError(errors)
        return expires_on
