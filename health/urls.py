from django.urls import include, path

from health.views import overrides, overview, scorecards

app_name = "health"

urlpatterns = [
    path("", overview.health_overview, name="overview"),
    path("scorecards/", scorecards.scorecard_list, name="scorecard_list"),
    path("scorecards/new/", scorecards.scorecard_create, name="scorecard_create"),
    path("scorecards/<int:pk>/", scorecards.scorecard_detail, name="scorecard_detail"),
    path("scorecards/<int:pk>/edit/", scorecards.scorecard_edit, name="scorecard_edit"),
    path("accounts/<int:pk>/override/", overrides.override_create, name="override_create"),
    path("overrides/<int:pk>/revoke/", overrides.override_revoke, name="override_revoke"),
    path("", include("health.urls_validation")),
]
