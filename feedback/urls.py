from django.urls import include, path

app_name = "feedback"

urlpatterns = [
    path("", include("feedback.urls_insights")),
    path("surveys/", include("feedback.urls_surveys")),
]
