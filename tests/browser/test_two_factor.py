"""A user with an authenticator app signs in: password, then the code step, in Chromium under
the strict Content-Security-Policy."""

import time

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value

from accounts.models import User
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_login_asks_for_the_code_after_the_password(live_server, page):
    user = UserFactory(username="tara", role=User.Role.MANAGER)
    TOTP.activate(user, SECRET)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "tara")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")

    page.wait_for_url(f"{live_server.url}/auth/2fa/authenticate/")
    page.fill("input[name=code]", "000000" if _code() != "000000" else "111111")
    page.click("text=Verify")
    assert "Incorrect code." in page.locator(".field-error").inner_text()

    page.fill("input[name=code]", _code())
    page.click("text=Verify")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "Manager dashboard"
    page.click("text=Security")
    assert "Authentication using an authenticator app is active." in page.content()
    assert errors == []


def _code() -> str:
    # A code is good for its 30-second period: near the end of one, wait for the next, so the
    # server checks the code in the period it was made for.
    left = 30 - time.time() % 30
    if left < 5:
        time.sleep(left + 0.1)
    return format_hotp_value(hotp_value(SECRET, int(time.time()) // 30))
