from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cs_platform import health_check
from reports.views import dashboards

admin.site.site_header = "CS Platform administration"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health_check.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("health/", include("health.urls")),
    path("journeys/", include("journeys.urls")),
    path("feedback/", include("feedback.urls")),
    path("api/", include("cs_platform.api.urls")),
    path("settings/api-tokens/", include("accounts.urls_api_tokens")),
    path("settings/webhooks/", include("accounts.urls_webhooks")),
    # The public survey page: no login (see LoginRequiredMiddleware exemptions in its views).
    path("s/", include(("feedback.urls_public", "public_survey"))),
    path("", dashboards.home, name="home"),
    path("", include("reports.urls")),
    path("", include("accounts.urls")),
]
