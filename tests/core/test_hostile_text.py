"""User text is text: hostile names and notes come out of every page, chart, PDF and CSV as
the characters typed, never as markup, script or a spreadsheet formula.

The portfolio is tests/core/hostile_data.py: every account, contact, note, task, comment,
tag, segment, stage, initiative and playbook, a CSM and a team carry one of the payloads.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.models import Account, Contact, Interaction, Task, User
from accounts.webhook_models import WebhookEndpoint
from feedback.models import SurveyAnswer
from reports.pdf import monthly_report_pdf_render
from tests.core.hostile_data import (
    CSM_LAST_NAME,
    FORMULAS,
    IMG,
    JS_URL,
    MARKUP,
    TEAM_NAME,
    HostileWorld,
    hostile_world_build,
    markup_problems,
)
from tests.reports.test_monthly import quick_pdf  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_pdf")]


@pytest.fixture
def world() -> HostileWorld:
    return hostile_world_build()


def _client(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def _get(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return response.content.decode()


def _pages(world: HostileWorld, username: str) -> dict[str, list[str]]:
    """Each page to open as this person, with the user texts it must show (escaped)."""
    user = User.objects.get(username=username)
    visible = list(Account.objects.visible_to(user).order_by("pk"))
    month = f"{world.month:%Y-%m}"
    pages: dict[str, list[str]] = {
        "/": [],
        "/accounts/": [a.name for a in visible],
        "/health/": [],
        "/dashboard/": [],
        "/feedback/": [],
        "/feedback/verbatims/": [world.tag.name],
        "/feedback/product-requests/": [world.tag.name],
        "/journeys/": [world.stage.name],
        "/tasks/": [],
    }
    for account in visible[:6]:
        contacts = Contact.objects.filter(account=account).values_list("name", flat=True)
        notes = Interaction.objects.filter(account=account).values_list("summary", flat=True)
        tasks = Task.objects.filter(account=account, status=Task.Status.OPEN)
        pages[f"/accounts/{account.pk}/"] = [
            account.name,
            *contacts,
            *notes[:3],
            *tasks.values_list("title", flat=True)[:3],
        ]
    if user.role == User.Role.CSM:
        pages["/my-book/"] = [
            a.name
            for a in visible
            if a.owner_id == user.pk and a.lifecycle_status != Account.Lifecycle.CHURNED
        ]
        pages["/tasks/"] = list(
            Task.objects.filter(owner=user, status=Task.Status.OPEN).values_list("title", flat=True)
        )[:3]
    else:
        pages.update(
            {
                "/team/": [CSM_LAST_NAME],
                "/segments/": [world.segment.name],
                f"/segments/{world.segment.pk}/": [world.segment.name],
                "/journeys/playbooks/": [world.playbook.name],
                f"/journeys/playbooks/{world.playbook.pk}/": [world.playbook.name],
                "/initiatives/": [world.initiative.name],
                f"/initiatives/{world.initiative.pk}/": [world.initiative.name, world.segment.name],
                "/reports/": [],
                f"/reports/{month}/": [],
                "/feedback/surveys/tags/": [world.tag.name],
            }
        )
    return pages


@pytest.mark.parametrize("username", ["manager", "csm"])
def test_every_page_shows_hostile_text_escaped_and_never_as_markup(world, username):
    client = _client(username)
    failures: dict[str, list[str]] = {}
    shown_anywhere = 0

    for url, texts in _pages(world, username).items():
        html = _get(client, url)
        problems, _ = markup_problems(html)
        problems += [f"{text!r} is not shown escaped" for text in texts if escape(text) not in html]
        # Template syntax in user text stays text: nothing evaluated it to 49.
        if "{{7*7}}" in " ".join(texts) and "{{7*7}}" not in html:
            problems.append("{{7*7}} is not shown as typed")
        shown_anywhere += sum(escape(payload) in html for payload in MARKUP)
        if problems:
            failures[url] = problems

    assert failures == {}
    assert shown_anywhere >= 20  # the pages did show the hostile text, escaped


# --- Charts --------------------------------------------------------------------------------


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _figure_texts(html: str) -> list[str]:
    _, figures = markup_problems(html)
    return [text for figure in figures for text in _strings(json.loads(figure))]


# Markup Plotly draws in labels and hover text (besides <extra>, which names a trace).
PLOTLY_MARKUP = re.compile(r"<(?!/?(?:extra|br|b|i|sub|sup)>)[a-z/]", re.IGNORECASE)


@pytest.mark.parametrize("username", ["manager", "csm"])
def test_chart_labels_and_hover_text_carry_user_text_escaped(world, username):
    client = _client(username)
    texts: list[str] = []
    for url in _pages(world, username):
        texts += _figure_texts(_get(client, url))

    assert texts, "the pages drew no chart"
    raw = [text for text in texts if PLOTLY_MARKUP.search(text) or "javascript:" in text]
    assert raw == []


def test_the_team_chart_names_the_csm_and_team_escaped(world):
    html = _get(_client("manager"), "/team/")
    texts = _figure_texts(html)

    assert any(escape(CSM_LAST_NAME) in text for text in texts), texts
    assert not any(CSM_LAST_NAME in text for text in texts)
    assert escape(TEAM_NAME) in html


def test_the_initiative_chart_names_its_segment_escaped(world):
    texts = _figure_texts(_get(_client("manager"), f"/initiatives/{world.initiative.pk}/"))

    assert escape(world.segment.name) in texts
    assert world.segment.name not in texts


def test_the_journey_funnel_names_the_stage_escaped(world):
    texts = _figure_texts(_get(_client("manager"), "/journeys/"))

    assert escape(world.stage.name) in texts
    assert world.stage.name not in texts


# --- PDF -----------------------------------------------------------------------------------


def test_the_monthly_pdf_prints_hostile_names_as_literal_text(world, tmp_path: Path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed: apt-get install poppler-utils")
    frozen = json.dumps(world.report.data, ensure_ascii=False)
    candidates = [TEAM_NAME, world.initiative.name, *(a.name for a in world.accounts)]
    markup_names = [
        name for name in candidates if name.startswith(tuple(MARKUP)) and json.dumps(name) in frozen
    ]
    # The report names the teams and the initiatives of the month at least.
    assert {TEAM_NAME, world.initiative.name} <= set(markup_names)

    pdf = monthly_report_pdf_render(
        data=world.report.data,
        version=1,
        generated_at=timezone.now(),
        generated_by="ops",
        charts=False,
    )
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, check=True, timeout=60
    ).stdout.decode()
    # A narrow cell wraps a name anywhere, even inside "</script>": compare without spaces.
    flat = "".join(text.split())

    for name in markup_names:
        assert "".join(name.split()) in flat, name
    assert "&lt;" not in flat  # and not escaped twice on the way


# --- CSV -----------------------------------------------------------------------------------


def _csv_cells(content: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(content.decode("utf-8-sig"))) for cell in row]


NUMBER = re.compile(r"-?\d+(?:\.\d+)?%?")


def _formula_cells(cells: list[str]) -> list[str]:
    """Cells a spreadsheet would run: a formula prefix that is not a plain negative number."""
    return [
        cell
        for cell in cells
        if cell.startswith(("=", "+", "-", "@", "\t", "\r")) and not NUMBER.fullmatch(cell)
    ]


def _exports(world: HostileWorld) -> list[str]:
    urls = [
        "/accounts/export.csv",
        "/feedback/product-requests/export.csv?period=last_90",
        f"/reports/{world.month:%Y-%m}.csv",
    ]
    return urls


def _audit_export() -> str | None:
    """The audit log's CSV, where this build has one (admins only)."""
    for name in ("audit:audit_export", "accounts:audit_export", "audit:export"):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return None


def test_every_csv_export_defuses_formulas(world):
    client, admin = _client("manager"), _client("admin")
    defused: dict[str, int] = {}
    audit = _audit_export()
    exports = [(client, url) for url in _exports(world)]
    if audit:
        exports.append((admin, audit))

    for client, url in exports:
        response = client.get(url)
        assert response.status_code == 200, url
        content = b"".join(response.streaming_content) if response.streaming else response.content
        cells = _csv_cells(content)
        assert _formula_cells(cells) == [], url
        defused[url.split("?")[0]] = sum(
            cell.startswith("'") and cell[1:].startswith(tuple(FORMULAS)) for cell in cells
        )

    # Each export of customer data carried hostile text, defused with a leading apostrophe.
    assert all(defused[url.split("?")[0]] > 0 for url in _exports(world)), defused


def test_the_accounts_csv_keeps_the_typed_text_after_the_apostrophe(world):
    content = b"".join(_client("manager").get("/accounts/export.csv").streaming_content)
    cells = _csv_cells(content)

    for account in world.accounts:
        expected = f"'{account.name}" if account.name.startswith(tuple(FORMULAS)) else account.name
        assert expected in cells, account.name
    assert IMG + " account 1" in cells


def test_survey_comments_with_formulas_are_defused_in_the_product_request_csv(world):
    content = _client("manager").get("/feedback/product-requests/export.csv?period=last_90")
    cells = _csv_cells(content.content)
    comments = set(SurveyAnswer.objects.values_list("comment", flat=True))

    formula_comments = [c for c in comments if c.startswith(tuple(FORMULAS))]
    assert any(f"'{c}" in cells for c in formula_comments), cells[:40]


# --- javascript: where a URL is taken ---------------------------------------------------------


def test_a_javascript_next_address_never_becomes_a_link(world):
    client = _client("manager")
    task = Task.objects.filter(account=world.accounts[0]).first()
    answer = SurveyAnswer.objects.filter(account__in=world.accounts).first()
    assert task is not None
    assert answer is not None

    pages = [
        f"/tasks/{task.pk}/edit/?next={JS_URL}",
        f"/feedback/answers/{answer.pk}/tags/?next={JS_URL}",
    ]
    for url in pages:
        html = _get(client, url)
        problems, _ = markup_problems(html)
        assert problems == [], url
        assert 'href="javascript:' not in html.lower()


def test_a_webhook_refuses_a_javascript_address(world):
    response = _client("admin").post(
        "/settings/webhooks/new/",
        {"url": JS_URL, "events": ["health.band_changed"], "is_active": "on"},
    )

    assert response.status_code in {200, 400}
    assert "Enter a valid URL." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
