"""Themes of verbatims: the tags and the keyword rules that set them, and re-applying the
rules to every answer. Admins and CS managers only; others get 403."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import AuthenticatedRequest
from accounts.models import User
from feedback.forms import TagForm, TagRuleForm
from feedback.selectors import tag_get, tag_rule_get, tags_for_rules_page
from feedback.services import tag_create as tag_create_service
from feedback.services import (
    tag_delete,
    tag_rule_delete,
    tag_rule_update,
    tag_rules_reapply,
    tag_update,
)
from feedback.services import tag_rule_create as tag_rule_create_service

_AFTER_RULE_CHANGE = (
    "It tags answers recorded from now on; re-apply the rules to update older answers."
)


def _require_configure(user: User) -> None:
    if not user.can_configure:
        raise PermissionDenied("Only admins and CS managers manage tags and rules.")


@require_GET
def tag_rule_list(request: AuthenticatedRequest) -> HttpResponse:
    _require_configure(request.user)
    page = Paginator(tags_for_rules_page(), settings.PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page_obj": page, "tags": list(page.object_list)}
    return render(request, "feedback/tag_rule_list.html", context)


@require_http_methods(["GET", "POST"])
def tag_create(request: AuthenticatedRequest) -> HttpResponse:
    _require_configure(request.user)
    form = TagForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tag = tag_create_service(**form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Tag “{tag.name}” created. Add keyword rules for it.")
            return redirect("feedback:tag_rule_list")
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request, "feedback/tag_rule_tag_form.html", {"form": form, "tag": None}, status=status
    )


@require_http_methods(["GET", "POST"])
def tag_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _require_configure(request.user)
    tag = tag_get(tag_id=pk)
    form = TagForm(request.POST or None, instance=tag)
    if request.method == "POST" and form.is_valid():
        try:
            tag_update(tag=tag, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved tag “{tag.name}”.")
            return redirect("feedback:tag_rule_list")
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request, "feedback/tag_rule_tag_form.html", {"form": form, "tag": tag}, status=status
    )


@require_http_methods(["GET", "POST"])
def tag_remove(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Asks first: deleting a tag takes it off every answer, hand-set ones included."""
    _require_configure(request.user)
    tag = tag_get(tag_id=pk)
    if request.method == "POST":
        count = tag_delete(tag=tag)
        messages.success(
            request,
            f"Tag “{tag.name}” deleted with its rules; {count} answer{'s' if count != 1 else ''} "
            "lost it.",
        )
        return redirect("feedback:tag_rule_list")
    return render(request, "feedback/tag_rule_confirm_delete.html", {"tag": tag, "rule": None})


@require_http_methods(["GET", "POST"])
def tag_rule_create(request: AuthenticatedRequest) -> HttpResponse:
    _require_configure(request.user)
    form = TagRuleForm(request.POST or None, initial={"tag": request.GET.get("tag")})
    if request.method == "POST" and form.is_valid():
        try:
            rule = tag_rule_create_service(**form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Rule added to “{rule.tag.name}”. {_AFTER_RULE_CHANGE}")
            return redirect("feedback:tag_rule_list")
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request, "feedback/tag_rule_form.html", {"form": form, "rule": None}, status=status
    )


@require_http_methods(["GET", "POST"])
def tag_rule_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _require_configure(request.user)
    rule = tag_rule_get(rule_id=pk)
    form = TagRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        try:
            tag_rule_update(rule=rule, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Rule saved. {_AFTER_RULE_CHANGE}")
            return redirect("feedback:tag_rule_list")
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request, "feedback/tag_rule_form.html", {"form": form, "rule": rule}, status=status
    )


@require_http_methods(["GET", "POST"])
def tag_rule_remove(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _require_configure(request.user)
    rule = tag_rule_get(rule_id=pk)
    if request.method == "POST":
        tag_rule_delete(rule=rule)
        messages.success(
            request,
            f"Rule deleted. Answers it tagged keep “{rule.tag.name}” until you re-apply the rules.",
        )
        return redirect("feedback:tag_rule_list")
    return render(request, "feedback/tag_rule_confirm_delete.html", {"tag": rule.tag, "rule": rule})


@require_POST
def tag_rules_apply(request: AuthenticatedRequest) -> HttpResponse:
    _require_configure(request.user)
    result = tag_rules_reapply()
    messages.success(
        request,
        f"Rules re-applied to {result.answers_scanned} answers: {result.tags_added} tags added, "
        f"{result.tags_removed} removed. Tags set by hand were left as they were.",
    )
    return redirect("feedback:tag_rule_list")
