"""The account list's faster reads show what the slower ones showed: the filter bar's options
(plain-string <select>s, the industries read along their index), the page read by its ids,
and the cells formatted in Python rather than by template filters."""

import datetime as dt
from decimal import Decimal

import pytest
from django import forms
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext

from accounts.filters import PlainSelect, industries_of, industries_sql
from accounts.models import Account
from accounts.selectors.account_list import account_rows, day_text, whole_dollars
from tests.factories import AccountFactory, SegmentFactory, TeamFactory, UserFactory

LIST = "/accounts/"
EXPORT = "/accounts/export.csv"


def _names(response) -> list[str]:
    return [row.account.name for row in response.context["rows"]]


# --- The filter bar ---


def test_a_plain_select_prints_what_djangos_select_prints():
    choices = [("", "Anyone"), ("7", "Ann & Bo <ops>"), ("12", 'Zoë "Z" O\'Neil')]
    attrs = {"id": "id_owner", "aria-invalid": "true", "aria-describedby": "id_owner_error"}

    ours = PlainSelect(load_options=lambda: choices).render("owner", "12", attrs)
    django = forms.Select(choices=choices).render("owner", "12", attrs)

    assert ours == (
        '<select name="owner" id="id_owner" aria-invalid="true" '
        'aria-describedby="id_owner_error">'
        '\n  <option value="">Anyone</option>'
        '\n  <option value="7">Ann &amp; Bo &lt;ops&gt;</option>'
        '\n  <option value="12" selected>Zoë &quot;Z&quot; O&#x27;Neil</option>'
        "\n</select>"
    )
    # Django's template puts a blank line between options; nothing else differs.
    assert ours == django.replace("\n\n", "\n")


def test_a_plain_select_marks_the_empty_choice_when_nothing_is_chosen():
    widget = PlainSelect(choices=[("", "Any tier"), ("scaled", "Scaled")])

    html = widget.render("tier", None)

    assert '<option value="" selected>Any tier</option>' in html
    assert '<option value="scaled">Scaled</option>' in html


@pytest.mark.django_db
def test_the_owner_options_are_people_by_name_with_the_chosen_one_selected(client_for, manager):
    zed = UserFactory(username="zed", first_name="Zed", last_name="Adams")
    amy = UserFactory(username="amy", first_name="Amy", last_name="Zhu")
    nameless = UserFactory(username="ghost", first_name="", last_name="")
    for person in (zed, amy, nameless):
        AccountFactory(owner=person)
    UserFactory(username="idle", first_name="Idle", last_name="Person")  # owns nothing

    html = client_for(manager).get(LIST, {"owner": zed.pk}).content.decode()

    select = html[
        html.index('<select name="owner"') : html.index("</select>", html.index('name="owner"'))
    ]
    assert select.split("\n  ")[1:] == [
        '<option value="">Anyone</option>',
        # first name, last name, username: "ghost" has no name, so it sorts first and shows
        # the username.
        f'<option value="{nameless.pk}">ghost</option>',
        f'<option value="{amy.pk}">Amy Zhu</option>',
        f'<option value="{zed.pk}" selected>Zed Adams</option>\n',
    ]


@pytest.mark.django_db
def test_segment_and_team_options_are_sorted_by_name(client_for, manager):
    SegmentFactory(name="Renewing soon", rules={})
    SegmentFactory(name="At risk", rules={})
    TeamFactory(name="SMB")  # the manager's own team is "Enterprise"

    html = client_for(manager).get(LIST).content.decode()

    assert html.index(">At risk<") < html.index(">Renewing soon<")
    assert html.index(">Enterprise<") < html.index(">SMB<")
    assert '<option value="" selected>Any segment</option>' in html


@pytest.mark.django_db
def test_the_industries_are_those_of_the_given_accounts_sorted_without_blanks(
    owner, teammate, outsider
):
    AccountFactory(owner=owner, industry="Retail")
    AccountFactory(owner=teammate, industry="Banking")
    AccountFactory(owner=teammate, industry="Retail")
    AccountFactory(owner=outsider, industry="Mining")
    AccountFactory(owner=outsider, industry="Agriculture")
    AccountFactory(owner=owner, industry="")

    assert industries_of(Account.objects.all()) == ["Agriculture", "Banking", "Mining", "Retail"]
    assert industries_of(Account.objects.visible_to(owner)) == ["Banking", "Retail"]
    assert industries_of(Account.objects.visible_to(outsider)) == ["Agriculture", "Mining"]
    assert industries_of(Account.objects.filter(industry="Nothing")) == []
    assert industries_of(Account.objects.none()) == []


@pytest.mark.django_db
def test_an_industry_from_another_team_is_not_a_valid_choice_for_a_csm(client_for, owner, outsider):
    AccountFactory(owner=owner, industry="Retail")
    AccountFactory(owner=outsider, industry="Mining")

    response = client_for(owner).get(LIST, {"industry": "Mining"})

    assert response.context["rows"] == []
    assert "Select a valid choice" in response.content.decode()


@pytest.mark.django_db
def test_the_export_reads_no_option_list(client_for, manager, owner):
    AccountFactory(owner=owner)

    with CaptureQueriesContext(connection) as queries:
        response = client_for(manager).get(EXPORT)
        b"".join(response.streaming_content)

    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert 'FROM "accounts_segment"' not in sql
    assert 'FROM "accounts_team"' not in sql
    assert 'FROM "accounts_user" WHERE EXISTS' not in sql


# --- The page, read by its ids ---


@pytest.fixture
def small_pages(settings):
    settings.PAGE_SIZE = 2


@pytest.mark.django_db
@pytest.mark.usefixtures("small_pages")
@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        # Equal ARRs keep creation order (the id breaks ties); empty scores and renewals go
        # last both ways.
        ("-arr", ["E", "B", "C", "A", "D"]),
        ("arr", ["D", "A", "B", "C", "E"]),
        ("health", ["C", "A", "E", "B", "D"]),
        ("-health", ["E", "A", "C", "B", "D"]),
        ("renewal", ["D", "B", "A", "C", "E"]),
        ("-renewal", ["A", "B", "D", "C", "E"]),
        ("name", ["A", "B", "C", "D", "E"]),
    ],
)
def test_every_page_holds_the_next_rows_of_the_sort(client_for, manager, owner, sort, expected):
    today = dt.date.today()
    rows = [
        ("A", "500", 60, today + dt.timedelta(days=90)),
        ("B", "900", None, today + dt.timedelta(days=10)),
        ("C", "900", 20, None),
        ("D", "100", None, today + dt.timedelta(days=5)),
        ("E", "2000", 75, None),
    ]
    for name, arr, score, renewal in rows:
        AccountFactory(
            name=name, owner=owner, arr=Decimal(arr), health_score=score, renewal_date=renewal
        )
    client = client_for(manager)

    pages = [client.get(LIST, {"sort": sort, "page": n}) for n in (1, 2, 3)]

    assert [_names(page) for page in pages] == [expected[0:2], expected[2:4], expected[4:5]]
    assert pages[2].context["page_obj"].paginator.count == 5
    assert "5–5 of 5" in pages[2].content.decode()


@pytest.mark.django_db
@pytest.mark.usefixtures("small_pages")
def test_a_filtered_page_never_shows_rows_outside_the_csms_book(client_for, owner, outsider):
    for n in range(3):
        AccountFactory(name=f"Mine {n}", owner=owner, industry="Retail")
        AccountFactory(name=f"Theirs {n}", owner=outsider, industry="Retail")
    client = client_for(owner)

    first = client.get(LIST, {"industry": "Retail"})
    second = client.get(LIST, {"industry": "Retail", "page": "2"})

    assert _names(first) == ["Mine 0", "Mine 1"]
    assert _names(second) == ["Mine 2"]
    assert first.context["page_obj"].paginator.count == 3


@pytest.mark.django_db
def test_a_csms_count_holds_their_own_accounts_lent_to_another_team(client_for, owner, outsider):
    # Owned by the owner but booked on the SMB team: visible to the owner as their own.
    AccountFactory(name="Lent", owner=owner, team=outsider.team)
    AccountFactory(name="Mine", owner=owner)
    AccountFactory(name="Team's", owner=None, team=owner.team)
    AccountFactory(name="Theirs", owner=outsider)

    response = client_for(owner).get(LIST)

    assert _names(response) == ["Lent", "Mine", "Team's"]
    assert "3 accounts" in response.content.decode()


# --- The cells ---


@pytest.mark.parametrize(
    "amount", ["0", "999.49", "999.50", "1000", "12345.50", "12344.50", "1234567.89"]
)
def test_whole_dollars_prints_what_floatformat_and_intcomma_printed(amount):
    template = Template("{% load humanize %}{{ v|floatformat:0|intcomma }}")

    assert whole_dollars(Decimal(amount)) == template.render(Context({"v": Decimal(amount)}))


def test_whole_dollars_rounds_half_up_and_groups_thousands():
    assert whole_dollars(Decimal("12345.50")) == "12,346"
    assert whole_dollars(Decimal("1234567.49")) == "1,234,567"
    assert whole_dollars(Decimal("0.00")) == "0"


@pytest.mark.parametrize("day", [dt.date(2026, 1, 5), dt.date(2026, 5, 31), dt.date(2025, 9, 15)])
def test_day_text_prints_what_the_date_filter_printed(day):
    assert day_text(day) == Template('{{ d|date:"j M Y" }}').render(Context({"d": day}))


def test_day_text_is_empty_without_a_day():
    assert day_text(None) == ""
    assert day_text(dt.date(2026, 1, 15)) == "15 Jan 2026"


@pytest.mark.parametrize("risk", ["0.0000", "0.0200", "0.1250", "0.4100", "0.4150", "0.9999"])
def test_the_risk_percent_is_what_widthratio_printed(risk):
    account = Account(pk=1, name="A", arr=Decimal("0"), tier="scaled", lifecycle_status="active")
    account.churn_risk = Decimal(risk)

    [row] = account_rows([account], today=dt.date(2026, 5, 20))

    template = Template("{% widthratio v 1 100 %}")
    assert row.risk_percent == template.render(Context({"v": Decimal(risk)}))


def test_the_cells_of_a_row():
    account = Account(
        pk=42,
        name="Acme",
        arr=Decimal("12345.50"),
        tier="high_touch",
        lifecycle_status="onboarding",
        renewal_date=dt.date(2026, 6, 14),
        health_score=None,
        health_band="",
        churn_risk=Decimal("0.4100"),
        last_interaction_on=None,
    )

    [row] = account_rows([account], today=dt.date(2026, 5, 20))

    assert (row.url, row.owner, row.team, row.tier, row.lifecycle) == (
        "/accounts/42/",
        "Unassigned",
        "—",
        "High-touch",
        "Onboarding",
    )
    assert (row.arr, row.renewal, row.renewal_when, row.days_to_renewal) == (
        "12,346",
        "14 Jun 2026",
        "in 25 days",
        25,
    )
    assert (row.band_label, row.risk_percent, row.last_interaction) == ("—", "41", "")


# --- PostgreSQL plans ---

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the list's extra indexes are PostgreSQL-only"
)


def _plan(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        # A test table is tiny and read whole (or through bitmaps); forbid that to see which
        # index the query fits.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(line for (line,) in cursor.fetchall())


@postgres_only
@pytest.mark.django_db
def test_a_csms_count_fits_an_index_only_scan(owner):
    AccountFactory(owner=owner)
    visible = Account.objects.visible_to(owner)

    sql, params = visible.order_by().values("pk").query.sql_with_params()
    plan = _plan(f"SELECT COUNT(*) FROM ({sql}) counted", list(params))

    assert "Index Only Scan using account_owner_team_idx" in plan


@postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("narrow", "index"),
    [({"tier": "scaled"}, "account_tier_idx"), ({"industry": "Retail"}, "account_industry_idx")],
)
def test_a_managers_count_of_one_tier_or_industry_fits_an_index_only_scan(owner, narrow, index):
    AccountFactory(owner=owner, industry="Retail")

    sql, params = Account.objects.filter(**narrow).order_by().values("pk").query.sql_with_params()
    plan = _plan(f"SELECT COUNT(*) FROM ({sql}) counted", list(params))

    assert f"Index Only Scan using {index}" in plan


@postgres_only
@pytest.mark.django_db
def test_the_industries_hop_along_the_industry_index(owner):
    AccountFactory(owner=owner, industry="Retail")

    sql, params = industries_sql(Account.objects.visible_to(owner))
    plan = _plan(sql, list(params))

    assert "Index Only Scan using account_industry_idx" in plan
