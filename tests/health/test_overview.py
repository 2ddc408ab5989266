"""The health page: what each role sees, the scope filters, empty states and its query budget."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from health.models import HealthRun, HealthScore, ScorecardVersion
from reports.health_rollups import health_rollups_refresh
from tests.factories import AccountFactory, UsageRecordFactory

pytestmark = pytest.mark.django_db
PAGE = reverse("health:overview")
DAY = dt.date(2026, 3, 15)
WEEK_AGO = DAY - dt.timedelta(days=7)


@pytest.fixture(autouse=True)
def today(monkeypatch):
    """The page believes it is DAY, so every date below is worked out by hand."""
    monkeypatch.setattr("health.views.overview.local_today", lambda: DAY)
    return DAY


@pytest.fixture
def client_for(client_for):
    """As the shared fixture, but each GET first runs the nightly health rollups, so the
    page reads rows computed from exactly the data the test made."""

    def login(user):
        client = client_for(user)
        plain_get = client.get

        def get(*args, **kwargs):
            health_rollups_refresh(today=DAY)
            return plain_get(*args, **kwargs)

        client.get = get
        return client

    return login


def _components(**points_and_weights):
    return {
        measure: {"raw": 0.0, "points": points, "weight": 10, "effective_weight": weight}
        for measure, (points, weight) in points_and_weights.items()
    }


def score(account, day, value, *, components=None, usage_through=None):
    band = "red" if value < 40 else "green" if value >= 70 else "yellow"
    return HealthScore.objects.create(
        account=account,
        day=day,
        score=value,
        band=band,
        computed_score=value,
        computed_band=band,
        components=components or {},
        scorecard_version=ScorecardVersion.objects.get(scorecard__name="Default"),
        usage_through=usage_through or day,
    )


def make_account(name, owner, *, arr, band="", value=None, **extra):
    account = AccountFactory(name=name, owner=owner, health_band=band, health_score=value, **extra)
    Account.objects.filter(pk=account.pk).update(arr=Decimal(arr))
    return account


@pytest.fixture
def portfolio(owner, teammate, outsider):
    """Enterprise: red 10k (owner), yellow 20k (teammate), unscored 40k (owner).
    SMB: green 30k (outsider), and a red 500k that no Enterprise CSM may ever count."""
    red = make_account("Red Co", owner, arr=10000, band="red", value=30)
    yellow = make_account("Yellow Co", teammate, arr=20000, band="yellow", value=55)
    make_account("New Co", owner, arr=40000)
    green = make_account("Green Co", outsider, arr=30000, band="green", value=90)
    whale = make_account("SMB Whale", outsider, arr=500000, band="red", value=20)
    # Red Co fell 80 -> 30 in a week, all of it usage: (0 - 100) x 0.5 = -50.
    score(red, WEEK_AGO, 80, components=_components(usage=(100, 0.5), support=(60, 0.5)))
    score(red, DAY, 30, components=_components(usage=(0, 0.5), support=(60, 0.5)))
    score(yellow, WEEK_AGO, 50, components=_components(support=(50, 1.0)))
    score(yellow, DAY, 55, components=_components(support=(55, 1.0)))
    score(green, WEEK_AGO, 92)
    score(green, DAY, 90)
    # The whale fell furthest of all: 95 -> 20.
    score(whale, WEEK_AGO, 95, components=_components(usage=(95, 1.0)))
    score(whale, DAY, 20, components=_components(usage=(20, 1.0)))
    # Month-ends for the trend.
    score(red, dt.date(2026, 2, 28), 75)
    score(whale, dt.date(2026, 2, 28), 90)
    return {"red": red, "yellow": yellow, "green": green, "whale": whale}


def kpi(response, band):
    return next(s for s in response.context["distribution"].slices if s.band == band)


def test_a_manager_sees_every_live_account_by_band(client_for, manager, portfolio):
    response = client_for(manager).get(PAGE)

    assert response.status_code == 200
    distribution = response.context["distribution"]
    # 5 accounts: 10k + 20k + 40k + 30k + 500k = 600k; red is 10k + 500k = 85 %.
    assert distribution.total_accounts == 5
    assert distribution.total_arr == Decimal("600000")
    assert (kpi(response, "red").accounts, kpi(response, "red").arr) == (2, Decimal("510000"))
    assert distribution.red_arr_share == pytest.approx(85.0)
    content = response.content.decode()
    assert "$600,000 ARR" in content
    assert "85.0%" in content


def test_the_whale_drops_furthest_for_a_manager(client_for, manager, portfolio):
    response = client_for(manager).get(PAGE)

    movers = response.context["movers"]
    assert [(m.account.name, m.change) for m in movers.down] == [
        ("SMB Whale", -75),
        ("Red Co", -50),
        ("Green Co", -2),
    ]
    assert [m.account.name for m in movers.up] == ["Yellow Co"]


def test_a_csm_page_never_counts_another_teams_account(client_for, owner, portfolio):
    response = client_for(owner).get(PAGE)

    # Enterprise only: red 10k, yellow 20k, unscored 40k; never the SMB whale or green.
    distribution = response.context["distribution"]
    assert distribution.total_accounts == 3
    assert distribution.total_arr == Decimal("70000")
    assert kpi(response, "red").arr == Decimal("10000")
    assert kpi(response, "green").accounts == 0
    assert distribution.red_arr_share == pytest.approx(100 * 10000 / 70000)
    trend = response.context["trend"]
    assert trend.days == [dt.date(2026, 2, 28), DAY]
    assert trend.accounts == {"red": [0, 1], "yellow": [0, 1], "green": [1, 0]}
    assert sum(trend.arr["red"]) + sum(trend.arr["green"]) == Decimal("20000")
    assert response.context["stale"].scored == 2
    content = response.content.decode()
    assert "SMB Whale" not in content
    assert "Green Co" not in content
    assert "$500,000" not in content


def test_an_account_that_fell_80_to_50_leads_the_drops_with_usage_named(client_for, owner):
    account = make_account("Falling Co", owner, arr=12000, band="yellow", value=50)
    score(account, WEEK_AGO, 80, components=_components(usage=(100, 0.5), support=(60, 0.5)))
    score(account, DAY, 50, components=_components(usage=(40, 0.5), support=(60, 0.5)))

    response = client_for(owner).get(PAGE)

    first = response.context["movers"].down[0]
    assert (first.account.name, first.score_then, first.score_now) == ("Falling Co", 80, 50)
    assert [str(m) for m in first.moves] == ["Usage \u221230 pts"]
    table = re.search(
        r'<table class="data" id="movers-down">.*?</table>', response.content.decode(), re.S
    )
    assert table is not None
    row = table.group(0)
    assert f'href="/accounts/{account.pk}/"' in row
    assert "80 → 50" in row
    assert "Usage \u221230 pts" in row
    assert '<span class="band band-yellow">Yellow</span>' in row


def test_account_names_are_escaped_in_the_movers_table(client_for, owner):
    account = make_account("<img src=x onerror=alert(1)>", owner, arr=1000, band="red", value=20)
    score(account, WEEK_AGO, 60)
    score(account, DAY, 20)

    content = client_for(owner).get(PAGE).content.decode()

    assert "<img src=x" not in content
    assert "&lt;img src=x onerror=alert(1)&gt;" in content


def test_the_30_day_window_compares_with_a_month_ago(client_for, manager, portfolio):
    score(portfolio["green"], DAY - dt.timedelta(days=30), 40)

    response = client_for(manager).get(PAGE, {"window": "30"})

    movers = response.context["movers"]
    assert movers.since == dt.date(2026, 2, 13)
    assert [(m.account.name, m.score_then, m.score_now) for m in movers.up] == [
        ("Green Co", 40, 90)
    ]
    assert movers.down == []
    assert 'aria-current="true">30 days</a>' in response.content.decode()


def test_the_team_filter_excludes_other_teams(client_for, manager, portfolio, smb_team):
    response = client_for(manager).get(PAGE, {"team": smb_team.pk})

    distribution = response.context["distribution"]
    assert distribution.total_accounts == 2
    assert distribution.total_arr == Decimal("530000")
    assert [m.account.name for m in response.context["movers"].down] == ["SMB Whale", "Green Co"]
    assert "Red Co" not in response.content.decode()


def test_the_csm_filter_narrows_to_one_owner(client_for, manager, portfolio, teammate):
    response = client_for(manager).get(PAGE, {"csm": teammate.pk})

    assert response.context["distribution"].total_arr == Decimal("20000")
    assert [m.account.name for m in response.context["movers"].up] == ["Yellow Co"]


def test_a_csm_asking_for_another_team_gets_a_message_and_no_numbers(
    client_for, owner, portfolio, smb_team
):
    response = client_for(owner).get(PAGE, {"team": smb_team.pk})

    assert response.status_code == 200
    assert "distribution" not in response.context
    assert "movers" not in response.context
    content = response.content.decode()
    assert "you can only see your own team&#x27;s accounts" in content
    assert "These filters are not valid for you" in content
    assert "SMB Whale" not in content
    assert "$530,000" not in content


def test_a_csm_cannot_pick_an_outsider_as_csm(client_for, owner, portfolio, outsider):
    response = client_for(owner).get(PAGE, {"csm": outsider.pk})

    assert response.context["form"].errors["csm"] == [
        "Pick one of the CSMs listed: they own the accounts you can see."
    ]
    assert "distribution" not in response.context


def test_a_window_other_than_7_or_30_is_refused_beside_the_field(client_for, manager, portfolio):
    response = client_for(manager).get(PAGE, {"window": "14"})

    assert response.context["form"].errors["window"] == ["Choose 7 or 30 days."]
    assert 'id="id_window_error"' in response.content.decode()


def test_the_executive_sees_everything_read_only(client_for, executive, portfolio):
    response = client_for(executive).get(PAGE)

    assert response.context["distribution"].total_arr == Decimal("600000")
    # Scorecard settings are for admins and managers.
    assert reverse("health:scorecard_list") not in response.content.decode().split("</header>")[1]


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_no_scores_yet_says_how_to_compute_them(client_for, manager, owner):
    make_account("Fresh Co", owner, arr=5000)

    response = client_for(manager).get(PAGE)

    content = response.content.decode()
    assert 'id="no-scores"' in content
    assert "Scores are computed nightly; run <code>manage.py recompute_health</code>" in content
    assert "movers" not in response.context
    # The account still shows, as unscored.
    assert response.context["distribution"].slice("none").accounts == 1


def test_no_movers_when_nothing_was_scored_a_week_ago(client_for, manager, owner):
    account = make_account("Only Today", owner, arr=5000, band="green", value=80)
    score(account, DAY, 80)

    response = client_for(manager).get(PAGE)

    assert response.context["movers"].is_empty
    assert 'id="no-movers"' in response.content.decode()


def test_freshness_flags_usage_five_days_old_as_stale(client_for, manager, owner):
    account = make_account("Quiet Co", owner, arr=5000, band="green", value=80)
    UsageRecordFactory(account=account, day=DAY - dt.timedelta(days=5))
    score(account, DAY, 80, usage_through=DAY - dt.timedelta(days=5))
    HealthRun.objects.create(
        day=DAY,
        status=HealthRun.Status.SUCCEEDED,
        accounts_scored=1,
        finished_at=timezone.now(),
    )

    response = client_for(manager).get(PAGE)

    content = response.content.decode()
    usage_row = re.search(r'<tr data-source="product-usage">.*?</tr>', content, re.S).group(0)
    assert "10 Mar 2026" in usage_row
    assert "5 days" in usage_row
    assert 'data-status="stale"' in usage_row
    run_row = re.search(r'<tr data-source="health-run">.*?</tr>', content, re.S).group(0)
    assert 'data-status="fresh"' in run_row
    assert "1 account scored" in run_row
    assert (response.context["stale"].scored, response.context["stale"].stale) == (1, 1)
    assert 'data-stale="1"' in content


def test_the_page_loads_plotly_locally_and_embeds_figures_for_charts_js(
    client_for, manager, portfolio
):
    content = client_for(manager).get(PAGE).content.decode()

    assert '<script src="/static/vendor/plotly/plotly.min.js"></script>' in content
    assert '<script src="/static/js/charts.js"></script>' in content
    assert "cdn" not in content.lower()
    for chart in ("chart-distribution", "chart-trend-accounts", "chart-trend-arr"):
        assert f'<div id="{chart}" class="chart"' in content
        assert f'data-chart-target="{chart}"' in content
    # No inline script: every <script> either loads a file or is inert JSON.
    for tag in re.findall(r"<script[^>]*>", content):
        assert "src=" in tag or 'type="application/json"' in tag


def test_the_page_runs_the_same_queries_for_few_and_many_accounts(
    client, manager, owner, outsider, django_assert_max_num_queries
):
    def make(count: int, start: int) -> None:
        for n in range(start, start + count):
            account = make_account(
                f"Account {n:03d}",
                owner if n % 2 else outsider,
                arr=1000 * n,
                band="yellow",
                value=50,
            )
            score(account, WEEK_AGO, 40 + n % 30, components=_components(usage=(40, 1.0)))
            score(account, DAY, 50, components=_components(usage=(50, 1.0)))
            score(account, dt.date(2026, 1, 31), 60)

    client.force_login(manager)
    make(3, 0)
    health_rollups_refresh(today=DAY)
    with CaptureQueriesContext(connection) as few:
        client.get(PAGE)
    make(40, 3)
    health_rollups_refresh(today=DAY)
    # session, user; score days, distribution, stored trend, stored movers, stale scores;
    # usage, tickets, answers, last run (freshness); segments, teams, CSMs (filter form);
    # the periodic jobs' status.
    with django_assert_max_num_queries(15) as many:
        response = client.get(PAGE)

    assert len(response.context["movers"].up) == 10
    assert len(few.captured_queries) == len(many.captured_queries)

    # A filled-in segment/team/CSM adds one validation lookup each, no more.
    with django_assert_max_num_queries(18):
        client.get(PAGE, {"team": owner.team_id, "csm": owner.pk, "window": "30"})


def _csm_options(response):
    select = re.search(r'<select name="csm"[^>]*>(.*?)</select>', response.content.decode(), re.S)
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def test_the_csm_dropdown_lists_the_picked_teams_csms_not_everyone(
    client_for, manager, owner, teammate, outsider, portfolio, enterprise_team
):
    client = client_for(manager)

    # Without a team, only the empty choice, which says to pick a team
    response = client.get(PAGE)
    assert _csm_options(response) == [""]
    assert "pick a team to list its CSMs" in response.content.decode()

    # With the Enterprise team picked, its two CSMs owning accounts and the viewer (on that
    # team), not the SMB one
    listed = _csm_options(client.get(PAGE, {"team": enterprise_team.pk}))
    assert sorted(listed[1:]) == sorted(str(u.pk) for u in (manager, owner, teammate))

    # A CSM chosen from the URL is listed and still narrows the page
    response = client.get(PAGE, {"csm": outsider.pk})
    assert _csm_options(response) == ["", str(outsider.pk)]
    assert response.context["distribution"].total_arr == Decimal("530000")


def test_a_csm_dropdown_lists_the_owners_of_their_teams_accounts(
    client_for, owner, teammate, outsider, portfolio
):
    listed = _csm_options(client_for(owner).get(PAGE))
    assert sorted(listed[1:]) == sorted([str(owner.pk), str(teammate.pk)])
