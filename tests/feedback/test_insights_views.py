"""The feedback page and the verbatims: what each role sees, exact numbers worked out by
hand, the follow-up queue, manual tagging and who may do it, escaping, query budgets."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import Account, User
from feedback.charts import score_distribution_figure, score_trend_figure
from feedback.models import AnswerTag, FollowUp, Survey, SurveyAnswer, Tag
from feedback.selectors_insights import follow_up_queue
from tests.factories import (
    AccountFactory,
    ContactFactory,
    SegmentFactory,
    SurveyAnswerFactory,
    TaskFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
PAGE = reverse("feedback:overview")
VERBATIMS = reverse("feedback:verbatim_list")
DAY = dt.date(2026, 3, 15)
UTC = dt.UTC


@pytest.fixture(autouse=True)
def today(monkeypatch):
    """The pages believe it is DAY, so every period below is worked out by hand."""
    monkeypatch.setattr("feedback.views.insights.local_today", lambda: DAY)
    return DAY


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


def kpi_text(content: str, key: str) -> str:
    match = re.search(rf'data-kpi="{key}">(.*?)</div>', content, re.S)
    assert match, key
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


@pytest.fixture
def book(owner, teammate, outsider):
    """Enterprise: Acme (owner, high-touch) and Beta (teammate, scaled). SMB: Smbco
    (outsider), whose answers no Enterprise CSM may ever count or read."""
    acme = AccountFactory(name="Acme Corp", owner=owner, tier=Account.Tier.HIGH_TOUCH)
    beta = AccountFactory(name="Beta Ltd", owner=teammate, tier=Account.Tier.SCALED)
    smbco = AccountFactory(name="Smbco", owner=outsider, tier=Account.Tier.SCALED)
    return {"acme": acme, "beta": beta, "smbco": smbco}


@pytest.fixture
def answers(book):
    """March 2026 (this month): Acme NPS 10, 9, 7; Beta NPS 3; Beta CSAT 5, 4, 4, 2;
    Acme CES 3, 4, 6. February: Acme one NPS detractor (2). SMB in March: NPS 0, 0, 0 and
    CSAT 1, which would drag every Enterprise number down if it leaked."""
    acme, beta, smbco = book["acme"], book["beta"], book["smbco"]
    answer(acme, "nps", 10, at(2026, 3, 2), comment="Love the new reports")
    answer(acme, "nps", 9, at(2026, 3, 3))
    answer(acme, "nps", 7, at(2026, 3, 4), comment="Fine, export is slow")
    answer(beta, "nps", 3, at(2026, 3, 5), comment="Support never answers")
    for score in (5, 4, 4, 2):
        answer(beta, "csat", score, at(2026, 3, 6))
    for score in (3, 4, 6):
        answer(acme, "ces", score, at(2026, 3, 7))
    answer(acme, "nps", 2, at(2026, 2, 10), comment="Outage again")
    for _ in range(3):
        answer(smbco, "nps", 0, at(2026, 3, 8), comment="SMB secret complaint")
    answer(smbco, "csat", 1, at(2026, 3, 8))


# --- The overview ----------------------------------------------------------------------------


def test_the_kpis_show_this_months_exact_scores_against_last_month(client_for, owner, answers):
    response = client_for(owner).get(PAGE)

    assert response.status_code == 200
    content = response.content.decode()
    kpis = {k.key: k for k in response.context["kpis"]}
    # NPS: 2 promoters, 1 passive, 1 detractor of 4 -> 25.0; February: one detractor -> -100.
    assert kpis["nps"].value == Decimal("25.0")
    assert kpis["nps"].previous == Decimal("-100.0")
    assert kpis["nps"].count == 4
    assert kpi_text(content, "nps").startswith("NPS 25.0 +125.0 pts vs −100.0 in February 2026")
    # CSAT: 3 of 4 -> 75.0 %; nothing in February -> no value and no change, never 0.
    assert kpis["csat"].value == Decimal("75.0")
    assert kpi_text(content, "csat").startswith("CSAT 75.0% No value in February 2026")
    # CES: (3 + 4 + 6) / 3 = 4.3.
    assert kpis["ces"].value == Decimal("4.3")
    # No invitation was sent: no response rate.
    assert kpi_text(content, "response_rate").startswith("Response rate — ")


def test_a_csm_never_counts_or_reads_another_teams_answers(client_for, owner, answers):
    response = client_for(owner).get(PAGE)

    content = response.content.decode()
    assert "Smbco" not in content
    assert "SMB secret complaint" not in content
    trend = {t.kind: t for t, _fig in response.context["trends"]}
    # March: the 4 Enterprise NPS answers only, not the 3 SMB detractors.
    assert trend["nps"].counts[-1] == 4
    assert trend["csat"].counts[-1] == 4
    verbatims = client_for(owner).get(VERBATIMS).content.decode()
    assert "SMB secret complaint" not in verbatims
    assert "Support never answers" in verbatims


def test_a_manager_sees_every_team(client_for, manager, answers):
    response = client_for(manager).get(PAGE)

    kpis = {k.key: k for k in response.context["kpis"]}
    # 2 promoters, 1 passive, 4 detractors of 7: (2 - 4) / 7 = -28.57 -> -28.6.
    assert kpis["nps"].value == Decimal("-28.6")
    # CSAT 3 of 5 -> 60.0.
    assert kpis["csat"].value == Decimal("60.0")


def test_a_csm_asking_for_another_team_gets_a_message_not_their_numbers(
    client_for, owner, outsider, answers
):
    response = client_for(owner).get(PAGE, {"team": outsider.team_id})

    content = response.content.decode()
    assert 'id="invalid-scope"' in content
    assert "Pick one of the teams listed" in content
    assert "kpis" not in response.context


def test_the_trend_has_twelve_months_and_a_gap_where_no_one_answered(client_for, manager, answers):
    response = client_for(manager).get(PAGE)

    trend, fig = response.context["trends"][0]
    assert trend.kind == "nps"
    assert trend.months[0] == dt.date(2025, 4, 1)
    assert trend.months[-1] == dt.date(2026, 3, 1)
    # February: one detractor -> -100; January: nobody -> no point, never 0.
    assert trend.scores[-2] == Decimal("-100.0")
    assert trend.scores[-3] is None
    bars, line = fig["data"]
    assert bars["yaxis"] == "y2"
    assert bars["y"][-3:] == [0, 1, 7]
    assert line["y"][-3:] == [None, -100.0, -28.6]
    assert 'id="nps-trend"' in response.content.decode()


def test_the_kind_filter_shows_one_score_and_its_distribution(client_for, manager, answers):
    response = client_for(manager).get(PAGE, {"kind": "csat"})

    assert [k.key for k in response.context["kpis"]] == ["csat", "response_rate"]
    [(dist, fig)] = response.context["distributions"]
    assert dist.kind == "csat"
    # CSAT this month: 1 (SMB), 2, 4, 4, 5.
    assert dist.counts == {1: 1, 2: 1, 3: 0, 4: 2, 5: 1}
    assert fig["data"][0]["y"] == [1, 1, 0, 2, 1]


def test_the_breakdown_by_tier_and_segment_shows_nps_csat_and_answers(client_for, manager, answers):
    SegmentFactory(name="Scaled book", rules={"tiers": ["scaled"]})
    SegmentFactory(name="Empty", rules={"tiers": ["tech_touch"]})

    response = client_for(manager).get(PAGE)

    tiers = {row.label: row for row in response.context["by_tier"]}
    # High-touch (Acme): NPS 10, 9, 7 -> 66.7; no CSAT.
    assert [c.score for c in tiers["High-touch"].cells] == ["66.7", "—", "4.3"]
    # Scaled (Beta + Smbco): NPS 3, 0, 0, 0 -> -100; CSAT 5, 4, 4, 2, 1 -> 60 %.
    assert [c.score for c in tiers["Scaled"].cells] == ["−100.0", "60.0%", "—"]
    assert [c.answers for c in tiers["Scaled"].cells] == [4, 5, 0]
    assert [c.score for c in tiers["Tech-touch"].cells] == ["—", "—", "—"]
    segments = {row.label: row for row in response.context["by_segment"]}
    assert segments["Scaled book"].cells[0].score == "−100.0"
    assert segments["Empty"].answers == 0
    content = response.content.decode()
    assert 'id="breakdown-segment"' in content
    assert 'id="breakdown-tier"' in content


def test_an_empty_book_shows_dashes_never_zero(client_for, owner):
    response = client_for(owner).get(PAGE)

    content = response.content.decode()
    assert kpi_text(content, "nps").startswith("NPS — No value in February 2026")
    assert kpi_text(content, "csat").startswith("CSAT — No value")
    assert kpi_text(content, "ces").startswith("CES — No value")
    assert kpi_text(content, "response_rate").startswith("Response rate — No value")
    assert "0.0" not in content
    assert "No NPS answers in the last 12 months." in content
    assert 'id="no-follow-ups"' in content


def test_the_response_rate_tile_counts_invitations_sent_this_month(client_for, owner, book):
    from feedback.models import SurveyCampaign, SurveyInvitation

    campaign = SurveyCampaign.objects.create(survey=survey_of("nps"), name="March NPS")
    for n, answered in enumerate([True, False, False, True]):
        contact = ContactFactory(account=book["acme"])
        SurveyInvitation.objects.create(
            campaign=campaign,
            contact=contact,
            account=book["acme"],
            token_hash=f"{n:064d}",
            sent_at=at(2026, 3, 1),
            expires_at=at(2026, 3, 15),
            answered_at=at(2026, 3, 2) if answered else None,
        )

    response = client_for(owner).get(PAGE)

    # 2 answered of 4 sent.
    assert kpi_text(response.content.decode(), "response_rate").startswith("Response rate 50.0%")


def test_the_quarter_compares_with_the_previous_quarter(client_for, manager, book):
    answer(book["acme"], "nps", 10, at(2026, 1, 10))
    answer(book["acme"], "nps", 0, at(2026, 3, 10))
    answer(book["acme"], "nps", 9, at(2025, 12, 10))

    response = client_for(manager).get(PAGE, {"period": "quarter"})

    nps = response.context["kpis"][0]
    # Q1 2026: one promoter, one detractor -> 0.0; Q4 2025: one promoter -> 100.0.
    assert (nps.value, nps.previous, nps.change_display) == (
        Decimal("0.0"),
        Decimal("100.0"),
        "−100.0 pts",
    )
    assert "Q1 2026" in response.content.decode()


def test_the_page_loads_plotly_from_our_own_static_files(client_for, manager, answers):
    content = client_for(manager).get(PAGE).content.decode()

    assert '<script src="/static/vendor/plotly/plotly.min.js"></script>' in content
    assert '<script src="/static/js/charts.js"></script>' in content
    assert "cdn" not in content.lower()


# --- Charts ----------------------------------------------------------------------------------


def test_the_trend_figure_draws_scores_as_a_line_and_answers_as_bars_on_a_second_axis():
    fig = score_trend_figure(
        kind="nps",
        months=[dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)],
        scores=[Decimal("-100.0"), None, Decimal("25.0")],
        counts=[1, 0, 4],
    )

    bars, line = fig["data"]
    assert bars["type"] == "bar"
    assert bars["y"] == [1, 0, 4]
    assert bars["yaxis"] == "y2"
    assert line["x"] == ["Jan 2026", "Feb 2026", "Mar 2026"]
    assert line["y"] == [-100.0, None, 25.0]
    assert line["connectgaps"] is False
    assert fig["layout"]["yaxis"]["range"] == [-100, 100]
    assert fig["layout"]["yaxis2"]["overlaying"] == "y"
    with pytest.raises(ValueError, match="3 months, 2 scores"):
        score_trend_figure(kind="nps", months=[DAY] * 3, scores=[None, None], counts=[0, 0, 0])


def test_the_distribution_colours_detractors_passives_and_promoters():
    fig = score_distribution_figure(kind="nps", counts=dict.fromkeys(range(11), 1))

    colours = fig["data"][0]["marker"]["color"]
    assert colours[:7] == ["#c62f2f"] * 7
    assert colours[7:9] == ["#c98a00"] * 2
    assert colours[9:] == ["#1f8a4c"] * 2
    csat = score_distribution_figure(kind="csat", counts={1: 2, 2: 0, 3: 1, 4: 5, 5: 3})
    assert csat["data"][0]["x"] == ["1", "2", "3", "4", "5"]
    assert csat["data"][0]["y"] == [2, 0, 1, 5, 3]


# --- Closing the loop ------------------------------------------------------------------------


def follow_up(answer_row, *, created, contacted=None, status=FollowUp.Status.OPEN, task=None):
    row = FollowUp.objects.create(answer=answer_row, status=status, task=task)
    # created_at is auto_now_add: set the history by hand.
    FollowUp.objects.filter(pk=row.pk).update(created_at=created, contacted_at=contacted)
    return row


def test_the_queue_lists_open_follow_ups_oldest_first_with_age_and_owner(
    client_for, manager, owner, teammate, book
):
    acme, beta = book["acme"], book["beta"]
    old = answer(acme, "nps", 2, at(2026, 3, 1), comment="Too slow")
    new = answer(beta, "csat", 1, at(2026, 3, 12))
    task = TaskFactory(account=beta, owner=manager)
    follow_up(new, created=at(2026, 3, 12, 9), task=task)
    follow_up(old, created=at(2026, 3, 1, 9))
    done = answer(acme, "nps", 0, at(2026, 3, 1))
    follow_up(done, created=at(2026, 3, 1), status=FollowUp.Status.CONTACTED)

    response = client_for(manager).get(PAGE)

    rows = response.context["queue"].rows
    assert [(r.account.name, r.age_days, r.owner) for r in rows] == [
        ("Acme Corp", 14, owner),  # no task: the account owner
        ("Beta Ltd", 3, manager),  # the task's owner is who was asked to call
    ]
    assert response.context["queue"].total == 2
    content = response.content.decode()
    try:
        link = reverse("feedback:follow_up", args=[old.pk])
    except NoReverseMatch:
        link = acme.get_absolute_url()
    assert f'href="{link}"' in content
    assert 'data-age="14"' in content


def test_a_long_queue_lists_the_oldest_and_counts_the_rest(owner, book):
    for day in (1, 2, 3):
        follow_up(answer(book["acme"], "nps", 0, at(2026, 3, day)), created=at(2026, 3, day))

    queue = follow_up_queue(Account.objects.all(), today=DAY, limit=2)

    assert [r.age_days for r in queue.rows] == [14, 13]
    assert (queue.total, queue.more) == (3, 1)


def test_median_time_to_first_contact_counts_the_last_90_days(client_for, manager, book):
    now = timezone.now()
    acme = book["acme"]
    # Waited 2 h, 5 h and 30 h, all contacted within 90 days: the median is 5 hours.
    for hours in (2, 5, 30):
        row = answer(acme, "nps", 1, now - dt.timedelta(days=10))
        created = now - dt.timedelta(days=10)
        follow_up(row, created=created, contacted=created + dt.timedelta(hours=hours))
    # Contacted 100 days ago after 500 hours: outside the window.
    row = answer(acme, "nps", 1, now - dt.timedelta(days=130))
    follow_up(
        row,
        created=now - dt.timedelta(days=130),
        contacted=now - dt.timedelta(days=100),
    )

    response = client_for(manager).get(PAGE)

    first = response.context["first_contact"]
    assert first.median == dt.timedelta(hours=5)
    assert first.contacted == 3
    assert "5.0 hours" in response.content.decode()


def test_median_of_an_even_count_is_the_mean_of_the_middle_two(client_for, manager, book):
    now = timezone.now()
    for hours in (2, 6, 50, 100):
        row = answer(book["acme"], "nps", 1, now - dt.timedelta(days=20))
        created = now - dt.timedelta(days=20)
        follow_up(row, created=created, contacted=created + dt.timedelta(hours=hours))

    response = client_for(manager).get(PAGE)

    # (6 + 50) / 2 = 28 hours.
    assert response.context["first_contact"].median == dt.timedelta(hours=28)


def test_a_csm_queue_holds_only_their_book_and_team(client_for, owner, book):
    follow_up(answer(book["smbco"], "nps", 0, at(2026, 3, 2)), created=at(2026, 3, 2))
    follow_up(answer(book["beta"], "nps", 0, at(2026, 3, 2)), created=at(2026, 3, 2))

    response = client_for(owner).get(PAGE)

    assert [r.account.name for r in response.context["queue"].rows] == ["Beta Ltd"]


# --- Verbatims -------------------------------------------------------------------------------


def test_verbatims_list_comments_newest_first_with_account_contact_and_date(
    client_for, manager, book
):
    contact = ContactFactory(account=book["acme"], name="Dana Scully")
    answer(book["acme"], "nps", 10, at(2026, 3, 2), comment="Older", contact=contact)
    answer(book["beta"], "nps", 2, at(2026, 3, 9), comment="Newer")
    answer(book["beta"], "nps", 8, at(2026, 3, 10))  # no comment: not a verbatim

    response = client_for(manager).get(VERBATIMS)

    items = response.context["items"]
    assert [i["answer"].comment for i in items] == ["Newer", "Older"]
    content = response.content.decode()
    assert "Dana Scully" in content
    assert "2 Mar 2026" in content


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "csat"}, ["Meh support"]),
        ({"group": "detractor"}, ["Export is broken"]),
        ({"group": "promoter"}, ["Great exports", "Love it"]),
        ({"group": "passive"}, []),
        ({"group": "unsatisfied"}, []),
        ({"group": "neutral"}, ["Meh support"]),
        ({"q": "EXPORT"}, ["Great exports", "Export is broken"]),
        ({"date_from": "2026-03-05", "date_to": "2026-03-09"}, ["Meh support", "Export is broken"]),
        ({"tier": "high_touch"}, ["Great exports", "Love it"]),
    ],
)
def test_verbatims_filter_by_kind_group_search_date_and_tier(
    client_for, manager, book, params, expected
):
    answer(book["acme"], "nps", 10, at(2026, 3, 2), comment="Love it")
    answer(book["beta"], "nps", 1, at(2026, 3, 5), comment="Export is broken")
    answer(book["beta"], "csat", 3, at(2026, 3, 9), comment="Meh support")
    answer(book["acme"], "nps", 9, at(2026, 3, 12), comment="Great exports")

    response = client_for(manager).get(VERBATIMS, params)

    assert [i["answer"].comment for i in response.context["items"]] == expected


def test_verbatims_filter_by_theme_and_segment(client_for, manager, book):
    reporting = Tag.objects.create(name="reporting")
    tagged = answer(book["acme"], "nps", 10, at(2026, 3, 2), comment="Reports rock")
    answer(book["beta"], "nps", 4, at(2026, 3, 3), comment="Slow")
    AnswerTag.objects.create(answer=tagged, tag=reporting)
    scaled = SegmentFactory(name="Scaled", rules={"tiers": ["scaled"]})

    by_tag = client_for(manager).get(VERBATIMS, {"tag": reporting.pk})
    by_segment = client_for(manager).get(VERBATIMS, {"segment": scaled.pk})

    assert [i["answer"].comment for i in by_tag.context["items"]] == ["Reports rock"]
    assert [i["answer"].comment for i in by_segment.context["items"]] == ["Slow"]


def test_a_group_of_another_kind_gets_a_message_beside_the_field(client_for, manager, answers):
    response = client_for(manager).get(VERBATIMS, {"kind": "csat", "group": "promoter"})

    content = response.content.decode()
    assert 'id="id_group_error"' in content
    assert "pick NPS as the kind" in content
    assert 'id="invalid-filters"' in content


def test_a_date_range_ending_before_it_starts_is_refused(client_for, manager, answers):
    response = client_for(manager).get(
        VERBATIMS, {"date_from": "2026-03-10", "date_to": "2026-03-01"}
    )

    assert "The end date is before the start date." in response.content.decode()


def test_verbatims_are_paginated(client_for, manager, book, settings):
    settings.PAGE_SIZE = 2
    for day in range(1, 6):
        answer(book["acme"], "nps", 9, at(2026, 3, day), comment=f"Comment {day}")

    first = client_for(manager).get(VERBATIMS)
    last = client_for(manager).get(VERBATIMS, {"page": 3})

    assert [i["answer"].comment for i in first.context["items"]] == ["Comment 5", "Comment 4"]
    assert [i["answer"].comment for i in last.context["items"]] == ["Comment 1"]
    assert "Page 1 of 3" in first.content.decode()


def test_a_comment_is_shown_as_text_never_run(client_for, manager, book):
    answer(
        book["acme"],
        "nps",
        0,
        at(2026, 3, 2),
        comment='<script>alert("x")</script><img src=x onerror=alert(1)>',
    )
    follow_up(SurveyAnswer.objects.get(), created=at(2026, 3, 2))

    for url in (VERBATIMS, PAGE):
        content = client_for(manager).get(url).content.decode()
        assert '<script>alert("x")' not in content
        assert "<img src=x" not in content
        assert "&lt;script&gt;" in content


# --- Tagging by hand -------------------------------------------------------------------------


def tag_url(row):
    return reverse("feedback:answer_tags", args=[row.pk])


def test_the_owner_tags_their_accounts_answer_with_an_existing_theme(client_for, owner, book):
    Tag.objects.create(name="Reporting")
    row = answer(book["acme"], "nps", 6, at(2026, 3, 2), comment="Reports are slow")

    response = client_for(owner).post(
        tag_url(row), {"name": "  reporting ", "next": VERBATIMS + "?q=slow"}
    )

    assert response.status_code == 302
    assert response["Location"] == VERBATIMS + "?q=slow"
    link = AnswerTag.objects.get()
    assert (link.answer_id, link.tag.name, link.source) == (row.pk, "Reporting", "manual")
    assert Tag.objects.count() == 1


def test_a_csm_cannot_invent_a_theme_and_nothing_changes(client_for, owner, book):
    row = answer(book["acme"], "nps", 6, at(2026, 3, 2), comment="Pricing")

    response = client_for(owner).post(tag_url(row), {"name": "Pricing"})

    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="id_name_error"' in content
    assert "There is no theme called “Pricing”" in content
    assert not Tag.objects.exists()
    assert not AnswerTag.objects.exists()


def test_a_manager_may_create_a_theme_while_tagging(client_for, manager, book):
    row = answer(book["beta"], "nps", 6, at(2026, 3, 2), comment="Pricing")

    client_for(manager).post(tag_url(row), {"name": "Pricing"})

    assert list(row.tags.values_list("name", flat=True)) == ["Pricing"]


def test_tagging_twice_keeps_one_tag_and_a_rule_tag_becomes_manual(client_for, manager, book):
    theme = Tag.objects.create(name="Export")
    row = answer(book["beta"], "nps", 6, at(2026, 3, 2), comment="Export")
    AnswerTag.objects.create(answer=row, tag=theme, source=AnswerTag.Source.RULE)

    client_for(manager).post(tag_url(row), {"name": "export"})
    client_for(manager).post(tag_url(row), {"name": "Export"})

    assert list(AnswerTag.objects.values_list("source", flat=True)) == ["manual"]


def test_the_owner_removes_a_theme(client_for, owner, book):
    theme = Tag.objects.create(name="Export")
    row = answer(book["acme"], "nps", 6, at(2026, 3, 2), comment="Export")
    AnswerTag.objects.create(answer=row, tag=theme)

    response = client_for(owner).post(
        reverse("feedback:answer_tag_delete", args=[row.pk, theme.pk])
    )

    assert response.status_code == 302
    assert not AnswerTag.objects.exists()
    assert Tag.objects.filter(pk=theme.pk).exists()


@pytest.mark.parametrize("who", ["teammate", "outsider", "executive"])
def test_only_those_who_edit_the_account_may_tag_its_answers(client_for, request, book, who):
    theme = Tag.objects.create(name="Export")
    row = answer(book["acme"], "nps", 6, at(2026, 3, 2), comment="Export")
    AnswerTag.objects.create(answer=row, tag=theme)
    user = request.getfixturevalue(who)

    add = client_for(user).post(tag_url(row), {"name": "Export"})
    remove = client_for(user).post(reverse("feedback:answer_tag_delete", args=[row.pk, theme.pk]))
    page = client_for(user).get(tag_url(row))

    assert (add.status_code, remove.status_code, page.status_code) == (404, 404, 404)
    assert AnswerTag.objects.count() == 1


def test_tagging_an_unknown_answer_is_404(client_for, admin_user):
    response = client_for(admin_user).post(
        reverse("feedback:answer_tags", args=[999999]), {"name": "x"}
    )

    assert response.status_code == 404


def test_removing_takes_a_post(client_for, owner, book):
    theme = Tag.objects.create(name="Export")
    row = answer(book["acme"], "nps", 6, at(2026, 3, 2), comment="Export")
    AnswerTag.objects.create(answer=row, tag=theme)

    response = client_for(owner).get(reverse("feedback:answer_tag_delete", args=[row.pk, theme.pk]))

    assert response.status_code == 405
    assert AnswerTag.objects.count() == 1


def test_the_list_offers_tag_editing_only_where_allowed(client_for, owner, executive, book):
    mine = answer(book["acme"], "nps", 6, at(2026, 3, 2), comment="Mine")
    theirs = answer(book["beta"], "nps", 6, at(2026, 3, 3), comment="Teammate's")

    as_owner = client_for(owner).get(VERBATIMS).content.decode()
    as_exec = client_for(executive).get(VERBATIMS).content.decode()

    assert tag_url(mine) in as_owner
    assert tag_url(theirs) not in as_owner
    assert "/tags/" not in as_exec
    assert 'id="theme-names"' not in as_exec


def test_a_redirect_never_leaves_the_site(client_for, owner, book):
    Tag.objects.create(name="Export")
    row = answer(book["acme"], "nps", 6, at(2026, 3, 2), comment="Export")

    response = client_for(owner).post(
        tag_url(row), {"name": "Export", "next": "https://evil.example/"}
    )

    assert response["Location"] == VERBATIMS


# --- Query budgets ---------------------------------------------------------------------------


def make_answers(accounts, count):
    for n in range(count):
        row = answer(
            accounts[n % len(accounts)],
            ["nps", "csat", "ces"][n % 3],
            n % 5 + 1,
            at(2026, 1 + n % 3, 1 + n % 27),
            comment=f"Comment {n}",
        )
        if n % 4 == 0:
            follow_up(row, created=at(2026, 3, 1))


def test_the_overview_runs_the_same_queries_for_few_and_many_answers(
    client_for, manager, owner, django_assert_max_num_queries
):
    SegmentFactory(name="Scaled", rules={"tiers": ["scaled"]})
    accounts = [
        AccountFactory(owner=owner if n % 2 else UserFactory(role=User.Role.CSM)) for n in range(6)
    ]
    client = client_for(manager)
    make_answers(accounts, 3)
    client.get(PAGE)  # warm caches (content types, sessions)
    with django_assert_max_num_queries(30) as few:
        client.get(PAGE)
    make_answers(accounts, 60)
    # session, user, user's team (base.html); segments, teams, CSMs (filter form); KPIs:
    # answers, invitations; trend; distribution; segments + 1 per segment; tier, team, CSM
    # breakdowns; follow-up queue; its count; first-contact count and middle values.
    with django_assert_max_num_queries(20) as many:
        response = client.get(PAGE)

    assert len(few.captured_queries) == len(many.captured_queries)
    assert response.context["queue"].total == 16


def test_the_verbatims_run_the_same_queries_for_few_and_many_answers(
    client_for, owner, manager, django_assert_max_num_queries
):
    Tag.objects.create(name="Export")
    accounts = [AccountFactory(owner=owner) for _ in range(3)]
    client = client_for(owner)
    make_answers(accounts, 3)
    for row in SurveyAnswer.objects.all():
        AnswerTag.objects.create(answer=row, tag=Tag.objects.get())
    client.get(VERBATIMS)
    with django_assert_max_num_queries(20) as few:
        client.get(VERBATIMS)
    make_answers(accounts, 80)
    for row in SurveyAnswer.objects.filter(answer_tags__isnull=True):
        AnswerTag.objects.create(answer=row, tag=Tag.objects.get())
    # session, user, team; segments, teams, CSMs, themes (filter form); count; page; tags of
    # the page; the theme names for the add box.
    with django_assert_max_num_queries(12) as many:
        response = client.get(VERBATIMS)

    assert len(few.captured_queries) == len(many.captured_queries)
    assert response.context["page_obj"].paginator.count == 83
