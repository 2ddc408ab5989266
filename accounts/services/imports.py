"""CSV imports: from an uploaded or given file to written rows, via an ImportJob for the page.

The command calls csv_import_file; the page calls import_job_prepare (check and keep the
file, show a preview), import_job_confirm (enqueue) and the task calls import_job_run.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts.audit import Action, audit_record
from accounts.csv_import import (
    CsvFileError,
    CsvImportRejected,
    ImportPlan,
    ImportResult,
    ProgressCallback,
    RowError,
    csv_import_plan,
    csv_import_write,
    csv_text_decode,
)
from accounts.import_models import ImportJob
from accounts.models import User
from cs_platform.upload_limits import size_describe

logger = logging.getLogger(__name__)

# How long live progress is kept in the cache; a job running longer still finishes, the
# page just stops showing the live count.
PROGRESS_TTL_SECONDS = 6 * 3600


def csv_import_file(
    *,
    kind: str,
    data: bytes | str,
    today: dt.date,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> tuple[ImportPlan, ImportResult | None]:
    """Check a whole file and, unless it has errors or dry_run is set, write every row.

    Returns the plan (with every error, if any) and the result (None when nothing was
    written). Raises CsvImportRejected if the database refused the write.
    """
    plan = csv_import_plan(kind=kind, data=data, progress=progress)
    if plan.errors or dry_run:
        return plan, None
    return plan, csv_import_write(plan, today=today, progress=progress)


# --- the upload page's jobs -------------------------------------------------------------


@transaction.atomic
def import_job_prepare(*, kind: str, file_name: str, data: bytes, created_by: User) -> ImportJob:
    """Check an uploaded file and keep it as a job awaiting confirmation, with its preview.

    Raises CsvImportRejected listing every problem; then nothing is kept.
    """
    if len(data) > settings.IMPORT_MAX_BYTES:
        limit = size_describe(settings.IMPORT_MAX_BYTES)
        raise CsvImportRejected([RowError(None, "", f"The file is larger than {limit}.")])
    try:
        text = csv_text_decode(data)
    except CsvFileError as exc:
        raise CsvImportRejected([RowError(None, "", str(exc))]) from None
    plan = csv_import_plan(kind=kind, data=text)
    if plan.errors:
        raise CsvImportRejected(plan.errors)
    return ImportJob.objects.create(
        kind=kind,
        status=ImportJob.Status.PENDING,
        created_by=created_by,
        file_name=file_name[:255],
        content=text,
        rows_total=plan.rows_total,
        rows_new=plan.rows_new,
        rows_updated=plan.rows_updated,
        preview=plan.preview,
    )


@transaction.atomic
def import_job_confirm(*, job: ImportJob) -> bool:
    """Queue a previewed job to run in the background; False if it was not awaiting that.

    The status flips in one conditional UPDATE, so a double click enqueues one run.
    """
    # The task module imports this one; importing it here avoids the cycle.
    from accounts.import_tasks import csv_import_run_task

    queued = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.QUEUED, updated_at=timezone.now()
    )
    if not queued:
        return False
    job.status = ImportJob.Status.QUEUED
    # One entry for the whole file, with the counts its preview promised.
    audit_record(
        Action.IMPORT,
        obj=job,
        object_label=f"{job.get_kind_display()}: {job.file_name}",
        details={
            "kind": job.kind,
            "file_name": job.file_name,
            "rows_total": job.rows_total,
            "rows_new": job.rows_new,
            "rows_updated": job.rows_updated,
        },
    )
    transaction.on_commit(lambda: csv_import_run_task.delay(job.pk))
    return True


def import_job_run(*, job_id: int, today: dt.date) -> ImportJob:
    """Run a queued job: check the file again (the data may have changed), then write it.

    Not atomic as a whole on purpose: the status "running" is committed first so the page
    shows it, and the rows are written in their own transaction (all or nothing). A rerun
    after a crash repeats the same upserts, so it repairs rather than duplicates; a job
    already finished is left alone.
    """
    job = ImportJob.objects.get(pk=job_id)
    if job.is_finished or job.status == ImportJob.Status.PENDING:
        return job
    job.status = ImportJob.Status.RUNNING
    job.started_at = timezone.now()
    job.rows_done = 0
    job.save(update_fields=["status", "started_at", "rows_done", "updated_at"])

    def record_progress(phase: str, done: int, total: int) -> None:
        # The write runs inside one transaction, invisible to other connections until it
        # commits, so live progress goes through the cache rather than this row.
        cache.set(_progress_key(job.pk), {"phase": phase, "done": done}, PROGRESS_TTL_SECONDS)

    errors: list[RowError] = []
    try:
        plan, result = csv_import_file(
            kind=job.kind, data=job.content, today=today, progress=record_progress
        )
        errors = plan.errors
    except CsvImportRejected as exc:
        plan, result, errors = None, None, exc.errors
    except Exception:
        logger.exception("Import job %s failed", job.pk)
        _import_job_finish(
            job,
            errors=[
                RowError(
                    None, "", "The import stopped on an unexpected error; nothing was written."
                )
            ],
        )
        raise
    if result is not None:
        job.rows_new, job.rows_updated = result.rows_new, result.rows_updated
    _import_job_finish(job, errors=errors)
    return job


def _import_job_finish(job: ImportJob, *, errors: list[RowError]) -> None:
    job.status = ImportJob.Status.FAILED if errors else ImportJob.Status.SUCCEEDED
    job.errors = [error.as_dict() for error in errors]
    job.rows_done = 0 if errors else job.rows_total
    job.finished_at = timezone.now()
    # The file has served its purpose; keeping it (up to IMPORT_MAX_BYTES) forever is not.
    job.content = ""
    if errors:
        job.rows_new = job.rows_updated = 0
    job.save()
    cache.delete(_progress_key(job.pk))


def _progress_key(job_id: int) -> str:
    return f"import-job:{job_id}:progress"


# --- reads for the pages ----------------------------------------------------------------


def import_job_get(*, job_id: int) -> ImportJob:
    """One job without its (possibly large) file text; 404 if there is none."""
    try:
        return ImportJob.objects.select_related("created_by").defer("content").get(pk=job_id)
    except ImportJob.DoesNotExist:
        raise Http404("No such import.") from None


def import_jobs_recent(*, limit: int = 20) -> list[ImportJob]:
    return list(
        ImportJob.objects.select_related("created_by")
        .defer("content", "preview", "errors")
        .order_by("-created_at", "-pk")[:limit]
    )


@dataclass(frozen=True)
class ImportProgress:
    phase: str  # "check", "write", or "" when the job is not running
    done: int
    percent: int


def import_job_progress(job: ImportJob) -> ImportProgress:
    """Rows done so far and the phase, live from the cache while the job runs."""
    if job.status != ImportJob.Status.RUNNING:
        return ImportProgress(phase="", done=job.rows_done, percent=job.percent_done)
    live = cache.get(_progress_key(job.pk)) or {}
    done = int(live.get("done", 0))
    percent = min(100, done * 100 // job.rows_total) if job.rows_total else 0
    return ImportProgress(phase=str(live.get("phase", "check")), done=done, percent=percent)
