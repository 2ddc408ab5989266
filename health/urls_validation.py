"""Score validation routes; included into health/urls.py, so the names live in the
"health" namespace: health:validation, health:validation_run, health:validation_adopt."""

from django.urls import path

from health.views import validation

urlpatterns = [
    path("validation/", validation.validation_page, name="validation"),
    path("validation/run/", validation.validation_run, name="validation_run"),
    path("validation/<int:pk>/adopt/", validation.validation_adopt, name="validation_adopt"),
]
