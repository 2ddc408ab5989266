from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class TokenRateThrottle(SimpleRateThrottle):
    """Per API token (or per user for session auth), counted in the shared cache (Redis in
    production, so every web process counts together)."""

    scope = "token"

    def get_rate(self) -> str | None:
        # Read the settings on each request (DRF reads them once at import), so an operator's
        # change to API_THROTTLE_RATE and a test's override both take effect.
        return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(self.scope)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None
        token = getattr(request, "auth", None)
        ident = f"token-{token.pk}" if getattr(token, "pk", None) else f"user-{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class IngestRateThrottle(TokenRateThrottle):
    scope = "ingest"
