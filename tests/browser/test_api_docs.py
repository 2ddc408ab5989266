"""The interactive API docs run under the same Content-Security-Policy as every page."""

import pytest

from accounts.models import User
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_draws_every_operation_with_no_csp_violation(live_server, page):
    UserFactory(username="dana", role=User.Role.MANAGER)
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "dana")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    response = page.goto(f"{live_server.url}/api/docs/")
    directives = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
        if part.strip()
    )
    assert directives["script-src"] == "'self'"
    # Swagger UI drew the operations from the schema: its start-up script ran.
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    assert page.locator(".opblock-summary-path", has_text="/api/v1/accounts/").count() >= 1
    assert console_errors == []
