"""Team performance: one row per CSM against targets, for a month or a quarter, compared with
another period. Admins, managers and executives see every team; a CSM sees their own."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.http import AuthenticatedRequest
from accounts.selectors.access import local_today
from reports.charts_team import team_metric_figure
from reports.forms_team import TeamPerformanceForm
from reports.selectors_team import COLUMNS, CsmRow
from reports.selectors_team import team_performance as team_performance_rows


def _sort_links(request: AuthenticatedRequest, current: str) -> dict[str, dict[str, str]]:
    """Per column: the URL that sorts by it (descending first for numbers, toggling when it
    is the current sort) and the arrow to show."""
    links = {}
    for key in ["name", "team", *(column.key for column in COLUMNS)]:
        query = request.GET.copy()
        query.pop("page", None)
        first = key if key in ("name", "team") else f"-{key}"
        if current == first:
            wanted = first.lstrip("-") if first.startswith("-") else f"-{first}"
        else:
            wanted = first
        query["sort"] = wanted
        arrow = ""
        if current.lstrip("-") == key:
            arrow = "▼" if current.startswith("-") else "▲"
        links[key] = {"url": f"?{query.urlencode()}", "arrow": arrow}
    return links


def _charts(rows: list[CsmRow], *, period_label: str, compare_label: str) -> list[dict[str, Any]]:
    names = [row.name for row in rows]
    charts = []
    for column in COLUMNS:
        if column.key == "accounts":
            continue
        cells = [row.cells[column.key] for row in rows]
        targets = [cell.check.target.value if cell.check is not None else None for cell in cells]
        figure = team_metric_figure(
            names=names,
            values=[cell.value for cell in cells],
            unit=column.unit,
            period_label=period_label if column.compared else "Today",
            previous=[cell.previous for cell in cells]
            if compare_label and column.compared
            else None,
            previous_label=compare_label,
            targets=targets if column.metric else None,
        )
        has_data = any(
            cell.value is not None or (column.compared and cell.previous is not None)
            for cell in cells
        )
        charts.append(
            {
                "column": column,
                "figure": figure,
                "dom_id": f"team-chart-{column.key}",
                "has_data": has_data,
            }
        )
    return charts


@require_safe
def team_performance(request: AuthenticatedRequest) -> HttpResponse:
    today = local_today()
    form = TeamPerformanceForm(request.GET, user=request.user, today=today)
    context: dict[str, Any] = {"form": form, "today": today}
    if not form.is_valid():
        # A team the viewer may not review shows nothing rather than falling back to all.
        return render(request, "reports/team_performance.html", context)
    period = form.cleaned_data["period"]
    compare = form.compare_period()
    sort = form.cleaned_data["sort"]
    performance = team_performance_rows(
        viewer=request.user,
        team=form.cleaned_data["team"],
        period=period,
        compare=compare,
        today=today,
        sort=sort,
        page=request.GET.get("page"),
    )
    page = performance.page_obj
    rows = performance.rows
    compare_label = compare.label if compare is not None else ""
    links = _sort_links(request, sort)
    context.update(
        scope_ok=True,
        performance=performance,
        period=period,
        compare=compare,
        page_obj=page,
        rows=rows,
        sort=sort,
        sort_links=links,
        headers=[{"column": column, **links[column.key]} for column in COLUMNS],
        charts=_charts(rows, period_label=period.label, compare_label=compare_label),
        running=period.contains(today),
    )
    return render(request, "reports/team_performance.html", context)
