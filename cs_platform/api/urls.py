"""The REST API: resources under /api/v1/, the OpenAPI schema at /api/schema/ and its
interactive docs at /api/docs/ (Swagger UI served from drf-spectacular-sidecar's static
files, never a CDN)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from accounts import api as accounts_api
from accounts import api_ingest
from feedback import api as feedback_api
from feedback import api_ingest as feedback_ingest
from health import api as health_api
from journeys import api as journeys_api
from reports import api as reports_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("accounts", accounts_api.AccountViewSet, basename="account")
router.register("contacts", accounts_api.ContactViewSet, basename="contact")
router.register("contracts", accounts_api.ContractViewSet, basename="contract")
router.register("interactions", accounts_api.InteractionViewSet, basename="interaction")
router.register("tasks", accounts_api.TaskViewSet, basename="task")
router.register("segments", accounts_api.SegmentViewSet, basename="segment")
router.register("usage-records", accounts_api.UsageRecordViewSet, basename="usage-record")
router.register("support-tickets", accounts_api.SupportTicketViewSet, basename="support-ticket")
router.register("health-scores", health_api.HealthScoreViewSet, basename="health-score")
router.register("retention-metrics", health_api.RetentionMetricViewSet, basename="retention-metric")
router.register("stages", journeys_api.StageViewSet, basename="stage")
router.register(
    "stage-transitions", journeys_api.StageTransitionViewSet, basename="stage-transition"
)
router.register("playbooks", journeys_api.PlaybookViewSet, basename="playbook")
router.register("surveys", feedback_api.SurveyViewSet, basename="survey")
router.register("survey-campaigns", feedback_api.SurveyCampaignViewSet, basename="survey-campaign")
router.register("monthly-reports", reports_api.MonthlyReportViewSet, basename="monthly-report")

# Bulk ingestion first, so a resource registered later under the same prefix cannot
# shadow it.
ingest_patterns = [
    path("usage-records/bulk/", api_ingest.UsageBulkView.as_view(), name="usage-record-bulk"),
    path("support-tickets/bulk/", api_ingest.TicketBulkView.as_view(), name="support-ticket-bulk"),
    path(
        "survey-answers/bulk/",
        feedback_ingest.SurveyAnswerBulkView.as_view(),
        name="survey-answer-bulk",
    ),
]

app_name = "api"

urlpatterns = [
    path("v1/", include(ingest_patterns)),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file (docs/?script), not inline, so the
    # page works under the Content-Security-Policy's script-src 'self'.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]
