"""Sign-in security: failed-login cool-off per username and per address, password rules,
session rotation and limits, the optional TOTP second factor and the admin requirement."""

import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from accounts.models import User
from accounts.security.sessions import LAST_SEEN_AT, SIGNED_IN_AT
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/login/"
WRONG = "not-the-password"
MISMATCH = "Please enter a correct username and password."
# A base32 secret as an authenticator app would hold it.
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _post_login(client, username: str, password: str, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def _signed_in_as(client) -> str | None:
    return client.session.get(SESSION_KEY)


def _totp_code(secret: str, at: float) -> str:
    return format_hotp_value(hotp_value(secret, int(at) // 30))


@pytest.fixture
def clock(monkeypatch):
    """time.time() under the test's control: clock.advance(seconds) moves it forward."""

    class Clock:
        now = time.time()

        def advance(self, seconds: float) -> None:
            self.now += seconds

    c = Clock()
    monkeypatch.setattr(time, "time", lambda: c.now)
    return c


@pytest.fixture
def limits(settings):
    # 3 failures per username, 4 per address, over 15 minutes.
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "4/15m/ip,3/15m/key"}
    return settings


# --- Failed-login cool-off ---


def test_a_username_is_refused_after_three_failures_even_with_the_right_password(
    client, owner, limits, clock
):
    for _ in range(3):
        response = _post_login(client, "owner", WRONG)
        assert MISMATCH in response.content.decode()

    # Given three failures at T, when the right password comes at T + 5 minutes, then it is
    # refused: the oldest failure leaves the 15-minute window at T + 15, 10 minutes from now.
    clock.advance(5 * 60)
    response = _post_login(client, "owner", PASSWORD)

    assert response.status_code == 200
    assert "Too many failed attempts, try again in 10 minutes." in response.content.decode()
    assert _signed_in_as(client) is None


def test_the_cool_off_expires_and_the_right_password_works_again(client, owner, limits, clock):
    for _ in range(3):
        _post_login(client, "owner", WRONG)
    assert "try again in 15 minutes" in _post_login(client, "owner", PASSWORD).content.decode()

    clock.advance(15 * 60 + 1)
    response = _post_login(client, "owner", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert _signed_in_as(client) == str(owner.pk)


def test_the_username_throttle_ignores_letter_case(client, owner, limits):
    for name in ("owner", "OWNER", "Owner"):
        _post_login(client, name, WRONG)
    response = _post_login(client, "owner", PASSWORD)
    assert "Too many failed attempts" in response.content.decode()


def test_one_address_is_throttled_across_different_usernames(client, owner, limits):
    # Four failures from one address, each on a different username (below 3 per username).
    for name in ("alice", "bob", "carol", "dave"):
        _post_login(client, name, WRONG, REMOTE_ADDR="203.0.113.7")

    refused = _post_login(client, "owner", PASSWORD, REMOTE_ADDR="203.0.113.7")
    assert "Too many failed attempts, try again in 15 minutes." in refused.content.decode()
    assert _signed_in_as(client) is None

    # The same person from another address is not held back by that address's failures.
    allowed = _post_login(client, "owner", PASSWORD, REMOTE_ADDR="198.51.100.9")
    assert allowed.status_code == 302
    assert _signed_in_as(client) == str(owner.pk)


def test_a_successful_login_does_not_use_up_the_allowance(client, owner, limits):
    # Two failures, then a success: the success is not counted, so two more failures
    # (four attempts in all, three failed) are still needed before the username is throttled.
    _post_login(client, "owner", WRONG)
    _post_login(client, "owner", WRONG)
    assert _post_login(client, "owner", PASSWORD).status_code == 302
    client.post("/logout/")
    assert MISMATCH in _post_login(client, "owner", WRONG).content.decode()
    assert "Too many failed attempts" in _post_login(client, "owner", PASSWORD).content.decode()


def test_a_busy_office_behind_one_address_can_all_sign_in_within_a_minute(client, owner):
    # 40 successful sign-ins from one address in a minute (allauth's own default allows 30);
    # the settings' per-address ceiling counts every attempt.
    for _ in range(40):
        assert _post_login(client, "owner", PASSWORD).status_code == 302
        client.post("/logout/")


def test_every_sign_in_counts_against_the_per_address_ceiling(client, owner, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login": "3/m/ip"}
    for _ in range(3):
        assert _post_login(client, "owner", PASSWORD).status_code == 302
        client.post("/logout/")
    assert _post_login(client, "owner", PASSWORD).status_code == 429


def test_the_login_page_accepts_the_field_name_login_too(client, owner):
    response = client.post(LOGIN, {"login": "owner", "password": PASSWORD})
    assert response.status_code == 302
    assert _signed_in_as(client) == str(owner.pk)


def test_login_signals_still_fire_for_the_audit_log(client, owner, limits):
    seen: list[str] = []

    def on_failed(sender, credentials, **kwargs):
        seen.append(f"failed:{credentials.get('username')}")

    def on_logged_in(sender, user, **kwargs):
        seen.append(f"in:{user.username}")

    user_login_failed.connect(on_failed)
    user_logged_in.connect(on_logged_in)
    try:
        _post_login(client, "owner", WRONG)
        _post_login(client, "owner", PASSWORD)
        client.post("/logout/")
        for _ in range(3):
            _post_login(client, "owner", WRONG)
        # Refused by the cool-off before the password is checked: still a failed login.
        _post_login(client, "owner", PASSWORD)
    finally:
        user_login_failed.disconnect(on_failed)
        user_logged_in.disconnect(on_logged_in)
    assert seen == ["failed:owner", "in:owner"] + ["failed:owner"] * 4


# --- Password rules ---


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pass1", "This password is too short. It must contain at least 12 characters."),
        ("password1234", "This password is too common."),
        ("qwertyuiop123", "This password is too common."),
        ("margaret.hamilton", "The password is too similar to the username."),
    ],
)
def test_weak_passwords_are_rejected(password, message):
    user = User(username="margaret.hamilton", first_name="Margaret")
    with pytest.raises(ValidationError) as exc:
        validate_password(password, user)
    assert message in exc.value.messages


def test_a_long_passphrase_needs_no_digits_capitals_or_symbols():
    user = User(username="margaret.hamilton")
    assert validate_password("saturn rockets land softly", user) is None


# --- Sessions ---


def test_the_session_key_changes_on_login(client, owner):
    before = client.session
    before["visited"] = True
    before.save()
    old_key = before.session_key

    _post_login(client, "owner", PASSWORD)

    new_key = client.cookies["sessionid"].value
    assert new_key != old_key
    assert not SessionStore().exists(old_key)
    assert SessionStore(session_key=new_key)[SESSION_KEY] == str(owner.pk)


def test_logout_is_a_post_and_ends_the_session(client, owner):
    _post_login(client, "owner", PASSWORD)
    key = client.cookies["sessionid"].value

    response = client.post("/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert not SessionStore().exists(key)
    assert client.get("/accounts/")["Location"] == "/login/?next=/accounts/"


def test_deactivating_a_user_ends_their_next_request(client_for, owner):
    client = client_for(owner)
    assert client.get("/accounts/").status_code == 200
    key = client.session.session_key

    owner.is_active = False
    owner.save(update_fields=["is_active"])
    response = client.get("/accounts/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/accounts/"
    assert not SessionStore().exists(key)


def _age_session(client, *, signed_in_ago: float, last_seen_ago: float) -> None:
    session = client.session
    now = time.time()
    session[SIGNED_IN_AT] = now - signed_in_ago
    session[LAST_SEEN_AT] = now - last_seen_ago
    session.save()


def test_an_idle_session_ends_after_the_idle_timeout(client_for, owner, settings):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 60 * 60
    client = client_for(owner)
    _age_session(client, signed_in_ago=61 * 60, last_seen_ago=60 * 60 + 1)

    response = client.get("/accounts/", follow=True)

    assert response.redirect_chain == [("/login/?next=/accounts/", 302)]
    assert "signed out after a period of inactivity" in response.content.decode()
    assert _signed_in_as(client) is None


def test_activity_within_the_idle_timeout_keeps_the_session_and_moves_last_seen(
    client_for, owner, settings
):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 60 * 60
    client = client_for(owner)
    _age_session(client, signed_in_ago=59 * 60, last_seen_ago=59 * 60)

    assert client.get("/accounts/").status_code == 200

    assert time.time() - client.session[LAST_SEEN_AT] < 5
    assert _signed_in_as(client) == str(owner.pk)


def test_a_busy_session_still_ends_at_its_absolute_lifetime(client_for, owner, settings):
    settings.SESSION_MAX_AGE_SECONDS = 12 * 60 * 60
    client = client_for(owner)
    # Active a second ago, but signed in 12 hours and a second ago.
    _age_session(client, signed_in_ago=12 * 60 * 60 + 1, last_seen_ago=1)

    response = client.get("/accounts/", follow=True)

    assert response.redirect_chain == [("/login/?next=/accounts/", 302)]
    assert "Your session reached its maximum length" in response.content.decode()
    assert _signed_in_as(client) is None


def test_pages_right_after_sign_in_do_not_write_the_session(client_for, owner):
    # The sign-in stamps are written at login, so page views keep their query budgets.
    client = client_for(owner)
    with CaptureQueriesContext(connection) as ctx:
        client.get("/accounts/")
    writes = [q["sql"] for q in ctx.captured_queries if "django_session" in q["sql"]]
    assert [sql.split()[0] for sql in writes] == ["SELECT"]


# --- Two-factor authentication ---


def test_a_user_enrols_in_totp_and_login_then_asks_for_the_code(client, owner, clock):
    # Given a signed-in user, who confirms their password before changing the second factor.
    _post_login(client, "owner", PASSWORD)
    gate = client.get(reverse("mfa_activate_totp"))
    assert gate["Location"] == "/auth/reauthenticate/?next=%2Fauth%2F2fa%2Ftotp%2Factivate%2F"
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = page.context["form"].secret
    assert secret in page.content.decode()
    assert "data:image/svg+xml;base64," in page.content.decode()

    # When they confirm a code from their app, TOTP and 10 recovery codes are set up.
    response = client.post(reverse("mfa_activate_totp"), {"code": _totp_code(secret, clock.now)})
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    kinds = sorted(Authenticator.objects.filter(user=owner).values_list("type", flat=True))
    assert kinds == ["recovery_codes", "totp"]
    codes = client.get(reverse("mfa_view_recovery_codes")).context["unused_codes"]
    assert len(codes) == 10

    # Then the next login stops after the password and asks for a code.
    client.post("/logout/")
    clock.advance(30)  # a code is accepted once; the next one comes 30 seconds later
    response = _post_login(client, "owner", PASSWORD)
    assert response["Location"] == reverse("mfa_authenticate")
    assert _signed_in_as(client) is None
    step = client.get(reverse("mfa_authenticate"))
    assert step.status_code == 200
    assert 'name="code"' in step.content.decode()

    right = _totp_code(secret, clock.now)
    wrong = "000000" if right != "000000" else "111111"
    refused = client.post(reverse("mfa_authenticate"), {"code": wrong})
    assert "Incorrect code." in refused.content.decode()
    assert _signed_in_as(client) is None

    accepted = client.post(reverse("mfa_authenticate"), {"code": right})
    assert accepted["Location"] == "/"
    assert _signed_in_as(client) == str(owner.pk)


def test_a_recovery_code_also_passes_the_code_step(client, owner):
    TOTP.activate(owner, SECRET)
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    code = RecoveryCodes.activate(owner).get_unused_codes()[0]
    _post_login(client, "owner", PASSWORD)

    response = client.post(reverse("mfa_authenticate"), {"code": code})

    assert response["Location"] == "/"
    assert _signed_in_as(client) == str(owner.pk)


def test_the_code_step_is_not_reachable_without_a_password_first(client, owner):
    response = client.get(reverse("mfa_authenticate"))
    assert response.status_code == 302
    assert response["Location"] == "/login/"


def test_the_security_page_is_linked_from_the_user_menu(client_for, owner):
    page = client_for(owner).get("/")
    assert f'href="{reverse("mfa_index")}"' in page.content.decode()
    security = client_for(owner).get(reverse("mfa_index"))
    html = security.content.decode()
    assert security.status_code == 200
    assert 'class="topbar"' in html  # inside the platform's frame
    assert "An authenticator app is not active." in html


def test_admins_without_totp_are_sent_to_setup_when_required(client_for, admin_user, settings):
    settings.MFA_REQUIRED_FOR_ADMINS = True
    client = client_for(admin_user)

    response = client.get("/accounts/")

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    # The setup page itself is reachable (via re-authentication), not redirected in a loop.
    setup = client.get(reverse("mfa_activate_totp"))
    assert setup["Location"].startswith(reverse("account_reauthenticate"))
    assert client.get(setup["Location"]).status_code == 200


def test_admins_with_totp_and_other_roles_are_not_held_back(
    client_for, admin_user, owner, settings
):
    settings.MFA_REQUIRED_FOR_ADMINS = True
    TOTP.activate(admin_user, SECRET)
    assert client_for(admin_user).get("/accounts/").status_code == 200
    assert client_for(owner).get("/accounts/").status_code == 200


def test_admins_are_not_held_back_when_the_setting_is_off(client_for, admin_user, settings):
    settings.MFA_REQUIRED_FOR_ADMINS = False
    assert client_for(admin_user).get("/accounts/").status_code == 200


# --- Surface ---


def test_there_is_no_signup_page(client):
    with pytest.raises(NoReverseMatch):
        reverse("account_signup")
    assert client.get("/auth/signup/").status_code == 404


def test_the_admin_signs_in_through_the_protected_login_page(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Fadmin%2F"


@pytest.mark.parametrize("name", ["login", "mfa_authenticate"])
def test_sign_in_pages_carry_no_inline_script(client, owner, name):
    if name == "mfa_authenticate":
        TOTP.activate(owner, SECRET)
        _post_login(client, "owner", PASSWORD)
    html = client.get(reverse(name)).content.decode()
    assert "<script>" not in html
    assert "onclick" not in html


def test_a_staff_member_made_by_an_admin_signs_in(client):
    UserFactory(username="new.hire", role=User.Role.CSM)
    assert _post_login(client, "new.hire", PASSWORD)["Location"] == "/"
