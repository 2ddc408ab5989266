import pytest

from accounts.models import User
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_logs_in_and_sees_the_portfolio_home(live_server, page):
    manager = UserFactory(username="dana", role=User.Role.MANAGER)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto(f"{live_server.url}/accounts/")
    assert "/login/" in page.url

    page.fill("input[name=username]", manager.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")

    page.wait_for_url(f"{live_server.url}/accounts/")
    page.goto(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "Manager dashboard"
    assert page.locator("nav.mainnav a", has_text="Accounts").count() == 1
    assert dialogs == []


def test_a_wrong_password_is_refused_with_a_message(live_server, page):
    UserFactory(username="erin", role=User.Role.CSM)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "erin")
    page.fill("input[name=password]", "not-the-password")
    page.click("form button[type=submit]")
    assert "/login/" in page.url
    assert "correct username and password" in page.locator("[role=alert]").inner_text()
