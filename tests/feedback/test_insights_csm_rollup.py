"""A CSM's feedback page read from their team's nightly rows: a CSM who owns no account
outside their team sees exactly the team's accounts, so the page (KPIs, trends,
distributions and every breakdown, from the team's cross scopes) equals counting the book
live; one who owns an account elsewhere is still counted live; another team's figures are
never shown; a fixed query budget."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account, User
from feedback.models import Survey
from reports.feedback_rollups import TEAM_CSM, TEAM_SEGMENT, TEAM_TIER
from reports.models import FeedbackScoreMonth, Scope
from reports.selectors_feedback import FeedbackRollupScope, feedback_rollup_scope
from reports.snapshots import metric_snapshots_recompute
from tests.factories import AccountFactory, SegmentFactory, SurveyAnswerFactory, TeamFactory

PAGE = reverse("feedback:overview")
DAY = dt.date(2026, 3, 15)
MARCH = dt.date(2026, 3, 1)
COMPARED = ("kpis", "trends", "distributions", "by_segment", "by_tier", "by_team", "by_csm")


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr("feedback.views.insights.local_today", lambda: DAY)
    return DAY


def at(year, month, day):
    return dt.datetime(year, month, day, 12, tzinfo=dt.UTC)


def answer(account, kind, score, when):
    survey, _ = Survey.objects.get_or_create(
        name=f"{kind} survey", defaults={"kind": kind, "question": "How are we doing?"}
    )
    return SurveyAnswerFactory(
        survey=survey, account=account, kind=kind, score=score, answered_at=when
    )


@pytest.fixture
def team_book(owner, teammate, outsider, enterprise_team, smb_team):
    """Enterprise: Acme (owner, high-touch, 50k, in "Big"), Beta (teammate, scaled, 10k),
    Gamma (no owner, tech-touch, 5k); SMB: Smbco (outsider, scaled, 60k, in "Big").

    March 2026: Acme NPS 10, 9, CSAT 5; Beta NPS 6, 8, CSAT 2; Gamma NPS 10, CES 4;
    Smbco NPS 0, CES 7. February: Beta NPS 3.
    """
    User.objects.filter(pk=owner.pk).update(first_name="Olive", last_name="Owner")
    User.objects.filter(pk=teammate.pk).update(first_name="Tess", last_name="Mate")
    User.objects.filter(pk=outsider.pk).update(first_name="Otto", last_name="Side")
    acme = AccountFactory(name="Acme", owner=owner, tier=Account.Tier.HIGH_TOUCH)
    beta = AccountFactory(name="Beta", owner=teammate, tier=Account.Tier.SCALED)
    gamma = AccountFactory(
        name="Gamma", owner=None, team=enterprise_team, tier=Account.Tier.TECH_TOUCH
    )
    smbco = AccountFactory(name="Smbco", owner=outsider, tier=Account.Tier.SCALED)
    for account, arr in ((acme, 50000), (beta, 10000), (gamma, 5000), (smbco, 60000)):
        Account.objects.filter(pk=account.pk).update(arr=Decimal(arr))
    big = SegmentFactory(name="Big", rules={"arr_min": 40000})
    for account, kind, score, when in [
        (acme, "nps", 10, at(2026, 3, 2)),
        (acme, "nps", 9, at(2026, 3, 3)),
        (acme, "csat", 5, at(2026, 3, 4)),
        (beta, "nps", 6, at(2026, 3, 5)),
        (beta, "nps", 8, at(2026, 3, 6)),
        (beta, "csat", 2, at(2026, 3, 7)),
        (gamma, "nps", 10, at(2026, 3, 8)),
        (gamma, "ces", 4, at(2026, 3, 9)),
        (smbco, "nps", 0, at(2026, 3, 10)),
        (smbco, "ces", 7, at(2026, 3, 11)),
        (beta, "nps", 3, at(2026, 2, 20)),
    ]:
        answer(account, kind, score, when)
    return {"acme": acme, "beta": beta, "gamma": gamma, "smbco": smbco, "big": big}


def _rows(response, name):
    return [(row.label, [cell.score for cell in row.cells]) for row in response.context[name]]


def _figures(response):
    return {name: response.context[name] for name in COMPARED}


@pytest.mark.django_db
def test_a_csm_within_their_team_reads_the_teams_rows_worked_by_hand(
    client_for, owner, enterprise_team, team_book
):
    metric_snapshots_recompute(today=DAY)

    response = client_for(owner).get(PAGE)

    assert "rollup_computed_at" in response.context
    kpis = {k.key: k for k in response.context["kpis"]}
    # Acme, Beta and Gamma: NPS 10, 9, 6, 8, 10 -> 3 promoters, 1 detractor of 5 -> 40.0;
    # never Smbco's 0. February: Beta's 3 -> -100.0.
    assert (kpis["nps"].value, kpis["nps"].count) == (Decimal("40.0"), 5)
    assert kpis["nps"].previous == Decimal("-100.0")
    # CSAT 5, 2 -> 1 of 2 -> 50.0; CES: Gamma's 4 alone (Smbco's 7 is another team's).
    assert (kpis["csat"].value, kpis["csat"].count) == (Decimal("50.0"), 2)
    assert (kpis["ces"].value, kpis["ces"].count) == (Decimal("4.0"), 1)
    # By owner: Olive (Acme) 10, 9 -> 100.0; Tess (Beta) 6, 8 -> -50.0; Gamma has no owner.
    assert _rows(response, "by_csm") == [
        ("Olive Owner", ["100.0", "100.0%", "—"]),
        ("Tess Mate", ["−50.0", "0.0%", "—"]),
        ("Unassigned", ["100.0", "—", "4.0"]),
    ]
    assert _rows(response, "by_team") == [("Enterprise", ["40.0", "50.0%", "4.0"])]
    # Tiers in service order: Gamma tech-touch, Beta scaled, Acme high-touch.
    assert _rows(response, "by_tier") == [
        ("Tech-touch", ["100.0", "—", "4.0"]),
        ("Scaled", ["−50.0", "0.0%", "—"]),
        ("High-touch", ["100.0", "100.0%", "—"]),
    ]
    # "Big" within the team is Acme alone (Smbco is in it too, on another team).
    assert _rows(response, "by_segment") == [("Big", ["100.0", "100.0%", "—"])]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"period": "quarter"},
        {"period": "year"},
        {"kind": "nps"},
        {"kind": "csat", "period": "quarter"},
        {"team": "enterprise"},
        {"csm": "owner"},
        {"csm": "teammate"},
        {"segment": "big"},
        {"tier": "scaled"},
    ],
)
@pytest.mark.django_db
def test_the_csm_page_equals_counting_the_book_live(
    client_for, owner, teammate, enterprise_team, team_book, params, monkeypatch
):
    metric_snapshots_recompute(today=DAY)
    client = client_for(owner)
    names = {
        "enterprise": enterprise_team.pk,
        "owner": owner.pk,
        "teammate": teammate.pk,
        "big": team_book["big"].pk,
    }
    resolved = {key: names.get(value, value) for key, value in params.items()}

    stored = client.get(PAGE, resolved)
    monkeypatch.setattr("feedback.views.insights.feedback_rollup_scope", lambda **_: None)
    live = client.get(PAGE, resolved)

    assert "rollup_computed_at" not in live.context
    assert _figures(stored) == _figures(live)


@pytest.mark.django_db
def test_the_unfiltered_csm_scope_is_their_team(owner, teammate, enterprise_team, team_book):
    assert feedback_rollup_scope(
        user=owner, segment=None, team=None, csm=None, tier=""
    ) == FeedbackRollupScope(Scope.TEAM, str(enterprise_team.pk))
    # Themselves: their own accounts are the CSM scope; a teammate or a tier is live.
    assert feedback_rollup_scope(
        user=owner, segment=None, team=None, csm=owner, tier=""
    ) == FeedbackRollupScope(Scope.CSM, str(owner.pk))
    assert feedback_rollup_scope(user=owner, segment=None, team=None, csm=teammate, tier="") is None
    assert (
        feedback_rollup_scope(user=owner, segment=None, team=None, csm=None, tier="scaled") is None
    )


@pytest.mark.django_db
def test_a_csm_owning_an_account_outside_their_team_is_counted_live(
    client_for, owner, smb_team, team_book, monkeypatch
):
    # Given Delta, owned by the CSM but on the SMB team, with a March NPS of 9
    delta = AccountFactory(name="Delta", owner=owner, team=smb_team, tier=Account.Tier.SCALED)
    answer(delta, "nps", 9, at(2026, 3, 12))
    metric_snapshots_recompute(today=DAY)

    # When the CSM reads their page
    assert feedback_rollup_scope(user=owner, segment=None, team=None, csm=None, tier="") is None
    client = client_for(owner)
    response = client.get(PAGE)

    # Then it is counted live over Acme, Beta, Gamma and Delta: NPS 10, 9, 6, 8, 10, 9 ->
    # 4 promoters, 1 detractor of 6 -> 50.0
    assert "rollup_computed_at" not in response.context
    kpis = {k.key: k for k in response.context["kpis"]}
    assert (kpis["nps"].value, kpis["nps"].count) == (Decimal("50.0"), 6)
    assert [label for label, _ in _rows(response, "by_team")] == ["Enterprise", "SMB"]
    # And the same page counted with the rollup switched off gives the same figures
    monkeypatch.setattr("feedback.views.insights.feedback_rollup_scope", lambda **_: None)
    assert _figures(client.get(PAGE)) == _figures(response)


@pytest.mark.django_db
def test_a_csm_never_sees_another_teams_figures(client_for, owner, outsider, smb_team, team_book):
    metric_snapshots_recompute(today=DAY)
    client = client_for(owner)
    # Read the Enterprise figures first, so they sit in the cache
    client.get(PAGE)

    # Asking for the SMB team shows nothing rather than SMB's or the whole book's figures
    forbidden = client.get(PAGE, {"team": smb_team.pk})
    assert forbidden.status_code == 200
    assert "scope_ok" not in forbidden.context
    assert "kpis" not in forbidden.context
    assert "Smbco" not in forbidden.content.decode()

    # And the SMB CSM reads SMB's rows alone: Smbco's NPS 0 -> -100.0, CES 7
    response = client_for(outsider).get(PAGE)
    assert "rollup_computed_at" in response.context
    kpis = {k.key: k for k in response.context["kpis"]}
    assert (kpis["nps"].value, kpis["nps"].count) == (Decimal("-100.0"), 1)
    assert _rows(response, "by_csm") == [("Otto Side", ["−100.0", "—", "7.0"])]
    assert _rows(response, "by_team") == [("SMB", ["−100.0", "—", "7.0"])]


@pytest.mark.django_db
def test_the_team_cross_rows_hold_the_teams_answers(enterprise_team, owner, team_book):
    metric_snapshots_recompute(today=DAY)
    team = str(enterprise_team.pk)

    def march(scope, key):
        return sorted(
            FeedbackScoreMonth.objects.filter(scope=scope, scope_key=key, month=MARCH).values_list(
                "kind", "score", "answers"
            )
        )

    assert march(TEAM_CSM, f"{team}:{owner.pk}") == [("csat", 5, 1), ("nps", 9, 1), ("nps", 10, 1)]
    assert march(TEAM_TIER, f"{team}:tech_touch") == [("ces", 4, 1), ("nps", 10, 1)]
    assert march(TEAM_SEGMENT, f"{team}:{team_book['big'].pk}") == march(
        TEAM_CSM, f"{team}:{owner.pk}"
    )
    # Gamma has no owner: the team's rows less its owners' rows.
    assert not FeedbackScoreMonth.objects.filter(scope=TEAM_CSM, scope_key=f"{team}:None")


@pytest.mark.django_db
def test_the_csm_page_runs_the_same_queries_for_few_and_many_answers(
    client_for, owner, enterprise_team, team_book, django_assert_max_num_queries
):
    metric_snapshots_recompute(today=DAY)
    client = client_for(owner)
    with CaptureQueriesContext(connection) as few:
        client.get(PAGE)
    for n in range(30):
        account = AccountFactory(name=f"More {n}", owner=None, team=enterprise_team)
        answer(account, "nps", n % 11, at(2026, 3, 1 + n % 14))
    metric_snapshots_recompute(today=DAY)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(PAGE)
    assert {k.key: k for k in response.context["kpis"]}["nps"].count == 35
    assert len(few.captured_queries) <= 20


@pytest.mark.django_db
def test_the_nightly_rollup_runs_the_same_queries_for_one_team_or_many(
    team_book,
):
    from health.retention import scope_plan_load
    from reports.feedback_rollups import feedback_rollups_recompute
    from reports.snapshots import account_facts_load

    def recompute():
        plan = scope_plan_load(account_facts_load(), today=DAY)
        with CaptureQueriesContext(connection) as queries:
            feedback_rollups_recompute(today=DAY, plan=plan)
        return len(queries.captured_queries)

    few = recompute()
    for n in range(5):
        team = TeamFactory(name=f"Team {n}")
        account = AccountFactory(name=f"Teamed {n}", owner=None, team=team)
        answer(account, "nps", n, at(2026, 3, 1 + n))

    # One grouped read, one delete, one insert batch: however many teams.
    assert recompute() == few == 3
    # March by team and tier: Enterprise's three tiers (3 + 3 + 2 score cells), SMB's scaled
    # (2) and the five new teams' one answer each.
    march = FeedbackScoreMonth.objects.filter(scope=TEAM_TIER, month=MARCH)
    assert march.count() == 15
    assert len(set(march.values_list("scope_key", flat=True))) == 9
