from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from accounts.security.throttle import login_cooloff_message, login_cooloff_seconds


class PlatformAccountAdapter(DefaultAccountAdapter):
    """Staff accounts are made by administrators, so nobody signs up; a throttled sign-in
    says how long to wait instead of "later"."""

    error_messages = {
        **DefaultAccountAdapter.error_messages,
        # The wording people already know from this page.
        "username_password_mismatch": (
            "Please enter a correct username and password. "
            "Note that both fields may be case-sensitive."
        ),
    }

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError as exc:
            # A refused attempt never reaches authenticate(), which would send this signal;
            # the audit log still hears of it.
            user_login_failed.send(
                sender=__name__,
                credentials={"username": credentials.get("username", "")},
                request=request,
            )
            key = self._get_login_attempts_cache_key(request, **credentials)
            message = login_cooloff_message(login_cooloff_seconds(request, key=key))
            raise ValidationError(message, code="too_many_login_attempts") from exc

    def respond_user_inactive(self, request: HttpRequest, user: AbstractBaseUser) -> HttpResponse:
        # No separate "inactive" page: the authentication backend refuses inactive users
        # before this is reached; should it be, the login page says so.
        messages.error(request, "This account is inactive.")
        return HttpResponseRedirect(reverse("login"))
