"""The playbook engine on hand-built accounts: each trigger fires once per occurrence, a new
occurrence fires again, snoozes hold, shared keys converge with the health alert and the
detractor follow-up, and the run is set-based (its query count does not grow with accounts).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, Segment, SegmentMembership, Task
from health.models import HealthScore, ScorecardVersion
from health.recompute import health_alerts_raise
from journeys.models import (
    AccountJourney,
    Milestone,
    MilestoneCompletion,
    Playbook,
    PlaybookFiring,
    PlaybookSnooze,
    PlaybookTaskTemplate,
    SegmentPresence,
    Stage,
)
from journeys.playbooks import playbooks_run
from journeys.services_playbooks import (
    TemplateSpec,
    playbook_create,
    playbook_params_clean,
    playbook_snooze,
    playbook_unsnooze,
)
from tests.factories import AccountFactory, SurveyAnswerFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 30)
DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def _defaults_off(db):
    """The four default playbooks are switched off so each test sees only its own rules."""
    Playbook.objects.update(is_active=False)


def make_playbook(trigger: str, params: dict, *templates: TemplateSpec, name: str = "") -> Playbook:
    return playbook_create(
        name=name or f"{trigger} {Playbook.objects.count()}",
        trigger=trigger,
        params=params,
        templates=templates or [TemplateSpec(title="Act on {account}", due_in_days=3)],
        created_by=None,
    )


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


def score(account: Account, day: dt.date, value: int, band: str) -> HealthScore:
    version = ScorecardVersion.objects.get(scorecard__name="Default")
    return HealthScore.objects.create(
        account=account,
        day=day,
        score=value,
        band=band,
        computed_score=value,
        computed_band=band,
        components={},
        scorecard_version=version,
    )


def playbook_tasks(account: Account | None = None):
    tasks = Task.objects.filter(source=Task.Source.PLAYBOOK)
    return tasks.filter(account=account) if account else tasks


# --- renewal_in_days -------------------------------------------------------------------


def test_renewal_fires_once_per_renewal_and_again_for_the_next_one(account, owner):
    account.renewal_date = TODAY + 60 * DAY  # 2026-08-29
    account.save()
    make_playbook(
        "renewal_in_days",
        {"days": 90},
        TemplateSpec(
            title="Prepare the renewal of {account}",
            description="Renews {renewal_date}.",
            due_in_days=7,
            priority="high",
        ),
    )

    assert playbooks_run(today=TODAY) == 1
    task = playbook_tasks().get()
    assert task.title == "Prepare the renewal of Acme Corp"
    assert task.description == "Renews 2026-08-29.\n\nRenews on 2026-08-29, in 60 days."
    assert (task.owner, task.due_date, task.priority) == (owner, dt.date(2026, 7, 7), "high")
    assert task.dedupe_key.endswith(":renewal:2026-08-29")

    # Rerun the same night, and the next nights: the same renewal, nothing new.
    assert playbooks_run(today=TODAY) == 0
    assert playbooks_run(today=TODAY + DAY) == 0
    assert playbooks_run(today=TODAY + 30 * DAY) == 0
    assert playbook_tasks().count() == 1

    # Renewed: the next renewal date comes into the window a year on, a new occurrence.
    account.renewal_date = dt.date(2027, 8, 29)
    account.save()
    assert playbooks_run(today=dt.date(2027, 6, 1)) == 1
    assert sorted(PlaybookFiring.objects.values_list("occurrence", flat=True)) == [
        "renewal:2026-08-29",
        "renewal:2027-08-29",
    ]


def test_renewal_window_includes_its_last_day_and_not_the_next(owner):
    inside = AccountFactory(owner=owner, renewal_date=TODAY + 90 * DAY)
    outside = AccountFactory(owner=owner, renewal_date=TODAY + 91 * DAY)
    past = AccountFactory(owner=owner, renewal_date=TODAY - DAY)
    make_playbook("renewal_in_days", {"days": 90})

    assert playbooks_run(today=TODAY) == 1
    assert set(playbook_tasks().values_list("account", flat=True)) == {inside.pk}
    assert not playbook_tasks(outside).exists()
    assert not playbook_tasks(past).exists()


def test_renewal_with_band_condition_fires_only_for_those_bands(owner):
    red = AccountFactory(owner=owner, renewal_date=TODAY + 10 * DAY, health_band="red")
    AccountFactory(owner=owner, renewal_date=TODAY + 10 * DAY, health_band="green")
    AccountFactory(owner=owner, renewal_date=TODAY + 10 * DAY, health_band="")
    make_playbook("renewal_in_days", {"days": 90, "band_in": ["red", "yellow"]})

    assert playbooks_run(today=TODAY) == 1
    assert playbook_tasks().get().account == red


def test_churned_accounts_get_no_tasks(owner):
    AccountFactory(
        owner=owner,
        renewal_date=TODAY + 10 * DAY,
        lifecycle_status=Account.Lifecycle.CHURNED,
        churned_on=TODAY - DAY,
    )
    make_playbook("renewal_in_days", {"days": 90})

    assert playbooks_run(today=TODAY) == 0


def test_only_the_given_accounts_are_evaluated_after_an_event(owner):
    first = AccountFactory(owner=owner, renewal_date=TODAY + 10 * DAY)
    second = AccountFactory(owner=owner, renewal_date=TODAY + 10 * DAY)
    make_playbook("renewal_in_days", {"days": 90})

    assert playbooks_run(today=TODAY, account_ids=[first.pk]) == 1
    assert playbooks_run(today=TODAY, account_ids=[]) == 0
    assert not playbook_tasks(second).exists()
    # The nightly run then picks up the other one only.
    assert playbooks_run(today=TODAY) == 1


# --- assignee -------------------------------------------------------------------------


def test_team_manager_assignee_gets_the_task_and_falls_back_to_the_owner(account, manager):
    no_manager_team = TeamFactory(name="Managerless")
    lone_csm = UserFactory(team=no_manager_team)
    orphan = AccountFactory(owner=lone_csm, team=no_manager_team, renewal_date=TODAY + 5 * DAY)
    account.renewal_date = TODAY + 5 * DAY
    account.save()
    make_playbook(
        "renewal_in_days",
        {"days": 30},
        TemplateSpec(title="Owner prepares", assignee="owner"),
        TemplateSpec(title="Manager reviews", assignee="team_manager", due_in_days=1),
    )

    assert playbooks_run(today=TODAY) == 4
    mine = dict(playbook_tasks(account).values_list("title", "owner"))
    assert mine == {"Owner prepares": account.owner_id, "Manager reviews": manager.pk}
    theirs = dict(playbook_tasks(orphan).values_list("title", "owner"))
    assert theirs == {"Owner prepares": lone_csm.pk, "Manager reviews": lone_csm.pk}


# --- snooze ---------------------------------------------------------------------------


def test_snooze_holds_through_its_last_day_then_the_playbook_fires(account):
    account.renewal_date = TODAY + 60 * DAY
    account.save()
    playbook = make_playbook("renewal_in_days", {"days": 90})
    playbook_snooze(playbook=playbook, account=account, until=TODAY + 2 * DAY, today=TODAY)

    assert playbooks_run(today=TODAY) == 0
    assert playbooks_run(today=TODAY + 2 * DAY) == 0
    assert playbooks_run(today=TODAY + 3 * DAY) == 1
    assert PlaybookFiring.objects.get().occurrence == "renewal:2026-08-29"


def test_a_snooze_is_per_playbook_and_can_be_lifted(account):
    account.renewal_date = TODAY + 60 * DAY
    account.save()
    snoozed = make_playbook("renewal_in_days", {"days": 90}, name="Snoozed one")
    make_playbook("renewal_in_days", {"days": 90}, name="Other one")
    playbook_snooze(playbook=snoozed, account=account, until=TODAY + 30 * DAY, today=TODAY)

    assert playbooks_run(today=TODAY) == 1
    assert PlaybookFiring.objects.get().playbook.name == "Other one"
    assert playbook_unsnooze(playbook=snoozed, account=account) is True
    assert playbooks_run(today=TODAY) == 1
    assert PlaybookSnooze.objects.count() == 0


def test_snooze_until_must_not_be_in_the_past(account):
    playbook = make_playbook("renewal_in_days", {"days": 90})
    with pytest.raises(ValidationError) as caught:
        playbook_snooze(playbook=playbook, account=account, until=TODAY - DAY, today=TODAY)
    assert "until" in caught.value.message_dict
    assert not PlaybookSnooze.objects.exists()


# --- band_changed_to and the health alert ----------------------------------------------


def test_band_change_fires_once_for_a_change_and_not_for_a_steady_band(owner):
    changed = AccountFactory(owner=owner)
    steady = AccountFactory(owner=owner)
    newcomer = AccountFactory(owner=owner)
    score(changed, TODAY - DAY, 75, "green")
    score(changed, TODAY, 55, "yellow")
    score(steady, TODAY - DAY, 50, "yellow")
    score(steady, TODAY, 48, "yellow")
    score(newcomer, TODAY, 45, "yellow")  # first score ever: no change to speak of
    make_playbook("band_changed_to", {"band": "yellow"})

    assert playbooks_run(today=TODAY) == 1
    assert playbooks_run(today=TODAY) == 0
    task = playbook_tasks().get()
    assert task.account == changed
    assert PlaybookFiring.objects.get().occurrence == "band-yellow:2026-06-30"
    assert task.description == "Health went from green to yellow on 2026-06-30."


def test_band_change_reads_the_latest_scored_day_before_today(owner):
    account = AccountFactory(owner=owner)
    score(account, TODAY - 3 * DAY, 75, "green")
    score(account, TODAY - 2 * DAY, 35, "red")
    make_playbook("band_changed_to", {"band": "red"})

    # Tonight's scores are not in yet: the change two days ago is still seen, once.
    assert playbooks_run(today=TODAY) == 1
    assert PlaybookFiring.objects.get().occurrence == "band-red:2026-06-28"
    assert playbook_tasks().get().dedupe_key == "health-red:2026-06-28"


def test_red_playbook_and_health_alert_converge_on_one_task_alert_first(account, owner):
    score(account, TODAY - DAY, 45, "yellow")
    score(account, TODAY, 30, "red")
    assert health_alerts_raise(day=TODAY) == 1
    alert = Task.objects.get(account=account)
    make_playbook(
        "band_changed_to",
        {"band": "red"},
        TemplateSpec(title="Red: call {account} today", due_in_days=1, priority="urgent"),
    )

    assert playbooks_run(today=TODAY) == 0
    assert playbooks_run(today=TODAY) == 0
    task = Task.objects.get(account=account)
    assert task.pk == alert.pk
    assert PlaybookFiring.objects.get().task_id == alert.pk
    # Still open, so it now reads as the playbook says; it stays the alert's.
    assert (task.title, task.priority, task.source) == (
        "Red: call Acme Corp today",
        "urgent",
        Task.Source.ALERT,
    )
    assert task.description == "Health went from yellow to red on 2026-06-30."
    assert task.dedupe_key == "health-red:2026-06-30"


def test_red_playbook_and_health_alert_converge_on_one_task_playbook_first(account):
    score(account, TODAY - DAY, 45, "yellow")
    score(account, TODAY, 30, "red")
    Playbook.objects.filter(name="Health dropped to red").update(is_active=True)

    assert playbooks_run(today=TODAY) == 1
    assert health_alerts_raise(day=TODAY) == 0
    task = Task.objects.get(account=account)
    assert (task.title, task.source, task.dedupe_key) == (
        "Health dropped into red: review the account",
        Task.Source.PLAYBOOK,
        "health-red:2026-06-30",
    )


def test_a_closed_alert_is_linked_but_left_as_it_was(account, owner):
    score(account, TODAY - DAY, 45, "yellow")
    score(account, TODAY, 30, "red")
    health_alerts_raise(day=TODAY)
    Task.objects.update(status=Task.Status.DONE, completed_at=timezone.now())
    make_playbook("band_changed_to", {"band": "red"}, TemplateSpec(title="Something else"))

    assert playbooks_run(today=TODAY) == 0
    task = Task.objects.get(account=account)
    assert task.title == "Health dropped into red: review the account"
    assert PlaybookFiring.objects.get().task_id == task.pk


# --- score_dropped --------------------------------------------------------------------


def test_score_drop_fires_then_stays_quiet_for_a_week(account):
    score(account, TODAY - 7 * DAY, 80, "green")
    score(account, TODAY, 64, "yellow")  # 16 points down in 7 days
    make_playbook("score_dropped", {"points": 15})

    assert playbooks_run(today=TODAY) == 1
    assert playbooks_run(today=TODAY) == 0
    assert PlaybookFiring.objects.get().occurrence == "drop:2026-06-30"

    # Three days later it is 25 down on its week-ago score: still the same slide.
    score(account, TODAY - 4 * DAY, 85, "green")
    score(account, TODAY + 3 * DAY, 60, "yellow")
    assert playbooks_run(today=TODAY + 3 * DAY) == 0

    # A week after the first task, a new fall of 24 points is a new occurrence.
    score(account, TODAY + 7 * DAY, 40, "yellow")
    assert playbooks_run(today=TODAY + 7 * DAY) == 1
    assert PlaybookFiring.objects.filter(occurrence="drop:2026-07-07").exists()


def test_a_drop_smaller_than_the_points_does_not_fire(account):
    score(account, TODAY - 7 * DAY, 80, "green")
    score(account, TODAY, 66, "yellow")  # 14 points
    make_playbook("score_dropped", {"points": 15})

    assert playbooks_run(today=TODAY) == 0


# --- stage_entered and milestone_overdue ----------------------------------------------


def test_stage_entered_fires_once_per_entry(account):
    activation = Stage.objects.get(slug="activation")
    journey = AccountJourney.objects.create(
        account=account, stage=activation, entered_at=at(TODAY - 10 * DAY)
    )
    make_playbook("stage_entered", {"stage": activation.pk})

    assert playbooks_run(today=TODAY) == 1
    assert playbooks_run(today=TODAY) == 0
    assert PlaybookFiring.objects.get().occurrence == f"stage:{activation.pk}:2026-06-20"

    # Moved back and into activation again: a new entry.
    journey.entered_at = at(TODAY)
    journey.save()
    assert playbooks_run(today=TODAY) == 1


def test_default_onboarding_playbook_chases_overdue_milestones_once(account):
    onboarding = Stage.objects.get(slug="onboarding")
    kickoff = Milestone.objects.get(stage=onboarding, name="Kickoff call held")  # 7 days
    setup = Milestone.objects.get(stage=onboarding, name="Technical setup complete")  # 21 days
    trained = Milestone.objects.get(stage=onboarding, name="Admins trained")  # 30 days
    # Entered 1 June: kickoff due 8 June, setup due 22 June, training due 1 July.
    AccountJourney.objects.create(
        account=account, stage=onboarding, entered_at=at(dt.date(2026, 6, 1))
    )
    MilestoneCompletion.objects.create(account=account, milestone=setup, completed_at=at(TODAY))
    Playbook.objects.filter(name="Onboarding milestone overdue").update(is_active=True)

    assert playbooks_run(today=TODAY) == 1
    assert playbooks_run(today=TODAY) == 0
    task = playbook_tasks().get()
    assert task.title == "Unblock the overdue onboarding milestone"
    assert (task.priority, task.due_date) == ("high", dt.date(2026, 7, 2))
    assert PlaybookFiring.objects.get().occurrence == f"milestone:{kickoff.pk}:2026-06-01"

    # 2 July: training is a day late now, a second occurrence.
    assert playbooks_run(today=dt.date(2026, 7, 2)) == 1
    assert PlaybookFiring.objects.filter(occurrence=f"milestone:{trained.pk}:2026-06-01").exists()


def test_a_milestone_is_not_overdue_on_its_target_day(account):
    onboarding = Stage.objects.get(slug="onboarding")
    kickoff = Milestone.objects.get(stage=onboarding, name="Kickoff call held")
    AccountJourney.objects.create(account=account, stage=onboarding, entered_at=at(TODAY - 7 * DAY))
    make_playbook("milestone_overdue", {"stage": onboarding.pk, "milestone": kickoff.pk})

    assert playbooks_run(today=TODAY) == 0
    assert playbooks_run(today=TODAY + DAY) == 1


def test_milestones_of_other_stages_are_not_chased_by_a_stage_playbook(account):
    onboarding = Stage.objects.get(slug="onboarding")
    adoption = Stage.objects.get(slug="adoption")
    AccountJourney.objects.create(account=account, stage=adoption, entered_at=at(TODAY - 400 * DAY))
    make_playbook("milestone_overdue", {"stage": onboarding.pk})

    assert playbooks_run(today=TODAY) == 0


# --- detractor ------------------------------------------------------------------------


def test_detractors_fire_once_per_answer(owner):
    account = AccountFactory(owner=owner)
    nps_6 = SurveyAnswerFactory(account=account, kind="nps", score=6, answered_at=at(TODAY - DAY))
    csat_2 = SurveyAnswerFactory(account=account, kind="csat", score=2, answered_at=at(TODAY))
    SurveyAnswerFactory(account=account, kind="nps", score=7, answered_at=at(TODAY))
    SurveyAnswerFactory(account=account, kind="csat", score=3, answered_at=at(TODAY))
    SurveyAnswerFactory(account=account, kind="ces", score=1, answered_at=at(TODAY))
    SurveyAnswerFactory(account=account, kind="nps", score=0, answered_at=at(TODAY - 8 * DAY))
    make_playbook("detractor", {})

    assert playbooks_run(today=TODAY) == 2
    assert playbooks_run(today=TODAY) == 0
    assert set(playbook_tasks().values_list("dedupe_key", flat=True)) == {
        f"detractor:{nps_6.pk}",
        f"detractor:{csat_2.pk}",
    }


def test_detractor_follow_up_made_first_is_linked_not_duplicated(account, owner):
    answer = SurveyAnswerFactory(
        account=account, kind="nps", score=3, comment="Too slow", answered_at=at(TODAY)
    )
    follow_up = Task.objects.create(
        account=account,
        owner=owner,
        title="Close the loop",
        due_date=TODAY + DAY,
        dedupe_key=f"detractor:{answer.pk}",
    )
    Playbook.objects.filter(name="Detractor follow-up").update(is_active=True)

    assert playbooks_run(today=TODAY) == 0
    assert Task.objects.filter(account=account).count() == 1
    assert PlaybookFiring.objects.get().task_id == follow_up.pk
    follow_up.refresh_from_db()
    assert follow_up.title == "Call the detractor within 3 days"
    assert follow_up.description == f"NPS answer of 3 on {TODAY}. They said: “Too slow”"


# --- no_interaction -------------------------------------------------------------------


def test_no_interaction_fires_once_per_quiet_spell(owner):
    quiet = AccountFactory(owner=owner, last_interaction_on=TODAY - 31 * DAY)
    borderline = AccountFactory(owner=owner, last_interaction_on=TODAY - 30 * DAY)
    never = AccountFactory(owner=owner, start_date=dt.date(2026, 1, 1))
    AccountFactory(owner=owner, start_date=TODAY - 10 * DAY)  # too new to be quiet
    make_playbook("no_interaction", {"days": 30})

    assert playbooks_run(today=TODAY) == 2
    assert playbooks_run(today=TODAY) == 0
    occurrences = dict(PlaybookFiring.objects.values_list("account_id", "occurrence"))
    assert occurrences == {quiet.pk: "quiet-since:2026-05-30", never.pk: "quiet-since:never"}
    # The next night the borderline account is 31 days quiet too; the others stay done.
    assert playbooks_run(today=TODAY + DAY) == 1
    assert PlaybookFiring.objects.get(account=borderline).occurrence == "quiet-since:2026-05-31"

    # A call is logged, then the account goes quiet again: a new spell. (The account that
    # started ten days before TODAY has now been quiet for more than 30 days too.)
    quiet.last_interaction_on = TODAY
    quiet.save()
    assert playbooks_run(today=TODAY + 31 * DAY) == 2
    assert PlaybookFiring.objects.filter(account=quiet).count() == 2
    assert PlaybookFiring.objects.filter(occurrence="quiet-since:2026-06-30").exists()


# --- segments -------------------------------------------------------------------------


def test_segment_entered_and_left_with_a_silent_first_evaluation(owner):
    first, second, third = (AccountFactory(owner=owner) for _ in range(3))
    segment = Segment.objects.create(name="Watch list", kind=Segment.Kind.STATIC)
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=segment, account=a) for a in (first, second)]
    )
    make_playbook("segment_entered", {"segment": segment.pk}, TemplateSpec(title="Welcome"))
    make_playbook("segment_left", {"segment": segment.pk}, TemplateSpec(title="Goodbye"))

    # First evaluation: the current members are recorded, nobody gets a task.
    assert playbooks_run(today=TODAY) == 0
    assert set(SegmentPresence.objects.values_list("account_id", flat=True)) == {
        first.pk,
        second.pk,
    }

    SegmentMembership.objects.filter(account=second).delete()
    SegmentMembership.objects.create(segment=segment, account=third)
    assert playbooks_run(today=TODAY + DAY) == 2
    assert dict(playbook_tasks().values_list("account_id", "title")) == {
        third.pk: "Welcome",
        second.pk: "Goodbye",
    }
    assert set(PlaybookFiring.objects.values_list("occurrence", flat=True)) == {
        "enter:2026-07-01",
        "leave:2026-07-01",
    }
    assert set(SegmentPresence.objects.values_list("account_id", flat=True)) == {
        first.pk,
        third.pk,
    }
    assert playbooks_run(today=TODAY + DAY) == 0
    assert playbooks_run(today=TODAY + 2 * DAY) == 0


def test_rule_segment_entry_is_seen_when_an_account_changes(owner):
    red_segment = Segment.objects.create(name="Red accounts", rules={"health_bands": ["red"]})
    seed = AccountFactory(owner=owner, health_band="red")
    later = AccountFactory(owner=owner, health_band="green")
    make_playbook("segment_entered", {"segment": red_segment.pk})
    assert playbooks_run(today=TODAY) == 0  # silent first look: the seed is recorded

    later.health_band = "red"
    later.save()
    # An event-driven run for the changed account alone.
    assert playbooks_run(today=TODAY, account_ids=[later.pk]) == 1
    assert playbook_tasks().get().account == later
    assert SegmentPresence.objects.filter(segment=red_segment).count() == 2
    assert not playbook_tasks(seed).exists()


# --- the engine as a whole ------------------------------------------------------------


def test_every_template_makes_its_own_task_and_a_rerun_makes_none(account):
    account.renewal_date = TODAY + 5 * DAY
    account.save()
    playbook = make_playbook(
        "renewal_in_days",
        {"days": 30},
        TemplateSpec(title="One"),
        TemplateSpec(title="Two"),
    )

    assert playbooks_run(today=TODAY) == 2
    assert playbooks_run(today=TODAY) == 0
    templates = list(PlaybookTaskTemplate.objects.filter(playbook=playbook))
    assert set(playbook_tasks().values_list("dedupe_key", flat=True)) == {
        f"playbook:{playbook.pk}:{t.pk}:renewal:2026-07-05" for t in templates
    }


def test_an_inactive_playbook_makes_nothing(account):
    account.renewal_date = TODAY + 5 * DAY
    account.save()
    make_playbook("renewal_in_days", {"days": 30})
    Playbook.objects.update(is_active=False)

    assert playbooks_run(today=TODAY) == 0


TRIGGER_PARAMS = {
    "renewal_in_days": {"days": 90},
    "band_changed_to": {"band": "red"},
    "score_dropped": {"points": 15},
    "stage_entered": {"stage": "onboarding"},
    "milestone_overdue": {"milestone": "Kickoff call held"},
    "detractor": {},
    "no_interaction": {"days": 30},
    "segment_entered": {"segment": "Joiners"},
    "segment_left": {"segment": "Leavers"},
}


def _portfolio(size: int, owner, trigger: str) -> None:
    """`size` accounts that each fire every trigger once, and one playbook on `trigger`."""
    onboarding = Stage.objects.get(slug="onboarding")
    joiners = Segment.objects.create(name="Joiners", kind=Segment.Kind.STATIC)
    leavers = Segment.objects.create(name="Leavers", kind=Segment.Kind.STATIC)
    # Both segments have been evaluated before: a stayer is in each.
    stayer = AccountFactory(owner=owner, last_interaction_on=TODAY)
    for segment in (joiners, leavers):
        SegmentMembership.objects.create(segment=segment, account=stayer)
        SegmentPresence.objects.create(segment=segment, account=stayer, since=TODAY - 9 * DAY)
    for _ in range(size):
        account = AccountFactory(
            owner=owner,
            renewal_date=TODAY + 30 * DAY,
            last_interaction_on=TODAY - 60 * DAY,
        )
        score(account, TODAY - 7 * DAY, 90, "green")
        score(account, TODAY - DAY, 50, "yellow")
        score(account, TODAY, 30, "red")
        AccountJourney.objects.create(
            account=account, stage=onboarding, entered_at=at(TODAY - 40 * DAY)
        )
        SurveyAnswerFactory(account=account, kind="nps", score=2, answered_at=at(TODAY))
        SegmentMembership.objects.create(segment=joiners, account=account)
        SegmentPresence.objects.create(segment=leavers, account=account, since=TODAY - 9 * DAY)
    names = {
        "onboarding": onboarding.pk,
        "Kickoff call held": Milestone.objects.get(name="Kickoff call held").pk,
        "Joiners": joiners.pk,
        "Leavers": leavers.pk,
    }
    params = {key: names.get(value, value) for key, value in TRIGGER_PARAMS[trigger].items()}
    make_playbook(trigger, params)


@pytest.mark.parametrize("trigger", list(TRIGGER_PARAMS))
def test_the_run_is_set_based_its_queries_do_not_grow_with_accounts(owner, trigger):
    counts, made = {}, {}
    for size in (3, 30):
        with transaction.atomic():
            _portfolio(size, owner, trigger)
            with CaptureQueriesContext(connection) as queries:
                made[size] = playbooks_run(today=TODAY)
            counts[size] = len(queries)
            transaction.set_rollback(True)

    assert made == {3: 3, 30: 30}
    assert counts[3] == counts[30]


# --- parameters -----------------------------------------------------------------------


def test_parameters_are_checked_per_trigger():
    with pytest.raises(ValidationError) as caught:
        playbook_params_clean(trigger="renewal_in_days", params={"days": 0})
    assert list(caught.value.message_dict) == ["days"]
    with pytest.raises(ValidationError) as caught:
        playbook_params_clean(trigger="band_changed_to", params={"band": "purple"})
    assert list(caught.value.message_dict) == ["band"]
    with pytest.raises(ValidationError) as caught:
        playbook_params_clean(trigger="segment_left", params={})
    assert list(caught.value.message_dict) == ["segment"]
    onboarding = Stage.objects.get(slug="onboarding")
    renewal_milestone = Milestone.objects.filter(stage__slug="renewal").first()
    with pytest.raises(ValidationError) as caught:
        playbook_params_clean(
            trigger="milestone_overdue",
            params={"stage": onboarding.pk, "milestone": renewal_milestone.pk},
        )
    assert caught.value.message_dict == {"milestone": ["That milestone belongs to another stage."]}
    # Parameters the trigger does not take are dropped; all three bands mean any band.
    assert playbook_params_clean(
        trigger="renewal_in_days",
        params={"days": "60", "band_in": ["red", "yellow", "green"], "segment": 4},
    ) == {"days": 60}


def test_default_playbooks_are_installed_by_the_migration():
    onboarding = Stage.objects.get(slug="onboarding")
    rows = {
        p.name: (
            p.trigger,
            p.params,
            [(t.title, t.due_in_days, t.priority, t.assignee) for t in p.templates.all()],
        )
        for p in Playbook.objects.prefetch_related("templates")
    }
    assert rows == {
        "Renewal in 90 days": (
            "renewal_in_days",
            {"days": 90},
            [("Prepare the renewal: review health, usage and stakeholders", 7, "normal", "owner")],
        ),
        "Detractor follow-up": (
            "detractor",
            {},
            [("Call the detractor within 3 days", 3, "high", "owner")],
        ),
        "Onboarding milestone overdue": (
            "milestone_overdue",
            {"stage": onboarding.pk},
            [("Unblock the overdue onboarding milestone", 2, "high", "owner")],
        ),
        "Health dropped to red": (
            "band_changed_to",
            {"band": "red"},
            [("Health dropped into red: review the account", 3, "high", "owner")],
        ),
    }
