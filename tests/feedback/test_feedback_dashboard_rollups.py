"""The feedback page read from the nightly FeedbackScoreMonth rows: the same numbers as
counting the answers live, for every scope the page offers and every period, worked out by
hand; the freshness note; a CSM within their team read from the team's rows; a fixed query
budget."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account
from feedback.models import Survey
from reports.models import FeedbackScoreMonth, Scope
from reports.snapshots import metric_snapshots_recompute
from tests.factories import AccountFactory, SegmentFactory, SurveyAnswerFactory, TeamFactory

pytestmark = pytest.mark.django_db
PAGE = reverse("feedback:overview")
DAY = dt.date(2026, 3, 15)
UTC = dt.UTC
COMPARED = ("kpis", "trends", "distributions", "by_segment", "by_tier", "by_team", "by_csm")


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr("feedback.views.insights.local_today", lambda: DAY)
    return DAY


def at(year, month, day):
    return dt.datetime(year, month, day, 12, tzinfo=UTC)


def answer(account, kind, score, when):
    survey, _ = Survey.objects.get_or_create(
        name=f"{kind} survey", defaults={"kind": kind, "question": "How are we doing?"}
    )
    return SurveyAnswerFactory(
        survey=survey, account=account, kind=kind, score=score, answered_at=when
    )


@pytest.fixture
def book(owner, teammate, outsider, manager):
    """Enterprise: Acme (owner, high-touch, 50k), Beta (teammate, scaled); SMB: Smbco
    (outsider); Orphan has no owner and no team. "Big" holds ARR >= 40k.

    March 2026: Acme NPS 10, 9, 7, CSAT 5; Beta NPS 3, CSAT 4, 2; Smbco NPS 0, CES 3, 6;
    Orphan NPS 9. February: Acme NPS 2; January: Smbco CSAT 5. March 2025: Beta NPS 10.
    """
    acme = AccountFactory(name="Acme", owner=owner, tier=Account.Tier.HIGH_TOUCH)
    Account.objects.filter(pk=acme.pk).update(arr=Decimal(50000))
    beta = AccountFactory(name="Beta", owner=teammate, tier=Account.Tier.SCALED)
    smbco = AccountFactory(name="Smbco", owner=outsider, tier=Account.Tier.SCALED)
    orphan = AccountFactory(name="Orphan", owner=None, team=None, tier=Account.Tier.TECH_TOUCH)
    big = SegmentFactory(name="Big", rules={"arr_min": 40000})
    for account, kind, score, when in [
        (acme, "nps", 10, at(2026, 3, 2)),
        (acme, "nps", 9, at(2026, 3, 3)),
        (acme, "nps", 7, at(2026, 3, 4)),
        (acme, "csat", 5, at(2026, 3, 5)),
        (beta, "nps", 3, at(2026, 3, 6)),
        (beta, "csat", 4, at(2026, 3, 7)),
        (beta, "csat", 2, at(2026, 3, 8)),
        (smbco, "nps", 0, at(2026, 3, 9)),
        (smbco, "ces", 3, at(2026, 3, 10)),
        (smbco, "ces", 6, at(2026, 3, 11)),
        (orphan, "nps", 9, at(2026, 3, 12)),
        (acme, "nps", 2, at(2026, 2, 20)),
        (smbco, "csat", 5, at(2026, 1, 20)),
        (beta, "nps", 10, at(2025, 3, 20)),
    ]:
        answer(account, kind, score, when)
    return {"acme": acme, "beta": beta, "smbco": smbco, "orphan": orphan, "big": big}


def _page(client, params, *, live, monkeypatch):
    if live:
        monkeypatch.setattr("feedback.views.insights.feedback_rollup_scope", lambda **_: None)
    else:
        monkeypatch.undo()
        monkeypatch.setattr("feedback.views.insights.local_today", lambda: DAY)
    response = client.get(PAGE, params)
    assert response.status_code == 200
    return response


def _figures(response):
    context = response.context
    return {name: context[name] for name in COMPARED}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"period": "quarter"},
        {"period": "year"},
        {"kind": "nps"},
        {"kind": "csat", "period": "quarter"},
        {"segment": "big"},
        {"team": "enterprise"},
        {"csm": "owner"},
        {"tier": "scaled"},
    ],
)
def test_stored_figures_equal_the_live_ones(
    client_for, manager, owner, enterprise_team, book, params, monkeypatch
):
    metric_snapshots_recompute(today=DAY)
    client = client_for(manager)
    resolved = {
        key: {
            "big": book["big"].pk,
            "enterprise": enterprise_team.pk,
            "owner": owner.pk,
        }.get(value, value)
        for key, value in params.items()
    }

    stored = _page(client, resolved, live=False, monkeypatch=monkeypatch)
    live = _page(client, resolved, live=True, monkeypatch=monkeypatch)

    assert "rollup_computed_at" in stored.context
    assert "rollup_computed_at" not in live.context
    assert _figures(stored) == _figures(live)


def test_company_march_worked_by_hand(client_for, manager, book):
    metric_snapshots_recompute(today=DAY)
    response = client_for(manager).get(PAGE)

    kpis = {k.key: k for k in response.context["kpis"]}
    # NPS March: 10, 9, 7, 3, 0, 9 -> promoters 3, detractors 2 of 6 -> 16.7.
    assert (kpis["nps"].value, kpis["nps"].count) == (Decimal("16.7"), 6)
    # February: one detractor -> -100.0.
    assert kpis["nps"].previous == Decimal("-100.0")
    # CSAT March: 5, 4, 2 -> 2 of 3 -> 66.7; CES: (3 + 6) / 2 = 4.5.
    assert kpis["csat"].value == Decimal("66.7")
    assert kpis["ces"].value == Decimal("4.5")
    nps_trend = next(t for t, _fig in response.context["trends"] if t.kind == "nps")
    assert nps_trend.counts[-3:] == [0, 1, 6]
    # By team: Enterprise (Acme, Beta) NPS 10, 9, 7, 3 -> (2 - 1) / 4 = 25.0; SMB 0 ->
    # -100.0; the orphan's 9 is "No team", last.
    teams = [(row.label, row.cells[0].score) for row in response.context["by_team"]]
    assert teams == [("Enterprise", "25.0"), ("SMB", "−100.0"), ("No team", "100.0")]
    csms = [row.label for row in response.context["by_csm"]]
    assert csms[-1] == "Unassigned"
    assert 'id="rollup-computed-at"' in response.content.decode()


def test_a_csm_within_their_team_reads_the_teams_rows_and_never_another_team(
    client_for, owner, book
):
    metric_snapshots_recompute(today=DAY)
    response = client_for(owner).get(PAGE)

    kpis = {k.key: k for k in response.context["kpis"]}
    # Acme and Beta only: NPS 10, 9, 7, 3 -> 25.0; never Smbco's 0 or the orphan's 9.
    assert kpis["nps"].value == Decimal("25.0")
    # The CSM owns nothing outside Enterprise: the page is the team's stored rows.
    assert "rollup_computed_at" in response.context


def test_rows_hold_answers_per_month_kind_and_score(book, owner):
    metric_snapshots_recompute(today=DAY)

    row = FeedbackScoreMonth.objects.get(
        scope=Scope.CSM, scope_key=str(owner.pk), month=dt.date(2026, 3, 1), kind="nps", score=10
    )
    assert row.answers == 1
    company_march = FeedbackScoreMonth.objects.filter(
        scope=Scope.COMPANY, month=dt.date(2026, 3, 1)
    )
    assert sum(r.answers for r in company_march) == 11


def test_before_the_first_run_the_page_counts_live(client_for, manager, book):
    response = client_for(manager).get(PAGE)

    assert "rollup_computed_at" not in response.context
    assert 'id="rollup-live"' in response.content.decode()
    kpis = {k.key: k for k in response.context["kpis"]}
    assert kpis["nps"].value == Decimal("16.7")


def test_the_stored_page_runs_the_same_queries_for_few_and_many_answers(
    client_for, manager, book, django_assert_max_num_queries
):
    metric_snapshots_recompute(today=DAY)
    client = client_for(manager)
    with CaptureQueriesContext(connection) as few:
        client.get(PAGE)
    team = TeamFactory(name="Extra")
    for n in range(30):
        account = AccountFactory(name=f"More {n}", owner=None, team=team)
        answer(account, "nps", n % 11, at(2026, 3, 1 + n % 14))
    metric_snapshots_recompute(today=DAY)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(PAGE)
    assert {k.key: k for k in response.context["kpis"]}["nps"].count == 36


def test_the_newest_answer_time_is_the_newest_of_any_kind(book):
    from feedback.selectors import newest_answer_time

    # The newest of the book is the orphan's NPS of 12 March; then a CES on 13 March.
    assert newest_answer_time() == at(2026, 3, 12)
    answer(book["smbco"], "ces", 4, at(2026, 3, 13))

    assert newest_answer_time() == at(2026, 3, 13)


def test_the_csm_breakdown_shows_a_page_of_csms_at_a_time(
    client_for, manager, owner, teammate, outsider, book, monkeypatch
):
    # Given the nightly rows and pages of two CSMs
    metric_snapshots_recompute(today=DAY)
    monkeypatch.setattr("feedback.views.insights.CSM_BREAKDOWN_PAGE_SIZE", 2)
    client = client_for(manager)

    # When the overview is read, then its second page of CSMs
    first = client.get(PAGE)
    second = client.get(PAGE, {"csm_page": "2"})

    # Then March's four rows (three owners with answers, then "Unassigned" for the orphan's
    # 9) come two a page, in the order of the whole list, which stays whole in the context
    everyone = [row.label for row in first.context["by_csm"]]
    assert len(everyone) == 4
    assert everyone[-1] == "Unassigned"
    assert [row.label for row in first.context["by_csm_page"]] == everyone[:2]
    assert [row.label for row in second.context["by_csm_page"]] == everyone[2:]
    html = second.content.decode()
    table = html[html.index('id="breakdown-csm"') : html.index('id="breakdown-csm-pages"')]
    assert table.count("<tr data-row=") == 2
    assert 'data-row="Unassigned"' in table
    assert "3–4 of 4 CSMs" in html
    assert "csm_page=1" in html


def test_the_stored_figures_are_read_once_per_nightly_run(client_for, manager, book):
    # Given the nightly rows, read once
    metric_snapshots_recompute(today=DAY)
    client = client_for(manager)
    with CaptureQueriesContext(connection) as first:
        before = client.get(PAGE)

    # When the page is read again, then it reuses the figures: fewer queries, same numbers
    with CaptureQueriesContext(connection) as second:
        again = client.get(PAGE)
    assert len(second.captured_queries) < len(first.captured_queries)
    assert _figures(again) == _figures(before)

    # And a new answer counts once the nightly job has run again: March NPS had 6 answers
    answer(book["acme"], "nps", 10, at(2026, 3, 13))
    metric_snapshots_recompute(today=DAY)
    kpis = {k.key: k for k in client.get(PAGE).context["kpis"]}
    assert kpis["nps"].count == 7
