"""Score validation: does the health score predict churn, and what weights would do better?

Admins, CS managers and executives read the page; CSMs get 403 (it is portfolio-wide).
Admins and managers recompute a backtest; only admins adopt proposed weights.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from accounts.http import AuthenticatedRequest
from accounts.models import Segment, User
from health.backtest import (
    HORIZONS,
    MIN_CHURNS,
    MIN_OVERRIDES,
    SAMPLE_EVERY_DAYS,
    backtest_get,
    backtest_latest,
    validation_page_build,
)
from health.charts_validation import validation_figures
from health.services_validation import backtest_adopt
from health.tasks_validation import backtest_task

DEFAULT_HORIZON = 90


class ValidationScopeForm(forms.Form):
    horizon = forms.TypedChoiceField(
        label="Horizon",
        choices=[(str(h), f"{h} days") for h in HORIZONS],
        coerce=int,
        initial=str(DEFAULT_HORIZON),
        required=False,
        empty_value=None,
        error_messages={"invalid_choice": "Choose 30, 60, 90 or 180 days."},
    )
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.order_by("name"),
        required=False,
        empty_label="Whole portfolio",
        error_messages={"invalid_choice": "No such segment: pick one from the list."},
    )

    def scope(self) -> tuple[int, Segment | None]:
        return self.cleaned_data["horizon"] or DEFAULT_HORIZON, self.cleaned_data["segment"]


def _require_reader(user: User) -> None:
    if user.is_csm:
        raise PermissionDenied("Score validation covers the whole portfolio: managers only.")


def _page_url(horizon: int, segment: Segment | None) -> str:
    query = {"horizon": horizon, **({"segment": segment.pk} if segment else {})}
    return f"{reverse('health:validation')}?{urlencode(query)}"


@require_safe
def validation_page(request: AuthenticatedRequest) -> HttpResponse:
    _require_reader(request.user)
    form = ValidationScopeForm(request.GET or None)
    context: dict[str, Any] = {
        "form": form,
        "horizons": HORIZONS,
        "min_churns": MIN_CHURNS,
        "min_overrides": MIN_OVERRIDES,
        "sample_every_days": SAMPLE_EVERY_DAYS,
        "can_run": request.user.can_configure,
        "can_adopt": request.user.is_admin,
    }
    if form.is_bound and not form.is_valid():
        return render(request, "health/validation.html", context, status=400)
    horizon, segment = form.scope() if form.is_bound else (DEFAULT_HORIZON, None)
    backtest = backtest_latest(horizon_days=horizon, segment=segment)
    context.update(horizon=horizon, segment=segment, scope_ok=True)
    if backtest is not None:
        page = validation_page_build(backtest)
        context.update(page=page, data=page.data, figures=validation_figures(page.data))
    return render(request, "health/validation.html", context)


@require_POST
def validation_run(request: AuthenticatedRequest) -> HttpResponse:
    """Queue a fresh backtest of the chosen scope (in-process when there is no broker)."""
    if not request.user.can_configure:
        raise PermissionDenied("Only admins and CS managers recompute backtests.")
    form = ValidationScopeForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        messages.error(request, f"Nothing was run: {errors}")
        return redirect("health:validation")
    horizon, segment = form.scope()
    segment_id = segment.pk if segment else None
    transaction.on_commit(lambda: backtest_task.delay(horizon, segment_id))
    if settings.CELERY_TASK_ALWAYS_EAGER:
        messages.success(request, f"Backtest over {horizon} days recomputed.")
    else:
        messages.success(
            request,
            f"Backtest over {horizon} days queued: it appears here when done, usually "
            "within a minute. Reload the page.",
        )
    return redirect(_page_url(horizon, segment))


@require_POST
def validation_adopt(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Adopt a backtest's proposed weights as the scorecard's next version (admins only)."""
    if not request.user.is_admin:
        raise PermissionDenied("Only admins adopt proposed weights.")
    backtest = backtest_get(backtest_id=pk)
    try:
        version = backtest_adopt(backtest=backtest, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"Adopted: “{version.scorecard}” version {version.number} now has the proposed "
            "weights. The nightly recompute uses it from its next run; earlier scores keep "
            "the version they were computed with.",
        )
    return redirect(_page_url(backtest.horizon_days, backtest.segment))
