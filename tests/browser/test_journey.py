"""In a real browser: the owner completes onboarding's last required milestone and sees the
account move on to Activation by itself."""

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from accounts.models import User
from journeys.models import AccountJourney, Milestone, Stage
from journeys.services import journey_start, milestone_complete
from tests.conftest import PASSWORD
from tests.factories import AccountFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _default_stages() -> None:
    """A transactional test may find the tables flushed by an earlier one: put the default
    journey back the way migration 0002 makes it (it does nothing if stages exist)."""
    migration = importlib.import_module("journeys.migrations.0002_default_stages")
    migration.create_defaults(apps, None)


def test_the_owner_completes_the_last_onboarding_milestone_and_sees_activation(live_server, page):
    _default_stages()
    team = TeamFactory(name="Enterprise")
    owner = UserFactory(username="casey", role=User.Role.CSM, team=team)
    account = AccountFactory(name="Initech", owner=owner, team=team)
    onboarding = Stage.objects.get(slug="onboarding")
    journey_start(
        account=account,
        stage=onboarding,
        by=owner,
        at=timezone.now() - dt.timedelta(days=20),
    )
    kickoff, setup, training = Milestone.objects.filter(stage=onboarding).order_by("order")
    milestone_complete(account=account, milestone=kickoff, by=owner)
    milestone_complete(account=account, milestone=setup, by=owner)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    journey_page = f"{live_server.url}/journeys/accounts/{account.pk}/"

    page.goto(journey_page)
    page.fill("input[name=username]", owner.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(journey_page)

    assert page.locator("[data-journey-stage]").inner_text() == "Onboarding"
    row = page.locator(f'tr[data-milestone="{training.pk}"]')
    assert row.get_attribute("data-milestone-status") == "on_track"
    row.locator("input[name=note]").fill("Both admins certified")
    row.get_by_role("button", name="Mark done").click()
    page.wait_for_load_state()

    assert page.locator("[data-journey-stage]").inner_text() == "Activation"
    assert "moved on to Activation" in page.locator(".messages").inner_text()
    latest = page.locator("[data-journey=transitions] li").first.inner_text()
    assert "Onboarding → Activation" in latest
    assert "automatically: required milestones done" in latest
    assert AccountJourney.objects.get(account=account).stage.slug == "activation"
    assert dialogs == []
