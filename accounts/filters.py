"""The account list's filters. Every choice offered is already scoped to what the viewer may
see, and the queryset handed in is already accounts_visible_to(viewer): a filter can only
narrow a user's book, never widen it."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.apps import apps
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import Account, Segment, Team, User
from accounts.selectors.segments import segment_filter

NO_SCORE = "none"
NOT_STARTED = "none"
BAND_CHOICES = [*Account.Band.choices, (NO_SCORE, "No score")]
RENEWAL_WINDOWS = [("30", "Next 30 days"), ("60", "Next 60 days"), ("90", "Next 90 days")]


def _scoped_owners(user: User) -> QuerySet[User]:
    """Who the viewer may filter by: anyone owning an account, or for a CSM their team."""
    if user.sees_all_accounts:
        # One index probe per person on account(owner_id).
        return User.objects.filter(Exists(Account.objects.filter(owner=OuterRef("pk"))))
    # Not "owners of visible accounts": with the CSM's OR-scope inside, PostgreSQL plans that
    # EXISTS as a sequential scan per person (0.3 s at 50,000 accounts). The team is the same
    # set but for an account lent to another team's CSM, which the list still shows.
    mine = Q(pk=user.pk)
    if user.team_id is not None:
        mine |= Q(team_id=user.team_id)
    return User.objects.filter(mine)


def _scoped_teams(user: User) -> QuerySet[Team]:
    if user.sees_all_accounts:
        return Team.objects.all()
    if user.team_id is None:
        return Team.objects.none()
    return Team.objects.filter(pk=user.team_id)


class AccountFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Search",
        method="filter_search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Account name"}),
    )
    segment = django_filters.ModelChoiceFilter(
        label="Segment",
        queryset=Segment.objects.all(),
        method="filter_segment",
        empty_label="Any segment",
    )
    owner = django_filters.ModelChoiceFilter(
        label="Owner", queryset=User.objects.none(), field_name="owner", empty_label="Anyone"
    )
    team = django_filters.ModelChoiceFilter(
        label="Team", queryset=Team.objects.none(), field_name="team", empty_label="Any team"
    )
    tier = django_filters.ChoiceFilter(
        label="Tier", choices=Account.Tier.choices, empty_label="Any tier"
    )
    industry = django_filters.ChoiceFilter(label="Industry", choices=[], empty_label="Any industry")
    lifecycle = django_filters.ChoiceFilter(
        label="Lifecycle",
        field_name="lifecycle_status",
        choices=Account.Lifecycle.choices,
        empty_label="Any status",
    )
    band = django_filters.ChoiceFilter(
        label="Health", choices=BAND_CHOICES, method="filter_band", empty_label="Any health"
    )
    stage = django_filters.ChoiceFilter(
        label="Journey stage", choices=[], method="filter_stage", empty_label="Any stage"
    )
    renewal = django_filters.ChoiceFilter(
        label="Renews within",
        choices=RENEWAL_WINDOWS,
        method="filter_renewal",
        empty_label="Any time",
    )

    class Meta:
        model = Account
        fields: list[str] = []

    def __init__(
        self,
        data: object = None,
        queryset: QuerySet[Account] | None = None,
        *,
        user: User,
        today: dt.date,
        **kwargs: object,
    ) -> None:
        super().__init__(data, queryset, **kwargs)
        self.today = today
        visible = self.queryset
        self.filters["owner"].queryset = _scoped_owners(user)
        self.filters["team"].queryset = _scoped_teams(user)
        # One DISTINCT query; the industries offered are those in the viewer's own book.
        industries = (
            visible.exclude(industry="")
            .order_by("industry")
            .values_list("industry", flat=True)
            .distinct()
        )
        self.filters["industry"].extra["choices"] = [(name, name) for name in industries]
        # Stages belong to the journeys app, a floor above this one: looked up by name so
        # the accounts app does not import it. One query.
        stage_model = apps.get_model("journeys", "Stage")
        stages = stage_model.objects.order_by("order").values_list("pk", "name")
        self.filters["stage"].extra["choices"] = [
            *((str(pk), name) for pk, name in stages),
            (NOT_STARTED, "Not started"),
        ]

    @property
    def is_filtered(self) -> bool:
        """Whether any filter field carries a value (the empty state reads differently)."""
        return any(self.data.get(name) for name in self.filters)

    def filter_search(self, queryset: QuerySet[Account], name: str, value: str) -> QuerySet:
        value = value.strip()
        return queryset.filter(name__icontains=value) if value else queryset

    def filter_segment(
        self, queryset: QuerySet[Account], name: str, value: Segment
    ) -> QuerySet[Account]:
        return segment_filter(queryset, value, today=self.today)

    def filter_band(self, queryset: QuerySet[Account], name: str, value: str) -> QuerySet:
        if value == NO_SCORE:
            return queryset.filter(health_score__isnull=True)
        return queryset.filter(health_band=value)

    def filter_stage(self, queryset: QuerySet[Account], name: str, value: str) -> QuerySet:
        if value == NOT_STARTED:
            return queryset.filter(journey__isnull=True)
        return queryset.filter(journey__stage_id=int(value))

    def filter_renewal(self, queryset: QuerySet[Account], name: str, value: str) -> QuerySet:
        horizon = self.today + dt.timedelta(days=int(value))
        return queryset.filter(renewal_date__gte=self.today, renewal_date__lte=horizon)
