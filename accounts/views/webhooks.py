"""Webhook settings pages (admins only): endpoints with their delivery stats, create, edit,
delete, send a test event, and the deliveries log. Included at /settings/webhooks/."""

from __future__ import annotations

from typing import cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms.records import form_add_errors
from accounts.models import User
from accounts.services.webhooks import (
    webhook_deliveries,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_secret_rotate,
    webhook_endpoint_update,
    webhook_endpoints_with_stats,
    webhook_test_send,
)
from accounts.webhook_models import WebhookDelivery, WebhookEndpoint, WebhookEvent


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        help_text="Where to POST events, e.g. https://hooks.example.com/cs-platform.",
    )
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only these events are sent to this URL.",
    )
    is_active = forms.BooleanField(
        required=False, initial=True, label="Active", help_text="Paused endpoints receive nothing."
    )

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        # The sender speaks HTTP only; ftp:// and the like would fail on every delivery.
        if not url.lower().startswith(("http://", "https://")):
            raise ValidationError("Enter an http:// or https:// address.")
        return url


def _admin(request: HttpRequest) -> User:
    user = cast(User, request.user)
    if not user.is_admin:
        raise PermissionDenied("Only admins manage webhooks.")
    return user


def _endpoint(pk: int) -> WebhookEndpoint:
    # Endpoints belong to the organisation, not to an account: the admin check is the access rule.
    return get_object_or_404(WebhookEndpoint, pk=pk)


@require_GET
def webhook_endpoint_list(request: HttpRequest) -> HttpResponse:
    _admin(request)
    page = Paginator(webhook_endpoints_with_stats(), settings.PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "accounts/webhook_list.html", {"page_obj": page})


@require_http_methods(["GET", "POST"])
def webhook_endpoint_create_view(request: HttpRequest) -> HttpResponse:
    user = _admin(request)
    form = WebhookEndpointForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            endpoint = webhook_endpoint_create(
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                is_active=form.cleaned_data["is_active"],
                created_by=user,
            )
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, "Webhook endpoint added. Copy its signing secret below.")
            return redirect("webhooks:detail", pk=endpoint.pk)
    return render(
        request,
        "accounts/webhook_form.html",
        {"form": form, "endpoint": None},
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "POST"])
def webhook_endpoint_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    _admin(request)
    endpoint = _endpoint(pk)
    initial = {"url": endpoint.url, "events": endpoint.events, "is_active": endpoint.is_active}
    form = WebhookEndpointForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_bound and form.is_valid():
        try:
            webhook_endpoint_update(
                endpoint=endpoint,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                is_active=form.cleaned_data["is_active"],
            )
        except ValidationError as exc:
            form_add_errors(form, exc)
        else:
            messages.success(request, "Webhook endpoint saved.")
            return redirect("webhooks:detail", pk=endpoint.pk)
    return render(
        request,
        "accounts/webhook_form.html",
        {"form": form, "endpoint": endpoint},
        status=400 if form.is_bound else 200,
    )


@require_GET
def webhook_endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _admin(request)
    endpoint = _endpoint(pk)
    status = request.GET.get("status", "")
    page = Paginator(
        webhook_deliveries(endpoint=endpoint, status=status), settings.PAGE_SIZE
    ).get_page(request.GET.get("page"))
    response = render(
        request,
        "accounts/webhook_detail.html",
        {
            "endpoint": endpoint,
            "page_obj": page,
            "status": status,
            "statuses": WebhookDelivery.Status.choices,
        },
    )
    # The signing secret is on this page: no cache may keep a copy.
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def webhook_delivery_log(request: HttpRequest) -> HttpResponse:
    _admin(request)
    status = request.GET.get("status", "")
    page = Paginator(webhook_deliveries(status=status), settings.PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "accounts/webhook_deliveries.html",
        {"page_obj": page, "status": status, "statuses": WebhookDelivery.Status.choices},
    )


@require_POST
def webhook_endpoint_test_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    endpoint = _endpoint(pk)
    delivery = webhook_test_send(endpoint=endpoint, sent_by=user)
    messages.success(
        request, f"Test event #{delivery.pk} queued; its outcome appears in the log below."
    )
    return redirect("webhooks:detail", pk=endpoint.pk)


@require_POST
def webhook_endpoint_rotate_view(request: HttpRequest, pk: int) -> HttpResponse:
    _admin(request)
    endpoint = webhook_endpoint_secret_rotate(endpoint=_endpoint(pk))
    messages.success(request, "New signing secret generated: update the receiver now.")
    return redirect("webhooks:detail", pk=endpoint.pk)


@require_http_methods(["GET", "POST"])
def webhook_endpoint_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    _admin(request)
    endpoint = _endpoint(pk)
    if request.method == "POST":
        url = endpoint.url
        webhook_endpoint_delete(endpoint=endpoint)
        messages.success(request, f"Webhook endpoint {url} deleted with its delivery log.")
        return redirect("webhooks:list")
    return render(request, "accounts/webhook_confirm_delete.html", {"endpoint": endpoint})
