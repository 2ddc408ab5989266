"""Django admin for the health app: a window for CS ops, not a back door.

Scorecard versions, scores, runs and retention snapshots are records of what happened and
are read-only here. Writes that carry rules (one active default, immutable versions,
overrides applied at once) go through the same services as the pages.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from health.models import (
    HealthOverride,
    HealthRun,
    HealthScore,
    RetentionSnapshot,
    Scorecard,
    ScorecardVersion,
)
from health.services_overrides import health_override_revoke
from health.services_scorecards import scorecard_active_set


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never added, changed or deleted through the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ScorecardVersionInline(admin.TabularInline):
    """Versions are immutable: old scores point at them. New ones come from the settings
    page, which numbers them and records who made them."""

    model = ScorecardVersion
    extra = 0
    can_delete = False
    fields = ("number", "components", "red_below", "green_from", "note", "created_by", "created_at")
    readonly_fields = fields
    ordering = ["-number"]
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScorecardVersion]:
        return super().get_queryset(request).select_related("created_by")


@admin.register(Scorecard)
class ScorecardAdmin(admin.ModelAdmin):
    list_display = ["name", "segment", "priority", "is_active", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    list_select_related = ["segment"]
    inlines = [ScorecardVersionInline]
    # Segment and activation carry the one-active-default rule: changed through actions
    # (the service) rather than raw fields.
    fields = ["name", "segment", "priority", "is_active", "created_at", "updated_at"]
    readonly_fields = ["segment", "is_active", "created_at", "updated_at"]
    actions = ["activate", "deactivate"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A scorecard needs a first version: Health → Scorecards → New scorecard.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Scores point at its versions (PROTECT); deactivate instead.
        return False

    def _set_active(self, request: HttpRequest, queryset: QuerySet[Scorecard], on: bool) -> None:
        for scorecard in queryset:
            try:
                scorecard_active_set(scorecard=scorecard, is_active=on)
            except ValidationError as exc:
                self.message_user(request, f"{scorecard}: {' '.join(exc.messages)}", messages.ERROR)

    @admin.action(description="Activate the selected scorecards")
    def activate(self, request: HttpRequest, queryset: QuerySet[Scorecard]) -> None:
        self._set_active(request, queryset, True)

    @admin.action(description="Deactivate the selected segment scorecards")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Scorecard]) -> None:
        self._set_active(request, queryset, False)


@admin.register(HealthScore)
class HealthScoreAdmin(_ReadOnlyAdmin):
    list_display = [
        "account",
        "day",
        "score",
        "band",
        "computed_score",
        "computed_band",
        "scorecard_version",
        "override",
    ]
    list_filter = ["day", "band"]
    search_fields = ["account__name", "account__external_id"]
    raw_id_fields = ["account", "override"]
    list_select_related = ["account", "scorecard_version__scorecard", "override__account"]
    date_hierarchy = "day"
    # The change list counts 50,000 accounts x days: an estimate is enough for paging.
    show_full_result_count = False


@admin.register(HealthOverride)
class HealthOverrideAdmin(admin.ModelAdmin):
    list_display = ["account", "score", "expires_on", "created_by", "created_at", "revoked_at"]
    list_filter = ["expires_on", "revoked_at"]
    search_fields = ["account__name", "reason"]
    raw_id_fields = ["account"]
    list_select_related = ["account", "created_by"]
    readonly_fields = [
        "account",
        "score",
        "reason",
        "expires_on",
        "created_by",
        "created_at",
        "revoked_at",
        "revoked_by",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Made on the account's override page, which applies it at once.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The row is the audit record of who overrode what; revoke instead.
        return False

    @admin.action(description="Revoke the selected overrides")
    def revoke(self, request: HttpRequest, queryset: QuerySet[HealthOverride]) -> None:
        revoked = 0
        for override in queryset.select_related("account"):
            try:
                health_override_revoke(override=override, user=request.user)  # type: ignore[arg-type]
            except ValidationError as exc:
                self.message_user(
                    request, f"{override}: {' '.join(exc.messages)}", messages.WARNING
                )
            else:
                revoked += 1
        if revoked:
            self.message_user(request, f"Revoked {revoked} override(s).", messages.SUCCESS)


@admin.register(HealthRun)
class HealthRunAdmin(_ReadOnlyAdmin):
    list_display = [
        "day",
        "status",
        "accounts_scored",
        "alerts_raised",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "day"]
    date_hierarchy = "day"


@admin.register(RetentionSnapshot)
class RetentionSnapshotAdmin(_ReadOnlyAdmin):
    list_display = [
        "month",
        "scope",
        "scope_key",
        "cohort_accounts",
        "start_arr",
        "end_arr",
        "churned_arr",
        "computed_at",
    ]
    list_filter = ["scope", "month"]
    date_hierarchy = "month"
