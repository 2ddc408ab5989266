"""REST resources of the journeys floor under /api/v1/: journey stages (with milestones),
stage transitions (an account's journey history, and moving an account), and playbooks.

The rules are the pages': everyone reads the stages (the journey pages show them to every
role) and admins and managers change them; transitions are rows of accounts, scoped by the
book of business, and a move goes through journeys.services like the account's journey
page; playbooks are settings that only admins and managers open at all.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import account_filter
from accounts.models import Account
from cs_platform.api.inputs import field_errors, merged, validated_input
from cs_platform.api.roles import ConfiguresOnly, RoleRestrictedAutoSchema
from cs_platform.api.scoping import (
    AccountScopedViewSetMixin,
    ApiAutoSchema,
    CanConfigure,
    request_user,
)
from journeys import serializers as s
from journeys.models import AccountJourney, Milestone, Playbook, Stage, StageTransition
from journeys.services import journey_move, journey_start, stage_create, stage_update
from journeys.services_playbooks import TemplateSpec, playbook_create, playbook_update

# --- Stages --------------------------------------------------------------------------------


def _stage_values(stage: Stage) -> dict[str, Any]:
    return {
        "name": stage.name,
        "slug": stage.slug,
        "order": stage.order,
        "description": stage.description,
        "target_days": stage.target_days,
        "auto_advance": stage.auto_advance,
    }


def _stage_clash() -> ValidationError:
    # Two requests raced past the model's unique checks.
    return ValidationError(
        {"non_field_errors": ["Another stage already has this name, slug or order."]}
    )


class StageViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The journey's stages in order, each with its milestones. Everyone reads them; admins
    and CS managers add and change them (stages are not deleted: accounts and history point
    at them)."""

    schema = ApiAutoSchema()
    permission_classes = [permissions.IsAuthenticated, CanConfigure]
    lookup_value_regex = r"[0-9]+"
    queryset = Stage.objects.prefetch_related(
        Prefetch("milestones", queryset=Milestone.objects.order_by("order", "pk"))
    )
    serializer_class = s.StageSerializer
    filterset_fields = ["slug", "auto_advance"]
    ordering_fields = ["id", "order", "name"]
    ordering = ["order"]

    @extend_schema(request=s.StageInputSerializer, responses={201: s.StageSerializer})
    def create(self, request: Request) -> Response:
        data = validated_input(s.StageInputSerializer, request)
        try:
            stage = stage_create(**data)
        except IntegrityError:
            raise _stage_clash() from None
        return Response(self._out(stage), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.StageInputSerializer, responses=s.StageSerializer)
    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        stage = self.get_object()
        data = validated_input(s.StageInputSerializer, request, partial=partial)
        data = merged(_stage_values(stage), data)
        try:
            stage = stage_update(stage=stage, **data)
        except IntegrityError:
            raise _stage_clash() from None
        return Response(self._out(stage))

    @extend_schema(request=s.StageInputSerializer, responses=s.StageSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def _out(self, stage: Stage) -> dict[str, Any]:
        return s.StageSerializer(self.get_queryset().get(pk=stage.pk)).data


# --- Transitions ---------------------------------------------------------------------------


class StageTransitionApiFilter(django_filters.FilterSet):
    account = account_filter()
    to_stage = django_filters.ModelChoiceFilter(
        queryset=Stage.objects.all(), help_text="Stage id moved to."
    )
    from_stage = django_filters.ModelChoiceFilter(
        queryset=Stage.objects.all(), help_text="Stage id moved from."
    )
    at = django_filters.DateFromToRangeFilter(
        help_text="Moved on or after `_after`, on or before `_before` (dates)."
    )

    class Meta:
        model = StageTransition
        fields: list[str] = []


class StageTransitionViewSet(
    AccountScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Every move of an account between stages: from, to, when, by whom or which rule, and
    why. POST moves an account the caller may edit to another stage (its first POST starts
    its journey), exactly as the account's journey page does; history is never changed."""

    schema = ApiAutoSchema()
    queryset = StageTransition.objects.all()
    serializer_class = s.StageTransitionSerializer
    filterset_class = StageTransitionApiFilter
    ordering_fields = ["id", "at"]
    ordering = ["-at", "-id"]

    @extend_schema(
        request=s.StageTransitionCreateSerializer, responses={201: s.StageTransitionSerializer}
    )
    def create(self, request: Request) -> Response:
        data = validated_input(s.StageTransitionCreateSerializer, request)
        account: Account = data["account"]
        user = request_user(request)
        if AccountJourney.objects.filter(account=account).exists():
            reason = data["reason"].strip()
            if not reason:
                raise ValidationError(
                    {"reason": ["Say why you are moving the account: it stays on record."]}
                )
            try:
                transition = journey_move(
                    account=account, to_stage=data["to_stage"], by=user, reason=reason
                )
            except DjangoValidationError as exc:
                raise field_errors(exc, fields={"to_stage"}, rest="non_field_errors") from None
        else:
            journey_start(
                account=account, stage=data["to_stage"], by=user, reason=data["reason"].strip()
            )
            transition = StageTransition.objects.filter(account=account).latest("at", "pk")
        return Response(
            s.StageTransitionSerializer(transition).data, status=status.HTTP_201_CREATED
        )


# --- Playbooks -----------------------------------------------------------------------------


class PlaybookApiFilter(django_filters.FilterSet):
    trigger = django_filters.ChoiceFilter(choices=Playbook.Trigger.choices)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Playbook
        fields: list[str] = []


_PLAYBOOK_FIELDS = {"name", "description", "trigger", "params", "is_active", "templates"}


def _specs(templates: list[dict[str, Any]]) -> list[TemplateSpec]:
    return [
        TemplateSpec(
            title=t["title"],
            description=t["description"],
            due_in_days=t["due_in_days"],
            priority=t["priority"],
            assignee=t["assignee"],
            pk=t.get("id"),
        )
        for t in templates
    ]


def _playbook_values(playbook: Playbook) -> dict[str, Any]:
    return {
        "name": playbook.name,
        "description": playbook.description,
        "trigger": playbook.trigger,
        "params": playbook.params,
        "is_active": playbook.is_active,
        "templates": [
            {
                "id": t.pk,
                "title": t.title,
                "description": t.description,
                "due_in_days": t.due_in_days,
                "priority": t.priority,
                "assignee": t.assignee,
            }
            for t in playbook.templates.all()
        ],
    }


def _playbook_errors(exc: DjangoValidationError) -> ValidationError:
    # The service keys a trigger parameter's problem by the parameter ("band", "days").
    return field_errors(exc, fields=_PLAYBOOK_FIELDS, rest="params")


class PlaybookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Rules that make tasks, once per occurrence. Admins and CS managers only, like the
    playbook pages: other roles get 403. PUT and PATCH replace the task templates with the
    list given; a template sent back with its `id` keeps its firings, so it does not fire
    again for occurrences it already acted on. Playbooks are switched off, not deleted."""

    schema = RoleRestrictedAutoSchema()
    permission_classes = [permissions.IsAuthenticated, ConfiguresOnly]
    lookup_value_regex = r"[0-9]+"
    queryset = Playbook.objects.prefetch_related("templates")
    serializer_class = s.PlaybookSerializer
    filterset_class = PlaybookApiFilter
    ordering_fields = ["id", "name", "created_at", "updated_at"]
    ordering = ["name", "id"]

    @extend_schema(request=s.PlaybookInputSerializer, responses={201: s.PlaybookSerializer})
    def create(self, request: Request) -> Response:
        data = validated_input(s.PlaybookInputSerializer, request)
        try:
            playbook = playbook_create(
                name=data["name"],
                description=data["description"],
                trigger=data["trigger"],
                params=data["params"],
                is_active=data["is_active"],
                templates=_specs(data["templates"]),
                created_by=request_user(request),
            )
        except DjangoValidationError as exc:
            raise _playbook_errors(exc) from None
        except IntegrityError:
            raise ValidationError({"name": ["A playbook with this name already exists."]}) from None
        return Response(self._out(playbook), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.PlaybookInputSerializer, responses=s.PlaybookSerializer)
    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        playbook = self.get_object()
        data = validated_input(s.PlaybookInputSerializer, request, partial=partial)
        data = merged(_playbook_values(playbook), data)
        try:
            playbook = playbook_update(
                playbook=playbook,
                name=data["name"],
                description=data["description"],
                trigger=data["trigger"],
                params=data["params"],
                is_active=data["is_active"],
                templates=_specs(data["templates"]),
            )
        except DjangoValidationError as exc:
            raise _playbook_errors(exc) from None
        except IntegrityError:
            raise ValidationError({"name": ["A playbook with this name already exists."]}) from None
        return Response(self._out(playbook))

    @extend_schema(request=s.PlaybookInputSerializer, responses=s.PlaybookSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def _out(self, playbook: Playbook) -> dict[str, Any]:
        return s.PlaybookSerializer(self.get_queryset().get(pk=playbook.pk)).data
