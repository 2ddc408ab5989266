"""A customer answers a survey through its link on a phone, then the account owner sees the
answer on the account page."""

import pytest

from accounts.models import User
from feedback.models import SurveyAnswer, SurveyCampaign
from feedback.services import invitation_create
from tests.conftest import PASSWORD
from tests.factories import AccountFactory, ContactFactory, SurveyFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RAW = "browser-test-token_0123456789abcdefghijklmnopq"


def test_a_contact_answers_on_a_phone_and_the_owner_sees_it_on_the_account(live_server, page):
    owner = UserFactory(username="olga", role=User.Role.CSM)
    account = AccountFactory(name="Initech", owner=owner)
    contact = ContactFactory(account=account, name="Peter Gibbons")
    survey = SurveyFactory(
        name="Relationship NPS",
        question="How likely are you to recommend Initech's vendor?",
        follow_up_question="What is the main reason for your score?",
    )
    campaign = SurveyCampaign.objects.create(
        survey=survey, name="Q3", status=SurveyCampaign.Status.SENT
    )
    invitation_create(campaign=campaign, contact=contact, raw_token=RAW)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # A phone-sized screen, no login.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/s/{RAW}/")
    assert "/login/" not in page.url
    assert (
        page.locator("legend").inner_text() == "How likely are you to recommend Initech's vendor?"
    )
    buttons = page.locator("label.score")
    assert buttons.count() == 11
    # Tap targets a thumb can hit, and the eleven fit the screen without scrolling sideways.
    box = page.locator('label[data-score="7"]').bounding_box()
    assert box["height"] >= 44
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.locator('label[data-score="7"]').click()
    assert page.locator('input[name=score][value="7"]').is_checked()
    page.fill("textarea[name=comment]", "Solid, but <b>exports</b> are slow")
    page.click("button[type=submit]")

    page.wait_for_url(f"{live_server.url}/s/{RAW}/thanks/")
    assert page.locator("h1").inner_text() == "Thank you, Peter Gibbons!"
    assert page.locator("[data-score]").inner_text() == "7"
    assert page.locator("[data-comment]").inner_text() == "Solid, but <b>exports</b> are slow"
    answer = SurveyAnswer.objects.get()
    assert (answer.account_id, answer.contact_id, answer.score) == (account.pk, contact.pk, 7)

    # The link is spent.
    page.goto(f"{live_server.url}/s/{RAW}/")
    assert page.locator("h1").inner_text() == "You have already answered"

    # The owner logs in and finds the answer in the account's timeline.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", owner.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/accounts/{account.pk}/?kind=survey")
    timeline = page.locator("#timeline").inner_text()
    assert "answer: 7 from Peter Gibbons" in timeline
    assert "Solid, but <b>exports</b> are slow" in timeline
    assert dialogs == []
