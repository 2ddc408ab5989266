from django.contrib import admin
from django.http import HttpRequest

from feedback.models import (
    AnswerTag,
    FollowUp,
    Survey,
    SurveyAnswer,
    SurveyCampaign,
    SurveyInvitation,
    Tag,
    TagRule,
)


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "question", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "question"]


class AnswerTagInline(admin.TabularInline):
    model = AnswerTag
    extra = 0
    autocomplete_fields = ["tag"]
    readonly_fields = ["created_at"]


@admin.register(SurveyAnswer)
class SurveyAnswerAdmin(admin.ModelAdmin):
    list_display = ["account", "kind", "score", "answered_at", "contact", "source"]
    list_filter = ["kind", "score", "source"]
    search_fields = ["account__name", "comment", "external_id"]
    list_select_related = ["account", "contact"]
    raw_id_fields = ["account", "contact"]
    date_hierarchy = "answered_at"
    inlines = [AnswerTagInline]


@admin.register(SurveyCampaign)
class SurveyCampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "survey", "segment", "status", "sent_at", "created_by"]
    list_filter = ["status", "survey"]
    search_fields = ["name", "survey__name"]
    list_select_related = ["survey", "segment", "created_by"]
    raw_id_fields = ["created_by"]
    # Sending happens from the campaign page, which freezes recipients and queues emails.
    readonly_fields = ["status", "sent_at"]


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(admin.ModelAdmin):
    """Read-only: links are issued by campaigns; the hash opens nothing without the email."""

    list_display = ["contact", "account", "campaign", "sent_at", "expires_at", "answered_at"]
    list_filter = ["campaign"]
    search_fields = ["contact__email", "contact__name", "account__name"]
    list_select_related = ["contact", "account", "campaign"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "campaign",
        "contact",
        "account",
        "token_hash",
        "created_at",
        "sent_at",
        "expires_at",
        "answered_at",
        "answer",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class TagRuleInline(admin.TabularInline):
    model = TagRule
    extra = 0


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]
    inlines = [TagRuleInline]


@admin.register(TagRule)
class TagRuleAdmin(admin.ModelAdmin):
    list_display = ["tag", "keywords", "is_active"]
    list_filter = ["is_active", "tag"]
    search_fields = ["keywords", "tag__name"]
    list_select_related = ["tag"]


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["answer", "status", "contacted_at", "resolved_at", "updated_by"]
    list_filter = ["status"]
    search_fields = ["answer__account__name", "outcome"]
    list_select_related = ["answer__account", "answer__survey", "updated_by"]
    raw_id_fields = ["answer", "task", "updated_by"]
    date_hierarchy = "created_at"
