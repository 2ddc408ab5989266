"""Filters of the feedback pages (all GET, so a view can be bookmarked) and the manual tag
form.

Every choice offered is limited to what the viewer may see, and the accounts a filter
narrows are already accounts_visible_to(viewer): a filter can only narrow a book, never
widen it. A CSM asking for another team gets a message beside the field, not their book.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from accounts.forms.scope_csm import csm_field_scope
from accounts.models import Account, Segment, Team, User
from feedback.metrics import Period, add_months
from feedback.models import Survey, Tag
from feedback.selectors_insights import SCORE_GROUPS

PERIOD_CHOICES = [
    ("month", "This month"),
    ("quarter", "This quarter"),
    ("year", "This year"),
]
KIND_CHOICES = [("", "All kinds"), *Survey.Kind.choices]
TIER_CHOICES = [("", "All tiers"), *Account.Tier.choices]
# Longest range the product requests page and the verbatims filter accept; beyond it the
# queries scan years of answers for a page nobody reads that way.
MAX_RANGE_DAYS = 3 * 366


class _ScopeFields(forms.Form):
    """Segment, team, CSM and tier, limited to what the viewer may see."""

    segment = forms.ModelChoiceField(
        queryset=Segment.objects.all(), required=False, empty_label="All segments"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="All teams"
    )
    csm = forms.ModelChoiceField(
        label="CSM", queryset=User.objects.none(), required=False, empty_label="All CSMs"
    )
    tier = forms.ChoiceField(choices=TIER_CHOICES, required=False)

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
        self.fields["tier"].error_messages["invalid_choice"] = "Pick one of the tiers listed."
        teams = Team.objects.all()
        if not user.sees_all_accounts:
            teams = teams.filter(pk=user.team_id) if user.team_id else teams.none()
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = teams
        csm_field_scope(self, user=user, visible=visible)

    filter_names: tuple[str, ...] = ("segment", "team", "csm", "tier")

    @property
    def is_filtered(self) -> bool:
        return any(self.data.get(name) for name in self.filter_names)


class FeedbackScopeForm(_ScopeFields):
    kind = forms.ChoiceField(choices=KIND_CHOICES, required=False)
    period = forms.ChoiceField(choices=PERIOD_CHOICES, required=False)

    filter_names = ("segment", "team", "csm", "tier", "kind", "period")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].error_messages["invalid_choice"] = "Choose NPS, CSAT or CES."
        self.fields["period"].error_messages["invalid_choice"] = (
            "Choose this month, this quarter or this year."
        )

    def period_for(self, today: dt.date) -> Period:
        """The calendar month, quarter or year holding today (the default is the month)."""
        choice = self.cleaned_data.get("period") or "month"
        if choice == "quarter":
            return Period.quarter_of(today)
        if choice == "year":
            return Period.year_of(today)
        return Period.month_of(today)


class _DateRange(forms.Form):
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if end < start:
                self.add_error("date_to", "The end date is before the start date.")
            elif (end - start).days > MAX_RANGE_DAYS:
                self.add_error("date_to", "Pick a range of at most three years.")
        return data


class VerbatimFilterForm(_DateRange, _ScopeFields):
    q = forms.CharField(
        label="Search comments",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Words in the comment"}),
    )
    kind = forms.ChoiceField(choices=KIND_CHOICES, required=False)
    group = forms.ChoiceField(
        label="Score group",
        choices=[("", "All scores"), *((k, v[0]) for k, v in SCORE_GROUPS.items())],
        required=False,
    )
    tag = forms.ModelChoiceField(
        label="Theme", queryset=Tag.objects.all(), required=False, empty_label="All themes"
    )

    field_order = ["q", "kind", "group", "tag", "segment", "team", "csm", "tier"]
    filter_names = (
        "q",
        "kind",
        "group",
        "tag",
        "segment",
        "team",
        "csm",
        "tier",
        "date_from",
        "date_to",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tag"].error_messages["invalid_choice"] = "No such theme."
        self.fields["kind"].error_messages["invalid_choice"] = "Choose NPS, CSAT or CES."
        self.fields["group"].error_messages["invalid_choice"] = "Pick one of the groups listed."

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        group, kind = data.get("group"), data.get("kind")
        if group and kind and SCORE_GROUPS[group][1] != kind:
            group_kind = Survey.Kind(SCORE_GROUPS[group][1]).name
            self.add_error(
                "group",
                f"{SCORE_GROUPS[group][0]} are {group_kind} answers: "
                f"pick {group_kind} as the kind, or all kinds.",
            )
        data["q"] = (data.get("q") or "").strip()
        return data


class ProductRequestFilterForm(_DateRange, _ScopeFields):
    """The period (default: the 12 calendar months ending with this one) and the scope."""

    filter_names = ("segment", "team", "csm", "tier", "date_from", "date_to")

    def period_for(self, today: dt.date) -> Period:
        date_from, date_to = self.cleaned_data.get("date_from"), self.cleaned_data.get("date_to")
        end = date_to or max(today, date_from or today)
        start = date_from or add_months(end, -11)
        return Period(start, end + dt.timedelta(days=1))


class AnswerTagForm(forms.Form):
    """A theme by name: an existing one (any case), or a new one for those who configure."""

    name = forms.CharField(label="Theme", max_length=Tag._meta.get_field("name").max_length)

    def __init__(self, data: Any = None, *, user: User, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.user = user
        self.fields["name"].widget.attrs.update({"list": "theme-names", "autocomplete": "off"})
        self.fields["name"].error_messages["required"] = "Type or pick a theme."

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Type or pick a theme.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        name = data.get("name")
        if name:
            # The existing theme whatever its case, so "Export" and "export" stay one theme.
            data["tag"] = Tag.objects.filter(name__iexact=name).first()
            if data["tag"] is None and not self.user.can_configure:
                self.add_error(
                    "name",
                    f"There is no theme called “{name}”. Pick one from the list; "
                    "admins and CS managers add new themes.",
                )
        return data
