"""In a real browser: an executive opens last month's report, every chart draws without a
console error, and the PDF downloads with the same headline numbers as the page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.reports.test_monthly import generate, portfolio

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHARTS = ("chart-bridge", "chart-retention", "chart-feedback", "chart-health")


def test_an_executive_reads_the_report_and_downloads_its_pdf(
    live_server, page, executive, tmp_path
):
    portfolio()
    report = generate()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    url = f"{live_server.url}/reports/2026-10/"

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    page.fill("input[name=username]", executive.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(url)

    assert page.locator("h1").inner_text() == "Monthly report · October 2026"
    for chart in CHARTS:
        page.locator(f"#{chart} .main-svg").first.wait_for(state="attached", timeout=15_000)
        assert page.locator(f"#{chart} .main-svg").count() >= 1, chart
    # The waterfall drew its six bars.
    assert page.locator("#chart-bridge g.point").count() == 6
    nrr = page.locator('[data-kpi="nrr"] .kpi-value').inner_text()
    assert nrr == "82.6 %"
    summary = page.locator("#summary").inner_text()
    assert "NRR fell from 100.0 % to 82.6 %" in summary
    screenshots = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "monthly_report.png"), full_page=True)

    with page.expect_download() as download_info:
        page.click("#download-pdf")
    download = download_info.value
    assert download.suggested_filename == "cs-monthly-report-2026-10-v1.pdf"
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"%PDF-")
    assert content == bytes(report.pdf)
    assert problems == []
