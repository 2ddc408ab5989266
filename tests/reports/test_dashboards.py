"""Home by role, the manager dashboard and "my book", on the hand-built portfolio of
test_snapshots (its docstring has the accounts, contracts, scores and answers).

Today is 20 May 2026; the retention and metric snapshots are computed for that day, and the
views are told the same day.
"""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import NoReverseMatch, reverse

from accounts.models import User
from health.retention import retention_snapshots_recompute
from journeys.models import Stage
from journeys.services import journey_start
from reports.models import Metric, MonthlyReport, Scope, Target
from reports.snapshots import metric_snapshots_recompute
from tests.factories import AccountFactory, ContractFactory, InteractionFactory, UserFactory
from tests.reports.test_snapshots import TODAY, at, portfolio_build

pytestmark = pytest.mark.django_db

DASHBOARD = "/dashboard/"
MY_BOOK = "/my-book/"


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr("reports.views.dashboards.local_today", lambda: TODAY)
    # The filter bar caches its option lists; each test has its own teams and people.
    cache.clear()
    return TODAY


@pytest.fixture
def portfolio(owner, teammate, outsider):
    built = portfolio_build(owner=owner, teammate=teammate, outsider=outsider)
    retention_snapshots_recompute(today=TODAY)
    metric_snapshots_recompute(today=TODAY)
    return built


def kpi(response, key: str):
    for group in response.context["groups"]:
        for tile in group.kpis:
            if tile.key == key:
                return tile
    raise AssertionError(f"no tile {key}")


def tile_text(response, key: str) -> str:
    """The value shown in the tile's HTML."""
    html = response.content.decode()
    match = re.search(rf'data-kpi="{key}">.*?data-value[^>]*>([^<]*)<', html, re.S)
    assert match, f"no tile {key} in the page"
    return match.group(1)


# --- Home by role ---------------------------------------------------------------------------


def test_a_manager_lands_on_the_dashboard(client_for, manager, portfolio):
    response = client_for(manager).get("/")

    assert response.status_code == 200
    assert response.context["page_template"] == "reports/dashboard.html"
    assert tile_text(response, "nps") == "16.7"


def test_a_csm_lands_on_their_book(client_for, owner, portfolio):
    response = client_for(owner).get("/")

    assert response.context["page_template"] == "reports/my_book.html"
    assert response.context["book_owner"] == owner
    assert [row.line.name for row in response.context["rows"]] == ["Acme", "Birch"]


def test_an_executive_without_a_report_gets_the_dashboard_read_only(
    client_for, executive, portfolio
):
    response = client_for(executive).get("/")

    assert response.status_code == 200
    assert response.context["read_only"] is True
    assert b"No monthly report yet" in response.content
    assert tile_text(response, "nps") == "16.7"


def test_an_executive_is_sent_to_the_newest_monthly_report(client_for, executive, portfolio):
    try:
        expected = reverse("reports:report_detail", kwargs={"month": "2026-04"})
    except NoReverseMatch:
        pytest.skip("the monthly report's pages are not installed")
    for month in (dt.date(2026, 3, 1), dt.date(2026, 4, 1)):
        MonthlyReport.objects.create(month=month, data={}, generated_at=at(month))

    response = client_for(executive).get("/")

    assert response.status_code == 302
    assert response["Location"] == expected


# --- The KPI tiles --------------------------------------------------------------------------


def test_the_month_tiles_match_the_portfolio_worked_out_by_hand(client_for, manager, portfolio):
    response = client_for(manager).get(DASHBOARD, {"period": "2026-05"})

    assert response.status_code == 200
    # Attitude (May against April): NPS 16.7 from 6 answers against 0.0 from 2.
    nps = kpi(response, "nps")
    assert (nps.value, nps.previous, nps.change) == (
        Decimal("16.7"),
        Decimal("0.0"),
        Decimal("16.7"),
    )
    assert nps.detail == "6 answers"
    assert kpi(response, "csat").value == Decimal("66.7")
    assert kpi(response, "csat").previous is None  # no CSAT in April: no value, no change
    assert kpi(response, "csat").change_label == "—"
    assert kpi(response, "ces").value == Decimal("4.5")
    # Outcome, May's cohort: ARR on 1 May 27k (Acme 12k, Birch 6k, Dune 8k, Elm 1k); on
    # 1 June 27.5k. Expansion: Acme +3k, Birch +2k, Elm +500; churned Dune 8k.
    # NRR (27,000 + 5,500 - 8,000) / 27,000 = 90.7; GRR 19,000 / 27,000 = 70.4.
    assert kpi(response, "nrr").value == Decimal("90.7")
    assert kpi(response, "nrr").previous == Decimal("100.0")
    assert kpi(response, "nrr").change_label == "−9.3 pts"
    assert kpi(response, "nrr").trend == "worse"
    assert kpi(response, "grr").value == Decimal("70.4")
    assert kpi(response, "logo_churn").value == Decimal("25.0")
    assert kpi(response, "logo_churn").trend == "worse"  # up is worse for churn
    assert kpi(response, "renewal_rate").value == Decimal("50.0")
    assert kpi(response, "arr").value == Decimal("27500")
    assert tile_text(response, "arr") == "$27,500"
    assert kpi(response, "expansion_arr").value == Decimal("5500")
    # At risk today: Acme, red, 12k (Birch is yellow but renews in December).
    assert kpi(response, "arr_at_risk").value == Decimal("12000")
    # Behaviour, input, health.
    assert kpi(response, "usage").value == Decimal("67.5")
    assert kpi(response, "adoption").value == Decimal("70.0")
    assert kpi(response, "interactions").value == Decimal("3")
    assert kpi(response, "interactions").previous == Decimal("1")
    assert kpi(response, "tasks_closed").value == Decimal("2")
    assert kpi(response, "avg_health").value == Decimal("65.0")
    assert kpi(response, "avg_health").change_label == "−2.5"
    assert kpi(response, "overdue_tasks").value == Decimal("1")
    assert kpi(response, "detractors_open").value == Decimal("1")
    groups = [group.key for group in response.context["groups"]]
    assert groups == ["input", "behaviour", "outcome", "attitude", "health"]


def test_the_quarter_tiles_use_the_quarters_own_cohort(client_for, manager, portfolio):
    response = client_for(manager).get(DASHBOARD, {"period": "2026-Q2"})

    # 1 April 26k -> 1 July 27.5k; expansion 5k, churned 8k: (26 + 5 - 8) / 26 = 88.5,
    # not a sum or mean of April's 100.0 and May's 90.7.
    assert kpi(response, "nrr").value == Decimal("88.5")
    assert kpi(response, "grr").value == Decimal("69.2")
    assert kpi(response, "logo_churn").value == Decimal("33.3")
    assert kpi(response, "renewal_rate").value == Decimal("50.0")
    assert kpi(response, "arr").value == Decimal("27500")
    # Q1 2026: 26k on 1 January and on 1 April, nothing moved.
    assert kpi(response, "nrr").previous == Decimal("100.0")
    # Flows add up over April and May; states are May's.
    assert kpi(response, "nps").value == Decimal("12.5")
    assert kpi(response, "interactions").value == Decimal("4")
    assert kpi(response, "tasks_closed").value == Decimal("3")
    assert kpi(response, "usage").value == Decimal("74.2")
    assert kpi(response, "avg_health").value == Decimal("65.0")
    assert response.context["bridge"].new_arr == Decimal("4500")


def test_the_scope_filters_change_the_numbers(client_for, manager, portfolio):
    client = client_for(manager)
    p = portfolio

    enterprise = client.get(DASHBOARD, {"period": "2026-05", "team": p["enterprise"].pk})
    smb = client.get(DASHBOARD, {"period": "2026-05", "team": p["smb"].pk})
    key = client.get(DASHBOARD, {"period": "2026-05", "segment": p["key"].pk})
    outsider_book = client.get(DASHBOARD, {"period": "2026-05", "csm": p["dune"].owner_id})

    # Enterprise: 10, 9, 7, 3 -> 25.0; health 35, 55, 80 -> 56.7.
    assert kpi(enterprise, "nps").value == Decimal("25.0")
    assert kpi(enterprise, "avg_health").value == Decimal("56.7")
    assert enterprise.context["scope"].label == "Team Enterprise"
    # SMB: 0 and 10 -> a real 0.0, shown as such.
    assert kpi(smb, "nps").value == Decimal("0.0")
    assert tile_text(smb, "nps") == "0.0"
    # Key accounts (Acme, Dune): 10, 9, 3, 0, 10 -> 20.0.
    assert kpi(key, "nps").value == Decimal("20.0")
    # The outsider's book (Dune, Elm): May's cohort Dune 8k and Elm 1k; Dune churned, Elm
    # expanded 500: NRR (9,000 + 500 - 8,000) / 9,000 = 16.7.
    assert kpi(outsider_book, "nrr").value == Decimal("16.7")


def test_one_scope_at_a_time(client_for, manager, portfolio):
    p = portfolio
    response = client_for(manager).get(
        DASHBOARD, {"team": p["enterprise"].pk, "segment": p["key"].pk}
    )

    assert response.context["form"].errors["team"] == [
        "Pick one scope at a time: a segment, a team or a CSM."
    ]
    assert "groups" not in response.context
    assert b'data-kpi="nps"' not in response.content


def test_a_target_shows_on_track_or_off_track(client_for, manager, portfolio):
    Target.objects.create(
        metric=Metric.NPS, value=20, period="month", period_start=dt.date(2026, 5, 1)
    )
    Target.objects.create(
        metric=Metric.NRR, value=85, period="month", period_start=dt.date(2026, 5, 1)
    )
    Target.objects.create(
        metric=Metric.ARR_AT_RISK,
        direction=Target.Direction.AT_MOST,
        value=10000,
        period="month",
        period_start=dt.date(2026, 5, 1),
    )
    # Another scope's and another period's targets are not this view's.
    Target.objects.create(
        metric=Metric.CSAT,
        value=50,
        period="month",
        period_start=dt.date(2026, 5, 1),
        scope=Scope.TEAM,
        scope_key=str(portfolio["smb"].pk),
    )
    Target.objects.create(
        metric=Metric.CES, value=3, period="quarter", period_start=dt.date(2026, 4, 1)
    )

    response = client_for(manager).get(DASHBOARD, {"period": "2026-05"})

    nps = kpi(response, "nps").target
    assert (nps.on_track, nps.status_label, nps.label) == (False, "Off track", "Target ≥ 20.0")
    assert kpi(response, "nrr").target.on_track is True
    assert kpi(response, "nrr").target.label == "Target ≥ 85.0 %"
    risk = kpi(response, "arr_at_risk").target
    assert (risk.on_track, risk.label) == (False, "Target ≤ $10,000")
    assert kpi(response, "csat").target is None
    assert kpi(response, "ces").target is None
    assert b'data-target="off_track"' in response.content


def test_a_weekly_activity_target_reads_the_weekly_rate(client_for, manager, portfolio):
    Target.objects.create(
        metric=Metric.INTERACTIONS_PER_WEEK,
        value=Decimal("0.5"),
        period="month",
        period_start=dt.date(2026, 4, 1),
    )

    response = client_for(manager).get(DASHBOARD, {"period": "2026-04"})

    # April: one interaction over 30 days = 0.2 a week, below 0.5.
    target = kpi(response, "interactions").target
    assert target.actual == Decimal("0.2")
    assert target.on_track is False


# --- Charts ---------------------------------------------------------------------------------


def test_the_chart_series_come_from_the_snapshots(client_for, manager, portfolio):
    response = client_for(manager).get(DASHBOARD, {"period": "2026-05"})
    trends = response.context["trends"]

    assert trends.months[0] == dt.date(2025, 6, 1)
    assert trends.months[-1] == dt.date(2026, 5, 1)
    assert trends.nrr[-2:] == [Decimal("100.0"), Decimal("90.7")]
    assert trends.logo_churn[-1] == Decimal("25.0")
    assert trends.nps[-2:] == [Decimal("0.0"), Decimal("16.7")]
    assert trends.nps_answers[-2:] == [2, 6]
    assert trends.csat_answers[-2:] == [0, 3]
    assert trends.band_accounts["red"][-2:] == [0, 1]
    assert trends.band_accounts["green"][-2:] == [1, 2]
    assert trends.band_arr["yellow"][-2:] == [Decimal("6000"), Decimal("8000")]
    retention_fig = response.context["retention_fig"]
    assert retention_fig["data"][1]["y"][-2:] == [100.0, 90.7]
    bridge = response.context["bridge_fig"]["data"][0]
    # May: start 27k, new 3k (Cedar), expansion 5.5k, churned 8k, end 27.5k.
    assert bridge["y"] == [27000.0, 3000.0, 5500.0, -0.0, -8000.0, 27500.0]
    assert response.content.count(b"data-chart-target=") == 5


def test_missing_snapshots_say_how_to_compute_them(client_for, manager, owner):
    AccountFactory(owner=owner)

    response = client_for(manager).get(DASHBOARD)

    assert b"No snapshots for this scope yet" in response.content
    assert b"manage.py recompute_metrics" in response.content
    assert kpi(response, "nps").value_label == "—"


# --- Tables ---------------------------------------------------------------------------------


def test_the_tables_list_renewals_risks_and_drops(client_for, manager, portfolio):
    response = client_for(manager).get(DASHBOARD)

    renewals = response.context["renewals"]
    assert [(w.days, w.accounts, w.arr) for w in renewals.windows] == [
        (30, 1, Decimal("12000")),
        (60, 1, Decimal("12000")),
        (90, 1, Decimal("12000")),
    ]
    assert [(r.name, r.renews, r.renews_in, r.arr) for r in renewals.rows] == [
        ("Acme", "31 May 2026", "in 11 days", "$12,000")
    ]
    assert [(r.name, r.band_label) for r in response.context["at_risk"]] == [("Acme", "Red 35")]
    assert response.context["arr_at_risk_now"].arr_at_risk == Decimal("12000")
    drops = response.context["drops"]
    assert (drops.day, drops.since) == (dt.date(2026, 5, 19), dt.date(2026, 5, 12))
    assert [(d.name, d.scores, d.change) for d in drops.down] == [
        ("Acme", "70 → 35", "−35"),
        ("Birch", "60 → 55", "−5"),
    ]
    assert drops.down[0].moves == "Usage −35 pts"


# --- Access ---------------------------------------------------------------------------------


def test_a_csm_sees_their_own_team_by_default(client_for, owner, portfolio):
    response = client_for(owner).get(DASHBOARD, {"period": "2026-05"})

    assert response.context["scope"].label == "Team Enterprise"
    assert kpi(response, "nps").value == Decimal("25.0")
    form = response.context["form"]
    assert [s["name"] for s in form.selects()] == ["team", "csm", "period"]
    assert list(form.fields["team"].queryset) == [owner.team]
    assert set(form.fields["csm"].queryset) == {owner, User.objects.get(username="teammate")}


def test_a_csm_cannot_open_another_teams_scope(client_for, outsider, portfolio):
    p = portfolio
    client = client_for(outsider)

    for params in (
        {"team": p["enterprise"].pk},
        {"csm": p["acme"].owner_id},
        {"segment": p["key"].pk},
    ):
        response = client.get(DASHBOARD, params)

        assert response.status_code == 200
        assert "groups" not in response.context
        assert b'data-kpi="' not in response.content
        assert b"These filters are not valid for you" in response.content
        assert b"Acme" not in response.content


def test_a_csm_cannot_open_another_book(client_for, owner, teammate, portfolio):
    assert client_for(teammate).get(MY_BOOK, {"csm": owner.pk}).status_code == 404


def test_an_unknown_book_is_a_404(client_for, manager, portfolio):
    assert client_for(manager).get(MY_BOOK, {"csm": 999999}).status_code == 404
    assert client_for(manager).get(MY_BOOK, {"csm": "x"}).status_code == 404


def test_writes_are_refused(client_for, executive, portfolio):
    assert client_for(executive).post(DASHBOARD).status_code == 405
    assert client_for(executive).post(MY_BOOK).status_code == 405


# --- My book --------------------------------------------------------------------------------


def test_my_book_lists_health_and_its_trend(client_for, owner, portfolio):
    response = client_for(owner).get(MY_BOOK)

    summary = response.context["summary"]
    assert (summary.accounts, summary.arr, summary.avg_health) == (
        2,
        Decimal("20000"),
        Decimal("45.0"),
    )
    assert summary.arr_at_risk == Decimal("12000")
    rows = response.context["rows"]
    # Worst first. Acme: 35 now, 80 on 19 April (30 days before the latest scores).
    assert [(r.line.name, r.line.band_label, r.trend, r.score_then) for r in rows] == [
        ("Acme", "Red 35", "−45", "80"),
        ("Birch", "Yellow 55", "—", ""),
    ]
    assert [r.name for r in response.context["renewals"].rows] == ["Acme"]
    overdue = response.context["overdue"]
    assert [(t.account.name, t.due_date, t.days_late) for t in overdue.rows] == [
        ("Acme", dt.date(2026, 5, 1), 19)
    ]


def test_my_book_lists_detractors_to_call_back(client_for, outsider, portfolio):
    response = client_for(outsider).get(MY_BOOK)

    queue = response.context["follow_ups"]
    # Dune's 0 of 16 May has waited four days; Birch's April 2 was contacted on 2 May.
    assert [(row.account_name, row.answer, row.waiting) for row in queue.rows] == [
        ("Dune", "NPS 0", "4 d")
    ]
    assert queue.total == 1


def test_my_book_lists_milestones_behind(client_for, owner, portfolio):
    onboarding = Stage.objects.get(slug=Stage.ONBOARDING_SLUG)
    journey_start(
        account=portfolio["acme"],
        stage=onboarding,
        by=owner,
        at=at(TODAY - dt.timedelta(days=120)),
    )

    response = client_for(owner).get(MY_BOOK)

    milestones = response.context["milestones"]
    assert milestones.rows
    assert {row.account_name for row in milestones.rows} == {"Acme"}
    assert milestones.stuck == len(milestones.rows)


def test_a_manager_opens_any_csms_book(client_for, manager, outsider, portfolio):
    response = client_for(manager).get(MY_BOOK, {"csm": outsider.pk})

    assert response.context["book_owner"] == outsider
    assert [row.line.name for row in response.context["rows"]] == ["Elm"]
    assert b'id="book-picker"' in response.content


def test_a_manager_without_a_choice_is_asked_to_pick(client_for, manager, portfolio):
    response = client_for(manager).get(MY_BOOK)

    assert response.context["book_owner"] is None
    assert b"Choose a CSM" in response.content


# --- Query budgets --------------------------------------------------------------------------


def _grow(owner, n: int) -> None:
    for i in range(n):
        account = AccountFactory(owner=owner, arr=1000 + i, renewal_date=TODAY)
        ContractFactory(account=account, start_date=dt.date(2025, 7, 1), arr=1000 + i)
        InteractionFactory(account=account, occurred_on=dt.date(2026, 5, 4))
        UserFactory(team=owner.team)


@pytest.mark.parametrize("extra", [0, 25])
def test_the_dashboard_runs_a_fixed_number_of_queries(
    client_for, manager, owner, portfolio, extra, django_assert_max_num_queries
):
    _grow(owner, extra)
    retention_snapshots_recompute(today=TODAY)
    metric_snapshots_recompute(today=TODAY)
    client = client_for(manager)

    # Session, user, form choices (3, cached after the first view), the chosen team, snapshot
    # rows (2), targets, renewals, risks, latest day, drop accounts and their scores.
    with django_assert_max_num_queries(15):
        client.get(DASHBOARD, {"period": "2026-Q2"})
    with django_assert_max_num_queries(15):
        client.get(DASHBOARD, {"team": owner.team_id})


@pytest.mark.parametrize("extra", [0, 25])
def test_my_book_runs_a_fixed_number_of_queries(
    client_for, owner, portfolio, extra, django_assert_max_num_queries
):
    _grow(owner, extra)
    client = client_for(owner)

    # Session, user, latest scored day, snapshot rows, summary (its count pages the book),
    # the page of accounts, renewals, overdue tasks, stages, journeys, milestones and their
    # completions, follow-ups.
    with django_assert_max_num_queries(13):
        client.get(MY_BOOK)


def test_the_filter_bar_keeps_the_chosen_scope_and_period_selected(client_for, manager, portfolio):
    team = portfolio["enterprise"]

    response = client_for(manager).get(DASHBOARD, {"team": team.pk, "period": "2026-Q2"})

    html = response.content.decode()
    assert f'<option value="{team.pk}" selected>Enterprise</option>' in html
    assert '<option value="2026-Q2" selected>Q2 2026 (to date)</option>' in html
    assert '<option value="" selected>' not in html
