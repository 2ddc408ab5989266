"""NPS, CSAT, CES and response rate on hand-worked examples, and the set-based queries that
count them by month, period, segment, tier, team and CSM."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from accounts.models import Account, SegmentMembership
from feedback.metrics import (
    Period,
    ScoreCounts,
    add_months,
    ces,
    csat,
    feedback_scores_by_csm,
    feedback_scores_by_month,
    feedback_scores_by_period,
    feedback_scores_by_segment,
    feedback_scores_by_team,
    feedback_scores_by_tier,
    feedback_scores_total,
    month_starts,
    nps,
    response_rate,
    response_rate_total,
    response_rates_by_month,
    response_rates_by_period,
    response_rates_by_segment,
    response_rates_grouped,
    score_distribution,
)
from feedback.models import Survey, SurveyAnswer, SurveyCampaign, SurveyInvitation
from tests.factories import (
    AccountFactory,
    ContactFactory,
    SegmentFactory,
    SurveyAnswerFactory,
    TeamFactory,
    UserFactory,
)

UTC = dt.UTC


# --- The definitions on counts ---------------------------------------------------------------


def test_all_passives_give_an_nps_of_zero():
    assert nps(0, 7, 0) == Decimal("0.0")


def test_no_answers_give_no_nps_not_zero():
    assert nps(0, 0, 0) is None


def test_a_single_detractor_gives_minus_100():
    assert nps(0, 0, 1) == Decimal("-100.0")


def test_nps_is_percent_promoters_minus_percent_detractors():
    # 5 promoters, 3 passives, 2 detractors: 50 % - 20 % = 30.
    assert nps(5, 3, 2) == Decimal("30.0")
    # All promoters: 100.
    assert nps(4, 0, 0) == Decimal("100.0")


def test_nps_is_quantised_to_a_tenth_half_up():
    # 2 promoters, 1 passive: 66.66... -> 66.7; 1 promoter, 2 detractors: -33.33... -> -33.3.
    assert nps(2, 1, 0) == Decimal("66.7")
    assert nps(1, 0, 2) == Decimal("-33.3")
    # 1 promoter of 8: 12.5 exactly stays 12.5; 1 of 16: 6.25 rounds half up to 6.3.
    assert nps(1, 7, 0) == Decimal("12.5")
    assert nps(1, 15, 0) == Decimal("6.3")


def test_csat_is_the_share_of_fours_and_fives():
    assert csat(3, 4) == Decimal("75.0")
    assert csat(1, 3) == Decimal("33.3")
    assert csat(0, 2) == Decimal("0.0")


def test_no_csat_answers_give_no_csat():
    assert csat(0, 0) is None


def test_ces_is_the_mean_quantised_to_a_tenth():
    # 4 + 5 + 6 + 2 = 17 over 4 answers: 4.25 -> 4.3.
    assert ces(17, 4) == Decimal("4.3")
    assert ces(7, 1) == Decimal("7.0")
    assert ces(0, 0) is None


def test_response_rate_is_answered_over_sent():
    assert response_rate(3, 8) == Decimal("37.5")
    assert response_rate(0, 5) == Decimal("0.0")
    assert response_rate(0, 0) is None


def test_score_counts_give_every_score_and_the_answers_behind_it():
    counts = ScoreCounts(
        promoters=2,
        passives=1,
        detractors=1,
        csat_satisfied=3,
        csat_answers=4,
        ces_sum=13,
        ces_answers=3,
    )
    assert counts.nps == Decimal("25.0")
    assert counts.csat == Decimal("75.0")
    assert counts.ces == Decimal("4.3")
    assert counts.answers == 11
    assert ScoreCounts().nps is None
    assert ScoreCounts().csat is None
    assert ScoreCounts().ces is None


# --- Periods ---------------------------------------------------------------------------------


def test_months_quarters_and_years_are_calendar_periods():
    day = dt.date(2026, 5, 17)
    assert Period.month_of(day) == Period(dt.date(2026, 5, 1), dt.date(2026, 6, 1))
    assert Period.quarter_of(day) == Period(dt.date(2026, 4, 1), dt.date(2026, 7, 1))
    assert Period.year_of(day) == Period(dt.date(2026, 1, 1), dt.date(2027, 1, 1))
    assert Period.month_of(dt.date(2026, 1, 9)).previous() == Period(
        dt.date(2025, 12, 1), dt.date(2026, 1, 1)
    )
    assert Period.quarter_of(day).previous() == Period(dt.date(2026, 1, 1), dt.date(2026, 4, 1))
    assert Period.year_of(day).previous() == Period(dt.date(2025, 1, 1), dt.date(2026, 1, 1))


def test_periods_read_as_people_name_them():
    day = dt.date(2026, 5, 17)
    assert Period.month_of(day).label == "May 2026"
    assert Period.quarter_of(day).label == "Q2 2026"
    assert Period.year_of(day).label == "2026"
    assert Period(dt.date(2026, 1, 3), dt.date(2026, 2, 10)).label == "3 Jan 2026 – 9 Feb 2026"


def test_twelve_month_starts_end_with_the_current_month():
    starts = month_starts(dt.date(2026, 3, 15), 12)
    assert starts[0] == dt.date(2025, 4, 1)
    assert starts[-1] == dt.date(2026, 3, 1)
    assert len(starts) == 12
    assert add_months(dt.date(2026, 1, 31), -1) == dt.date(2025, 12, 1)


# --- Scores, counted in the database ---------------------------------------------------------


def at(year, month, day, hour=12):
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


def survey_of(kind):
    survey, _ = Survey.objects.get_or_create(
        name=f"{kind} survey", defaults={"kind": kind, "question": "How are we doing?"}
    )
    return survey


def answer(account, kind, score, when, **extra):
    return SurveyAnswerFactory(
        survey=survey_of(kind), account=account, kind=kind, score=score, answered_at=when, **extra
    )


@pytest.fixture
def acme(db):
    return AccountFactory(name="Acme", tier=Account.Tier.HIGH_TOUCH)


@pytest.mark.django_db
def test_scores_by_month_are_exact_with_gaps_where_no_one_answered(acme, django_assert_num_queries):
    # January: one detractor. February: nothing. March: 2 promoters, 1 passive, 1 detractor;
    # CSAT 5, 4, 4, 2; CES 3, 4, 6.
    answer(acme, "nps", 3, at(2026, 1, 20))
    for score in (10, 9, 7, 6):
        answer(acme, "nps", score, at(2026, 3, 2))
    for score in (5, 4, 4, 2):
        answer(acme, "csat", score, at(2026, 3, 3))
    for score in (3, 4, 6):
        answer(acme, "ces", score, at(2026, 3, 4))
    # Outside the three months: ignored.
    answer(acme, "nps", 0, at(2025, 12, 31))
    answer(acme, "nps", 0, at(2026, 4, 1))

    with django_assert_num_queries(1):
        months = feedback_scores_by_month(
            answers_qs=SurveyAnswer.objects.all(),
            months=[dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)],
        )

    january, february, march = (m.counts for m in months)
    assert [m.month for m in months] == [
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 1),
    ]
    assert january.nps == Decimal("-100.0")
    assert january.csat is None
    assert january.ces is None
    assert february.nps is None
    assert february.answers == 0
    # (2 - 1) / 4 = 25; 3 of 4 CSAT answers are 4 or 5; (3 + 4 + 6) / 3 = 4.33.
    assert march.nps == Decimal("25.0")
    assert march.csat == Decimal("75.0")
    assert march.ces == Decimal("4.3")
    assert march.answers == 11


@pytest.mark.django_db
def test_an_answer_counts_in_the_month_of_its_local_answer_date(acme, settings):
    # 23:30 UTC on 31 January is already 1 February in Seoul.
    settings.TIME_ZONE = "Asia/Seoul"
    answer(acme, "nps", 10, dt.datetime(2026, 1, 31, 23, 30, tzinfo=UTC))
    # 1 February 08:00 in Seoul is still 31 January 23:00 UTC: February too.
    answer(acme, "nps", 0, dt.datetime(2026, 2, 1, 8, 0, tzinfo=ZoneInfo("Asia/Seoul")))

    january, february = feedback_scores_by_month(
        answers_qs=SurveyAnswer.objects.all(),
        months=[dt.date(2026, 1, 1), dt.date(2026, 2, 1)],
    )

    assert january.counts.nps is None
    assert february.counts.promoters == 1
    assert february.counts.detractors == 1
    assert february.counts.nps == Decimal("0.0")


@pytest.mark.django_db
def test_one_query_counts_this_month_and_last_month(acme, django_assert_num_queries):
    answer(acme, "nps", 10, at(2026, 3, 2))
    answer(acme, "nps", 2, at(2026, 2, 27))
    answer(acme, "csat", 5, at(2026, 2, 1))

    with django_assert_num_queries(1):
        counts = feedback_scores_by_period(
            answers_qs=SurveyAnswer.objects.all(),
            periods={
                "now": Period.month_of(dt.date(2026, 3, 15)),
                "before": Period.month_of(dt.date(2026, 2, 1)),
            },
        )

    assert counts["now"].nps == Decimal("100.0")
    assert counts["now"].csat is None
    assert counts["before"].nps == Decimal("-100.0")
    assert counts["before"].csat == Decimal("100.0")
    total = feedback_scores_total(
        answers_qs=SurveyAnswer.objects.all(), period=Period.quarter_of(dt.date(2026, 3, 1))
    )
    assert total.nps_answers == 2
    assert total.nps == Decimal("0.0")


@pytest.mark.django_db
def test_breakdowns_by_tier_team_and_csm_take_one_query_each(django_assert_num_queries):
    # Ana (Enterprise) owns a high-touch account: promoter + detractor -> NPS 0.
    # Bo (SMB) owns a scaled account: two promoters -> 100. An unowned scaled account: a
    # detractor -> scaled overall: 2 promoters, 1 detractor -> 33.3.
    enterprise, smb = TeamFactory(name="Enterprise"), TeamFactory(name="SMB")
    ana = UserFactory(username="ana", first_name="Ana", last_name="Lima", team=enterprise)
    bo = UserFactory(username="bo", first_name="Bo", last_name="Berg", team=smb)
    big = AccountFactory(owner=ana, tier=Account.Tier.HIGH_TOUCH)
    small = AccountFactory(owner=bo, tier=Account.Tier.SCALED)
    orphan = AccountFactory(owner=None, team=None, tier=Account.Tier.SCALED)
    answer(big, "nps", 10, at(2026, 3, 2))
    answer(big, "nps", 5, at(2026, 3, 2))
    answer(small, "nps", 9, at(2026, 3, 3))
    answer(small, "nps", 10, at(2026, 3, 3))
    answer(orphan, "nps", 0, at(2026, 3, 4))
    march = Period.month_of(dt.date(2026, 3, 1))
    answers = SurveyAnswer.objects.all()

    with django_assert_num_queries(1):
        tiers = feedback_scores_by_tier(answers_qs=answers, period=march)
    with django_assert_num_queries(1):
        teams = feedback_scores_by_team(answers_qs=answers, period=march)
    with django_assert_num_queries(1):
        csms = feedback_scores_by_csm(answers_qs=answers, period=march)

    assert [(g.label, g.counts.nps) for g in tiers] == [
        ("High-touch", Decimal("0.0")),
        ("Scaled", Decimal("33.3")),
    ]
    assert [(g.label, g.counts.nps) for g in teams] == [
        ("Enterprise", Decimal("0.0")),
        ("SMB", Decimal("100.0")),
        ("No team", Decimal("-100.0")),
    ]
    assert [(g.label, g.counts.nps, g.counts.nps_answers) for g in csms] == [
        ("Ana Lima", Decimal("0.0"), 2),
        ("Bo Berg", Decimal("100.0"), 2),
        ("Unassigned", Decimal("-100.0"), 1),
    ]


@pytest.mark.django_db
def test_a_breakdown_uses_the_accounts_current_tier(acme):
    answer(acme, "nps", 10, at(2026, 3, 2))
    # The account moved to tech-touch after answering: the answer now counts there.
    Account.objects.filter(pk=acme.pk).update(tier=Account.Tier.TECH_TOUCH)

    tiers = feedback_scores_by_tier(
        answers_qs=SurveyAnswer.objects.all(), period=Period.month_of(dt.date(2026, 3, 1))
    )

    assert [(g.key, g.counts.nps) for g in tiers] == [("tech_touch", Decimal("100.0"))]


@pytest.mark.django_db
def test_segments_count_their_members_answers_one_query_each(django_assert_num_queries):
    # A static segment holding A, and a rule segment "high-touch" holding A and B.
    a = AccountFactory(tier=Account.Tier.HIGH_TOUCH)
    b = AccountFactory(tier=Account.Tier.HIGH_TOUCH)
    c = AccountFactory(tier=Account.Tier.SCALED)
    static = SegmentFactory(name="Pilot", kind="static")
    SegmentMembership.objects.create(segment=static, account=a)
    rule = SegmentFactory(name="High-touch", rules={"tiers": ["high_touch"]})
    empty = SegmentFactory(name="Nobody", rules={"tiers": ["tech_touch"]})
    answer(a, "csat", 5, at(2026, 3, 2))
    answer(b, "csat", 2, at(2026, 3, 2))
    answer(c, "csat", 4, at(2026, 3, 2))

    with django_assert_num_queries(3):
        rows = feedback_scores_by_segment(
            answers_qs=SurveyAnswer.objects.all(),
            segments=[static, rule, empty],
            period=Period.month_of(dt.date(2026, 3, 1)),
            today=dt.date(2026, 3, 15),
        )

    assert [(r.label, r.counts.csat, r.counts.csat_answers) for r in rows] == [
        ("Pilot", Decimal("100.0"), 1),
        ("High-touch", Decimal("50.0"), 2),
        ("Nobody", None, 0),
    ]


@pytest.mark.django_db
def test_the_distribution_has_every_point_of_every_scale(acme, django_assert_num_queries):
    answer(acme, "nps", 10, at(2026, 3, 2))
    answer(acme, "nps", 10, at(2026, 3, 3))
    answer(acme, "nps", 0, at(2026, 3, 3))
    answer(acme, "csat", 3, at(2026, 3, 3))
    answer(acme, "nps", 7, at(2026, 2, 3))  # February: not this month

    with django_assert_num_queries(1):
        dist = score_distribution(
            answers_qs=SurveyAnswer.objects.all(), period=Period.month_of(dt.date(2026, 3, 1))
        )

    assert dist["nps"] == {0: 1, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 0, 9: 0, 10: 2}
    assert dist["csat"] == {1: 0, 2: 0, 3: 1, 4: 0, 5: 0}
    assert sum(dist["ces"].values()) == 0
    assert sorted(dist["ces"]) == [1, 2, 3, 4, 5, 6, 7]


# --- Response rate ---------------------------------------------------------------------------


def invite(account, *, sent_at, answered_at=None, campaign=None):
    contact = ContactFactory(account=account)
    campaign = campaign or SurveyCampaign.objects.create(survey=survey_of("nps"), name="Q1 NPS")
    return SurveyInvitation.objects.create(
        campaign=campaign,
        contact=contact,
        account=account,
        token_hash=f"{contact.pk:064d}",
        sent_at=sent_at,
        expires_at=(sent_at or at(2026, 1, 1)) + dt.timedelta(days=14),
        answered_at=answered_at,
    )


@pytest.mark.django_db
def test_response_rate_counts_invitations_sent_in_the_month_and_answered_since(
    acme, django_assert_num_queries
):
    campaign = SurveyCampaign.objects.create(survey=survey_of("nps"), name="Q1 NPS")
    # January: 4 sent, one answered in January and one answered in February -> 2 of 4.
    invite(acme, sent_at=at(2026, 1, 10), answered_at=at(2026, 1, 11), campaign=campaign)
    invite(acme, sent_at=at(2026, 1, 30), answered_at=at(2026, 2, 2), campaign=campaign)
    invite(acme, sent_at=at(2026, 1, 10), campaign=campaign)
    invite(acme, sent_at=at(2026, 1, 10), campaign=campaign)
    # February: 2 sent, none answered -> 0 %, a real zero.
    invite(acme, sent_at=at(2026, 2, 10), campaign=campaign)
    invite(acme, sent_at=at(2026, 2, 11), campaign=campaign)
    # Never sent (still a draft): not in any rate.
    invite(acme, sent_at=None, campaign=campaign)

    with django_assert_num_queries(1):
        months = response_rates_by_month(
            invitations_qs=SurveyInvitation.objects.all(),
            months=[dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)],
        )

    assert [(m.counts.answered, m.counts.sent, m.counts.rate) for m in months] == [
        (2, 4, Decimal("50.0")),
        (0, 2, Decimal("0.0")),
        (0, 0, None),
    ]
    periods = response_rates_by_period(
        invitations_qs=SurveyInvitation.objects.all(),
        periods={"q1": Period.quarter_of(dt.date(2026, 1, 1))},
    )
    # 2 of 6 sent in the quarter: 33.3 %.
    assert periods["q1"].rate == Decimal("33.3")
    total = response_rate_total(
        invitations_qs=SurveyInvitation.objects.all(),
        period=Period.month_of(dt.date(2026, 2, 1)),
    )
    assert total.rate == Decimal("0.0")


@pytest.mark.django_db
def test_response_rate_by_tier_and_segment(acme):
    other = AccountFactory(tier=Account.Tier.SCALED)
    invite(acme, sent_at=at(2026, 3, 2), answered_at=at(2026, 3, 3))
    invite(acme, sent_at=at(2026, 3, 2))
    invite(other, sent_at=at(2026, 3, 2), answered_at=at(2026, 3, 5))
    march = Period.month_of(dt.date(2026, 3, 1))
    high_touch = SegmentFactory(name="High-touch", rules={"tiers": ["high_touch"]})

    tiers = response_rates_grouped(
        invitations_qs=SurveyInvitation.objects.all(), period=march, by="tier"
    )
    segments = response_rates_by_segment(
        invitations_qs=SurveyInvitation.objects.all(),
        segments=[high_touch],
        period=march,
        today=dt.date(2026, 3, 15),
    )

    assert [(g.label, g.counts.rate) for g in tiers] == [
        ("High-touch", Decimal("50.0")),
        ("Scaled", Decimal("100.0")),
    ]
    assert [(g.label, g.counts.rate) for g in segments] == [("High-touch", Decimal("50.0"))]
