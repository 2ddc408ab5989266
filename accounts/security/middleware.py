import time
from collections.abc import Callable

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from accounts.security.sessions import session_expiry_reason, session_touch

_ENDED = {
    "idle": "You were signed out after a period of inactivity. Please log in again.",
    "absolute": "Your session reached its maximum length. Please log in again.",
}


class SessionLimitsMiddleware:
    """Ends a session that was idle too long or is older than its absolute lifetime, and the
    session of a person who was deactivated (or deleted) since signing in.

    After logout() the request carries on as anonymous, so LoginRequiredMiddleware sends the
    person to the login page with ?next= pointing back where they were going.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Checking the session before request.user keeps anonymous requests free of queries.
        if SESSION_KEY in request.session:
            now = time.time()
            reason = session_expiry_reason(request.session, now=now)
            if reason is not None:
                logout(request)
                messages.info(request, _ENDED[reason])
            elif not request.user.is_authenticated:
                # The authentication backend refuses inactive users, so a deactivated
                # person arrives here as anonymous with their old session still stored.
                request.session.flush()
            else:
                session_touch(request.session, now=now)
        return self.get_response(request)


class AdminTwoFactorMiddleware:
    """With MFA_REQUIRED_FOR_ADMINS on, an administrator (role admin, superuser or staff)
    without an authenticator app is sent to set one up before any other page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.MFA_REQUIRED_FOR_ADMINS and self._must_enrol(request):
            messages.warning(
                request,
                "Administrators must set up two-factor authentication before continuing.",
            )
            return HttpResponseRedirect(reverse("mfa_activate_totp"))
        return self.get_response(request)

    def _must_enrol(self, request: HttpRequest) -> bool:
        user = request.user
        if not user.is_authenticated or not (user.is_admin or user.is_staff):
            return False
        # The setup pages (with re-authentication), logout and static files stay reachable.
        allowed = (
            reverse("mfa_index"),
            reverse("account_reauthenticate"),
            reverse("logout"),
            settings.STATIC_URL,
        )
        if request.path.startswith(allowed):
            return False
        return not is_mfa_enabled(user)
