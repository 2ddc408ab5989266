"""Every named invariant is enforced by the database itself."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account, Task, User
from feedback.models import Survey
from tests.factories import (
    AccountFactory,
    ContactFactory,
    ContractFactory,
    SegmentFactory,
    SupportTicketFactory,
    SurveyAnswerFactory,
    SurveyFactory,
    TaskFactory,
    TeamFactory,
    UsageRecordFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _rejected(make, constraint: str) -> None:
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        make()
    # SQLite names CHECK constraints in its message; PostgreSQL names every constraint.
    message = str(excinfo.value)
    assert constraint in message or "UNIQUE" in message, message


def test_one_usage_row_per_account_and_day():
    row = UsageRecordFactory(day=dt.date(2026, 3, 1))
    _rejected(
        lambda: UsageRecordFactory(account=row.account, day=dt.date(2026, 3, 1)),
        "usage_one_per_account_day",
    )
    UsageRecordFactory(account=row.account, day=dt.date(2026, 3, 2))


def test_contract_must_end_after_it_starts():
    _rejected(
        lambda: ContractFactory(start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 1)),
        "contract_end_after_start",
    )


def test_arr_cannot_be_negative():
    _rejected(lambda: ContractFactory(arr=Decimal("-1")), "contract_arr_not_negative")
    _rejected(lambda: AccountFactory(arr=Decimal("-0.01")), "account_arr_not_negative")


def test_a_churned_account_has_a_churn_date_on_or_after_its_start():
    _rejected(
        lambda: AccountFactory(lifecycle_status=Account.Lifecycle.CHURNED, churned_on=None),
        "account_churned_has_date",
    )
    _rejected(
        lambda: AccountFactory(start_date=dt.date(2026, 1, 1), churned_on=dt.date(2025, 12, 31)),
        "account_churn_after_start",
    )


def test_health_score_is_at_most_100():
    _rejected(lambda: AccountFactory(health_score=101), "account_health_score_0_100")
    assert AccountFactory(health_score=100).health_score == 100


def test_a_done_task_records_when_it_was_completed():
    _rejected(lambda: TaskFactory(status=Task.Status.DONE), "task_done_has_completion_time")
    TaskFactory(status=Task.Status.DONE, completed_at=timezone.now())


def test_a_playbook_occurrence_makes_one_task_per_account():
    task = TaskFactory(dedupe_key="renewal-risk:2026-09")
    _rejected(
        lambda: TaskFactory(account=task.account, dedupe_key="renewal-risk:2026-09"),
        "task_one_per_occurrence",
    )
    # Manual tasks carry no key and are never deduplicated.
    TaskFactory(account=task.account)
    TaskFactory(account=task.account)


def test_contact_email_is_unique_within_an_account_only():
    contact = ContactFactory(email="dana@acme.example")
    _rejected(
        lambda: ContactFactory(account=contact.account, email="dana@acme.example"),
        "contact_email_per_account",
    )
    ContactFactory(email="dana@acme.example")


def test_an_account_is_in_a_static_segment_once():
    segment = SegmentFactory(kind="static")
    account = AccountFactory()
    segment.members.add(account)
    _rejected(
        lambda: segment.memberships.create(account=account),
        "segment_member_once",
    )


def test_a_ticket_closes_after_it_opens():
    opened = timezone.now()
    _rejected(
        lambda: SupportTicketFactory(opened_at=opened, closed_at=opened - dt.timedelta(hours=1)),
        "ticket_closed_after_opened",
    )


@pytest.mark.parametrize(
    ("kind", "score", "ok"),
    [
        ("nps", 0, True),
        ("nps", 10, True),
        ("nps", 11, False),
        ("csat", 0, False),
        ("csat", 5, True),
        ("csat", 6, False),
        ("ces", 7, True),
        ("ces", 8, False),
    ],
)
def test_survey_answers_stay_on_their_scale(kind, score, ok):
    survey = SurveyFactory(kind=kind)
    if ok:
        SurveyAnswerFactory(survey=survey, score=score)
    else:
        _rejected(
            lambda: SurveyAnswerFactory(survey=survey, score=score), "survey_answer_score_on_scale"
        )
    assert Survey.SCALES[kind][0] <= (score if ok else Survey.SCALES[kind][0])


def test_user_role_must_be_known():
    _rejected(lambda: UserFactory(role="intern"), "user_role_valid")


def test_roles_and_teams(enterprise_team):
    manager = UserFactory(role=User.Role.MANAGER, team=enterprise_team)
    enterprise_team.manager = manager
    enterprise_team.save()
    csm = UserFactory(role=User.Role.CSM, team=enterprise_team)
    executive = UserFactory(role=User.Role.EXECUTIVE)
    assert list(manager.managed_teams.all()) == [enterprise_team]
    assert set(enterprise_team.members.all()) == {manager, csm}
    assert (csm.is_csm, csm.sees_all_accounts, csm.can_configure) == (True, False, False)
    assert (manager.sees_all_accounts, manager.can_configure, manager.can_edit_accounts) == (
        True,
        True,
        True,
    )
    assert (executive.sees_all_accounts, executive.can_edit_accounts) == (True, False)


def test_a_csm_sees_their_own_and_their_teams_accounts_only(owner, teammate, outsider):
    mine = AccountFactory(owner=owner)
    teams = AccountFactory(owner=teammate)
    other = AccountFactory(owner=outsider)
    assert set(Account.objects.visible_to(owner)) == {mine, teams}
    assert set(Account.objects.editable_by(owner)) == {mine}
    assert set(Account.objects.visible_to(outsider)) == {other}


def test_deleting_a_team_keeps_its_people_and_accounts():
    team = TeamFactory(name="Temporary")
    csm = UserFactory(team=team)
    account = AccountFactory(owner=csm, team=team)
    team.delete()
    csm.refresh_from_db()
    account.refresh_from_db()
    assert (csm.team, account.team, account.owner) == (None, None, csm)
