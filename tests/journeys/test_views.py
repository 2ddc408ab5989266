"""Journey pages and actions: who may see and do what, what the panel shows on hand-worked
dates, refused input, and the stage settings."""

import datetime as dt
import re

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from journeys.models import (
    AccountJourney,
    Handoff,
    Milestone,
    MilestoneCompletion,
    Stage,
    StageTransition,
)
from journeys.selectors import account_journey_panel
from journeys.services import handoff_save, journey_move, journey_start, milestone_complete

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 1, 20)


def at(year: int, month: int, day: int, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(dt.datetime(year, month, day, hour))


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr("journeys.views.journeys.local_today", lambda: TODAY)
    monkeypatch.setattr("journeys.services.local_today", lambda: TODAY)


@pytest.fixture
def stages():
    return {stage.slug: stage for stage in Stage.objects.all()}


@pytest.fixture
def onboarding(account, owner, stages):
    """The owner's account entered onboarding on 1 Jan 2026."""
    journey_start(account=account, stage=stages["onboarding"], by=owner, at=at(2026, 1, 1))
    return account


def milestones(stages, slug="onboarding") -> list[Milestone]:
    return list(stages[slug].milestones.order_by("order"))


def page_url(account) -> str:
    return reverse("journeys:account_journey", args=[account.pk])


def move_url(account) -> str:
    return reverse("journeys:journey_move", args=[account.pk])


def complete_url(account, milestone) -> str:
    return reverse("journeys:milestone_complete", args=[account.pk, milestone.pk])


def handoff_url(account) -> str:
    return reverse("journeys:handoff_edit", args=[account.pk])


def statuses(html: str) -> list[str]:
    return re.findall(r'data-milestone-status="(\w+)"', html)


# --- The journey page and its panel ------------------------------------------------------


def test_the_owner_sees_stage_days_and_each_milestones_status(client_for, owner, onboarding):
    """Entered 1 Jan, today 20 Jan: 19 days of 45. Kickoff (7/14) was due 8 Jan and is stuck
    since 16 Jan, 12 days late; setup (21/35) is due 22 Jan and training (30/45) 31 Jan."""
    response = client_for(owner).get(page_url(onboarding))
    html = response.content.decode()

    assert response.status_code == 200
    panel = response.context["journey"]
    assert panel.stage.slug == "onboarding"
    assert panel.days_in_stage == 19
    assert "19 days in stage" in html
    assert "of a 45-day target" in html
    assert statuses(html) == ["stuck", "on_track", "on_track"]
    assert "(12 days late)" in html
    assert "22 Jan 2026" in html
    assert html.count("Mark done") == 3
    assert 'data-form="journey-move"' in html
    # Entering onboarding opened an empty handoff.
    assert "nobody has filled it in yet" in html


def test_a_teammate_may_look_but_gets_no_forms(client_for, teammate, onboarding):
    response = client_for(teammate).get(page_url(onboarding))
    html = response.content.decode()

    assert response.status_code == 200
    assert statuses(html) == ["stuck", "on_track", "on_track"]
    assert "Mark done" not in html
    assert 'data-form="journey-move"' not in html
    assert "Edit handoff" not in html


def test_an_outsider_cannot_see_the_journey(client_for, outsider, onboarding):
    assert client_for(outsider).get(page_url(onboarding)).status_code == 404


def test_an_account_without_a_journey_offers_to_start_it(client_for, owner, account):
    html = client_for(owner).get(page_url(account)).content.decode()

    assert "Not started" in html
    assert "Start journey" in html
    assert 'data-form="journey-move"' not in html


def test_starting_a_journey_from_the_page(client_for, owner, account, stages):
    response = client_for(owner).post(
        reverse("journeys:journey_start", args=[account.pk]),
        {"stage": stages["onboarding"].pk, "reason": "Contract signed"},
    )

    assert response.status_code == 302
    journey = AccountJourney.objects.get(account=account)
    assert journey.stage == stages["onboarding"]
    transition = StageTransition.objects.get(account=account)
    assert (transition.by, transition.reason) == (owner, "Contract signed")


def test_the_panel_runs_at_most_five_queries_and_its_template_none(
    owner, onboarding, stages, django_assert_max_num_queries, django_assert_num_queries
):
    for milestone in milestones(stages)[:2]:
        milestone_complete(account=onboarding, milestone=milestone, by=owner, note="ok")
    handoff_save(account=onboarding, by=owner, goals="Faster close")
    for n in range(12):
        target = stages["activation"] if n % 2 == 0 else stages["onboarding"]
        journey_move(account=onboarding, to_stage=target, by=owner, reason=f"move {n}")

    with django_assert_max_num_queries(5):
        panel = account_journey_panel(account=onboarding, today=TODAY)

    request = RequestFactory().get(page_url(onboarding))
    request.user = owner
    with django_assert_num_queries(0):
        html = render_to_string(
            "journeys/partials/_account_journey.html",
            {
                "journey": panel,
                "account": onboarding,
                "can_edit": True,
                "request": request,
                "user": owner,
            },
        )
    assert len(panel.transitions) == 10
    assert html.count("data-transition=") == 10
    assert "Faster close" in html


def test_the_journey_page_costs_the_same_with_a_long_history(
    client_for, owner, onboarding, stages, django_assert_max_num_queries
):
    client = client_for(owner)
    with django_assert_max_num_queries(20) as few:
        client.get(page_url(onboarding))
    for n in range(15):
        target = stages["activation"] if n % 2 == 0 else stages["onboarding"]
        journey_move(account=onboarding, to_stage=target, by=owner, reason=f"move {n}")
    with django_assert_max_num_queries(20) as many:
        client.get(page_url(onboarding))
    assert len(few.captured_queries) == len(many.captured_queries)


# --- Moving ------------------------------------------------------------------------------


def test_the_owner_moves_the_account_and_the_move_says_who_and_why(
    client_for, owner, onboarding, stages
):
    response = client_for(owner).post(
        move_url(onboarding), {"to_stage": stages["activation"].pk, "reason": "Went live early"}
    )

    assert response.status_code == 302
    assert response["Location"] == page_url(onboarding)
    transition = StageTransition.objects.filter(account=onboarding).latest("at")
    assert transition.from_stage == stages["onboarding"]
    assert transition.to_stage == stages["activation"]
    assert transition.by == owner
    assert transition.reason == "Went live early"


def test_a_manager_may_move_any_account(client_for, manager, onboarding, stages):
    client_for(manager).post(
        move_url(onboarding), {"to_stage": stages["adoption"].pk, "reason": "Skip ahead"}
    )
    assert AccountJourney.objects.get(account=onboarding).stage == stages["adoption"]


def test_a_move_without_a_reason_is_refused_beside_the_field(client_for, owner, onboarding, stages):
    response = client_for(owner).post(
        move_url(onboarding), {"to_stage": stages["activation"].pk, "reason": "  "}
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert 'data-error-for="reason"' in html
    assert "Say why you are moving the account" in html
    assert AccountJourney.objects.get(account=onboarding).stage == stages["onboarding"]
    assert StageTransition.objects.filter(account=onboarding).count() == 1


def test_moving_to_the_current_stage_is_refused_beside_the_field(
    client_for, owner, onboarding, stages
):
    response = client_for(owner).post(
        move_url(onboarding), {"to_stage": stages["onboarding"].pk, "reason": "Again"}
    )

    assert "The account is already in Onboarding." in response.content.decode()
    assert StageTransition.objects.filter(account=onboarding).count() == 1


def test_the_move_returns_to_a_local_next_page_only(client_for, owner, onboarding, stages):
    client = client_for(owner)
    back = client.post(
        move_url(onboarding),
        {"to_stage": stages["activation"].pk, "reason": "Live", "next": "/accounts/1/"},
    )
    away = client.post(
        move_url(onboarding),
        {"to_stage": stages["adoption"].pk, "reason": "Go", "next": "https://evil.example/"},
    )

    assert back["Location"] == "/accounts/1/"
    assert away["Location"] == page_url(onboarding)


# --- Milestones --------------------------------------------------------------------------


def test_completing_a_milestone_from_the_page_records_who_and_the_note(
    client_for, owner, onboarding, stages
):
    kickoff = milestones(stages)[0]

    response = client_for(owner).post(complete_url(onboarding, kickoff), {"note": "All there"})

    assert response.status_code == 302
    completion = MilestoneCompletion.objects.get(account=onboarding, milestone=kickoff)
    assert (completion.completed_by, completion.note) == (owner, "All there")


def test_completing_the_last_required_milestone_advances_and_says_so(
    client_for, owner, onboarding, stages
):
    kickoff, setup, training = milestones(stages)
    milestone_complete(account=onboarding, milestone=kickoff, by=owner)
    milestone_complete(account=onboarding, milestone=setup, by=owner)

    response = client_for(owner).post(complete_url(onboarding, training), follow=True)
    html = response.content.decode()

    assert AccountJourney.objects.get(account=onboarding).stage == stages["activation"]
    assert "moved on to Activation" in html
    assert 'data-journey-stage="activation"' in html
    assert "automatically: required milestones done" in html


def test_completing_a_milestone_twice_says_it_is_done_and_changes_nothing(
    client_for, owner, onboarding, stages
):
    kickoff = milestones(stages)[0]
    milestone_complete(account=onboarding, milestone=kickoff, by=owner, note="first")

    response = client_for(owner).post(
        complete_url(onboarding, kickoff), {"note": "second"}, follow=True
    )

    assert "is already done" in response.content.decode()
    assert MilestoneCompletion.objects.get().note == "first"


def test_a_note_that_is_too_long_is_refused_beside_the_milestone(
    client_for, owner, onboarding, stages
):
    kickoff = milestones(stages)[0]

    response = client_for(owner).post(complete_url(onboarding, kickoff), {"note": "x" * 2001})

    assert 'data-error-for="note"' in response.content.decode()
    assert not MilestoneCompletion.objects.exists()


def test_an_unknown_milestone_is_404(client_for, owner, onboarding):
    url = reverse("journeys:milestone_complete", args=[onboarding.pk, 999999])
    assert client_for(owner).post(url).status_code == 404


def test_reopening_a_milestone_from_the_page(client_for, owner, onboarding, stages):
    kickoff = milestones(stages)[0]
    milestone_complete(account=onboarding, milestone=kickoff, by=owner)

    url = reverse("journeys:milestone_reopen", args=[onboarding.pk, kickoff.pk])
    client_for(owner).post(url)

    assert not MilestoneCompletion.objects.exists()


# --- Handoff -----------------------------------------------------------------------------


def test_the_owner_edits_the_handoff_and_the_page_shows_it(client_for, owner, onboarding):
    client = client_for(owner)
    assert client.get(handoff_url(onboarding)).status_code == 200

    response = client.post(
        handoff_url(onboarding),
        {
            "goals": "Close the books in 2 days",
            "promised_outcomes": "Automated reconciliation",
            "stakeholders": "Ana, CFO (sponsor)",
            "go_live_date": "2026-03-01",
            "sales_notes": "Wary of long projects",
        },
        follow=True,
    )
    html = response.content.decode()

    handoff = Handoff.objects.get(account=onboarding)
    assert handoff.go_live_date == dt.date(2026, 3, 1)
    assert handoff.updated_by == owner
    assert "Close the books in 2 days" in html
    assert "1 Mar 2026" in html


def test_a_bad_go_live_date_is_refused_and_nothing_is_saved(client_for, owner, onboarding):
    response = client_for(owner).post(
        handoff_url(onboarding), {"goals": "Something", "go_live_date": "next spring"}
    )
    html = response.content.decode()

    assert 'data-error-for="go_live_date"' in html
    assert "Enter the go-live date as YYYY-MM-DD." in html
    assert Handoff.objects.get(account=onboarding).goals == ""


# --- Who may write -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["teammate", "outsider", "executive"])
def test_only_editors_may_move_complete_start_or_edit_the_handoff(
    persona, request, client_for, onboarding, stages
):
    client = client_for(request.getfixturevalue(persona))
    kickoff = milestones(stages)[0]

    responses = [
        client.post(move_url(onboarding), {"to_stage": stages["activation"].pk, "reason": "x"}),
        client.post(complete_url(onboarding, kickoff), {"note": "x"}),
        client.post(reverse("journeys:milestone_reopen", args=[onboarding.pk, kickoff.pk])),
        client.post(
            reverse("journeys:journey_start", args=[onboarding.pk]),
            {"stage": stages["activation"].pk},
        ),
        client.get(handoff_url(onboarding)),
        client.post(handoff_url(onboarding), {"goals": "Hijacked"}),
    ]

    assert [r.status_code for r in responses] == [404] * 6
    assert AccountJourney.objects.get(account=onboarding).stage == stages["onboarding"]
    assert not MilestoneCompletion.objects.exists()
    assert Handoff.objects.get(account=onboarding).goals == ""


def test_actions_answer_post_only(client_for, owner, onboarding):
    assert client_for(owner).get(move_url(onboarding)).status_code == 405


# --- Stage settings ----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "executive"])
def test_csms_and_executives_may_not_change_stages(persona, request, client_for, stages):
    client = client_for(request.getfixturevalue(persona))
    onboarding = stages["onboarding"]
    kickoff = milestones(stages)[0]

    responses = [
        client.get(reverse("journeys:stage_list")),
        client.get(reverse("journeys:stage_create")),
        client.post(reverse("journeys:stage_create"), {"name": "X", "slug": "x", "order": 9}),
        client.get(reverse("journeys:stage_edit", args=[onboarding.pk])),
        client.post(reverse("journeys:stage_reorder", args=[onboarding.pk]), {"direction": "down"}),
        client.get(reverse("journeys:milestone_create", args=[onboarding.pk])),
        client.get(reverse("journeys:milestone_edit", args=[kickoff.pk])),
    ]

    assert [r.status_code for r in responses] == [403] * 7
    assert Stage.objects.count() == 4
    assert Stage.objects.get(slug="onboarding").order == 1


@pytest.mark.parametrize("persona", ["manager", "admin_user"])
def test_the_stage_list_shows_stages_in_order_with_their_milestones(
    persona, request, client_for, owner, onboarding
):
    response = client_for(request.getfixturevalue(persona)).get(reverse("journeys:stage_list"))
    html = response.content.decode()

    assert response.status_code == 200
    assert re.findall(r'data-stage="(\w+)"', html) == [
        "onboarding",
        "activation",
        "adoption",
        "renewal",
    ]
    assert "Kickoff call held" in html
    assert "1 account in it now" in html


def test_a_manager_adds_a_stage(client_for, manager):
    response = client_for(manager).post(
        reverse("journeys:stage_create"),
        {"name": "Advocacy", "slug": "advocacy", "order": 5, "target_days": 365},
    )

    assert response.status_code == 302
    stage = Stage.objects.get(slug="advocacy")
    assert (stage.order, stage.target_days, stage.auto_advance) == (5, 365, False)


def test_a_taken_position_is_refused_beside_the_field(client_for, manager):
    response = client_for(manager).post(
        reverse("journeys:stage_create"), {"name": "Advocacy", "slug": "advocacy", "order": 2}
    )
    html = response.content.decode()

    assert 'data-error-for="order"' in html
    assert "Another stage already has this position" in html
    assert Stage.objects.count() == 4


def test_a_manager_edits_a_stage(client_for, manager, stages):
    response = client_for(manager).post(
        reverse("journeys:stage_edit", args=[stages["adoption"].pk]),
        {
            "name": "Deepening use",
            "slug": "adoption",
            "order": 3,
            "target_days": 150,
            "auto_advance": "on",
        },
    )

    assert response.status_code == 302
    stage = Stage.objects.get(pk=stages["adoption"].pk)
    assert (stage.name, stage.target_days, stage.auto_advance) == ("Deepening use", 150, True)


def test_moving_a_stage_down_swaps_it_with_the_next(client_for, manager, stages):
    client_for(manager).post(
        reverse("journeys:stage_reorder", args=[stages["onboarding"].pk]), {"direction": "down"}
    )

    assert list(Stage.objects.order_by("order").values_list("slug", flat=True)) == [
        "activation",
        "onboarding",
        "adoption",
        "renewal",
    ]


def test_a_manager_adds_a_milestone(client_for, manager, stages):
    response = client_for(manager).post(
        reverse("journeys:milestone_create", args=[stages["activation"].pk]),
        {"name": "Integration live", "target_days": 20, "stuck_days": 40, "order": 5},
    )

    assert response.status_code == 302
    milestone = Milestone.objects.get(name="Integration live")
    assert milestone.stage == stages["activation"]
    assert (milestone.target_days, milestone.stuck_days, milestone.is_required) == (20, 40, False)


def test_stuck_before_target_is_refused_with_a_friendly_message(client_for, manager, stages):
    response = client_for(manager).post(
        reverse("journeys:milestone_create", args=[stages["activation"].pk]),
        {"name": "Integration live", "target_days": 40, "stuck_days": 20, "order": 5},
    )
    html = response.content.decode()

    assert 'data-error-for="stuck_days"' in html
    assert "The stuck threshold (20 days) can&#x27;t come before the target (40 days)" in html
    assert not Milestone.objects.filter(name="Integration live").exists()


def test_a_duplicate_milestone_name_in_the_stage_is_refused(client_for, manager, stages):
    response = client_for(manager).post(
        reverse("journeys:milestone_create", args=[stages["onboarding"].pk]),
        {"name": "kickoff call held", "target_days": 7, "stuck_days": 14, "order": 5},
    )

    assert "Onboarding already has a milestone named" in response.content.decode()
    assert stages["onboarding"].milestones.count() == 3


def test_a_manager_edits_a_milestone(client_for, manager, stages):
    kickoff = milestones(stages)[0]

    client_for(manager).post(
        reverse("journeys:milestone_edit", args=[kickoff.pk]),
        {
            "name": "Kickoff held",
            "target_days": 5,
            "stuck_days": 10,
            "is_required": "on",
            "order": 0,
        },
    )

    kickoff.refresh_from_db()
    assert (kickoff.name, kickoff.target_days, kickoff.stuck_days) == ("Kickoff held", 5, 10)


def test_a_stage_or_milestone_without_a_position_goes_last(client_for, manager, stages):
    client = client_for(manager)

    client.post(reverse("journeys:stage_create"), {"name": "Advocacy", "slug": "advocacy"})
    client.post(
        reverse("journeys:milestone_create", args=[stages["activation"].pk]),
        {"name": "Integration live", "target_days": 20, "stuck_days": 40},
    )

    assert Stage.objects.get(slug="advocacy").order == 5
    # Activation's two defaults sit at 0 and 1.
    assert Milestone.objects.get(name="Integration live").order == 2
