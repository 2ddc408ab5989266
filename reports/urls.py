from django.urls import include, path

app_name = "reports"

urlpatterns = [
    path("", include("reports.urls_dashboards")),
    path("", include("reports.urls_team")),
    path("reports/", include("reports.urls_monthly")),
]
