"""Surveys and campaigns: admins and managers only; a campaign reaches the active contacts
of a segment (or a picked list) less those surveyed recently, previews that count, and
emails each a single-use link from a Celery task."""

import datetime as dt
import hashlib
import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from accounts.models import Account, Segment
from feedback.models import Survey, SurveyCampaign, SurveyInvitation
from feedback.selectors import campaign_recipients
from feedback.services import (
    TokenStatus,
    campaign_create,
    campaign_invitations_send,
    campaign_send,
    invitation_verify,
)
from tests.factories import (
    AccountFactory,
    ContactFactory,
    SegmentFactory,
    SurveyAnswerFactory,
    SurveyFactory,
)

SURVEYS = "/feedback/surveys/"
LINK = re.compile(r"http://127\.0\.0\.1:8000/s/([A-Za-z0-9_-]{43})/")


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def survey(db):
    return SurveyFactory(name="Relationship NPS", kind=Survey.Kind.NPS)


@pytest.fixture
def segment(db):
    return SegmentFactory(name="High touch", rules={"tiers": ["high_touch"]})


def _invited_days_ago(contact, days, *, status=SurveyCampaign.Status.SENT):
    campaign = SurveyCampaign.objects.create(survey=SurveyFactory(), name="Earlier", status=status)
    invitation = SurveyInvitation.objects.create(
        campaign=campaign,
        contact=contact,
        account=contact.account,
        token_hash=hashlib.sha256(f"{contact.pk}-{days}-{status}".encode()).hexdigest(),
        expires_at=timezone.now(),
    )
    SurveyInvitation.objects.filter(pk=invitation.pk).update(
        created_at=timezone.now() - dt.timedelta(days=days)
    )


@pytest.fixture
def people(owner):
    """Two high-touch accounts and a scaled one, with contacts in every situation."""
    alpha = AccountFactory(name="Alpha", tier=Account.Tier.HIGH_TOUCH, owner=owner)
    beta = AccountFactory(name="Beta", tier=Account.Tier.HIGH_TOUCH, owner=owner)
    gamma = AccountFactory(name="Gamma", tier=Account.Tier.SCALED, owner=owner)
    c = {
        "a1": ContactFactory(account=alpha, name="Ann", email="ann@alpha.example"),
        "a2": ContactFactory(account=alpha, name="Abe", email="abe@alpha.example"),
        "a3": ContactFactory(account=alpha, name="Ada", email="ada@alpha.example", is_active=False),
        "b1": ContactFactory(account=beta, name="Bob", email="bob@beta.example"),
        "b2": ContactFactory(account=beta, name="Bea", email="bea@beta.example"),
        "b3": ContactFactory(account=beta, name="Ben", email="ben@beta.example"),
        "c1": ContactFactory(account=gamma, name="Cal", email="cal@gamma.example"),
    }
    _invited_days_ago(c["b1"], 10)  # surveyed recently: skipped
    _invited_days_ago(c["b2"], 10, status=SurveyCampaign.Status.DRAFT)  # never sent: counts not
    _invited_days_ago(c["b3"], 100)  # surveyed long ago: included
    return c


def _segment_campaign(survey, segment, manager, *, skip=90):
    return campaign_create(
        survey=survey,
        name="Q3 NPS",
        segment=segment,
        contacts=None,
        skip_recently_surveyed_days=skip,
        link_valid_days=14,
        created_by=manager,
    )


# --- who may --------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["owner", "executive"])
def test_csms_and_executives_may_not_use_the_survey_pages(client_for, request, persona, survey):
    client = client_for(request.getfixturevalue(persona))
    for path in [
        SURVEYS,
        f"{SURVEYS}new/",
        f"{SURVEYS}{survey.pk}/",
        f"{SURVEYS}{survey.pk}/campaigns/new/",
        f"{SURVEYS}import/",
    ]:
        assert client.get(path).status_code == 403, path
    assert (
        client.post(f"{SURVEYS}new/", {"name": "x", "kind": "nps", "question": "q"}).status_code
        == 403
    )
    assert Survey.objects.count() == 1


def test_a_manager_creates_a_survey(client_for, manager):
    response = client_for(manager).post(
        f"{SURVEYS}new/",
        {
            "name": " Onboarding CSAT ",
            "kind": "csat",
            "question": "How satisfied are you?",
            "is_active": "on",
        },
    )
    survey = Survey.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{SURVEYS}{survey.pk}/"
    assert (survey.name, survey.kind, survey.scale, survey.is_active) == (
        "Onboarding CSAT",
        "csat",
        (1, 5),
        True,
    )


def test_a_survey_without_a_question_is_refused_beside_the_field(client_for, manager):
    response = client_for(manager).post(f"{SURVEYS}new/", {"name": "NPS", "kind": "nps"})
    assert response.status_code == 400
    assert 'data-error-for="question"' in response.content.decode()
    assert not Survey.objects.exists()


def test_a_survey_with_answers_keeps_its_kind(client_for, admin_user, survey, account):
    SurveyAnswerFactory(survey=survey, account=account)
    response = client_for(admin_user).post(
        f"{SURVEYS}{survey.pk}/edit/", {"name": "Renamed", "kind": "csat", "question": "Q?"}
    )
    assert response.status_code == 400
    assert "can't change" in response.content.decode()
    survey.refresh_from_db()
    assert (survey.name, survey.kind) == ("Relationship NPS", "nps")


def test_the_survey_list_shows_surveys_with_answer_counts_in_few_queries(
    client_for, manager, survey, account, django_assert_max_num_queries
):
    SurveyAnswerFactory.create_batch(3, survey=survey, account=account)
    SurveyFactory(name="Support CSAT", kind="csat")
    client = client_for(manager)
    with django_assert_max_num_queries(7):
        response = client.get(SURVEYS)
    html = response.content.decode()
    assert response.status_code == 200
    row = re.search(rf'data-survey-id="{survey.pk}".*?</tr>', html, re.S).group(0)
    assert "Relationship NPS" in row
    assert "data-answers>3<" in row
    assert "Support CSAT" in html


# --- recipients -----------------------------------------------------------------------


def test_recipients_are_the_active_contacts_of_the_segment_less_the_recently_surveyed(
    survey, segment, manager, people, today
):
    campaign = _segment_campaign(survey, segment, manager)
    names = set(
        campaign_recipients(campaign=campaign, now=timezone.now(), today=today).values_list(
            "name", flat=True
        )
    )
    # Ada left, Bob was surveyed 10 days ago, Cal is not high-touch.
    assert names == {"Ann", "Abe", "Bea", "Ben"}


def test_skipping_zero_days_keeps_everyone_active(survey, segment, manager, people, today):
    campaign = _segment_campaign(survey, segment, manager, skip=0)
    assert campaign_recipients(campaign=campaign, now=timezone.now(), today=today).count() == 5


def test_the_draft_page_previews_the_recipient_count_before_anything_is_sent(
    client_for, manager, survey, segment, people, django_assert_max_num_queries
):
    campaign = _segment_campaign(survey, segment, manager)
    client = client_for(manager)
    with django_assert_max_num_queries(8):
        response = client.get(f"{SURVEYS}campaigns/{campaign.pk}/")
    html = response.content.decode()
    assert re.search(r"data-recipient-count>4<", html)
    assert "Send to 4 contacts" in html
    assert "Abe (Alpha)" in html
    assert not SurveyInvitation.objects.filter(campaign=campaign).exists()
    assert len(mail.outbox) == 0


def test_a_manager_saves_a_segment_campaign_as_a_draft(
    client_for, manager, survey, segment, people
):
    response = client_for(manager).post(
        f"{SURVEYS}{survey.pk}/campaigns/new/",
        {
            "name": "Q3 NPS",
            "audience": "segment",
            "segment": segment.pk,
            "skip_recently_surveyed_days": "90",
            "link_valid_days": "14",
        },
    )
    campaign = SurveyCampaign.objects.get(name="Q3 NPS")
    assert response["Location"] == f"{SURVEYS}campaigns/{campaign.pk}/"
    assert (campaign.status, campaign.segment, campaign.created_by) == ("draft", segment, manager)


# --- sending ----------------------------------------------------------------------------


@pytest.fixture
def enqueued(monkeypatch):
    calls = []
    monkeypatch.setattr("feedback.tasks.campaign_send_task.delay", lambda *args: calls.append(args))
    return calls


def test_sending_freezes_the_recipients_as_invitations_and_queues_the_emails_on_commit(
    survey, segment, manager, people, today, enqueued, django_capture_on_commit_callbacks
):
    campaign = _segment_campaign(survey, segment, manager)
    with django_capture_on_commit_callbacks(execute=True):
        count = campaign_send(campaign=campaign, today=today)
    assert count == 4
    assert enqueued == [(campaign.pk,)]
    campaign.refresh_from_db()
    assert campaign.status == "sending"
    invited = set(
        SurveyInvitation.objects.filter(campaign=campaign).values_list(
            "contact__name", "account__name"
        )
    )
    assert invited == {("Ann", "Alpha"), ("Abe", "Alpha"), ("Bea", "Beta"), ("Ben", "Beta")}
    # Nothing is emailed until the task runs.
    assert len(mail.outbox) == 0


def test_the_task_emails_each_contact_a_link_whose_token_is_stored_only_as_a_hash(
    survey, segment, manager, people, today, enqueued
):
    campaign = _segment_campaign(survey, segment, manager)
    campaign_send(campaign=campaign, today=today)

    assert campaign_invitations_send(campaign_id=campaign.pk) == 4

    assert sorted(m.to[0] for m in mail.outbox) == [
        "abe@alpha.example",
        "ann@alpha.example",
        "bea@beta.example",
        "ben@beta.example",
    ]
    hashes = set(
        SurveyInvitation.objects.filter(campaign=campaign).values_list("token_hash", flat=True)
    )
    for message in mail.outbox:
        raw = LINK.search(message.body).group(1)
        assert raw in message.alternatives[0][0]  # the HTML part has the same link
        assert "How likely are you to recommend us to a colleague?" in message.body
        assert hashlib.sha256(raw.encode()).hexdigest() in hashes
        assert raw not in hashes
        check = invitation_verify(raw_token=raw)
        assert check.status == TokenStatus.OK
        assert check.invitation.contact.email == message.to[0]
    for invitation in SurveyInvitation.objects.filter(campaign=campaign):
        assert invitation.sent_at is not None
        assert abs(
            invitation.expires_at - (invitation.sent_at + dt.timedelta(days=14))
        ) < dt.timedelta(seconds=1)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.sent_at is not None) == ("sent", True)


def test_rerunning_the_task_sends_nothing_twice(survey, segment, manager, people, today, enqueued):
    campaign = _segment_campaign(survey, segment, manager)
    campaign_send(campaign=campaign, today=today)
    campaign_invitations_send(campaign_id=campaign.pk)
    assert campaign_invitations_send(campaign_id=campaign.pk) == 0
    assert len(mail.outbox) == 4


@override_settings(SITE_URL="https://cs.example.com/")
def test_the_link_is_built_from_the_site_url_setting(
    survey, segment, manager, people, today, enqueued
):
    campaign = _segment_campaign(survey, segment, manager)
    campaign_send(campaign=campaign, today=today)
    campaign_invitations_send(campaign_id=campaign.pk)
    assert re.search(r"https://cs\.example\.com/s/[A-Za-z0-9_-]{43}/", mail.outbox[0].body)


def test_a_campaign_is_sent_once(client_for, survey, segment, manager, people, today, enqueued):
    campaign = _segment_campaign(survey, segment, manager)
    campaign_send(campaign=campaign, today=today)
    with pytest.raises(ValidationError, match="already been sent"):
        campaign_send(campaign=campaign, today=today)
    response = client_for(manager).post(f"{SURVEYS}campaigns/{campaign.pk}/send/", follow=True)
    assert "This campaign has already been sent." in response.content.decode()
    assert SurveyInvitation.objects.filter(campaign=campaign).count() == 4


def test_a_campaign_that_reaches_no_one_stays_a_draft(survey, manager, people, today, enqueued):
    nobody = SegmentFactory(name="Nobody", rules={"tiers": ["tech_touch"]})
    campaign = _segment_campaign(survey, nobody, manager)
    with pytest.raises(ValidationError, match="No one to send to"):
        campaign_send(campaign=campaign, today=today)
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    assert enqueued == []


def test_the_send_button_sends_and_the_page_then_shows_the_response_rate(
    client_for, survey, segment, manager, people, enqueued
):
    campaign = _segment_campaign(survey, segment, manager)
    client = client_for(manager)
    response = client.post(f"{SURVEYS}campaigns/{campaign.pk}/send/", follow=True)
    assert "Sending 4 invitations by email." in response.content.decode()
    campaign_invitations_send(campaign_id=campaign.pk)
    SurveyInvitation.objects.filter(contact__name="Ann").update(answered_at=timezone.now())
    html = client.get(f"{SURVEYS}campaigns/{campaign.pk}/").content.decode()
    assert re.search(r'data-kpi="sent">4<', html)
    assert re.search(r'data-kpi="answered">1<', html)
    # 1 answered of 4 emailed.
    assert re.search(r'data-kpi="response_rate">25 %<', html)


# --- a picked list ------------------------------------------------------------------------


def _picked(client, survey, emails):
    return client.post(
        f"{SURVEYS}{survey.pk}/campaigns/new/",
        {
            "name": "Hand-picked",
            "audience": "picked",
            "emails": emails,
            "skip_recently_surveyed_days": "90",
            "link_valid_days": "7",
        },
    )


def test_a_picked_list_matches_emails_ignoring_case(client_for, manager, survey, people):
    response = _picked(
        client_for(manager), survey, "ANN@alpha.example\nbob@beta.example, ann@alpha.example"
    )
    campaign = SurveyCampaign.objects.get(name="Hand-picked")
    assert response.status_code == 302
    assert campaign.segment is None
    assert set(campaign.invitations.values_list("contact__name", flat=True)) == {"Ann", "Bob"}
    # Drafts send nothing.
    assert not campaign.invitations.filter(sent_at__isnull=False).exists()


def test_unknown_and_departed_emails_are_listed_and_nothing_is_saved(
    client_for, manager, survey, people
):
    response = _picked(
        client_for(manager),
        survey,
        "ann@alpha.example, who@nowhere.example, ada@alpha.example, not-an-email",
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Not email addresses: not-an-email." in html
    response = _picked(
        client_for(manager), survey, "ann@alpha.example, who@nowhere.example, ada@alpha.example"
    )
    html = response.content.decode()
    assert "No contact has these emails: who@nowhere.example." in html
    assert "These contacts have left their accounts: ada@alpha.example." in html
    assert not SurveyCampaign.objects.filter(name="Hand-picked").exists()


def test_sending_a_picked_list_drops_those_surveyed_since(survey, manager, people, today, enqueued):
    campaign = campaign_create(
        survey=survey,
        name="Picked",
        segment=None,
        contacts=[people["a1"], people["b1"]],
        skip_recently_surveyed_days=30,
        link_valid_days=7,
        created_by=manager,
    )
    # Bob was surveyed 10 days ago by a sent campaign.
    assert campaign_send(campaign=campaign, today=today) == 1
    assert list(campaign.invitations.values_list("contact__name", flat=True)) == ["Ann"]


def test_a_picked_draft_does_not_count_as_surveying_anyone(survey, segment, manager, people, today):
    _ = campaign_create(
        survey=survey,
        name="Draft",
        segment=None,
        contacts=[people["a1"]],
        skip_recently_surveyed_days=90,
        link_valid_days=7,
        created_by=manager,
    )
    campaign = _segment_campaign(survey, segment, manager)
    names = set(
        campaign_recipients(campaign=campaign, now=timezone.now(), today=today).values_list(
            "name", flat=True
        )
    )
    assert "Ann" in names


def test_a_draft_can_be_deleted_but_a_sent_campaign_stays(
    client_for, manager, survey, segment, people, today, enqueued
):
    draft = _segment_campaign(survey, segment, manager)
    client = client_for(manager)
    client.post(f"{SURVEYS}campaigns/{draft.pk}/delete/")
    assert not SurveyCampaign.objects.filter(pk=draft.pk).exists()
    sent = _segment_campaign(survey, segment, manager)
    campaign_send(campaign=sent, today=today)
    client.post(f"{SURVEYS}campaigns/{sent.pk}/delete/")
    assert SurveyCampaign.objects.filter(pk=sent.pk).exists()
    assert Segment.objects.filter(pk=segment.pk).exists()
