"""The audit log page (admins only): search by actor, action, object type, label text and
dates, newest first, and the same result as CSV. There is no view that changes an entry."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.audit import audit_export
from accounts.audit_models import AuditEntry
from accounts.http import AuthenticatedRequest
from accounts.models import User
from accounts.selectors.access import local_today
from accounts.selectors.audit import OBJECT_TYPES, AuditFilters, audit_entries_search
from cs_platform.spreadsheets import spreadsheet_safe

EXPORT_HEADER = [
    "Time (UTC)",
    "Actor",
    "Address",
    "Action",
    "Object type",
    "Object id",
    "Object",
    "Changes",
    "Details",
]


class AuditFilterForm(forms.Form):
    actor = forms.ModelChoiceField(
        queryset=User.objects.order_by("username"), required=False, empty_label="Anyone"
    )
    action = forms.ChoiceField(
        choices=[("", "Any action"), *AuditEntry.Action.choices], required=False
    )
    object_type = forms.ChoiceField(
        label="Object", choices=[("", "Any object"), *OBJECT_TYPES], required=False
    )
    q = forms.CharField(label="Name contains", max_length=100, required=False, strip=True)
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date can't be before the start date.")
        return data

    def filters(self) -> AuditFilters:
        data = self.cleaned_data
        return AuditFilters(
            actor=data.get("actor"),
            action=data.get("action") or "",
            object_type=data.get("object_type") or "",
            text=data.get("q") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )


def _require_admin(user: User) -> None:
    if not user.is_admin:
        raise PermissionDenied("Only admins read the audit log.")


def _filtered(request: AuthenticatedRequest) -> tuple[AuditFilterForm, QuerySet[AuditEntry]]:
    form = AuditFilterForm(request.GET)
    if form.is_valid():
        return form, audit_entries_search(form.filters())
    # Invalid filters show nothing rather than everything: the page says which one is wrong.
    return form, AuditEntry.objects.none()


@require_safe
def audit_list(request: AuthenticatedRequest) -> HttpResponse:
    _require_admin(request.user)
    form, entries = _filtered(request)
    page = Paginator(entries, settings.PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page_obj": page,
        "export_query": query.urlencode(),
        "is_filtered": any(v for k, v in request.GET.items() if k != "page"),
    }
    return render(
        request, "accounts/audit_list.html", context, status=200 if form.is_valid() else 400
    )


@require_safe
def audit_export_csv(request: AuthenticatedRequest) -> HttpResponse:
    """The filtered log as CSV. The export is itself audited, and the file holds the entries
    that existed when it was asked for (not its own entry, nor later ones)."""
    _require_admin(request.user)
    form, entries = _filtered(request)
    if not form.is_valid():
        return audit_list(request)
    entry = audit_export(kind="audit_log", label="Audit log CSV", filters=request.GET.dict())
    rows = entries.filter(pk__lt=entry.pk).iterator(chunk_size=2000)
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="audit-log-{local_today():%Y-%m-%d}.csv"'
    )
    return response


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def _json_text(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""


def _csv_lines(entries: Iterator[AuditEntry]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_HEADER)
    for entry in entries:
        row = [
            entry.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            entry.actor_label,
            entry.ip_address or "",
            entry.get_action_display(),
            entry.object_type,
            entry.object_id,
            entry.object_label,
            _json_text(entry.changes),
            _json_text(entry.details),
        ]
        yield writer.writerow([spreadsheet_safe(cell) for cell in row])
