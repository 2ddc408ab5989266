"""The health page's scope filter: segment, team, CSM and the movers' window, all in the URL.

Every choice offered is already limited to what the viewer may see, and the accounts it
narrows are already accounts_visible_to(viewer): a filter can only narrow a book, never
widen it. A CSM asking for another team gets a message beside the field, not their book.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from accounts.forms.scope_csm import csm_field_scope
from accounts.models import Account, Segment, Team, User

MOVER_WINDOWS = (7, 30)
DEFAULT_WINDOW = 7


class HealthScopeForm(forms.Form):
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.all(), required=False, empty_label="All segments"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="All teams"
    )
    csm = forms.ModelChoiceField(
        label="CSM", queryset=User.objects.none(), required=False, empty_label="All CSMs"
    )
    window = forms.TypedChoiceField(
        label="Movers over",
        choices=[(str(days), f"{days} days") for days in MOVER_WINDOWS],
        coerce=int,
        required=False,
        empty_value=None,
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
        self.fields["window"].error_messages["invalid_choice"] = "Choose 7 or 30 days."
        teams = Team.objects.all()
        if not user.sees_all_accounts:
            teams = teams.filter(pk=user.team_id) if user.team_id else teams.none()
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = teams
        csm_field_scope(self, user=user, visible=visible)

    @property
    def is_filtered(self) -> bool:
        return any(self.data.get(name) for name in ("segment", "team", "csm"))

    @property
    def movers_window(self) -> int:
        """The movers' window in days: the cleaned one, else the default."""
        if self.is_bound and self.is_valid() and self.cleaned_data["window"]:
            return self.cleaned_data["window"]
        return DEFAULT_WINDOW
