"""REST resources of the reports floor under /api/v1/: the monthly executive reports, read
only, with the numbers frozen when each was generated (generation stays on the report pages
and the monthly Celery job).

Who: admins, managers and executives, as on the report pages; a CSM gets 403 (the report is
company-wide).
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from rest_framework import mixins, permissions, viewsets
from rest_framework.request import Request

from cs_platform.api.roles import RoleRestrictedAutoSchema
from cs_platform.api.scoping import request_user
from reports import serializers as s
from reports.models import MonthlyReport
from reports.monthly import monthly_reports_for_list, user_reads_monthly_report


class ReadsMonthlyReport(permissions.BasePermission):
    message = "The monthly report is company-wide; CSMs follow their own book on dashboards."

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_reads_monthly_report(request_user(request))


class MonthlyReportApiFilter(django_filters.FilterSet):
    month = django_filters.DateFromToRangeFilter(
        help_text="Months (first days) on or after `_after`, on or before `_before`."
    )

    class Meta:
        model = MonthlyReport
        fields: list[str] = []


class MonthlyReportViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The archive of monthly reports, newest first; each report's detail carries its frozen
    numbers (`data`). Regenerating a month makes a new version and replaces the numbers."""

    schema = RoleRestrictedAutoSchema()
    permission_classes = [permissions.IsAuthenticated, ReadsMonthlyReport]
    lookup_value_regex = r"[0-9]+"
    queryset = MonthlyReport.objects.all()
    serializer_class = s.MonthlyReportSerializer
    filterset_class = MonthlyReportApiFilter
    ordering_fields = ["month", "generated_at"]
    ordering = ["-month"]

    def get_queryset(self) -> QuerySet[MonthlyReport]:
        if self.action == "retrieve":
            # The numbers, never the PDF's bytes.
            return MonthlyReport.objects.defer("pdf").select_related("generated_by")
        return monthly_reports_for_list()

    def get_serializer_class(self) -> type[s.MonthlyReportSerializer]:
        if self.action == "retrieve":
            return s.MonthlyReportDetailSerializer
        return s.MonthlyReportSerializer
