"""Webhook settings pages, included at /settings/webhooks/ by cs_platform.urls."""

from django.urls import path

from accounts.views import webhooks

app_name = "webhooks"

urlpatterns = [
    path("", webhooks.webhook_endpoint_list, name="list"),
    path("new/", webhooks.webhook_endpoint_create_view, name="create"),
    path("deliveries/", webhooks.webhook_delivery_log, name="deliveries"),
    path("<int:pk>/", webhooks.webhook_endpoint_detail, name="detail"),
    path("<int:pk>/edit/", webhooks.webhook_endpoint_edit_view, name="edit"),
    path("<int:pk>/delete/", webhooks.webhook_endpoint_delete_view, name="delete"),
    path("<int:pk>/test/", webhooks.webhook_endpoint_test_view, name="test"),
    path("<int:pk>/rotate-secret/", webhooks.webhook_endpoint_rotate_view, name="rotate"),
]
