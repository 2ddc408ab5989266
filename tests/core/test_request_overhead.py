"""What every signed-in page pays before its own work: the session and the user are the only
queries, the header's links are reversed once per role and process, "last seen" is written
at most once a minute while the idle timeout keeps its meaning to the minute, and a chart's
figure is written as json_script would write it, faster."""

import datetime as dt
import json
import re
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import json_script
from django.utils.translation import gettext_lazy

from accounts import context_processors
from accounts.security.sessions import LAST_SEEN_AT, SIGNED_IN_AT
from accounts.templatetags.charts import figure_json

pytestmark = pytest.mark.django_db

# /settings/api-tokens/ reads nothing but the count of the person's tokens.
TRIVIAL_PAGE = "/settings/api-tokens/"


@pytest.fixture
def clock(monkeypatch):
    """time.time() under the test's control: clock.advance(seconds) moves it forward."""

    class Clock:
        now = time.time()

        def advance(self, seconds: float) -> None:
            self.now += seconds

    c = Clock()
    monkeypatch.setattr(time, "time", lambda: c.now)
    return c


@pytest.fixture
def counted_reverse(monkeypatch):
    """Every reverse() the navigation makes, by URL name, from an empty per-process cache."""
    monkeypatch.setattr(context_processors, "_by_role", {})
    calls: list[str] = []
    real = context_processors.reverse

    def counting(name, *args, **kwargs):
        calls.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(context_processors, "reverse", counting)
    return calls


def _session_statements(ctx) -> list[str]:
    return [q["sql"].split()[0] for q in ctx.captured_queries if "django_session" in q["sql"]]


def test_a_trivial_page_reads_the_session_the_user_and_its_own_count(
    client_for, manager, django_assert_max_num_queries
):
    client = client_for(manager)
    client.get(TRIVIAL_PAGE)
    with django_assert_max_num_queries(3), CaptureQueriesContext(connection) as ctx:
        response = client.get(TRIVIAL_PAGE)
    assert response.status_code == 200
    tables = [q["sql"].split(" FROM ")[1].split()[0].strip('"') for q in ctx.captured_queries]
    assert tables == ["django_session", "accounts_user", "accounts_apitoken"]


def test_the_navigation_is_reversed_once_per_role(client_for, manager, owner, counted_reverse):
    client = client_for(manager)
    client.get("/")
    # 15 sections for a manager (no webhooks, no audit log) and 4 user-menu links.
    assert len(counted_reverse) == 15 + 4
    client.get("/accounts/")
    client.get(TRIVIAL_PAGE)
    assert len(counted_reverse) == 19

    client.logout()
    client_for(owner).get("/")
    # A CSM has 8 sections: Home, Accounts, Tasks, Health, Journeys, Feedback, Team, API tokens.
    assert len(counted_reverse) == 19 + 8 + 4
    assert counted_reverse[-4:] == ["home", "mfa_index", "logout", "admin:index"]


def test_the_header_links_and_the_highlighted_section(client_for, manager):
    html = client_for(manager).get("/health/scorecards/").content.decode()
    assert '<a href="/health/scorecards/" class="active" aria-current="page">Scorecards</a>' in html
    assert '<a href="/health/">Health</a>' in html
    assert '<a href="/">Home</a>' in html
    assert html.count('aria-current="page"') == 1
    assert '<a class="brand" href="/">CS Platform</a>' in html
    assert f'<a href="{reverse("mfa_index")}">Security</a>' in html
    assert '<form method="post" action="/logout/" class="inline">' in html
    # Not staff: no way into the Django admin from the menu.
    assert 'href="/admin/"' not in html


def test_home_lights_only_home_and_staff_see_the_admin_link(client_for, admin_user):
    html = client_for(admin_user).get("/").content.decode()
    assert '<a href="/" class="active" aria-current="page">Home</a>' in html
    assert html.count('aria-current="page"') == 1
    assert '<a href="/admin/">Admin</a>' in html
    # Administrators also see the sections only they have.
    assert '<a href="/settings/audit/">Audit log</a>' in html


def test_a_page_outside_every_section_lights_none(client_for, manager):
    response = client_for(manager).get(reverse("mfa_index"))
    assert [i["label"] for i in response.context["nav_items"] if i["active"]] == []
    assert 'aria-current="page"' not in response.content.decode()


def test_last_seen_is_written_at_most_once_a_minute(client_for, owner, clock):
    client = client_for(owner)
    signed_in = client.session[SIGNED_IN_AT]

    clock.advance(59)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(TRIVIAL_PAGE).status_code == 200
    assert _session_statements(ctx) == ["SELECT"]
    assert client.session[LAST_SEEN_AT] == signed_in

    clock.advance(2)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(TRIVIAL_PAGE).status_code == 200
    assert "SELECT" in _session_statements(ctx)
    assert any(s in ("UPDATE", "INSERT") for s in _session_statements(ctx))
    assert client.session[LAST_SEEN_AT] == signed_in + 61
    assert client.session[SIGNED_IN_AT] == signed_in


def test_the_idle_timeout_counts_from_the_last_recorded_minute(client_for, owner, clock, settings):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 60 * 60
    client = client_for(owner)

    # A request 30 s after sign-in is not recorded; the idle hour runs from the sign-in.
    clock.advance(30)
    assert client.get(TRIVIAL_PAGE).status_code == 200
    clock.advance(60 * 60 - 30 - 1)
    assert client.get(TRIVIAL_PAGE).status_code == 200  # 59:59 after the recorded stamp

    # That request was recorded, so another hour less a second later the session lives on.
    clock.advance(60 * 60 - 1)
    assert client.get(TRIVIAL_PAGE).status_code == 200

    clock.advance(60 * 60)
    response = client.get(TRIVIAL_PAGE)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={TRIVIAL_PAGE}"


def _json_script_payload(value) -> str:
    return re.fullmatch(r"<script[^>]*>(.*)</script>", json_script(value, "x"), re.S).group(1)


def test_a_figure_is_written_as_json_script_writes_it():
    figure = {
        "data": [
            {
                "name": "</script><script>alert(1)</script> & co",
                "x": [dt.date(2026, 2, 28), dt.date(2026, 3, 31)],
                "y": [Decimal("1250.50"), 3, 0.1, None, True],
            }
        ],
        "layout": {
            "title": {"text": gettext_lazy("ARR")},
            "updated": dt.datetime(2026, 3, 31, 12, 30, 15, 123456, tzinfo=dt.UTC),
            "annotations": {1: "one"},
        },
    }
    ours = figure_json(figure)
    assert json.loads(ours) == json.loads(_json_script_payload(figure))
    assert not {"<", ">", "&"} & set(ours)
    assert "\\u003C/script\\u003E" in ours
    assert "\\u0026 co" in ours
    # As DjangoJSONEncoder writes them: ISO dates, milliseconds and Z, decimals as strings.
    assert json.loads(ours)["data"][0]["x"] == ["2026-02-28", "2026-03-31"]
    assert json.loads(ours)["layout"]["updated"] == "2026-03-31T12:30:15.123Z"
    assert json.loads(ours)["data"][0]["y"] == ["1250.50", 3, 0.1, None, True]
    assert json.loads(ours)["layout"]["annotations"] == {"1": "one"}


def test_values_json_parse_would_refuse_become_null_and_huge_integers_still_serialise():
    assert figure_json({"y": [float("nan"), float("inf"), 1.5]}) == '{"y":[null,null,1.5]}'
    assert json.loads(figure_json({"y": [2**70]})) == {"y": [2**70]}


def test_the_chart_tag_keeps_its_markup():
    figure = {"data": [{"y": [1, 2]}], "layout": {}}
    html = Template('{% load charts %}{% plotly_chart fig "chart-x" label %}').render(
        Context({"fig": figure, "label": "A & B"})
    )
    assert html == (
        '<div id="chart-x" class="chart" role="img" aria-label="A &amp; B"></div>'
        '<script data-chart-target="chart-x" id="chart-x-data" type="application/json">'
        '{"data":[{"y":[1,2]}],"layout":{}}</script>'
    )
