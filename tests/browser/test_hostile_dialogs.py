"""In a real browser, hostile names, notes and comments (tests/core/hostile_data.py) run
nothing: across the main pages, charts drawn and hovered, no dialog opens and the console
shows no error."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Error as PlaywrightError

from accounts.models import Account, User
from tests.core.hostile_data import HostileWorld, hostile_world_build
from tests.reports.test_monthly import quick_pdf  # noqa: F401 (a fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("quick_pdf"),
]


@pytest.fixture
def world() -> HostileWorld:
    return hostile_world_build()


def _log_in(page, base: str, username: str) -> None:
    """A session made on the server side and handed to the browser: the login page is not
    what this test is about."""
    client = Client()
    client.force_login(User.objects.get(username=username))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}])


def _watch(page) -> tuple[list[str], list[str]]:
    dialogs: list[str] = []
    errors: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    return dialogs, errors


def _visit(page, url: str) -> int:
    """Open the page, wait for its charts, hover the first points of each; return how many
    charts it drew."""
    page.goto(url)
    expected = page.locator("[data-chart-target]").count()
    if expected:
        page.wait_for_function(
            "n => document.querySelectorAll('.js-plotly-plot').length >= n", arg=expected
        )
        page.wait_for_selector(".js-plotly-plot .main-svg")
        # Hover text is where Plotly renders label markup: show some.
        points = page.locator(".js-plotly-plot .point, .js-plotly-plot .slice")
        for n in range(min(points.count(), 3)):
            try:
                points.nth(n).hover(timeout=1000)
            except PlaywrightError:
                continue  # a zero-width slice or a point outside the plot: nothing to show
    return expected


def _manager_pages(world: HostileWorld) -> list[str]:
    accounts = [a.pk for a in world.accounts[:3]]
    return [
        "/",
        "/dashboard/",
        "/accounts/",
        *(f"/accounts/{pk}/" for pk in accounts),
        "/health/",
        "/team/",
        "/feedback/",
        "/feedback/verbatims/",
        "/feedback/product-requests/",
        "/journeys/",
        "/journeys/playbooks/",
        f"/journeys/playbooks/{world.playbook.pk}/",
        "/segments/",
        f"/segments/{world.segment.pk}/",
        "/initiatives/",
        f"/initiatives/{world.initiative.pk}/",
        f"/reports/{world.month:%Y-%m}/",
    ]


def test_no_hostile_text_opens_a_dialog_for_a_manager(live_server, page, world):
    dialogs, errors = _watch(page)
    _log_in(page, live_server.url, "manager")

    drawn = sum(_visit(page, live_server.url + url) for url in _manager_pages(world))

    assert dialogs == []
    assert errors == []
    assert drawn >= 10  # the charts, with their escaped labels, were drawn and hovered
    # The escaped text reads as typed on the page.
    page.goto(f"{live_server.url}/accounts/{world.accounts[0].pk}/")
    assert world.accounts[0].name in page.locator("h1").inner_text()


def test_no_hostile_text_opens_a_dialog_for_a_csm(live_server, page, world):
    dialogs, errors = _watch(page)
    _log_in(page, live_server.url, "csm")
    own = Account.objects.filter(owner__username="csm").order_by("pk")[:2]

    for url in ["/", "/my-book/", "/accounts/", "/tasks/", *(f"/accounts/{a.pk}/" for a in own)]:
        _visit(page, live_server.url + url)

    assert dialogs == []
    assert errors == []
    # The watch itself works: a dialog the page does open is counted.
    page.evaluate("() => alert('counted')")
    assert dialogs == ["alert: counted"]
