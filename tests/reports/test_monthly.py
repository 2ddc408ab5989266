"""The monthly executive report: its numbers on a hand-built portfolio, the written summary,
freezing and regeneration, subscriptions and email deliveries.

The portfolio (built by `portfolio()`, also used by the view, PDF and browser tests); the
report month is October 2026, compared with September 2026 and October 2025:

    account  team        contracts (ARR)                                    in October 2026
    Acme     Enterprise  2024-11-01..2025-10-31 90k, renewed by              expands 100k -> 120k
                         2025-11-01..2026-10-31 100k, renewed by              (due, renewed)
                         2026-11-01..2027-10-31 120k
    Beta     Enterprise  2025-10-15..2026-10-14 50k, not renewed             churns 50k (due)
    Cobalt   SMB         2026-01-01..2026-12-31 40k                          flat
    Delta    SMB         2026-03-01..2027-02-28 30k + add-on                 contracts 40k -> 30k
                         2026-03-01..2026-10-15 10k, not renewed              (add-on due)
    Echo     Enterprise  2026-10-10..2027-10-09 25k                          new 25k

October 2026 by hand: cohort Acme, Beta, Cobalt, Delta = 230k, 4 accounts; expansion 20k,
contraction 10k, churned 50k (1 account), new 25k; end = 230 + 25 + 20 - 10 - 50 = 215k.
NRR = 190 / 230 = 82.6 %; GRR = 170 / 230 = 73.9 %; logo churn = 1 / 4 = 25.0 %.
Due: Acme 100k (renewed), Beta 50k, Delta's add-on 10k: by count 1 / 3 = 33.3 %, by ARR
100 / 160 = 62.5 %. September: nothing moves (NRR = GRR = 100.0 %, churn 0.0 %, nothing due),
ARR 230k. October 2025: cohort Acme 90k expanding to 100k: NRR 111.1 %, GRR 100.0 %; Beta
new; ARR on 1 Nov 2025 = 150k.

NPS: October 10, 9, 9, 7, 3 -> (3 - 1) / 5 = 40.0; September 10, 6, 5, 8 -> (1 - 2) / 4 =
-25.0; October 2025 9, 9 -> 100.0. CSAT: October 5, 4, 2, 4 -> 75.0 %; September 5, 5 ->
100.0 %.

Health on 31 October (the last scored day): Acme green 80, Beta red 20 (ARR 0 that day:
not at risk), Cobalt yellow 50 renewing 31 Dec (at risk, 40k), Delta red 35 (at risk, 30k
that day), Echo yellow 45 renewing in 2027 (not at risk). Average 230 / 5 = 46.0; at risk
70k. Acme was red on 15 October, which does not count. On 30 September: Acme 85, Beta 75,
Cobalt 72 green, Delta yellow 60 with its add-on ending 15 Oct: average 73.0, at risk 40k.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from decimal import Decimal
from io import StringIO
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import CommandError, call_command

from accounts.models import Account, Contract, Segment, SegmentMembership, User
from cs_platform.spreadsheets import spreadsheet_safe
from feedback.models import Survey
from health.models import HealthScore, Scorecard, ScorecardVersion
from reports.models import (
    Initiative,
    Metric,
    MonthlyReport,
    ReportDelivery,
    ReportGeneration,
    ReportSubscription,
)
from reports.monthly import (
    csv_rows,
    format_change,
    format_value,
    month_parse,
    monthly_report_data_build,
    report_recipients,
    report_view,
    summary_sentences,
)
from reports.services_monthly import (
    data_sha256,
    monthly_report_generate,
    report_delivery_send,
    report_subscription_set,
)
from reports.tasks_monthly import monthly_report_generate_task, report_delivery_send_task
from tests.factories import (
    AccountFactory,
    ContractFactory,
    SegmentFactory,
    SurveyAnswerFactory,
    SurveyFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.usefixtures("quick_pdf")

OCTOBER = dt.date(2026, 10, 1)
TODAY = dt.date(2026, 11, 25)
UTC = dt.UTC


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _score(account: Account, day: str, score: int, band: str) -> HealthScore:
    version = ScorecardVersion.objects.filter(scorecard__name="Monthly report tests").first()
    if version is None:
        scorecard = Scorecard.objects.create(name="Monthly report tests", is_active=False)
        version = ScorecardVersion.objects.create(scorecard=scorecard, number=1, components=[])
    return HealthScore.objects.create(
        account=account,
        day=d(day),
        score=score,
        band=band,
        computed_score=score,
        computed_band=band,
        components={},
        scorecard_version=version,
    )


def _answers(survey: Survey, account: Account, day: str, scores: list[int]) -> None:
    when = dt.datetime.combine(d(day), dt.time(12), tzinfo=UTC)
    for value in scores:
        SurveyAnswerFactory(survey=survey, account=account, score=value, answered_at=when)


def portfolio(*, owner: User | None = None, outsider: User | None = None) -> dict[str, Account]:
    """The hand-built portfolio of the module docstring; returns its accounts by name."""
    enterprise = owner.team if owner else TeamFactory(name="Enterprise")
    smb = outsider.team if outsider else TeamFactory(name="SMB")
    owner = owner or UserFactory(username="owner", role=User.Role.CSM, team=enterprise)
    outsider = outsider or UserFactory(username="outsider", role=User.Role.CSM, team=smb)
    colleague = UserFactory(username="colleague", role=User.Role.CSM, team=enterprise)

    acme = AccountFactory(name="Acme", owner=owner, team=enterprise)
    beta = AccountFactory(
        name="Beta",
        owner=owner,
        team=enterprise,
        lifecycle_status=Account.Lifecycle.CHURNED,
        churned_on=d("2026-10-14"),
        churn_reason=Account.ChurnReason.COMPETITOR,
    )
    cobalt = AccountFactory(name="Cobalt", owner=outsider, team=smb)
    delta = AccountFactory(name="Delta", owner=outsider, team=smb)
    echo = AccountFactory(name="Echo", owner=colleague, team=enterprise)

    def contract(account: Account, start: str, end: str, arr: int, **extra: object) -> Contract:
        return ContractFactory(
            account=account, start_date=d(start), end_date=d(end), arr=Decimal(arr), **extra
        )

    first = contract(acme, "2024-11-01", "2025-10-31", 90_000)
    second = contract(acme, "2025-11-01", "2026-10-31", 100_000, previous=first)
    contract(acme, "2026-11-01", "2027-10-31", 120_000, previous=second)
    contract(beta, "2025-10-15", "2026-10-14", 50_000)
    contract(cobalt, "2026-01-01", "2026-12-31", 40_000)
    contract(delta, "2026-03-01", "2027-02-28", 30_000)
    contract(delta, "2026-03-01", "2026-10-15", 10_000)
    contract(echo, "2026-10-10", "2027-10-09", 25_000)
    # A cancelled contract never counts.
    contract(echo, "2026-09-01", "2027-08-31", 99_000, status=Contract.Status.CANCELLED)

    nps = SurveyFactory(name="Relationship NPS", kind=Survey.Kind.NPS)
    csat = SurveyFactory(name="Support CSAT", kind=Survey.Kind.CSAT, question="Satisfied?")
    _answers(nps, acme, "2026-10-05", [10, 9])
    _answers(nps, echo, "2026-10-20", [9])
    _answers(nps, cobalt, "2026-10-21", [7])
    _answers(nps, delta, "2026-10-31", [3])
    _answers(nps, acme, "2026-09-10", [10, 6])
    _answers(nps, cobalt, "2026-09-11", [5, 8])
    _answers(nps, acme, "2025-10-10", [9, 9])
    _answers(csat, acme, "2026-10-02", [5, 4])
    _answers(csat, cobalt, "2026-10-03", [2, 4])
    _answers(csat, delta, "2026-09-03", [5, 5])

    _score(acme, "2026-10-15", 10, "red")
    for account, score, band in (
        (acme, 80, "green"),
        (beta, 20, "red"),
        (cobalt, 50, "yellow"),
        (delta, 35, "red"),
        (echo, 45, "yellow"),
    ):
        _score(account, "2026-10-31", score, band)
    for account, score, band in (
        (acme, 85, "green"),
        (beta, 75, "green"),
        (cobalt, 72, "green"),
        (delta, 60, "yellow"),
    ):
        _score(account, "2026-09-30", score, band)
    return {a.name: a for a in (acme, beta, cobalt, delta, echo)}


@pytest.fixture
def quick_pdf(monkeypatch):
    """A stand-in for the PDF printer, where a test is not about the PDF: WeasyPrint takes a
    second or two per report (test_monthly_pdf.py prints real ones)."""

    def render(*, data: dict, version: int, **_kwargs: object) -> bytes:
        return f"%PDF-1.7 stand-in {data['month']} v{version}".encode()

    monkeypatch.setattr("reports.services_monthly.monthly_report_pdf_render", render)


def generate(**kwargs: object) -> MonthlyReport:
    """Generate October 2026 as of TODAY; no charts (no Chromium) unless asked."""
    options: dict[str, object] = {"month": OCTOBER, "today": TODAY, "charts": False}
    options.update(kwargs)
    return monthly_report_generate(**options)  # type: ignore[arg-type]


def headline(data: dict) -> dict[str, tuple]:
    return {
        row["key"]: (row["value"], row["previous"], row["year_ago"]) for row in data["headline"]
    }


# --- The numbers -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_headline_kpis_equal_the_hand_worked_values():
    portfolio()

    data = monthly_report_data_build(month=OCTOBER, today=TODAY)

    kpis = headline(data)
    assert kpis["arr"] == (215_000.0, 230_000.0, 150_000.0)
    assert kpis["nrr"] == (82.6, 100.0, 111.1)
    assert kpis["grr"] == (73.9, 100.0, 100.0)
    assert kpis["logo_churn"] == (25.0, 0.0, 0.0)
    assert kpis["renewal_rate"] == (33.3, None, 100.0)
    assert kpis["renewal_rate_arr"] == (62.5, None, 100.0)
    assert kpis["nps"] == (40.0, -25.0, 100.0)
    assert kpis["csat"] == (75.0, 100.0, None)
    assert kpis["avg_health"] == (46.0, 73.0, None)
    assert kpis["arr_at_risk"] == (70_000.0, 40_000.0, None)
    assert (data["month"], data["previous"]["month"], data["year_ago"]["month"]) == (
        "2026-10",
        "2026-09",
        "2025-10",
    )


@pytest.mark.django_db
def test_the_arr_bridge_reconciles_and_lists_the_churned_account():
    portfolio()

    retention = monthly_report_data_build(month=OCTOBER, today=TODAY)["retention"]

    assert retention["bridge"] == {
        "start": 230_000.0,
        "new": 25_000.0,
        "expansion": 20_000.0,
        "contraction": 10_000.0,
        "churned": 50_000.0,
        "end": 215_000.0,
    }
    assert (retention["cohort_accounts"], retention["churned_accounts"]) == (4, 1)
    [churned] = retention["churned"]["rows"]
    assert (churned["name"], churned["arr"], churned["reason"], churned["owner"]) == (
        "Beta",
        50_000.0,
        "Moved to a competitor",
        str(User.objects.get(username="owner")),
    )
    # Twelve months ending with October; September is flat, October as above.
    trend = retention["trend"]
    assert (trend["months"][0], trend["months"][-1]) == ("2025-11", "2026-10")
    assert trend["nrr"][-2:] == [100.0, 82.6]
    assert trend["logo_churn"][-2:] == [0.0, 25.0]


@pytest.mark.django_db
def test_renewals_done_and_due_in_the_month():
    portfolio()

    renewals = monthly_report_data_build(month=OCTOBER, today=TODAY)["renewals"]

    assert renewals["due"] == {"count": 3, "arr": 160_000.0}
    assert renewals["renewed"] == {"count": 1, "arr": 100_000.0}
    assert renewals["not_renewed"] == {"count": 2, "arr": 60_000.0}
    assert renewals["open"] == {"count": 0, "arr": 0.0}
    assert [(r["name"], r["arr"], r["new_arr"], r["status"]) for r in renewals["rows"]] == [
        ("Acme", 100_000.0, 120_000.0, "renewed"),
        ("Beta", 50_000.0, None, "not_renewed"),
        ("Delta", 10_000.0, None, "not_renewed"),
    ]
    assert (renewals["next"]["month"], renewals["next"]["count"]) == ("2026-11", 0)


@pytest.mark.django_db
def test_a_due_contract_whose_30_day_window_still_runs_is_open_not_lost():
    portfolio()

    # On 5 November, Beta (ended 14 October) may still renew until 13 November; Delta's
    # add-on (ended 15 October) until 14 November.
    renewals = monthly_report_data_build(month=OCTOBER, today=d("2026-11-05"))["renewals"]

    assert renewals["open"] == {"count": 2, "arr": 60_000.0}
    assert renewals["not_renewed"] == {"count": 0, "arr": 0.0}


@pytest.mark.django_db
def test_feedback_trends_count_answers_per_month():
    portfolio()

    feedback = monthly_report_data_build(month=OCTOBER, today=TODAY)["feedback"]

    assert feedback["nps"] == {"promoters": 3, "passives": 1, "detractors": 1, "answers": 5}
    assert feedback["csat"] == {"satisfied": 3, "answers": 4}
    trend = feedback["trend"]
    assert trend["nps"][-2:] == [-25.0, 40.0]
    assert trend["nps_answers"][-2:] == [4, 5]
    assert trend["csat"][-2:] == [100.0, 75.0]
    # No answers in November 2025: no value, not zero.
    assert (trend["nps"][0], trend["nps_answers"][0]) == (None, 0)


@pytest.mark.django_db
def test_health_distribution_and_top_risks_come_from_the_last_scored_day():
    accounts = portfolio()

    data = monthly_report_data_build(month=OCTOBER, today=TODAY)

    health = data["health"]
    assert (health["day"], health["average"]) == ("2026-10-31", 46.0)
    assert [(b["band"], b["accounts"], b["arr"]) for b in health["bands"]] == [
        ("red", 2, 30_000.0),
        ("yellow", 2, 65_000.0),
        ("green", 1, 100_000.0),
    ]
    assert [(b["band"], b["accounts"]) for b in health["previous_bands"]] == [
        ("red", 0),
        ("yellow", 1),
        ("green", 3),
    ]
    risks = data["risks"]
    assert (risks["accounts"], risks["arr"]) == (2, 70_000.0)
    assert [
        (r["id"], r["band"], r["score"], r["renewal_date"], r["arr"]) for r in risks["rows"]
    ] == [
        (accounts["Cobalt"].pk, "yellow", 50, "2026-12-31", 40_000.0),
        (accounts["Delta"].pk, "red", 35, None, 30_000.0),
    ]


@pytest.mark.django_db
def test_team_summary_per_team():
    portfolio()

    teams = monthly_report_data_build(month=OCTOBER, today=TODAY)["teams"]

    # Enterprise: Acme 100k + Beta 50k at the start; +20k, -50k; ends with Acme and Echo.
    # SMB: Cobalt 40k + Delta 40k; -10k.
    assert [
        (t["name"], t["accounts"], t["arr"], t["nrr"], t["grr"], t["nps"], t["arr_at_risk"])
        for t in teams
    ] == [
        ("Enterprise", 2, 145_000.0, 80.0, 66.7, 100.0, 0.0),
        ("SMB", 2, 70_000.0, 87.5, 87.5, -50.0, 70_000.0),
    ]


@pytest.mark.django_db
def test_initiatives_running_in_the_month_are_listed_with_their_effect():
    """An NPS program on a static segment holding Acme, from 1 September 2026: before is
    June-August, after is September-October (read at the end of October).

    Segment (Acme): before 6 -> -100.0; after 10, 6 (Sep) and 10, 9 (Oct) -> (3 - 1) / 4 =
    50.0. Rest: before Cobalt's 9 -> 100.0; after 5, 8 (Sep) and 9, 7, 3 (Oct) -> (1 - 2) / 5
    = -20.0. Difference-in-differences: (50 + 100) - (-20 - 100) = +270."""
    accounts = portfolio()
    nps = Survey.objects.get(kind=Survey.Kind.NPS)
    _answers(nps, accounts["Acme"], "2026-08-10", [6])
    _answers(nps, accounts["Cobalt"], "2026-07-10", [9])
    segment = SegmentFactory(name="Key accounts", kind=Segment.Kind.STATIC)
    SegmentMembership.objects.create(segment=segment, account=accounts["Acme"])
    Initiative.objects.create(
        name="Executive sponsor calls",
        segment=segment,
        start_date=d("2026-09-01"),
        metric=Metric.NPS,
    )
    Initiative.objects.create(
        name="Finished in August",
        segment=segment,
        start_date=d("2026-06-01"),
        end_date=d("2026-08-31"),
        metric=Metric.NRR,
    )

    initiatives = monthly_report_data_build(month=OCTOBER, today=TODAY)["initiatives"]

    [item] = initiatives
    assert (item["name"], item["segment"], item["metric"], item["end_date"]) == (
        "Executive sponsor calls",
        "Key accounts",
        "NPS",
        None,
    )
    effect = item["effect"]
    assert (effect["segment_before"], effect["segment_after"]) == (-100.0, 50.0)
    assert (effect["rest_before"], effect["rest_after"]) == (100.0, -20.0)
    assert effect["did"] == 270.0
    assert effect["texts"]["did"] == "+270"
    assert effect["sentence"].startswith("NPS in Key accounts rose from −100 to 50")


@pytest.mark.django_db
def test_an_initiative_whose_effect_fails_is_listed_without_it():
    segment = SegmentFactory(name="Scaled tier")
    Initiative.objects.create(
        name="Webinars", segment=segment, start_date=d("2026-09-01"), metric=Metric.NRR
    )

    with mock.patch(
        "reports.initiative_effect.initiative_effect", side_effect=RuntimeError("boom")
    ):
        [item] = monthly_report_data_build(month=OCTOBER, today=TODAY)["initiatives"]

    assert (item["name"], item["effect"]) == ("Webinars", None)


@pytest.mark.django_db
def test_an_empty_portfolio_has_no_values_rather_than_zeros():
    data = monthly_report_data_build(month=OCTOBER, today=TODAY)

    kpis = headline(data)
    assert kpis["nrr"] == (None, None, None)
    assert kpis["nps"] == (None, None, None)
    assert kpis["arr"] == (0.0, 0.0, 0.0)
    assert (data["risks"]["rows"], data["health"]["day"]) == ([], None)
    assert data["teams"] == []


@pytest.mark.django_db
def test_the_built_data_costs_a_fixed_number_of_queries(django_assert_max_num_queries):
    portfolio()
    monthly_report_data_build(month=OCTOBER, today=TODAY)  # warm caches (content types)

    with django_assert_max_num_queries(20):
        monthly_report_data_build(month=OCTOBER, today=TODAY)


def test_the_company_bridge_folding_only_changed_accounts_equals_the_full_fold():
    import random

    from reports.monthly import _bridge_by, _company_totals

    rng = random.Random(7)
    for _ in range(50):
        ids = range(1, 60)
        start = {a: Decimal(rng.choice([0, 0, 1000, 2500, 4000])) for a in ids}
        end = dict(start)
        changed = set(rng.sample(list(ids), 25))
        for account_id in changed:
            end[account_id] = Decimal(rng.choice([0, 1000, 2500, 4000, 6000]))
        # arr_timeline leaves accounts at 0 out of its maps.
        start = {a: v for a, v in start.items() if v}
        end = {a: v for a, v in end.items() if v}
        month, following = OCTOBER, d("2026-11-01")
        arr_on = {month: start, following: end}

        fast = _company_totals(arr_on, changed, [], month)
        full = _bridge_by(start, end, None)[None]

        assert fast.as_fields() == full.as_fields()


# --- The written summary ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_summary_of_the_portfolio_names_the_biggest_changes():
    portfolio()

    summary = monthly_report_data_build(month=OCTOBER, today=TODAY)["summary"]

    # Ranked by size in their units: logo churn +25 pts (50 x 0.5), NRR/GRR (26.1 x 1),
    # average health -27 (13.5 x 2), NPS +65 (13 x 5); CSAT -25 (8.3 x 3) and ARR at risk
    # +75 % (7.5 x 10 %) are left out.
    assert summary == [
        "ARR closed October 2026 at $215,000, down $15,000 (6.5 %) from $230,000 "
        "($25,000 new, $20,000 expansion, $10,000 contraction, $50,000 churn).",
        "Logo churn rose from 0.0 % to 25.0 % (1 of 4 accounts).",
        "NRR fell from 100.0 % to 82.6 % and GRR from 100.0 % to 73.9 %, driven by $50,000 "
        "of churned ARR (1 account).",
        "Average health fell from 73.0 to 46.0.",
        "NPS rose from −25.0 to 40.0 on 5 answers.",
    ]


def hand_made(**changes: tuple) -> dict:
    """A minimal report dict: every headline metric flat at its previous value unless
    `changes` says (value, previous)."""
    defaults = {
        "arr": (1_000_000.0, 1_000_000.0),
        "nrr": (105.0, 105.0),
        "grr": (95.0, 95.0),
        "logo_churn": (1.0, 1.0),
        "renewal_rate": (90.0, 90.0),
        "renewal_rate_arr": (90.0, 90.0),
        "nps": (30.0, 30.0),
        "csat": (80.0, 80.0),
        "avg_health": (60.0, 60.0),
        "arr_at_risk": (100_000.0, 100_000.0),
    }
    defaults.update(changes)
    units = {"arr": "money", "arr_at_risk": "money", "nps": "nps", "avg_health": "score"}
    labels = {
        "nrr": "NRR",
        "grr": "GRR",
        "nps": "NPS",
        "csat": "CSAT",
        "logo_churn": "Logo churn",
        "renewal_rate_arr": "Renewal rate (ARR)",
        "avg_health": "Average health",
    }
    return {
        "label": "October 2026",
        "previous": {"label": "September 2026"},
        "headline": [
            {
                "key": key,
                "label": labels.get(key, key),
                "unit": units.get(key, "percent"),
                "value": value,
                "previous": previous,
            }
            for key, (value, previous) in defaults.items()
        ],
        "retention": {
            "bridge": {
                "new": 0,
                "expansion": 12_000.0,
                "contraction": 5_000.0,
                "churned": 84_000.0,
            },
            "cohort_accounts": 120,
            "churned_accounts": 3,
        },
        "renewals": {"due": {"count": 10}, "renewed": {"count": 7}, "open": {"count": 1}},
        "feedback": {"nps": {"answers": 57}, "csat": {"answers": 40}},
        "risks": {"accounts": 14},
    }


def test_the_summary_says_nrr_fell_because_of_churn():
    data = hand_made(nrr=(101.5, 108.2))

    assert summary_sentences(data)[1:] == [
        "NRR fell from 108.2 % to 101.5 %, driven by $84,000 of churned ARR (3 accounts)."
    ]


def test_the_summary_credits_expansion_when_nrr_rises():
    data = hand_made(nrr=(110.0, 104.0))

    assert summary_sentences(data)[1] == (
        "NRR rose from 104.0 % to 110.0 %, driven by $12,000 of expansion."
    )


def test_the_summary_names_contraction_when_it_outweighs_churn():
    data = hand_made(grr=(90.0, 95.0))
    data["retention"]["bridge"].update(churned=1_000.0, contraction=40_000.0)

    assert summary_sentences(data)[1] == (
        "GRR fell from 95.0 % to 90.0 %, driven by $40,000 of contraction."
    )


def test_the_summary_skips_small_moves_and_says_so():
    data = hand_made(nps=(32.0, 30.0), csat=(81.0, 80.0), nrr=(105.5, 105.0))

    assert summary_sentences(data) == [
        "ARR closed October 2026 at $1,000,000, unchanged from September 2026 "
        "($12,000 expansion, $5,000 contraction, $84,000 churn).",
        "No other headline metric moved materially from September 2026.",
    ]


def test_the_summary_keeps_the_four_biggest_moves_in_order():
    data = hand_made(
        arr=(1_050_000.0, 1_000_000.0),
        nps=(41.0, 32.0),  # 9 / 5 = 1.8
        csat=(70.0, 82.0),  # 12 / 3 = 4
        renewal_rate_arr=(70.0, 90.0),  # 20 / 5 = 4, a tie with CSAT: listed in table order
        avg_health=(57.0, 60.0),  # 3 / 2 = 1.5
        arr_at_risk=(150_000.0, 100_000.0),  # +50 % / 10 % = 5
        logo_churn=(1.2, 1.0),  # 0.2 < 0.5: not material
    )

    assert summary_sentences(data) == [
        "ARR closed October 2026 at $1,050,000, up $50,000 (5.0 %) from $1,000,000 "
        "($12,000 expansion, $5,000 contraction, $84,000 churn).",
        "ARR at risk grew from $100,000 to $150,000 (14 accounts red, or yellow and renewing "
        "within 90 days).",
        "Renewal rate (ARR) fell from 90.0 % to 70.0 % (7 of 10 contracts due renewed, 1 still "
        "open).",
        "CSAT fell from 82.0 % to 70.0 % on 40 answers.",
        "NPS rose from 32.0 to 41.0 on 57 answers.",
    ]


def test_numbers_print_with_units_and_signed_changes():
    assert format_value("money", 84_000.0) == "$84,000"
    assert format_value("money", -1_500.0) == "−$1,500"
    assert format_value("percent", 101.5) == "101.5 %"
    assert format_value("nps", -12.0) == "−12.0"
    assert format_value("percent", None) == "—"
    assert format_change("percent", -6.7) == "−6.7 pts"
    assert format_change("money", 3_000.0) == "+$3,000"
    assert format_change("nps", 0.01) == "no change"


def test_the_csv_escapes_text_that_a_spreadsheet_would_run():
    assert spreadsheet_safe('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert spreadsheet_safe("-Acme") == "'-Acme"
    assert spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_safe("Acme") == "Acme"
    # Numbers stay numbers, negative ones included.
    assert spreadsheet_safe(-3.5) == -3.5


@pytest.mark.django_db
def test_the_csv_has_one_row_per_number_with_both_comparisons():
    portfolio()
    data = monthly_report_data_build(month=OCTOBER, today=TODAY)

    rows = csv_rows(data)

    assert ("Headline", "NRR", 82.6, 100.0, 111.1) in rows
    assert ("Headline", "Renewal rate (count)", 33.3, "", 100.0) in rows
    assert ("ARR bridge", "Churned ARR", 50_000.0, "", "") in rows
    assert ("Teams", "SMB: NRR", 87.5, "", "") in rows
    assert ("Top risks", "Cobalt", 40_000.0, "", "") in rows
    assert all(len(row) == 5 for row in rows)


@pytest.mark.django_db
def test_the_view_model_formats_every_headline_number():
    portfolio()
    view = report_view(monthly_report_data_build(month=OCTOBER, today=TODAY))

    nrr = next(k for k in view["headline"] if k["key"] == "nrr")
    assert (nrr["display"], nrr["previous_display"], nrr["change_previous"]) == (
        "82.6 %",
        "100.0 %",
        "−17.4 pts",
    )
    assert (nrr["tone_previous"], nrr["change_year"]) == ("bad", "−28.5 pts")
    churn = next(k for k in view["headline"] if k["key"] == "logo_churn")
    # Less churn is better: a rise is bad.
    assert churn["tone_previous"] == "bad"


# --- Frozen numbers and regeneration --------------------------------------------------------


@pytest.mark.django_db
def test_generation_freezes_the_numbers_and_records_version_1():
    portfolio()

    report = generate()

    assert (report.month, report.version, report.generated_by) == (OCTOBER, 1, None)
    assert headline(report.data)["nrr"][0] == 82.6
    assert report.summary.splitlines() == report.data["summary"]
    assert bytes(report.pdf).startswith(b"%PDF")
    [generation] = ReportGeneration.objects.filter(report=report)
    assert generation.version == 1
    assert generation.data_sha256 == data_sha256(report.data)


@pytest.mark.django_db
def test_a_later_data_change_does_not_alter_the_stored_report():
    accounts = portfolio()
    report = generate()
    stored = (report.data, bytes(report.pdf), report.version)

    Contract.objects.filter(account=accounts["Acme"], start_date=d("2026-11-01")).update(
        arr=Decimal("80000")
    )
    Account.objects.filter(pk=accounts["Beta"].pk).update(name="Renamed Beta")

    report.refresh_from_db()
    assert (report.data, bytes(report.pdf), report.version) == stored


@pytest.mark.django_db
def test_regenerating_replaces_the_numbers_bumps_the_version_and_is_recorded(manager):
    accounts = portfolio()
    first = generate()
    # Acme renews at 80k instead of 120k: 20k of contraction instead of expansion, so
    # NRR = (230 - 10 - 20 - 50) / 230 = 65.2 %.
    Contract.objects.filter(account=accounts["Acme"], start_date=d("2026-11-01")).update(
        arr=Decimal("80000")
    )

    second = generate(by=manager)

    assert second.pk == first.pk
    assert (second.version, second.generated_by) == (2, manager)
    assert headline(second.data)["nrr"][0] == 65.2
    generations = list(ReportGeneration.objects.filter(report=second).order_by("version"))
    assert [(g.version, g.generated_by_id) for g in generations] == [(1, None), (2, manager.pk)]
    assert generations[0].data_sha256 != generations[1].data_sha256
    assert MonthlyReport.objects.count() == 1


@pytest.mark.django_db
def test_regenerating_unchanged_data_keeps_the_checksum():
    portfolio()
    generate()

    generate()

    shas = list(ReportGeneration.objects.order_by("version").values_list("data_sha256", flat=True))
    assert len(shas) == 2
    assert shas[0] == shas[1]


@pytest.mark.django_db
def test_a_month_that_is_not_over_has_no_report():
    with pytest.raises(ValueError, match="November 2026 is not over yet"):
        monthly_report_generate(month=d("2026-11-01"), today=TODAY, charts=False)
    assert MonthlyReport.objects.count() == 0


def test_months_parse_as_yyyy_mm_only():
    assert month_parse("2026-10") == OCTOBER
    for bad in ("2026-13", "2026-1", "Oct 2026", "", "2026-10-01"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            month_parse(bad)


# --- Subscriptions and deliveries -------------------------------------------------------------


@pytest.fixture
def readers(db):
    """Who might get the email: one of each case."""
    return {
        "executive": UserFactory(username="exec-default", role=User.Role.EXECUTIVE),
        "executive_out": UserFactory(username="exec-out", role=User.Role.EXECUTIVE),
        "manager_in": UserFactory(username="manager-in", role=User.Role.MANAGER),
        "manager": UserFactory(username="manager-default", role=User.Role.MANAGER),
        "admin_in": UserFactory(username="admin-in", role=User.Role.ADMIN),
        "csm_in": UserFactory(username="csm-in", role=User.Role.CSM),
        "no_email": UserFactory(username="exec-no-email", role=User.Role.EXECUTIVE, email=""),
        "inactive": UserFactory(username="exec-gone", role=User.Role.EXECUTIVE, is_active=False),
    }


def _subscribe(user: User, subscribed: bool) -> None:
    ReportSubscription.objects.create(user=user, subscribed=subscribed)


@pytest.mark.django_db
def test_executives_are_subscribed_by_default_and_others_opt_in(readers):
    _subscribe(readers["executive_out"], False)
    _subscribe(readers["manager_in"], True)
    _subscribe(readers["admin_in"], True)
    # A CSM cannot read the report, so a subscription row does not make them a recipient.
    _subscribe(readers["csm_in"], True)

    recipients = set(report_recipients().values_list("username", flat=True))

    assert recipients == {"exec-default", "manager-in", "admin-in"}


@pytest.mark.django_db
def test_generation_creates_one_delivery_per_recipient_and_enqueues_them_on_commit(
    readers, django_capture_on_commit_callbacks
):
    _subscribe(readers["executive_out"], False)
    _subscribe(readers["manager_in"], True)

    with (
        mock.patch("reports.tasks_monthly.report_delivery_send_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        report = generate()

    deliveries = list(ReportDelivery.objects.filter(report=report).order_by("user__username"))
    assert [(x.user.username, x.email, x.version, x.status) for x in deliveries] == [
        ("exec-default", "exec-default@example.com", 1, "pending"),
        ("manager-in", "manager-in@example.com", 1, "pending"),
    ]
    assert len(callbacks) == 1
    assert sorted(call.args[0] for call in delay.call_args_list) == sorted(x.pk for x in deliveries)


@pytest.mark.django_db
def test_one_delivery_that_cannot_be_queued_does_not_stop_the_others(
    readers, django_capture_on_commit_callbacks
):
    _subscribe(readers["manager_in"], True)

    with (
        mock.patch(
            "reports.tasks_monthly.report_delivery_send_task.delay",
            side_effect=[ConnectionError("broker down"), None, None],
        ) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        generate()

    # Three recipients (both executives and the manager); the first could not be queued.
    assert delay.call_count == 3
    assert set(ReportDelivery.objects.values_list("status", flat=True)) == {"pending"}


@pytest.mark.django_db
def test_no_deliveries_without_notify(readers):
    report = generate(notify=False)

    assert not ReportDelivery.objects.filter(report=report).exists()


@pytest.mark.django_db
def test_a_regeneration_is_delivered_again_as_a_new_version(readers):
    generate()
    report = generate()

    versions = sorted(
        ReportDelivery.objects.filter(user=readers["executive"]).values_list("version", flat=True)
    )
    assert (versions, report.version) == ([1, 2], 2)


@pytest.mark.django_db
def test_a_delivery_emails_the_link_and_the_pdf(readers):
    portfolio()
    report = generate()
    delivery = ReportDelivery.objects.get(user=readers["executive"])

    report_delivery_send(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 1, "")
    assert delivery.sent_at is not None
    [message] = mail.outbox
    assert message.to == ["exec-default@example.com"]
    assert message.subject == "Customer success report, October 2026"
    assert f"{settings.SITE_URL}/reports/2026-10/" in message.body
    assert "NRR fell from 100.0 % to 82.6 %" in message.body
    [(name, content, mimetype)] = message.attachments
    assert (name, mimetype) == ("cs-monthly-report-2026-10-v1.pdf", "application/pdf")
    assert content == bytes(report.pdf)


@pytest.mark.django_db
def test_a_sent_delivery_is_not_sent_twice(readers):
    generate()
    delivery = ReportDelivery.objects.get(user=readers["executive"])

    report_delivery_send(delivery_id=delivery.pk)
    report_delivery_send(delivery_id=delivery.pk)

    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


@pytest.mark.django_db
def test_a_delivery_of_a_superseded_version_is_not_sent(readers):
    generate()
    stale = ReportDelivery.objects.get(user=readers["executive"], version=1)
    generate()

    report_delivery_send(delivery_id=stale.pk)

    stale.refresh_from_db()
    assert stale.status == "failed"
    assert stale.error == "Superseded by version 2 before it was sent."
    assert mail.outbox == []


class FailingBackend(BaseEmailBackend):
    """An SMTP server that refuses every message."""

    def send_messages(self, email_messages: list) -> int:
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class FlakyBackend(BaseEmailBackend):
    """An SMTP server that refuses the first message of the test, then accepts."""

    calls = 0

    def send_messages(self, email_messages: list) -> int:
        FlakyBackend.calls += 1
        if FlakyBackend.calls == 1:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        mail.outbox.extend(email_messages)
        return len(email_messages)


@pytest.mark.django_db
def test_a_failing_email_backend_marks_the_delivery_failed_with_the_error(readers, settings):
    generate()
    delivery = ReportDelivery.objects.get(user=readers["executive"])
    settings.EMAIL_BACKEND = "tests.reports.test_monthly.FailingBackend"

    from reports.services_monthly import DeliveryFailed

    with pytest.raises(DeliveryFailed):
        report_delivery_send(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.error == "SMTPServerDisconnected: Connection unexpectedly closed"


@pytest.fixture
def eager_retries():
    """Applied eagerly, Celery runs a task's retries at once instead of after their backoff,
    as long as eager errors do not propagate (the settings make them propagate)."""
    conf = report_delivery_send_task.app.conf
    before = conf.task_eager_propagates
    conf.task_eager_propagates = False
    yield
    conf.task_eager_propagates = before


@pytest.mark.django_db
@pytest.mark.usefixtures("eager_retries")
def test_the_delivery_task_retries_until_it_gives_up(readers, settings):
    generate()
    delivery = ReportDelivery.objects.get(user=readers["executive"])
    settings.EMAIL_BACKEND = "tests.reports.test_monthly.FailingBackend"

    result = report_delivery_send_task.apply(args=[delivery.pk])

    assert result.failed()
    delivery.refresh_from_db()
    # The first attempt and five retries.
    assert (delivery.status, delivery.attempts) == ("failed", 6)
    assert "SMTPServerDisconnected" in delivery.error


@pytest.mark.django_db
@pytest.mark.usefixtures("eager_retries")
def test_the_delivery_task_succeeds_on_a_retry_and_clears_the_error(readers, settings):
    generate()
    delivery = ReportDelivery.objects.get(user=readers["executive"])
    settings.EMAIL_BACKEND = "tests.reports.test_monthly.FlakyBackend"
    FlakyBackend.calls = 0

    result = report_delivery_send_task.apply(args=[delivery.pk])

    assert result.successful()
    assert result.result == "sent"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error) == ("sent", 2, "")
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_subscribing_and_unsubscribing(readers):
    from reports.monthly import report_subscription_is_on

    manager, executive = readers["manager"], readers["executive"]
    assert not report_subscription_is_on(manager)
    assert report_subscription_is_on(executive)

    report_subscription_set(user=manager, subscribed=True)
    report_subscription_set(user=executive, subscribed=False)

    assert report_subscription_is_on(manager)
    assert not report_subscription_is_on(executive)
    assert ReportSubscription.objects.count() == 2


@pytest.mark.django_db
def test_a_csm_cannot_subscribe(readers):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        report_subscription_set(user=readers["csm_in"], subscribed=True)


# --- Task and command -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_monthly_task_generates_last_month_once_when_asked_only_if_missing():
    with (
        mock.patch("reports.tasks_monthly.local_today", return_value=TODAY),
        mock.patch("reports.pdf.chart_images", return_value={}),
    ):
        first = monthly_report_generate_task.apply(kwargs={"only_if_missing": True}).get()
        again = monthly_report_generate_task.apply(kwargs={"only_if_missing": True}).get()
        regenerated = monthly_report_generate_task.apply(args=["2026-10"]).get()

    assert (first, again, regenerated) == (1, 1, 2)
    assert MonthlyReport.objects.get().month == OCTOBER


@pytest.mark.django_db
def test_the_command_generates_the_given_month():
    portfolio()
    out = StringIO()

    with mock.patch(
        "reports.management.commands.generate_monthly_report.local_today", return_value=TODAY
    ):
        call_command(
            "generate_monthly_report", "--month", "2026-10", "--no-email", "--no-charts", stdout=out
        )

    report = MonthlyReport.objects.get()
    assert (report.version, headline(report.data)["nrr"][0]) == (1, 82.6)
    assert "Generated the October 2026 report, version 1; 0 email(s) queued." in out.getvalue()
    assert "NRR fell from 100.0 % to 82.6 %" in out.getvalue()


@pytest.mark.django_db
def test_the_command_defaults_to_last_month():
    with mock.patch(
        "reports.management.commands.generate_monthly_report.local_today", return_value=TODAY
    ):
        call_command("generate_monthly_report", "--no-email", "--no-charts", stdout=StringIO())

    assert MonthlyReport.objects.get().month == OCTOBER


@pytest.mark.django_db
def test_the_command_refuses_a_bad_or_unfinished_month():
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("generate_monthly_report", "--month", "October", "--no-charts")
    with (
        mock.patch(
            "reports.management.commands.generate_monthly_report.local_today", return_value=TODAY
        ),
        pytest.raises(CommandError, match="not over yet"),
    ):
        call_command("generate_monthly_report", "--month", "2026-11", "--no-charts")
    assert MonthlyReport.objects.count() == 0
