"""The public survey page, mounted at /s/ under the namespace "public_survey"."""

from django.urls import path

from feedback.views import public

urlpatterns = [
    path("<str:token>/", public.answer, name="answer"),
    path("<str:token>/thanks/", public.thanks, name="thanks"),
]
