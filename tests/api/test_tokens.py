"""Personal API tokens: the settings page (create, list, revoke), hashed storage, and
authentication refusing revoked and expired tokens."""

import datetime as dt
import hashlib
import re

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_tokens import ApiToken
from accounts.services.api_tokens import api_token_create, api_token_revoke
from tests.api import fresh_cache  # noqa: F401

pytestmark = pytest.mark.usefixtures("fresh_cache")

PAGE = "/settings/api-tokens/"
API = "/api/v1/accounts/"


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_creating_a_token_shows_the_secret_once_and_stores_only_its_hash(client_for, owner):
    client = client_for(owner)

    response = client.post(PAGE, {"name": "CRM sync", "expires_on": ""})

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = re.search(r"<code data-secret>(csp_[\w-]+)</code>", response.content.decode()).group(1)
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.expires_at) == (owner, "CRM sync", None)
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:12]
    assert secret not in str(ApiToken.objects.values_list())
    # The next visit lists the token by its prefix, never the secret.
    listing = client.get(PAGE).content.decode()
    assert secret not in listing
    assert f"{token.prefix}…" in listing
    assert bearer(secret).get(API).status_code == 200


def test_a_token_with_an_expiry_works_until_the_start_of_that_day(client_for, owner):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    client_for(owner).post(PAGE, {"name": "Nightly export", "expires_on": tomorrow.isoformat()})

    token = ApiToken.objects.get()
    assert timezone.localtime(token.expires_at) == timezone.make_aware(
        dt.datetime.combine(tomorrow, dt.time.min)
    )


def test_bad_token_input_is_shown_beside_the_field_and_creates_nothing(client_for, owner):
    today = timezone.localdate().isoformat()

    response = client_for(owner).post(PAGE, {"name": "  ", "expires_on": today})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-error-for="name"' in html
    assert 'data-error-for="expires_on"' in html
    assert "Choose a day after today." in html
    assert not ApiToken.objects.exists()


def test_users_list_only_their_own_tokens(client_for, owner, teammate):
    api_token_create(user=owner, name="Mine")
    api_token_create(user=teammate, name="Theirs")

    html = client_for(owner).get(PAGE + "?scope=all").content.decode()

    assert "Mine" in html
    assert "Theirs" not in html
    assert "Show everyone" not in html


def test_admins_see_everyones_tokens(client_for, admin_user, owner, django_assert_max_num_queries):
    for number in range(5):
        api_token_create(user=owner, name=f"Owner token {number}")
    client = client_for(admin_user)

    with django_assert_max_num_queries(6):
        html = client.get(PAGE + "?scope=all").content.decode()

    assert html.count("Owner token") == 5
    assert str(owner) in html


def test_the_page_with_no_tokens_says_so(client_for, executive):
    html = client_for(executive).get(PAGE).content.decode()

    assert "You have no tokens yet" in html


def test_revoking_a_token_stops_it_working(client_for, owner):
    token, secret = api_token_create(user=owner, name="CRM sync")
    assert bearer(secret).get(API).status_code == 200

    response = client_for(owner).post(f"{PAGE}{token.pk}/revoke/")

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert bearer(secret).get(API).status_code == 401


def test_nobody_revokes_someone_elses_token_but_an_admin(client_for, owner, teammate, admin_user):
    token, _secret = api_token_create(user=owner, name="CRM sync")

    assert client_for(teammate).post(f"{PAGE}{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None

    response = client_for(admin_user).post(f"{PAGE}{token.pk}/revoke/")
    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}?scope=all"
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_revoking_twice_keeps_the_first_time(owner):
    token, _secret = api_token_create(user=owner, name="CRM sync")
    first = timezone.now() - dt.timedelta(hours=1)
    api_token_revoke(token=token, by=owner, now=first)

    api_token_revoke(token=token, by=owner)

    token.refresh_from_db()
    assert token.revoked_at == first


def test_an_expired_token_gets_401(owner):
    now = timezone.now()
    token, secret = api_token_create(
        user=owner, name="Short", expires_at=now + dt.timedelta(minutes=5)
    )
    ApiToken.objects.filter(pk=token.pk).update(expires_at=now - dt.timedelta(seconds=1))

    response = bearer(secret).get(API)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid, expired or revoked token."}


def test_an_unknown_token_gets_401(db):
    assert bearer("csp_not-a-real-token").get(API).status_code == 401


def test_a_token_cannot_be_issued_already_expired(owner):
    with pytest.raises(ValidationError) as caught:
        api_token_create(user=owner, name="Late", expires_at=timezone.now())

    assert caught.value.message_dict == {"expires_at": ["The expiry must be in the future."]}


def test_the_token_records_when_it_was_last_used(owner):
    token, secret = api_token_create(user=owner, name="CRM sync")

    bearer(secret).get(API)

    token.refresh_from_db()
    assert token.last_used_at is not None
