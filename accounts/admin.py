from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from accounts.audit_models import AuditEntry
from accounts.models import (
    Account,
    Contact,
    Contract,
    Interaction,
    Segment,
    SegmentMembership,
    SupportTicket,
    Task,
    Team,
    UsageRecord,
    User,
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "first_name", "last_name", "email", "role", "team", "is_active"]
    list_filter = ["role", "team", "is_active"]
    list_select_related = ["team"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Customer success", {"fields": ("role", "team")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        ("Customer success", {"fields": ("role", "team")}),
    )


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "manager"]
    search_fields = ["name"]
    list_select_related = ["manager"]


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ["name", "email", "title", "is_decision_maker", "is_executive_sponsor", "is_active"]


class ContractInline(admin.TabularInline):
    model = Contract
    extra = 0
    fields = ["start_date", "end_date", "arr", "seats", "status", "previous"]
    raw_id_fields = ["previous"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "owner",
        "team",
        "tier",
        "industry",
        "lifecycle_status",
        "arr",
        "renewal_date",
        "health_band",
    ]
    list_filter = ["lifecycle_status", "tier", "health_band", "team", "industry"]
    search_fields = ["name", "external_id", "domain"]
    list_select_related = ["owner", "team"]
    raw_id_fields = ["owner"]
    readonly_fields = ["arr", "renewal_date", "last_interaction_on", "health_score", "health_band"]
    inlines = [ContactInline, ContractInline]
    date_hierarchy = "start_date"


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "email",
        "account",
        "title",
        "is_decision_maker",
        "is_executive_sponsor",
    ]
    list_filter = ["is_decision_maker", "is_executive_sponsor", "is_active"]
    search_fields = ["name", "email", "account__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["account", "start_date", "end_date", "arr", "seats", "status"]
    list_filter = ["status"]
    search_fields = ["account__name", "external_id"]
    list_select_related = ["account"]
    raw_id_fields = ["account", "previous"]
    date_hierarchy = "end_date"


class SegmentMembershipInline(admin.TabularInline):
    model = SegmentMembership
    extra = 0
    raw_id_fields = ["account"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "created_by", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    inlines = [SegmentMembershipInline]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["account", "kind", "occurred_on", "author", "sentiment"]
    list_filter = ["kind", "sentiment"]
    search_fields = ["account__name", "summary"]
    list_select_related = ["account", "author"]
    raw_id_fields = ["account", "participants"]
    date_hierarchy = "occurred_on"


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["title", "account", "owner", "due_date", "priority", "status", "source"]
    list_filter = ["status", "priority", "source"]
    search_fields = ["title", "account__name"]
    list_select_related = ["account", "owner"]
    raw_id_fields = ["account", "interaction"]
    date_hierarchy = "due_date"


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = ["account", "day", "active_users", "licensed_seats", "logins", "events"]
    search_fields = ["account__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]
    date_hierarchy = "day"
    # 10 M rows: counting them for the paginator costs seconds.
    show_full_result_count = False


@admin.register(SupportTicket)
class SupportTicketAdmin(admin.ModelAdmin):
    list_display = ["external_id", "subject", "account", "priority", "status", "opened_at"]
    list_filter = ["priority", "status"]
    search_fields = ["external_id", "subject", "account__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]
    date_hierarchy = "opened_at"


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included: the audit log is append-only."""

    list_display = ["at", "actor_label", "ip_address", "action", "object_type", "object_label"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_label", "object_label", "object_id"]
    date_hierarchy = "at"
    readonly_fields = [
        "at",
        "actor",
        "actor_label",
        "ip_address",
        "action",
        "object_type",
        "object_id",
        "object_label",
        "changes",
        "details",
    ]
    raw_id_fields = ["actor"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False
