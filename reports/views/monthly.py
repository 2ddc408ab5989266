"""The monthly executive report: the archive, one month's page, its PDF and CSV, generating
a month, and the reader's email subscription.

Who: admins, managers and executives read every report; a CSM gets 403 on all of it (the
report is company-wide, and a CSM reads their own book on their dashboards). Admins and
managers (re)generate. Every page reads the frozen MonthlyReport.data only, so a report
never changes under its readers until it is regenerated.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import Action, audit_record
from accounts.http import AuthenticatedRequest
from accounts.selectors.access import local_today
from reports.charts_monthly import report_figures
from reports.monthly import (
    CSV_HEADER,
    csv_rows,
    month_key,
    month_label,
    month_parse,
    monthly_report_get,
    monthly_report_pdf_get,
    monthly_reports_for_list,
    report_generations,
    report_month_check,
    report_month_default,
    report_subscription_is_on,
    report_view,
    user_generates_monthly_report,
    user_reads_monthly_report,
)
from reports.pdf import monthly_report_pdf_render
from reports.services_monthly import report_subscription_set

logger = logging.getLogger(__name__)

# Twelve a year: two years a page.
REPORTS_PER_PAGE = 24
CSM_DENIED = "The monthly report is company-wide; CSMs follow their own book on their dashboards."


def _require_reader(request: AuthenticatedRequest) -> None:
    if not user_reads_monthly_report(request.user):
        raise PermissionDenied(CSM_DENIED)


def _require_generator(request: AuthenticatedRequest) -> None:
    if not user_generates_monthly_report(request.user):
        raise PermissionDenied("Only admins and managers generate the monthly report.")


def _month_or_404(month: str) -> dt.date:
    try:
        return month_parse(month)
    except ValueError:
        raise Http404("No such month.") from None


class GenerateForm(forms.Form):
    """Which closed month to (re)generate; the list page's form."""

    month = forms.CharField(
        label="Month",
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
    )
    notify = forms.BooleanField(label="Email the subscribers", required=False, initial=True)

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_month(self) -> dt.date:
        try:
            month = month_parse(self.cleaned_data["month"])
            report_month_check(month, today=self.today)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return month


def _generation_enqueue(request: AuthenticatedRequest, month: dt.date, *, notify: bool) -> None:
    """Generation takes seconds (the PDF's charts start Chromium): it runs in Celery, which
    without a broker (the demo) means before this request answers. Queued at once: this
    request writes nothing that the task would have to wait for."""
    from reports.tasks_monthly import monthly_report_generate_task

    label = month_label(month)
    try:
        monthly_report_generate_task.delay(month_key(month), request.user.pk, notify=notify)
    except Exception:
        logger.exception("The %s report could not be generated or queued", label)
        messages.error(
            request,
            f"The {label} report could not be generated: the task queue did not answer or "
            "the generation failed (the error is logged). Try again in a minute.",
        )
        return
    messages.success(
        request,
        f"Generating the {label} report. A new version replaces the current one when it is "
        "ready, usually within a minute.",
    )


@require_http_methods(["GET", "POST"])
def report_list(request: AuthenticatedRequest) -> HttpResponse:
    """Every month's report, newest first, the reader's subscription, and for managers a
    form to generate a month."""
    _require_reader(request)
    today = local_today()
    can_generate = user_generates_monthly_report(request.user)
    initial = {"month": month_key(report_month_default(today=today)), "notify": True}
    form = GenerateForm(
        request.POST if request.method == "POST" else None, today=today, initial=initial
    )
    if request.method == "POST":
        _require_generator(request)
        if form.is_valid():
            _generation_enqueue(
                request, form.cleaned_data["month"], notify=form.cleaned_data["notify"]
            )
            return redirect("reports:report_list")
    page = Paginator(monthly_reports_for_list(), REPORTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page_obj": page,
        "reports": [(report, month_key(report.month)) for report in page],
        "subscribed": report_subscription_is_on(request.user),
        "can_generate": can_generate,
        "form": form,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "reports/report_list.html", context, status=status)


def report_detail(request: AuthenticatedRequest, month: str) -> HttpResponse:
    """One month's report from its frozen numbers."""
    _require_reader(request)
    first_day = _month_or_404(month)
    report = monthly_report_get(month=first_day)
    can_generate = user_generates_monthly_report(request.user)
    if report is None:
        context = {
            "month": month,
            "label": month_label(first_day),
            "can_generate": can_generate,
            "is_over": first_day < local_today().replace(day=1),
        }
        return render(request, "reports/report_missing.html", context, status=404)
    context = {
        "report": report,
        "month": month,
        "data": report.data,
        "view": report_view(report.data),
        "figures": report_figures(report.data),
        "generations": report_generations(report=report),
        "generated_by": str(report.generated_by or "the monthly job"),
        "subscribed": report_subscription_is_on(request.user),
        "can_generate": can_generate,
    }
    return render(request, "reports/report_detail.html", context)


def _download_name(report_month: dt.date, version: int, extension: str) -> str:
    return f"cs-monthly-report-{month_key(report_month)}-v{version}.{extension}"


def report_pdf(request: AuthenticatedRequest, month: str) -> HttpResponse:
    """The PDF printed at generation. A report stored without one (never the case for a
    generated report) is printed now from its frozen numbers, without charts: a web worker
    does not start Chromium."""
    _require_reader(request)
    report = monthly_report_pdf_get(month=_month_or_404(month))
    if report is None:
        raise Http404("No report for this month.")
    pdf = bytes(report.pdf) if report.pdf else None
    if pdf is None:
        pdf = monthly_report_pdf_render(
            data=report.data,
            version=report.version,
            generated_at=report.generated_at,
            generated_by=str(report.generated_by or "the monthly job"),
            charts=False,
        )
    response = HttpResponse(pdf, content_type="application/pdf")
    name = _download_name(report.month, report.version, "pdf")
    audit_record(
        Action.REPORT_DOWNLOAD, obj=report, details={"format": "pdf", "version": report.version}
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def report_csv(request: AuthenticatedRequest, month: str) -> HttpResponse:
    """Every number of the report, one per row, from its frozen numbers."""
    _require_reader(request)
    report = monthly_report_get(month=_month_or_404(month))
    if report is None:
        raise Http404("No report for this month.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = _download_name(report.month, report.version, "csv")
    audit_record(
        Action.REPORT_DOWNLOAD, obj=report, details={"format": "csv", "version": report.version}
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(report.data))
    return response


@require_POST
def report_regenerate(request: AuthenticatedRequest, month: str) -> HttpResponse:
    """Regenerate a month (or generate it the first time): admins and managers only."""
    _require_generator(request)
    first_day = _month_or_404(month)
    try:
        report_month_check(first_day, today=local_today())
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("reports:report_list")
    _generation_enqueue(request, first_day, notify=request.POST.get("notify") == "1")
    return redirect("reports:report_detail", month=month)


@require_POST
def report_subscription(request: AuthenticatedRequest) -> HttpResponse:
    """Set the reader's monthly email on ("subscribed=1") or off ("subscribed=0"); an
    explicit value rather than a flip, so a double submit does not undo itself."""
    _require_reader(request)
    value = request.POST.get("subscribed")
    if value not in ("0", "1"):
        messages.error(request, "Choose to subscribe or to unsubscribe.")
    else:
        report_subscription_set(user=request.user, subscribed=value == "1")
        if value == "1":
            messages.success(request, "You will get each monthly report by email, PDF attached.")
        else:
            messages.success(request, "You will no longer get the monthly report by email.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = ""
    return redirect(target or "reports:report_list")
