"""REST resources of the feedback floor under /api/v1/: surveys and survey campaigns.

Both are settings that only admins and CS managers open, like the survey pages: every other
role gets 403, reads included. Writes call feedback.services, as the pages do: a campaign is
made as a draft, sent once (its recipients frozen as single-use links, emailed by Celery),
and only a draft can be deleted. Answers arrive through feedback.api_ingest.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.selectors.access import local_today
from cs_platform.api.inputs import field_errors, merged, validated_input
from cs_platform.api.roles import ConfiguresOnly, RoleRestrictedAutoSchema
from cs_platform.api.scoping import request_user
from feedback import serializers as s
from feedback.models import Survey, SurveyCampaign
from feedback.selectors import campaigns_for_list, surveys_for_list
from feedback.services import (
    campaign_create,
    campaign_delete,
    campaign_send,
    survey_create,
    survey_update,
)

# --- Surveys -------------------------------------------------------------------------------


class SurveyApiFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Survey.Kind.choices)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Survey
        fields: list[str] = []


_SURVEY_FIELDS = {"name", "kind", "question", "follow_up_question", "is_active"}


def _survey_values(survey: Survey) -> dict[str, Any]:
    return {field: getattr(survey, field) for field in _SURVEY_FIELDS}


class SurveyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """NPS, CSAT and CES surveys with their numbers of answers and campaigns. A survey's
    kind is fixed once it has answers (they were given on its scale); surveys are switched
    off, not deleted."""

    schema = RoleRestrictedAutoSchema()
    permission_classes = [permissions.IsAuthenticated, ConfiguresOnly]
    lookup_value_regex = r"[0-9]+"
    queryset = surveys_for_list()
    serializer_class = s.SurveySerializer
    filterset_class = SurveyApiFilter
    ordering_fields = ["id", "name", "created_at"]
    ordering = ["-is_active", "name", "id"]

    @extend_schema(request=s.SurveyInputSerializer, responses={201: s.SurveySerializer})
    def create(self, request: Request) -> Response:
        data = validated_input(s.SurveyInputSerializer, request)
        try:
            survey = survey_create(**data)
        except DjangoValidationError as exc:
            raise field_errors(exc, fields=_SURVEY_FIELDS, rest="non_field_errors") from None
        return Response(self._out(survey), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.SurveyInputSerializer, responses=s.SurveySerializer)
    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        survey = self.get_object()
        data = validated_input(s.SurveyInputSerializer, request, partial=partial)
        data = merged(_survey_values(survey), data)
        try:
            survey = survey_update(survey=survey, **data)
        except DjangoValidationError as exc:
            raise field_errors(exc, fields=_SURVEY_FIELDS, rest="non_field_errors") from None
        return Response(self._out(survey))

    @extend_schema(request=s.SurveyInputSerializer, responses=s.SurveySerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def _out(self, survey: Survey) -> dict[str, Any]:
        return s.SurveySerializer(self.get_queryset().get(pk=survey.pk)).data


# --- Campaigns -----------------------------------------------------------------------------


class SurveyCampaignApiFilter(django_filters.FilterSet):
    survey = django_filters.ModelChoiceFilter(queryset=Survey.objects.all(), help_text="Survey id.")
    status = django_filters.ChoiceFilter(choices=SurveyCampaign.Status.choices)

    class Meta:
        model = SurveyCampaign
        fields: list[str] = []


_CAMPAIGN_FIELDS = {
    "survey",
    "name",
    "segment",
    "contacts",
    "skip_recently_surveyed_days",
    "link_valid_days",
}


class SurveyCampaignViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """One sending of a survey to a segment's contacts or to picked contacts. POST makes a
    draft; POST .../send/ sends it once; DELETE discards a draft (a sent campaign stays on
    record)."""

    schema = RoleRestrictedAutoSchema()
    permission_classes = [permissions.IsAuthenticated, ConfiguresOnly]
    lookup_value_regex = r"[0-9]+"
    queryset = campaigns_for_list()
    serializer_class = s.SurveyCampaignSerializer
    filterset_class = SurveyCampaignApiFilter
    ordering_fields = ["id", "created_at", "sent_at"]
    ordering = ["-created_at", "-id"]

    @extend_schema(
        request=s.SurveyCampaignCreateSerializer, responses={201: s.SurveyCampaignSerializer}
    )
    def create(self, request: Request) -> Response:
        data = validated_input(s.SurveyCampaignCreateSerializer, request)
        try:
            campaign = campaign_create(created_by=request_user(request), **data)
        except DjangoValidationError as exc:
            raise field_errors(exc, fields=_CAMPAIGN_FIELDS, rest="non_field_errors") from None
        return Response(self._out(campaign), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        campaign = self.get_object()
        try:
            campaign_delete(campaign=campaign)
        except DjangoValidationError as exc:
            raise field_errors(exc, fields=set(), rest="non_field_errors") from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=s.CampaignSendResultSerializer)
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk: str) -> Response:
        """Freeze the draft's recipients as single-use links and queue the emails; a campaign
        goes out once (a second send answers 400 and changes nothing)."""
        campaign = self.get_object()
        try:
            count = campaign_send(campaign=campaign, today=local_today())
        except DjangoValidationError as exc:
            raise field_errors(exc, fields=set(), rest="non_field_errors") from None
        return Response({"invitations": count, "campaign": self._out(campaign)})

    def _out(self, campaign: SurveyCampaign) -> dict[str, Any]:
        return s.SurveyCampaignSerializer(self.get_queryset().get(pk=campaign.pk)).data
