"""Product requests: themes ranked by the ARR of the distinct accounts that raised them, the
examples quoted, the CSV for the product team (formula-safe), scoping and query budget."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Account
from feedback.metrics import Period
from feedback.models import AnswerTag, Survey, SurveyAnswer, Tag
from feedback.selectors_insights import product_request_examples, product_requests
from tests.factories import AccountFactory, SurveyAnswerFactory

pytestmark = pytest.mark.django_db
PAGE = reverse("feedback:product_requests")
EXPORT = reverse("feedback:product_requests_export")
DAY = dt.date(2026, 3, 15)
UTC = dt.UTC


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr("feedback.views.insights.local_today", lambda: DAY)
    return DAY


def at(year, month, day, hour=12):
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


def account_with_arr(name, owner, arr):
    account = AccountFactory(name=name, owner=owner)
    Account.objects.filter(pk=account.pk).update(arr=Decimal(arr))
    return account


def tagged(account, tags, when, comment="", kind="nps", score=5):
    survey, _ = Survey.objects.get_or_create(
        name=f"{kind} survey", defaults={"kind": kind, "question": "How are we doing?"}
    )
    row = SurveyAnswerFactory(
        survey=survey, account=account, kind=kind, score=score, answered_at=when, comment=comment
    )
    for tag in tags:
        AnswerTag.objects.create(answer=row, tag=tag)
    return row


@pytest.fixture
def themes(db):
    return {
        name: Tag.objects.create(name=name, description=f"About {name}")
        for name in ("export", "performance", "pricing")
    }


@pytest.fixture
def requests_(owner, teammate, outsider, themes):
    """Export: Acme (100k) asked 3 times, Beta (20k) once -> 120k, 2 accounts, 4 answers.
    Performance: Cobalt (150k) once -> 150k, ranked first. Pricing: only 14 months ago ->
    outside the default 12 months. SMB Whale (900k, another team) asked for pricing this
    month: a manager sees it first, an Enterprise CSM never does."""
    acme = account_with_arr("Acme", owner, "100000")
    beta = account_with_arr("Beta", teammate, "20000")
    cobalt = account_with_arr("Cobalt", owner, "150000")
    whale = account_with_arr("SMB Whale", outsider, "900000")
    export, performance, pricing = themes["export"], themes["performance"], themes["pricing"]
    tagged(acme, [export], at(2026, 1, 5), "Export to Excel please")
    tagged(acme, [export], at(2026, 2, 5), "Still no CSV export")
    tagged(acme, [export, performance], at(2026, 3, 1), "Exports are slow")
    tagged(beta, [export], at(2025, 6, 1), '=HYPERLINK("http://evil","x")')
    tagged(cobalt, [performance], at(2025, 9, 9), "")
    tagged(acme, [pricing], at(2025, 1, 20), "Too expensive")
    tagged(whale, [pricing], at(2026, 3, 2), "Whale pricing secret")
    return {"acme": acme, "beta": beta, "cobalt": cobalt, "whale": whale}


def test_themes_rank_by_the_arr_of_distinct_accounts_not_answers(client_for, owner, requests_):
    response = client_for(owner).get(PAGE)

    rows = [(t.name, t.arr, t.accounts, t.answers) for t in response.context["themes"]]
    # Performance: Acme 100k + Cobalt 150k = 250k. Export: Acme once (not 3 times) + Beta.
    assert rows == [
        ("performance", Decimal("250000.00"), 2, 2),
        ("export", Decimal("120000.00"), 2, 4),
    ]
    content = response.content.decode()
    assert "$250,000" in content
    assert "Whale" not in content


def test_a_manager_sees_every_team_and_the_whale_leads(client_for, manager, requests_):
    response = client_for(manager).get(PAGE)

    rows = [(t.name, t.arr, t.accounts) for t in response.context["themes"]]
    # Pricing this period: only the whale (the Acme answer is 14 months old).
    assert rows[0] == ("pricing", Decimal("900000.00"), 1)
    assert [r[0] for r in rows] == ["pricing", "performance", "export"]


def test_a_chosen_period_changes_the_ranking(client_for, owner, requests_):
    response = client_for(owner).get(PAGE, {"date_from": "2025-01-01", "date_to": "2025-12-31"})

    rows = [(t.name, t.arr, t.answers) for t in response.context["themes"]]
    assert rows == [
        ("performance", Decimal("150000.00"), 1),
        ("pricing", Decimal("100000.00"), 1),
        ("export", Decimal("20000.00"), 1),
    ]


def test_examples_are_the_newest_comments_of_each_theme(client_for, owner, requests_):
    response = client_for(owner).get(PAGE)

    themes = {t.name: t for t in response.context["themes"]}
    assert [a.comment for a in themes["export"].examples] == [
        "Exports are slow",
        "Still no CSV export",
        "Export to Excel please",
    ]
    # Cobalt left no comment: only Acme's is quoted.
    assert [a.comment for a in themes["performance"].examples] == ["Exports are slow"]


def test_the_ranking_is_one_query_and_the_examples_another(
    owner, requests_, django_assert_num_queries
):
    answers = SurveyAnswer.objects.all()
    period = Period(dt.date(2025, 4, 1), dt.date(2026, 4, 1))

    with django_assert_num_queries(1):
        rows = product_requests(answers, period=period)
    with django_assert_num_queries(1):
        product_request_examples(answers, period=period, themes=rows)

    assert [t.name for t in rows] == ["pricing", "performance", "export"]
    assert len(rows[2].examples) == 3


def test_the_csv_lists_every_theme_with_formulas_defused(client_for, manager, requests_):
    response = client_for(manager).get(EXPORT)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert (
        'filename="product-requests-2025-04-01-to-2026-03-15.csv"'
        in response["Content-Disposition"]
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "Rank",
        "Theme",
        "Description",
        "Accounts",
        "Answers",
        "ARR",
        "Example 1",
        "Example 2",
        "Example 3",
    ]
    assert rows[1][:6] == ["1", "pricing", "About pricing", "1", "1", "900000.00"]
    assert rows[1][6:] == ["Whale pricing secret", "", ""]
    export = rows[3]
    assert export[:6] == ["3", "export", "About export", "2", "4", "120000.00"]
    # Beta's comment opened with "=": a spreadsheet must show it as text.
    assert export[6:] == [
        "Exports are slow",
        "Still no CSV export",
        "Export to Excel please",
    ]
    assert len(rows) == 4


def test_a_theme_or_comment_that_looks_like_a_formula_is_defused(client_for, owner, themes):
    acme = account_with_arr("Acme", owner, "1000")
    for name, comment in (
        ("=cmd|' /C calc'!A0", "+1 more seat"),
        ("@SUM(A1)", "-2 for support"),
        ("\tTabbed", "\rCarriage"),
    ):
        tagged(acme, [Tag.objects.create(name=name)], at(2026, 3, 2), comment)
    tagged(acme, [themes["export"]], at(2026, 3, 1), '=HYPERLINK("http://evil","x")')

    rows = list(csv.reader(io.StringIO(client_for(owner).get(EXPORT).content.decode())))

    cells = {row[1]: row[6] for row in rows[1:]}
    assert cells == {
        "'=cmd|' /C calc'!A0": "'+1 more seat",
        "'@SUM(A1)": "'-2 for support",
        "'\tTabbed": "'\rCarriage",
        "export": '\'=HYPERLINK("http://evil","x")',
    }


def test_a_csm_csv_holds_only_their_book_and_team(client_for, owner, requests_):
    content = client_for(owner).get(EXPORT).content.decode()

    assert "Whale" not in content
    assert "pricing" not in content


def test_an_empty_period_says_so(client_for, owner, themes):
    response = client_for(owner).get(PAGE)

    content = response.content.decode()
    assert 'id="no-requests"' in content
    assert "No themes in 1 Apr 2025 – 15 Mar 2026" in content


def test_a_range_ending_before_it_starts_is_refused_beside_the_field(client_for, owner, requests_):
    response = client_for(owner).get(PAGE, {"date_from": "2026-03-01", "date_to": "2026-01-01"})

    content = response.content.decode()
    assert 'id="id_date_to_error"' in content
    assert "The end date is before the start date." in content
    assert "themes" not in response.context
    csv_response = client_for(owner).get(
        EXPORT, {"date_from": "2026-03-01", "date_to": "2026-01-01"}
    )
    assert csv_response["Content-Type"].startswith("text/html")


def test_the_page_runs_the_same_queries_for_few_and_many_answers(
    client_for, manager, owner, themes, django_assert_max_num_queries
):
    accounts = [account_with_arr(f"Account {n}", owner, 1000 * n) for n in range(1, 6)]
    client = client_for(manager)

    def make(count):
        for n in range(count):
            tagged(
                accounts[n % 5],
                [themes["export"], themes["pricing"]][: 1 + n % 2],
                at(2026, 1 + n % 3, 1 + n % 14),
                f"Comment {n}",
            )

    make(2)
    client.get(PAGE)
    with django_assert_max_num_queries(12) as few:
        client.get(PAGE)
    make(60)
    # session, user, team; ranking; examples; segments, teams, CSMs (filter form).
    with django_assert_max_num_queries(9) as many:
        response = client.get(PAGE)

    assert len(few.captured_queries) == len(many.captured_queries)
    export = next(t for t in response.context["themes"] if t.name == "export")
    # Every account raised export; ARR 1k + 2k + 3k + 4k + 5k, counted once each.
    assert export.arr == Decimal("15000.00")
    assert export.answers == 62
