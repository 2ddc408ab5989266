"""Initiatives: the windows before and after the start, the difference-in-differences against
the rest of the portfolio worked out by hand, and the pages that record and show them."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Segment, SegmentMembership
from health.models import RetentionSnapshot
from reports.charts_team import initiative_figure
from reports.initiative_effect import (
    Ratio,
    effect_compute,
    effect_texts,
    effect_windows,
    initiative_effect,
    split_company,
)
from reports.models import Initiative, Metric, MetricSnapshot
from tests.factories import (
    AccountFactory,
    SegmentFactory,
    SurveyAnswerFactory,
    SurveyFactory,
    UserFactory,
)

LIST = reverse("reports:initiative_list")
CREATE = reverse("reports:initiative_create")
TODAY = dt.date(2026, 7, 10)


def d(year, month, day=1):
    return dt.date(year, month, day)


# --- Windows ------------------------------------------------------------------------------


def test_a_start_on_the_first_counts_its_month_as_after():
    windows = effect_windows(start_date=d(2026, 4, 1), end_date=None, today=TODAY)

    assert windows.before == [d(2026, 1), d(2026, 2), d(2026, 3)]
    # Up to June, the last complete month: July is still running.
    assert windows.after == [d(2026, 4), d(2026, 5), d(2026, 6)]
    assert windows.chart[0] == d(2025, 10)
    assert windows.chart[-1] == d(2026, 6)


def test_a_month_started_mid_way_belongs_to_neither_window():
    windows = effect_windows(start_date=d(2026, 4, 15), end_date=None, today=TODAY)

    assert windows.before == [d(2026, 1), d(2026, 2), d(2026, 3)]
    assert windows.after == [d(2026, 5), d(2026, 6)]


def test_after_stops_at_the_month_the_initiative_ended():
    windows = effect_windows(start_date=d(2026, 2, 1), end_date=d(2026, 4, 20), today=TODAY)

    assert windows.after == [d(2026, 2), d(2026, 3), d(2026, 4)]
    # The chart runs on three months past the end to show what stayed.
    assert windows.chart[-1] == d(2026, 6)


def test_no_after_window_before_a_full_month_has_passed():
    windows = effect_windows(start_date=d(2026, 7, 1), end_date=None, today=TODAY)
    assert windows.after == []
    assert windows.first_after == d(2026, 7)


# --- The difference-in-differences --------------------------------------------------------


def nps_ratio(nps, answers):
    """NPS x answers = 100 x (promoters - detractors)."""
    return Ratio(Decimal(nps * answers), Decimal(answers))


def test_the_difference_in_differences_of_the_issues_example():
    # Segment: 12 before (Jan 50 answers at 12, Feb none, Mar 50 at 12), 31 after (Apr-Jun,
    # 100 answers each at 31). Rest: 20 before, 22 after.
    # (31 - 12) - (22 - 20) = 19 - 2 = +17.
    segment = {
        d(2026, 1): nps_ratio(12, 50),
        d(2026, 3): nps_ratio(12, 50),
        d(2026, 4): nps_ratio(31, 100),
        d(2026, 5): nps_ratio(31, 100),
        d(2026, 6): nps_ratio(31, 100),
    }
    rest = {month: nps_ratio(20, 100) for month in (d(2026, 1), d(2026, 2), d(2026, 3))}
    rest |= {month: nps_ratio(22, 100) for month in (d(2026, 4), d(2026, 5), d(2026, 6))}

    effect = effect_compute(
        metric=Metric.NPS,
        segment_name="Scaled tier",
        start_date=d(2026, 4, 1),
        end_date=None,
        today=TODAY,
        segment=segment,
        rest=rest,
    )

    assert (effect.segment_before, effect.segment_after) == (Decimal("12.0"), Decimal("31.0"))
    assert (effect.rest_before, effect.rest_after) == (Decimal("20.0"), Decimal("22.0"))
    assert effect.difference_in_differences == Decimal("17.0")
    assert effect.favours_segment is True
    assert effect.sentence == (
        "NPS in Scaled tier rose from 12 to 31 after the start while the rest moved from 20 "
        "to 22: a difference-in-differences of +17. Higher is better for NPS, so this is in "
        "the segment's favour."
    )
    assert effect_texts(effect)["did"] == "+17"


def test_a_window_pools_its_months_answers_not_their_scores():
    # Segment before: Jan 10 answers at NPS 0, Mar 30 answers at NPS 40 -> (0 + 1200) / 40 =
    # 30, not the 20 a mean of the two scores would give.
    segment = {d(2026, 1): nps_ratio(0, 10), d(2026, 3): nps_ratio(40, 30)}
    effect = effect_compute(
        metric=Metric.NPS,
        segment_name="S",
        start_date=d(2026, 4, 1),
        end_date=None,
        today=TODAY,
        segment=segment,
        rest={},
    )
    assert effect.segment_before == Decimal("30.0")
    assert effect.difference_in_differences is None
    assert effect.sentence.startswith("Not enough data to compare")


def test_lower_logo_churn_reads_in_the_segments_favour():
    # Logo churn: segment 4 of 100 -> 2 of 100, rest 3 of 100 both times: (2 - 4) - 0 = -2.
    segment = {
        d(2026, 3): Ratio(Decimal(4), Decimal(100)),
        d(2026, 4): Ratio(Decimal(2), Decimal(100)),
    }
    rest = {
        d(2026, 3): Ratio(Decimal(3), Decimal(100)),
        d(2026, 4): Ratio(Decimal(3), Decimal(100)),
    }
    effect = effect_compute(
        metric=Metric.LOGO_CHURN,
        segment_name="Scaled",
        start_date=d(2026, 4, 1),
        end_date=d(2026, 4, 30),
        today=TODAY,
        segment=segment,
        rest=rest,
    )
    assert effect.difference_in_differences == Decimal("-2.0")
    assert effect.favours_segment is True
    assert effect.sentence == (
        "Logo churn in Scaled fell from 4 % to 2 % after the start while the rest stayed at "
        "3 %: a difference-in-differences of −2 pts. Lower is better for Logo churn, so this "
        "is in the segment's favour."
    )


def test_the_rest_is_the_company_less_the_segment():
    # Company NRR parts 297,000 of 300,000; segment 96,000 of 100,000 ->
    # rest 201,000 of 200,000 = 100.5 %.
    month = d(2026, 1)
    company = {month: Ratio(Decimal(297000), Decimal(300000))}
    segment = {month: Ratio(Decimal(96000), Decimal(100000))}
    rest = split_company(Metric.NRR, company, segment)
    assert rest[month].value(Metric.NRR) == Decimal("100.5")
    # Activity per week: the weeks are the month's, not company weeks less segment weeks.
    weeks = Decimal(31) / 7
    company = {month: Ratio(Decimal(62), weeks)}
    segment = {month: Ratio(Decimal(31), weeks)}
    rest = split_company(Metric.INTERACTIONS_PER_WEEK, company, segment)
    assert rest[month].value(Metric.INTERACTIONS_PER_WEEK) == Decimal("7.0")


def test_a_future_initiative_says_when_it_can_be_read():
    effect = effect_compute(
        metric=Metric.NPS,
        segment_name="S",
        start_date=d(2026, 9, 15),
        end_date=None,
        today=TODAY,
        segment={},
        rest={},
    )
    assert effect.sentence == (
        "The initiative starts on 15 Sep 2026; its effect can be read after its first full "
        "month, Oct 2026."
    )


def test_the_chart_has_two_lines_and_a_start_marker():
    figure = initiative_figure(
        months=[d(2026, 3), d(2026, 4)],
        segment=[Decimal("12"), Decimal("31")],
        rest=[Decimal("20"), None],
        segment_label="<i>Scaled</i>",
        metric_label="NPS",
        start=d(2026, 4, 1),
    )
    segment, rest = figure["data"]
    assert segment["name"] == "&lt;i&gt;Scaled&lt;/i&gt;"
    assert segment["y"] == [12.0, 31.0]
    assert rest["y"] == [20.0, None]
    (start,) = figure["layout"]["shapes"]
    assert start["x0"] == start["x1"] == "2026-04-01"


# --- From the database --------------------------------------------------------------------


def retention(month, scope, key, *, start, expansion=0, churned=0):
    RetentionSnapshot.objects.create(
        month=month,
        scope=scope,
        scope_key=key,
        start_arr=start,
        expansion_arr=expansion,
        churned_arr=churned,
    )


@pytest.mark.django_db
def test_nrr_effect_from_the_retention_snapshots(manager):
    # Before (Jan-Mar), each month: company 300,000 +3,000 -6,000; segment 100,000 -4,000.
    #   segment 96,000 / 100,000 = 96.0; rest (300,000 - 100,000 = 200,000 opening,
    #   297,000 - 96,000 = 201,000 kept) = 100.5.
    # After (Apr-Jun): company 300,000 +9,000 -3,000; segment 100,000 +5,000.
    #   segment 105.0; rest 201,000 / 200,000 = 100.5.
    # (105 - 96) - (100.5 - 100.5) = +9.0 points.
    segment = SegmentFactory(name="Scaled")
    key = str(segment.pk)
    for month in (d(2026, 1), d(2026, 2), d(2026, 3)):
        retention(month, "company", "", start=300000, expansion=3000, churned=6000)
        retention(month, "segment", key, start=100000, churned=4000)
    for month in (d(2026, 4), d(2026, 5), d(2026, 6)):
        retention(month, "company", "", start=300000, expansion=9000, churned=3000)
        retention(month, "segment", key, start=100000, expansion=5000)
    # July is still running: left out even though its snapshot exists.
    retention(d(2026, 7), "segment", key, start=100000, churned=100000)
    retention(d(2026, 7), "company", "", start=300000)
    initiative = Initiative.objects.create(
        name="QBRs for all", segment=segment, start_date=d(2026, 4, 1), metric=Metric.NRR
    )

    effect = initiative_effect(initiative=initiative, today=TODAY)

    assert (effect.segment_before, effect.segment_after) == (Decimal("96.0"), Decimal("105.0"))
    assert (effect.rest_before, effect.rest_after) == (Decimal("100.5"), Decimal("100.5"))
    assert effect.difference_in_differences == Decimal("9.0")
    assert effect.sentence.startswith(
        "NRR in Scaled rose from 96 % to 105 % after the start while the rest stayed at "
        "100.5 %: a difference-in-differences of +9 pts."
    )
    # The chart's months run from October to June; March and April carry the values.
    months = effect.months
    assert effect.segment_series[months.index(d(2026, 3))] == Decimal("96.0")
    assert effect.rest_series[months.index(d(2026, 4))] == Decimal("100.5")
    assert effect.segment_series[months.index(d(2025, 12))] is None


@pytest.mark.django_db
def test_average_health_weighs_months_by_their_accounts():
    # MetricSnapshot avg_health with count = accounts scored. March: company 60 over 40
    # accounts (2,400), segment 45 over 10 (450) -> rest 1,950 / 30 = 65.0.
    # April: company 62 over 40 (2,480), segment 56 over 10 (560) -> rest 1,920 / 30 = 64.0.
    # (56 - 45) - (64 - 65) = +12.
    segment = SegmentFactory(name="Onboarding")
    rows = [
        (d(2026, 3), "company", "", 60, 40),
        (d(2026, 3), "segment", str(segment.pk), 45, 10),
        (d(2026, 4), "company", "", 62, 40),
        (d(2026, 4), "segment", str(segment.pk), 56, 10),
    ]
    for month, scope, key, value, count in rows:
        MetricSnapshot.objects.create(
            month=month, scope=scope, scope_key=key, metric="avg_health", value=value, count=count
        )
    initiative = Initiative.objects.create(
        name="Health calls",
        segment=segment,
        start_date=d(2026, 4, 1),
        end_date=d(2026, 4, 30),
        metric=Metric.AVG_HEALTH,
    )

    effect = initiative_effect(initiative=initiative, today=TODAY)

    assert (effect.rest_before, effect.rest_after) == (Decimal("65.0"), Decimal("64.0"))
    assert effect.difference_in_differences == Decimal("12.0")


def answer(account, survey, score, day):
    SurveyAnswerFactory(
        survey=survey,
        account=account,
        score=score,
        answered_at=dt.datetime.combine(day, dt.time(12), tzinfo=timezone.get_current_timezone()),
    )


@pytest.fixture
def nps_portfolio(owner):
    """A static segment of two accounts and two accounts outside it, with NPS answers.

    Segment, March: 9, 6, 7, 10 -> (2 - 1) / 4 = 25.0; May: 9, 10, 10, 6 -> (3 - 1) / 4 = 50.0.
    Rest, March: 9, 6 -> 0.0; May: 9, 6, 6, 7 -> (1 - 2) / 4 = -25.0.
    (50 - 25) - (-25 - 0) = +50.
    """
    segment = Segment.objects.create(name="Webinar invitees", kind=Segment.Kind.STATIC)
    inside = [AccountFactory(owner=owner), AccountFactory(owner=owner)]
    outside = [AccountFactory(owner=owner), AccountFactory(owner=owner)]
    for account in inside:
        SegmentMembership.objects.create(segment=segment, account=account)
    survey = SurveyFactory(kind="nps")
    for score, account in zip([9, 6, 7, 10], inside * 2, strict=True):
        answer(account, survey, score, d(2026, 3, 10))
    for score, account in zip([9, 10, 10, 6], inside * 2, strict=True):
        answer(account, survey, score, d(2026, 5, 10))
    for score, account in zip([9, 6], outside, strict=True):
        answer(account, survey, score, d(2026, 3, 12))
    for score, account in zip([9, 6, 6, 7], outside * 2, strict=True):
        answer(account, survey, score, d(2026, 5, 12))
    # A CSAT answer is not an NPS answer.
    answer(inside[0], SurveyFactory(kind="csat"), 1, d(2026, 5, 12))
    return Initiative.objects.create(
        name="Onboarding webinars",
        description="Monthly webinars for new admins.",
        segment=segment,
        start_date=d(2026, 4, 1),
        end_date=d(2026, 5, 31),
        owner=owner,
        metric=Metric.NPS,
    )


@pytest.mark.django_db
def test_nps_effect_counts_the_answers_of_the_segment_and_of_everyone_else(nps_portfolio):
    effect = initiative_effect(initiative=nps_portfolio, today=TODAY)

    assert (effect.segment_before, effect.segment_after) == (Decimal("25.0"), Decimal("50.0"))
    assert (effect.rest_before, effect.rest_after) == (Decimal("0.0"), Decimal("-25.0"))
    assert effect.difference_in_differences == Decimal("50.0")
    assert effect.sentence == (
        "NPS in Webinar invitees rose from 25 to 50 after the start while the rest moved from "
        "0 to −25: a difference-in-differences of +50. Higher is better for NPS, so this is in "
        "the segment's favour."
    )


# --- Pages --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr("reports.views.initiatives.local_today", lambda: TODAY)
    return TODAY


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["owner", "outsider", "executive", "manager"])
def test_every_role_reads_an_initiative(request, client_for, nps_portfolio, persona):
    client = client_for(request.getfixturevalue(persona))

    listing = client.get(LIST)
    detail = client.get(reverse("reports:initiative_detail", args=[nps_portfolio.pk]))

    assert "Onboarding webinars" in listing.content.decode()
    html = detail.content.decode()
    assert "a difference-in-differences of +50" in html
    assert 'id="initiative-chart"' in html
    assert "Jan–Mar 2026" in html  # the before window
    assert "Apr–May 2026" in html  # the after window


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["owner", "executive"])
def test_csms_and_executives_cannot_record_or_change_initiatives(
    request, client_for, nps_portfolio, persona
):
    client = client_for(request.getfixturevalue(persona))
    edit = reverse("reports:initiative_edit", args=[nps_portfolio.pk])

    assert client.get(CREATE).status_code == 403
    assert client.post(CREATE, {"name": "Mine"}).status_code == 403
    assert client.post(edit, {"name": "Renamed"}).status_code == 403
    assert Initiative.objects.get().name == "Onboarding webinars"


@pytest.mark.django_db
def test_a_manager_records_an_initiative(client_for, manager, owner):
    segment = SegmentFactory(name="Scaled tier")
    response = client_for(manager).post(
        CREATE,
        {
            "name": "Onboarding webinars for the scaled tier",
            "description": "",
            "segment": segment.pk,
            "metric": "nps",
            "start_date": "2026-04-01",
            "end_date": "",
            "owner": owner.pk,
        },
    )
    initiative = Initiative.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:initiative_detail", args=[initiative.pk])
    assert (initiative.segment, initiative.metric, initiative.owner) == (segment, "nps", owner)
    assert initiative.end_date is None


@pytest.mark.django_db
def test_an_end_before_the_start_is_refused_beside_the_field(client_for, manager, nps_portfolio):
    edit = reverse("reports:initiative_edit", args=[nps_portfolio.pk])
    response = client_for(manager).post(
        edit,
        {
            "name": "Onboarding webinars",
            "segment": nps_portfolio.segment_id,
            "metric": "nps",
            "start_date": "2026-04-01",
            "end_date": "2026-03-01",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["end_date"] == [
        "The end date cannot be before the start date."
    ]
    assert Initiative.objects.get().end_date == d(2026, 5, 31)


@pytest.mark.django_db
def test_a_missing_metric_is_asked_for(client_for, manager):
    segment = SegmentFactory()
    response = client_for(manager).post(
        CREATE, {"name": "X", "segment": segment.pk, "start_date": "2026-04-01"}
    )
    assert "Choose the metric the initiative should move." in response.content.decode()
    assert not Initiative.objects.exists()


@pytest.mark.django_db
def test_an_unknown_initiative_is_404(client_for, manager):
    response = client_for(manager).get(reverse("reports:initiative_detail", args=[999]))
    assert response.status_code == 404


@pytest.mark.django_db
def test_the_empty_list_invites_a_manager(client_for, manager, owner):
    assert "No initiatives yet" in client_for(manager).get(LIST).content.decode()


@pytest.mark.django_db
def test_the_initiative_page_runs_a_fixed_number_of_queries(
    client_for, manager, nps_portfolio, django_assert_max_num_queries
):
    client = client_for(manager)
    # Session, user, the initiative with its segment and owner, the grouped answers.
    with django_assert_max_num_queries(5):
        client.get(reverse("reports:initiative_detail", args=[nps_portfolio.pk]))
    for _ in range(20):
        AccountFactory(owner=UserFactory())
    with django_assert_max_num_queries(5):
        client.get(reverse("reports:initiative_detail", args=[nps_portfolio.pk]))


@pytest.mark.django_db
def test_the_list_runs_a_fixed_number_of_queries(
    client_for, manager, owner, django_assert_max_num_queries
):
    for i in range(12):
        Initiative.objects.create(
            name=f"Program {i}",
            segment=SegmentFactory(),
            start_date=d(2026, 1, 1),
            owner=owner,
            metric="nrr",
        )
    client = client_for(manager)
    # Session, user, the count and the page of initiatives with their segments and owners.
    with django_assert_max_num_queries(4):
        response = client.get(LIST)
    assert len(response.context["rows"]) == 12
