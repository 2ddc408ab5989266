"""Targets: the period helpers, the pure evaluation of actual against target (boundary
included), period actuals from monthly snapshots, and the pages that set and list targets."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from health.models import RetentionSnapshot
from reports.models import Metric, MetricSnapshot, Scope, Target
from reports.services_targets import target_create
from reports.targets import (
    Actual,
    ReportPeriod,
    Status,
    is_period_start,
    months_label,
    retention_actual,
    snapshot_actual,
    target_for,
    target_status,
)
from tests.factories import SegmentFactory

TODAY = dt.date(2026, 7, 10)
LIST = reverse("reports:target_list")
CREATE = reverse("reports:target_create")


def retention_row(month, **figures):
    fields = {
        "cohort_accounts": 0,
        "churned_accounts": 0,
        "start_arr": Decimal("0"),
        "expansion_arr": Decimal("0"),
        "contraction_arr": Decimal("0"),
        "churned_arr": Decimal("0"),
        "contracts_due": 0,
        "contracts_renewed": 0,
        "due_arr": Decimal("0"),
        "renewed_arr": Decimal("0"),
        "arr_at_risk": Decimal("0"),
    }
    fields.update({k: Decimal(v) if isinstance(v, str) else v for k, v in figures.items()})
    return SimpleNamespace(month=month, **fields)


def snapshot_row(month, value, count=0):
    return SimpleNamespace(
        month=month, value=None if value is None else Decimal(value), count=count
    )


# --- Periods ------------------------------------------------------------------------------


def test_a_quarter_key_parses_to_its_first_day_months_and_label():
    quarter = ReportPeriod.parse("2026-Q2")

    assert quarter.start == dt.date(2026, 4, 1)
    assert quarter.end == dt.date(2026, 7, 1)
    assert quarter.months == [dt.date(2026, 4, 1), dt.date(2026, 5, 1), dt.date(2026, 6, 1)]
    assert quarter.label == "Q2 2026"
    assert quarter.key == "2026-Q2"


def test_previous_periods_cross_year_boundaries():
    assert ReportPeriod.parse("2026-Q1").previous() == ReportPeriod.parse("2025-Q4")
    assert ReportPeriod.parse("2026-01").previous().label == "Dec 2025"
    assert ReportPeriod.parse("2026-06").year_before().label == "Jun 2025"
    assert ReportPeriod.parse("2026").previous().label == "2025"


def test_bad_period_keys_are_refused():
    for key in ("2026-13", "2026-Q5", "June", "26-06", ""):
        with pytest.raises(ValueError, match="not a month"):
            ReportPeriod.parse(key)


def test_a_period_must_start_on_its_first_day():
    assert is_period_start("quarter", dt.date(2026, 4, 1))
    assert not is_period_start("quarter", dt.date(2026, 5, 1))
    assert not is_period_start("month", dt.date(2026, 5, 2))
    assert is_period_start("year", dt.date(2026, 1, 1))
    assert not is_period_start("year", dt.date(2026, 7, 1))
    with pytest.raises(ValueError, match="does not start a quarter"):
        ReportPeriod(dt.date(2026, 5, 1), "quarter")


def test_weeks_of_a_running_period_count_the_days_so_far():
    june = ReportPeriod.parse("2026-06")
    # 1-14 June: 14 days, 2 weeks; a finished June: 30 days.
    assert june.weeks_until(dt.date(2026, 6, 14)) == 2
    assert june.days_until(dt.date(2026, 7, 3)) == 30
    assert june.days_until(dt.date(2026, 5, 31)) == 0


def test_a_month_lies_in_its_quarter_and_year():
    enclosing = ReportPeriod.parse("2026-05").enclosing()
    assert [(p.kind, p.start) for p in enclosing] == [
        ("month", dt.date(2026, 5, 1)),
        ("quarter", dt.date(2026, 4, 1)),
        ("year", dt.date(2026, 1, 1)),
    ]


def test_months_label_spans():
    assert months_label([dt.date(2026, 4, 1)]) == "Apr 2026"
    assert months_label([dt.date(2026, 4, 1), dt.date(2026, 6, 1)]) == "Apr–Jun 2026"
    assert months_label([dt.date(2025, 11, 1), dt.date(2026, 1, 1)]) == "Nov 2025–Jan 2026"


# --- Evaluation ---------------------------------------------------------------------------


def test_an_actual_on_the_boundary_of_at_least_is_on_track():
    # NRR 110.0 against a target of at least 110: met.
    assert (
        target_status(direction="gte", target=Decimal("110"), actual=Decimal("110.0"))
        == Status.ON_TRACK
    )
    assert (
        target_status(direction="gte", target=Decimal("110"), actual=Decimal("109.9"))
        == Status.OFF_TRACK
    )


def test_an_at_most_target_is_met_at_or_below_its_value():
    assert target_status(direction="lte", target=Decimal("2"), actual=Decimal("2.0")) == "on_track"
    assert target_status(direction="lte", target=Decimal("2"), actual=Decimal("2.1")) == "off_track"


def test_no_actual_is_no_data_not_off_track():
    assert target_status(direction="gte", target=Decimal("40"), actual=None) == Status.NO_DATA


def test_a_month_nrr_comes_from_its_bridge():
    # (100,000 + 15,000 - 3,000 - 2,000) / 100,000 = 110.0 %; GRR (100,000 - 5,000) = 95.0 %.
    june = ReportPeriod.parse("2026-06")
    rows = [
        retention_row(
            dt.date(2026, 6, 1),
            start_arr="100000",
            expansion_arr="15000",
            contraction_arr="3000",
            churned_arr="2000",
        )
    ]
    assert retention_actual(Metric.NRR, rows, period=june, today=TODAY) == Actual(
        Decimal("110.0"), "Jun 2026"
    )
    assert retention_actual(Metric.GRR, rows, period=june, today=TODAY).value == Decimal("95.0")


def test_a_quarter_from_months_opens_with_its_first_month_and_sums_the_movements():
    # Start ARR of April 100,000; expansion 5,000 + 10,000; churn 5,000 in May:
    # (100,000 + 15,000 - 5,000) / 100,000 = 110.0 %. Logo churn 1 of the 10 in April's cohort.
    q2 = ReportPeriod.parse("2026-Q2")
    rows = [
        retention_row(
            dt.date(2026, 4, 1), start_arr="100000", expansion_arr="5000", cohort_accounts=10
        ),
        retention_row(
            dt.date(2026, 5, 1),
            start_arr="105000",
            churned_arr="5000",
            cohort_accounts=11,
            churned_accounts=1,
        ),
        retention_row(
            dt.date(2026, 6, 1), start_arr="100000", expansion_arr="10000", cohort_accounts=10
        ),
    ]
    assert retention_actual(Metric.NRR, rows, period=q2, today=TODAY).value == Decimal("110.0")
    assert retention_actual(Metric.LOGO_CHURN, rows, period=q2, today=TODAY).value == Decimal(
        "10.0"
    )


def test_a_quarter_uses_its_own_cohort_rows_when_the_nightly_job_wrote_them():
    # quarter:start_arr 200,000 over 20 accounts, +30,000 -5,000 -5,000 (1 account):
    # NRR 220,000 / 200,000 = 110.0; 3 of 4 due renewed = 75.0; 1 of 20 churned = 5.0.
    q2 = ReportPeriod.parse("2026-Q2")
    april = dt.date(2026, 4, 1)
    parts = {
        "start_arr": snapshot_row(april, "200000", 20),
        "expansion_arr": snapshot_row(april, "30000"),
        "contraction_arr": snapshot_row(april, "5000"),
        "churned_arr": snapshot_row(april, "5000", 1),
        "due_arr": snapshot_row(april, "50000", 4),
        "renewed_arr": snapshot_row(april, "25000", 3),
    }
    months = [retention_row(april, start_arr="1")]  # months alone would say something else

    def actual(metric):
        return retention_actual(metric, months, period=q2, today=TODAY, quarter_parts=parts)

    assert actual(Metric.NRR).value == Decimal("110.0")
    assert actual(Metric.RENEWAL_RATE).value == Decimal("75.0")
    assert actual(Metric.LOGO_CHURN).value == Decimal("5.0")
    assert "own cohort" in actual(Metric.NRR).basis


def test_quarter_nps_weighs_each_month_by_its_answers():
    # April: 10 answers, NPS 20 (promoters - detractors = 2); May: 30 answers, NPS 50 (15);
    # June: none. (2 + 15) / 40 = 42.5.
    q2 = ReportPeriod.parse("2026-Q2")
    rows = [
        snapshot_row(dt.date(2026, 4, 1), "20", 10),
        snapshot_row(dt.date(2026, 5, 1), "50", 30),
        snapshot_row(dt.date(2026, 6, 1), None, 0),
    ]
    actual = snapshot_actual(Metric.NPS, rows, period=q2, today=TODAY)
    assert actual.value == Decimal("42.5")
    assert actual.basis == "Apr–May 2026, 40 answers"


def test_a_quarter_level_is_its_last_month_with_data_and_says_so():
    q2 = ReportPeriod.parse("2026-Q2")
    rows = [
        snapshot_row(dt.date(2026, 4, 1), "60", 10),
        snapshot_row(dt.date(2026, 5, 1), "70", 10),
        snapshot_row(dt.date(2026, 6, 1), None, 0),
    ]
    actual = snapshot_actual(Metric.AVG_HEALTH, rows, period=q2, today=TODAY)
    assert actual == Actual(Decimal("70.0"), "as of May 2026, the last month with data")


def test_activity_per_week_divides_the_months_counts_by_the_weeks():
    # June 2026 is over: 30 interactions over 30 days = 30 / (30/7) = 7.0 a week.
    june = ReportPeriod.parse("2026-06")
    rows = [snapshot_row(dt.date(2026, 6, 1), "30", 30)]
    assert snapshot_actual(
        Metric.INTERACTIONS_PER_WEEK, rows, period=june, today=TODAY
    ).value == Decimal("7.0")


def _target(metric, scope, key, period, start, value):
    return Target(
        metric=metric, scope=scope, scope_key=key, period=period, period_start=start, value=value
    )


def test_a_csms_own_target_comes_before_their_teams_before_the_companys():
    june = ReportPeriod.parse("2026-06")
    company = _target("nps", "company", "", "quarter", dt.date(2026, 4, 1), 30)
    team = _target("nps", "team", "7", "month", dt.date(2026, 6, 1), 40)
    csm = _target("nps", "csm", "3", "year", dt.date(2026, 1, 1), 50)
    targets = [company, team, csm]

    def found(keys):
        return target_for(targets, metric="nps", period=june, scope_keys=keys)

    assert found({"csm": "3", "team": "7", "company": ""}) == (csm, "csm")
    assert found({"csm": "4", "team": "7", "company": ""}) == (team, "team")
    assert found({"csm": "5", "team": "8", "company": ""}) == (company, "company")
    # A target of another month does not apply.
    may = ReportPeriod.parse("2026-05")
    assert target_for([team], metric="nps", period=may, scope_keys={"team": "7"}) is None


# --- Services -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_quarter_target_must_start_on_the_quarters_first_day(manager):
    with pytest.raises(ValidationError) as error:
        target_create(
            metric=Metric.NRR,
            direction="gte",
            value=Decimal("110"),
            period="quarter",
            period_start=dt.date(2026, 5, 1),
            scope=Scope.COMPANY,
            created_by=manager,
        )
    assert "first day of the quarter" in str(error.value.message_dict["period_start"])
    assert not Target.objects.exists()


@pytest.mark.django_db
def test_the_service_refuses_a_duplicate(manager):
    fields = {
        "metric": Metric.NPS,
        "direction": "gte",
        "period": "year",
        "period_start": dt.date(2026, 1, 1),
        "scope": Scope.COMPANY,
        "created_by": manager,
    }
    target_create(value=Decimal("40"), **fields)
    with pytest.raises(ValidationError, match="already a target"):
        target_create(value=Decimal("45"), **fields)
    assert Target.objects.get().value == Decimal("40")


# --- Pages --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr("reports.views.targets.local_today", lambda: TODAY)
    return TODAY


def form_data(**overrides):
    data = {
        "metric": "nrr",
        "direction": "gte",
        "value": "110",
        "period": "quarter",
        "year": "2026",
        "quarter": "4",
        "month": "",
        "scope": "company",
        "team": "",
        "csm": "",
        "segment": "",
        "note": "Board goal",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_a_manager_sets_nrr_at_least_110_for_2026_q4(client_for, manager):
    response = client_for(manager).post(CREATE, form_data())

    assert response.status_code == 302
    target = Target.objects.get()
    assert (target.metric, target.direction, target.value) == ("nrr", "gte", Decimal("110.00"))
    assert (target.period, target.period_start) == ("quarter", dt.date(2026, 10, 1))
    assert (target.scope, target.scope_key, target.created_by) == ("company", "", manager)


@pytest.mark.django_db
def test_a_duplicate_target_gets_a_friendly_error_and_changes_nothing(client_for, manager):
    client = client_for(manager)
    client.post(CREATE, form_data())

    response = client.post(CREATE, form_data(value="120"))

    assert response.status_code == 200
    assert "There is already a target for NRR % over Q4 2026" in response.content.decode()
    assert "Nothing was saved" in response.content.decode()
    assert list(Target.objects.values_list("value", flat=True)) == [Decimal("110.00")]


@pytest.mark.django_db
def test_a_monthly_target_without_its_month_is_marked_beside_the_field(client_for, manager):
    response = client_for(manager).post(CREATE, form_data(period="month", month=""))

    assert response.status_code == 200
    assert response.context["form"].errors["month"] == ["Choose the month of a monthly target."]
    assert not Target.objects.exists()


@pytest.mark.django_db
def test_a_team_target_needs_its_team(client_for, manager, enterprise_team):
    client = client_for(manager)
    response = client.post(CREATE, form_data(scope="team"))
    assert response.context["form"].errors["team"] == ["Choose the team this target is for."]

    client.post(CREATE, form_data(scope="team", team=str(enterprise_team.pk)))
    assert Target.objects.get().scope_key == str(enterprise_team.pk)


@pytest.mark.django_db
def test_a_segment_target_keeps_the_segment_id(client_for, manager):
    segment = SegmentFactory(name="Scaled tier")
    client_for(manager).post(
        CREATE, form_data(scope="segment", segment=str(segment.pk), metric="nps", value="40")
    )
    assert Target.objects.get().scope_key == str(segment.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["owner", "executive"])
def test_csms_and_executives_cannot_set_change_or_remove_targets(request, client_for, persona):
    user = request.getfixturevalue(persona)
    target = Target.objects.create(
        metric="nps", period="year", period_start=dt.date(2026, 1, 1), value=40
    )
    client = client_for(user)

    assert client.get(CREATE).status_code == 403
    assert client.post(CREATE, form_data()).status_code == 403
    edit = reverse("reports:target_edit", args=[target.pk])
    assert client.post(edit, form_data(value="1")).status_code == 403
    delete = reverse("reports:target_delete", args=[target.pk])
    assert client.post(delete).status_code == 403
    assert Target.objects.get().value == Decimal("40.00")


@pytest.mark.django_db
def test_a_manager_changes_and_removes_a_target(client_for, manager):
    client = client_for(manager)
    client.post(CREATE, form_data())
    target = Target.objects.get()

    edit = reverse("reports:target_edit", args=[target.pk])
    assert client.get(edit).context["form"].initial["quarter"] == 4
    client.post(edit, form_data(value="115"))
    assert Target.objects.get().value == Decimal("115.00")

    delete = reverse("reports:target_delete", args=[target.pk])
    assert "Remove this target?" in client.get(delete).content.decode()
    client.post(delete)
    assert not Target.objects.exists()


@pytest.mark.django_db
def test_the_list_shows_actual_against_target_from_the_snapshots(client_for, manager, owner):
    # June 2026, company: (100,000 + 15,000 - 3,000 - 2,000) / 100,000 = NRR 110.0 %,
    # GRR 95.0 %; NPS 25 from 8 answers. Today is 10 July, so June is over.
    june = dt.date(2026, 6, 1)
    RetentionSnapshot.objects.create(
        month=june,
        scope="company",
        scope_key="",
        start_arr=100000,
        expansion_arr=15000,
        contraction_arr=3000,
        churned_arr=2000,
    )
    MetricSnapshot.objects.create(
        month=june, scope="company", scope_key="", metric="nps", value=25, count=8
    )
    month = {"period": "month", "period_start": june}
    at_least_110 = Target.objects.create(metric="nrr", value=110, **month)
    grr_at_least_96 = Target.objects.create(metric="grr", value=96, **month)
    nps_at_least_30 = Target.objects.create(metric="nps", value=30, **month)
    owners_nps = Target.objects.create(
        metric="nps", value=10, scope="csm", scope_key=str(owner.pk), **month
    )

    response = client_for(manager).get(LIST)

    rows = {row.target.pk: row for row in response.context["rows"]}
    assert rows[at_least_110.pk].actual.value == Decimal("110.0")
    assert rows[at_least_110.pk].status == "on_track"
    assert rows[grr_at_least_96.pk].actual.value == Decimal("95.0")
    assert rows[grr_at_least_96.pk].status == "off_track"
    assert rows[nps_at_least_30.pk].actual.value == Decimal("25.0")
    assert rows[nps_at_least_30.pk].status == "off_track"
    # No snapshot for the owner: no data, not off track.
    assert rows[owners_nps.pk].status == "no_data"
    assert rows[owners_nps.pk].scope_label == f"CSM: {owner}"
    html = response.content.decode()
    assert "110.0 %" in html
    assert "On track" in html


@pytest.mark.django_db
def test_a_csm_sees_the_companys_and_their_teams_targets_only(
    client_for, owner, teammate, outsider, enterprise_team, smb_team
):
    year = {"period": "year", "period_start": dt.date(2026, 1, 1), "metric": "nps"}
    company = Target.objects.create(value=40, **year)
    own_team = Target.objects.create(
        value=45, scope="team", scope_key=str(enterprise_team.pk), **year
    )
    teammates = Target.objects.create(value=50, scope="csm", scope_key=str(teammate.pk), **year)
    other_team = Target.objects.create(value=35, scope="team", scope_key=str(smb_team.pk), **year)
    outsiders = Target.objects.create(value=30, scope="csm", scope_key=str(outsider.pk), **year)

    client = client_for(owner)
    shown = {row.target.pk for row in client.get(LIST).context["rows"]}

    assert shown == {company.pk, own_team.pk, teammates.pk}
    assert other_team.pk not in shown
    assert outsiders.pk not in shown


@pytest.mark.django_db
def test_the_empty_list_invites_a_manager_to_set_one(client_for, manager):
    html = client_for(manager).get(LIST).content.decode()
    assert "No targets yet" in html
    assert CREATE in html


@pytest.mark.django_db
def test_the_target_list_runs_a_fixed_number_of_queries(
    client_for, manager, owner, enterprise_team, django_assert_max_num_queries
):
    segment = SegmentFactory(name="Scaled")
    for index, (scope, key) in enumerate(
        [
            ("company", ""),
            ("team", str(enterprise_team.pk)),
            ("csm", str(owner.pk)),
            ("segment", str(segment.pk)),
        ]
    ):
        for metric in ("nrr", "nps", "avg_health", "interactions_per_week"):
            Target.objects.create(
                metric=metric,
                value=index,
                period="quarter",
                period_start=dt.date(2026, 4, 1),
                scope=scope,
                scope_key=key,
            )
    client = client_for(manager)
    # Session and user, count and page of targets, three scope names, two snapshot reads.
    with django_assert_max_num_queries(10):
        response = client.get(LIST)
    assert len(response.context["rows"]) == 16
