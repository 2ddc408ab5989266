"""The score validation page: who gets in, what it shows (and refuses to show), running a
backtest and adopting its weights."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest
from django.urls import include, path, reverse

from cs_platform import urls as root_urls
from health import urls as health_urls
from health import urls_validation
from health.backtest import CurrentScorecard, Observations, backtest_compute
from health.defaults import DEFAULT_COMPONENTS
from health.models import Measure, ScoreBacktest, Scorecard, ScorecardVersion
from health.scoring import ComponentRule
from health.services_scorecards import scorecard_version_create
from tests.factories import SegmentFactory

# Until the lead includes health.urls_validation in health/urls.py, these tests serve it in
# the "health" namespace themselves (duplicates are harmless once it is included).
urlpatterns = [
    path("health/", include((health_urls.urlpatterns + urls_validation.urlpatterns, "health"))),
    *[p for p in root_urls.urlpatterns if getattr(p, "namespace", None) != "health"],
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

PAGE = "/health/validation/"
RUN = "/health/validation/run/"
TODAY = dt.date(2026, 11, 25)
HORIZON = 90


def default_version() -> ScorecardVersion:
    return ScorecardVersion.objects.get(scorecard__name="Default", number=1)


def synthetic_data(*, accounts: int, churn_share: float, seed: int = 5) -> dict:
    """A backtest's data from made-up observations: usage falls before churn, support is
    noise. Weekly dates over half a year, as the extraction would sample them."""
    rng = random.Random(seed)
    days = [TODAY - dt.timedelta(days=HORIZON + 7 * k) for k in range(25, -1, -1)]
    rows = []
    for account_id in range(1, accounts + 1):
        churn_on = (
            days[0] + dt.timedelta(days=rng.randint(1, (TODAY - days[0]).days))
            if rng.random() < churn_share
            else None
        )
        for day in days:
            if churn_on and churn_on <= day:
                break
            churns = bool(churn_on and churn_on <= day + dt.timedelta(days=HORIZON))
            usage = round(rng.uniform(0, 60) if churns else rng.uniform(30, 100))
            support = round(rng.uniform(0, 100))
            score = round((30 * usage + 15 * support) / 45)
            band = "red" if score < 40 else "green" if score >= 70 else "yellow"
            rows.append(
                {
                    "account_id": account_id,
                    "day": day,
                    "score": score,
                    "band": band,
                    "churned": churns,
                    "arr": 10000.0,
                    "points": {"usage": usage, "support": support},
                }
            )
    obs = Observations.build(tuple(Measure.values), rows)
    return backtest_compute(
        obs,
        horizon_days=HORIZON,
        sample_days=days,
        # The default scorecard's v1 as plain values: module-scoped, so no database here.
        current=CurrentScorecard(
            None, "Default v1", {c["measure"]: c["weight"] for c in DEFAULT_COMPONENTS}, 40, 70
        ),
        today=TODAY,
    )


@pytest.fixture(scope="module")
def rich_data() -> dict:
    return synthetic_data(accounts=300, churn_share=0.4)


@pytest.fixture
def backtest(rich_data) -> ScoreBacktest:
    return ScoreBacktest.objects.create(
        horizon_days=HORIZON, data=rich_data, based_on_version=default_version()
    )


@pytest.fixture
def thin_backtest() -> ScoreBacktest:
    """Twelve churned accounts: below the 20 needed for any rate or AUC."""
    data = synthetic_data(accounts=30, churn_share=0.4, seed=2)
    assert 0 < data["churn_events"] < 20
    return ScoreBacktest.objects.create(
        horizon_days=HORIZON, data=data, based_on_version=default_version()
    )


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- Who gets in -------------------------------------------------------------------------


def test_the_validation_page_is_routed_in_the_health_namespace():
    assert reverse("health:validation") == PAGE
    assert reverse("health:validation_run") == RUN
    assert reverse("health:validation_adopt", args=[7]) == "/health/validation/7/adopt/"


def test_a_csm_may_not_open_run_or_adopt(client_for, owner, backtest):
    client = client_for(owner)
    assert client.get(PAGE).status_code == 403
    assert client.post(RUN, {"horizon": 90}).status_code == 403
    assert client.post(f"/health/validation/{backtest.pk}/adopt/").status_code == 403
    backtest.refresh_from_db()
    assert backtest.adopted_version is None


def test_an_executive_reads_but_neither_runs_nor_adopts(client_for, executive, backtest):
    client = client_for(executive)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = text_of(response)
    assert 'id="run-form"' not in html
    assert 'id="adopt-form"' not in html
    assert client.post(RUN, {"horizon": 90}).status_code == 403
    assert client.post(f"/health/validation/{backtest.pk}/adopt/").status_code == 403
    assert ScorecardVersion.objects.filter(scorecard__name="Default").count() == 1


def test_a_manager_runs_a_backtest_but_cannot_adopt(
    client_for, manager, backtest, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(
        "health.views.validation.backtest_task.delay", lambda *args: queued.append(args)
    )
    client = client_for(manager)
    html = text_of(client.get(PAGE))
    assert 'id="run-form"' in html
    assert 'id="adopt-form"' not in html
    assert "An admin can adopt these weights" in html

    segment = SegmentFactory(name="Enterprise accounts")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RUN, {"horizon": 180, "segment": segment.pk})
    assert response.status_code == 302
    assert response.url == f"{PAGE}?horizon=180&segment={segment.pk}"
    assert queued == [(180, segment.pk)]

    assert client.post(f"/health/validation/{backtest.pk}/adopt/").status_code == 403
    assert ScorecardVersion.objects.filter(scorecard__name="Default").count() == 1


def test_running_with_a_horizon_not_on_offer_runs_nothing(
    client_for, manager, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(
        "health.views.validation.backtest_task.delay", lambda *args: queued.append(args)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(manager).post(RUN, {"horizon": 45}, follow=True)
    assert queued == []
    assert "Nothing was run: Choose 30, 60, 90 or 180 days." in text_of(response)


# --- What the page shows -----------------------------------------------------------------


def test_the_page_shows_the_backtest_its_conclusions_and_the_weights(
    client_for, manager, backtest, rich_data
):
    response = client_for(manager).get(PAGE)
    assert response.status_code == 200
    html = text_of(response)
    assert f"{rich_data['auc']:.2f}" in html
    red = next(row for row in rich_data["bands"] if row["band"] == "red")
    green = next(row for row in rich_data["bands"] if row["band"] == "green")
    ratio = red["rate"] / green["rate"]
    assert f"Accounts in red churned {ratio:.1f}× as often as green within 90 days" in html
    assert "The support component adds nothing" in html
    # The weights table: current 30 / 15 and the proposal beside them, with the AUCs.
    proposal = rich_data["proposal"]
    usage_row = re.search(r'<tr data-measure="usage">(.*?)</tr>', html).group(1)
    assert '<td class="num">30</td>' in usage_row
    assert f"<strong>{proposal['weights']['usage']}</strong>" in usage_row
    assert f"{proposal['auc_current']:.3f}" in html
    assert f"{proposal['auc_proposed']:.3f}" in html
    for dom_id in ("chart-roc", "chart-bands", "chart-deciles", "chart-components"):
        assert f'id="{dom_id}"' in html
    assert "vendor/plotly/plotly.min.js" in html


def test_the_page_runs_a_fixed_number_of_queries(
    client_for, admin_user, backtest, django_assert_max_num_queries
):
    client = client_for(admin_user)
    with django_assert_max_num_queries(8):
        assert client.get(PAGE).status_code == 200


def test_too_few_churns_and_the_page_says_so_instead_of_a_number(
    client_for, manager, thin_backtest
):
    html = text_of(client_for(manager).get(PAGE))
    assert "Too few outcomes to judge the score" in html
    churns = thin_backtest.data["churn_events"]
    assert f"Only {churns} accounts churned within 90 days" in html
    assert 'data-kpi="auc"' not in html
    assert "chart-roc" not in html
    assert 'id="weights-table"' not in html
    assert 'id="band-counts"' in html


def test_no_backtest_yet_shows_an_empty_state(client_for, manager, executive):
    html = text_of(client_for(manager).get(PAGE))
    assert "No backtest over 90 days for the whole portfolio yet" in html
    assert "Run the backtest" in html
    html = text_of(client_for(executive).get(PAGE))
    assert "An admin or CS manager can run it" in html


def test_the_horizon_and_segment_choose_the_backtest(client_for, manager, backtest, rich_data):
    segment = SegmentFactory(name="Mid-Market")
    ScoreBacktest.objects.create(
        horizon_days=30, segment=segment, data=rich_data, based_on_version=default_version()
    )
    client = client_for(manager)
    html = text_of(client.get(PAGE, {"horizon": 30, "segment": segment.pk}))
    assert "Segment “Mid-Market”" in html
    html = text_of(client.get(PAGE, {"horizon": 30}))
    assert "No backtest over 30 days for the whole portfolio yet" in html


def test_a_bad_choice_gets_a_message_beside_the_field(client_for, manager):
    response = client_for(manager).get(PAGE, {"horizon": 45, "segment": 999999})
    assert response.status_code == 400
    html = text_of(response)
    assert 'id="id_horizon_error">Choose 30, 60, 90 or 180 days.' in html
    assert 'id="id_segment_error">No such segment: pick one from the list.' in html


# --- Adopting ----------------------------------------------------------------------------


def test_an_admin_adopts_in_one_click(client_for, admin_user, backtest, rich_data):
    client = client_for(admin_user)
    assert 'id="adopt-form"' in text_of(client.get(PAGE))
    response = client.post(f"/health/validation/{backtest.pk}/adopt/", follow=True)
    version = ScorecardVersion.objects.get(scorecard__name="Default", number=2)
    assert {c["measure"]: c["weight"] for c in version.components} == (
        rich_data["proposal"]["weights"]
    )
    html = text_of(response)
    assert "Adopted: “Default” version 2 now has the proposed weights" in html
    assert "Adopted as version 2 of “Default”" in html
    assert 'id="adopt-form"' not in html
    # A second click adopts nothing more.
    response = client.post(f"/health/validation/{backtest.pk}/adopt/", follow=True)
    assert "adopted already" in text_of(response)
    assert ScorecardVersion.objects.filter(scorecard__name="Default").count() == 2


def test_a_scorecard_changed_since_the_backtest_is_not_overwritten(
    client_for, admin_user, backtest
):
    scorecard_version_create(
        scorecard=Scorecard.objects.get(name="Default"),
        components=[ComponentRule.from_json(c) for c in default_version().components],
        red_below=35,
        green_from=70,
        note="Lower red threshold",
        created_by=admin_user,
    )
    client = client_for(admin_user)
    html = text_of(client.get(PAGE))
    assert "has changed since this backtest (now version 2, compared against 1)" in html
    assert 'id="adopt-form"' not in html
    response = client.post(f"/health/validation/{backtest.pk}/adopt/", follow=True)
    assert "Run the backtest again before adopting" in text_of(response)
    assert ScorecardVersion.objects.filter(scorecard__name="Default").count() == 2


def test_adopting_an_unknown_backtest_is_a_404(client_for, admin_user):
    assert client_for(admin_user).post("/health/validation/424242/adopt/").status_code == 404


def test_reading_the_page_never_accepts_a_post(client_for, admin_user):
    assert client_for(admin_user).post(PAGE).status_code == 405
