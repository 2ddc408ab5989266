"""Personal API tokens: issuing, revoking, and the reads of the settings page.

Only a SHA-256 of the secret is stored (accounts.api_tokens); the secret itself is returned
once, by api_token_create, for the page to show. Everyone manages their own tokens; admins
also see and revoke everyone's. The token row is the audit record: who (user), when
(created_at, revoked_at, last_used_at); each issue and revocation is also logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.api_tokens import ApiToken, token_digest
from accounts.audit import Action, audit_record
from accounts.models import User

logger = logging.getLogger(__name__)

# "csp_" tells a leaked secret apart in logs and secret scanners; 32 random bytes follow.
SECRET_PREFIX = "csp_"
SECRET_BYTES = 32
NAME_MAX_LENGTH = 100


@transaction.atomic
def api_token_create(
    *, user: User, name: str, expires_at: dt.datetime | None = None, now: dt.datetime | None = None
) -> tuple[ApiToken, str]:
    """Issue a token for `user`; returns the row and the secret, which is never stored."""
    now = now or timezone.now()
    name = name.strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Name the token after what will use it, e.g. “CRM sync”."
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = f"At most {NAME_MAX_LENGTH} characters."
    if expires_at is not None and expires_at <= now:
        errors["expires_at"] = "The expiry must be in the future."
    if errors:
        raise ValidationError(errors)
    secret = SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=secret[: ApiToken.PREFIX_LENGTH],
        digest=token_digest(secret),
        expires_at=expires_at,
    )
    logger.info("API token %s (%s) issued to user %s", token.pk, token.prefix, user.pk)
    audit_record(
        Action.TOKEN_CREATE,
        obj=token,
        details={"user_id": user.pk, "expires_at": expires_at},
    )
    return token, secret


@transaction.atomic
def api_token_revoke(*, token: ApiToken, by: User, now: dt.datetime | None = None) -> ApiToken:
    """Revoke the token from now on; revoking a revoked token changes nothing."""
    now = now or timezone.now()
    # Conditional: a double click keeps the first revocation time.
    if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
        logger.info("API token %s (%s) revoked by user %s", token.pk, token.prefix, by.pk)
        audit_record(
            Action.TOKEN_REVOKE,
            actor=by,
            obj=token,
            changes={"revoked_at": [None, now]},
            details={"user_id": token.user_id},
        )
    token.refresh_from_db(fields=["revoked_at"])
    return token


# --- Reads for the settings page -------------------------------------------------------------


def api_tokens_of(*, user: User) -> QuerySet[ApiToken]:
    """The user's own tokens, newest first."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")


def api_tokens_all(*, viewer: User) -> QuerySet[ApiToken]:
    """Every user's tokens with their owner, for admins; nobody else."""
    if not viewer.is_admin:
        return ApiToken.objects.none()
    return ApiToken.objects.select_related("user").order_by("-created_at", "-pk")


def api_token_get_for_revoke(*, user: User, token_id: int) -> ApiToken:
    """The token if the user may revoke it (their own, or any for an admin); 404 otherwise."""
    tokens = ApiToken.objects.all() if user.is_admin else ApiToken.objects.filter(user=user)
    try:
        return tokens.select_related("user").get(pk=token_id)
    except (ApiToken.DoesNotExist, ValueError, TypeError):
        raise Http404("No such token.") from None
