"""The audit log settings page, included at /settings/audit/ by cs_platform.urls."""

from django.urls import path

from accounts.views import audit

app_name = "audit"

urlpatterns = [
    path("", audit.audit_list, name="list"),
    path("export.csv", audit.audit_export_csv, name="export"),
]
