"""The dashboards' scope forms: segment, team or CSM, and a month or quarter, all in the URL
so a view can be bookmarked and shared.

The snapshots hold figures per single scope, so the dashboard shows one scope at a time:
the whole portfolio, one segment, one team or one CSM's book. Every choice offered is
already limited to what the viewer may see: a CSM is offered their own team, themselves
and their teammates, never a segment or the company (those would include other teams'
accounts); a CSM asking for another team gets a message beside the field, not numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from html import escape
from typing import Any, cast

from django import forms
from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.models import Segment, Team, User
from reports.selectors_dashboards import DashPeriod, DashScope, period_choices

SCOPE_FIELDS = ("segment", "team", "csm")
ONE_SCOPE = "Pick one scope at a time: a segment, a team or a CSM."


def csm_choices_for(user: User) -> QuerySet[User]:
    """The books a viewer may open: every CSM for those who see every account; for a CSM,
    themselves and the CSMs of their own team."""
    csms = User.objects.filter(role=User.Role.CSM, is_active=True)
    if user.sees_all_accounts:
        return csms
    mine = Q(pk=user.pk)
    if user.team_id is not None:
        mine |= Q(team_id=user.team_id)
    return User.objects.filter(mine & (Q(role=User.Role.CSM) | Q(pk=user.pk)))


# The filter bar's option lists (every segment, team and CSM a viewer may pick) change
# rarely and cost a query apiece, ~800 rows for the CSMs of a large portfolio, on every
# dashboard view: they are cached this long. Choosing is still validated against the
# database by the form, so a stale list can only offer a name that then fails cleanly.
OPTIONS_TTL_SECONDS = 60


def options_html(items: Iterable[tuple[str, str]]) -> str:
    """<option>s, none selected. html.escape, not format_html: this runs for every option."""
    return "".join(
        f'<option value="{escape(value)}">{escape(label)}</option>' for value, label in items
    )


def cached_options(name: str, queryset: QuerySet, *, viewer: User) -> str:
    """The <option>s of a select's choices, sorted by label, cached per kind of viewer:
    those who see every account share one list; a CSM's depends on their team."""
    audience = "all" if viewer.sees_all_accounts else f"team{viewer.team_id}-user{viewer.pk}"
    key = f"reports:dashboard-options:{name}:{audience}"
    html = cache.get(key)
    if html is None:
        if name == "csm":
            rows = queryset.order_by().values_list("pk", "first_name", "last_name", "username")
            options = [
                (str(pk), f"{first} {last}".strip() or username)
                for pk, first, last, username in rows
            ]
        else:
            options = [
                (str(pk), label) for pk, label in queryset.order_by().values_list("pk", "name")
            ]
        options.sort(key=lambda item: item[1].lower())
        html = options_html(options)
        cache.set(key, html, OPTIONS_TTL_SECONDS)
    return html


def select_html(
    *,
    name: str,
    field_id: str,
    options: str,
    selected: str,
    empty_label: str | None,
    invalid: bool = False,
) -> SafeString:
    """A <select> from ready <option>s (see options_html), the selected one marked.

    Django's widget renders each option through a template, which costs tens of
    milliseconds for the ~800 CSMs of a large portfolio."""
    if empty_label is not None:
        options = options_html([("", empty_label)]) + options
    if selected:
        marker = f'<option value="{escape(selected)}">'
        options = options.replace(marker, marker[:-1] + " selected>", 1)
    described = (
        format_html(' aria-invalid="true" aria-describedby="{}_error"', field_id) if invalid else ""
    )
    return format_html(
        '<select name="{}" id="{}"{}>{}</select>',
        name,
        field_id,
        described,
        SafeString(options),
    )


class DashboardScopeForm(forms.Form):
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.none(), required=False, empty_label="All segments"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="All teams"
    )
    csm = forms.ModelChoiceField(
        label="CSM", queryset=User.objects.none(), required=False, empty_label="All CSMs"
    )
    period = forms.ChoiceField(choices=[], required=False)

    def __init__(self, data: Any = None, *, user: User, today: dt.date, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.user = user
        self.today = today
        self.fields["segment"].error_messages["invalid_choice"] = (
            "No such segment, or not one you can open: segments span every team."
        )
        self.fields["team"].error_messages["invalid_choice"] = (
            "Pick one of the teams listed: you can only open your own team."
        )
        self.fields["csm"].error_messages["invalid_choice"] = (
            "Pick one of the CSMs listed: you can only open your own team's books."
        )
        self.fields["period"].error_messages["invalid_choice"] = (
            "Pick a month or quarter from the list: snapshots cover the last 12 months."
        )
        cast(forms.ChoiceField, self.fields["period"]).choices = period_choices(today)
        if user.sees_all_accounts:
            segments = Segment.objects.all()
            teams = Team.objects.all()
        else:
            segments = Segment.objects.none()
            teams = Team.objects.filter(pk=user.team_id) if user.team_id else Team.objects.none()
        cast(forms.ModelChoiceField, self.fields["segment"]).queryset = segments
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = teams
        cast(forms.ModelChoiceField, self.fields["csm"]).queryset = csm_choices_for(user)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        chosen = [name for name in SCOPE_FIELDS if cleaned.get(name) is not None]
        for name in chosen[1:]:
            self.add_error(name, ONE_SCOPE)
        return cleaned

    # --- What the view reads ---------------------------------------------------------------

    @property
    def is_filtered(self) -> bool:
        return any(self.data.get(name) for name in (*SCOPE_FIELDS, "period"))

    @property
    def may_see_company(self) -> bool:
        return self.user.sees_all_accounts

    def scope(self) -> DashScope:
        """The chosen scope; with none chosen, the portfolio (a CSM: their team, else their
        own book). Only call once the form is valid."""
        data = self.cleaned_data
        if data.get("segment") is not None:
            return DashScope.of_segment(data["segment"])
        if data.get("team") is not None:
            return DashScope.of_team(data["team"])
        if data.get("csm") is not None:
            return DashScope.of_csm(data["csm"])
        if self.user.sees_all_accounts:
            return DashScope.company()
        if self.user.team is not None:
            return DashScope.of_team(self.user.team)
        return DashScope.of_csm(self.user)

    def period_value(self) -> DashPeriod:
        value = self.cleaned_data.get("period") if self.is_bound and self.is_valid() else ""
        return DashPeriod.parse(value or "") or DashPeriod.month_of(self.today)

    # --- Fast rendering --------------------------------------------------------------------

    def _selected(self, name: str) -> str:
        return str(self.data.get(name, "")) if self.is_bound else ""

    def select(self, name: str) -> SafeString:
        field_id = f"id_{name}"
        invalid = bool(self.is_bound and self.errors.get(name))
        if name == "period":
            selected = self._selected(name) or DashPeriod.month_of(self.today).value
            groups = cast(Any, cast(forms.ChoiceField, self.fields["period"]).choices)
            return select_html(
                name=name,
                field_id=field_id,
                options="".join(
                    f'<optgroup label="{escape(label)}">{options_html(items)}</optgroup>'
                    for label, items in groups
                ),
                selected=selected,
                empty_label=None,
                invalid=invalid,
            )
        field = cast(forms.ModelChoiceField, self.fields[name])
        options = cached_options(name, cast(QuerySet, field.queryset), viewer=self.user)
        return select_html(
            name=name,
            field_id=field_id,
            options=options,
            selected=self._selected(name),
            empty_label=None if field.empty_label is None else str(field.empty_label),
            invalid=invalid,
        )

    def selects(self) -> list[dict[str, Any]]:
        """The filter bar's fields, ready for the template: label, HTML and errors."""
        names = [*(["segment"] if self.user.sees_all_accounts else []), "team", "csm", "period"]
        return [
            {
                "name": name,
                "label": self.fields[name].label or name.capitalize(),
                "html": self.select(name),
                "errors": self.errors.get(name, []) if self.is_bound else [],
            }
            for name in names
        ]


class BookPickerForm(forms.Form):
    """Which CSM's book a manager, an admin or an executive opens (`?csm=<id>`)."""

    csm = forms.ModelChoiceField(
        label="CSM", queryset=User.objects.none(), required=False, empty_label="Choose a CSM"
    )

    def __init__(self, data: Any = None, *, user: User, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.user = user
        cast(forms.ModelChoiceField, self.fields["csm"]).queryset = csm_choices_for(user)

    def select(self, selected: str) -> SafeString:
        queryset = cast(QuerySet, cast(forms.ModelChoiceField, self.fields["csm"]).queryset)
        return select_html(
            name="csm",
            field_id="id_csm",
            options=cached_options("csm", queryset, viewer=self.user),
            selected=selected,
            empty_label="Choose a CSM",
        )
