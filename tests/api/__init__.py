"""Helpers shared by the API tests: a client authenticated by a real personal token, and a
fixture that empties the cache (throttle counters and idempotency keys live there)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services.api_tokens import api_token_create


def token_client(user: User) -> APIClient:
    """An APIClient sending `Authorization: Bearer <a new token of user>`."""
    _token, secret = api_token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def fresh_cache():
    cache.clear()
    yield
    cache.clear()
