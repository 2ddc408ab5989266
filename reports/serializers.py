"""Serializers of the reports floor's API: the monthly executive report."""

from __future__ import annotations

from rest_framework import serializers

from cs_platform.api.scoping import ApiModelSerializer
from reports.models import MonthlyReport


class MonthlyReportSerializer(ApiModelSerializer):
    """One month's report in the archive: when and by whom it was made, not its numbers."""

    class Meta:
        model = MonthlyReport
        fields = ["id", "month", "summary", "version", "generated_at", "generated_by"]
        read_only_fields = fields


class MonthlyReportDetailSerializer(MonthlyReportSerializer):
    data = serializers.JSONField(
        read_only=True,
        help_text="Every number and series of the report, frozen when it was generated: the "
        "same figures as its page, PDF and CSV.",
    )

    class Meta(MonthlyReportSerializer.Meta):
        fields = [*MonthlyReportSerializer.Meta.fields, "data"]
        read_only_fields = fields
