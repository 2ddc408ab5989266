"""Sign-in pages under /auth/: two-factor setup and the code step, re-authentication before
changing them, password change. Login and logout themselves live at /login/ and /logout/
(cs_platform/urls.py). No signup and no self-service reset: administrators make accounts."""

from allauth.account import views as account_views
from django.urls import include, path

urlpatterns = [
    path("reauthenticate/", account_views.reauthenticate, name="account_reauthenticate"),
    path("password/change/", account_views.password_change, name="account_change_password"),
    path("password/set/", account_views.password_set, name="account_set_password"),
    path("2fa/", include("allauth.mfa.urls")),
]
