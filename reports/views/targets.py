"""Targets: the list with actual against target for everyone who sees team performance;
setting, changing and removing them for admins and CS managers (403 for everyone else)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from accounts.http import AuthenticatedRequest
from accounts.models import User
from accounts.selectors.access import local_today
from reports.forms_team import TargetForm
from reports.models import Target
from reports.selectors_team import target_get, target_rows, targets_visible_to
from reports.services_targets import target_create as target_create_service
from reports.services_targets import target_delete as target_delete_service
from reports.services_targets import target_update
from reports.targets import ReportPeriod


def _require_configure(user: User) -> None:
    if not user.can_configure:
        raise PermissionDenied("Only admins and CS managers set targets.")


def _describe(target: Target) -> str:
    period = ReportPeriod(target.period_start, target.period)
    metric, direction = target.get_metric_display(), target.get_direction_display()
    return f"{metric} {direction} {target.value} for {period.label}"


@require_safe
def target_list(request: AuthenticatedRequest) -> HttpResponse:
    today = local_today()
    page = Paginator(
        targets_visible_to(request.user).order_by("-period_start", "metric", "scope", "pk"),
        settings.PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    context = {
        "page_obj": page,
        "rows": target_rows(list(page.object_list), today=today),
        "today": today,
    }
    return render(request, "reports/target_list.html", context)


@require_http_methods(["GET", "POST"])
def target_create(request: AuthenticatedRequest) -> HttpResponse:
    _require_configure(request.user)
    today = local_today()
    form = TargetForm(
        request.POST if request.method == "POST" else None,
        user=request.user,
        initial=TargetForm.initial_for(None, today=today),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            target = target_create_service(
                metric=data["metric"],
                direction=data["direction"],
                value=data["value"],
                period=data["period"],
                period_start=data["period_start"],
                scope=data["scope"],
                scope_key=data["scope_key"],
                note=data["note"],
                created_by=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Target set: {_describe(target)}.")
            return redirect("reports:target_list")
    return render(request, "reports/target_form.html", {"form": form, "target": None})


@require_http_methods(["GET", "POST"])
def target_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _require_configure(request.user)
    today = local_today()
    target = target_get(user=request.user, target_id=pk)
    form = TargetForm(
        request.POST if request.method == "POST" else None,
        user=request.user,
        instance=target,
        initial=TargetForm.initial_for(target, today=today),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            target_update(
                target=target,
                metric=data["metric"],
                direction=data["direction"],
                value=data["value"],
                period=data["period"],
                period_start=data["period_start"],
                scope=data["scope"],
                scope_key=data["scope_key"],
                note=data["note"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Target changed: {_describe(target)}.")
            return redirect("reports:target_list")
    return render(request, "reports/target_form.html", {"form": form, "target": target})


@require_http_methods(["GET", "POST"])
def target_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _require_configure(request.user)
    target = target_get(user=request.user, target_id=pk)
    if request.method == "POST":
        description = _describe(target)
        target_delete_service(target=target)
        messages.success(request, f"Target removed: {description}.")
        return redirect("reports:target_list")
    context = {"target": target, "description": _describe(target)}
    return render(request, "reports/target_confirm_delete.html", context)
