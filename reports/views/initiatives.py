"""Initiatives: CS programs on a segment, each read against the rest of the portfolio.
Everyone reads them; admins and CS managers record and change them (403 for others)."""

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
from reports.charts_team import initiative_figure
from reports.forms_team import InitiativeForm
from reports.initiative_effect import BEFORE_MONTHS, effect_texts, initiative_effect
from reports.selectors_team import initiative_get, initiative_state, initiatives_for_list
from reports.services_initiatives import initiative_create as initiative_create_service
from reports.services_initiatives import initiative_update
from reports.targets import metric_is_money


def _require_configure(user: User) -> None:
    if not user.can_configure:
        raise PermissionDenied("Only admins and CS managers record initiatives.")


@require_safe
def initiative_list(request: AuthenticatedRequest) -> HttpResponse:
    today = local_today()
    page = Paginator(initiatives_for_list(), settings.PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {"initiative": initiative, "state": initiative_state(initiative, today=today)}
        for initiative in page.object_list
    ]
    return render(request, "reports/initiative_list.html", {"page_obj": page, "rows": rows})


@require_safe
def initiative_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    today = local_today()
    initiative = initiative_get(initiative_id=pk)
    effect = initiative_effect(initiative=initiative, today=today)
    figure = initiative_figure(
        months=effect.months,
        segment=effect.segment_series,
        rest=effect.rest_series,
        segment_label=initiative.segment.name,
        metric_label=effect.metric_label,
        start=initiative.start_date,
        end=initiative.end_date,
        money=metric_is_money(initiative.metric),
    )
    context = {
        "initiative": initiative,
        "state": initiative_state(initiative, today=today),
        "effect": effect,
        "effect_text": effect_texts(effect),
        "before_months": BEFORE_MONTHS,
        "figure": figure,
        "has_series": any(v is not None for v in [*effect.segment_series, *effect.rest_series]),
    }
    return render(request, "reports/initiative_detail.html", context)


@require_http_methods(["GET", "POST"])
def initiative_create(request: AuthenticatedRequest) -> HttpResponse:
    _require_configure(request.user)
    form = InitiativeForm(
        request.POST if request.method == "POST" else None,
        initial={"owner": request.user.pk, "start_date": local_today()},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            initiative = initiative_create_service(
                name=data["name"],
                description=data["description"],
                segment=data["segment"],
                start_date=data["start_date"],
                end_date=data["end_date"],
                owner=data["owner"],
                metric=data["metric"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Recorded the initiative “{initiative}”.")
            return redirect("reports:initiative_detail", pk=initiative.pk)
    return render(request, "reports/initiative_form.html", {"form": form, "initiative": None})


@require_http_methods(["GET", "POST"])
def initiative_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _require_configure(request.user)
    initiative = initiative_get(initiative_id=pk)
    form = InitiativeForm(
        request.POST if request.method == "POST" else None,
        initial=InitiativeForm.initial_for(initiative),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            initiative_update(
                initiative=initiative,
                name=data["name"],
                description=data["description"],
                segment=data["segment"],
                start_date=data["start_date"],
                end_date=data["end_date"],
                owner=data["owner"],
                metric=data["metric"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved “{initiative}”.")
            return redirect("reports:initiative_detail", pk=initiative.pk)
    context = {"form": form, "initiative": initiative}
    return render(request, "reports/initiative_form.html", context)
