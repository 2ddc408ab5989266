""" "My book" reads its work lists narrowly and hands the template ready strings: the book's
summary added up from its live rows, overdue tasks and late milestones as ready lines, and
the journeys read from the book's accounts, completions only for milestones past their
target. Same numbers, same HTML, fewer queries.

Today is Sunday 15 March 2026. Onboarding's milestones: kickoff 7/14 days, setup 21/35,
training 30/45 (target/stuck); adoption's: key features 60/90, QBR 90/120, expansion
150/210. Journeys start at 09:00 local time.

  Cedar   adoption since 1 Dec 2025    key features stuck 44; QBR behind 14
  Acme    onboarding since 21 Feb      kickoff stuck 15; setup behind 1
  Birch   onboarding since 21 Feb      kickoff done; setup behind 1
  Twin ×2 onboarding since 1 Mar       kickoff behind 7 (today is its last behind day)
  Gone    churned, onboarding 1 Jan    no rows
  Dune    no journey
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, Task
from feedback.models import FollowUp, Survey
from journeys import selectors as journey_selectors
from journeys.models import Milestone, Stage
from journeys.selectors import current_journeys, milestones_overdue, stages_ordered
from journeys.services import journey_start, milestone_complete
from reports.selectors_dashboards import (
    book_summary,
    comment_cell,
    day_label,
    detractors_awaiting,
    milestone_lines,
    overdue_tasks_for,
)
from tests.factories import AccountFactory, SurveyAnswerFactory, SurveyFactory, TaskFactory

TODAY = dt.date(2026, 3, 15)
MY_BOOK = "/my-book/"
KICKOFF, SETUP = "Kickoff call held", "Technical setup complete"
FEATURES, QBR = "Key features in regular use", "First business review (QBR) held"


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setattr("reports.views.dashboards.local_today", lambda: TODAY)
    return TODAY


def _enter(account: Account, slug: str, day: dt.date) -> None:
    journey_start(
        account=account,
        stage=Stage.objects.get(slug=slug),
        by=None,
        at=timezone.make_aware(dt.datetime(day.year, day.month, day.day, 9)),
    )


@pytest.fixture
def journeys_book(owner, teammate) -> dict[str, Account]:
    names = ("Cedar", "Acme", "Birch", "Twin", "Twin", "Gone", "Dune")
    made = [AccountFactory(name=name, owner=owner, arr=Decimal("1000")) for name in names]
    cedar, acme, birch, twin_a, twin_b, gone, _dune = made
    _enter(cedar, "adoption", dt.date(2025, 12, 1))
    _enter(acme, "onboarding", dt.date(2026, 2, 21))
    _enter(birch, "onboarding", dt.date(2026, 2, 21))
    milestone_complete(
        account=birch, milestone=Milestone.objects.get(name=KICKOFF), by=owner, at=timezone.now()
    )
    _enter(twin_a, "onboarding", dt.date(2026, 3, 1))
    _enter(twin_b, "onboarding", dt.date(2026, 3, 1))
    _enter(gone, "onboarding", dt.date(2026, 1, 1))
    Account.objects.filter(pk=gone.pk).update(
        lifecycle_status=Account.Lifecycle.CHURNED, churned_on=dt.date(2026, 2, 1)
    )
    # In the owner's team but not in the owner's book.
    _enter(AccountFactory(name="Teammate's", owner=teammate), "onboarding", dt.date(2026, 1, 1))
    return {"cedar": cedar, "acme": acme, "birch": birch, "twin_a": twin_a, "twin_b": twin_b}


def _book(owner):
    return Account.objects.visible_to(owner).filter(owner=owner)


EXPECTED_LATE = [
    ("Cedar", FEATURES, "stuck", 44),
    ("Acme", KICKOFF, "stuck", 15),
    ("Cedar", QBR, "behind", 14),
    # Equal names break their tie by account, the older first.
    ("Twin", KICKOFF, "behind", 7),
    ("Twin", KICKOFF, "behind", 7),
    ("Acme", SETUP, "behind", 1),
    ("Birch", SETUP, "behind", 1),
]


def _listed(overdue) -> list[tuple[str, str, str, int]]:
    return [(r.account_name, r.milestone_name, r.status.value, r.days_late) for r in overdue.rows]


# --- Journeys ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_current_journeys_reads_the_books_live_accounts_with_a_journey(owner, journeys_book):
    rows = current_journeys(_book(owner))

    onboarding = Stage.objects.get(slug="onboarding")
    adoption = Stage.objects.get(slug="adoption")
    assert sorted((r.account_name, r.stage_id, r.entered_on, r.owner_name) for r in rows) == [
        ("Acme", onboarding.pk, dt.date(2026, 2, 21), str(owner)),
        ("Birch", onboarding.pk, dt.date(2026, 2, 21), str(owner)),
        ("Cedar", adoption.pk, dt.date(2025, 12, 1), str(owner)),
        ("Twin", onboarding.pk, dt.date(2026, 3, 1), str(owner)),
        ("Twin", onboarding.pk, dt.date(2026, 3, 1), str(owner)),
    ]


@pytest.mark.django_db
def test_late_milestones_of_a_book_in_two_queries(owner, journeys_book):
    book = _book(owner)
    current = current_journeys(book)

    with CaptureQueriesContext(connection) as queries:
        overdue = milestones_overdue(book, current=current, today=TODAY)

    # The milestones with their stages, then the completions of the late ones.
    assert len(queries.captured_queries) == 2
    assert _listed(overdue) == EXPECTED_LATE
    assert [r.account_id for r in overdue.rows[3:5]] == [
        journeys_book["twin_a"].pk,
        journeys_book["twin_b"].pk,
    ]
    assert (overdue.stuck, overdue.behind, overdue.stuck_accounts) == (2, 5, 2)
    assert {r.stage_name for r in overdue.rows} == {"Onboarding", "Adoption"}


@pytest.mark.django_db
def test_stage_names_given_or_read_with_the_milestones_agree(owner, journeys_book):
    book = _book(owner)
    current = current_journeys(book)

    given = milestones_overdue(book, stages=stages_ordered(), current=current, today=TODAY)
    read = milestones_overdue(book, current=current, today=TODAY)

    assert given == read


@pytest.mark.django_db
def test_a_large_scope_reads_its_completions_through_its_accounts_query(
    monkeypatch, owner, journeys_book
):
    monkeypatch.setattr(journey_selectors, "COMPLETIONS_BY_ID_MAX", 0)
    book = _book(owner)

    overdue = milestones_overdue(book, current=current_journeys(book), today=TODAY)

    assert _listed(overdue) == EXPECTED_LATE


@pytest.mark.django_db
def test_nothing_past_its_target_reads_no_completion(owner):
    _enter(AccountFactory(name="Fresh", owner=owner), "onboarding", dt.date(2026, 3, 14))
    book = _book(owner)
    current = current_journeys(book)

    with CaptureQueriesContext(connection) as queries:
        overdue = milestones_overdue(book, current=current, today=TODAY)

    assert len(queries.captured_queries) == 1
    assert (list(overdue.rows), overdue.stuck, overdue.behind) == ([], 0, 0)


@pytest.mark.django_db
def test_milestone_lines_are_what_the_template_made_of_each_row(owner, journeys_book):
    book = _book(owner)
    overdue = milestones_overdue(book, current=current_journeys(book), today=TODAY)
    # The cells the book's milestone table used to format itself, and what it prints now.
    before = Template(
        "{{ m.account_id }}|{% url 'accounts:account_detail' m.account_id %}|{{ m.account_name }}"
        "|{{ m.stage_name }}|{{ m.milestone_name }}|{{ m.is_required }}|{{ m.status.band }}"
        "|{{ m.status.label }}|{{ m.days_late }}"
    )
    after = Template(
        "{{ m.account_pk }}|{{ m.account_url }}|{{ m.account_name }}|{{ m.stage_name }}"
        "|{{ m.milestone_name }}|{{ m.is_required }}|{{ m.band }}|{{ m.status }}|{{ m.days_late }}"
    )

    lines = milestone_lines(overdue)

    assert [after.render(Context({"m": line})) for line in lines] == [
        before.render(Context({"m": row})) for row in overdue.rows
    ]
    cedar = journeys_book["cedar"].pk
    assert after.render(Context({"m": lines[0]})) == (
        f"{cedar}|/accounts/{cedar}/|Cedar|Adoption|{FEATURES}|True|red|Stuck|44"
    )


# --- The summary -------------------------------------------------------------------------


@pytest.fixture
def summed_book(owner, teammate) -> None:
    def account(name, arr, score, band, renews_in):
        AccountFactory(
            name=name,
            owner=owner,
            arr=Decimal(arr),
            health_score=score,
            health_band=band,
            renewal_date=None if renews_in is None else TODAY + dt.timedelta(days=renews_in),
        )

    account("Acme", "10000", 30, "red", 10)  # at risk (red), renews within 30 days
    account("Birch", "5000", 55, "yellow", 45)  # at risk (yellow, renewing), within 60
    account("Cedar", "2500.50", 80, "green", 90)  # the 90th day is inside the window
    account("Dune", "1000", None, "", 91)  # the 91st is not; no score
    account("Elm", "400", 60, "yellow", -1)  # renewal passed: neither renewing nor at risk
    account("Fir", "0", None, "", 0)  # renews today
    AccountFactory(
        name="Gone",
        owner=owner,
        arr=Decimal("9999"),
        health_score=10,
        health_band="red",
        renewal_date=TODAY + dt.timedelta(days=5),
        lifecycle_status=Account.Lifecycle.CHURNED,
        churned_on=dt.date(2026, 2, 1),
    )
    AccountFactory(name="Teammate's", owner=teammate, arr=Decimal("7000"), health_band="red")


@pytest.mark.django_db
def test_the_summary_adds_up_the_books_live_accounts(owner, summed_book):
    summary = book_summary(_book(owner), today=TODAY)

    # Six live accounts; 30 + 55 + 80 + 60 = 225 over four scores is 56.25, shown 56.3.
    assert (summary.accounts, summary.arr, summary.scored) == (6, Decimal("18900.50"), 4)
    assert summary.avg_health == Decimal("56.3")
    assert summary.arr_at_risk == Decimal("15000")
    assert [(w.days, w.accounts, w.arr) for w in summary.renewal_windows] == [
        (30, 2, Decimal("10000")),  # Fir (today) and Acme
        (60, 3, Decimal("15000")),  # and Birch
        (90, 4, Decimal("17500.50")),  # and Cedar
    ]
    assert (summary.renewals_90, summary.renewals_90_arr) == (4, Decimal("17500.50"))


@pytest.mark.django_db
def test_an_empty_book_sums_to_zero(owner):
    summary = book_summary(_book(owner), today=TODAY)

    assert (summary.accounts, summary.arr, summary.avg_health, summary.arr_at_risk) == (
        0,
        Decimal("0"),
        None,
        Decimal("0"),
    )
    assert [(w.accounts, w.arr) for w in summary.renewal_windows] == [(0, Decimal("0"))] * 3


@pytest.mark.django_db
def test_the_summary_tiles_show_the_sums(client_for, owner, summed_book):
    html = client_for(owner).get(MY_BOOK).content.decode()

    # Whole dollars, half a dollar rounded up.
    assert '<span class="kpi-value" data-value>$18,901</span>' in html
    assert '<span class="kpi-value" data-value>56.3</span><span class="kpi-sub">4 scored' in html
    assert '<span class="kpi-value" data-value>$15,000</span>' in html
    assert (
        '<span class="kpi-value" data-value>4</span><span class="kpi-sub">$17,501 ARR</span>'
        in html
    )


# --- Overdue tasks -----------------------------------------------------------------------


@pytest.fixture
def tasks_book(owner, outsider) -> dict[str, Task]:
    acme = AccountFactory(name="Acme <Labs> & Co", owner=owner)
    birch = AccountFactory(name="Birch", owner=owner)
    # The owner's task on an account of another team: the owner cannot see that account.
    elsewhere = AccountFactory(name="Elsewhere", owner=outsider)
    return {
        "acme": TaskFactory(
            account=acme,
            title="Call <them> & agree",
            due_date=dt.date(2026, 3, 1),
            priority=Task.Priority.HIGH,
        ),
        "birch": TaskFactory(
            account=birch, due_date=dt.date(2026, 1, 31), priority=Task.Priority.URGENT
        ),
        "done": TaskFactory(
            account=birch,
            due_date=dt.date(2026, 1, 2),
            status=Task.Status.DONE,
            completed_at=timezone.now(),
        ),
        "today": TaskFactory(account=birch, due_date=TODAY),
        "hidden": TaskFactory(account=elsewhere, owner=owner, due_date=dt.date(2026, 2, 2)),
    }


@pytest.mark.django_db
def test_overdue_task_lines_are_ready_strings(owner, tasks_book):
    overdue = overdue_tasks_for(owner=owner, visible=Account.objects.visible_to(owner), today=TODAY)

    birch, acme = tasks_book["birch"], tasks_book["acme"]
    assert [(t.account.name, t.due_date, t.days_late) for t in overdue.rows] == [
        ("Birch", dt.date(2026, 1, 31), 43),
        ("Acme <Labs> & Co", dt.date(2026, 3, 1), 14),
    ]
    assert [
        (line.pk, line.edit_url, line.account_url, line.due, line.days_late, line.priority)
        for line in overdue.lines
    ] == [
        (
            str(birch.pk),
            f"/tasks/{birch.pk}/edit/",
            f"/accounts/{birch.account_id}/",
            "31 Jan 2026",
            "43",
            "Urgent",
        ),
        (
            str(acme.pk),
            f"/tasks/{acme.pk}/edit/",
            f"/accounts/{acme.account_id}/",
            "1 Mar 2026",
            "14",
            "High",
        ),
    ]
    assert overdue.total == 2


@pytest.mark.django_db
def test_a_csm_never_sees_their_task_on_an_account_they_cannot_see(
    client_for, owner, manager, tasks_book
):
    hidden = tasks_book["hidden"]

    own = client_for(owner).get(MY_BOOK)
    managed = client_for(manager).get(MY_BOOK, {"csm": owner.pk})

    assert hidden.pk not in [int(line.pk) for line in own.context["overdue"].lines]
    assert f'data-task="{hidden.pk}"' not in own.content.decode()
    # A manager sees every account, so the owner's task there is overdue work of their book.
    assert hidden.pk in [int(line.pk) for line in managed.context["overdue"].lines]


@pytest.mark.django_db
def test_task_lines_are_what_the_template_made_of_each_task(owner, tasks_book):
    overdue = overdue_tasks_for(owner=owner, visible=Account.objects.visible_to(owner), today=TODAY)
    # The cells the book's task table used to format itself, and what it prints now.
    before = Template(
        "{{ t.pk }}|{% url 'accounts:task_edit' t.pk %}|{{ t.title }}"
        "|{{ t.account.get_absolute_url }}|{{ t.account.name }}|{{ t.due_date|date:'j M Y' }}"
        "|{{ t.days_late }}|{{ t.get_priority_display }}"
    )
    after = Template(
        "{{ t.pk }}|{{ t.edit_url }}|{{ t.title }}|{{ t.account_url }}|{{ t.account_name }}"
        "|{{ t.due }}|{{ t.days_late }}|{{ t.priority }}"
    )

    assert [after.render(Context({"t": line})) for line in overdue.lines] == [
        before.render(Context({"t": task})) for task in overdue.rows
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("priority", Task.Priority.values)
def test_every_priority_reads_as_its_display_label(owner, priority):
    task = TaskFactory(account=AccountFactory(owner=owner), priority=priority)

    overdue = overdue_tasks_for(owner=owner, visible=Account.objects.visible_to(owner), today=TODAY)

    assert [line.priority for line in overdue.lines] == [task.get_priority_display()]


@pytest.mark.parametrize("day", [dt.date(2026, month, month + 8) for month in range(1, 13)])
def test_a_day_reads_as_the_date_filter_writes_it(day):
    assert day_label(day) == Template('{{ d|date:"j M Y" }}').render(Context({"d": day}))


@pytest.mark.django_db
def test_the_task_table_prints_the_lines(client_for, owner, executive, tasks_book):
    acme = tasks_book["acme"]

    html = client_for(owner).get(MY_BOOK).content.decode()
    read_only = client_for(executive).get(MY_BOOK, {"csm": owner.pk}).content.decode()

    assert (
        f'<tr data-task="{acme.pk}">\n'
        f'        <td><a href="/tasks/{acme.pk}/edit/">Call &lt;them&gt; &amp; agree</a></td>\n'
        f'        <td><a href="/accounts/{acme.account_id}/">Acme &lt;Labs&gt; &amp; Co</a></td>\n'
        '        <td>1 Mar 2026 <span class="muted">· 14 d late</span></td>\n'
        "        <td>High</td>\n"
        "      </tr>"
    ) in html
    # An executive reads the task, with no link to edit it.
    assert "<td>Call &lt;them&gt; &amp; agree</td>" in read_only
    assert f"/tasks/{acme.pk}/edit/" not in read_only


@pytest.mark.django_db
def test_the_milestone_table_prints_the_lines(client_for, owner, journeys_book):
    cedar = journeys_book["cedar"].pk

    html = client_for(owner).get(MY_BOOK).content.decode()

    assert '<p class="muted">2 stuck, 5 behind.</p>' in html
    assert (
        f'<tr data-account="{cedar}">\n'
        f'        <td><a href="/accounts/{cedar}/">Cedar</a></td>\n'
        "        <td>Adoption</td>\n"
        f'        <td>{FEATURES} <span class="tag">required</span></td>\n'
        '        <td><span class="band band-red">Stuck</span></td>\n'
        '        <td class="num">44</td>\n'
        "      </tr>"
    ) in html


# --- Detractors --------------------------------------------------------------------------


def _waiting_since(answer, day: dt.date, **fields) -> FollowUp:
    follow_up = FollowUp.objects.create(answer=answer, **fields)
    moment = timezone.make_aware(dt.datetime(day.year, day.month, day.day, 9))
    FollowUp.objects.filter(pk=follow_up.pk).update(created_at=moment)
    return follow_up


@pytest.mark.django_db
def test_detractor_lines_name_the_answer_and_the_wait(client_for, owner, teammate):
    nps = SurveyFactory(kind=Survey.Kind.NPS)
    csat = SurveyFactory(kind=Survey.Kind.CSAT)
    acme = AccountFactory(name="Acme <Labs>", owner=owner)
    comment = "Too slow " + "x" * 100
    oldest = _waiting_since(
        SurveyAnswerFactory(survey=nps, account=acme, score=2, comment=comment),
        dt.date(2026, 3, 1),
    )
    newer = _waiting_since(
        SurveyAnswerFactory(survey=csat, account=acme, score=1, comment=""), dt.date(2026, 3, 12)
    )
    # Contacted already, and another CSM's account: neither is listed.
    _waiting_since(
        SurveyAnswerFactory(survey=nps, account=acme, score=0),
        dt.date(2026, 2, 1),
        status=FollowUp.Status.CONTACTED,
        contacted_at=timezone.now(),
    )
    _waiting_since(
        SurveyAnswerFactory(survey=nps, account=AccountFactory(owner=teammate), score=0),
        dt.date(2026, 2, 1),
    )

    queue = detractors_awaiting(_book(owner), today=TODAY)
    html = client_for(owner).get(MY_BOOK).content.decode()

    assert [
        (line.pk, line.account_url, line.account_name, line.answer, line.waiting)
        for line in queue.rows
    ] == [
        (str(oldest.pk), f"/accounts/{acme.pk}/", "Acme <Labs>", "NPS 2", "14 d"),
        (str(newer.pk), f"/accounts/{acme.pk}/", "Acme <Labs>", "CSAT 1", "3 d"),
    ]
    assert queue.total == 2
    # The comment is cut to 90 characters by the template; no comment shows a dash.
    assert (
        f'<tr data-follow-up="{oldest.pk}"><td><a href="/accounts/{acme.pk}/">Acme &lt;Labs&gt;'
        f"</a></td><td>NPS 2</td><td>Too slow {'x' * 80}…</td>"
        '<td class="num">14 d</td></tr>'
    ) in html
    assert '<td>CSAT 1</td><td>—</td><td class="num">3 d</td></tr>' in html


@pytest.mark.parametrize(
    "comment",
    ["", "Short & <sharp>", "a" * 89, "b" * 90, "c" * 91, "Slow " * 30, "é" * 95],
    ids=["none", "markup", "89", "90", "91", "words", "accents"],
)
def test_a_comment_is_cut_as_the_truncatechars_filter_cuts_it(comment):
    before = Template('{{ c|truncatechars:90|default:"—" }}').render(Context({"c": comment}))

    assert Template("{{ c }}").render(Context({"c": comment_cell(comment)})) == before


# --- Query budget ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("extra", "budget"), [(0, 12), (20, 13)])
def test_my_book_runs_a_fixed_number_of_queries(
    client_for,
    owner,
    manager,
    journeys_book,
    tasks_book,
    extra,
    budget,
    django_assert_max_num_queries,
):
    for n in range(extra):
        account = AccountFactory(name=f"More {n:02d}", owner=owner)
        _enter(account, "onboarding", dt.date(2026, 1, 1))
        TaskFactory(account=account, due_date=dt.date(2026, 3, 1))
    client = client_for(owner)

    # Session, user, latest scored day, summary rows, snapshot rows, journeys, milestones
    # with their stages, completions of the late ones, the page of accounts, renewals,
    # overdue tasks, follow-ups; and the count of overdue tasks once their list is full.
    with django_assert_max_num_queries(budget):
        assert client.get(MY_BOOK).status_code == 200

    client = client_for(manager)
    client.get(MY_BOOK)  # the picker's options, cached from then on
    # A manager's request also reads the chosen CSM.
    with django_assert_max_num_queries(budget + 1):
        assert client.get(MY_BOOK, {"csm": owner.pk}).status_code == 200


# --- PostgreSQL plans --------------------------------------------------------------------

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the covering journey index is PostgreSQL-only"
)


@postgres_only
@pytest.mark.django_db
def test_a_books_journeys_are_read_from_the_covering_index(owner, journeys_book):
    with CaptureQueriesContext(connection) as queries:
        current_journeys(_book(owner))
    (query,) = queries.captured_queries

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'journey_account_stage_idx'"
        )
        (definition,) = cursor.fetchone()
        # A test table is tiny and read whole; forbid that, and reading the table by its
        # account key, to see that the index answers the journey side alone.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {query['sql']}")
        plan = "\n".join(line for (line,) in cursor.fetchall())

    assert definition.endswith("(account_id) INCLUDE (stage_id, entered_at)")
    assert "Index Only Scan using journey_account_stage_idx" in plan
