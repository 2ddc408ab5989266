"""Team performance: one row per CSM against targets, for a month or a quarter, compared with
another period. Admins, managers and executives see every team; a CSM sees their own."""

from __future__ import annotations

from html import escape
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.dateformat import format as date_format
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_safe

from accounts.http import AuthenticatedRequest
from accounts.selectors.access import local_today
from reports.charts_team import team_metric_figure
from reports.forms_team import TeamPerformanceForm
from reports.selectors_team import COLUMNS, Cell, MetricChart
from reports.selectors_team import team_performance as team_performance_rows
from reports.targets import Status

BAND_CLASSES = {Status.ON_TRACK: "band-green", Status.OFF_TRACK: "band-red"}


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


def _charts(
    charts: list[MetricChart], *, period_label: str, compare_label: str
) -> list[dict[str, Any]]:
    return [
        {
            "column": chart.column,
            "figure": team_metric_figure(
                names=chart.names,
                values=chart.values,
                groups=chart.groups,
                unit=chart.column.unit,
                period_label=period_label if chart.column.compared else "Today",
                previous=chart.previous,
                previous_label=compare_label,
                targets=chart.targets,
                median=chart.median,
                median_label=f"Median of {chart.counted} CSMs",
            ),
            "dom_id": f"team-chart-{chart.column.key}",
            "has_data": chart.has_data,
            "caption": chart.caption,
        }
        for chart in charts
    ]


def _cell_html(cell: Cell, compare_label: str) -> SafeString:
    """One cell of the table: its value, the change since the compared period (when there
    is one), and the target that applies. Put together here, not in the template: a page's
    300 cells cost more through template tags than the rest of the page."""
    html = f'<span class="value">{escape(cell.text)}</span>'
    if compare_label and cell.column.compared:
        was = escape(cell.previous_text)
        change = escape(cell.delta_text) or f'<span class="muted">was {was}</span>'
        html += (
            f'<span class="delta {cell.trend}" data-delta '
            f'title="{escape(compare_label)}: {was}">{change}</span>'
        )
    check = cell.check
    if check is not None:
        source = "the csm (this CSM)" if check.source == "csm" else f"the {check.source}"
        title = (
            f"Target set for {source}, {check.target.get_period_display().lower()} "
            f"from {date_format(check.target.period_start, 'M Y')}"
        )
        band = BAND_CLASSES.get(check.status, "band-none")
        html += (
            f'<span class="goal" data-target-status="{escape(check.status)}" '
            f'title="{escape(title)}">{escape(check.text)} '
            f'<span class="band {band}">{escape(check.status.label)}</span></span>'
        )
    basis = f' title="{escape(cell.basis)}"' if cell.basis else ""
    # Every piece of text above went through escape().
    return mark_safe(f'<td class="num" data-col="{cell.column.key}"{basis}>{html}</td>')


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
        table=[
            (row, [_cell_html(cell, compare_label) for cell in row.ordered_cells]) for row in rows
        ],
        sort=sort,
        sort_links=links,
        headers=[{"column": column, **links[column.key]} for column in COLUMNS],
        charts=_charts(performance.charts, period_label=period.label, compare_label=compare_label),
        running=period.contains(today),
    )
    return render(request, "reports/team_performance.html", context)
