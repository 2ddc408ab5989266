"""Celery entry points of the feedback floor: ids in, one service call, retries here."""

from __future__ import annotations

import smtplib

from celery import shared_task

from feedback.services import campaign_invitations_send


# Safe to rerun (sent invitations are never sent again), so acks_late and retries on the
# mail server's transient failures.
@shared_task(
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    max_retries=8,
)
def campaign_send_task(campaign_id: int) -> int:
    """Email the invitations of a campaign that is sending; returns how many went out."""
    return campaign_invitations_send(campaign_id=campaign_id)
