"""The CSV upload page: check a file and preview it, confirm, then follow the run.

Imports are CS ops work: admins and CS managers only; everyone else gets 403.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.csv_import import KINDS, CsvImportRejected, RowError
from accounts.forms.imports import ImportUploadForm
from accounts.import_models import ImportJob
from accounts.models import User
from accounts.services.imports import (
    import_job_confirm,
    import_job_get,
    import_job_prepare,
    import_job_progress,
    import_jobs_recent,
)


class AuthedRequest(HttpRequest):
    user: User  # every view here is login_required


def _require_importer(user: User) -> None:
    if not user.can_configure:
        raise PermissionDenied("Only admins and CS managers import data.")


@login_required
@require_http_methods(["GET", "POST"])
def import_upload(request: AuthedRequest) -> HttpResponse:
    _require_importer(request.user)
    errors: list[RowError] = []
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = import_job_prepare(
                    kind=form.cleaned_data["kind"],
                    file_name=upload.name or "upload.csv",
                    data=upload.read(),
                    created_by=request.user,
                )
            except CsvImportRejected as exc:
                errors = exc.errors
                # A problem with the file as a whole belongs beside the file field.
                for error in [e for e in errors if e.line is None]:
                    form.add_error("file", error.message)
                errors = [e for e in errors if e.line is not None]
            else:
                return redirect(job)
    else:
        form = ImportUploadForm()
    context = {
        "form": form,
        "errors": errors,
        "kinds": KINDS.values(),
        "recent": import_jobs_recent(),
    }
    status = 400 if form.is_bound and (form.errors or errors) else 200
    return render(request, "accounts/import_upload.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def import_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    """The preview (with the confirm button) of a checked file, then its progress and result."""
    _require_importer(request.user)
    job = import_job_get(job_id=pk)
    if request.method == "POST":
        if request.POST.get("action") == "confirm" and import_job_confirm(job=job):
            messages.success(request, "Import confirmed.")
        elif job.status != ImportJob.Status.PENDING:
            messages.info(request, "This import was already started.")
        return redirect(job)
    columns = list(job.preview[0]["values"]) if job.preview else []
    context = {
        "job": job,
        "preview_columns": columns,
        "preview_rows": [
            (row["line"], row["action"], [row["values"].get(c, "") for c in columns])
            for row in job.preview
        ],
        "spec": KINDS[job.kind],
        "progress": import_job_progress(job),
        "errors": [RowError.from_dict(error) for error in job.errors],
        "refresh": job.status in {ImportJob.Status.QUEUED, ImportJob.Status.RUNNING},
    }
    return render(request, "accounts/import_detail.html", context)
