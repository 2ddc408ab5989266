"""The monthly report's PDF: a valid A4 PDF whose text holds the headline numbers, with the
charts drawn by kaleido through the system Chromium, and printed without them (saying so)
when Chromium is missing.

Text is read back with poppler's `pdftotext`. Without it the tests skip, except under
CI=true, where a missing tool is a broken machine (.ci/run installs poppler-utils).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import timezone

from reports import pdf as report_pdf
from reports.charts_monthly import (
    arr_bridge_figure,
    bridge_range,
    feedback_trend_figure,
    health_bands_figure,
    report_figures,
    retention_trend_figure,
)
from reports.monthly import monthly_report_data_build
from reports.pdf import monthly_report_pdf_render
from tests.reports.test_monthly import OCTOBER, TODAY, generate, portfolio

CHROMIUM = "/usr/bin/chromium"
ON_CI = os.environ.get("CI", "").lower() == "true"


def _require(tool_present: bool, reason: str) -> None:
    if not tool_present:
        if ON_CI:
            pytest.fail(f"{reason} (required under CI)")
        pytest.skip(reason)


def pdf_text(content: bytes, tmp_path: Path) -> str:
    _require(
        shutil.which("pdftotext") is not None,
        "pdftotext is not installed: apt-get install poppler-utils",
    )
    path = tmp_path / "report.pdf"
    path.write_bytes(content)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, timeout=60
    )
    return done.stdout.decode("utf-8")


def page_count(text: str) -> int:
    # pdftotext separates pages with a form feed.
    return text.count("\f")


@pytest.mark.django_db
def test_the_pdf_is_a_valid_a4_pdf_with_the_headline_numbers(tmp_path):
    portfolio()
    report = generate()
    content = bytes(report.pdf)

    text = pdf_text(content, tmp_path)

    assert content.startswith(b"%PDF-")
    assert content.rstrip().endswith(b"%%EOF")
    assert "Monthly report · October 2026" in text
    # The headline rows: value, previous month, same month last year.
    for row in (
        ("NRR", "82.6 %", "100.0 %", "111.1 %"),
        ("GRR", "73.9 %", "100.0 %"),
        ("Logo churn", "25.0 %", "0.0 %"),
        ("NPS", "40.0", "−25.0", "100.0"),
        ("ARR", "$215,000", "$230,000", "$150,000"),
        ("ARR at risk", "$70,000", "$40,000"),
    ):
        line = next(line for line in text.splitlines() if line.strip().startswith(row[0] + "  "))
        for value in row[1:]:
            assert value in line, (row, line)
    assert "NRR fell from 100.0 % to 82.6 % and GRR from 100.0 % to 73.9 %" in text
    # Page numbers and the running footer, the definitions footnote.
    assert f"Page 1 of {page_count(text)}" in text
    assert "Version 1 · generated" in text
    assert "Definitions" in text
    assert "(start ARR + expansion − contraction − churned ARR) ÷ start ARR" in text


@pytest.mark.django_db
def test_the_pdf_page_is_a4(tmp_path):
    _require(shutil.which("pdfinfo") is not None, "pdfinfo is not installed (poppler-utils)")
    portfolio()
    path = tmp_path / "report.pdf"
    path.write_bytes(bytes(generate().pdf))

    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, timeout=60)

    assert "595.276 x 841.89 pts (A4)" in info.stdout.decode()


@pytest.mark.django_db
def test_the_pdf_lists_the_top_risks_and_the_teams(tmp_path):
    portfolio()

    text = pdf_text(bytes(generate().pdf), tmp_path)

    risks = text[text.index("Top risks") : text.index("Teams")]
    assert risks.index("Cobalt") < risks.index("Delta")
    assert "$40,000" in risks
    team = next(line for line in text.splitlines() if line.strip().startswith("SMB "))
    assert "87.5 %" in team
    assert "−50.0" in team


@pytest.mark.django_db
def test_the_pdf_draws_the_charts_with_the_system_chromium(tmp_path):
    _require(os.access(CHROMIUM, os.X_OK), f"no Chromium at {CHROMIUM}")
    portfolio()
    data = monthly_report_data_build(month=OCTOBER, today=TODAY)

    images = report_pdf.chart_images(data)
    content = monthly_report_pdf_render(
        data=data, version=1, generated_at=timezone.now(), generated_by="a test"
    )

    assert set(images) == {"bridge", "retention_trend", "feedback_trend", "health_bands"}
    assert all(uri.startswith("data:image/svg+xml;base64,") for uri in images.values())
    text = pdf_text(content, tmp_path)
    # Words that only the charts print: the waterfall's ticks and the legends.
    assert "Logo churn % (right axis)" in text
    assert "Answers (right axis)" in text
    assert "Charts are left out" not in text


@pytest.mark.django_db
def test_without_chromium_the_pdf_is_printed_without_charts_and_says_so(tmp_path, monkeypatch):
    portfolio()
    data = monthly_report_data_build(month=OCTOBER, today=TODAY)
    # A fresh process's chart server, looking for a browser that is not there.
    monkeypatch.setattr(report_pdf, "_server", report_pdf._ChartServer())
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")

    content = monthly_report_pdf_render(
        data=data, version=1, generated_at=timezone.now(), generated_by="a test"
    )

    text = pdf_text(content, tmp_path)
    assert "Charts are left out of this PDF: no Chromium was found at" in text
    assert "82.6 %" in text
    assert "Logo churn % (right axis)" not in text


@pytest.mark.django_db
def test_the_pdf_never_fetches_anything(tmp_path):
    """An account named like an image tag is text, and the PDF loads nothing from outside."""
    accounts = portfolio()
    accounts["Cobalt"].name = '<img src="http://example.com/x.png">'
    accounts["Cobalt"].save()

    text = pdf_text(bytes(generate().pdf), tmp_path)

    assert '<img src="http://example.com/x.png">' in text


# --- The figures (pure) -----------------------------------------------------------------------


BRIDGE = {
    "start": 230_000.0,
    "new": 25_000.0,
    "expansion": 20_000.0,
    "contraction": 10_000.0,
    "churned": 50_000.0,
    "end": 215_000.0,
}


def test_the_bridge_waterfall_steps_from_start_to_end():
    trace = arr_bridge_figure(BRIDGE)["data"][0]

    assert trace["x"] == ["Start ARR", "New", "Expansion", "Contraction", "Churned", "End ARR"]
    assert trace["measure"] == ["absolute", "relative", "relative", "relative", "relative", "total"]
    assert trace["y"] == [230_000.0, 25_000.0, 20_000.0, -10_000.0, -50_000.0, 0]
    assert trace["text"][-1] == "$215,000"


def test_the_bridge_axis_frames_the_levels_it_passes_through():
    # Levels: 230k, 255k, 275k, 265k, 215k; span 60k, padded by 36k each way.
    assert bridge_range(BRIDGE) == [179_000.0, 311_000.0]
    # A flat month still gets a visible range, never below zero.
    assert bridge_range({"start": 0, "end": 0}) == [0.0, 0.6]


def test_trend_figures_keep_gaps_for_months_without_a_value():
    retention = retention_trend_figure(
        {
            "months": ["2026-09", "2026-10"],
            "nrr": [None, 82.6],
            "grr": [None, 73.9],
            "logo_churn": [None, 25.0],
        }
    )
    feedback = feedback_trend_figure(
        {
            "months": ["2026-09", "2026-10"],
            "nps": [-25.0, 40.0],
            "nps_answers": [4, 5],
            "csat": [100.0, None],
            "csat_answers": [2, 0],
        }
    )

    nrr, _grr, churn = retention["data"]
    assert (nrr["x"], nrr["y"], churn["yaxis"]) == (["Sep 2026", "Oct 2026"], [None, 82.6], "y2")
    answers, nps, csat = feedback["data"]
    assert answers["y"] == [6, 5]
    assert (nps["y"], nps["customdata"], csat["y"]) == ([-25.0, 40.0], [4, 5], [100.0, None])


def test_the_health_figure_puts_this_month_beside_the_previous():
    bands = [
        {"band": "red", "label": "Red", "accounts": 2, "arr": 30_000.0},
        {"band": "yellow", "label": "Yellow", "accounts": 2, "arr": 65_000.0},
        {"band": "green", "label": "Green", "accounts": 1, "arr": 100_000.0},
    ]
    previous = [{"band": "yellow", "accounts": 1}, {"band": "green", "accounts": 3}]

    before, now = health_bands_figure(bands, previous)["data"]

    assert before["y"] == [0, 1, 3]
    assert now["y"] == [2, 2, 1]
    assert now["text"] == ["$30,000", "$65,000", "$100,000"]
    assert now["marker"]["color"] == ["#c62f2f", "#c98a00", "#1f8a4c"]


@pytest.mark.django_db
def test_every_figure_of_the_report_is_built_from_its_data():
    portfolio()
    figures = report_figures(monthly_report_data_build(month=OCTOBER, today=TODAY))

    assert set(figures) == {"bridge", "retention_trend", "feedback_trend", "health_bands"}
    assert figures["retention_trend"]["data"][0]["y"][-1] == 82.6
