"""Home by role, the manager dashboard and "my book".

The dashboard reads the nightly snapshots (reports.snapshots, health.retention) for its
tiles and charts and a few LIMITed indexed reads of live accounts for its tables; "my
book" reads one CSM's accounts through the owner index. Both run a fixed number of
queries whatever the size of the portfolio.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_safe

from accounts.http import AuthenticatedRequest
from accounts.models import User
from accounts.selectors.access import accounts_visible_to, local_today
from health.retention import month_floor
from journeys.selectors import current_journeys, milestones_overdue
from reports.charts import (
    arr_bridge_figure,
    band_history_figure,
    feedback_trend_figure,
    health_trend_figure,
    retention_trend_figure,
)
from reports.forms import BookPickerForm, DashboardScopeForm
from reports.models import MonthlyReport
from reports.selectors_dashboards import (
    DashScope,
    accounts_at_risk,
    book_lines,
    book_page,
    book_summary,
    detractors_awaiting,
    health_drops,
    kpi_board,
    latest_scored_day,
    milestone_lines,
    overdue_tasks_for,
    period_figures,
    renewal_windows_snapshot,
    renewals_upcoming,
    snapshot_table_load,
    targets_for,
    trend_months,
    trends,
)

# "Score now vs 30 days ago" on my book.
BOOK_TREND_DAYS = 30
NO_REPORT_NOTE = "No monthly report yet: showing the manager dashboard."


@login_required
@require_safe
def home(request: AuthenticatedRequest) -> HttpResponse:
    """The landing page for the user's role: a CSM's book, the latest monthly report for an
    executive (the dashboard, read-only, until one exists), the dashboard otherwise."""
    user = request.user
    if user.is_csm:
        return _my_book_page(request, template="reports/home.html", book_owner=user)
    if user.is_executive:
        url = _latest_report_url()
        if url is not None:
            return redirect(url)
        return _dashboard_page(request, template="reports/home.html", note=NO_REPORT_NOTE)
    return _dashboard_page(request, template="reports/home.html")


@login_required
@require_safe
def dashboard(request: AuthenticatedRequest) -> HttpResponse:
    return _dashboard_page(request, template="reports/dashboard.html")


@login_required
@require_safe
def my_book(request: AuthenticatedRequest) -> HttpResponse:
    """A CSM's own book; a manager, admin or executive opens any CSM's with ?csm=<id>.

    A CSM asking for someone else's book gets 404: teammates' figures are on the dashboard
    (team scope), a book is its owner's work list.
    """
    user = request.user
    wanted = request.GET.get("csm", "")
    if user.is_csm:
        if wanted and wanted != str(user.pk):
            raise Http404("No such book.")
        return _my_book_page(request, template="reports/my_book.html", book_owner=user)
    picker = BookPickerForm(request.GET, user=user)
    if not wanted:
        return _my_book_page(request, template="reports/my_book.html", book_owner=None)
    if not picker.is_valid() or picker.cleaned_data["csm"] is None:
        raise Http404("No such book.")
    return _my_book_page(
        request, template="reports/my_book.html", book_owner=picker.cleaned_data["csm"]
    )


def _latest_report_url() -> str | None:
    month = MonthlyReport.objects.order_by("-month").values_list("month", flat=True).first()
    if month is None:
        return None
    try:
        return reverse("reports:report_detail", kwargs={"month": f"{month:%Y-%m}"})
    except NoReverseMatch:
        # The monthly report's pages are not installed yet.
        return None


def _dashboard_page(
    request: AuthenticatedRequest, *, template: str, note: str = ""
) -> HttpResponse:
    user = request.user
    today = local_today()
    form = DashboardScopeForm(request.GET, user=user, today=today)
    context: dict[str, Any] = {
        "page_template": "reports/dashboard.html",
        "form": form,
        "today": today,
        "note": note,
        "read_only": user.is_executive,
    }
    if not form.is_valid():
        # A scope the viewer may not open shows the form's message, never its numbers.
        return render(request, template, context)

    scope = form.scope()
    period = form.period_value()
    previous = period.previous()
    state = period.state_month(today)
    months = trend_months(state)
    table = snapshot_table_load(
        scope=scope, first=min(months[0], previous.start), last=month_floor(today)
    )
    now = period_figures(table, period, today=today)
    before = period_figures(table, previous, today=today)
    series = trends(table, months)
    accounts = scope.accounts(accounts_visible_to(user), today=today)
    context.update(
        scope_ok=True,
        scope=scope,
        period=period,
        previous=previous,
        snapshots=table,
        groups=kpi_board(
            now=now,
            before=before,
            targets=targets_for(scope=scope, period=period),
            period=period,
            today=today,
        ),
        trends=series,
        bridge=now.bridge,
        renewals=renewals_upcoming(
            accounts,
            today=today,
            windows=renewal_windows_snapshot(table, month=month_floor(today)),
        ),
        at_risk=accounts_at_risk(accounts, today=today),
        arr_at_risk_now=table.retention.get(month_floor(today)),
        drops=health_drops(scope, visible=accounts, day=latest_scored_day(today=today)),
        **_dashboard_figures(series, now.bridge, period_label=period.label),
    )
    return render(request, template, context)


def _dashboard_figures(series: Any, bridge: Any, *, period_label: str) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "retention_fig": retention_trend_figure(
            months=series.months, nrr=series.nrr, grr=series.grr, logo_churn=series.logo_churn
        ),
        "feedback_fig": feedback_trend_figure(
            months=series.months,
            nps=series.nps,
            csat=series.csat,
            nps_answers=series.nps_answers,
            csat_answers=series.csat_answers,
        ),
        "bands_accounts_fig": band_history_figure(
            months=series.months, values=series.band_accounts
        ),
        "bands_arr_fig": band_history_figure(
            months=series.months, values=series.band_arr, money=True
        ),
    }
    if bridge is not None:
        figures["bridge_fig"] = arr_bridge_figure(
            start=bridge.start_arr,
            new=bridge.new_arr,
            expansion=bridge.expansion_arr,
            contraction=bridge.contraction_arr,
            churned=bridge.churned_arr,
            end=bridge.end_arr,
            period_label=period_label,
        )
    return figures


def _my_book_page(
    request: AuthenticatedRequest, *, template: str, book_owner: User | None
) -> HttpResponse:
    user = request.user
    today = local_today()
    context: dict[str, Any] = {
        "page_template": "reports/my_book.html",
        "today": today,
        "book_owner": book_owner,
        "is_own_book": book_owner is not None and book_owner.pk == user.pk,
        "read_only": user.is_executive,
        "trend_days": BOOK_TREND_DAYS,
    }
    if not user.is_csm:
        picker = BookPickerForm(user=user)
        selected = str(book_owner.pk) if book_owner is not None else ""
        context["picker_html"] = picker.select(selected)
    if book_owner is None:
        return render(request, template, context)

    visible = accounts_visible_to(user)
    book = visible.filter(owner=book_owner)
    latest = latest_scored_day(today=today)
    then = latest - dt.timedelta(days=BOOK_TREND_DAYS) if latest else None
    summary = book_summary(book, today=today)
    page = book_page(
        book,
        then=then,
        number=request.GET.get("page"),
        per_page=settings.PAGE_SIZE,
        count=summary.accounts,
    )
    months = trend_months(month_floor(today))
    # The book's charts are health and feedback: no retention rows.
    table = snapshot_table_load(
        scope=DashScope.of_csm(book_owner), first=months[0], last=months[-1], retention=False
    )
    series = trends(table, months)
    milestones = milestones_overdue(book, current=current_journeys(book), today=today)
    context.update(
        latest=latest,
        then=then,
        summary=summary,
        page_obj=page,
        rows=book_lines(cast(list[dict[str, Any]], list(page.object_list)), today=today),
        renewals=renewals_upcoming(book, today=today, windows=summary.renewal_windows, limit=50),
        overdue=overdue_tasks_for(owner=book_owner, visible=visible, today=today),
        milestones=milestones,
        milestone_lines=milestone_lines(milestones),
        follow_ups=detractors_awaiting(book, today=today),
        snapshots=table,
        trends=series,
        health_fig=health_trend_figure(months=series.months, average=series.avg_health),
        bands_accounts_fig=band_history_figure(months=series.months, values=series.band_accounts),
        feedback_fig=feedback_trend_figure(
            months=series.months,
            nps=series.nps,
            csat=series.csat,
            nps_answers=series.nps_answers,
            csat_answers=series.csat_answers,
        ),
    )
    return render(request, template, context)
