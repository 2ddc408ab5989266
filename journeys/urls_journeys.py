from django.urls import URLPattern, path

from journeys.views import journeys, stages

urlpatterns: list[URLPattern] = [
    path("", journeys.journeys_overview, name="overview"),
    path("stages/", stages.stage_list, name="stage_list"),
    path("stages/new/", stages.stage_create, name="stage_create"),
    path("stages/<int:pk>/edit/", stages.stage_edit, name="stage_edit"),
    path("stages/<int:pk>/reorder/", stages.stage_reorder, name="stage_reorder"),
    path("stages/<int:pk>/milestones/new/", stages.milestone_create, name="milestone_create"),
    path("milestones/<int:pk>/edit/", stages.milestone_edit, name="milestone_edit"),
    path("accounts/<int:pk>/", journeys.account_journey, name="account_journey"),
    path("accounts/<int:pk>/start/", journeys.account_journey_start, name="journey_start"),
    path("accounts/<int:pk>/move/", journeys.account_journey_move, name="journey_move"),
    path(
        "accounts/<int:pk>/milestones/<int:milestone_pk>/complete/",
        journeys.account_milestone_complete,
        name="milestone_complete",
    ),
    path(
        "accounts/<int:pk>/milestones/<int:milestone_pk>/reopen/",
        journeys.account_milestone_reopen,
        name="milestone_reopen",
    ),
    path("accounts/<int:pk>/handoff/", journeys.account_handoff_edit, name="handoff_edit"),
]
