"""The 360° account page: header, contract history, contacts, timeline, tasks and what an
editor may do from it."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, Contract, Interaction, Task
from tests.factories import (
    AccountFactory,
    ContactFactory,
    ContractFactory,
    InteractionFactory,
    SupportTicketFactory,
    SurveyAnswerFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db


def _at(year: int, month: int, day: int, hour: int = 12) -> dt.datetime:
    # Midday, so the local date is the same day in any configured time zone within ±11 h.
    return timezone.make_aware(dt.datetime(year, month, day, hour))


def _url(account: Account, **query: str) -> str:
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    return f"/accounts/{account.pk}/{suffix}"


def _kpi(html: str, name: str) -> str:
    match = re.search(rf'data-kpi="{name}">(.*?)</(?:span|strong)>', html, re.S)
    assert match, name
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def _timeline(response) -> list[tuple[str, str]]:
    return [(entry.kind, entry.event) for entry in response.context["timeline"]]


# --- Header ---


def test_the_header_shows_arr_tier_owner_team_lifecycle_and_renewal(client_for, owner, account):
    today = timezone.localdate()
    Account.objects.filter(pk=account.pk).update(
        arr=Decimal("15000.00"),
        tier=Account.Tier.HIGH_TOUCH,
        lifecycle_status=Account.Lifecycle.ONBOARDING,
        renewal_date=today + dt.timedelta(days=40),
        health_score=72,
        health_band=Account.Band.GREEN,
    )

    html = client_for(owner).get(_url(account)).content.decode()

    assert _kpi(html, "arr") == "$15,000"
    assert "High-touch" in html
    assert _kpi(html, "owner") == str(owner)
    assert _kpi(html, "team") == "Enterprise"
    assert _kpi(html, "lifecycle") == "Onboarding"
    assert _kpi(html, "days_to_renewal") == "in 40 days"
    assert _kpi(html, "health") == "72 Green"
    assert _kpi(html, "journey") == "Not started"


def test_an_account_without_a_health_score_says_so_honestly(client_for, owner, account):
    html = client_for(owner).get(_url(account)).content.decode()

    assert account.health_score is None
    assert _kpi(html, "health") == "—"
    assert "No health score yet — scores are computed nightly" in html


def test_a_renewal_date_in_the_past_reads_as_days_ago(client_for, owner, account):
    Account.objects.filter(pk=account.pk).update(
        renewal_date=timezone.localdate() - dt.timedelta(days=3)
    )

    html = client_for(owner).get(_url(account)).content.decode()

    assert _kpi(html, "days_to_renewal") == "3 days ago"


# --- Contract history ---


def test_contract_history_shows_expansion_contraction_and_new_terms(client_for, owner, account):
    first = ContractFactory(
        account=account,
        start_date=dt.date(2024, 1, 1),
        end_date=dt.date(2024, 12, 31),
        arr=Decimal("12000"),
        seats=10,
        status=Contract.Status.ENDED,
    )
    renewal = ContractFactory(
        account=account,
        previous=first,
        start_date=dt.date(2025, 1, 1),
        end_date=dt.date(2025, 12, 31),
        arr=Decimal("15000"),
        seats=14,
        status=Contract.Status.ENDED,
    )
    # Imported without the `previous` link: it starts the day after the 15,000 term ends.
    ContractFactory(
        account=account,
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 12, 31),
        arr=Decimal("13500"),
        seats=12,
    )
    # An add-on signed mid-term continues nothing.
    ContractFactory(
        account=account,
        start_date=dt.date(2025, 6, 1),
        end_date=dt.date(2026, 5, 31),
        arr=Decimal("2000"),
        seats=3,
    )

    response = client_for(owner).get(_url(account))

    terms = response.context["contract_terms"]
    assert [(t.contract.arr, t.change_kind, t.change) for t in terms] == [
        (Decimal("13500"), "contraction", Decimal("-1500")),
        (Decimal("2000"), "new", None),
        (Decimal("15000"), "expansion", Decimal("3000")),
        (Decimal("12000"), "new", None),
    ]
    html = response.content.decode()
    assert "<strong>+$3,000</strong> expansion" in html
    assert "<strong>−$1,500</strong> contraction" in html
    row = html[html.index(f'data-contract="{renewal.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "1 Jan 2025 – 31 Dec 2025" in row
    assert "$15,000" in row
    assert ">14<" in row
    assert "Ended" in row


def test_a_renewal_at_the_same_arr_reads_as_flat(client_for, owner, account):
    first = ContractFactory(account=account, start_date=dt.date(2024, 1, 1), arr=Decimal("9000"))
    ContractFactory(
        account=account, previous=first, start_date=dt.date(2025, 1, 1), arr=Decimal("9000")
    )

    response = client_for(owner).get(_url(account))

    assert [t.change_kind for t in response.context["contract_terms"]] == ["flat", "new"]
    assert "Renewed flat" in response.content.decode()


def test_an_account_without_contracts_shows_an_empty_state(client_for, owner, account):
    html = client_for(owner).get(_url(account)).content.decode()

    assert "No contracts yet" in html


# --- Contacts ---


def test_contacts_mark_the_decision_maker_and_executive_sponsor(client_for, owner, account):
    ContactFactory(
        account=account, name="Dana Buyer", email="dana@acme.example", is_decision_maker=True
    )
    ContactFactory(
        account=account,
        name="Sam Sponsor",
        email="sam@acme.example",
        title="VP Operations",
        is_executive_sponsor=True,
    )
    ContactFactory(account=account, name="Alex User", email="alex@acme.example")

    response = client_for(owner).get(_url(account))

    assert [c.name for c in response.context["contacts"]] == [
        "Dana Buyer",
        "Sam Sponsor",
        "Alex User",
    ]
    html = response.content.decode()
    assert "Decision maker" in html
    assert "Executive sponsor" in html
    assert "sam@acme.example" in html
    assert "VP Operations" in html


# --- Timeline ---


@pytest.fixture
def history(account, owner, teammate):
    """One of each kind on known days (January 2026), newest first:

    20th survey answered, 18th task completed, 16th ticket closed, 15th interaction,
    12th task created, 10th ticket opened.
    """
    contact = ContactFactory(account=account, name="Dana Buyer")
    interaction = InteractionFactory(
        account=account,
        author=owner,
        occurred_on=dt.date(2026, 1, 15),
        summary="Walked through the renewal plan.",
        sentiment=Interaction.Sentiment.POSITIVE,
    )
    interaction.participants.add(contact)
    task = TaskFactory(
        account=account,
        title="Send the renewal quote",
        status=Task.Status.DONE,
        completed_at=_at(2026, 1, 18),
        completed_by=owner,
    )
    Task.objects.filter(pk=task.pk).update(created_at=_at(2026, 1, 12))
    SurveyAnswerFactory(
        account=account,
        contact=contact,
        score=6,
        comment="Exports are slow",
        answered_at=_at(2026, 1, 20),
    )
    SupportTicketFactory(
        account=account,
        subject="Export times out",
        priority="high",
        status="closed",
        opened_at=_at(2026, 1, 10),
        closed_at=_at(2026, 1, 16),
    )
    return {"interaction": interaction, "task": task}


def test_the_timeline_merges_every_kind_newest_first(client_for, owner, account, history):
    response = client_for(owner).get(_url(account))

    assert _timeline(response) == [
        ("survey", "answered"),
        ("task", "completed"),
        ("ticket", "closed"),
        ("interaction", "logged"),
        ("task", "created"),
        ("ticket", "opened"),
    ]
    assert [e.day.day for e in response.context["timeline"]] == [20, 18, 16, 15, 12, 10]
    html = response.content.decode()
    assert "Walked through the renewal plan." in html
    assert "With Dana Buyer" in html
    assert "Positive" in html
    assert "“Exports are slow”" in html
    assert "Ticket closed: <strong>Export times out</strong>" in html
    assert "Task completed: <strong>Send the renewal quote</strong>" in html


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("interaction", [("interaction", "logged")]),
        ("task", [("task", "completed"), ("task", "created")]),
        ("survey", [("survey", "answered")]),
        ("ticket", [("ticket", "closed"), ("ticket", "opened")]),
    ],
)
def test_the_timeline_can_show_one_kind(client_for, owner, account, history, kind, expected):
    response = client_for(owner).get(_url(account, kind=kind))

    assert _timeline(response) == expected
    assert response.context["timeline_kind"] == kind


def test_an_unknown_timeline_kind_shows_everything(client_for, owner, account, history):
    response = client_for(owner).get(_url(account, kind="gossip"))

    assert len(_timeline(response)) == 6
    assert response.context["timeline_kind"] == ""


def test_the_timeline_keeps_the_latest_fifty_entries(client_for, owner, account):
    start = dt.date(2025, 1, 1)
    for n in range(60):
        InteractionFactory(account=account, occurred_on=start + dt.timedelta(days=n))

    response = client_for(owner).get(_url(account))

    days = [e.day for e in response.context["timeline"]]
    assert len(days) == 50
    assert days[0] == start + dt.timedelta(days=59)
    assert days[-1] == start + dt.timedelta(days=10)
    assert "Showing the latest 50 entries" in response.content.decode()


def test_an_empty_timeline_says_nothing_is_logged(client_for, owner, account):
    html = client_for(owner).get(_url(account)).content.decode()

    assert "Nothing logged on this account yet." in html


def test_only_the_author_gets_an_edit_link_on_an_interaction(client_for, owner, teammate, account):
    mine = InteractionFactory(account=account, author=owner)
    theirs = InteractionFactory(account=account, author=teammate)

    html = client_for(owner).get(_url(account)).content.decode()

    assert f"/interactions/{mine.pk}/edit/" in html
    assert f"/interactions/{theirs.pk}/edit/" not in html


# --- Tasks and the editor's tools ---


def test_open_tasks_list_title_due_owner_priority_and_source(client_for, owner, account):
    today = timezone.localdate()
    TaskFactory(
        account=account,
        title="Renewal risk review",
        due_date=today - dt.timedelta(days=2),
        priority=Task.Priority.HIGH,
        source=Task.Source.PLAYBOOK,
    )
    TaskFactory(account=account, title="Plan the QBR", due_date=today + dt.timedelta(days=9))
    TaskFactory(
        account=account, title="Already done", status=Task.Status.DONE, completed_at=timezone.now()
    )

    response = client_for(owner).get(_url(account))

    assert [t.title for t in response.context["open_tasks"]] == [
        "Renewal risk review",
        "Plan the QBR",
    ]
    section = response.content.decode().split('id="open-tasks"')[1].split("</section>")[0]
    assert f"{owner} · High priority · Playbook" in section
    assert "Overdue" in section
    assert str(owner) in section
    assert "Already done" not in section
    assert section.count('value="/accounts/') == 2  # a Complete form per open task


def test_the_owner_gets_the_interaction_form_and_the_edit_links(client_for, owner, account):
    task = TaskFactory(account=account)

    response = client_for(owner).get(_url(account))

    html = response.content.decode()
    assert response.context["can_edit"] is True
    assert response.context["interaction_form"].account == account
    assert f'action="/accounts/{account.pk}/interactions/new/"' in html
    assert f'href="/accounts/{account.pk}/edit/"' in html
    assert f'href="/accounts/{account.pk}/contacts/new/"' in html
    assert f'href="/accounts/{account.pk}/contracts/new/"' in html
    assert f'action="/tasks/{task.pk}/complete/"' in html


def test_a_manager_can_edit_any_account(client_for, manager, outsider):
    other = AccountFactory(owner=outsider)

    response = client_for(manager).get(_url(other))

    assert response.context["can_edit"] is True
    assert f'href="/accounts/{other.pk}/edit/"' in response.content.decode()


@pytest.mark.parametrize("persona", ["teammate", "executive"])
def test_readers_get_no_form_no_edit_links_and_no_complete_buttons(
    client_for, account, persona, request
):
    task = TaskFactory(account=account)
    reader = request.getfixturevalue(persona)

    response = client_for(reader).get(_url(account))

    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["interaction_form"] is None
    assert "/interactions/new/" not in html
    assert f"/accounts/{account.pk}/edit/" not in html
    assert f"/accounts/{account.pk}/contacts/new/" not in html
    assert f"/accounts/{account.pk}/contracts/new/" not in html
    assert f"/tasks/{task.pk}/complete/" not in html
    assert task.title in html


# --- Query budget ---


def test_the_page_runs_the_same_queries_however_long_the_history(
    client_for, owner, account, django_assert_max_num_queries
):
    def add_history(count: int) -> None:
        for n in range(count):
            contact = ContactFactory(account=account)
            interaction = InteractionFactory(account=account)
            interaction.participants.add(contact)
            TaskFactory(account=account)
            ContractFactory(account=account, start_date=dt.date(2020 + n, 1, 1))
            SupportTicketFactory(account=account)
            SurveyAnswerFactory(account=account, contact=contact)

    client = client_for(owner)
    add_history(1)
    with CaptureQueriesContext(connection) as small:
        client.get(_url(account))
    add_history(6)

    # session, user with team; account, can-edit; contracts, contacts, open tasks; timeline:
    # answers, interactions + participants, tasks, tickets; the form's participants; health:
    # the score history, the active override and the churn risk; journey: its panel (5);
    # feedback: latest answers and open follow-ups (2).
    with django_assert_max_num_queries(23) as large:
        response = client.get(_url(account))

    assert len(small.captured_queries) == len(large.captured_queries)
    assert len(response.context["contacts"]) == 7
    assert len(response.context["timeline"]) == 4 * 7  # one entry of each kind per round


def test_the_header_shows_the_journey_stage_and_days_in_it(client_for, owner, account):
    from django.utils import timezone

    from journeys.models import Stage
    from journeys.services import journey_start

    activation = Stage.objects.get(slug="activation")
    journey_start(
        account=account,
        stage=activation,
        by=owner,
        at=timezone.now() - dt.timedelta(days=12),
    )
    html = client_for(owner).get(_url(account)).content.decode()
    assert _kpi(html, "journey") == "Activation"
    assert "12 days in stage of 60 targeted" in html
    assert 'id="account-journey"' in html


def test_the_header_shows_the_latest_nps_and_csat_and_open_follow_ups(client_for, owner, account):
    from feedback.services import answer_record
    from tests.factories import SurveyFactory

    nps = SurveyFactory(kind="nps")
    csat = SurveyFactory(kind="csat")
    now = timezone.now()
    SurveyAnswerFactory(
        survey=nps, account=account, score=9, answered_at=now - dt.timedelta(days=40)
    )
    SurveyAnswerFactory(
        survey=csat, account=account, score=4, answered_at=now - dt.timedelta(days=3)
    )
    answer_record(
        survey=nps, account=account, contact=None, score=3, answered_at=now - dt.timedelta(days=1)
    )

    html = client_for(owner).get(_url(account)).content.decode()

    assert _kpi(html, "feedback") == "3 / 4"
    assert "1 follow-up open" in html
