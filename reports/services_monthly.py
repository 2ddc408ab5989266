"""Writes of the monthly executive report: generate (or regenerate) a month, record it, send
it to its subscribers, and let a reader subscribe or unsubscribe."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.selectors.access import local_today
from health.retention import month_floor
from reports.models import MonthlyReport, ReportDelivery, ReportGeneration, ReportSubscription
from reports.monthly import (
    month_key,
    monthly_report_data_build,
    report_month_check,
    report_recipients,
    user_reads_monthly_report,
)
from reports.pdf import monthly_report_pdf_render

logger = logging.getLogger(__name__)

# What a failed send keeps of its error: enough to diagnose, bounded.
ERROR_MAX_CHARS = 2_000


class DeliveryFailed(Exception):
    """One email could not be sent; the delivery row holds the error. The task retries it."""


def data_sha256(data: Mapping[str, Any]) -> str:
    """A checksum of the numbers alone, stable across key order, so two generations with
    the same numbers have the same checksum."""
    payload = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _generator_label(user: User | None) -> str:
    return str(user) if user is not None else "the monthly job"


@transaction.atomic
def monthly_report_generate(
    *,
    month: dt.date,
    by: User | None = None,
    today: dt.date | None = None,
    notify: bool = True,
    charts: bool = True,
) -> MonthlyReport:
    """Build the numbers of `month` (a closed month), freeze them into its MonthlyReport,
    print its PDF, record the generation and, on commit, email its subscribers.

    A first generation is version 1; each later one replaces the numbers and the PDF, bumps
    the version and adds a ReportGeneration row, so the history of a published report is
    kept even though only the latest version is shown. `by` is None for the monthly job.
    Costs seconds (the PDF's first chart starts Chromium): run it from Celery or a command.
    Raises ValueError for a month that is not over.
    """
    today = today or local_today()
    month = month_floor(month)
    report_month_check(month, today=today)
    data = monthly_report_data_build(month=month, today=today)
    now = timezone.now()

    # Serialises two regenerations of the same month (PostgreSQL; SQLite locks the file).
    report = MonthlyReport.objects.select_for_update().filter(month=month).first()
    if report is None:
        report = MonthlyReport(month=month, version=1)
    else:
        report.version += 1
    report.data = data
    report.summary = "\n".join(data["summary"])
    report.generated_at = now
    report.generated_by = by
    report.pdf = monthly_report_pdf_render(
        data=data,
        version=report.version,
        generated_at=now,
        generated_by=_generator_label(by),
        charts=charts,
    )
    report.save()
    ReportGeneration.objects.create(
        report=report,
        version=report.version,
        generated_at=now,
        generated_by=by,
        data_sha256=data_sha256(data),
    )
    if notify:
        report_deliveries_create(report=report)
    return report


def report_deliveries_create(*, report: MonthlyReport) -> list[ReportDelivery]:
    """One pending delivery per subscriber for the report's current version, enqueued on
    commit. Rerunning it for the same version adds nobody twice (unique per report, version
    and user) and enqueues only what is still pending."""
    recipients = list(report_recipients().values_list("pk", "email"))
    ReportDelivery.objects.bulk_create(
        [
            ReportDelivery(report=report, version=report.version, user_id=user_id, email=email)
            for user_id, email in recipients
        ],
        ignore_conflicts=True,
    )
    deliveries = list(
        ReportDelivery.objects.filter(
            report=report, version=report.version, status=ReportDelivery.Status.PENDING
        ).order_by("pk")
    )
    ids = [delivery.pk for delivery in deliveries]
    if ids:
        transaction.on_commit(lambda: _deliveries_enqueue(ids))
    return deliveries


def _deliveries_enqueue(delivery_ids: list[int]) -> None:
    """Each delivery on its own: one that cannot be queued (a broker down) or that fails at
    once (run eagerly, without a broker) must not keep the others from going out. A row left
    pending is queued again by the next report_deliveries_create for its version."""
    # Imported here: the tasks module imports this one.
    from reports.tasks_monthly import report_delivery_send_task

    for delivery_id in delivery_ids:
        try:
            report_delivery_send_task.delay(delivery_id)
        except Exception:
            logger.exception("Report delivery %s could not be queued or sent", delivery_id)


def report_url(report: MonthlyReport) -> str:
    return settings.SITE_URL + reverse("reports:report_detail", args=[month_key(report.month)])


def report_email(*, delivery: ReportDelivery, report: MonthlyReport) -> EmailMessage:
    """The email of one delivery: the written summary, a link to the page, the PDF."""
    label = report.data.get("label", f"{report.month:%B %Y}")
    subject = f"Customer success report, {label}"
    if report.version > 1:
        subject += f" (revised: version {report.version})"
    name = delivery.user.first_name or delivery.user.username
    lines = [
        f"Hello {name},",
        "",
        f"The customer success report for {label} is ready:",
        report_url(report),
        "",
        *(f"- {sentence}" for sentence in report.data.get("summary", [])),
        "",
        "The PDF is attached.",
        "",
        "You receive this email because you are subscribed to the monthly report; "
        f"unsubscribe on {settings.SITE_URL}{reverse('reports:report_list')}",
    ]
    message = EmailMessage(subject=subject, body="\n".join(lines), to=[delivery.email])
    if report.pdf:
        message.attach(
            f"cs-monthly-report-{month_key(report.month)}-v{report.version}.pdf",
            bytes(report.pdf),
            "application/pdf",
        )
    return message


def report_delivery_send(*, delivery_id: int) -> ReportDelivery:
    """Email one delivery and record the outcome on its row.

    A sent delivery is not sent again. One whose report was regenerated before it left is
    marked failed as superseded (the new version has its own deliveries). Each attempt
    counts; a failure records the error, marks the row failed and raises DeliveryFailed so
    the task retries; a later success marks it sent. At least once: a worker killed between
    the send and the write sends it again on redelivery.
    """
    with transaction.atomic():
        delivery = (
            ReportDelivery.objects.select_for_update().select_related("user").get(pk=delivery_id)
        )
        if delivery.status == ReportDelivery.Status.SENT:
            return delivery
        report = MonthlyReport.objects.get(pk=delivery.report_id)
        if report.version != delivery.version:
            delivery.status = ReportDelivery.Status.FAILED
            delivery.error = f"Superseded by version {report.version} before it was sent."
            delivery.save(update_fields=["status", "error"])
            return delivery
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])

    # Sent outside the transaction: an SMTP server must not hold a row lock.
    try:
        report_email(delivery=delivery, report=report).send(fail_silently=False)
    except Exception as exc:
        delivery.status = ReportDelivery.Status.FAILED
        delivery.error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
        delivery.save(update_fields=["status", "error"])
        logger.warning(
            "Report delivery %s failed (attempt %s): %s", delivery.pk, delivery.attempts, exc
        )
        raise DeliveryFailed(delivery.error) from exc
    delivery.status = ReportDelivery.Status.SENT
    delivery.sent_at = timezone.now()
    delivery.error = ""
    delivery.save(update_fields=["status", "sent_at", "error"])
    return delivery


@transaction.atomic
def report_subscription_set(*, user: User, subscribed: bool) -> ReportSubscription:
    """Subscribe or unsubscribe `user` to the monthly email. Only readers of the report may
    subscribe (a CSM gets PermissionDenied); unsubscribing is always allowed."""
    if subscribed and not user_reads_monthly_report(user):
        raise PermissionDenied("Only readers of the monthly report can subscribe to it.")
    subscription, _created = ReportSubscription.objects.update_or_create(
        user=user, defaults={"subscribed": subscribed}
    )
    return subscription
