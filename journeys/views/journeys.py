"""The journeys page, one account's journey, and the account's journey actions: start, move,
complete or reopen a milestone, edit the sales handoff.

Reading goes through account_get_for_user, every write through account_get_for_edit: an
account the viewer may not change answers 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.http import AuthenticatedRequest
from accounts.models import Account
from accounts.selectors.access import (
    account_get_for_edit,
    account_get_for_user,
    accounts_visible_to,
    local_today,
)
from accounts.selectors.account_detail import account_can_edit
from cs_platform.row_format import day_text, month_text, url_by_id
from journeys.charts import funnel_figure, time_in_stage_figure, time_to_value_figure
from journeys.forms import (
    HandoffForm,
    JourneyMoveForm,
    JourneyScopeForm,
    JourneyStartForm,
    MilestoneCompleteForm,
)
from journeys.selectors import (
    FunnelStep,
    OverdueMilestone,
    StageTime,
    TtvMonth,
    account_current_stage,
    account_journey_panel,
    handoff_for_account,
    journey_scope_accounts,
    milestone_get,
    overdue_overview,
    stage_entries,
    stage_funnel,
    stages_ordered,
    time_in_stage,
    time_to_value,
)
from journeys.selectors_rollups import journey_rollup_scope, journeys_stored
from journeys.services import handoff_save, journey_move, journey_start, milestone_complete
from journeys.services import milestone_reopen as milestone_reopen_service


def whole(amount: Decimal | float | int) -> str:
    """ "12346" for 12345.5, as `floatformat:0` prints it (half up, no grouping)."""
    value = Decimal(repr(amount)) if isinstance(amount, float) else Decimal(amount)
    return f"{value.quantize(Decimal(1), rounding=ROUND_HALF_UP):f}"


def one_decimal(days: Decimal | float | int) -> str:
    """ "12" for 12.0 and "12.3" for 12.25, as `floatformat:"-1"` prints it: a whole number
    without decimals, anything else rounded half up to one decimal (12.04 is "12.0")."""
    value = Decimal(repr(days)) if isinstance(days, float) else Decimal(days)
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):f}"


def funnel_lines(steps: Iterable[FunnelStep]) -> list[SafeString]:
    """The funnel table's stage rows as ready HTML, as its row template printed them."""
    lines = []
    for step in steps:
        slug = "" if step.stage is None else escape(step.stage.slug)
        arr = whole(step.arr)
        lines.append(
            f'<tr data-stage="{slug}"><td>{escape(step.label)}</td>\n'
            f'          <td class="num" data-accounts="{step.accounts}">{step.accounts:,}</td>\n'
            f'          <td class="num" data-arr="{arr}">${int(arr):,}</td></tr>'
        )
    # Stage names and slugs were escaped above.
    return [mark_safe(line) for line in lines]


def _days_over(days: float | None, over: bool, band: str) -> str:
    if days is None:
        return "—"
    flag = f' <span class="band band-{band}">over</span>' if over else ""
    return f"{one_decimal(days)} d{flag}"


def time_lines(times: Iterable[StageTime]) -> list[SafeString]:
    """The time-in-stage table's rows as ready HTML, as its row template printed them."""
    lines = []
    for t in times:
        target = "—" if t.target_days is None else f"{t.target_days} d"
        lines.append(
            f'<tr data-stage="{escape(t.stage.slug)}"><td>{escape(t.stage.name)}</td>\n'
            f'        <td class="num">{target}</td>\n'
            f'        <td class="num" data-stays>{t.stays:,}</td>\n'
            f'        <td class="num" data-median>'
            f"{_days_over(t.median_days, t.median_over_target, 'red')}</td>\n"
            f'        <td class="num" data-p90>'
            f"{_days_over(t.p90_days, t.p90_over_target, 'yellow')}</td>\n"
            f'        <td class="num" data-now>{t.in_stage_now:,}</td>\n'
            f'        <td class="num" data-over-now>{t.over_target_now:,}</td></tr>'
        )
    # Stage names and slugs were escaped above.
    return [mark_safe(line) for line in lines]


def ttv_lines(months: Iterable[TtvMonth]) -> list[SafeString]:
    """The time-to-value table's rows as ready HTML, as its row template printed them."""
    lines = []
    for m in months:
        median = "—" if m.median_days is None else one_decimal(m.median_days)
        lines.append(
            f'<tr data-month="{m.month.year:04d}-{m.month.month:02d}">'
            f"<td>{month_text(m.month)}</td>\n"
            f'          <td class="num" data-accounts>{m.accounts:,}</td>\n'
            f'          <td class="num" data-median>{median}</td></tr>'
        )
    # Nothing typed by people here: months and numbers only.
    return [mark_safe(line) for line in lines]


def overdue_lines(rows: Iterable[OverdueMilestone]) -> list[SafeString]:
    """The overdue table's rows as ready HTML, exactly as the row template printed them
    (names escaped; days grouped as `intcomma` groups them): fifty rows reversed two URLs and
    formatted a date each through the template engine."""
    account_url = url_by_id("accounts:account_detail")
    journey_url = url_by_id("journeys:account_journey")
    lines = []
    for row in rows:
        status = row.status
        optional = "" if row.is_required else ' <span class="tag">Optional</span>'
        name = escape(row.account_name)
        lines.append(
            f'<tr data-account="{row.account_id}" data-status="{escape(status)}">\n'
            f'      <td><a href="{account_url(row.account_id)}">{name}</a></td>\n'
            f"      <td>{escape(row.owner_name or 'Unassigned')}</td>\n"
            f'      <td><a href="{journey_url(row.account_id)}">{escape(row.stage_name)}</a></td>\n'
            f"      <td>{escape(row.milestone_name)}{optional}</td>\n"
            f"      <td>{day_text(row.due_on)}</td>\n"
            f'      <td class="num" data-days-late>{row.days_late:,}</td>\n'
            f'      <td><span class="band band-{status.band}">{escape(status.label)}</span></td>\n'
            f"    </tr>"
        )
    # Every name was escaped above; ids, dates and numbers carry no markup.
    return [mark_safe(line) for line in lines]


@login_required
@require_safe
def journeys_overview(request: AuthenticatedRequest) -> HttpResponse:
    today = local_today()
    visible = accounts_visible_to(request.user)
    form = JourneyScopeForm(request.GET, user=request.user, visible=visible)
    stages = stages_ordered()
    context: dict[str, Any] = {"form": form, "today": today, "stages": stages}
    if not form.is_valid():
        # An invalid scope (another team, a CSM one may not see) shows nothing rather than
        # falling back to the whole book.
        return render(request, "journeys/journeys_overview.html", context)

    accounts = journey_scope_accounts(
        visible,
        segment=form.cleaned_data["segment"],
        team=form.cleaned_data["team"],
        csm=form.cleaned_data["csm"],
        today=today,
    )
    rollup = journey_rollup_scope(
        user=request.user,
        segment=form.cleaned_data["segment"],
        team=form.cleaned_data["team"],
        csm=form.cleaned_data["csm"],
    )
    # One scope the nightly job covered: read its rows rather than every account's journey.
    stored = journeys_stored(rollup, accounts=accounts, stages=stages) if rollup else None
    if stored is not None:
        funnel, times, overdue, ttv = stored.funnel, stored.times, stored.overdue, stored.ttv
        context.update(as_of=stored.day, rollup_computed_at=stored.computed_at)
    else:
        # A combination of filters, a CSM's book reaching outside their team, or before the
        # first nightly run.
        funnel = stage_funnel(accounts, stages=stages)
        entries = stage_entries(accounts)
        times = time_in_stage(accounts, stages=stages, entries=entries, today=today)
        overdue = overdue_overview(accounts, stages=stages, today=today)
        ttv = time_to_value(accounts, today=today)
        context.update(as_of=today, rollup_not_run=rollup is not None)
    overdue_page = Paginator(overdue.rows, settings.PAGE_SIZE).get_page(request.GET.get("page"))
    context.update(
        scope_ok=True,
        funnel=funnel,
        funnel_lines=funnel_lines(funnel.steps),
        funnel_fig=funnel_figure(
            labels=[step.label for step in funnel.steps],
            accounts=[step.accounts for step in funnel.steps],
            arr=[step.arr for step in funnel.steps],
        ),
        times=times,
        time_lines=time_lines(times),
        times_fig=time_in_stage_figure(
            labels=[t.stage.name for t in times],
            medians=[t.median_days for t in times],
            p90s=[t.p90_days for t in times],
            targets=[t.target_days for t in times],
        ),
        any_stays=any(t.stays for t in times),
        overdue=overdue,
        overdue_page=overdue_page,
        overdue_lines=overdue_lines(overdue_page.object_list),
        ttv=ttv,
        ttv_lines=ttv_lines(ttv.months),
        ttv_fig=time_to_value_figure(
            months=[m.month for m in ttv.months],
            medians=[m.median_days for m in ttv.months],
            accounts=[m.accounts for m in ttv.months],
        ),
    )
    return render(request, "journeys/journeys_overview.html", context)


def _account_journey_page(
    request: AuthenticatedRequest, account: Account, **forms: Any
) -> HttpResponse:
    """The journey page, also re-rendered with a refused form's errors beside its fields."""
    today = local_today()
    context = {
        "account": account,
        "today": today,
        "journey": account_journey_panel(account=account, today=today),
        "can_edit": account_can_edit(user=request.user, account=account),
        **forms,
    }
    return render(request, "journeys/account_journey.html", context)


@login_required
@require_safe
def account_journey(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """One account's journey: stage, milestones, handoff and its whole recent history."""
    account = account_get_for_user(user=request.user, account_id=pk)
    return _account_journey_page(request, account)


def _back(request: AuthenticatedRequest, account: Account) -> HttpResponseRedirect:
    """Back to the page the form was on (the account page or the journey page)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(reverse("journeys:account_journey", args=[account.pk]))


@login_required
@require_POST
def account_journey_start(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    account = account_get_for_edit(user=request.user, account_id=pk)
    form = JourneyStartForm(request.POST)
    if not form.is_valid():
        return _account_journey_page(request, account, start_form=form)
    stage = form.cleaned_data["stage"]
    try:
        journey_start(
            account=account, stage=stage, by=request.user, reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{account} started its journey in {stage}.")
    return _back(request, account)


@login_required
@require_POST
def account_journey_move(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    account = account_get_for_edit(user=request.user, account_id=pk)
    form = JourneyMoveForm(request.POST, current=account_current_stage(account=account))
    if not form.is_valid():
        return _account_journey_page(request, account, move_form=form)
    stage = form.cleaned_data["to_stage"]
    try:
        journey_move(
            account=account, to_stage=stage, by=request.user, reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Moved {account} to {stage}.")
    return _back(request, account)


@login_required
@require_POST
def account_milestone_complete(
    request: AuthenticatedRequest, pk: int, milestone_pk: int
) -> HttpResponse:
    account = account_get_for_edit(user=request.user, account_id=pk)
    milestone = milestone_get(milestone_id=milestone_pk)
    form = MilestoneCompleteForm(request.POST)
    if not form.is_valid():
        return _account_journey_page(
            request, account, complete_form=form, complete_milestone_id=milestone.pk
        )
    try:
        outcome = milestone_complete(
            account=account, milestone=milestone, by=request.user, note=form.cleaned_data["note"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        text = f"“{milestone.name}” is done."
        if outcome.advanced is not None:
            text += (
                f" Every required milestone of {milestone.stage} is done, so {account} moved "
                f"on to {outcome.advanced.to_stage}."
            )
        messages.success(request, text)
    return _back(request, account)


@login_required
@require_POST
def account_milestone_reopen(
    request: AuthenticatedRequest, pk: int, milestone_pk: int
) -> HttpResponse:
    account = account_get_for_edit(user=request.user, account_id=pk)
    milestone = milestone_get(milestone_id=milestone_pk)
    try:
        milestone_reopen_service(account=account, milestone=milestone, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"“{milestone.name}” is open again.")
    return _back(request, account)


@login_required
@require_http_methods(["GET", "POST"])
def account_handoff_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The sales -> CS handoff: what the customer wants and what sales promised."""
    account = account_get_for_edit(user=request.user, account_id=pk)
    handoff = handoff_for_account(account=account)
    form = HandoffForm(request.POST or None, instance=handoff)
    if request.method == "POST" and form.is_valid():
        handoff_save(account=account, by=request.user, **form.cleaned_data)
        messages.success(request, f"Saved the handoff for {account}.")
        return _back(request, account)
    context = {
        "account": account,
        "form": form,
        "handoff": handoff,
        "next": request.POST.get("next") or request.GET.get("next", ""),
    }
    return render(request, "journeys/handoff_form.html", context)
