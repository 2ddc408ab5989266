"""The public answer page /s/<token>/: no login, a phone-friendly scale of buttons, a
thank-you page; bad scores rejected, submissions throttled, single use under a double
submit, and nothing of the page kept or leaked."""

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from feedback.models import FollowUp, Survey, SurveyAnswer, SurveyCampaign, SurveyInvitation
from feedback.services import InvitationClosed, answer_record, invitation_create
from feedback.views.public import THROTTLE_POSTS
from tests.factories import ContactFactory, SurveyFactory

RAW = "public-page-token-0123456789_abcdefghijklmnop"
PAGE = f"/s/{RAW}/"
THANKS = f"/s/{RAW}/thanks/"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def _invite(account, *, kind=Survey.Kind.NPS, raw=RAW, **survey):
    survey = SurveyFactory(
        kind=kind,
        question="How likely are you to recommend Acme?",
        follow_up_question="What is the main reason for your score?",
        **survey,
    )
    campaign = SurveyCampaign.objects.create(
        survey=survey, name="Q1", status=SurveyCampaign.Status.SENT
    )
    contact = ContactFactory(account=account, name="Jane Buyer")
    invitation, _ = invitation_create(campaign=campaign, contact=contact, raw_token=raw)
    return invitation


@pytest.fixture
def invitation(account):
    return _invite(account)


def _scores(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'<input type="radio" name="score" value="(\d+)"', html)]


def test_an_anonymous_visitor_sees_the_question_as_eleven_score_buttons(client, invitation):
    response = client.get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert _scores(html) == list(range(0, 11))
    assert "How likely are you to recommend Acme?" in html
    assert "What is the main reason for your score?" in html
    assert "0 = Not at all likely" in html
    assert "10 = Extremely likely" in html
    assert 'name="viewport"' in html
    assert '<meta name="robots" content="noindex' in html
    assert "Hello Jane Buyer" in html
    # The staff navigation is not part of a customer's page.
    assert "mainnav" not in html


@pytest.mark.parametrize(
    ("kind", "expected", "ends"),
    [
        (Survey.Kind.CSAT, [1, 2, 3, 4, 5], ("1 = Very unsatisfied", "5 = Very satisfied")),
        (Survey.Kind.CES, [1, 2, 3, 4, 5, 6, 7], ("1 = Very difficult", "7 = Very easy")),
    ],
)
def test_csat_and_ces_show_their_own_scales(client, account, kind, expected, ends):
    _invite(account, kind=kind)
    html = client.get(PAGE).content.decode()
    assert _scores(html) == expected
    assert all(end in html for end in ends)


def test_every_public_response_is_not_cached_not_indexed_and_leaks_no_referrer(client, invitation):
    responses = [
        client.get(PAGE),
        client.post(PAGE, {"score": "42"}),
        client.get("/s/unknown-token/"),
        client.post(PAGE, {"score": "9"}),
        client.get(THANKS),
        client.get(PAGE),  # used
    ]
    assert [r.status_code for r in responses] == [200, 400, 404, 302, 200, 410]
    for response in responses:
        assert response["Referrer-Policy"] == "no-referrer"
        assert response["Cache-Control"] == "no-store"
        assert response["X-Robots-Tag"] == "noindex"


def test_an_answer_is_recorded_for_the_contact_and_the_thanks_page_shows_it(
    client, account, invitation
):
    response = client.post(PAGE, {"score": "9", "comment": "  Fast support  "})
    assert response.status_code == 302
    assert response["Location"] == THANKS
    answer = SurveyAnswer.objects.get()
    assert (answer.account, answer.contact, answer.kind, answer.score) == (
        account,
        invitation.contact,
        "nps",
        9,
    )
    assert answer.comment == "Fast support"
    assert answer.source == SurveyAnswer.Source.LINK
    invitation.refresh_from_db()
    assert invitation.answer == answer
    assert invitation.answered_at is not None
    html = client.get(THANKS).content.decode()
    assert "Thank you, Jane Buyer!" in html
    assert "data-score>9<" in html
    assert "Fast support" in html
    # A promoter needs no follow-up.
    assert not FollowUp.objects.exists()


def test_the_thanks_page_before_answering_sends_back_to_the_question(client, invitation):
    response = client.get(THANKS)
    assert response.status_code == 302
    assert response["Location"] == PAGE


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"score": "11"}, "above the scale"),
        ({"score": "-1"}, "below the scale"),
        ({"score": "nine"}, "not a number"),
        ({"score": "4.5"}, "not a whole number"),
        ({"comment": "no score at all"}, "missing"),
    ],
)
def test_a_score_off_the_scale_shows_the_form_again_and_writes_nothing(
    client, invitation, data, why
):
    response = client.post(PAGE, data)
    html = response.content.decode()
    assert response.status_code == 400, why
    assert "Choose a score from 0 to 10." in html
    assert _scores(html) == list(range(0, 11))
    # What was typed is kept.
    if "comment" in data:
        assert data["comment"] in html
    assert not SurveyAnswer.objects.exists()
    invitation.refresh_from_db()
    assert invitation.answered_at is None


def test_a_csat_score_of_zero_is_refused(client, account):
    _invite(account, kind=Survey.Kind.CSAT)
    response = client.post(PAGE, {"score": "0"})
    assert response.status_code == 400
    assert "Choose a score from 1 to 5." in response.content.decode()
    assert not SurveyAnswer.objects.exists()


def test_the_eleventh_post_from_one_address_in_ten_minutes_is_refused(client, account):
    for n in range(THROTTLE_POSTS):
        assert client.post(PAGE, {"score": "x"}, REMOTE_ADDR="203.0.113.7").status_code in (
            400,
            404,
        ), n
    _invite(account)
    response = client.post(PAGE, {"score": "9"}, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 429
    assert "Too many answers from this connection" in response.content.decode()
    assert not SurveyAnswer.objects.exists()
    # Another address is not affected.
    assert client.post(PAGE, {"score": "9"}, REMOTE_ADDR="198.51.100.2").status_code == 302
    assert SurveyAnswer.objects.count() == 1


def test_the_throttle_counts_posts_only(client, invitation):
    for _ in range(THROTTLE_POSTS + 5):
        assert client.get(PAGE, REMOTE_ADDR="203.0.113.9").status_code == 200
    assert client.post(PAGE, {"score": "9"}, REMOTE_ADDR="203.0.113.9").status_code == 302


def test_the_throttle_window_ends_after_ten_minutes(client, invitation, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr("django.core.cache.backends.locmem.time.time", lambda: clock[0])
    for _ in range(THROTTLE_POSTS):
        client.post(PAGE, {"score": "x"}, REMOTE_ADDR="203.0.113.8")
    assert client.post(PAGE, {"score": "9"}, REMOTE_ADDR="203.0.113.8").status_code == 429
    clock[0] += 10 * 60 + 1
    assert client.post(PAGE, {"score": "9"}, REMOTE_ADDR="203.0.113.8").status_code == 302


def test_a_double_submit_records_one_answer(account, invitation):
    # Two requests that both loaded the invitation before either wrote: the second claim
    # finds the row already answered and writes nothing.
    stale_copy = SurveyInvitation.objects.get(pk=invitation.pk)
    survey = invitation.campaign.survey
    answer_record(
        survey=survey, account=account, contact=invitation.contact, score=3, invitation=invitation
    )
    with pytest.raises(InvitationClosed) as closed:
        answer_record(
            survey=survey,
            account=account,
            contact=invitation.contact,
            score=10,
            invitation=stale_copy,
        )
    assert closed.value.reason == "used"
    assert list(SurveyAnswer.objects.values_list("score", flat=True)) == [3]
    assert FollowUp.objects.count() == 1


def test_an_invitation_expiring_between_page_load_and_submit_is_not_claimed(account, invitation):
    later = invitation.expires_at + dt.timedelta(seconds=1)
    with pytest.raises(InvitationClosed) as closed:
        answer_record(
            survey=invitation.campaign.survey,
            account=account,
            contact=invitation.contact,
            score=9,
            invitation=invitation,
            now=later,
        )
    assert closed.value.reason == "expired"
    assert not SurveyAnswer.objects.exists()


@pytest.mark.parametrize("payload", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])
def test_a_comment_with_markup_is_shown_as_text_on_the_thanks_page(client, invitation, payload):
    client.post(PAGE, {"score": "9", "comment": payload})
    assert SurveyAnswer.objects.get().comment == payload
    html = client.get(THANKS).content.decode()
    assert payload not in html
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x" not in html
    assert escape(payload) in html


def test_a_detractor_through_the_link_gets_a_follow_up(client, account, invitation):
    client.post(PAGE, {"score": "2", "comment": "Too slow"})
    follow_up = FollowUp.objects.select_related("task").get()
    assert follow_up.answer.score == 2
    assert follow_up.task.owner == account.owner
    assert follow_up.task.due_date == timezone.localdate() + dt.timedelta(days=3)


def test_the_page_sets_no_cookie_and_needs_no_csrf_token(invitation):
    # The token in the URL is the secret; with Referrer-Policy no-referrer browsers send
    # "Origin: null", so a CSRF check would refuse every real submission.
    strict = Client(enforce_csrf_checks=True)
    page = strict.get(PAGE)
    assert page.cookies == {}
    response = strict.post(PAGE, {"score": "8"}, HTTP_ORIGIN="null")
    assert response.status_code == 302
    assert response.cookies == {}
    assert SurveyAnswer.objects.get().score == 8
