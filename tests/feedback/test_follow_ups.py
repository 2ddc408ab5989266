"""Closing the loop: an NPS detractor (0-6) or a CSAT of 1-2 opens one follow-up with one
task for the account owner; the follow-up page records contacted / resolved and the
outcome; the account header gets the latest NPS / CSAT and the open follow-ups."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import escape

from accounts.models import Task
from feedback.models import FollowUp, Survey, SurveyAnswer
from feedback.selectors import account_feedback_summary
from feedback.services import answer_record, follow_up_update
from tests.factories import AccountFactory, ContactFactory, SurveyFactory, TaskFactory

TODAY = timezone.localdate()


@pytest.fixture
def nps(db):
    return SurveyFactory(name="Relationship NPS", kind=Survey.Kind.NPS)


@pytest.fixture
def jane(account):
    return ContactFactory(account=account, name="Jane Buyer", email="jane@acme.example")


def _answer(survey, account, contact, score, **kwargs):
    return answer_record(survey=survey, account=account, contact=contact, score=score, **kwargs)


@pytest.mark.parametrize(
    ("kind", "score", "unhappy"),
    [
        ("nps", 0, True),
        ("nps", 6, True),
        ("nps", 7, False),
        ("nps", 10, False),
        ("csat", 1, True),
        ("csat", 2, True),
        ("csat", 3, False),
        ("ces", 1, False),  # effort, not sentiment
    ],
)
def test_which_answers_open_a_follow_up(account, jane, kind, score, unhappy):
    _answer(SurveyFactory(kind=kind), account, jane, score)
    assert FollowUp.objects.exists() is unhappy
    assert Task.objects.exists() is unhappy


def test_a_detractor_gets_one_high_priority_task_for_the_owner_due_in_three_days(
    account, owner, jane, nps
):
    answer = _answer(nps, account, jane, 4, comment="Reports are too slow")
    follow_up = FollowUp.objects.select_related("task").get()
    task = follow_up.task
    assert follow_up.answer == answer
    assert follow_up.status == FollowUp.Status.OPEN
    assert (task.account, task.owner, task.priority, task.source, task.status) == (
        account,
        owner,
        "high",
        "alert",
        "open",
    )
    assert task.due_date == TODAY + dt.timedelta(days=3)
    assert task.dedupe_key == f"detractor:{answer.pk}"
    assert task.title == "Call back Jane Buyer: NPS 4"
    assert "Reports are too slow" in task.description


def test_recording_the_same_answer_again_never_makes_a_second_task(account, jane, nps):
    first = _answer(nps, account, jane, 2, external_id="ext-1", source="api")
    again = _answer(nps, account, jane, 1, external_id="ext-1", source="api")
    assert first.pk == again.pk
    assert SurveyAnswer.objects.count() == 1
    assert FollowUp.objects.count() == 1
    assert Task.objects.count() == 1


def test_each_detractor_gets_its_own_task(account, jane, nps):
    _answer(nps, account, jane, 2)
    _answer(nps, account, jane, 5)
    _answer(nps, account, jane, 9)
    assert FollowUp.objects.count() == 2
    assert Task.objects.count() == 2


def _next_answer_id() -> int:
    """The id the next answer will get. PostgreSQL's sequence keeps counting across rolled-back
    tests, so the highest stored id is not enough there."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return (SurveyAnswer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('feedback_surveyanswer', 'id')")
        sequence = cursor.fetchone()[0]
        cursor.execute(f"SELECT last_value + CASE WHEN is_called THEN 1 ELSE 0 END FROM {sequence}")
        return cursor.fetchone()[0]


def test_a_task_the_detractor_playbook_made_first_is_reused(account, teammate, jane, nps):
    # The playbook's task for the next answer id already exists under the shared key.
    next_id = _next_answer_id()
    playbook_task = TaskFactory(
        account=account,
        owner=teammate,
        dedupe_key=f"detractor:{next_id}",
        source=Task.Source.PLAYBOOK,
        title="Call the detractor",
    )
    answer = _answer(nps, account, jane, 3)
    assert answer.pk == next_id
    assert Task.objects.count() == 1
    assert FollowUp.objects.get().task == playbook_task


def test_an_answer_older_than_thirty_days_opens_no_follow_up(account, jane, nps):
    _answer(nps, account, jane, 0, answered_at=timezone.now() - dt.timedelta(days=31))
    assert not FollowUp.objects.exists()


def test_an_unowned_account_still_gets_an_unassigned_task(jane, nps):
    orphan = AccountFactory(name="Orphan", owner=None)
    _answer(nps, orphan, ContactFactory(account=orphan), 0)
    assert Task.objects.get().owner is None


def test_the_playbooks_look_at_the_account_after_the_answer_commits(
    account, jane, nps, monkeypatch, django_capture_on_commit_callbacks
):
    calls = []
    monkeypatch.setattr("journeys.tasks.playbooks_run_task.delay", lambda *a: calls.append(a))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _answer(nps, account, jane, 3)
    assert calls == []
    for callback in callbacks:
        callback()
    assert calls == [(TODAY.isoformat(), [account.pk])]


def test_a_score_off_the_scale_writes_nothing(account, jane, nps):
    with pytest.raises(ValidationError):
        _answer(nps, account, jane, 11)
    assert not SurveyAnswer.objects.exists()


# --- updating a follow-up ------------------------------------------------------------------


@pytest.fixture
def follow_up(account, jane, nps):
    _answer(nps, account, jane, 2, comment="Too slow")
    return FollowUp.objects.select_related("task", "answer").get()


def test_contacted_then_resolved_stamps_both_times_and_completes_the_task(follow_up, owner):
    contacted_at = timezone.now() - dt.timedelta(hours=5)
    follow_up_update(
        follow_up=follow_up, status="contacted", outcome="", user=owner, now=contacted_at
    )
    assert (follow_up.status, follow_up.contacted_at, follow_up.resolved_at) == (
        "contacted",
        contacted_at,
        None,
    )
    assert follow_up.task.status == "open"

    resolved_at = timezone.now()
    follow_up_update(
        follow_up=follow_up,
        status="resolved",
        outcome="Moved them to the new cluster",
        user=owner,
        now=resolved_at,
    )
    follow_up.refresh_from_db()
    # The first contact time is kept.
    assert (follow_up.contacted_at, follow_up.resolved_at) == (contacted_at, resolved_at)
    assert follow_up.outcome == "Moved them to the new cluster"
    assert follow_up.updated_by == owner
    task = Task.objects.get()
    assert (task.status, task.completed_by) == ("done", owner)


def test_resolving_needs_an_outcome(follow_up, owner):
    with pytest.raises(ValidationError):
        follow_up_update(follow_up=follow_up, status="resolved", outcome="  ", user=owner)
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.resolved_at) == ("open", None)


FOLLOW_UP = "/feedback/surveys/answers/{}/follow-up/"


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("owner", 200),
        ("manager", 200),
        ("admin_user", 200),
        ("teammate", 404),
        ("outsider", 404),
        ("executive", 404),
    ],
)
def test_only_those_who_may_edit_the_account_open_its_follow_up(
    client_for, request, follow_up, persona, status
):
    client = client_for(request.getfixturevalue(persona))
    url = FOLLOW_UP.format(follow_up.answer_id)
    assert client.get(url).status_code == status
    response = client.post(url, {"status": "contacted", "outcome": ""})
    assert response.status_code == (302 if status == 200 else 404)


def test_an_answer_without_a_follow_up_is_a_404(client_for, owner, account, jane, nps):
    promoter = _answer(nps, account, jane, 10)
    assert client_for(owner).get(FOLLOW_UP.format(promoter.pk)).status_code == 404


def test_the_owner_records_the_contact_on_the_page(
    client_for, owner, follow_up, django_assert_max_num_queries
):
    client = client_for(owner)
    url = FOLLOW_UP.format(follow_up.answer_id)
    with django_assert_max_num_queries(6):
        page = client.get(url)
    html = page.content.decode()
    assert "Follow up Jane Buyer" in html
    assert "Too slow" in html
    assert "Call back Jane Buyer: NPS 2" in html
    response = client.post(url, {"status": "contacted", "outcome": "Left a voicemail"}, follow=True)
    assert "Follow-up saved: contacted." in response.content.decode()
    follow_up.refresh_from_db()
    assert follow_up.status == "contacted"
    assert follow_up.contacted_at is not None


def test_resolving_without_an_outcome_is_refused_beside_the_field(client_for, owner, follow_up):
    response = client_for(owner).post(
        FOLLOW_UP.format(follow_up.answer_id), {"status": "resolved", "outcome": ""}
    )
    assert response.status_code == 400
    assert 'data-error-for="outcome"' in response.content.decode()
    follow_up.refresh_from_db()
    assert follow_up.status == "open"


@pytest.mark.parametrize("payload", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])
def test_a_comment_with_markup_is_shown_as_text_on_the_follow_up_page(
    client_for, owner, account, jane, nps, payload
):
    answer = _answer(nps, account, jane, 1, comment=payload)
    html = client_for(owner).get(FOLLOW_UP.format(answer.pk)).content.decode()
    assert payload not in html
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x" not in html
    assert escape(payload) in html


# --- the account header --------------------------------------------------------------------


def test_the_account_summary_has_the_latest_nps_and_csat_and_open_follow_ups_in_two_queries(
    account, jane, nps, owner, django_assert_num_queries
):
    csat = SurveyFactory(kind=Survey.Kind.CSAT)
    now = timezone.now()
    _answer(nps, account, jane, 9, answered_at=now - dt.timedelta(days=20))
    latest_nps = _answer(nps, account, jane, 3, answered_at=now - dt.timedelta(days=2))
    _answer(csat, account, None, 1, answered_at=now - dt.timedelta(days=10))
    latest_csat = _answer(csat, account, jane, 4, answered_at=now - dt.timedelta(days=1))
    other = AccountFactory(name="Elsewhere")
    _answer(nps, other, None, 10, answered_at=now)  # another account's newer answer
    resolved = FollowUp.objects.get(answer__score=1, answer__kind="csat")
    follow_up_update(follow_up=resolved, status="resolved", outcome="Refunded", user=owner)

    with django_assert_num_queries(2):
        summary = account_feedback_summary(account_id=account.pk)

    assert summary["nps"] == {
        "answer_id": latest_nps.pk,
        "score": 3,
        "answered_at": latest_nps.answered_at,
        "contact": jane,
    }
    assert summary["csat"]["answer_id"] == latest_csat.pk
    assert summary["csat"]["score"] == 4
    # NPS 3 is open; the CSAT 1 was resolved.
    assert [f["answer_id"] for f in summary["open_follow_ups"]] == [latest_nps.pk]
    open_one = summary["open_follow_ups"][0]
    assert (open_one["kind"], open_one["score"], open_one["status"]) == ("nps", 3, "open")
    assert open_one["url"] == FOLLOW_UP.format(latest_nps.pk)
    assert open_one["due_date"] == TODAY + dt.timedelta(days=3)


def test_an_account_without_answers_has_an_empty_summary(account, django_assert_num_queries):
    with django_assert_num_queries(2):
        assert account_feedback_summary(account_id=account.pk) == {
            "nps": None,
            "csat": None,
            "open_follow_ups": [],
        }
