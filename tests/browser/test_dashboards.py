"""In a real browser: the manager dashboard and "my book" draw their Plotly charts, with no
console error, for a manager and for a CSM. Screenshots go to /tmp/cs-dashboard-screens/
for a person to look at."""

import pathlib

import pytest
from django.core.cache import cache

from health.recompute import scorecard_default_restore
from health.retention import retention_snapshots_recompute
from reports.snapshots import metric_snapshots_recompute
from tests.conftest import PASSWORD
from tests.reports.test_snapshots import TODAY, portfolio_build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS = pathlib.Path("/tmp/cs-dashboard-screens")
CHARTS = ".js-plotly-plot .main-svg"


@pytest.fixture
def portfolio(owner, teammate, outsider, monkeypatch):
    # A transactional test may find the migration's default scorecard flushed.
    scorecard_default_restore()
    # The filter bar caches its option lists; this test has its own teams and people.
    cache.clear()
    built = portfolio_build(owner=owner, teammate=teammate, outsider=outsider)
    retention_snapshots_recompute(today=TODAY)
    metric_snapshots_recompute(today=TODAY)
    monkeypatch.setattr("reports.views.dashboards.local_today", lambda: TODAY)
    return built


def _log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


def _charts_drawn(page, expected: int) -> int:
    """Wait until `expected` charts have drawn their SVG; return how many did."""
    page.wait_for_function(
        "n => document.querySelectorAll('.js-plotly-plot').length >= n", arg=expected
    )
    page.wait_for_selector(CHARTS)
    return page.locator(".js-plotly-plot").count()


def _screenshot(page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def _watch_console(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_the_manager_dashboard_draws_every_chart(live_server, page, manager, portfolio):
    errors = _watch_console(page)
    _log_in(page, live_server.url, manager.username)

    # "/" is the dashboard for a manager.
    assert _charts_drawn(page, 5) == 5
    _screenshot(page, "manager-home")

    page.goto(f"{live_server.url}/dashboard/?period=2026-Q2")
    assert _charts_drawn(page, 5) == 5
    assert page.locator("[data-kpi=nrr] [data-value]").inner_text() == "88.5 %"
    assert page.locator("#chart-bridge .waterfalllayer .point").count() == 6
    assert page.locator("#chart-retention .main-svg").count() >= 1
    _screenshot(page, "manager-dashboard-quarter")

    # Drill into a team through the filter bar: the scope lands in the URL.
    page.select_option("#id_team", label="Enterprise")
    page.select_option("#id_period", value="2026-05")
    page.click("#dashboard-filters button[type=submit]")
    page.wait_for_url("**/dashboard/?**team=*")
    assert _charts_drawn(page, 5) == 5
    assert page.locator("[data-kpi=nps] [data-value]").inner_text() == "25.0"
    assert "Team Enterprise" in page.locator("#dashboard-scope").inner_text()
    _screenshot(page, "manager-dashboard-team")
    assert errors == []


def test_a_csm_sees_their_book_and_their_teams_dashboard(live_server, page, owner, portfolio):
    errors = _watch_console(page)
    _log_in(page, live_server.url, owner.username)

    # "/" is the CSM's book: health, bands and feedback charts.
    assert _charts_drawn(page, 3) == 3
    assert page.locator("#book-accounts tbody tr").count() == 2
    assert page.locator("#book-accounts [data-trend]").first.inner_text() == "−45 from 80"
    _screenshot(page, "csm-my-book")

    page.goto(f"{live_server.url}/dashboard/?period=2026-05")
    assert _charts_drawn(page, 5) == 5
    assert "Team Enterprise" in page.locator("#dashboard-scope").inner_text()
    _screenshot(page, "csm-dashboard")
    assert errors == []
