"""Makes the current request reachable from services, for the audit log's actor and address.

A service deep down (a contract saved through the admin, an override set from a form) records
who did it and from where without every signature growing a `request` argument. A
ContextVar, not a thread-local: each request sees its own value under threads and asyncio
alike, and the value is reset when the response leaves, so a worker thread never carries a
previous request into the next one. Outside a request (Celery, management commands) there
is none and entries carry no address.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

_current_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


def current_request() -> HttpRequest | None:
    return _current_request.get()


class AuditRequestMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)
