"""Journey stages, stage transitions and playbooks through the API, with the pages' rules:
everyone reads stages and admins/managers change them; a CSM moves their own accounts
through journeys.services and never sees or touches another team's; playbooks are for
admins and managers only."""

import pytest

from accounts.models import Task
from journeys.models import AccountJourney, Playbook, PlaybookTaskTemplate, Stage, StageTransition
from journeys.services import journey_start
from tests.api import fresh_cache, token_client  # noqa: F401
from tests.factories import AccountFactory

# django_db up front: these tests reach the database through request.getfixturevalue, and
# without the mark pytest-django would order them after the transactional tests, whose
# flush removes the default stages and playbooks the migrations created.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

API = "/api/v1"


def _stage(slug: str) -> Stage:
    return Stage.objects.get(slug=slug)


@pytest.fixture
def outsider_account(outsider):
    return AccountFactory(name="Gamma SMB", owner=outsider, team=outsider.team)


# --- Stages ------------------------------------------------------------------------------------


def test_every_role_reads_the_stages_in_order_with_their_milestones(
    owner, executive, django_assert_max_num_queries
):
    for user in (owner, executive):
        client = token_client(user)
        # Token lookup, count, stages, milestones: not one query per stage.
        with django_assert_max_num_queries(6):
            body = client.get(f"{API}/stages/").json()

        assert body["count"] == 4
        assert [row["slug"] for row in body["results"]] == [
            "onboarding",
            "activation",
            "adoption",
            "renewal",
        ]
        onboarding = body["results"][0]
        assert (onboarding["order"], onboarding["target_days"], onboarding["auto_advance"]) == (
            1,
            45,
            True,
        )
        assert [m["name"] for m in onboarding["milestones"]] == [
            "Kickoff call held",
            "Technical setup complete",
            "Admins trained",
        ]
        assert (
            onboarding["milestones"][0]["target_days"],
            onboarding["milestones"][0]["stuck_days"],
        ) == (7, 14)


def test_a_manager_adds_a_stage_last_and_changes_one_field_with_patch(manager):
    client = token_client(manager)

    created = client.post(
        f"{API}/stages/", {"name": "Advocacy", "slug": "advocacy", "target_days": 30}, format="json"
    )
    patched = client.patch(
        f"{API}/stages/{created.json()['id']}/", {"target_days": 60}, format="json"
    )

    assert created.status_code == 201, created.json()
    # Four default stages: the new one is fifth.
    assert created.json()["order"] == 5
    assert patched.status_code == 200
    stage = Stage.objects.get(slug="advocacy")
    assert (stage.name, stage.order, stage.target_days, stage.auto_advance) == (
        "Advocacy",
        5,
        60,
        False,
    )


def test_a_stage_with_a_taken_slug_or_order_is_refused_and_nothing_changes(admin_user):
    client = token_client(admin_user)
    renewal = _stage("renewal")

    taken_slug = client.post(
        f"{API}/stages/", {"name": "Another", "slug": "renewal"}, format="json"
    )
    taken_order = client.put(
        f"{API}/stages/{renewal.pk}/",
        {"name": "Renewal", "slug": "renewal", "order": 1},
        format="json",
    )
    too_long = client.post(
        f"{API}/stages/", {"name": "X", "slug": "x", "target_days": 2**31}, format="json"
    )

    assert taken_slug.status_code == taken_order.status_code == too_long.status_code == 400
    assert "slug" in taken_slug.json()
    assert "order" in taken_order.json()
    assert "target_days" in too_long.json()
    assert Stage.objects.count() == 4
    renewal.refresh_from_db()
    assert renewal.order == 4


@pytest.mark.parametrize("persona", ["owner", "executive"])
def test_csms_and_executives_cannot_change_stages(request, persona):
    client = token_client(request.getfixturevalue(persona))
    onboarding = _stage("onboarding")

    assert (
        client.post(f"{API}/stages/", {"name": "X", "slug": "x"}, format="json").status_code == 403
    )
    assert (
        client.patch(f"{API}/stages/{onboarding.pk}/", {"name": "Taken"}, format="json").status_code
        == 403
    )
    assert Stage.objects.count() == 4
    assert Stage.objects.get(pk=onboarding.pk).name == "Onboarding"


# --- Transitions -------------------------------------------------------------------------------


def test_a_csm_starts_then_moves_their_account_through_the_journey_service(
    owner, account, django_capture_on_commit_callbacks
):
    client = token_client(owner)

    with django_capture_on_commit_callbacks() as callbacks:
        started = client.post(
            f"{API}/stage-transitions/",
            {"account": account.pk, "to_stage": _stage("onboarding").pk},
            format="json",
        )
        moved = client.post(
            f"{API}/stage-transitions/",
            {
                "account": account.pk,
                "to_stage": _stage("activation").pk,
                "reason": "Live since Monday",
            },
            format="json",
        )

    assert started.status_code == moved.status_code == 201, moved.json()
    assert started.json()["from_stage"] is None
    assert moved.json()["from_stage"] == _stage("onboarding").pk
    assert moved.json()["to_stage"] == _stage("activation").pk
    assert (moved.json()["by"], moved.json()["reason"], moved.json()["rule"]) == (
        owner.pk,
        "Live since Monday",
        "",
    )
    assert AccountJourney.objects.get(account=account).stage.slug == "activation"
    assert StageTransition.objects.filter(account=account).count() == 2
    # The service's side effects came along: a playbook run after each commit (and entering
    # onboarding opened the sales handoff).
    assert len(callbacks) == 2
    assert hasattr(account, "handoff")


def test_a_move_needs_a_reason_and_another_stage(owner, account):
    journey_start(account=account, stage=_stage("onboarding"), by=owner)
    client = token_client(owner)

    no_reason = client.post(
        f"{API}/stage-transitions/",
        {"account": account.pk, "to_stage": _stage("activation").pk},
        format="json",
    )
    same_stage = client.post(
        f"{API}/stage-transitions/",
        {"account": account.pk, "to_stage": _stage("onboarding").pk, "reason": "Again"},
        format="json",
    )

    assert no_reason.status_code == same_stage.status_code == 400
    assert no_reason.json() == {
        "reason": ["Say why you are moving the account: it stays on record."]
    }
    assert same_stage.json() == {"to_stage": ["The account is already in Onboarding."]}
    assert StageTransition.objects.filter(account=account).count() == 1


def test_a_csm_cannot_move_another_teams_account_or_a_teammates(
    owner, teammate, account, outsider_account
):
    body = {"to_stage": _stage("onboarding").pk, "reason": "Taking over"}

    other_team = token_client(owner).post(
        f"{API}/stage-transitions/", {**body, "account": outsider_account.pk}, format="json"
    )
    teammates = token_client(teammate).post(
        f"{API}/stage-transitions/", {**body, "account": account.pk}, format="json"
    )

    assert other_team.status_code == teammates.status_code == 400
    # Worded like an id that does not exist.
    assert other_team.json()["account"] == [
        f'Invalid pk "{outsider_account.pk}" - object does not exist.'
    ]
    assert not StageTransition.objects.exists()


def test_executives_cannot_move_accounts(executive, account):
    response = token_client(executive).post(
        f"{API}/stage-transitions/",
        {"account": account.pk, "to_stage": _stage("onboarding").pk},
        format="json",
    )

    assert response.status_code == 403
    assert not StageTransition.objects.exists()


def test_transitions_of_another_team_are_404_and_never_listed(
    owner, outsider, account, outsider_account, django_assert_max_num_queries
):
    journey_start(account=account, stage=_stage("onboarding"), by=owner)
    journey_start(account=outsider_account, stage=_stage("onboarding"), by=outsider)
    theirs = StageTransition.objects.get(account=outsider_account)
    mine = StageTransition.objects.get(account=account)
    client = token_client(owner)
    url = f"{API}/stage-transitions/{theirs.pk}/"

    with django_assert_max_num_queries(5):
        listed = client.get(f"{API}/stage-transitions/").json()

    assert [row["id"] for row in listed["results"]] == [mine.pk]
    assert client.get(url).status_code == 404
    filtered = client.get(f"{API}/stage-transitions/", {"account": outsider_account.pk})
    assert filtered.status_code == 400
    # History is never rewritten: no method changes a transition, for anyone.
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(url, {}, format="json").status_code == 405
    assert StageTransition.objects.filter(pk=theirs.pk).exists()


def test_transitions_filter_by_stage_moved_to(manager, account):
    journey_start(account=account, stage=_stage("onboarding"), by=manager)
    other = AccountFactory()
    journey_start(account=other, stage=_stage("adoption"), by=manager)

    body = (
        token_client(manager)
        .get(f"{API}/stage-transitions/", {"to_stage": _stage("adoption").pk})
        .json()
    )

    assert [row["account"] for row in body["results"]] == [other.pk]


# --- Playbooks ---------------------------------------------------------------------------------


PLAYBOOK = {
    "name": "Red renewal",
    "trigger": "renewal_in_days",
    "params": {"days": 60, "band_in": ["red"], "ignored": 1},
    "templates": [
        {"title": "Renewal risk review", "due_in_days": 5, "priority": "high"},
        {"title": "Tell the manager", "assignee": "team_manager"},
    ],
}


def test_a_manager_lists_and_creates_playbooks_through_the_service(
    manager, django_assert_max_num_queries
):
    client = token_client(manager)

    created = client.post(f"{API}/playbooks/", PLAYBOOK, format="json")
    with django_assert_max_num_queries(6):
        listed = client.get(f"{API}/playbooks/").json()

    assert created.status_code == 201, created.json()
    body = created.json()
    # The service dropped the parameter the trigger does not take.
    assert body["params"] == {"days": 60, "band_in": ["red"]}
    assert body["created_by"] == manager.pk
    assert [
        (t["title"], t["due_in_days"], t["priority"], t["assignee"], t["order"])
        for t in body["templates"]
    ] == [
        ("Renewal risk review", 5, "high", "owner", 0),
        ("Tell the manager", 3, "normal", "team_manager", 1),
    ]
    # Four default playbooks plus this one, by name.
    assert listed["count"] == 5
    assert [row["name"] for row in listed["results"]][:2] == [
        "Detractor follow-up",
        "Health dropped to red",
    ]


def test_a_bad_playbook_gets_field_errors_and_nothing_is_created(admin_user):
    client = token_client(admin_user)

    bad_param = client.post(
        f"{API}/playbooks/",
        {**PLAYBOOK, "trigger": "band_changed_to", "params": {"band": "purple"}},
        format="json",
    )
    taken_name = client.post(
        f"{API}/playbooks/", {**PLAYBOOK, "name": "detractor follow-up"}, format="json"
    )
    no_tasks = client.post(f"{API}/playbooks/", {**PLAYBOOK, "templates": []}, format="json")

    assert bad_param.status_code == taken_name.status_code == no_tasks.status_code == 400
    assert bad_param.json() == {"params": {"band": ["Choose the band: red, yellow or green."]}}
    assert taken_name.json() == {
        "name": ["A playbook called “detractor follow-up” already exists."]
    }
    assert no_tasks.json() == {"non_field_errors": ["A playbook needs at least one task to make."]}
    assert Playbook.objects.count() == 4


def test_patch_keeps_the_templates_and_put_changes_them_in_place(manager):
    client = token_client(manager)
    playbook = Playbook.objects.get(name="Detractor follow-up")
    template = playbook.templates.get()

    patched = client.patch(f"{API}/playbooks/{playbook.pk}/", {"is_active": False}, format="json")
    put = client.put(
        f"{API}/playbooks/{playbook.pk}/",
        {
            "name": "Detractor call",
            "trigger": "detractor",
            "templates": [{"id": template.pk, "title": "Call them today", "due_in_days": 1}],
        },
        format="json",
    )

    assert patched.status_code == put.status_code == 200, put.json()
    assert patched.json()["is_active"] is False
    assert patched.json()["templates"][0]["id"] == template.pk
    # PUT without is_active takes its default (on), like a full form.
    playbook.refresh_from_db()
    assert (playbook.name, playbook.is_active) == ("Detractor call", True)
    changed = PlaybookTaskTemplate.objects.get(playbook=playbook)
    assert (changed.pk, changed.title, changed.due_in_days, changed.priority) == (
        template.pk,
        "Call them today",
        1,
        Task.Priority.NORMAL,
    )


@pytest.mark.parametrize("persona", ["owner", "executive"])
def test_only_admins_and_managers_open_playbooks(request, persona):
    client = token_client(request.getfixturevalue(persona))
    playbook = Playbook.objects.first()

    assert client.get(f"{API}/playbooks/").status_code == 403
    assert client.get(f"{API}/playbooks/{playbook.pk}/").status_code == 403
    assert client.post(f"{API}/playbooks/", PLAYBOOK, format="json").status_code == 403
    assert (
        client.patch(f"{API}/playbooks/{playbook.pk}/", {"name": "X"}, format="json").status_code
        == 403
    )
    assert Playbook.objects.count() == 4
    assert not Playbook.objects.filter(name="X").exists()


def test_a_teammate_reads_the_owners_transitions(owner, teammate, account):
    journey_start(account=account, stage=_stage("onboarding"), by=owner)
    transition = StageTransition.objects.get(account=account)

    response = token_client(teammate).get(f"{API}/stage-transitions/{transition.pk}/")

    assert response.status_code == 200
    assert (response.json()["account"], response.json()["to_stage"]) == (
        account.pk,
        _stage("onboarding").pk,
    )
