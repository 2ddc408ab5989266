"""Surveys and survey campaigns through the API: admins and managers only (like the survey
pages), writes through feedback.services."""

import datetime as dt

import pytest

from feedback.models import Survey, SurveyCampaign, SurveyInvitation
from tests.api import fresh_cache, token_client  # noqa: F401
from tests.factories import AccountFactory, ContactFactory, SurveyAnswerFactory, SurveyFactory

# django_db up front: these tests reach the database through request.getfixturevalue, and
# without the mark pytest-django would order them after the transactional tests, whose
# flush removes the default stages and playbooks the migrations created.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

API = "/api/v1"

SURVEY = {"name": "Onboarding CSAT", "kind": "csat", "question": "  How did onboarding go?  "}


def test_a_manager_creates_and_lists_surveys_with_their_counts(
    manager, django_assert_max_num_queries
):
    nps = SurveyFactory(name="Relationship NPS")
    SurveyAnswerFactory.create_batch(3, survey=nps)
    client = token_client(manager)

    created = client.post(f"{API}/surveys/", SURVEY, format="json")
    with django_assert_max_num_queries(5):
        listed = client.get(f"{API}/surveys/", {"ordering": "name"}).json()

    assert created.status_code == 201, created.json()
    # The service trims the question.
    assert (created.json()["question"], created.json()["answer_count"]) == (
        "How did onboarding go?",
        0,
    )
    assert [(r["name"], r["kind"], r["answer_count"]) for r in listed["results"]] == [
        ("Onboarding CSAT", "csat", 0),
        ("Relationship NPS", "nps", 3),
    ]


def test_a_surveys_kind_is_fixed_once_it_has_answers(admin_user):
    survey = SurveyFactory(kind=Survey.Kind.NPS)
    SurveyAnswerFactory(survey=survey)
    client = token_client(admin_user)

    changed_kind = client.patch(f"{API}/surveys/{survey.pk}/", {"kind": "csat"}, format="json")
    renamed = client.patch(f"{API}/surveys/{survey.pk}/", {"name": "Q3 NPS"}, format="json")
    bad_kind = client.post(f"{API}/surveys/", {**SURVEY, "kind": "vibes"}, format="json")

    assert changed_kind.status_code == 400
    assert list(changed_kind.json()) == ["kind"]
    assert renamed.status_code == 200
    assert bad_kind.status_code == 400
    survey.refresh_from_db()
    assert (survey.kind, survey.name) == ("nps", "Q3 NPS")
    assert Survey.objects.count() == 1


@pytest.fixture
def contacts(db):
    account = AccountFactory()
    return [
        ContactFactory(account=account, email="a@example.com"),
        ContactFactory(account=account, email="b@example.com"),
        ContactFactory(account=account, email="c@example.com", is_active=False),
    ]


def test_a_campaign_is_drafted_sent_once_and_then_kept(
    manager, contacts, django_capture_on_commit_callbacks
):
    survey = SurveyFactory()
    client = token_client(manager)

    created = client.post(
        f"{API}/survey-campaigns/",
        {"survey": survey.pk, "name": "Q3", "contacts": [c.pk for c in contacts]},
        format="json",
    )
    campaign_id = created.json()["id"]
    with django_capture_on_commit_callbacks() as callbacks:
        sent = client.post(f"{API}/survey-campaigns/{campaign_id}/send/")
    again = client.post(f"{API}/survey-campaigns/{campaign_id}/send/")
    deleted = client.delete(f"{API}/survey-campaigns/{campaign_id}/")

    assert created.status_code == 201, created.json()
    # The contact who left the account is not invited.
    assert (created.json()["status"], created.json()["invited_count"]) == ("draft", 2)
    assert sent.status_code == 200, sent.json()
    assert (sent.json()["invitations"], sent.json()["campaign"]["status"]) == (2, "sending")
    assert len(callbacks) == 1  # the emails go out from Celery after commit
    assert again.status_code == deleted.status_code == 400
    assert again.json() == {"non_field_errors": ["This campaign has already been sent."]}
    assert SurveyCampaign.objects.filter(pk=campaign_id).exists()
    assert SurveyInvitation.objects.filter(campaign_id=campaign_id).count() == 2


def test_a_draft_is_deleted_and_bad_campaigns_are_refused(admin_user, contacts):
    survey = SurveyFactory()
    off = SurveyFactory(is_active=False)
    client = token_client(admin_user)
    draft = client.post(
        f"{API}/survey-campaigns/",
        {"survey": survey.pk, "name": "Q3", "contacts": [contacts[0].pk]},
        format="json",
    ).json()

    nobody = client.post(
        f"{API}/survey-campaigns/", {"survey": survey.pk, "name": "Q4"}, format="json"
    )
    switched_off = client.post(
        f"{API}/survey-campaigns/",
        {"survey": off.pk, "name": "Q4", "contacts": [contacts[0].pk]},
        format="json",
    )
    unknown_contact = client.post(
        f"{API}/survey-campaigns/",
        {"survey": survey.pk, "name": "Q4", "contacts": [contacts[0].pk, 987654]},
        format="json",
    )
    deleted = client.delete(f"{API}/survey-campaigns/{draft['id']}/")

    assert nobody.json() == {
        "non_field_errors": ["Send the survey to a segment or to a list of contacts."]
    }
    assert switched_off.json() == {"survey": [f"“{off}” is switched off; switch it on first."]}
    assert unknown_contact.json() == {"contacts": ["No such contact: 987654."]}
    assert deleted.status_code == 204
    assert not SurveyCampaign.objects.exists()


def test_campaigns_filter_by_survey_and_status(manager, contacts):
    first, second = SurveyFactory(), SurveyFactory()
    for survey in (first, second):
        SurveyCampaign.objects.create(survey=survey, name=f"For {survey.pk}")
    SurveyCampaign.objects.create(
        survey=first, name="Old", status=SurveyCampaign.Status.SENT, sent_at=dt.datetime.now(dt.UTC)
    )
    client = token_client(manager)

    drafts = client.get(f"{API}/survey-campaigns/", {"survey": first.pk, "status": "draft"})

    assert [row["name"] for row in drafts.json()["results"]] == [f"For {first.pk}"]


@pytest.mark.parametrize("persona", ["owner", "executive"])
def test_only_admins_and_managers_open_surveys_and_campaigns(request, persona, contacts):
    survey = SurveyFactory()
    campaign = SurveyCampaign.objects.create(survey=survey, name="Draft")
    client = token_client(request.getfixturevalue(persona))

    for url in (
        f"{API}/surveys/",
        f"{API}/surveys/{survey.pk}/",
        f"{API}/survey-campaigns/",
        f"{API}/survey-campaigns/{campaign.pk}/",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(f"{API}/surveys/", SURVEY, format="json").status_code == 403
    assert (
        client.patch(f"{API}/surveys/{survey.pk}/", {"name": "X"}, format="json").status_code == 403
    )
    assert client.post(f"{API}/survey-campaigns/{campaign.pk}/send/").status_code == 403
    assert client.delete(f"{API}/survey-campaigns/{campaign.pk}/").status_code == 403
    survey.refresh_from_db()
    assert survey.name != "X"
    assert SurveyCampaign.objects.get(pk=campaign.pk).status == "draft"
    assert Survey.objects.count() == 1


def test_the_campaign_list_runs_a_fixed_number_of_queries(
    manager, contacts, django_assert_max_num_queries
):
    for number in range(6):
        SurveyCampaign.objects.create(survey=SurveyFactory(), name=f"Campaign {number}")
    client = token_client(manager)

    # Token lookup, last used, count, campaigns with their counts: not one per campaign.
    with django_assert_max_num_queries(5):
        body = client.get(f"{API}/survey-campaigns/").json()

    assert body["count"] == 6
    assert {row["invited_count"] for row in body["results"]} == {0}
