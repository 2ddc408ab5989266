"""Segment pages: everyone may read them (scoped to the accounts they see); admins and
managers create and edit them (PRODUCT.md section 6), others get 403."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms.segments import SegmentForm, SegmentMembersForm, SegmentRulesForm
from accounts.models import Segment, User
from accounts.selectors.access import accounts_visible_to, local_today
from accounts.selectors.segments import segment_filter
from accounts.services.segments import (
    SegmentTotals,
    accounts_totals,
    segment_get,
    segment_member_candidates,
    segment_members_add,
    segment_members_remove,
    segment_rules_describe,
    segment_rules_totals,
    segment_update,
    segments_totals,
)

# The service shares its name with the view below.
from accounts.services.segments import segment_create as segment_create_service


class AuthedRequest(HttpRequest):
    user: User  # every view here is login_required


def _require_configure(user: User) -> None:
    if not user.can_configure:
        raise PermissionDenied("Only admins and CS managers manage segments.")


@login_required
@require_GET
def segment_list(request: AuthedRequest) -> HttpResponse:
    page = Paginator(Segment.objects.order_by("name", "pk"), settings.PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    totals = segments_totals(
        segments=page.object_list, accounts=accounts_visible_to(request.user), today=local_today()
    )
    rows = [(segment, totals[segment.pk]) for segment in page.object_list]
    return render(
        request,
        "accounts/segment_list.html",
        {"page": page, "rows": rows, "can_configure": request.user.can_configure},
    )


def _form_page(
    request: AuthedRequest, form: SegmentForm, segment: Segment | None, preview: bool
) -> HttpResponse:
    totals: SegmentTotals | None = None
    if form.is_bound and form.is_valid() and form.cleaned_data["kind"] == Segment.Kind.RULE:
        totals = segment_rules_totals(
            rules=form.rules, accounts=accounts_visible_to(request.user), today=local_today()
        )
    elif not form.is_bound and segment is not None and segment.kind == Segment.Kind.RULE:
        totals = segment_rules_totals(
            rules=segment.rules, accounts=accounts_visible_to(request.user), today=local_today()
        )
    return render(
        request,
        "accounts/segment_form.html",
        {"form": form, "segment": segment, "totals": totals, "previewed": preview},
        status=200 if not form.is_bound or form.is_valid() else 400,
    )


@login_required
@require_http_methods(["GET", "POST"])
def segment_create(request: AuthedRequest) -> HttpResponse:
    _require_configure(request.user)
    if request.method != "POST":
        return _form_page(request, SegmentForm(), None, preview=False)
    form = SegmentForm(request.POST)
    if request.POST.get("action") == "preview" or not form.is_valid():
        return _form_page(request, form, None, preview=True)
    segment = segment_create_service(
        name=form.cleaned_data["name"],
        description=form.cleaned_data["description"],
        kind=form.cleaned_data["kind"],
        rules=form.rules,
        created_by=request.user,
    )
    messages.success(request, f"Segment “{segment.name}” created.")
    return redirect("accounts:segment_detail", pk=segment.pk)


@login_required
@require_http_methods(["GET", "POST"])
def segment_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    _require_configure(request.user)
    segment = segment_get(segment_id=pk)
    if request.method != "POST":
        return _form_page(request, SegmentForm(segment=segment), segment, preview=False)
    form = SegmentForm(request.POST, segment=segment)
    if request.POST.get("action") == "preview" or not form.is_valid():
        return _form_page(request, form, segment, preview=True)
    segment_update(
        segment=segment,
        name=form.cleaned_data["name"],
        description=form.cleaned_data["description"],
        rules=form.rules,
    )
    messages.success(request, f"Segment “{segment.name}” saved.")
    return redirect("accounts:segment_detail", pk=segment.pk)


@login_required
@require_GET
def segment_preview(request: AuthedRequest) -> HttpResponse:
    """The live member count and ARR for the rules in the query string, as an HTML fragment
    that static/js/segment_preview.js puts into the form."""
    _require_configure(request.user)
    form = SegmentRulesForm(request.GET)
    totals = None
    if form.is_valid():
        totals = segment_rules_totals(
            rules=form.rules, accounts=accounts_visible_to(request.user), today=local_today()
        )
    return render(request, "accounts/segment_preview.html", {"form": form, "totals": totals})


@login_required
@require_GET
def segment_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    segment = segment_get(segment_id=pk)
    today = local_today()
    visible = accounts_visible_to(request.user)
    members = segment_filter(visible, segment, today=today)
    summary = accounts_totals(accounts=members)
    page = Paginator(
        members.select_related("owner", "team").order_by("name", "pk"), settings.PAGE_SIZE
    ).get_page(request.GET.get("page"))
    manage = request.user.can_configure and segment.kind == Segment.Kind.STATIC
    query = request.GET.get("q", "").strip() if manage else ""
    context = {
        "segment": segment,
        "summary": summary,
        "rules_in_words": segment_rules_describe(segment.rules)
        if segment.kind == Segment.Kind.RULE
        else [],
        "page": page,
        "can_configure": request.user.can_configure,
        "manage_members": manage,
        "query": query,
        "candidates": segment_member_candidates(segment=segment, accounts=visible, query=query)
        if manage
        else [],
        "members_form": SegmentMembersForm() if manage else None,
        "account_list_url": f"{reverse('accounts:account_list')}?{urlencode({'segment': pk})}",
    }
    return render(request, "accounts/segment_detail.html", context)


@login_required
@require_POST
def segment_members_update(request: AuthedRequest, pk: int) -> HttpResponse:
    """Add (by picked account or by external ids) or remove members of a static segment."""
    _require_configure(request.user)
    segment = segment_get(segment_id=pk)
    back = reverse("accounts:segment_detail", args=[segment.pk])
    keep = {k: request.POST[k] for k in ("q", "page") if request.POST.get(k)}
    if keep:
        back += "?" + urlencode(keep)
    if segment.kind != Segment.Kind.STATIC:
        messages.error(request, "Members of a rule segment follow its rules; edit the rules.")
        return redirect(back)
    visible = accounts_visible_to(request.user)
    action = request.POST.get("action")
    picked = [int(v) for v in request.POST.getlist("account") if v.isdigit()]
    if action == "add":
        ids = list(visible.filter(pk__in=picked).values_list("pk", flat=True))
        added = segment_members_add(segment=segment, account_ids=ids)
        messages.success(request, f"Added {added} account{'s' if added != 1 else ''}.")
    elif action == "remove":
        removed = segment_members_remove(segment=segment, account_ids=picked)
        messages.success(request, f"Removed {removed} account{'s' if removed != 1 else ''}.")
    elif action == "add_external_ids":
        form = SegmentMembersForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(str(e) for e in form.errors["external_ids"]))
            return redirect(back)
        wanted = form.cleaned_data["external_ids"]
        found = dict(visible.filter(external_id__in=wanted).values_list("external_id", "pk"))
        unknown = [key for key in wanted if key not in found]
        if unknown:
            messages.error(
                request,
                f"No account has the external id {', '.join(unknown)}; nothing was added.",
            )
            return redirect(back)
        added = segment_members_add(segment=segment, account_ids=found.values())
        messages.success(request, f"Added {added} account{'s' if added != 1 else ''}.")
    else:
        messages.error(request, "Unknown action.")
    return redirect(back)
