from django.urls import include, path

app_name = "journeys"

urlpatterns = [
    path("", include("journeys.urls_journeys")),
    path("playbooks/", include("journeys.urls_playbooks")),
]
