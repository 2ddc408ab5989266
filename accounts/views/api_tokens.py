"""The API tokens settings page: issue a personal token (its secret shown exactly once),
list tokens, revoke one. Everyone manages their own; admins also see and revoke all."""

from __future__ import annotations

import datetime as dt
from typing import cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.api_tokens import ApiToken
from accounts.forms.records import form_add_errors
from accounts.models import User
from accounts.selectors.access import local_today
from accounts.services.api_tokens import (
    NAME_MAX_LENGTH,
    api_token_create,
    api_token_get_for_revoke,
    api_token_revoke,
    api_tokens_all,
    api_tokens_of,
)

SCOPE_ALL = "all"


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        help_text="What will use it, e.g. “CRM sync” or “Support desk export”.",
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Optional. The token stops working at the start of this day; "
        "leave empty for a token that lasts until revoked.",
    )

    def clean_expires_on(self) -> dt.date | None:
        day: dt.date | None = self.cleaned_data.get("expires_on")
        if day is not None and day <= local_today():
            raise ValidationError("Choose a day after today.")
        return day

    def expires_at(self) -> dt.datetime | None:
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _status(token: ApiToken, now: dt.datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


@require_http_methods(["GET", "POST"])
def api_token_list(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)  # LoginRequiredMiddleware: always a real user here
    show_all = user.is_admin and request.GET.get("scope") == SCOPE_ALL
    form = ApiTokenForm(request.POST if request.method == "POST" else None)
    created: ApiToken | None = None
    secret = ""
    if form.is_bound and form.is_valid():
        try:
            created, secret = api_token_create(
                user=user, name=form.cleaned_data["name"], expires_at=form.expires_at()
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and "expires_at" in exc.error_dict:
                exc.error_dict["expires_on"] = exc.error_dict.pop("expires_at")
            form_add_errors(form, exc)
        else:
            form = ApiTokenForm()

    tokens = api_tokens_all(viewer=user) if show_all else api_tokens_of(user=user)
    page = Paginator(tokens, settings.PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [(token, _status(token, now)) for token in page.object_list]
    response = render(
        request,
        "accounts/api_token_list.html",
        {
            "form": form,
            "created": created,
            "secret": secret,
            "page_obj": page,
            "rows": rows,
            "show_all": show_all,
            "can_see_all": user.is_admin,
            "api_base": f"{settings.SITE_URL}/api/v1/",
            "docs_url": reverse("api:docs"),
        },
        status=400 if form.is_bound and form.errors else 200,
    )
    if secret:
        # The secret is on this page only: no cache may keep a copy.
        response["Cache-Control"] = "no-store"
    return response


@require_POST
def api_token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = cast(User, request.user)
    token = api_token_get_for_revoke(user=user, token_id=pk)
    if token.revoked_at is None:
        api_token_revoke(token=token, by=user)
        messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    else:
        messages.info(request, f"Token “{token.name}” was already revoked.")
    target = reverse("api_tokens:list")
    if token.user_id != user.pk:
        target += f"?scope={SCOPE_ALL}"
    return redirect(target)
