"""Journey writes: starting, moving, completing milestones (and advancing by itself), the
handoff, and the stage settings. Dates are fixed and worked out by hand."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from journeys.models import (
    AccountJourney,
    Handoff,
    Milestone,
    MilestoneCompletion,
    Stage,
    StageTransition,
)
from journeys.services import (
    AUTO_ADVANCE_RULE,
    handoff_save,
    journey_move,
    journey_start,
    milestone_complete,
    milestone_create,
    milestone_reopen,
    milestone_update,
    stage_create,
    stage_update,
    stages_reorder,
)
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 1)


def at(year: int, month: int, day: int, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(dt.datetime(year, month, day, hour))


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr("journeys.services.local_today", lambda: TODAY)


@pytest.fixture
def stages():
    """The default journey from migration 0002, by slug."""
    return {stage.slug: stage for stage in Stage.objects.all()}


@pytest.fixture
def enqueued(monkeypatch):
    """Calls of playbooks_run_task.delay, as (today, account ids)."""
    calls: list[tuple] = []
    monkeypatch.setattr("journeys.tasks.playbooks_run_task.delay", lambda *args: calls.append(args))
    return calls


def onboarding_milestones(stages) -> list[Milestone]:
    return list(stages["onboarding"].milestones.order_by("order"))


# --- Start and move ----------------------------------------------------------------------


def test_starting_a_journey_records_a_transition_from_nowhere(account, owner, stages):
    journey = journey_start(
        account=account, stage=stages["onboarding"], by=owner, reason="Signed", at=at(2026, 1, 1)
    )

    assert journey.stage == stages["onboarding"]
    assert journey.entered_at == at(2026, 1, 1)
    transition = StageTransition.objects.get(account=account)
    assert transition.from_stage is None
    assert transition.to_stage == stages["onboarding"]
    assert transition.by == owner
    assert transition.reason == "Signed"


def test_an_account_starts_its_journey_only_once(account, owner, stages):
    journey_start(account=account, stage=stages["onboarding"], by=owner)

    with pytest.raises(ValidationError, match="already started"):
        journey_start(account=account, stage=stages["activation"], by=owner)

    assert AccountJourney.objects.get(account=account).stage == stages["onboarding"]
    assert StageTransition.objects.filter(account=account).count() == 1


def test_a_manual_move_records_from_to_when_who_and_why(account, owner, stages):
    journey_start(account=account, stage=stages["onboarding"], by=owner, at=at(2026, 1, 1))

    transition = journey_move(
        account=account,
        to_stage=stages["activation"],
        by=owner,
        reason="Live since Monday",
        at=at(2026, 1, 31),
    )

    assert transition.from_stage == stages["onboarding"]
    assert transition.to_stage == stages["activation"]
    assert transition.at == at(2026, 1, 31)
    assert transition.by == owner
    assert transition.rule == ""
    assert transition.reason == "Live since Monday"
    journey = AccountJourney.objects.get(account=account)
    assert journey.stage == stages["activation"]
    assert journey.entered_at == at(2026, 1, 31)
    # Stayed in onboarding from 1 Jan to 31 Jan: 30 days.
    assert (transition.at - journey_start_time(account)).days == 30


def journey_start_time(account) -> dt.datetime:
    return StageTransition.objects.get(account=account, from_stage__isnull=True).at


def test_an_account_can_move_back_to_an_earlier_stage(account, owner, stages):
    journey_start(account=account, stage=stages["activation"], by=owner, at=at(2026, 1, 1))

    journey_move(account=account, to_stage=stages["onboarding"], by=owner, reason="Re-onboard")

    assert AccountJourney.objects.get(account=account).stage == stages["onboarding"]


def test_moving_to_the_stage_it_is_in_is_refused_and_changes_nothing(account, owner, stages):
    journey_start(account=account, stage=stages["onboarding"], by=owner, at=at(2026, 1, 1))

    with pytest.raises(ValidationError, match="already in Onboarding"):
        journey_move(account=account, to_stage=stages["onboarding"], by=owner, reason="x")

    assert StageTransition.objects.filter(account=account).count() == 1
    assert AccountJourney.objects.get(account=account).entered_at == at(2026, 1, 1)


def test_moving_an_account_that_never_started_is_refused(account, owner, stages):
    with pytest.raises(ValidationError, match="not started"):
        journey_move(account=account, to_stage=stages["activation"], by=owner, reason="x")
    assert not StageTransition.objects.exists()


def test_a_move_cannot_be_dated_before_the_stage_was_entered(account, owner, stages):
    journey_start(account=account, stage=stages["onboarding"], by=owner, at=at(2026, 2, 1))

    with pytest.raises(ValidationError, match="before the account entered Onboarding"):
        journey_move(account=account, to_stage=stages["activation"], by=owner, at=at(2026, 1, 1))

    assert AccountJourney.objects.get(account=account).stage == stages["onboarding"]


# --- Handoff on entering onboarding ------------------------------------------------------


def test_starting_in_onboarding_opens_an_empty_handoff(account, owner, stages):
    journey_start(account=account, stage=stages["onboarding"], by=owner)

    handoff = Handoff.objects.get(account=account)
    assert handoff.goals == ""
    assert handoff.updated_by is None


def test_moving_into_onboarding_opens_a_handoff_and_keeps_an_existing_one(account, owner, stages):
    other = AccountFactory(owner=owner)
    Handoff.objects.create(account=other, goals="Cut churn by a third")
    journey_start(account=account, stage=stages["activation"], by=owner, at=at(2026, 1, 1))
    journey_start(account=other, stage=stages["activation"], by=owner, at=at(2026, 1, 1))
    assert not Handoff.objects.filter(account=account).exists()

    journey_move(account=account, to_stage=stages["onboarding"], by=owner, reason="Restart")
    journey_move(account=other, to_stage=stages["onboarding"], by=owner, reason="Restart")

    assert Handoff.objects.get(account=account).goals == ""
    assert Handoff.objects.get(account=other).goals == "Cut churn by a third"
    assert Handoff.objects.count() == 2


def test_entering_another_stage_opens_no_handoff(account, owner, stages):
    journey_start(account=account, stage=stages["adoption"], by=owner)
    assert not Handoff.objects.exists()


def test_handoff_save_writes_every_field_and_who(account, owner):
    handoff = handoff_save(
        account=account,
        by=owner,
        goals="Self-serve reporting",
        promised_outcomes="Month-end close in 2 days",
        stakeholders="Ana (CFO, sponsor)",
        go_live_date=dt.date(2026, 4, 1),
        sales_notes="Price-sensitive",
    )
    handoff_save(account=account, by=owner, goals="Self-serve reporting for finance")

    handoff.refresh_from_db()
    assert handoff.goals == "Self-serve reporting for finance"
    assert handoff.promised_outcomes == ""  # a save writes the whole form
    assert handoff.updated_by == owner
    assert Handoff.objects.count() == 1


# --- Playbooks are told after commit -----------------------------------------------------


def test_every_move_asks_the_playbooks_to_look_at_the_account_after_commit(
    account, owner, stages, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        journey_start(account=account, stage=stages["onboarding"], by=owner)
        journey_move(account=account, to_stage=stages["activation"], by=owner, reason="Live")
    assert enqueued == []  # nothing before the commit

    for callback in callbacks:
        callback()

    assert enqueued == [("2026-03-01", [account.pk]), ("2026-03-01", [account.pk])]


def test_a_refused_move_enqueues_nothing(
    account, owner, stages, enqueued, django_capture_on_commit_callbacks
):
    journey_start(account=account, stage=stages["onboarding"], by=owner)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(ValidationError):
            journey_move(account=account, to_stage=stages["onboarding"], by=owner)
    assert callbacks == []


# --- Milestones and auto-advance ---------------------------------------------------------


def test_completing_a_milestone_records_who_when_and_the_note(account, owner, stages):
    journey_start(account=account, stage=stages["onboarding"], by=owner, at=at(2026, 1, 1))
    kickoff = onboarding_milestones(stages)[0]

    outcome = milestone_complete(
        account=account, milestone=kickoff, by=owner, note="Met the whole team", at=at(2026, 1, 5)
    )

    assert outcome.advanced is None
    completion = MilestoneCompletion.objects.get(account=account, milestone=kickoff)
    assert completion.completed_by == owner
    assert completion.completed_at == at(2026, 1, 5)
    assert completion.note == "Met the whole team"


def test_the_last_required_milestone_moves_the_account_to_the_next_stage(
    account, owner, stages, enqueued, django_capture_on_commit_callbacks
):
    journey_start(account=account, stage=stages["onboarding"], by=owner, at=at(2026, 1, 1))
    kickoff, setup, training = onboarding_milestones(stages)
    milestone_complete(account=account, milestone=kickoff, by=owner, at=at(2026, 1, 5))
    milestone_complete(account=account, milestone=setup, by=owner, at=at(2026, 1, 20))
    assert AccountJourney.objects.get(account=account).stage == stages["onboarding"]

    with django_capture_on_commit_callbacks(execute=True):
        outcome = milestone_complete(
            account=account, milestone=training, by=owner, at=at(2026, 1, 31)
        )

    journey = AccountJourney.objects.get(account=account)
    assert journey.stage == stages["activation"]
    assert journey.entered_at == at(2026, 1, 31)
    transition = outcome.advanced
    assert transition.from_stage == stages["onboarding"]
    assert transition.to_stage == stages["activation"]
    assert transition.rule == AUTO_ADVANCE_RULE
    assert transition.by is None
    assert "Onboarding" in transition.reason
    # The completion keeps who did it; the move is the rule's.
    assert MilestoneCompletion.objects.get(milestone=training).completed_by == owner
    assert enqueued == [("2026-03-01", [account.pk])]


def test_an_open_optional_milestone_does_not_block_the_advance(account, owner, stages):
    optional = milestone_create(
        stage=stages["onboarding"],
        name="Customer logo on the website",
        target_days=30,
        stuck_days=60,
        is_required=False,
    )
    journey_start(account=account, stage=stages["onboarding"], by=owner, at=at(2026, 1, 1))

    for milestone in onboarding_milestones(stages):
        if milestone.is_required:
            milestone_complete(account=account, milestone=milestone, by=owner)

    assert AccountJourney.objects.get(account=account).stage == stages["activation"]
    assert not MilestoneCompletion.objects.filter(milestone=optional).exists()


def test_completing_only_the_optional_milestone_does_not_advance(account, owner, stages):
    optional = milestone_create(
        stage=stages["onboarding"], name="Logo", target_days=30, stuck_days=60, is_required=False
    )
    journey_start(account=account, stage=stages["onboarding"], by=owner)

    outcome = milestone_complete(account=account, milestone=optional, by=owner)

    assert outcome.advanced is None
    assert AccountJourney.objects.get(account=account).stage == stages["onboarding"]


def test_a_stage_without_auto_advance_waits_for_a_person(account, owner, stages):
    assert stages["adoption"].auto_advance is False  # the default journey's
    journey_start(account=account, stage=stages["adoption"], by=owner)

    for milestone in stages["adoption"].milestones.all():
        outcome = milestone_complete(account=account, milestone=milestone, by=owner)

    assert outcome.advanced is None
    assert AccountJourney.objects.get(account=account).stage == stages["adoption"]


def test_changing_a_stage_keeps_its_rules_checked(stages):
    stage_update(
        stage=stages["adoption"],
        name="Deepening use",
        slug="adoption",
        order=3,
        target_days=120,
        auto_advance=True,
    )
    with pytest.raises(ValidationError) as caught:
        stage_update(
            stage=stages["renewal"],
            name="Deepening use",
            slug="renewal",
            order=4,
            target_days=90,
            auto_advance=False,
        )

    assert "name" in caught.value.message_dict
    assert Stage.objects.get(slug="adoption").target_days == 120
    assert Stage.objects.get(slug="renewal").name == "Renewal"


def test_the_last_stage_has_nowhere_to_advance_to(account, owner, stages):
    Stage.objects.filter(slug="renewal").update(auto_advance=True)
    journey_start(account=account, stage=Stage.objects.get(slug="renewal"), by=owner)

    for milestone in stages["renewal"].milestones.all():
        outcome = milestone_complete(account=account, milestone=milestone, by=owner)

    assert outcome.advanced is None
    assert AccountJourney.objects.get(account=account).stage == stages["renewal"]


def test_a_milestone_of_another_stage_cannot_be_completed(account, owner, stages):
    journey_start(account=account, stage=stages["onboarding"], by=owner)
    first_value = stages["activation"].milestones.first()

    with pytest.raises(ValidationError, match="not to the account's current stage"):
        milestone_complete(account=account, milestone=first_value, by=owner)
    assert not MilestoneCompletion.objects.exists()


def test_a_milestone_is_completed_once(account, owner, stages):
    journey_start(account=account, stage=stages["onboarding"], by=owner)
    kickoff = onboarding_milestones(stages)[0]
    milestone_complete(account=account, milestone=kickoff, by=owner, note="first")

    with pytest.raises(ValidationError, match="already done"):
        milestone_complete(account=account, milestone=kickoff, by=owner, note="second")
    assert MilestoneCompletion.objects.get().note == "first"


def test_reopening_a_milestone_removes_its_completion_only(account, owner, stages):
    journey_start(account=account, stage=stages["onboarding"], by=owner)
    kickoff = onboarding_milestones(stages)[0]
    milestone_complete(account=account, milestone=kickoff, by=owner)

    milestone_reopen(account=account, milestone=kickoff, by=owner)

    assert not MilestoneCompletion.objects.exists()
    with pytest.raises(ValidationError, match="nothing to reopen"):
        milestone_reopen(account=account, milestone=kickoff, by=owner)


# --- Settings ----------------------------------------------------------------------------


def test_a_new_stage_goes_last_unless_given_a_position():
    stage = stage_create(name="Advocacy", slug="advocacy", target_days=365)
    assert stage.order == 5


def test_a_stage_position_is_unique():
    with pytest.raises(ValidationError) as caught:
        stage_create(name="Advocacy", slug="advocacy", order=2)
    assert "order" in caught.value.message_dict
    assert Stage.objects.count() == 4


def test_reordering_gives_positions_one_to_n(stages):
    ids = [stages[s].pk for s in ("activation", "onboarding", "adoption", "renewal")]

    stages_reorder(stage_ids=ids)

    assert list(Stage.objects.order_by("order").values_list("slug", "order")) == [
        ("activation", 1),
        ("onboarding", 2),
        ("adoption", 3),
        ("renewal", 4),
    ]


def test_reordering_must_list_every_stage(stages):
    with pytest.raises(ValidationError, match="every stage"):
        stages_reorder(stage_ids=[stages["activation"].pk])
    assert Stage.objects.get(slug="onboarding").order == 1


def test_a_milestone_stuck_before_its_target_is_refused_with_a_reason(stages):
    with pytest.raises(ValidationError) as caught:
        milestone_create(stage=stages["activation"], name="Pilot", target_days=30, stuck_days=20)

    assert "can't come before the target" in caught.value.message_dict["stuck_days"][0]
    assert not Milestone.objects.filter(name="Pilot").exists()


def test_a_new_milestone_goes_last_in_its_stage(stages):
    milestone = milestone_create(
        stage=stages["activation"], name="Pilot", target_days=30, stuck_days=30
    )
    # Activation's defaults are at positions 0 and 1.
    assert milestone.order == 2


def test_updating_a_milestone_checks_its_days(stages):
    kickoff = stages["onboarding"].milestones.get(order=0)

    milestone_update(
        milestone=kickoff,
        name="Kickoff held",
        target_days=5,
        stuck_days=10,
        is_required=True,
        order=0,
    )
    with pytest.raises(ValidationError):
        milestone_update(
            milestone=kickoff,
            name="Kickoff held",
            target_days=9,
            stuck_days=8,
            is_required=True,
            order=0,
        )

    kickoff.refresh_from_db()
    assert (kickoff.name, kickoff.target_days, kickoff.stuck_days) == ("Kickoff held", 5, 10)
