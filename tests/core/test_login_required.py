"""Every page requires a login, except the sign-in pages, /healthz and the public survey path."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# Logout answers anyone (it ends a half-finished sign-in too); the two-factor code step
# comes between password and sign-in, so it cannot require a login.
PUBLIC = {"/login/", "/logout/", "/healthz", "/auth/2fa/authenticate/"}
PUBLIC_PREFIXES = ("/s/", "/static/", "/api/")


def _paths(resolver: URLResolver, prefix: str = "") -> list[str]:
    out: list[str] = []
    for entry in resolver.url_patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if "admin" in pattern:
                continue
            out.extend(_paths(entry, pattern))
        elif isinstance(entry, URLPattern):
            # Fill every converter with a plausible value: access checks must come first anyway.
            path = re.sub(r"<report_month:\w+>", "2026-10", pattern)
            path = re.sub(r"<int:\w+>", "1", path)
            path = re.sub(r"<(?:str|slug):\w+>", "x", path)
            path = re.sub(r"<\w+>", "x", path)
            out.append("/" + path.lstrip("^").rstrip("$"))
    return out


ALL_PATHS = sorted(set(_paths(get_resolver())))


def test_the_url_map_is_not_empty():
    assert "/accounts/" in ALL_PATHS
    assert "/tasks/" in ALL_PATHS


@pytest.mark.parametrize(
    "path", [p for p in ALL_PATHS if p not in PUBLIC and not p.startswith(PUBLIC_PREFIXES)]
)
def test_anonymous_visitors_are_sent_to_login(client, db, path):
    response = client.get(path)
    assert response.status_code == 302, path
    assert response["Location"].startswith("/login/?next="), path


def test_admin_requires_staff_login(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
