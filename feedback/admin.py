from django.contrib import admin

from feedback.models import Survey, SurveyAnswer


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "question", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "question"]


@admin.register(SurveyAnswer)
class SurveyAnswerAdmin(admin.ModelAdmin):
    list_display = ["account", "kind", "score", "answered_at", "contact"]
    list_filter = ["kind", "score"]
    search_fields = ["account__name", "comment", "external_id"]
    list_select_related = ["account", "contact"]
    raw_id_fields = ["account", "contact"]
    date_hierarchy = "answered_at"
