"""The account list, its CSV export and the 360° account page."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.audit import audit_export
from accounts.forms.interactions import InteractionForm
from accounts.http import AuthenticatedRequest
from accounts.models import Account
from accounts.selectors.access import account_get_for_user, local_today
from accounts.selectors.account_detail import (
    TIMELINE_KINDS,
    TIMELINE_LIMIT,
    TimelineEntry,
    account_can_edit,
    account_contacts,
    account_contract_history,
    account_open_tasks,
    account_timeline,
    timeline_entry_at,
)
from accounts.selectors.account_list import (
    EXPORT_HEADER,
    account_export_rows,
    account_list_page,
    account_list_query,
    account_rows,
    days_label,
    days_until,
)
from cs_platform.spreadsheets import spreadsheet_safe
from feedback.selectors import account_feedback_summary, survey_answers_for_account
from health.charts_account import health_trend_figure
from health.churn_risk import account_churn_risk
from health.selectors_account import account_health
from journeys.selectors import account_journey_panel

# (sort key or None, heading, numeric, direction of the first click). Money and scores read
# best from the top ("largest ARR"); dates and names from the soonest / A.
LIST_COLUMNS: list[tuple[str | None, str, bool, str]] = [
    ("name", "Account", False, "asc"),
    (None, "Owner", False, ""),
    (None, "Team", False, ""),
    (None, "Tier", False, ""),
    (None, "Lifecycle", False, ""),
    ("arr", "ARR", True, "desc"),
    ("renewal", "Renewal", False, "asc"),
    ("health", "Health", True, "asc"),
    ("risk", "Churn risk", True, "desc"),
    ("last_interaction", "Last interaction", False, "desc"),
]
TIMELINE_FILTERS = [
    ("", "All"),
    ("interaction", "Interactions"),
    ("task", "Tasks"),
    ("survey", "Surveys"),
    ("ticket", "Tickets"),
]


@login_required
@require_safe
def account_list(request: AuthenticatedRequest) -> HttpResponse:
    today = local_today()
    query = account_list_query(user=request.user, params=request.GET, today=today)
    page = account_list_page(query, number=request.GET.get("page"), per_page=settings.PAGE_SIZE)
    context = {
        "filterset": query.filterset,
        "sort": query.sort,
        "columns": _sort_columns(query.sort),
        "page_obj": page,
        "rows": account_rows(page.object_list, today=today),
        "is_filtered": query.filterset.is_filtered,
        "can_create": request.user.is_admin or request.user.is_manager,
    }
    return render(request, "accounts/account_list.html", context)


@login_required
@require_safe
def account_export(request: AuthenticatedRequest) -> StreamingHttpResponse:
    """The list as CSV: every page of it, with the same filters, order and scope."""
    today = local_today()
    query = account_list_query(user=request.user, params=request.GET, today=today)
    rows = account_export_rows(query.accounts, today=today)
    audit_export(kind="accounts", label="Account list CSV", filters=request.GET.dict())
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="accounts-{today:%Y-%m-%d}.csv"'
    return response


@login_required
@require_safe
def account_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    user = request.user
    account = account_get_for_user(user=user, account_id=pk)
    today = local_today()
    can_edit = account_can_edit(user=user, account=account)
    kind = request.GET.get("kind")
    if kind not in TIMELINE_KINDS:
        kind = None
    surveys = _survey_answer_entries(account) if kind in (None, "survey") else []
    health = account_health(account=account, today=today)
    context = {
        "account": account,
        "today": today,
        "renewal_when": days_label(days_until(account.renewal_date, today=today)),
        "can_edit": can_edit,
        "contract_terms": account_contract_history(account=account),
        "contacts": list(account_contacts(account=account)),
        "open_tasks": list(account_open_tasks(account=account)),
        "timeline": account_timeline(account=account, viewer=user, kind=kind, extra=surveys),
        "timeline_kind": kind or "",
        "timeline_filters": TIMELINE_FILTERS,
        "timeline_limit": TIMELINE_LIMIT,
        "interaction_form": InteractionForm(account=account) if can_edit else None,
        "health": health,
        "churn": account_churn_risk(account_id=account.pk),
        "journey": account_journey_panel(account=account, today=today),
        "feedback": account_feedback_summary(account_id=account.pk),
        "health_chart": (
            health_trend_figure(
                health.history,
                health.version_changes,
                red_below=health.latest.scorecard_version.red_below,
                green_from=health.latest.scorecard_version.green_from,
            )
            if health.latest
            else None
        ),
    }
    return render(request, "accounts/account_detail.html", context)


def _sort_columns(sort: str) -> list[dict[str, Any]]:
    """Headings with the ?sort= value each one links to: a click on the sorted column flips it."""
    current, descending = sort.removeprefix("-"), sort.startswith("-")
    columns = []
    for key, label, numeric, first_click in LIST_COLUMNS:
        column: dict[str, Any] = {"key": key, "label": label, "numeric": numeric}
        if key is not None:
            active = key == current
            column["direction"] = ("desc" if descending else "asc") if active else ""
            go_down = (not descending) if active else first_click == "desc"
            column["next"] = f"-{key}" if go_down else key
        columns.append(column)
    return columns


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterator[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_HEADER)
    for row in rows:
        yield writer.writerow([spreadsheet_safe(cell) for cell in row])


def _survey_answer_entries(account: Account) -> list[TimelineEntry]:
    # Answers live on the feedback floor; the page composes them here, so the accounts
    # selectors never import feedback.
    return [
        timeline_entry_at(kind="survey", event="answered", at=answer.answered_at, item=answer)
        for answer in survey_answers_for_account(account_id=account.pk, limit=TIMELINE_LIMIT)
    ]
