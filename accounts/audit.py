"""The audit log: one append-only entry per security-relevant event or change.

Every writer calls audit_record inside the transaction of the change it records, so a
change that rolls back leaves no entry and a committed change always has one. The actor
and the client address default to those of the current request (accounts.audit_middleware);
outside a request (Celery, commands) the caller names the actor and there is no address.

The address is REMOTE_ADDR, the peer of this process, unless TRUSTED_PROXY_COUNT
(ALLAUTH_TRUSTED_PROXY_COUNT, the same setting sign-in throttling uses) says how many proxies
of ours append to X-Forwarded-For: then it is the entry that many places from the right, the
one our outermost proxy wrote. Entries further left are whatever the client sent, so they are
never read. Behind a load balancer with the setting left at 0, every entry would carry the
balancer's address.

Set-based work (imports) records one entry for the batch, with counts and a sample of ids,
never one per row.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest

from accounts.audit_middleware import current_request
from accounts.audit_models import AuditEntry
from accounts.models import User

Action = AuditEntry.Action

# How many ids a batch entry lists: enough to find the rows again, small enough to read.
IDS_SAMPLE_SIZE = 20
_LABEL_MAX = AuditEntry._meta.get_field("object_label").max_length or 200
_ACTOR_LABEL_MAX = AuditEntry._meta.get_field("actor_label").max_length or 150


class _FromRequest:
    """Marker default: take the actor from the current request."""


FROM_REQUEST = _FromRequest()


def client_address(request: HttpRequest | None) -> str | None:
    """The client's IP address (see the module docstring about proxies), None if unknown."""
    if request is None:
        return None
    raw = request.META.get("REMOTE_ADDR") or ""
    proxies = getattr(settings, "ALLAUTH_TRUSTED_PROXY_COUNT", 0)
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if proxies > 0 and len(forwarded) >= proxies and forwarded[-proxies]:
        raw = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def json_value(value: Any) -> Any:
    """A value as it reads in JSON: dates as ISO text, money as exact text, objects by name."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose value differs; `before` may lack a field."""
    changed: dict[str, list[Any]] = {}
    for field, new in after.items():
        old = json_value(before.get(field))
        new = json_value(new)
        if old != new:
            changed[field] = [old, new]
    return changed


def ids_sample(ids: Iterable[Any]) -> list[Any]:
    sample = []
    for n, value in enumerate(ids):
        if n >= IDS_SAMPLE_SIZE:
            break
        sample.append(json_value(value))
    return sample


def audit_record(
    action: str,
    *,
    actor: User | _FromRequest | None = FROM_REQUEST,
    actor_label: str | None = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: object = "",
    object_label: str = "",
    changes: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEntry:
    """Append one entry. `obj` fills the object's type, id and label unless they are given.

    `actor` None means "nobody" (a scheduled job, an automatic rule); left out, it is the
    user of the current request, if any. The request defaults to the current one.
    """
    request = request if request is not None else current_request()
    if isinstance(actor, _FromRequest):
        user = getattr(request, "user", None) if request is not None else None
        actor = user if user is not None and user.is_authenticated else None
    if actor_label is None:
        actor_label = actor.get_username() if actor is not None else ""
    if obj is not None:
        object_type = object_type or obj._meta.model_name or ""
        object_id = object_id or obj.pk
        object_label = object_label or str(obj)
    return AuditEntry.objects.create(
        actor=actor,
        actor_label=actor_label[:_ACTOR_LABEL_MAX],
        ip_address=client_address(request),
        action=action,
        object_type=object_type,
        object_id="" if object_id in (None, "") else str(object_id),
        object_label=object_label[:_LABEL_MAX],
        changes=json_value(dict(changes or {})),
        details=json_value(dict(details or {})),
    )


def audit_export(
    *, kind: str, label: str, filters: Mapping[str, Any], rows: int | None = None
) -> AuditEntry:
    """A file leaving the system: what (kind), which (label) and the filters that shaped it."""
    details: dict[str, Any] = {"filters": {k: v for k, v in filters.items() if v not in ("", None)}}
    if rows is not None:
        details["rows"] = rows
    return audit_record(
        Action.EXPORT, object_type="export", object_id=kind, object_label=label, details=details
    )
