"""Scorecard settings: the list, one scorecard with its history, a new version, a new
scorecard. Admins and CS managers only (PRODUCT.md section 6); everyone else gets 403."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.http import AuthenticatedRequest
from accounts.models import User
from health.forms_scorecards import ScorecardCreateForm, ScorecardRulesForm
from health.selectors_scorecards import (
    scorecard_current_version,
    scorecard_default_current_version,
    scorecard_get,
    scorecard_list_rows,
    scorecard_versions,
    scorecards_for_list,
    version_component_rows,
)
from health.services_scorecards import scorecard_active_set, scorecard_version_create

# The service shares its name with the view below.
from health.services_scorecards import scorecard_create as scorecard_create_service


def _require_configure(user: User) -> None:
    if not user.can_configure:
        raise PermissionDenied("Only admins and CS managers manage scorecards.")


@require_GET
def scorecard_list(request: AuthenticatedRequest) -> HttpResponse:
    _require_configure(request.user)
    page = Paginator(scorecards_for_list(), settings.PAGE_SIZE).get_page(request.GET.get("page"))
    rows = scorecard_list_rows(page.object_list)
    return render(request, "health/scorecard_list.html", {"page_obj": page, "rows": rows})


@require_http_methods(["GET", "POST"])
def scorecard_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The current version's rules and the history; POST switches the scorecard on or off."""
    _require_configure(request.user)
    scorecard = scorecard_get(scorecard_id=pk)
    if request.method == "POST":
        action = request.POST.get("action")
        if action in ("activate", "deactivate"):
            try:
                scorecard_active_set(scorecard=scorecard, is_active=action == "activate")
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                state = "active" if scorecard.is_active else "inactive"
                messages.success(request, f"“{scorecard}” is now {state}.")
        return redirect("health:scorecard_detail", pk=scorecard.pk)

    current = scorecard_current_version(scorecard=scorecard)
    rows, unused = version_component_rows(current.components if current else [])
    history = Paginator(scorecard_versions(scorecard=scorecard), settings.PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "scorecard": scorecard,
        "current": current,
        "component_rows": rows,
        "unused_measures": unused,
        "total_weight": sum(row.weight for row in rows),
        "page_obj": history,
    }
    return render(request, "health/scorecard_detail.html", context)


@require_http_methods(["GET", "POST"])
def scorecard_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Make the next version; the current one stays as it is for the scores that used it."""
    _require_configure(request.user)
    scorecard = scorecard_get(scorecard_id=pk)
    current = scorecard_current_version(scorecard=scorecard)
    initial = {
        "red_below": current.red_below if current else 40,
        "green_from": current.green_from if current else 70,
        "based_on": current.number if current else 0,
    }
    form = ScorecardRulesForm(
        request.POST if request.method == "POST" else None,
        components=current.components if current else [],
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version = scorecard_version_create(
                scorecard=scorecard,
                components=form.component_rules(),
                red_below=data["red_below"],
                green_from=data["green_from"],
                note=data["note"],
                created_by=request.user,
                based_on=data["based_on"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"Saved version {version.number} of “{scorecard}”. The nightly recompute uses "
                "it from its next run; earlier scores keep their version.",
            )
            return redirect("health:scorecard_detail", pk=scorecard.pk)
    context = {"form": form, "scorecard": scorecard, "current": current, "creating": False}
    return render(request, "health/scorecard_form.html", context)


@require_http_methods(["GET", "POST"])
def scorecard_create(request: AuthenticatedRequest) -> HttpResponse:
    """A new scorecard, its first version prefilled with the default scorecard's rules."""
    _require_configure(request.user)
    start_from = scorecard_default_current_version()
    initial = {
        "red_below": start_from.red_below if start_from else 40,
        "green_from": start_from.green_from if start_from else 70,
    }
    form = ScorecardCreateForm(
        request.POST if request.method == "POST" else None,
        components=start_from.components if start_from else [],
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            scorecard = scorecard_create_service(
                name=data["name"],
                segment=data["segment"],
                priority=data["priority"],
                components=form.component_rules(),
                red_below=data["red_below"],
                green_from=data["green_from"],
                note=data["note"],
                created_by=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Created the scorecard “{scorecard}” (version 1).")
            return redirect("health:scorecard_detail", pk=scorecard.pk)
    context = {"form": form, "scorecard": None, "current": start_from, "creating": True}
    return render(request, "health/scorecard_form.html", context)
