from django.urls import URLPattern, path

from reports.views import initiatives, targets, team

urlpatterns: list[URLPattern] = [
    path("team/", team.team_performance, name="team"),
    path("targets/", targets.target_list, name="target_list"),
    path("targets/new/", targets.target_create, name="target_create"),
    path("targets/<int:pk>/edit/", targets.target_edit, name="target_edit"),
    path("targets/<int:pk>/delete/", targets.target_delete, name="target_delete"),
    path("initiatives/", initiatives.initiative_list, name="initiative_list"),
    path("initiatives/new/", initiatives.initiative_create, name="initiative_create"),
    path("initiatives/<int:pk>/", initiatives.initiative_detail, name="initiative_detail"),
    path("initiatives/<int:pk>/edit/", initiatives.initiative_edit, name="initiative_edit"),
]
