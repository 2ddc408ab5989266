"""seed_demo: the demo data is valid, deterministic, replaceable, and carries real signal."""

import datetime as dt
import itertools
from collections import defaultdict
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Max, Sum
from django.utils import timezone

from accounts.models import (
    Account,
    Contact,
    Contract,
    Interaction,
    SupportTicket,
    Task,
    Team,
    UsageRecord,
    User,
)
from feedback.models import Survey, SurveyAnswer

pytestmark = pytest.mark.django_db

# Without health history: most tests check the seeded data itself, and scoring 60 days
# would triple the module's time. One test below covers --health-days.
SMALL = ("--accounts", "30", "--days", "60", "--health-days", "0")


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, verbosity=0)
    return out.getvalue()


def fingerprint() -> tuple:
    accounts = tuple(
        Account.objects.order_by("name").values_list(
            "name", "external_id", "arr", "lifecycle_status", "churned_on", "owner__username"
        )
    )
    contracts = tuple(
        Contract.objects.order_by("account__name", "start_date").values_list(
            "account__name", "start_date", "end_date", "arr", "seats"
        )
    )
    usage = tuple(
        UsageRecord.objects.values("account__name")
        .annotate(rows=Count("id"), active=Sum("active_users"), events=Sum("events"))
        .order_by("account__name")
        .values_list("account__name", "rows", "active", "events")
    )
    tickets = tuple(
        SupportTicket.objects.order_by("external_id").values_list(
            "external_id", "priority", "status", "opened_at"
        )
    )
    answers = tuple(
        SurveyAnswer.objects.order_by("external_id").values_list("external_id", "score")
    )
    return accounts, contracts, usage, tickets, answers


def test_contracts_chain_without_overlap_and_have_valid_terms():
    seed(*SMALL)
    today = timezone.localdate()

    contracts = defaultdict(list)
    for contract in Contract.objects.order_by("start_date"):
        contracts[contract.account_id].append(contract)

    assert len(contracts) == 30
    for chain in contracts.values():
        for contract in chain:
            assert contract.end_date > contract.start_date
            assert contract.arr >= 0
            assert contract.seats >= 1
            expected_status = "active" if contract.end_date >= today else "ended"
            assert contract.status == expected_status
        for earlier, later in itertools.pairwise(chain):
            # A renewal starts the day after the term it continues, and points at it.
            assert later.start_date == earlier.end_date + dt.timedelta(days=1)
            assert later.previous_id == earlier.pk
        assert chain[0].previous_id is None
        assert chain[0].account.start_date == chain[0].start_date


def test_churned_accounts_have_a_date_a_reason_and_no_contract_after_it():
    seed("--accounts", "60", "--days", "60")
    churned = Account.objects.filter(lifecycle_status=Account.Lifecycle.CHURNED)

    assert churned.exists()
    for account in churned:
        assert account.churned_on is not None
        assert account.churn_reason in Account.ChurnReason.values
        assert not account.contracts.filter(start_date__gt=account.churned_on).exists()
        last_end = account.contracts.aggregate(last=Max("end_date"))["last"]
        assert last_end <= account.churned_on <= last_end + dt.timedelta(days=14)
        assert account.arr == 0
    assert not Account.objects.live().filter(churned_on__isnull=False).exists()


def test_usage_is_one_row_per_account_day_from_the_covering_contract_and_stops_at_churn():
    seed(*SMALL)
    today = timezone.localdate()

    rows = list(UsageRecord.objects.values_list("account_id", "day", "licensed_seats"))
    assert len(rows) == len({(account, day) for account, day, _ in rows})
    assert all(today - dt.timedelta(days=60) <= day < today for _, day, _ in rows)
    terms = defaultdict(list)
    for account_id, start, end, seats in Contract.objects.values_list(
        "account_id", "start_date", "end_date", "seats"
    ):
        terms[account_id].append((start, end, seats))
    for account_id, day, seats in rows:
        covering = [s for start, end, s in terms[account_id] if start <= day <= end]
        assert covering == [seats]
    for account in Account.objects.filter(churned_on__isnull=False):
        assert not account.usage_records.filter(day__gt=account.churned_on).exists()
    # A live account that started before the window has a row for every day of it.
    veteran = Account.objects.live().filter(start_date__lt=today - dt.timedelta(days=60)).first()
    assert veteran.usage_records.count() == 60


def test_demo_logins_exist_with_their_roles_and_the_password_demo():
    seed(*SMALL)

    admin = User.objects.get(username="admin")
    manager = User.objects.get(username="manager")
    csm = User.objects.get(username="csm")
    executive = User.objects.get(username="exec")

    assert (admin.role, admin.is_staff, admin.is_superuser) == ("admin", True, True)
    assert manager.role == User.Role.MANAGER
    assert csm.role == User.Role.CSM
    assert executive.role == User.Role.EXECUTIVE
    assert executive.team is None
    for user in (admin, manager, csm, executive):
        assert user.check_password("demo")
        assert user.first_name
        assert user.last_name
    assert User.objects.get(username="manager").managed_teams.get() == manager.team


def test_csm_login_owns_accounts_on_the_managers_team():
    seed(*SMALL)

    csm = User.objects.get(username="csm")
    manager = User.objects.get(username="manager")

    assert csm.team == manager.team
    assert csm.team.manager == manager
    assert csm.owned_accounts.exists()
    assert set(csm.owned_accounts.values_list("team", flat=True)) == {csm.team_id}
    # Every account has an owner on its own team, and every team at least two CSMs.
    for account in Account.objects.select_related("owner"):
        assert account.owner.role == User.Role.CSM
        assert account.owner.team_id == account.team_id
    for team in Team.objects.all():
        assert team.members.filter(role=User.Role.CSM).count() >= 2
        assert team.manager is not None


def test_contacts_have_one_or_two_decision_makers_and_unique_emails():
    seed(*SMALL)

    for account in Account.objects.prefetch_related("contacts"):
        contacts = list(account.contacts.all())
        assert 2 <= len(contacts) <= 8
        assert 1 <= sum(c.is_decision_maker for c in contacts) <= 2
        assert len({c.email for c in contacts}) == len(contacts)


def test_activity_rows_are_consistent_with_their_accounts():
    seed(*SMALL)
    today = timezone.localdate()

    for interaction in Interaction.objects.prefetch_related("participants"):
        assert interaction.author_id == interaction.account.owner_id
        assert all(c.account_id == interaction.account_id for c in interaction.participants.all())
    newest = dict(
        Interaction.objects.values("account")
        .annotate(n=Max("occurred_on"))
        .values_list("account", "n")
    )
    for account_id, last in Account.objects.values_list("pk", "last_interaction_on"):
        assert last == newest.get(account_id)
    assert Interaction.objects.filter(participants__isnull=False).exists()
    assert Task.objects.filter(status="open", due_date__lt=today).exists()  # overdue
    assert Task.objects.filter(status="open", due_date__gte=today).exists()
    assert not Task.objects.filter(status="done", completed_at__isnull=True).exists()
    assert SupportTicket.objects.filter(closed_at__isnull=True).exists()
    for ticket in SupportTicket.objects.exclude(closed_at=None):
        assert ticket.closed_at >= ticket.opened_at
        assert ticket.status in ("solved", "closed")
    surveys = dict(Survey.objects.values_list("pk", "kind"))
    assert sorted(surveys.values()) == ["ces", "csat", "nps"]
    for survey_id, kind, contact_account, account_id in SurveyAnswer.objects.values_list(
        "survey", "kind", "contact__account", "account"
    ):
        assert surveys[survey_id] == kind
        assert contact_account == account_id


def test_rerun_with_the_same_seed_gives_the_same_data_and_replaces_it():
    seed(*SMALL, "--seed", "7")
    first = fingerprint()
    users = User.objects.count()

    seed(*SMALL, "--seed", "7")

    assert fingerprint() == first
    assert User.objects.count() == users
    assert Account.objects.count() == 30


def test_another_seed_gives_other_data():
    seed(*SMALL, "--seed", "1")
    first = fingerprint()

    seed(*SMALL, "--seed", "2")

    assert fingerprint() != first


def test_if_empty_leaves_existing_data_untouched():
    seed(*SMALL)
    before = fingerprint()

    output = seed("--accounts", "5", "--days", "10", "--seed", "9", "--if-empty")

    assert "leaving the data as it is" in output
    assert fingerprint() == before


def test_if_empty_seeds_an_empty_database():
    output = seed("--accounts", "5", "--days", "10", "--if-empty")

    assert "Seeded 5 accounts" in output
    assert Account.objects.count() == 5


def test_churned_accounts_use_the_product_less_before_they_leave():
    # Given accounts that churned with four months of usage before their last day
    seed("--accounts", "200", "--days", "300")
    recent, earlier = [], []
    for account in Account.objects.filter(lifecycle_status="churned"):
        last_day = account.usage_records.aggregate(last=Max("day"))["last"]
        if last_day is None:
            continue

        def utilisation(first: int, last: int, account=account, last_day=last_day) -> float:
            window = account.usage_records.filter(
                day__gte=last_day - dt.timedelta(days=first),
                day__lte=last_day - dt.timedelta(days=last),
            ).aggregate(active=Sum("active_users"), seats=Sum("licensed_seats"), days=Count("id"))
            return window["active"] / window["seats"] if window["days"] == first - last + 1 else -1

        before = utilisation(120, 90)
        if before < 0:
            continue
        recent.append(utilisation(29, 0))
        earlier.append(before)

    # Then, on average, the last 30 days show clearly less use than 90-120 days before
    assert len(recent) >= 5
    assert sum(recent) / len(recent) < 0.8 * sum(earlier) / len(earlier)


def test_account_arr_is_the_sum_of_contracts_covering_today():
    seed(*SMALL)
    today = timezone.localdate()

    expected = defaultdict(Decimal)
    for account_id, start, end, arr in Contract.objects.values_list(
        "account_id", "start_date", "end_date", "arr"
    ):
        if start <= today <= end:
            expected[account_id] += arr
    for account in Account.objects.all():
        assert account.arr == expected[account.pk]
        if account.lifecycle_status != "churned":
            assert account.arr > 0
            assert account.renewal_date >= today


def test_bad_arguments_are_refused_before_anything_is_deleted():
    seed(*SMALL)

    with pytest.raises(CommandError, match="--accounts"):
        call_command("seed_demo", "--accounts", "0", verbosity=0)

    assert Account.objects.count() == 30
    assert Contact.objects.exists()


def test_health_history_is_computed_after_seeding_so_the_demo_has_trends():
    from health.models import HealthScore, RetentionSnapshot

    seed("--accounts", "30", "--days", "60", "--health-days", "3", "--reports", "0")

    days = sorted(set(HealthScore.objects.values_list("day", flat=True)))
    assert len(days) == 3
    live = Account.objects.exclude(lifecycle_status=Account.Lifecycle.CHURNED).count()
    latest = HealthScore.objects.filter(day=days[-1])
    assert 0 < latest.count() <= live
    # The accounts' current score is the latest day's.
    scored = Account.objects.filter(health_score__isnull=False)
    assert scored.count() == latest.count()
    assert RetentionSnapshot.objects.filter(scope="company").exists()
    # Today's nightly jobs ran as the beat would run them, each recorded as a success, so
    # the health page's job table of a fresh demo has no warning.
    from accounts.jobs import JOBS, Cadence, job_status_rows
    from accounts.models import JobRun

    daily = {job.name for job in JOBS if job.cadence == Cadence.DAILY}
    succeeded_today = set(
        JobRun.objects.filter(status="succeeded", period=days[-1].isoformat()).values_list(
            "job", flat=True
        )
    )
    # And the weekly backtest, which churn risk learns from, so no job reads "never run".
    assert succeeded_today == daily | {"health_backtest"}
    assert job_status_rows(today=days[-1]).warnings == []


def test_every_live_account_is_placed_on_its_journey_with_a_consistent_history():
    from journeys.models import AccountJourney, StageTransition

    seed(*SMALL)

    live = set(Account.objects.live().values_list("pk", flat=True))
    journeys = {j.account_id: j for j in AccountJourney.objects.select_related("stage")}
    assert set(journeys) == live
    for account_id, journey in journeys.items():
        history = list(StageTransition.objects.filter(account_id=account_id).order_by("at"))
        assert history[0].from_stage is None
        assert history[-1].to_stage == journey.stage
        assert history[-1].at == journey.entered_at
        assert [t.at for t in history] == sorted(t.at for t in history)
    assert len({j.stage.slug for j in journeys.values()}) >= 2


def test_a_fresh_demo_has_the_pages_rollups_so_no_page_starts_empty():
    from health.models import HealthBandTrend, HealthScore
    from reports.models import FeedbackScoreMonth, MetricSnapshot

    seed("--accounts", "30", "--days", "60", "--health-days", "3", "--reports", "0")

    latest = max(HealthScore.objects.values_list("day", flat=True))
    company = HealthBandTrend.objects.filter(scope="company", day=latest)
    # The latest day's three bands add up to the accounts scored that day.
    assert sum(row.accounts for row in company) == HealthScore.objects.filter(day=latest).count()
    assert FeedbackScoreMonth.objects.filter(scope="company").exists()
    assert not MetricSnapshot.objects.filter(metric__startswith="health_drop_").exists()
