"""The account list (/accounts/) and its CSV export: filters, sorting, pagination, query budget."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, Segment
from tests.factories import AccountFactory, SegmentFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/accounts/"
EXPORT = "/accounts/export.csv"


def _names(response) -> list[str]:
    return [row.account.name for row in response.context["rows"]]


BLANKS = ["", "", "", "", ""]


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def today():
    return timezone.localdate()


# --- Sorting ---


def test_sorting_by_descending_arr_puts_the_largest_accounts_first(client_for, manager, owner):
    AccountFactory(name="Alpha", owner=owner, arr=Decimal("5000"))
    AccountFactory(name="Beta", owner=owner, arr=Decimal("20000"))
    AccountFactory(name="Gamma", owner=owner, arr=Decimal("12000.50"))
    AccountFactory(name="Delta", owner=owner, arr=Decimal("0"))

    response = client_for(manager).get(LIST, {"sort": "-arr"})

    assert _names(response) == ["Beta", "Gamma", "Alpha", "Delta"]
    assert response.context["sort"] == "-arr"


def test_sorting_by_ascending_arr_reverses_the_order(client_for, manager, owner):
    AccountFactory(name="Alpha", owner=owner, arr=Decimal("5000"))
    AccountFactory(name="Beta", owner=owner, arr=Decimal("20000"))
    AccountFactory(name="Delta", owner=owner, arr=Decimal("0"))

    response = client_for(manager).get(LIST, {"sort": "arr"})

    assert _names(response) == ["Delta", "Alpha", "Beta"]


def test_accounts_without_a_value_sort_last_in_both_directions(client_for, manager, owner, today):
    AccountFactory(name="Unscored", owner=owner, health_score=None)
    AccountFactory(name="Healthy", owner=owner, health_score=82, health_band="green")
    AccountFactory(name="Sick", owner=owner, health_score=31, health_band="red")
    AccountFactory(name="Soon", owner=owner, renewal_date=today + dt.timedelta(days=5))
    AccountFactory(name="Later", owner=owner, renewal_date=today + dt.timedelta(days=200))
    client = client_for(manager)

    # Ties among the accounts without a value keep creation order (the pk tie-breaker).
    assert _names(client.get(LIST, {"sort": "health"})) == [
        "Sick",
        "Healthy",
        "Unscored",
        "Soon",
        "Later",
    ]
    assert _names(client.get(LIST, {"sort": "-health"})) == [
        "Healthy",
        "Sick",
        "Unscored",
        "Soon",
        "Later",
    ]
    assert _names(client.get(LIST, {"sort": "renewal"})) == [
        "Soon",
        "Later",
        "Unscored",
        "Healthy",
        "Sick",
    ]
    assert _names(client.get(LIST, {"sort": "-renewal"})) == [
        "Later",
        "Soon",
        "Unscored",
        "Healthy",
        "Sick",
    ]


def test_sorting_by_last_interaction_shows_the_most_recent_first(client_for, manager, owner):
    AccountFactory(name="Never", owner=owner, last_interaction_on=None)
    AccountFactory(name="Old", owner=owner, last_interaction_on=dt.date(2025, 3, 1))
    AccountFactory(name="Recent", owner=owner, last_interaction_on=dt.date(2026, 1, 10))

    response = client_for(manager).get(LIST, {"sort": "-last_interaction"})

    assert _names(response) == ["Recent", "Old", "Never"]


def test_an_unknown_sort_falls_back_to_name(client_for, manager, owner):
    AccountFactory(name="Zeta", owner=owner)
    AccountFactory(name="Acme", owner=owner)

    response = client_for(manager).get(LIST, {"sort": "owner__password"})

    assert response.status_code == 200
    assert response.context["sort"] == "name"
    assert _names(response) == ["Acme", "Zeta"]


def test_column_headings_link_to_the_flipped_sort_and_keep_the_filters(client_for, manager, owner):
    AccountFactory(owner=owner, industry="Retail")

    response = client_for(manager).get(LIST, {"sort": "-arr", "industry": "Retail"})

    columns = {c["label"]: c for c in response.context["columns"]}
    assert columns["ARR"]["direction"] == "desc"
    assert columns["ARR"]["next"] == "arr"
    assert columns["Account"]["next"] == "name"
    html = response.content.decode()
    assert 'href="?sort=arr&amp;industry=Retail"' in html


# --- Filters ---


def test_renewal_window_of_30_days_includes_25_days_and_excludes_45(
    client_for, manager, owner, today
):
    AccountFactory(name="In 25", owner=owner, renewal_date=today + dt.timedelta(days=25))
    AccountFactory(name="In 45", owner=owner, renewal_date=today + dt.timedelta(days=45))
    AccountFactory(name="Lapsed", owner=owner, renewal_date=today - dt.timedelta(days=3))
    AccountFactory(name="Today", owner=owner, renewal_date=today)
    AccountFactory(name="No date", owner=owner, renewal_date=None)
    client = client_for(manager)

    assert _names(client.get(LIST, {"renewal": "30"})) == ["In 25", "Today"]
    assert _names(client.get(LIST, {"renewal": "60"})) == ["In 25", "In 45", "Today"]


def test_search_matches_part_of_the_name_in_any_case(client_for, manager, owner):
    AccountFactory(name="Acme Corp", owner=owner)
    AccountFactory(name="Big ACME Labs", owner=owner)
    AccountFactory(name="Globex", owner=owner)

    response = client_for(manager).get(LIST, {"q": " acme "})

    assert _names(response) == ["Acme Corp", "Big ACME Labs"]


def test_filters_by_tier_industry_lifecycle_and_band(client_for, manager, owner, today):
    AccountFactory(
        name="Target",
        owner=owner,
        tier=Account.Tier.HIGH_TOUCH,
        industry="Retail",
        lifecycle_status=Account.Lifecycle.ONBOARDING,
        health_score=35,
        health_band="red",
    )
    AccountFactory(name="Wrong tier", owner=owner, tier=Account.Tier.SCALED, industry="Retail")
    AccountFactory(name="Wrong industry", owner=owner, tier=Account.Tier.HIGH_TOUCH)
    AccountFactory(
        name="Churned",
        owner=owner,
        tier=Account.Tier.HIGH_TOUCH,
        industry="Retail",
        lifecycle_status=Account.Lifecycle.CHURNED,
        churned_on=today,
    )
    client = client_for(manager)

    response = client.get(
        LIST,
        {"tier": "high_touch", "industry": "Retail", "lifecycle": "onboarding", "band": "red"},
    )

    assert _names(response) == ["Target"]
    assert _names(client.get(LIST, {"tier": "high_touch", "industry": "Retail"})) == [
        "Churned",
        "Target",
    ]
    assert _names(client.get(LIST, {"lifecycle": "churned"})) == ["Churned"]


def test_the_no_score_band_lists_accounts_the_nightly_job_has_not_scored(
    client_for, manager, owner
):
    AccountFactory(name="Scored", owner=owner, health_score=75, health_band="green")
    AccountFactory(name="Fresh", owner=owner, health_score=None)

    response = client_for(manager).get(LIST, {"band": "none"})

    assert _names(response) == ["Fresh"]
    assert "No score" in response.content.decode()


def test_filters_by_owner_and_by_team(client_for, manager, owner, teammate, outsider):
    AccountFactory(name="Owner's", owner=owner)
    AccountFactory(name="Teammate's", owner=teammate)
    AccountFactory(name="Outsider's", owner=outsider)
    client = client_for(manager)

    assert _names(client.get(LIST, {"owner": teammate.pk})) == ["Teammate's"]
    assert _names(client.get(LIST, {"team": outsider.team_id})) == ["Outsider's"]
    assert _names(client.get(LIST, {"team": owner.team_id})) == ["Owner's", "Teammate's"]


def test_industry_choices_are_the_distinct_industries_of_visible_accounts(
    client_for, owner, outsider
):
    AccountFactory(owner=owner, industry="Retail")
    AccountFactory(owner=owner, industry="Retail")
    AccountFactory(owner=owner, industry="")
    AccountFactory(owner=owner, industry="Banking")
    AccountFactory(owner=outsider, industry="Mining")

    response = client_for(owner).get(LIST)

    choices = [value for value, _ in response.context["filterset"].form.fields["industry"].choices]
    assert choices == ["", "Banking", "Retail"]


def test_a_rule_segment_and_a_static_segment_filter_the_list(client_for, manager, owner):
    AccountFactory(name="Big", owner=owner, arr=Decimal("90000"))
    small = AccountFactory(name="Small", owner=owner, arr=Decimal("1000"))
    AccountFactory(name="Medium", owner=owner, arr=Decimal("20000"))
    large = SegmentFactory(name="Large", rules={"arr_min": "50000"})
    picked = SegmentFactory(name="Picked", kind=Segment.Kind.STATIC)
    picked.members.add(small)
    client = client_for(manager)

    assert _names(client.get(LIST, {"segment": large.pk})) == ["Big"]
    assert _names(client.get(LIST, {"segment": picked.pk})) == ["Small"]


def test_an_unknown_filter_value_shows_a_message_and_no_rows(client_for, manager, owner):
    AccountFactory(owner=owner)

    response = client_for(manager).get(LIST, {"tier": "platinum"})

    assert response.context["rows"] == []
    html = response.content.decode()
    assert "Select a valid choice" in html
    assert "No accounts match these filters" in html


def test_the_empty_state_without_filters_says_there_are_no_accounts(client_for, owner):
    response = client_for(owner).get(LIST)

    html = response.content.decode()
    assert "No accounts yet" in html
    assert 'id="account-table"' not in html


# --- Pagination ---


def test_page_two_shows_the_rows_after_the_first_fifty(client_for, manager, owner):
    for n in range(1, 56):
        AccountFactory(name=f"Customer {n:03d}", owner=owner, industry="Retail")
    AccountFactory(name="Customer 000 other industry", owner=owner, industry="Banking")
    client = client_for(manager)

    first = client.get(LIST, {"industry": "Retail"})
    second = client.get(LIST, {"industry": "Retail", "page": "2"})

    assert len(first.context["rows"]) == 50
    assert _names(first)[-1] == "Customer 050"
    assert _names(second) == [f"Customer {n:03d}" for n in range(51, 56)]
    assert second.context["page_obj"].paginator.count == 55
    assert 'href="?industry=Retail&amp;page=2"' in first.content.decode()
    assert "51–55 of 55" in second.content.decode()


def test_a_page_past_the_end_shows_the_last_page(client_for, manager, owner):
    for n in range(3):
        AccountFactory(name=f"Customer {n}", owner=owner)

    response = client_for(manager).get(LIST, {"page": "99"})

    assert _names(response) == ["Customer 0", "Customer 1", "Customer 2"]


# --- Page furniture ---


def test_columns_show_money_renewal_health_and_last_interaction(client_for, manager, owner, today):
    AccountFactory(
        name="Acme Corp",
        owner=owner,
        arr=Decimal("12345.00"),
        renewal_date=today + dt.timedelta(days=25),
        health_score=64,
        health_band="yellow",
        last_interaction_on=dt.date(2026, 1, 15),
    )

    html = client_for(manager).get(LIST).content.decode()

    assert "$12,345" in html
    assert "in 25 days" in html
    assert '64 <span class="band band-yellow">Yellow</span>' in html
    assert "15 Jan 2026" in html
    assert str(owner) in html


def test_managers_and_admins_get_a_new_account_button_and_csms_do_not(
    client_for, manager, admin_user, owner, executive
):
    assert "/accounts/new/" in client_for(manager).get(LIST).content.decode()
    assert "/accounts/new/" in client_for(admin_user).get(LIST).content.decode()
    assert "/accounts/new/" not in client_for(owner).get(LIST).content.decode()
    assert "/accounts/new/" not in client_for(executive).get(LIST).content.decode()


def test_the_export_link_carries_the_current_filters_and_sort(client_for, manager, owner):
    AccountFactory(owner=owner, industry="Retail")

    response = client_for(manager).get(LIST, {"industry": "Retail", "sort": "-arr", "page": "1"})

    assert 'href="/accounts/export.csv?industry=Retail&amp;sort=-arr"' in response.content.decode()


def test_the_list_runs_the_same_queries_whatever_the_number_of_rows(
    client_for, owner, teammate, django_assert_max_num_queries
):
    def make(count: int) -> None:
        for n in range(count):
            AccountFactory(owner=owner if n % 2 else teammate, industry=f"Industry {n % 3}")

    client = client_for(owner)
    make(5)
    with CaptureQueriesContext(connection) as few:
        client.get(LIST, {"sort": "-arr"})
    make(55)
    # session, user with team; owners, teams, segments, industries, journey stages (filter
    # form); count and rows (page).
    with django_assert_max_num_queries(9) as many:
        response = client.get(LIST, {"sort": "-arr"})

    assert len(response.context["rows"]) == 50
    assert len(few.captured_queries) == len(many.captured_queries)

    # A filled-in owner/team/segment adds one validation lookup each, no more.
    with django_assert_max_num_queries(11):
        client.get(LIST, {"owner": teammate.pk, "team": owner.team_id, "page": "2"})


# --- CSV export ---


def test_the_export_has_the_header_and_exactly_the_filtered_rows_in_order(
    client_for, manager, owner, today
):
    team = owner.team
    AccountFactory(
        name="Beta",
        external_id="B-1",
        owner=owner,
        industry="Retail",
        tier=Account.Tier.HIGH_TOUCH,
        arr=Decimal("20000"),
        renewal_date=today + dt.timedelta(days=10),
        health_score=72,
        health_band="green",
        last_interaction_on=dt.date(2026, 1, 2),
    )
    AccountFactory(name="Alpha", external_id="A-1", owner=owner, industry="Retail", arr=5000)
    AccountFactory(name="Other", external_id="O-1", owner=owner, industry="Banking", arr=90000)

    response = client_for(manager).get(EXPORT, {"industry": "Retail", "sort": "-arr"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="accounts-{today:%Y-%m-%d}.csv"'
    )
    rows = _csv(response)
    assert rows[0] == [
        "external_id",
        "name",
        "owner",
        "team",
        "tier",
        "industry",
        "lifecycle_status",
        "arr",
        "renewal_date",
        "days_to_renewal",
        "health_score",
        "health_band",
        "last_interaction_on",
    ]
    assert rows[1:] == [
        [
            "B-1",
            "Beta",
            str(owner),
            team.name,
            "high_touch",
            "Retail",
            "active",
            "20000.00",
            (today + dt.timedelta(days=10)).isoformat(),
            "10",
            "72",
            "green",
            "2026-01-02",
        ],
        # No renewal, no score, no interaction: blank cells, not "None".
        ["A-1", "Alpha", str(owner), team.name, "scaled", "Retail", "active", "5000.00", *BLANKS],
    ]


def test_the_export_contains_every_page_not_just_the_first(client_for, manager, owner):
    for n in range(1, 121):
        AccountFactory(name=f"Customer {n:03d}", owner=owner)

    rows = _csv(client_for(manager).get(EXPORT, {"page": "2"}))

    assert len(rows) == 1 + 120
    assert [row[1] for row in rows[1:4]] == ["Customer 001", "Customer 002", "Customer 003"]


def test_the_export_defuses_spreadsheet_formulas(client_for, manager, owner):
    AccountFactory(name='=HYPERLINK("http://evil.example","Click")', owner=owner, arr=3)
    AccountFactory(name="+1 Telecom", owner=owner, arr=2, industry="@SUM(A1:A9)")
    AccountFactory(name="-Minus", owner=owner, arr=1, external_id="\tTAB")
    AccountFactory(name="Plain - name", owner=owner, arr=0, renewal_date=dt.date(2000, 1, 1))

    rows = _csv(client_for(manager).get(EXPORT, {"sort": "-arr"}))

    assert rows[1][1] == '\'=HYPERLINK("http://evil.example","Click")'
    assert rows[2][1] == "'+1 Telecom"
    assert rows[2][5] == "'@SUM(A1:A9)"
    assert rows[3][0] == "'\tTAB"
    assert rows[3][1] == "'-Minus"
    assert rows[4][1] == "Plain - name"
    # A renewal in the past is a negative number of days: it stays a number.
    assert int(rows[4][9]) < 0


def test_an_unowned_account_exports_blank_owner_and_team(client_for, manager):
    AccountFactory(name="Orphan", owner=None, team=None)

    rows = _csv(client_for(manager).get(EXPORT))

    assert rows[1][1:4] == ["Orphan", "", ""]


def test_the_export_reads_the_rows_in_one_query(
    client_for, manager, owner, django_assert_max_num_queries
):
    other_team = TeamFactory(name="Mid-market")
    other = UserFactory(username="mid", team=other_team)
    for n in range(30):
        AccountFactory(owner=owner if n % 2 else other)
    client = client_for(manager)

    # session, user with team, industries and journey stages (filter form), rows; and the
    # audit entry recording the export.
    with django_assert_max_num_queries(6):
        rows = _csv(client.get(EXPORT))
    assert len(rows) == 31


def test_the_journey_stage_filter_and_not_started(client_for, manager, owner):
    from journeys.models import Stage
    from journeys.services import journey_start

    onboarding = AccountFactory(name="In onboarding", owner=owner)
    adopting = AccountFactory(name="In adoption", owner=owner)
    AccountFactory(name="Never placed", owner=owner)
    journey_start(account=onboarding, stage=Stage.objects.get(slug="onboarding"), by=manager)
    journey_start(account=adopting, stage=Stage.objects.get(slug="adoption"), by=manager)
    client = client_for(manager)

    adoption_id = Stage.objects.get(slug="adoption").pk
    rows = client.get(f"/accounts/?stage={adoption_id}").context["rows"]
    assert [row.account.name for row in rows] == ["In adoption"]
    rows = client.get("/accounts/?stage=none").context["rows"]
    names = [row.account.name for row in rows]
    assert names == ["Never placed"]


def test_the_list_sorts_by_churn_risk_highest_first(client_for, manager, owner):
    AccountFactory(name="Low", owner=owner, churn_risk=Decimal("0.0200"))
    AccountFactory(name="High", owner=owner, churn_risk=Decimal("0.4100"))
    AccountFactory(name="Unknown", owner=owner, churn_risk=None)
    response = client_for(manager).get("/accounts/?sort=-risk")
    assert [row.account.name for row in response.context["rows"]] == ["High", "Low", "Unknown"]
    assert 'data-risk="0.4100">41 %' in response.content.decode()
