"""Team performance from the nightly rollup: its rows hold the hand-worked numbers of
test_team's portfolio, the page reads them and shows the same cells as when it counts live,
a CSM reads their team's view, CSMs the rollup lacks are counted live, and the charts rank
every CSM of the scope (all of them up to 20, else the top and bottom 10, with the median).

The page believes today is 14 June 2026, as in test_team.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from reports.charts_team import team_metric_figure
from reports.models import CsmPeriodRollup, Target
from reports.snapshots import metric_snapshots_recompute
from reports.team_rollups import team_rollups_recompute
from tests.factories import InteractionFactory, TeamFactory, UserFactory
from tests.reports.test_team import (
    JUNE,
    MAY,
    PAGE,
    TODAY,
    _book,
    answers,
    make_account,
    portfolio,  # noqa: F401 (a fixture)
    row_of,
)

pytestmark = pytest.mark.django_db
Q2 = dt.date(2026, 4, 1)


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr("reports.views.team.local_today", lambda: TODAY)
    return TODAY


def stored(user, start=JUNE, period="month", view="all"):
    return CsmPeriodRollup.objects.get(csm=user, period=period, period_start=start, view=view)


def cells(response):
    """Every shown cell as the page builds it: value, compared value, basis, target."""
    return [
        (
            row.user.pk,
            {
                key: (
                    cell.value,
                    cell.previous,
                    cell.basis,
                    cell.check.status if cell.check else None,
                )
                for key, cell in row.cells.items()
            },
        )
        for row in response.context["rows"]
    ]


def counted_live(monkeypatch):
    """The page as it counts without the rollup."""
    monkeypatch.setattr("reports.selectors_team.rollup_views", lambda _viewer: None)


# --- The rows ------------------------------------------------------------------------------


@pytest.mark.usefixtures("portfolio")
def test_the_rollup_holds_the_hand_worked_numbers(owner, teammate, outsider):
    # When the nightly job runs on 14 June
    written = team_rollups_recompute(today=TODAY)

    # Then June holds test_team's hand-worked June figures for the owner
    june = stored(owner)
    assert (june.accounts, june.arr, june.overdue) == (2, Decimal("100000.00"), 2)
    assert (june.health, june.nrr, june.grr, june.renewal) == (
        Decimal("72.5"),
        Decimal("110.0"),
        Decimal("95.0"),
        Decimal("75.0"),
    )
    # NPS 9, 10, 10, 6 -> 50.0 on 4 answers; CSAT 2 of 3 -> 66.7.
    assert (june.nps, june.nps_answers, june.csat, june.csat_answers) == (
        Decimal("50.0"),
        4,
        Decimal("66.7"),
        3,
    )
    # 6 interactions and 3 tasks over the 2 weeks so far; exits after 60 and 90 days.
    assert (june.interactions, june.tasks, june.ttv) == (
        Decimal("3.0"),
        Decimal("1.5"),
        Decimal("75.0"),
    )
    assert june.as_of == TODAY
    assert june.nrr_basis == "Jun 2026 so far"
    # May: NPS 9, 6 -> 0.0; 2 interactions over 31/7 weeks -> 0.5; NRR 105.0.
    may = stored(owner, MAY)
    assert (may.nps, may.interactions, may.tasks, may.nrr) == (
        Decimal("0.0"),
        Decimal("0.5"),
        Decimal("0.0"),
        Decimal("105.0"),
    )
    # Q2 so far: 8 interactions over 75 days -> 0.7 a week; May's cohort with June's
    # movements -> NRR 115.0.
    q2 = stored(owner, Q2, "quarter")
    assert (q2.interactions, q2.nrr) == (Decimal("0.7"), Decimal("115.0"))
    # The teammate: one account, NPS -100 on one answer, no renewal due, no exit.
    theirs = stored(teammate)
    assert (theirs.accounts, theirs.nps, theirs.renewal, theirs.ttv) == (
        1,
        Decimal("-100.0"),
        None,
        None,
    )
    # Every book stays on its team: no "team" row. 36 months and 12 quarters per CSM.
    assert not CsmPeriodRollup.objects.filter(view="team").exists()
    assert written == 3 * (36 + 12) == CsmPeriodRollup.objects.count()


@pytest.mark.usefixtures("portfolio")
def test_a_rerun_replaces_the_rows(owner):
    team_rollups_recompute(today=TODAY)
    first = CsmPeriodRollup.objects.count()

    team_rollups_recompute(today=TODAY)

    assert CsmPeriodRollup.objects.count() == first
    assert stored(owner).nps == Decimal("50.0")


@pytest.mark.usefixtures("portfolio")
def test_the_metric_snapshot_job_writes_the_rollup(owner):
    metric_snapshots_recompute(today=TODAY, months=2)
    assert stored(owner).accounts == 2


@pytest.mark.usefixtures("portfolio")
def test_a_team_row_only_where_a_book_leaves_the_team(owner, teammate, smb_team):
    # Given the teammate owns an account kept on the SMB team, with three promoters
    hidden = make_account("Hidden", teammate, arr="10000", team=smb_team)
    answers(hidden, "nps", [10, 10, 10], dt.date(2026, 6, 4))

    team_rollups_recompute(today=TODAY)

    # Then everyone's view counts it: 2 accounts, NPS (3 - 1) / 4 = 50.0 ...
    everyone = stored(teammate)
    assert (everyone.accounts, everyone.arr, everyone.nps) == (2, Decimal("60000"), Decimal("50.0"))
    # ... the team's view does not: 1 account, NPS -100.0, its snapshots unchanged
    own = stored(teammate, view="team")
    assert (own.accounts, own.arr, own.nps, own.nrr) == (
        1,
        Decimal("50000"),
        Decimal("-100.0"),
        Decimal("90.0"),
    )
    # The owner's book is all on the team: one row, "all".
    assert not CsmPeriodRollup.objects.filter(csm=owner, view="team").exists()


# --- The page reads them -------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"compare": "last_year"},
        {"compare": "none", "sort": "-ttv"},
        {"period": "2026-05", "sort": "nps"},
        {"period": "2026-Q2", "sort": "-nrr"},
        {"period": "2026-Q1", "compare": "last_year", "sort": "interactions"},
        {"period": "2025-07", "sort": "-overdue"},
    ],
)
@pytest.mark.usefixtures("portfolio")
def test_the_page_from_the_rollup_equals_the_page_counted_live(
    client_for, manager, owner, teammate, monkeypatch, params
):
    # Given company targets, and the rollup of 14 June
    Target.objects.create(metric="nrr", value=100, period="month", period_start=JUNE)
    Target.objects.create(metric="nps", value=40, period="quarter", period_start=Q2)
    team_rollups_recompute(today=TODAY)
    client = client_for(manager)

    # When the page reads the rollup, and then counts everything live
    from_rollup = client.get(PAGE, params)
    assert from_rollup.context["performance"].computed_at is not None
    counted_live(monkeypatch)
    live = client.get(PAGE, params)
    assert live.context["performance"].computed_at is None

    # Then every cell of every row, and the order, are the same
    assert cells(from_rollup) == cells(live)
    assert len(cells(live)) == 3


@pytest.mark.usefixtures("portfolio")
def test_the_page_shows_when_the_figures_were_computed(client_for, manager, owner):
    team_rollups_recompute(today=TODAY)
    at = timezone.localtime(CsmPeriodRollup.objects.first().computed_at)

    html = client_for(manager).get(PAGE).content.decode()

    assert f"From the nightly figures computed {at:%-d %b %Y, %H:%M}" in html
    assert "charts-cover-page" not in html


@pytest.mark.usefixtures("portfolio")
def test_the_ranking_is_kept_until_the_next_run(client_for, manager, owner, teammate):
    # Given the rollup, and the page viewed once
    team_rollups_recompute(today=TODAY)
    client = client_for(manager)
    params = {"team": owner.team_id, "sort": "-interactions"}
    with CaptureQueriesContext(connection) as first:
        client.get(PAGE, params)

    # When it is viewed again, every CSM's ranking is not read again
    with CaptureQueriesContext(connection) as again:
        response = client.get(PAGE, params)

    def rollup_reads(captured):
        return [q for q in captured.captured_queries if "reports_csmperiodrollup" in q["sql"]]

    # (the run's time, every CSM's values, the page's rows; then no values)
    assert len(rollup_reads(first)) == 3
    assert len(rollup_reads(again)) == 2
    assert [row.user for row in response.context["rows"]] == [owner, teammate]

    # When the teammate logs 10 interactions and the job runs again, the page shows them
    # (the owner's 3.0 a week against the teammate's 11 over 2 weeks, 5.5)
    for day in range(1, 11):
        InteractionFactory(
            account=make_account(f"T{day}", teammate, arr="1"),
            author=teammate,
            occurred_on=dt.date(2026, 6, day),
        )
    team_rollups_recompute(today=TODAY)
    response = client.get(PAGE, params)
    assert [row.user for row in response.context["rows"]] == [teammate, owner]
    assert row_of(response, teammate).cells["interactions"].value == Decimal("5.5")
    interactions = chart(response, "interactions")["figure"]["data"]
    assert interactions[1]["y"] == [5.5, 3.0]


@pytest.mark.usefixtures("portfolio")
def test_without_the_rollup_the_page_counts_live_and_says_so(client_for, manager):
    response = client_for(manager).get(PAGE)
    html = response.content.decode()
    assert "Counted now: the nightly figures do not hold Jun 2026" in html
    assert response.context["performance"].charts_cover_page


@pytest.mark.usefixtures("portfolio")
def test_a_csm_added_since_the_night_is_counted_live(client_for, manager, owner, enterprise_team):
    # Given the rollup, then a new CSM with a book of 3 accounts
    team_rollups_recompute(today=TODAY)
    newcomer = UserFactory(username="new", role=User.Role.CSM, team=enterprise_team)
    _book(newcomer, 3)

    response = client_for(manager).get(PAGE, {"team": owner.team_id, "sort": "-accounts"})

    # Then they are ranked with the others, from their live count
    assert response.context["rows"][0].user == newcomer
    assert row_of(response, newcomer).cells["accounts"].value == 3
    assert row_of(response, owner).cells["nps"].value == Decimal("50.0")
    assert response.context["performance"].counted_live


@pytest.mark.usefixtures("portfolio")
def test_a_csm_reads_their_teams_view(client_for, owner, teammate, smb_team, monkeypatch):
    # Given the teammate's account kept on the SMB team, and the rollup
    hidden = make_account("Hidden", teammate, arr="10000", team=smb_team)
    answers(hidden, "nps", [10, 10, 10], dt.date(2026, 6, 4))
    team_rollups_recompute(today=TODAY)

    # When the owner opens the page, nothing is counted live
    monkeypatch.setattr(
        "reports.selectors_team.figures_counted",
        lambda *a, **k: pytest.fail("counted live"),
    )
    response = client_for(owner).get(PAGE, {"compare": "none"})
    row = row_of(response, teammate)

    # Then the teammate's numbers leave the hidden account out, as when counted live, in
    # their row and in the NPS chart (owner 50, teammate -100)
    assert row.cells["nps"].value == Decimal("-100.0")
    assert row.cells["accounts"].value == 1
    (nps,) = [c for c in response.context["charts"] if c["column"].key == "nps"]
    assert nps["figure"]["data"][-2]["y"] == [50.0, -100.0]


@pytest.mark.usefixtures("portfolio")
def test_a_csm_owning_an_account_on_another_team_is_counted_live(
    client_for, owner, teammate, smb_team
):
    # Given the owner keeps an account on the SMB team: the team rows do not hold what
    # they see (their own accounts anywhere, and their team's)
    make_account("Abroad", owner, arr="5000", team=smb_team)
    team_rollups_recompute(today=TODAY)

    response = client_for(owner).get(PAGE)

    assert response.context["performance"].computed_at is None
    assert row_of(response, owner).cells["accounts"].value == 3


@pytest.mark.usefixtures("portfolio")
def test_a_csm_still_cannot_open_another_team(client_for, owner, outsider):
    team_rollups_recompute(today=TODAY)

    response = client_for(owner).get(PAGE, {"team": outsider.team_id})
    mine = client_for(owner).get(PAGE)

    assert "rows" not in response.context
    assert str(outsider) not in response.content.decode()
    # Their own page's charts rank their team only.
    names = {name for chart in mine.context["charts"] for name in chart["figure"]["data"][0]["x"]}
    assert str(outsider) not in names
    assert str(outsider) not in mine.content.decode()


# --- Query budgets -------------------------------------------------------------------------


@pytest.mark.parametrize("params", [{}, {"sort": "-ttv"}, {"period": "2026-Q2", "sort": "nps"}])
def test_the_page_reads_the_same_queries_for_few_or_many_csms(
    client_for, manager, enterprise_team, django_assert_max_num_queries, params
):
    # Given two CSMs, then thirty (past a chart's 20 and a page's 25)
    for i in range(2):
        _book(UserFactory(username=f"a{i}", role=User.Role.CSM, team=enterprise_team), 1)
    team_rollups_recompute(today=TODAY)
    client = client_for(manager)
    with CaptureQueriesContext(connection) as few:
        client.get(PAGE, params)
    for i in range(28):
        _book(UserFactory(username=f"b{i}", role=User.Role.CSM, team=enterprise_team), 2)
    team_rollups_recompute(today=TODAY)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(PAGE, params)

    assert len(response.context["rows"]) == 25
    # Session, user, the team choices, the CSMs, targets, the rollup of each period, the
    # page's users: no read of accounts.
    assert len(few.captured_queries) <= 9
    sql = " ".join(query["sql"] for query in few.captured_queries)
    assert "accounts_account" not in sql
    assert "accounts_interaction" not in sql


def test_the_rollup_runs_the_same_queries_for_few_or_many_csms(enterprise_team):
    for i in range(2):
        _book(UserFactory(username=f"a{i}", role=User.Role.CSM, team=enterprise_team), 1)
    with CaptureQueriesContext(connection) as few:
        team_rollups_recompute(today=TODAY)
    for i in range(8):
        _book(UserFactory(username=f"b{i}", role=User.Role.CSM, team=enterprise_team), 3)
    with CaptureQueriesContext(connection) as many:
        team_rollups_recompute(today=TODAY)

    # The reads do not grow with CSMs or accounts; the INSERTs come in batches (SQLite's
    # are small: it binds at most 999 parameters).
    def reads(captured):
        return [q for q in captured.captured_queries if not q["sql"].startswith("INSERT")]

    assert len(reads(many)) == len(reads(few))


# --- Charts across every CSM ---------------------------------------------------------------


def rollup_row(csm, *, nrr=None, overdue=0, start=JUNE, period="month"):
    return CsmPeriodRollup(
        view="all",
        period=period,
        period_start=start,
        csm=csm,
        as_of=TODAY,
        accounts=1,
        arr=Decimal("1000"),
        nrr=nrr,
        nps_answers=0,
        csat_answers=0,
        overdue=overdue,
        computed_at=timezone.now(),
    )


@pytest.fixture
def team_of_23(enterprise_team):
    """23 CSMs "CSM 00".."CSM 22": CSM i has NRR 100 + i (CSM 22 has none in May) and i
    overdue tasks; a 24th, "CSM 23", has no NRR at all."""
    csms = [
        UserFactory(
            username=f"c{i:02d}",
            first_name="CSM",
            last_name=f"{i:02d}",
            role=User.Role.CSM,
            team=enterprise_team,
        )
        for i in range(24)
    ]
    rows = [rollup_row(csm, nrr=Decimal(100 + i), overdue=i) for i, csm in enumerate(csms[:23])]
    rows.append(rollup_row(csms[23], overdue=30))
    rows += [rollup_row(csm, nrr=Decimal(90 + i), start=MAY) for i, csm in enumerate(csms[:22])]
    rows += [rollup_row(csm, start=MAY) for csm in csms[22:]]
    CsmPeriodRollup.objects.bulk_create(rows)
    return csms


def chart(response, key):
    (found,) = [c for c in response.context["charts"] if c["column"].key == key]
    return found


def test_past_twenty_csms_a_chart_shows_the_top_and_bottom_ten_and_the_median(
    client_for, manager, team_of_23
):
    # Given a company NRR target of at least 105 in June
    Target.objects.create(metric="nrr", value=105, period="month", period_start=JUNE)

    response = client_for(manager).get(PAGE)

    # Then NRR: the 10 highest (122 down to 113), then the 10 lowest (109 down to 100); the
    # three in the middle and the CSM without a value are left out
    nrr = chart(response, "nrr")
    previous, top, bottom, median, target = nrr["figure"]["data"]
    assert top["name"] == "Top 10, Jun 2026"
    assert top["y"] == [float(v) for v in range(122, 112, -1)]
    assert top["x"] == [f"CSM {i:02d}" for i in range(22, 12, -1)]
    assert bottom["name"] == "Bottom 10, Jun 2026"
    assert bottom["y"] == [float(v) for v in range(109, 99, -1)]
    # The compared month beside them: CSM i had 90 + i in May, CSM 22 nothing.
    assert previous["name"] == "May 2026"
    assert previous["y"] == [None, *(float(90 + i) for i in range(21, 12, -1))] + [
        float(90 + i) for i in range(9, -1, -1)
    ]
    # The median of the 23 values 100..122 is 111, drawn from the first bar to the last.
    assert median["name"] == "Median of 23 CSMs"
    assert (median["x"], median["y"]) == (["CSM 22", "CSM 00"], [111.0, 111.0])
    assert target["y"] == [105.0] * 20
    assert nrr["caption"] == (
        "Top 10 and bottom 10 of the 23 CSMs with a value, best first; "
        "the dashed line is their median, 111.0 %."
    )


def test_lower_is_better_puts_the_fewest_on_top(client_for, manager, team_of_23):
    response = client_for(manager).get(PAGE, {"compare": "none"})

    # Overdue tasks: CSM i has i, CSM 23 has 30; the top 10 have the fewest.
    top, bottom, median = chart(response, "overdue")["figure"]["data"]
    assert top["y"] == [float(i) for i in range(10)]
    assert bottom["y"] == [*(float(i) for i in range(14, 23)), 30.0]
    # The median of 0..22 and 30 (24 values): (11 + 12) / 2.
    assert median["y"] == [11.5, 11.5]
    assert chart(response, "overdue")["caption"].startswith(
        "Top 10 and bottom 10 of the 24 CSMs with a value, lowest (best) first"
    )


def test_up_to_twenty_csms_a_chart_shows_every_one_best_first(client_for, manager):
    # Given a team of three: NRR 95, none, 120
    team = TeamFactory(name="Small")
    names = ["Ana", "Bo", "Cy"]
    csms = [
        UserFactory(username=name.lower(), first_name=name, last_name="", team=team)
        for name in names
    ]
    CsmPeriodRollup.objects.bulk_create(
        [
            rollup_row(csms[0], nrr=Decimal("95")),
            rollup_row(csms[1]),
            rollup_row(csms[2], nrr=Decimal("120")),
        ]
    )

    response = client_for(manager).get(PAGE, {"team": team.pk, "compare": "none"})

    # Then all three, highest first, the one without a value last (no bar); the median of
    # 95 and 120 is 107.5
    bars, median = chart(response, "nrr")["figure"]["data"]
    assert bars["x"] == ["Cy", "Ana", "Bo"]
    assert bars["y"] == [120.0, 95.0, None]
    assert median["y"] == [107.5, 107.5]
    assert chart(response, "nrr")["caption"] == (
        "All 3 CSMs, best first (1 without a value); the dashed line is their median, 107.5 %."
    )


def test_the_figure_marks_each_end_and_disambiguates_names():
    figure = team_metric_figure(
        names=["Ana", "Ana", "<b>Bo</b>"],
        values=[Decimal("3"), Decimal("2"), Decimal("1")],
        groups=["top", "top", "bottom"],
        period_label="Jun 2026",
        median=Decimal("2"),
        median_label="Median of 40 CSMs",
    )
    top, bottom, median = figure["data"]
    assert top["x"] == ["Ana", "Ana (2)"]
    assert top["name"] == "Top 2, Jun 2026"
    assert bottom["x"] == ["&lt;b&gt;Bo&lt;/b&gt;"]
    assert bottom["offsetgroup"] == top["offsetgroup"]
    assert (median["x"], median["y"]) == (["Ana", "&lt;b&gt;Bo&lt;/b&gt;"], [2.0, 2.0])
    assert figure["layout"]["xaxis"]["categoryarray"] == ["Ana", "Ana (2)", "&lt;b&gt;Bo&lt;/b&gt;"]
