"""Survey link tokens: random, stored only as a hash, single use, expiring; unknown ones
get their own page and nothing changes."""

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from feedback.models import SurveyAnswer, SurveyCampaign, SurveyInvitation
from feedback.services import TokenStatus, invitation_create, invitation_verify
from feedback.tokens import token_is_well_formed, token_new
from tests.factories import ContactFactory, SurveyFactory

RAW = "known-raw-token-for-tests_0123456789abcdefABCDEF"


@pytest.fixture
def invitation(account):
    campaign = SurveyCampaign.objects.create(
        survey=SurveyFactory(), name="Q1 NPS", status=SurveyCampaign.Status.SENT
    )
    contact = ContactFactory(account=account, name="Jane Buyer")
    invitation, _ = invitation_create(campaign=campaign, contact=contact, raw_token=RAW)
    return invitation


def test_a_new_token_is_43_url_safe_characters_and_its_hash_is_sha256_hex():
    raw, hashed = token_new()
    assert len(raw) == 43
    assert token_is_well_formed(raw)
    assert hashed == hashlib.sha256(raw.encode()).hexdigest()
    assert len(hashed) == 64


def test_two_tokens_are_never_the_same():
    assert len({token_new()[0] for _ in range(200)}) == 200


def test_only_the_hash_of_the_token_is_stored(invitation):
    invitation.refresh_from_db()
    assert invitation.token_hash == hashlib.sha256(RAW.encode()).hexdigest()
    assert not SurveyInvitation.objects.filter(token_hash=RAW).exists()


def test_a_live_token_opens_its_invitation(invitation):
    check = invitation_verify(raw_token=RAW)
    assert check.status == TokenStatus.OK
    assert check.invitation == invitation


@pytest.mark.parametrize(
    "raw", ["nope", RAW + "x", RAW[:-1], "", "a" * 129, "bad token with spaces", "../../etc"]
)
def test_anything_else_is_unknown(invitation, raw):
    assert invitation_verify(raw_token=raw).status == TokenStatus.UNKNOWN


def test_a_token_expires_at_its_expiry(invitation):
    # Issued now with the campaign's default 14 days.
    expires = invitation.expires_at
    assert abs(expires - (timezone.now() + dt.timedelta(days=14))) < dt.timedelta(minutes=1)
    just_before = expires - dt.timedelta(seconds=1)
    assert invitation_verify(raw_token=RAW, now=just_before).status == TokenStatus.OK
    assert invitation_verify(raw_token=RAW, now=expires).status == TokenStatus.EXPIRED


def test_an_answered_token_is_used_even_after_it_expires(invitation):
    SurveyInvitation.objects.filter(pk=invitation.pk).update(answered_at=timezone.now())
    later = invitation.expires_at + dt.timedelta(days=30)
    assert invitation_verify(raw_token=RAW, now=later).status == TokenStatus.USED


def test_the_public_page_of_an_unknown_token_is_a_404_that_changes_nothing(client, invitation):
    response = client.post("/s/not-a-real-token/", {"score": "9"})
    assert response.status_code == 404
    assert "We don't recognise this link" in response.content.decode()
    assert not SurveyAnswer.objects.exists()


def test_the_public_page_of_an_expired_token_is_a_410_that_changes_nothing(client, invitation):
    SurveyInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert client.get(f"/s/{RAW}/").status_code == 410
    response = client.post(f"/s/{RAW}/", {"score": "9"})
    assert response.status_code == 410
    assert "This survey link has expired" in response.content.decode()
    assert not SurveyAnswer.objects.exists()
    invitation.refresh_from_db()
    assert invitation.answered_at is None


def test_a_token_answers_once_and_then_says_so(client, invitation):
    first = client.post(f"/s/{RAW}/", {"score": "9", "comment": "Great"})
    assert first.status_code == 302
    second = client.post(f"/s/{RAW}/", {"score": "0", "comment": "changed my mind"})
    assert second.status_code == 410
    assert "You have already answered" in second.content.decode()
    assert client.get(f"/s/{RAW}/").status_code == 410
    answer = SurveyAnswer.objects.get()
    assert (answer.score, answer.comment) == (9, "Great")
