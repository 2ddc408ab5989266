from django.urls import URLPattern, path

from journeys.views import playbooks as views

# Included at /journeys/playbooks/ inside the "journeys" namespace.
urlpatterns: list[URLPattern] = [
    path("", views.playbook_list, name="playbook_list"),
    path("new/", views.playbook_create, name="playbook_create"),
    path("<int:pk>/", views.playbook_detail, name="playbook_detail"),
    path("<int:pk>/edit/", views.playbook_edit, name="playbook_edit"),
    path("<int:pk>/active/", views.playbook_active, name="playbook_active"),
    # Linked from the account page: snooze any active playbook for this one account.
    path(
        "accounts/<int:account_pk>/snooze/",
        views.playbook_snooze_account,
        name="playbook_snooze",
    ),
    path(
        "accounts/<int:account_pk>/snooze/<int:playbook_pk>/lift/",
        views.playbook_unsnooze_account,
        name="playbook_unsnooze",
    ),
]
