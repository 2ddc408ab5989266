"""Django admin for journeys: a window for CS ops, not a back door.

Stages and milestones may be edited here (the model's constraints still hold: unique order,
stuck after target). Where an account stands, its transitions and milestone completions are
records of what happened and are read-only: moving an account goes through journey_move on
the account's journey page, so every move leaves a transition and wakes the playbooks.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from journeys.models import (
    AccountJourney,
    Handoff,
    Milestone,
    MilestoneCompletion,
    Stage,
    StageTransition,
)


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never added, changed or deleted through the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0
    fields = ["order", "name", "target_days", "stuck_days", "is_required"]
    ordering = ["order", "pk"]


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["order", "name", "slug", "target_days", "auto_advance"]
    list_display_links = ["name"]
    ordering = ["order"]
    inlines = [MilestoneInline]


@admin.register(Milestone)
class MilestoneAdmin(admin.ModelAdmin):
    list_display = ["name", "stage", "target_days", "stuck_days", "is_required", "order"]
    list_filter = ["stage", "is_required"]
    list_select_related = ["stage"]
    search_fields = ["name"]


@admin.register(AccountJourney)
class AccountJourneyAdmin(_ReadOnlyAdmin):
    list_display = ["account", "stage", "entered_at"]
    list_filter = ["stage"]
    list_select_related = ["account", "stage"]
    search_fields = ["account__name"]


@admin.register(StageTransition)
class StageTransitionAdmin(_ReadOnlyAdmin):
    list_display = ["account", "from_stage", "to_stage", "at", "by", "rule"]
    list_filter = ["to_stage", "rule"]
    list_select_related = ["account", "from_stage", "to_stage", "by"]
    search_fields = ["account__name", "reason"]
    date_hierarchy = "at"


@admin.register(MilestoneCompletion)
class MilestoneCompletionAdmin(_ReadOnlyAdmin):
    list_display = ["account", "milestone", "completed_at", "completed_by"]
    list_select_related = ["account", "milestone__stage", "completed_by"]
    search_fields = ["account__name", "milestone__name"]


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    list_display = ["account", "go_live_date", "updated_by", "updated_at"]
    list_select_related = ["account", "updated_by"]
    search_fields = ["account__name"]
    raw_id_fields = ["account"]
    readonly_fields = ["updated_by"]
