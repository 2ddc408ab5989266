"""The health page: band distribution today, the 12-month trend, movers and data freshness,
for the viewer's accounts narrowed by segment, team and CSM."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.http import AuthenticatedRequest
from accounts.jobs import job_status_rows
from accounts.selectors.access import accounts_visible_to, local_today
from health.charts import band_distribution_figure, band_trend_figure
from health.forms import HealthScopeForm
from health.models import RetentionSnapshot
from health.selectors import (
    STALE_AFTER_DAYS,
    RollupScope,
    band_distribution,
    band_today_stored,
    band_trend,
    band_trend_stored,
    data_freshness,
    health_movers,
    health_movers_stored,
    health_scope_accounts,
    rollup_scope_for,
    score_days,
    stale_scores,
)

# The whole portfolio: every account, so no filter by account is needed.
COMPANY = RollupScope(RetentionSnapshot.Scope.COMPANY, "")


@login_required
@require_safe
def health_overview(request: AuthenticatedRequest) -> HttpResponse:
    today = local_today()
    visible = accounts_visible_to(request.user)
    form = HealthScopeForm(request.GET, user=request.user, visible=visible)
    context: dict[str, Any] = {
        "form": form,
        "today": today,
        "stale_after_days": STALE_AFTER_DAYS,
        "freshness": data_freshness(today=today),
        "job_status": job_status_rows(today=today),
    }
    if not form.is_valid():
        # An invalid scope (another team, a CSM one may not see) shows nothing rather than
        # falling back to the whole book.
        return render(request, "health/overview.html", context)

    accounts = health_scope_accounts(
        visible,
        segment=form.cleaned_data["segment"],
        team=form.cleaned_data["team"],
        csm=form.cleaned_data["csm"],
        today=today,
    )
    rollup = rollup_scope_for(
        user=request.user,
        segment=form.cleaned_data["segment"],
        team=form.cleaned_data["team"],
        csm=form.cleaned_data["csm"],
    )
    # A scope the nightly job covers reads its stored counts; any other (a CSM's own book,
    # two filters at once, a scope created since the last run) is counted live.
    stored = band_today_stored(rollup) if rollup is not None else None
    distribution = stored.distribution if stored is not None else band_distribution(accounts)
    days = score_days(today=today)
    context.update(
        scope_ok=True,
        days=days,
        distribution=distribution,
        distribution_fig=band_distribution_figure(
            accounts={s.band: s.accounts for s in distribution.slices},
            arr={s.band: s.arr for s in distribution.slices},
        ),
        today_computed_at=stored.computed_at if stored is not None else None,
    )
    if days.latest is not None:
        if rollup is not None:
            # One scope the nightly job ranked: read its rows rather than every score.
            stored_trend = band_trend_stored(rollup)
            trend = stored_trend.trend
            movers, _ = health_movers_stored(rollup, day=days.latest, window=form.movers_window)
            context.update(
                rollup_computed_at=stored_trend.computed_at, rollup_missing=not trend.days
            )
        else:
            trend = band_trend(accounts, days=days.month_ends)
            movers = health_movers(accounts, day=days.latest, window=form.movers_window)
        if stored is not None and stored.stale is not None:
            stale = stored.stale
        else:
            stale = stale_scores(None if rollup == COMPANY else accounts, day=days.latest)
        context.update(
            trend=trend,
            trend_accounts_fig=band_trend_figure(
                days=trend.days, values=trend.accounts, y_title="Accounts"
            ),
            trend_arr_fig=band_trend_figure(
                days=trend.days, values=trend.arr, y_title="ARR (current)", money=True
            ),
            movers=movers,
            stale=stale,
        )
    return render(request, "health/overview.html", context)
