"""Survey settings: the surveys, their campaigns (preview, send, follow the sending) and the
CSV import of answers. Admins and CS managers only (PRODUCT.md section 6); others get 403."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.csv_import import RowError
from accounts.http import AuthenticatedRequest
from accounts.models import User
from accounts.selectors.access import local_today
from feedback.answer_import import COLUMNS, REQUIRED, answers_import
from feedback.forms import AnswerImportForm, CampaignForm, SurveyForm
from feedback.models import SurveyCampaign
from feedback.selectors import (
    campaign_get,
    campaign_invitations,
    campaign_recipient_preview,
    campaigns_for_list,
    survey_get,
    surveys_for_list,
)
from feedback.services import campaign_create as campaign_create_service
from feedback.services import campaign_delete, survey_update
from feedback.services import campaign_send as campaign_send_service
from feedback.services import survey_create as survey_create_service

# Campaigns shown under the survey list; each survey's page lists all of its own.
RECENT_CAMPAIGNS = 10


def _require_configure(user: User) -> None:
    if not user.can_configure:
        raise PermissionDenied("Only admins and CS managers manage surveys.")


def _import_columns() -> list[dict[str, object]]:
    return [{"name": name, "required": name in REQUIRED} for name in COLUMNS]


@require_GET
def survey_list(request: AuthenticatedRequest) -> HttpResponse:
    _require_configure(request.user)
    page = Paginator(surveys_for_list(), settings.PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page_obj": page,
        "surveys": list(page.object_list),
        "campaigns": list(campaigns_for_list()[:RECENT_CAMPAIGNS]),
        "import_form": AnswerImportForm(),
        "import_columns": _import_columns(),
    }
    return render(request, "feedback/survey_list.html", context)


@require_http_methods(["GET", "POST"])
def survey_create(request: AuthenticatedRequest) -> HttpResponse:
    _require_configure(request.user)
    form = SurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            survey = survey_create_service(**form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Survey “{survey.name}” created. Now send it.")
            return redirect("feedback:survey_detail", pk=survey.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request, "feedback/survey_form.html", {"form": form, "survey": None}, status=status
    )


@require_http_methods(["GET", "POST"])
def survey_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _require_configure(request.user)
    survey = survey_get(survey_id=pk)
    form = SurveyForm(request.POST or None, instance=survey)
    if request.method == "POST" and form.is_valid():
        try:
            survey_update(survey=survey, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved “{survey.name}”.")
            return redirect("feedback:survey_detail", pk=survey.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request, "feedback/survey_form.html", {"form": form, "survey": survey}, status=status
    )


@require_GET
def survey_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A survey's question as people see it, and its campaigns with their response rates."""
    _require_configure(request.user)
    survey = survey_get(survey_id=pk)
    page = Paginator(campaigns_for_list(survey=survey), settings.PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    low, high = survey.scale
    context = {
        "survey": survey,
        "scale": list(range(low, high + 1)),
        "page_obj": page,
        "campaigns": list(page.object_list),
    }
    return render(request, "feedback/survey_detail.html", context)


@require_http_methods(["GET", "POST"])
def campaign_create(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A draft campaign; its page then shows who it would reach before anything is sent."""
    _require_configure(request.user)
    survey = survey_get(survey_id=pk)
    form = CampaignForm(request.POST or None, initial={"name": survey.name})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = campaign_create_service(
                survey=survey,
                name=data["name"],
                segment=data["segment"],
                contacts=data["contacts"],
                skip_recently_surveyed_days=data["skip_recently_surveyed_days"],
                link_valid_days=data["link_valid_days"],
                created_by=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Draft saved. Check who it reaches, then send it.")
            return redirect("feedback:campaign_detail", pk=campaign.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request, "feedback/campaign_form.html", {"form": form, "survey": survey}, status=status
    )


@require_GET
def campaign_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A draft: how many it would reach now and a sample, with the send button. Sent: how
    many were emailed and answered, and every invitation."""
    _require_configure(request.user)
    campaign = campaign_get(campaign_id=pk)
    preview = None
    if campaign.status == SurveyCampaign.Status.DRAFT:
        preview = campaign_recipient_preview(
            campaign=campaign, now=timezone.now(), today=local_today()
        )
    page = Paginator(campaign_invitations(campaign=campaign), settings.PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    # Annotated by campaign_get.
    sent: int = getattr(campaign, "sent_count", 0)
    answered: int = getattr(campaign, "answered_count", 0)
    context = {
        "campaign": campaign,
        "survey": campaign.survey,
        "preview": preview,
        "response_rate": round(100 * answered / sent) if sent else None,
        "page_obj": page,
        "invitations": list(page.object_list),
        "now": timezone.now(),
    }
    return render(request, "feedback/campaign_detail.html", context)


@require_POST
def campaign_send(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _require_configure(request.user)
    campaign = campaign_get(campaign_id=pk)
    try:
        count = campaign_send_service(campaign=campaign, today=local_today())
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"Sending {count} invitation{'s' if count != 1 else ''} by email."
        )
    return redirect("feedback:campaign_detail", pk=campaign.pk)


@require_POST
def campaign_discard(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _require_configure(request.user)
    campaign = campaign_get(campaign_id=pk)
    try:
        campaign_delete(campaign=campaign)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("feedback:campaign_detail", pk=campaign.pk)
    messages.success(request, f"Draft “{campaign.name}” deleted.")
    return redirect("feedback:survey_detail", pk=campaign.survey_id)


@require_http_methods(["GET", "POST"])
def answer_import(request: AuthenticatedRequest) -> HttpResponse:
    """Upload answers exported from another survey tool: checked whole, then all or none."""
    _require_configure(request.user)
    form = AnswerImportForm(request.POST or None, request.FILES or None)
    errors: list[RowError] = []
    ignored: list[str] = []
    if request.method == "POST" and form.is_valid():
        # The form has checked the file's size and rows against the import limits.
        upload = form.cleaned_data["file"]
        dry_run = form.cleaned_data["dry_run"]
        plan, result = answers_import(data=upload.read(), dry_run=dry_run)
        ignored = plan.ignored_columns
        # A problem with the file as a whole belongs beside the file field.
        for error in plan.errors:
            if error.line is None:
                form.add_error("file", error.message)
            else:
                errors.append(error)
        if not plan.errors:
            note = f" Ignored columns: {', '.join(ignored)}." if ignored else ""
            if result is None:
                messages.info(
                    request,
                    f"Dry run: {len(plan.rows)} answers are valid; {plan.rows_new} would "
                    f"be created and {plan.rows_updated} updated. Nothing was written." + note,
                )
            else:
                messages.success(
                    request,
                    f"Imported {result.rows_total} answers: {result.rows_new} created, "
                    f"{result.rows_updated} updated, {result.follow_ups_opened} "
                    f"follow-up{'s' if result.follow_ups_opened != 1 else ''} opened." + note,
                )
            return redirect(reverse("feedback:survey_list") + "#import")
    context = {
        "form": form,
        "errors": errors,
        "ignored_columns": ignored,
        "import_columns": _import_columns(),
    }
    status = 400 if form.is_bound and (form.errors or errors) else 200
    return render(request, "feedback/survey_import.html", context, status=status)
