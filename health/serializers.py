"""Serializers of the health floor's API: scores (read) and retention metrics (read)."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cs_platform.api.scoping import ApiModelSerializer
from health import retention_rates
from health.models import HealthScore, RetentionSnapshot


class HealthScoreSerializer(ApiModelSerializer):
    is_stale = serializers.BooleanField(
        read_only=True,
        help_text="The newest usage behind the score is more than "
        f"{HealthScore.USAGE_STALE_DAYS} days older than the score's day.",
    )
    components = serializers.JSONField(
        read_only=True,
        help_text='Per measure: {"raw", "points", "weight", "effective_weight"}.',
    )
    missing = serializers.JSONField(
        read_only=True, help_text="Measures with no data: left out, the others renormalised."
    )

    class Meta:
        model = HealthScore
        fields = [
            "id",
            "account",
            "day",
            "score",
            "band",
            "computed_score",
            "computed_band",
            "components",
            "missing",
            "scorecard_version",
            "override",
            "usage_through",
            "is_stale",
            "computed_at",
        ]
        read_only_fields = fields


# Rates are decimal strings like the ARR amounts, so a client never meets a binary float.
RATE_SCHEMA = {"type": "string", "format": "decimal", "nullable": True, "example": "104.5"}


def _text(rate: Decimal | None) -> str | None:
    return None if rate is None else str(rate)


def _rate(help_text: str) -> serializers.SerializerMethodField:
    return serializers.SerializerMethodField(help_text=help_text)


class RetentionMetricSerializer(ApiModelSerializer):
    """A month's retention figures for one scope; rates are percentages rounded to 0.1, and
    null (never 0) when their denominator is 0."""

    nrr = _rate("(start + expansion - contraction - churned ARR) / start ARR, in %.")
    grr = _rate("(start - contraction - churned ARR) / start ARR, in %, at most 100.")
    logo_churn_rate = _rate("Churned accounts / accounts in the cohort, in %.")
    renewal_rate_count = _rate("Due contracts renewed / contracts due, in %.")
    renewal_rate_arr = _rate("ARR of the renewed due contracts / ARR due, in %.")

    class Meta:
        model = RetentionSnapshot
        fields = [
            "month",
            "scope",
            "scope_key",
            "cohort_accounts",
            "churned_accounts",
            "start_arr",
            "new_arr",
            "expansion_arr",
            "contraction_arr",
            "churned_arr",
            "end_arr",
            "contracts_due",
            "contracts_renewed",
            "due_arr",
            "renewed_arr",
            "arr_at_risk",
            "nrr",
            "grr",
            "logo_churn_rate",
            "renewal_rate_count",
            "renewal_rate_arr",
            "computed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(RATE_SCHEMA)
    def get_nrr(self, row: RetentionSnapshot) -> str | None:
        return _text(retention_rates.nrr(row))

    @extend_schema_field(RATE_SCHEMA)
    def get_grr(self, row: RetentionSnapshot) -> str | None:
        return _text(retention_rates.grr(row))

    @extend_schema_field(RATE_SCHEMA)
    def get_logo_churn_rate(self, row: RetentionSnapshot) -> str | None:
        return _text(retention_rates.logo_churn_rate(row))

    @extend_schema_field(RATE_SCHEMA)
    def get_renewal_rate_count(self, row: RetentionSnapshot) -> str | None:
        return _text(retention_rates.renewal_rate_count(row))

    @extend_schema_field(RATE_SCHEMA)
    def get_renewal_rate_arr(self, row: RetentionSnapshot) -> str | None:
        return _text(retention_rates.renewal_rate_arr(row))
