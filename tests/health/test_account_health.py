"""The health section of the account page: the score, its reasons, its trend."""

import datetime as dt

import pytest
from django.utils import timezone

from health.charts_account import health_trend_figure
from health.models import HealthScore, ScorecardVersion
from health.selectors_account import describe_raw

pytestmark = pytest.mark.django_db


def _score(account, day, score, band, components, *, version, missing=(), usage_through=None):
    return HealthScore.objects.create(
        account=account,
        day=day,
        score=score,
        band=band,
        computed_score=score,
        computed_band=band,
        components=components,
        missing=list(missing),
        scorecard_version=version,
        usage_through=usage_through or day,
    )


def _parts(points, weight, raw=0.5):
    return {"raw": raw, "points": points, "weight": weight, "effective_weight": weight / 100}


@pytest.fixture
def default_version():
    return ScorecardVersion.objects.get(scorecard__name="Default", number=1)


def test_the_page_explains_which_components_moved_the_score(
    client_for, owner, account, default_version
):
    today = timezone.localdate()
    v2 = ScorecardVersion.objects.create(
        scorecard=default_version.scorecard,
        number=2,
        components=default_version.components,
        note="tune",
    )
    # A week ago: usage 90 pts (w .5), support 80 pts (w .5) -> 85. Today usage fell to 30:
    # (30*.5 + 80*.5) = 55; usage moved the score by (30 - 90) * .5 = -30.
    _score(
        account,
        today - dt.timedelta(days=7),
        85,
        "green",
        {"usage": _parts(90, 50, 0.7), "support": _parts(80, 50, 1)},
        version=default_version,
    )
    _score(
        account,
        today,
        55,
        "yellow",
        {"usage": _parts(30, 50, 0.25), "support": _parts(80, 50, 1)},
        version=v2,
        missing=["sentiment"],
    )

    response = client_for(owner).get(account.get_absolute_url())

    health = response.context["health"]
    assert health.latest.score == 55
    assert health.compared_with.score == 85
    assert [(c.label, c.points_before, c.points_now, c.effect) for c in health.changes] == [
        ("Usage", 90, 30, -30.0)
    ]
    assert [line.label for line in health.lines] == ["Usage", "Support", "Sentiment"]
    assert health.lines[-1].missing is True
    assert health.version_changes == [{"day": today, "version": "Default v2"}]
    html = response.content.decode()
    assert "Usage</strong>: 90 → 30 points (-30.0 on the score)" in html
    assert "25% of licensed seats active (30 days)" in html
    assert 'data-chart-target="health-trend"' in html
    assert "vendor/plotly/plotly.min.js" in html


def test_a_stale_score_says_so(client_for, owner, account, default_version):
    today = timezone.localdate()
    _score(
        account,
        today,
        70,
        "green",
        {"usage": _parts(70, 100)},
        version=default_version,
        usage_through=today - dt.timedelta(days=5),
    )
    html = client_for(owner).get(account.get_absolute_url()).content.decode()
    assert 'data-health="stale"' in html


def test_no_score_yet_is_an_honest_empty_state(client_for, owner, account):
    response = client_for(owner).get(account.get_absolute_url())
    assert response.context["health"].latest is None
    assert response.context["health_chart"] is None
    assert b"No health score yet" in response.content
    assert b"plotly.min.js" not in response.content


def test_only_editors_get_the_override_link(client_for, owner, teammate, account):
    link = f"/health/accounts/{account.pk}/override/".encode()
    assert link in client_for(owner).get(account.get_absolute_url()).content
    assert link not in client_for(teammate).get(account.get_absolute_url()).content


def test_raw_values_read_as_words():
    assert describe_raw("usage_trend", -0.4) == "active users -40% vs the 30 days before"
    assert describe_raw("adoption", 0.6) == "6 of 10 key features used (30 days)"
    assert describe_raw("engagement", 1) == "1 day since the last interaction"


def test_the_trend_chart_marks_bands_and_scorecard_changes():
    days = [dt.date(2026, 3, 1), dt.date(2026, 3, 2)]
    history = [
        {"day": days[0], "score": 72, "computed": 72, "band": "green"},
        {"day": days[1], "score": 60, "computed": 35, "band": "yellow"},
    ]
    figure = health_trend_figure(
        history, [{"day": days[1], "version": "Default v2"}], red_below=40, green_from=70
    )
    score, computed = figure["data"]
    assert score["y"] == [72, 60]
    assert score["x"] == ["2026-03-01", "2026-03-02"]
    assert score["marker"]["color"] == ["#1f8a4c", "#c98a00"]
    assert computed["name"] == "Computed (before override)"
    assert computed["y"] == [72, 35]
    zones = [(s["y0"], s["y1"]) for s in figure["layout"]["shapes"] if s["type"] == "rect"]
    assert zones == [(0, 40), (40, 70), (70, 100)]
    assert figure["layout"]["annotations"][0]["text"] == "Scorecard Default v2"
