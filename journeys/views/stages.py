"""Stage and milestone settings: the ordered stages with their milestones, and forms to add and
change them. Admins and CS managers only (PRODUCT.md section 6); everyone else gets 403."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.http import AuthenticatedRequest
from accounts.models import User
from journeys.forms import MilestoneForm, StageForm
from journeys.selectors import milestone_get, stage_get, stages_ordered, stages_with_milestones
from journeys.services import milestone_create as milestone_create_service
from journeys.services import milestone_update, stage_update, stages_reorder
from journeys.services import stage_create as stage_create_service


def _require_configure(user: User) -> None:
    if not user.can_configure:
        raise PermissionDenied("Only admins and CS managers change journey stages.")


@login_required
@require_safe
def stage_list(request: AuthenticatedRequest) -> HttpResponse:
    _require_configure(request.user)
    return render(request, "journeys/stage_list.html", {"stages": stages_with_milestones()})


@login_required
@require_http_methods(["GET", "POST"])
def stage_create(request: AuthenticatedRequest) -> HttpResponse:
    _require_configure(request.user)
    form = StageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            stage = stage_create_service(**form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Added the stage “{stage}”.")
            return redirect("journeys:stage_list")
    return render(request, "journeys/stage_form.html", {"form": form, "stage": None})


@login_required
@require_http_methods(["GET", "POST"])
def stage_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _require_configure(request.user)
    stage = stage_get(stage_id=pk)
    # The form validates a copy, so a refused edit leaves the page's heading as it was.
    form = StageForm(request.POST or None, instance=copy.copy(stage))
    if request.method == "POST" and form.is_valid():
        try:
            stage = stage_update(stage=stage, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved the stage “{stage}”.")
            return redirect("journeys:stage_list")
    return render(request, "journeys/stage_form.html", {"form": form, "stage": stage})


@login_required
@require_POST
def stage_reorder(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Swap a stage with its neighbour: `direction` is "up" (earlier) or "down" (later)."""
    _require_configure(request.user)
    stage = stage_get(stage_id=pk)
    ids = [s.pk for s in stages_ordered()]
    position = ids.index(stage.pk)
    neighbour = position - 1 if request.POST.get("direction") == "up" else position + 1
    if 0 <= neighbour < len(ids):
        ids[position], ids[neighbour] = ids[neighbour], ids[position]
        stages_reorder(stage_ids=ids)
        messages.success(
            request, f"Moved “{stage}” {'earlier' if neighbour < position else 'later'}."
        )
    return redirect("journeys:stage_list")


@login_required
@require_http_methods(["GET", "POST"])
def milestone_create(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _require_configure(request.user)
    stage = stage_get(stage_id=pk)
    form = MilestoneForm(request.POST or None, stage=stage)
    if request.method == "POST" and form.is_valid():
        try:
            milestone = milestone_create_service(stage=stage, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Added “{milestone.name}” to {stage}.")
            return redirect("journeys:stage_list")
    context = {"form": form, "stage": stage, "milestone": None}
    return render(request, "journeys/milestone_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def milestone_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _require_configure(request.user)
    milestone = milestone_get(milestone_id=pk)
    form = MilestoneForm(request.POST or None, instance=copy.copy(milestone), stage=milestone.stage)
    if request.method == "POST" and form.is_valid():
        try:
            milestone = milestone_update(milestone=milestone, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved “{milestone.name}”.")
            return redirect("journeys:stage_list")
    context = {"form": form, "stage": milestone.stage, "milestone": milestone}
    return render(request, "journeys/milestone_form.html", context)
