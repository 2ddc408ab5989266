"""Forms of the team performance page, targets and initiatives.

The page's scope (period, comparison, team, sort) is a GET form kept in the URL, so a view
can be bookmarked and shared. A CSM may only pick their own team; another team's id gets a
message beside the field, never another team's rows.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.safestring import SafeString

from accounts.models import Segment, Team, User
from reports.forms import cached_options, options_html, select_html
from reports.models import Initiative, Metric, Scope, Target
from reports.selectors_team import (
    DEFAULT_SORT,
    PICKER_MONTHS,
    PICKER_QUARTERS,
    SORT_KEYS,
    teams_for,
)
from reports.services_targets import TARGET_SCOPES, duplicate_message, target_duplicate
from reports.targets import ReportPeriod, month_add, period_start_of

COMPARE_CHOICES = [
    ("previous", "the previous period"),
    ("last_year", "the same period last year"),
    ("none", "nothing"),
]


def period_choices(today: dt.date) -> list[tuple[str, list[tuple[str, str]]]]:
    """Recent months and quarters, newest first, grouped for the picker."""
    this_month = ReportPeriod.containing(Target.Period.MONTH, today)
    this_quarter = ReportPeriod.containing(Target.Period.QUARTER, today)
    months = [ReportPeriod(month_add(this_month.start, -n)) for n in range(PICKER_MONTHS)]
    quarters = [
        ReportPeriod(month_add(this_quarter.start, -3 * n), Target.Period.QUARTER)
        for n in range(PICKER_QUARTERS)
    ]
    return [
        ("Months", [(p.key, p.label + (" (so far)" if p.contains(today) else "")) for p in months]),
        (
            "Quarters",
            [(p.key, p.label + (" (so far)" if p.contains(today) else "")) for p in quarters],
        ),
    ]


class TeamPerformanceForm(forms.Form):
    period = forms.ChoiceField(required=False)
    compare = forms.ChoiceField(label="Compare with", choices=COMPARE_CHOICES, required=False)
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="All teams"
    )
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any = None, *, user: User, today: dt.date, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.today = today
        self.user = user
        period = cast(forms.ChoiceField, self.fields["period"])
        period.choices = period_choices(today)
        period.error_messages["invalid_choice"] = (
            "Pick a month or a quarter from the list (the last two years)."
        )
        team = cast(forms.ModelChoiceField, self.fields["team"])
        team.queryset = teams_for(user)
        team.error_messages["invalid_choice"] = (
            "Pick one of the teams listed: you can only review your own team."
            if user.is_csm
            else "No such team."
        )
        if user.is_csm:
            team.empty_label = "My team" if user.team_id else "Just me"

    def clean_period(self) -> ReportPeriod:
        key = self.cleaned_data.get("period")
        if not key:
            return ReportPeriod.containing(Target.Period.MONTH, self.today)
        return ReportPeriod.parse(key)

    def clean_compare(self) -> str:
        return self.cleaned_data.get("compare") or "previous"

    def clean_sort(self) -> str:
        sort = self.cleaned_data.get("sort") or DEFAULT_SORT
        # An unknown column is not worth an error message: the default order is shown.
        return sort if sort.lstrip("-") in SORT_KEYS else DEFAULT_SORT

    def compare_period(self) -> ReportPeriod | None:
        period: ReportPeriod = self.cleaned_data["period"]
        choice = self.cleaned_data["compare"]
        if choice == "previous":
            return period.previous()
        if choice == "last_year":
            return period.year_before()
        return None

    @property
    def is_filtered(self) -> bool:
        return any(self.data.get(name) for name in ("period", "compare", "team"))

    # --- Fast rendering --------------------------------------------------------------------

    def _select(self, name: str, options: str, *, default: str = "") -> SafeString:
        field = self.fields[name]
        empty_label = getattr(field, "empty_label", None)
        selected = str(self.data.get(name) or "") if self.is_bound else ""
        return select_html(
            name=name,
            field_id=f"id_{name}",
            options=options,
            selected=selected or default,
            empty_label=None if empty_label is None else str(empty_label),
            invalid=bool(self.is_bound and self.errors.get(name)),
        )

    def selects(self) -> list[dict[str, Any]]:
        """The filter bar's fields, ready for the template: label, HTML and errors. Plain
        strings rather than Django's widgets, which render every option through a template
        (two years of months and quarters on every view of the page)."""
        period = cast(forms.ChoiceField, self.fields["period"])
        groups = cast(Any, period.choices)
        team = cast(forms.ModelChoiceField, self.fields["team"])
        html = {
            "period": self._select(
                "period",
                "".join(
                    f'<optgroup label="{escape(label)}">{options_html(items)}</optgroup>'
                    for label, items in groups
                ),
                default=ReportPeriod.containing(Target.Period.MONTH, self.today).key,
            ),
            "compare": self._select("compare", options_html(COMPARE_CHOICES), default="previous"),
            "team": self._select(
                "team", cached_options("team", cast(QuerySet, team.queryset), viewer=self.user)
            ),
        }
        return [
            {
                "name": name,
                "label": self.fields[name].label or name.capitalize(),
                "html": html[name],
                "errors": self.errors.get(name, []) if self.is_bound else [],
            }
            for name in ("period", "compare", "team")
        ]


# --- Targets -----------------------------------------------------------------------------

MONTH_CHOICES = [(str(n), dt.date(2000, n, 1).strftime("%B")) for n in range(1, 13)]
QUARTER_CHOICES = [
    (str(n), f"Q{n} ({MONTH_CHOICES[3 * n - 3][1][:3]}–{MONTH_CHOICES[3 * n - 1][1][:3]})")
    for n in range(1, 5)
]
SCOPE_FIELDS = {Scope.TEAM: "team", Scope.CSM: "csm", Scope.SEGMENT: "segment"}


class TargetForm(forms.Form):
    metric = forms.ChoiceField(choices=Metric.choices)
    direction = forms.ChoiceField(
        label="Should be",
        choices=Target.Direction.choices,
        help_text="Lower is better for logo churn and ARR at risk: choose “at most” for those.",
    )
    value = forms.DecimalField(
        max_digits=16, decimal_places=2, help_text="In the metric's unit: 110 for NRR ≥ 110 %."
    )
    period = forms.ChoiceField(choices=Target.Period.choices)
    year = forms.IntegerField(min_value=2000, max_value=2100)
    month = forms.TypedChoiceField(
        choices=[("", "—"), *MONTH_CHOICES],
        coerce=int,
        required=False,
        empty_value=None,
        help_text="For a monthly target.",
    )
    quarter = forms.TypedChoiceField(
        choices=[("", "—"), *QUARTER_CHOICES],
        coerce=int,
        required=False,
        empty_value=None,
        help_text="For a quarterly target.",
    )
    scope = forms.ChoiceField(
        label="For", choices=[(s.value, s.label) for s in TARGET_SCOPES], initial=Scope.COMPANY
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        required=False,
        empty_label="—",
        help_text="For a team target.",
    )
    csm = forms.ModelChoiceField(
        label="CSM",
        queryset=User.objects.none(),
        required=False,
        empty_label="—",
        help_text="For a CSM target.",
    )
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.none(),
        required=False,
        empty_label="—",
        help_text="For a segment target.",
    )
    note = forms.CharField(max_length=300, required=False)

    def __init__(
        self, data: Any = None, *, user: User, instance: Target | None = None, **kwargs: Any
    ) -> None:
        super().__init__(data, **kwargs)
        self.instance = instance
        # Only the objects the person may see; admins and managers see them all.
        teams: QuerySet[Team] = teams_for(user)
        csms = User.objects.filter(role=User.Role.CSM, is_active=True)
        if user.is_csm:
            csms = csms.filter(team_id=user.team_id) if user.team_id else csms.filter(pk=user.pk)
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = teams
        cast(forms.ModelChoiceField, self.fields["csm"]).queryset = csms
        cast(forms.ModelChoiceField, self.fields["segment"]).queryset = Segment.objects.all()
        self.fields["team"].error_messages["invalid_choice"] = "Pick one of the teams listed."
        self.fields["csm"].error_messages["invalid_choice"] = "Pick one of the CSMs listed."
        self.fields["segment"].error_messages["invalid_choice"] = "Pick one of the segments listed."

    @staticmethod
    def initial_for(target: Target | None, *, today: dt.date) -> dict[str, Any]:
        if target is None:
            quarter = (today.month - 1) // 3 + 1
            return {
                "period": Target.Period.QUARTER,
                "year": today.year,
                "quarter": quarter,
                "month": today.month,
                "scope": Scope.COMPANY,
                "direction": Target.Direction.AT_LEAST,
            }
        initial: dict[str, Any] = {
            "metric": target.metric,
            "direction": target.direction,
            "value": target.value,
            "period": target.period,
            "year": target.period_start.year,
            "month": target.period_start.month,
            "quarter": (target.period_start.month - 1) // 3 + 1,
            "scope": target.scope,
            "note": target.note,
        }
        field = SCOPE_FIELDS.get(Scope(target.scope)) if target.scope in Scope.values else None
        if field and target.scope_key.isdigit():
            initial[field] = int(target.scope_key)
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        period, year = data.get("period"), data.get("year")
        if period and year:
            try:
                if period == Target.Period.MONTH:
                    if data.get("month") is None:
                        self.add_error("month", "Choose the month of a monthly target.")
                    else:
                        data["period_start"] = period_start_of(
                            period, year=year, index=data["month"]
                        )
                elif period == Target.Period.QUARTER:
                    if data.get("quarter") is None:
                        self.add_error("quarter", "Choose the quarter of a quarterly target.")
                    else:
                        data["period_start"] = period_start_of(
                            period, year=year, index=data["quarter"]
                        )
                else:
                    data["period_start"] = period_start_of(period, year=year)
            except ValueError as exc:
                self.add_error("period", str(exc))

        scope = data.get("scope")
        if scope == Scope.COMPANY:
            data["scope_key"] = ""
        elif scope in SCOPE_FIELDS:
            field = SCOPE_FIELDS[Scope(scope)]
            chosen = data.get(field)
            if chosen is None:
                if field not in self.errors:
                    label = Scope(scope).label.lower() if scope != Scope.CSM else "CSM"
                    self.add_error(field, f"Choose the {label} this target is for.")
            else:
                data["scope_key"] = str(chosen.pk)

        if not self.errors and period and scope and "period_start" in data and "scope_key" in data:
            duplicate = target_duplicate(
                metric=data["metric"],
                period=period,
                period_start=data["period_start"],
                scope=scope,
                scope_key=data["scope_key"],
                exclude_pk=self.instance.pk if self.instance else None,
            )
            if duplicate is not None:
                self.add_error(None, duplicate_message(duplicate))
        return data


# --- Initiatives -------------------------------------------------------------------------


class InitiativeForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="What the program does, for whom, and what it should change.",
    )
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.none(),
        help_text="The accounts the program is for; the rest of the portfolio is the "
        "comparison group.",
    )
    metric = forms.ChoiceField(
        choices=[("", "—"), *Metric.choices], help_text="The metric it should move."
    )
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        required=False,
        help_text="Leave empty while it runs.",
    )
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        cast(forms.ModelChoiceField, self.fields["segment"]).queryset = Segment.objects.all()
        cast(forms.ModelChoiceField, self.fields["owner"]).queryset = User.objects.filter(
            is_active=True
        ).exclude(role=User.Role.EXECUTIVE)
        self.fields["segment"].error_messages["invalid_choice"] = "Pick one of the segments listed."
        self.fields["owner"].error_messages["invalid_choice"] = "Pick one of the people listed."
        self.fields["metric"].error_messages["required"] = (
            "Choose the metric the initiative should move."
        )

    @staticmethod
    def initial_for(initiative: Initiative) -> dict[str, Any]:
        return {
            "name": initiative.name,
            "description": initiative.description,
            "segment": initiative.segment_id,
            "metric": initiative.metric,
            "start_date": initiative.start_date,
            "end_date": initiative.end_date,
            "owner": initiative.owner_id,
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "The end date cannot be before the start date.")
        return data
