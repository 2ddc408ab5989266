"""The monthly report pages, included at /reports/ in the "reports" namespace."""

from __future__ import annotations

import datetime as dt

from django.urls import URLPattern, path, register_converter

from reports.views import monthly


class ReportMonthConverter:
    """A calendar month as "YYYY-MM" (months 01-12), passed to the view as that string."""

    regex = r"[0-9]{4}-(?:0[1-9]|1[0-2])"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str | dt.date) -> str:
        if isinstance(value, dt.date):
            return f"{value:%Y-%m}"
        return value


register_converter(ReportMonthConverter, "report_month")

urlpatterns: list[URLPattern] = [
    path("", monthly.report_list, name="report_list"),
    path("subscription/", monthly.report_subscription, name="report_subscription"),
    path("<report_month:month>/", monthly.report_detail, name="report_detail"),
    path("<report_month:month>.pdf", monthly.report_pdf, name="report_pdf"),
    path("<report_month:month>.csv", monthly.report_csv, name="report_csv"),
    path(
        "<report_month:month>/regenerate/",
        monthly.report_regenerate,
        name="report_regenerate",
    ),
]
