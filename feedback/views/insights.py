"""The feedback pages: the overview (scores, trends, distribution, breakdowns, the follow-up
queue), the verbatims with their themes, tagging an answer by hand, and the product
requests ranking with its CSV.

Everyone may read them, each within their own book (accounts_visible_to). Tagging an
answer is editing its account: admins, managers and the owner CSM (account_get_for_edit);
anyone else, executives included, gets 404.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from html import escape
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.audit import audit_export
from accounts.filters import PlainSelect
from accounts.http import AuthenticatedRequest
from accounts.models import Account
from accounts.selectors.access import accounts_visible_to, local_today
from cs_platform.row_format import day_text, url_by_id
from cs_platform.spreadsheets import spreadsheet_safe
from feedback.charts import score_distribution_figure, score_trend_figure
from feedback.forms_insights import (
    AnswerTagForm,
    FeedbackScopeForm,
    ProductRequestFilterForm,
    VerbatimFilterForm,
)
from feedback.selectors_insights import (
    DASH,
    EXAMPLES_PER_THEME,
    KIND_LABELS,
    BreakdownRow,
    FollowUpRow,
    answer_get_for_tagging,
    can_tag_answer,
    feedback_breakdown_by_segment,
    feedback_breakdown_by_tier,
    feedback_breakdown_grouped,
    feedback_distributions,
    feedback_kpis,
    feedback_scope_accounts,
    feedback_trends,
    follow_up_first_contact_median,
    follow_up_queue,
    product_request_examples,
    product_requests,
    scoped_answers,
    scoped_invitations,
    shown_kinds,
    tags_all,
    verbatims,
)
from feedback.services import answer_tag_add, answer_tag_remove, tag_create

# The overview composes the nightly rollups the top floor computes, as a dashboard does.
from reports.selectors_feedback import feedback_rollup_scope, feedback_stored

# Rows of the overview's by-CSM breakdown per page (by name, as the other breakdowns).
CSM_BREAKDOWN_PAGE_SIZE = 25

# Cells a spreadsheet would run as a formula start with one of these.


def _scope_accounts(
    form: forms.Form, visible: QuerySet[Account], today: dt.date
) -> QuerySet[Account]:
    """The viewer's accounts narrowed by the form's segment, team, CSM and tier."""
    data = form.cleaned_data
    return feedback_scope_accounts(
        visible,
        segment=data["segment"],
        team=data["team"],
        csm=data["csm"],
        tier=data["tier"],
        today=today,
    )


# --- The overview ----------------------------------------------------------------------------

# The scope form's model dropdowns, each labelled by its model's name (str of a segment or a
# team), in the model's order.
NAMED_MODEL_SELECTS = ("segment", "team")


def plain_selects(form: forms.Form) -> None:
    """The scope form's dropdowns joined as strings (accounts.filters.PlainSelect), as its
    CSM dropdown already is: Django's widget renders each option through a template, about
    3 ms for the form's five small dropdowns on every page load. Segments and teams are read
    as (id, name) pairs, not model instances; the fields still validate against their
    querysets."""
    for name, field in form.fields.items():
        widget = field.widget
        if type(widget) is not forms.Select:
            continue
        if name in NAMED_MODEL_SELECTS and isinstance(field, forms.ModelChoiceField):
            plain = PlainSelect(attrs=widget.attrs, load_options=_named_options(field))
        elif isinstance(field, forms.ChoiceField):
            # Flat (value, label) pairs: these fields have no option groups.
            pairs = cast(list[tuple[str, str]], field.choices)
            plain = PlainSelect(attrs=widget.attrs, choices=pairs)
        else:
            continue
        plain.is_required = widget.is_required
        field.widget = plain


def _named_options(field: forms.ModelChoiceField) -> Any:
    queryset, empty = field.queryset, field.empty_label

    def load() -> list[tuple[Any, str]]:
        blank = [] if empty is None else [("", str(empty))]
        if queryset is None:
            return blank
        return [*blank, *queryset.values_list("pk", "name")]

    return load


def answers_text(count: int) -> str:
    """ "1,234 answers", "1 answer": what `{{ n|intcomma }} answer{{ n|pluralize }}` writes in
    English, without a filter call per cell."""
    return f"{count:,} answer{'' if count == 1 else 's'}"


def breakdown_table_html(
    rows: Sequence[BreakdownRow],
    *,
    kind_names: Sequence[str],
    table_id: str,
    caption: str,
    none_text: str,
) -> SafeString:
    """One breakdown table, as its template wrote it (a row per group,
    a score and its answers per kind), joined as strings: four tables of up to 25 rows and
    three scores each cost the template
    a few milliseconds of lookups and filters per page."""
    if not rows:
        return SafeString(f'\n\n<p class="muted">{escape(none_text)}</p>\n\n')
    heads = "".join(f'<th scope="col" class="num">{escape(name)}</th>' for name in kind_names)
    parts = [
        f'\n\n<table class="data" id="{escape(table_id)}">\n'
        f'  <thead><tr><th scope="col">{escape(caption)}</th>\n'
        f"    {heads}\n"
        "  </tr></thead>\n  <tbody>\n  "
    ]
    for row in rows:
        label = escape(row.label)
        cells = "".join(
            f'<td class="num"><span data-score>{escape(cell.score)}</span>'
            f'<div class="muted">{answers_text(cell.answers)}</div></td>'
            for cell in row.cells
        )
        parts.append(
            f'\n    <tr data-row="{label}">\n      <th scope="row">{label}</th>\n'
            f"      {cells}\n    </tr>\n  "
        )
    parts.append("\n  </tbody>\n</table>\n\n")
    # Every name, label and score was escaped above.
    return SafeString("".join(parts))


# The longest comment the follow-up queue shows, ellipsis included.
QUEUE_COMMENT_CHARS = 140


def day_label(moment: dt.datetime) -> str:
    """ "3 Nov 2026" in local time, as date:"j M Y" writes an aware datetime."""
    return day_text(timezone.localtime(moment))


def _url_of(name: str) -> Any:
    """A `pk -> URL` for a route taking one integer, reversed once; None when the route is
    not installed (the template's {% url ... as %} then wrote no link)."""
    try:
        return url_by_id(name)
    except NoReverseMatch:
        return None


def follow_up_rows_html(rows: Sequence[FollowUpRow]) -> SafeString:
    """The queue's rows, as its template loop wrote them (a url tag, a date filter, the
    owner's name and a cut comment per row), joined as strings."""
    follow_up_url = _url_of("feedback:follow_up")
    account_url = _url_of("accounts:account_detail")
    parts = []
    for row in rows:
        answer, account = row.answer, row.account
        contact = (
            f'<div class="muted">{escape(answer.contact.name)}</div>'
            if answer.contact is not None
            else ""
        )
        comment = Truncator(answer.comment).chars(QUEUE_COMMENT_CHARS) or DASH
        own = account_url(account.pk)
        if follow_up_url is not None:
            action = f'<a class="btn btn-small" href="{follow_up_url(answer.pk)}">Follow up</a>'
        else:
            action = f'<a class="btn btn-small" href="{own}">Open account</a>'
        plural = "" if row.age_days == 1 else "s"
        parts.append(
            "\n    \n"
            f'    <tr data-follow-up="{row.follow_up.pk}">\n'
            f"      <td data-score>{escape(row.score_label)}"
            f'<div class="muted">{day_label(answer.answered_at)}</div></td>\n'
            f'      <td><a href="{own}">{escape(account.name)}</a>{contact}</td>\n'
            f"      <td>{escape(str(row.owner) if row.owner else 'Unassigned')}</td>\n"
            f'      <td class="num" data-age="{row.age_days}">{row.age_days} day{plural}</td>\n'
            f"      <td>{escape(comment)}</td>\n"
            f"      <td>{action}</td>\n"
            "    </tr>\n  "
        )
    # Every name and comment was escaped above; URLs are reversed from integer ids.
    return SafeString("".join(parts))


def breakdown_tables(
    *,
    kind_names: Sequence[str],
    by_segment: Sequence[BreakdownRow],
    by_tier: Sequence[BreakdownRow],
    by_team: Sequence[BreakdownRow],
    by_csm: Sequence[BreakdownRow],
) -> dict[str, SafeString]:
    """The overview's four breakdown tables (by_csm: the page of CSMs shown)."""
    none = "No answers in this period."
    return {
        "segment": breakdown_table_html(
            by_segment,
            kind_names=kind_names,
            table_id="breakdown-segment",
            caption="Segment",
            none_text="No segments defined yet.",
        ),
        "tier": breakdown_table_html(
            by_tier,
            kind_names=kind_names,
            table_id="breakdown-tier",
            caption="Tier",
            none_text="No tiers.",
        ),
        "team": breakdown_table_html(
            by_team,
            kind_names=kind_names,
            table_id="breakdown-team",
            caption="Team",
            none_text=none,
        ),
        "csm": breakdown_table_html(
            by_csm, kind_names=kind_names, table_id="breakdown-csm", caption="CSM", none_text=none
        ),
    }


@require_safe
def overview(request: AuthenticatedRequest) -> HttpResponse:
    today = local_today()
    visible = accounts_visible_to(request.user)
    form = FeedbackScopeForm(request.GET, user=request.user, visible=visible)
    plain_selects(form)
    context: dict[str, Any] = {"form": form, "today": today}
    if not form.is_valid():
        # An invalid scope (another team, a CSM one may not see) shows nothing rather than
        # falling back to the whole book.
        return render(request, "feedback/overview.html", context)

    accounts = _scope_accounts(form, visible, today)
    kind = form.cleaned_data["kind"]
    kinds = shown_kinds(kind)
    period = form.period_for(today)
    answers = scoped_answers(accounts, kind=kind)
    invitations = scoped_invitations(accounts, kind=kind)
    data = form.cleaned_data
    rollup = feedback_rollup_scope(
        user=request.user,
        segment=data["segment"],
        team=data["team"],
        csm=data["csm"],
        tier=data["tier"],
    )
    stored = None
    if rollup is not None:
        # One snapshot scope: sum last night's answer counts instead of counting answers.
        stored = feedback_stored(
            rollup, invitations=invitations, period=period, today=today, kinds=kinds
        )
        if stored.computed_at is None:
            stored = None  # before the first nightly run: count live, as before
        else:
            context["rollup_computed_at"] = stored.computed_at
    if stored is not None:
        kpis, trends, distributions = stored.kpis, stored.trends, stored.distributions
        breakdowns = stored.breakdowns
    else:
        kpis = feedback_kpis(answers, invitations, period=period, kinds=kinds)
        trends = feedback_trends(answers, today=today, kinds=kinds)
        distributions = feedback_distributions(answers, period=period, kinds=kinds)
        breakdowns = None
    if breakdowns is None:
        breakdowns = {
            "by_segment": feedback_breakdown_by_segment(
                answers, period=period, today=today, kinds=kinds
            ),
            "by_tier": feedback_breakdown_by_tier(answers, period=period, kinds=kinds),
            "by_team": feedback_breakdown_grouped(answers, period=period, by="team", kinds=kinds),
            "by_csm": feedback_breakdown_grouped(answers, period=period, by="csm", kinds=kinds),
        }
    kind_names = [KIND_LABELS[k] for k in kinds]
    queue = follow_up_queue(accounts, today=today, kind=kind)
    # Hundreds of CSMs: the table shows a page of them, the rest a link away.
    by_csm_page = Paginator(breakdowns["by_csm"], CSM_BREAKDOWN_PAGE_SIZE).get_page(
        request.GET.get("csm_page")
    )
    context.update(
        scope_ok=True,
        period=period,
        previous_period=period.previous(),
        kind_names=kind_names,
        kpis=kpis,
        trends=[
            (
                trend,
                score_trend_figure(
                    kind=trend.kind, months=trend.months, scores=trend.scores, counts=trend.counts
                ),
            )
            for trend in trends
        ],
        distributions=[
            (d, score_distribution_figure(kind=d.kind, counts=d.counts)) for d in distributions
        ],
        **breakdowns,
        by_csm_page=by_csm_page,
        breakdown_tables=breakdown_tables(
            kind_names=kind_names,
            by_segment=breakdowns["by_segment"],
            by_tier=breakdowns["by_tier"],
            by_team=breakdowns["by_team"],
            by_csm=list(by_csm_page.object_list),
        ),
        queue=queue,
        follow_up_rows=follow_up_rows_html(queue.rows),
        first_contact=follow_up_first_contact_median(accounts, now=timezone.now(), kind=kind),
    )
    return render(request, "feedback/overview.html", context)


# --- Verbatims -------------------------------------------------------------------------------


@require_safe
def verbatim_list(request: AuthenticatedRequest) -> HttpResponse:
    """Answers with a comment, newest first, filtered and searched; tags editable in place
    by those who may edit the answer's account."""
    today = local_today()
    visible = accounts_visible_to(request.user)
    form = VerbatimFilterForm(request.GET, user=request.user, visible=visible)
    context: dict[str, Any] = {"form": form}
    if form.is_valid():
        data = form.cleaned_data
        rows = verbatims(
            scoped_answers(_scope_accounts(form, visible, today), kind=data["kind"]),
            group=data["group"],
            tag=data["tag"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            search=data["q"],
        )
        page_obj = Paginator(rows, settings.PAGE_SIZE).get_page(request.GET.get("page"))
        items = [
            {
                "answer": answer,
                "tags": [answer_tag.tag for answer_tag in answer.answer_tags.all()],
                "can_tag": can_tag_answer(request.user, answer),
            }
            for answer in page_obj.object_list
        ]
        context.update(page_obj=page_obj, items=items)
        if any(item["can_tag"] for item in items):
            context["theme_names"] = tags_all()
    return render(request, "feedback/verbatim_list.html", context)


# --- Tagging an answer by hand ---------------------------------------------------------------
# These two writes belong in feedback/services.py, which another developer owns during this
# change; move them there (same names and signatures) and import them.


def _next_url(request: AuthenticatedRequest) -> str:
    """Where to go back to: the verbatims page the form was on, if it is one of ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("feedback:verbatim_list")


@require_http_methods(["GET", "POST"])
def answer_tags(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The themes of answer `pk`: add one by name (POST) or see them with the add form."""
    answer = answer_get_for_tagging(user=request.user, answer_id=pk)
    form = AnswerTagForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            # The form let only admins and managers name a theme that does not exist yet.
            tag = form.cleaned_data["tag"] or tag_create(name=form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if answer_tag_add(answer=answer, tag=tag):
                messages.success(request, f"Tagged the answer from {answer.account} “{tag}”.")
            else:
                messages.info(
                    request, f"The answer from {answer.account} was already tagged “{tag}”."
                )
            return redirect(_next_url(request))
    context = {
        "answer": answer,
        "tags": [answer_tag.tag for answer_tag in answer.answer_tags.all()],
        "form": form,
        "theme_names": tags_all(),
        "next": _next_url(request),
    }
    return render(request, "feedback/verbatim_tags.html", context)


@require_POST
def answer_tag_delete(request: AuthenticatedRequest, pk: int, tag_pk: int) -> HttpResponse:
    answer = answer_get_for_tagging(user=request.user, answer_id=pk)
    tag = answer_tag_remove(answer=answer, tag_id=tag_pk)
    if tag is None:
        messages.info(request, "That theme was not on the answer.")
    else:
        messages.success(request, f"Removed “{tag}” from the answer from {answer.account}.")
    return redirect(_next_url(request))


# --- Product requests ------------------------------------------------------------------------


@require_safe
def product_request_list(request: AuthenticatedRequest) -> HttpResponse:
    """Themes ranked by the ARR of the accounts that raised them, with example comments."""
    today = local_today()
    visible = accounts_visible_to(request.user)
    form = ProductRequestFilterForm(request.GET, user=request.user, visible=visible)
    context: dict[str, Any] = {"form": form}
    if form.is_valid():
        period = form.period_for(today)
        answers = scoped_answers(_scope_accounts(form, visible, today))
        themes = product_requests(answers, period=period)
        page_obj = Paginator(themes, settings.PAGE_SIZE).get_page(request.GET.get("page"))
        shown = list(page_obj.object_list)
        product_request_examples(answers, period=period, themes=shown)
        context.update(period=period, page_obj=page_obj, themes=shown)
    return render(request, "feedback/product_requests.html", context)


@require_safe
def product_request_export(request: AuthenticatedRequest) -> HttpResponse:
    """The ranking as CSV for the product team: every theme, its newest comments."""
    today = local_today()
    visible = accounts_visible_to(request.user)
    form = ProductRequestFilterForm(request.GET, user=request.user, visible=visible)
    if not form.is_valid():
        return product_request_list(request)
    period = form.period_for(today)
    answers = scoped_answers(_scope_accounts(form, visible, today))
    themes = product_requests(answers, period=period)
    product_request_examples(answers, period=period, themes=themes)
    audit_export(
        kind="product_requests",
        label="Product requests CSV",
        filters=request.GET.dict(),
        rows=len(themes),
    )

    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"product-requests-{period.start:%Y-%m-%d}-to-{period.last_day:%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    examples = [f"Example {n}" for n in range(1, EXAMPLES_PER_THEME + 1)]
    writer.writerow(["Rank", "Theme", "Description", "Accounts", "Answers", "ARR", *examples])
    for theme in themes:
        quotes = [answer.comment for answer in theme.examples]
        quotes += [""] * (EXAMPLES_PER_THEME - len(quotes))
        row = [
            theme.rank,
            theme.name,
            theme.description,
            theme.accounts,
            theme.answers,
            theme.arr,
            *quotes,
        ]
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return response
