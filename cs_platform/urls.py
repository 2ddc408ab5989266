from allauth.account import views as account_views
from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from cs_platform import health_check
from reports.views import dashboards

admin.site.site_header = "CS Platform administration"
# The admin signs in through /login/ too, so its login gets the same throttle and second factor.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

_login = account_views.LoginView.as_view(template_name="accounts/login.html")


urlpatterns = [
    path("login/", _login, name="login"),
    path("logout/", account_views.logout, name="logout"),
    # The same pages under allauth's names, which its views and templates reverse.
    path("login/", _login, name="account_login"),
    path("logout/", account_views.logout, name="account_logout"),
    path("auth/", include("accounts.security.urls")),
    path("healthz", health_check.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("health/", include("health.urls")),
    path("journeys/", include("journeys.urls")),
    path("feedback/", include("feedback.urls")),
    path("api/", include("cs_platform.api.urls")),
    path("settings/api-tokens/", include("accounts.urls_api_tokens")),
    path("settings/webhooks/", include("accounts.urls_webhooks")),
    path("settings/audit/", include("accounts.urls_audit")),
    # The public survey page: no login (see LoginRequiredMiddleware exemptions in its views).
    path("s/", include(("feedback.urls_public", "public_survey"))),
    path("", dashboards.home, name="home"),
    path("", include("reports.urls")),
    path("", include("accounts.urls")),
]
