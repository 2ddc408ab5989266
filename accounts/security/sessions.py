"""Idle and absolute limits on a signed-in session.

Two timestamps (seconds since the epoch) live in the session: when the person signed in
and when they were last seen. The limits come from settings.SESSION_IDLE_TIMEOUT_SECONDS
and settings.SESSION_MAX_AGE_SECONDS.
"""

import time
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

SIGNED_IN_AT = "security_signed_in_at"
LAST_SEEN_AT = "security_last_seen_at"

# Refreshing "last seen" writes the session row. Once a minute at most keeps ordinary page
# views free of that write; the price is an idle timeout accurate to the minute.
LAST_SEEN_RESOLUTION_SECONDS = 60


def session_stamp_sign_in(session: SessionBase, *, now: float) -> None:
    session[SIGNED_IN_AT] = now
    session[LAST_SEEN_AT] = now


def session_stamp_sign_in_receiver(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
    session_stamp_sign_in(request.session, now=time.time())


def session_expiry_reason(session: SessionBase, *, now: float) -> str | None:
    """ "absolute", "idle" or None while the session is within both limits."""
    signed_in_at = session.get(SIGNED_IN_AT)
    last_seen_at = session.get(LAST_SEEN_AT)
    if signed_in_at is None or last_seen_at is None:
        return None
    if now - signed_in_at >= settings.SESSION_MAX_AGE_SECONDS:
        return "absolute"
    if now - last_seen_at >= settings.SESSION_IDLE_TIMEOUT_SECONDS:
        return "idle"
    return None


def session_touch(session: SessionBase, *, now: float) -> None:
    """Record activity; a session signed in before these limits existed gets both stamps."""
    if session.get(SIGNED_IN_AT) is None:
        session_stamp_sign_in(session, now=now)
        return
    if now - session.get(LAST_SEEN_AT, 0) >= LAST_SEEN_RESOLUTION_SECONDS:
        session[LAST_SEEN_AT] = now
