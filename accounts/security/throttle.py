"""How long a throttled sign-in has to wait.

allauth keeps, per rate of ACCOUNT_RATE_LIMITS["login_failed"] (one per client address, one
per username), the timestamps of recent failures in the cache, newest first, and refuses an
attempt while a rate's window holds `amount` of them. The wait is over when the oldest
failure that still counts leaves its window. Reads allauth's internal rate-limit keys; the
version is pinned in pyproject.toml and tests/core/test_login_security.py covers the message.
"""

import math
import time

from allauth.core.internal.ratelimit import get_cache_key, get_rates
from django.core.cache import cache
from django.http import HttpRequest

_APP = "allauth.account"
_ACTION = "login_failed"


def login_cooloff_seconds(request: HttpRequest, *, key: str, now: float | None = None) -> float:
    now = time.time() if now is None else now
    wait = 0.0
    for rate in get_rates(app=_APP, action=_ACTION):
        cache_key = get_cache_key(request, app=_APP, action=_ACTION, rate=rate, key=key)
        live = [ts for ts in cache.get(cache_key, []) if ts > now - rate.duration]
        if len(live) >= rate.amount:
            wait = max(wait, live[rate.amount - 1] + rate.duration - now)
    return wait


def login_cooloff_message(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed attempts, try again in {minutes} {unit}."
