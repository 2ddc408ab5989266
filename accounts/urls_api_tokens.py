"""The API tokens settings page, included at /settings/api-tokens/ by cs_platform.urls."""

from django.urls import path

from accounts.views import api_tokens

app_name = "api_tokens"

urlpatterns = [
    path("", api_tokens.api_token_list, name="list"),
    path("<int:pk>/revoke/", api_tokens.api_token_revoke_view, name="revoke"),
]
