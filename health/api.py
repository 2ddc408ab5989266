"""REST resources of the health floor under /api/v1/ (read-only): daily health scores and
monthly retention metrics (NRR, GRR, logo churn, renewal rate) by scope."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from rest_framework import mixins, permissions, viewsets

from accounts.api import account_filter
from accounts.models import User
from cs_platform.api.pagination import CursorPagination
from cs_platform.api.scoping import AccountScopedViewSetMixin, ApiAutoSchema, request_user
from health.models import Band, HealthScore, RetentionSnapshot
from health.serializers import HealthScoreSerializer, RetentionMetricSerializer


class HealthScoreApiFilter(django_filters.FilterSet):
    account = account_filter()
    day = django_filters.DateFromToRangeFilter(
        help_text="Days on or after `_after`, on or before `_before`."
    )
    band = django_filters.ChoiceFilter(choices=Band.choices)

    class Meta:
        model = HealthScore
        fields: list[str] = []


class HealthScoreViewSet(
    AccountScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """One score per account per day, with its explanation (components, missing measures,
    scorecard version, override). Cursor-paginated, newest first."""

    schema = ApiAutoSchema()
    queryset = HealthScore.objects.all()
    serializer_class = HealthScoreSerializer
    filterset_class = HealthScoreApiFilter
    pagination_class = CursorPagination
    # Cursor pages need a unique order; ids follow the nightly runs.
    ordering_fields = ["id"]
    ordering = ["-id"]


def retention_snapshots_visible_to(user: User) -> QuerySet[RetentionSnapshot]:
    """Everyone who sees every account reads every scope; a CSM reads their own book's and
    their own team's figures only (PRODUCT.md section 6: "own book and team"), since the
    company, segment and tier figures add up accounts outside what they may see."""
    snapshots = RetentionSnapshot.objects.all()
    if user.sees_all_accounts:
        return snapshots
    mine = Q(scope=RetentionSnapshot.Scope.CSM, scope_key=str(user.pk))
    if user.team_id is not None:
        mine |= Q(scope=RetentionSnapshot.Scope.TEAM, scope_key=str(user.team_id))
    return snapshots.filter(mine)


class RetentionMetricApiFilter(django_filters.FilterSet):
    scope = django_filters.ChoiceFilter(choices=RetentionSnapshot.Scope.choices)
    scope_key = django_filters.CharFilter(
        help_text="The segment, team or user id, or the tier's value; empty for the company."
    )
    month = django_filters.DateFromToRangeFilter(
        help_text="Months (first days) on or after `_after`, on or before `_before`."
    )

    class Meta:
        model = RetentionSnapshot
        fields: list[str] = []


class RetentionMetricViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Retention by calendar month and scope (company, segment, team, CSM, tier), from the
    nightly snapshots: the ARR bridge, logo churn, renewals, ARR at risk and their rates."""

    schema = ApiAutoSchema()
    permission_classes = [permissions.IsAuthenticated]
    queryset = RetentionSnapshot.objects.all()
    serializer_class = RetentionMetricSerializer
    filterset_class = RetentionMetricApiFilter
    ordering_fields = ["month"]
    ordering = ["-month", "scope", "scope_key"]

    def get_queryset(self) -> QuerySet[RetentionSnapshot]:
        if getattr(self, "swagger_fake_view", False):
            return RetentionSnapshot.objects.none()
        return retention_snapshots_visible_to(request_user(self.request))
