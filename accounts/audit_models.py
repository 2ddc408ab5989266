"""AuditEntry: who did what to which object, when and from where. Append-only.

Kept in its own module; accounts/models.py imports it at the bottom so Django registers it
with the accounts app. Entries are written by accounts.audit.audit_record only.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models
from django.utils import timezone


class AuditEntryImmutable(Exception):
    """Raised on any attempt to change or delete an audit entry."""


_APPEND_ONLY = (
    "Audit entries are append-only: a record of who changed what is worth nothing if it can "
    "be rewritten afterwards, so the application never updates or deletes one."
)


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    # Set-based writes bypass Model.save()/delete(); they are refused here too, so no code
    # path in the application (admin actions, bulk_update, a stray .update()) can rewrite
    # the log. Retention, if ever wanted, is a database job, not an app feature.
    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditEntryImmutable(_APPEND_ONLY)

    def delete(self) -> NoReturn:
        raise AuditEntryImmutable(_APPEND_ONLY)


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        LOGIN = "login", "Logged in"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOGOUT = "logout", "Logged out"
        USER_CREATE = "user_create", "User created"
        USER_ROLE_CHANGE = "user_role_change", "Access changed (role, team, active, admin)"
        ACCOUNT_REASSIGN = "account_reassign", "Account reassigned"
        OVERRIDE_CREATE = "override_create", "Health override set"
        OVERRIDE_END = "override_end", "Health override ended"
        SCORECARD_VERSION = "scorecard_version", "Scorecard version made"
        SCORECARD_ACTIVE = "scorecard_active", "Scorecard switched on/off"
        STAGE_MOVE = "stage_move", "Journey stage changed"
        STAGE_CONFIG = "stage_config", "Stage or milestone edited"
        SEGMENT_CHANGE = "segment_change", "Segment changed"
        CONTRACT_CREATE = "contract_create", "Contract created"
        CONTRACT_CHANGE = "contract_change", "Contract changed"
        CONTRACT_DELETE = "contract_delete", "Contract deleted"
        IMPORT = "import", "Data imported"
        EXPORT = "export", "Data exported"
        REPORT_DOWNLOAD = "report_download", "Report downloaded"
        TOKEN_CREATE = "token_create", "API token issued"
        TOKEN_REVOKE = "token_revoke", "API token revoked"

    at = models.DateTimeField(default=timezone.now)
    # No database constraint and no cascade: deleting a user must neither delete their
    # entries nor rewrite them (SET_NULL would be an UPDATE). actor_label keeps the name.
    actor = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="audit_entries",
    )
    # The username at the time; for a failed login, the name that was tried.
    actor_label = models.CharField(max_length=150, blank=True)
    # REMOTE_ADDR of the request; empty for work outside a request (Celery, commands).
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # What the object was called then: the entry must read right after a rename or delete.
    object_label = models.CharField(max_length=200, blank=True)
    # {field: [old, new]} for changes; empty for events (login, export).
    changes = models.JSONField(default=dict, blank=True)
    # Context that is not a field change: batch counts and id samples, export filters, a reason.
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        indexes = [
            # The audit page unfiltered: newest first.
            models.Index(fields=["-at", "-id"], name="audit_at_idx"),
            # "Everything this person did", newest first.
            models.Index(fields=["actor", "-at"], name="audit_actor_at_idx"),
            # "Every failed login / every export", newest first.
            models.Index(fields=["action", "-at"], name="audit_action_at_idx"),
            # "The history of this contract / account".
            models.Index(fields=["object_type", "object_id", "-at"], name="audit_object_idx"),
        ]

    def __str__(self) -> str:
        who = self.actor_label or "system"
        what = f" {self.object_type} {self.object_label}".rstrip() if self.object_type else ""
        return f"{self.at:%Y-%m-%d %H:%M} {who}: {self.get_action_display()}{what}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A row with a primary key exists (or claims to): saving it would be an UPDATE.
        if (
            self.pk is not None
            or not self._state.adding
            or kwargs.get("force_update")
            or kwargs.get("update_fields")
        ):
            raise AuditEntryImmutable(_APPEND_ONLY)
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditEntryImmutable(_APPEND_ONLY)
