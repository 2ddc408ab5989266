"""REST resources of the accounts floor under /api/v1/: accounts, contacts, contracts,
interactions, tasks, segments (and their members), usage records and support tickets.

Every viewset stands on AccountScopedViewSetMixin (cs_platform.api.scoping), so it obeys the
same book-of-business rules as the pages. Writes parse input with an input serializer and
call the service that the pages call; nothing here decides a business rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import serializers as s
from accounts.filters import BAND_CHOICES, NO_SCORE
from accounts.models import (
    Account,
    Contact,
    Contract,
    Interaction,
    Segment,
    SupportTicket,
    Task,
    Team,
    UsageRecord,
    User,
)
from accounts.selectors.access import account_get_for_edit, accounts_visible_to, local_today
from accounts.selectors.records import contact_get_for_edit
from accounts.selectors.segments import segment_filter
from accounts.selectors.tasks import interaction_get_for_edit, task_get_for_edit
from accounts.services import interactions as interaction_services
from accounts.services import records as record_services
from accounts.services import segments as segment_services
from accounts.services import tasks as task_services
from cs_platform.api.pagination import CursorPagination
from cs_platform.api.scoping import (
    AccountScopedViewSetMixin,
    ApiAutoSchema,
    CanConfigure,
    request_user,
)


def visible_accounts_for(request: Request | None) -> QuerySet[Account]:
    """Choices of an `account` filter: an id the caller may not see is "not a valid choice",
    exactly like an id that does not exist."""
    if request is None:  # schema generation
        return Account.objects.none()
    return accounts_visible_to(request_user(request))


def account_filter() -> django_filters.ModelChoiceFilter:
    return django_filters.ModelChoiceFilter(
        field_name="account", queryset=visible_accounts_for, help_text="Account id."
    )


def _merge(instance_values: Mapping[str, Any], validated: Mapping[str, Any]) -> dict[str, Any]:
    """PATCH: the stored values with the given ones on top (services take every field)."""
    return {**instance_values, **validated}


def _input(serializer_class: type, request: Request, *, partial: bool = False, **kw: Any) -> Any:
    serializer = serializer_class(
        data=request.data, partial=partial, context={"request": request}, **kw
    )
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- Accounts ------------------------------------------------------------------------------


class AccountApiFilter(django_filters.FilterSet):
    external_id = django_filters.CharFilter(help_text="The CRM id, exactly.")
    owner = django_filters.ModelChoiceFilter(queryset=User.objects.all(), help_text="User id.")
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), help_text="Team id.")
    tier = django_filters.ChoiceFilter(choices=Account.Tier.choices)
    lifecycle_status = django_filters.ChoiceFilter(choices=Account.Lifecycle.choices)
    health_band = django_filters.ChoiceFilter(
        choices=BAND_CHOICES, method="filter_band", help_text='A band, or "none": no score yet.'
    )
    renewal_date = django_filters.DateFromToRangeFilter(
        help_text="Renewal date on or after `_after`, on or before `_before`."
    )
    segment = django_filters.ModelChoiceFilter(
        queryset=Segment.objects.all(),
        method="filter_segment",
        help_text="Segment id: its members (rule or static).",
    )

    class Meta:
        model = Account
        fields: list[str] = []

    def filter_band(self, queryset: QuerySet[Account], name: str, value: str) -> QuerySet[Account]:
        if value == NO_SCORE:
            return queryset.filter(health_score__isnull=True)
        return queryset.filter(health_band=value)

    @extend_schema_field(OpenApiTypes.INT)
    def filter_segment(
        self, queryset: QuerySet[Account], name: str, value: Segment
    ) -> QuerySet[Account]:
        return segment_filter(queryset, value, today=local_today())


def _account_values(account: Account) -> dict[str, Any]:
    return {
        "name": account.name,
        "start_date": account.start_date,
        "external_id": account.external_id,
        "domain": account.domain,
        "owner": account.owner,
        "team": account.team,
        "industry": account.industry,
        "tier": account.tier,
        "product_complexity": account.product_complexity,
        "growth_potential": account.growth_potential,
        "lifecycle_status": account.lifecycle_status,
        "churned_on": account.churned_on,
        "churn_reason": account.churn_reason,
        "churn_note": account.churn_note,
    }


class AccountViewSet(
    AccountScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Customer accounts. Admins and managers create them; whoever may edit an account (its
    CSM, managers, admins) changes it; a CSM cannot reassign one. Accounts are not deleted
    through the API: churn them instead."""

    schema = ApiAutoSchema()
    account_lookup = ""
    queryset = Account.objects.all()
    serializer_class = s.AccountSerializer
    filterset_class = AccountApiFilter
    ordering_fields = [
        "id",
        "name",
        "arr",
        "renewal_date",
        "health_score",
        "last_interaction_on",
        "start_date",
    ]
    ordering = ["name", "id"]

    def get_object_for_edit(self, pk: int) -> Account:
        return account_get_for_edit(user=request_user(self.request), account_id=pk)

    @extend_schema(request=s.AccountInputSerializer, responses={201: s.AccountSerializer})
    def create(self, request: Request) -> Response:
        data = _input(s.AccountInputSerializer, request)
        account = record_services.account_create(user=request_user(request), **data)
        return Response(s.AccountSerializer(account).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.AccountInputSerializer, responses=s.AccountSerializer)
    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        account = self.get_object_for_edit(int(pk))
        data = _input(s.AccountInputSerializer, request, partial=partial)
        if partial:
            data = _merge(_account_values(account), data)
        account = record_services.account_update(
            account=account, user=request_user(request), **data
        )
        return Response(s.AccountSerializer(account).data)

    @extend_schema(request=s.AccountInputSerializer, responses=s.AccountSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)


# --- Contacts ------------------------------------------------------------------------------


class ContactApiFilter(django_filters.FilterSet):
    account = account_filter()
    email = django_filters.CharFilter(lookup_expr="iexact", help_text="Exactly, any case.")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Contact
        fields: list[str] = []


def _contact_values(contact: Contact) -> dict[str, Any]:
    return {
        "name": contact.name,
        "email": contact.email,
        "title": contact.title,
        "phone": contact.phone,
        "is_decision_maker": contact.is_decision_maker,
        "is_executive_sponsor": contact.is_executive_sponsor,
        "is_active": contact.is_active,
    }


class ContactViewSet(
    AccountScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """People at accounts. A contact who leaves is marked inactive, not deleted, so their
    interactions and answers keep their author."""

    schema = ApiAutoSchema()
    queryset = Contact.objects.all()
    serializer_class = s.ContactSerializer
    filterset_class = ContactApiFilter
    ordering_fields = ["id", "name", "email", "created_at"]
    ordering = ["name", "id"]

    def get_object_for_edit(self, pk: int) -> Contact:
        return contact_get_for_edit(user=request_user(self.request), contact_id=pk)

    @extend_schema(request=s.ContactCreateSerializer, responses={201: s.ContactSerializer})
    def create(self, request: Request) -> Response:
        data = _input(s.ContactCreateSerializer, request)
        contact = record_services.contact_create(**data)
        return Response(s.ContactSerializer(contact).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ContactUpdateSerializer, responses=s.ContactSerializer)
    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        contact = self.get_object_for_edit(int(pk))
        data = _input(s.ContactUpdateSerializer, request, partial=partial)
        if partial:
            data = _merge(_contact_values(contact), data)
        contact = record_services.contact_update(contact=contact, **data)
        return Response(s.ContactSerializer(contact).data)

    @extend_schema(request=s.ContactUpdateSerializer, responses=s.ContactSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)


# --- Contracts -----------------------------------------------------------------------------


class ContractApiFilter(django_filters.FilterSet):
    account = account_filter()
    status = django_filters.ChoiceFilter(choices=Contract.Status.choices)
    end_date = django_filters.DateFromToRangeFilter(help_text="Contracts ending in a window.")

    class Meta:
        model = Contract
        fields: list[str] = []


class ContractViewSet(
    AccountScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Contract terms. Adding one refreshes the account's ARR and renewal date. Terms are
    added, not edited, through the API (there is no contract edit service yet)."""

    schema = ApiAutoSchema()
    queryset = Contract.objects.all()
    serializer_class = s.ContractSerializer
    filterset_class = ContractApiFilter
    ordering_fields = ["id", "start_date", "end_date", "arr"]
    ordering = ["account_id", "start_date", "id"]

    @extend_schema(request=s.ContractCreateSerializer, responses={201: s.ContractSerializer})
    def create(self, request: Request) -> Response:
        data = _input(s.ContractCreateSerializer, request)
        contract = record_services.contract_create(**data)
        return Response(s.ContractSerializer(contract).data, status=status.HTTP_201_CREATED)


# --- Interactions --------------------------------------------------------------------------


class InteractionApiFilter(django_filters.FilterSet):
    account = account_filter()
    kind = django_filters.ChoiceFilter(choices=Interaction.Kind.choices)
    author = django_filters.ModelChoiceFilter(queryset=User.objects.all(), help_text="User id.")
    occurred_on = django_filters.DateFromToRangeFilter()

    class Meta:
        model = Interaction
        fields: list[str] = []


class InteractionViewSet(AccountScopedViewSetMixin, viewsets.ModelViewSet):
    """Calls, meetings, emails, QBRs and notes. Logging one with a next step also makes a
    task for the account owner. Only its author (while they may edit the account) or an
    admin changes or deletes an interaction."""

    schema = ApiAutoSchema()
    queryset = Interaction.objects.prefetch_related("participants")
    serializer_class = s.InteractionSerializer
    filterset_class = InteractionApiFilter
    ordering_fields = ["id", "occurred_on", "created_at"]
    ordering = ["-occurred_on", "-id"]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_object_for_edit(self, pk: int) -> Interaction:
        return interaction_get_for_edit(user=request_user(self.request), interaction_id=pk)

    @extend_schema(request=s.InteractionCreateSerializer, responses={201: s.InteractionSerializer})
    def create(self, request: Request) -> Response:
        data = _input(s.InteractionCreateSerializer, request)
        interaction = interaction_services.interaction_log(author=request_user(request), **data)
        return Response(s.InteractionSerializer(interaction).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.InteractionUpdateSerializer, responses=s.InteractionSerializer)
    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        interaction = self.get_object_for_edit(int(pk))
        data = _input(s.InteractionUpdateSerializer, request, partial=partial)
        if partial:
            current = {
                "kind": interaction.kind,
                "occurred_on": interaction.occurred_on,
                "summary": interaction.summary,
                "sentiment": interaction.sentiment,
                "participants": list(interaction.participants.all()),
            }
            data = _merge(current, data)
        interaction = interaction_services.interaction_update(interaction=interaction, **data)
        return Response(s.InteractionSerializer(interaction).data)

    @extend_schema(request=s.InteractionUpdateSerializer, responses=s.InteractionSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def destroy(self, request: Request, pk: str) -> Response:
        interaction = self.get_object_for_edit(int(pk))
        interaction_services.interaction_delete(interaction=interaction)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Tasks ---------------------------------------------------------------------------------


class TaskApiFilter(django_filters.FilterSet):
    account = account_filter()
    owner = django_filters.ModelChoiceFilter(queryset=User.objects.all(), help_text="User id.")
    status = django_filters.ChoiceFilter(choices=Task.Status.choices)
    priority = django_filters.ChoiceFilter(choices=Task.Priority.choices)
    due_date = django_filters.DateFromToRangeFilter(
        help_text="Due on or after `_after`, on or before `_before`."
    )

    class Meta:
        model = Task
        fields: list[str] = []


class TaskViewSet(
    AccountScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """To-dos on accounts. The owner must be someone who can see the account. A task's owner
    may complete it even after its account moved to another book."""

    schema = ApiAutoSchema()
    queryset = Task.objects.all()
    serializer_class = s.TaskSerializer
    filterset_class = TaskApiFilter
    ordering_fields = ["id", "due_date", "priority", "created_at"]
    ordering = ["due_date", "id"]

    def get_object_for_edit(self, pk: int) -> Task:
        return task_get_for_edit(user=request_user(self.request), task_id=pk)

    @extend_schema(request=s.TaskCreateSerializer, responses={201: s.TaskSerializer})
    def create(self, request: Request) -> Response:
        data = _input(s.TaskCreateSerializer, request)
        account: Account = data["account"]
        if "owner" not in data:
            data["owner"] = account.owner
        task = task_services.task_create(source=Task.Source.MANUAL, **data)
        return Response(s.TaskSerializer(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TaskUpdateSerializer, responses=s.TaskSerializer)
    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        task = self.get_object_for_edit(int(pk))
        data = _input(s.TaskUpdateSerializer, request, partial=partial)
        if partial:
            current = {
                "title": task.title,
                "due_date": task.due_date,
                "priority": task.priority,
                "owner": task.owner,
                "description": task.description,
            }
            data = _merge(current, data)
        task = task_services.task_update(task=task, **data)
        return Response(s.TaskSerializer(task).data)

    @extend_schema(request=s.TaskUpdateSerializer, responses=s.TaskSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    @extend_schema(request=None, responses=s.TaskSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        """Mark the task done by the caller, now. Completing a closed task changes nothing."""
        task = self.get_object_for_edit(int(pk))
        task = task_services.task_complete(task=task, user=request_user(request))
        return Response(s.TaskSerializer(task).data)


# --- Segments ------------------------------------------------------------------------------


def _rules_errors(exc: DjangoValidationError) -> ValidationError:
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"rules": exc.messages}
    return ValidationError({"rules": detail})


class SegmentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Named sets of accounts: everyone reads them, admins and managers write them. Members
    are listed among the accounts the caller may see, like the segment pages do."""

    schema = ApiAutoSchema()
    permission_classes = [permissions.IsAuthenticated, CanConfigure]
    lookup_value_regex = r"[0-9]+"
    queryset = Segment.objects.all()
    serializer_class = s.SegmentSerializer
    filterset_fields = ["kind"]
    ordering_fields = ["id", "name", "updated_at"]
    ordering = ["name", "id"]

    @extend_schema(request=s.SegmentCreateSerializer, responses={201: s.SegmentSerializer})
    def create(self, request: Request) -> Response:
        data = _input(s.SegmentCreateSerializer, request)
        try:
            segment = segment_services.segment_create(created_by=request_user(request), **data)
        except DjangoValidationError as exc:
            raise _rules_errors(exc) from None
        except IntegrityError:
            # Two requests raced past the name check.
            raise ValidationError({"name": ["Another segment already has this name."]}) from None
        return Response(s.SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.SegmentUpdateSerializer, responses=s.SegmentSerializer)
    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        segment = self.get_object()
        data = _input(s.SegmentUpdateSerializer, request, partial=partial, instance=segment)
        if partial:
            current = {
                "name": segment.name,
                "description": segment.description,
                "rules": segment.rules,
            }
            data = _merge(current, data)
        try:
            segment = segment_services.segment_update(segment=segment, **data)
        except DjangoValidationError as exc:
            raise _rules_errors(exc) from None
        except IntegrityError:
            raise ValidationError({"name": ["Another segment already has this name."]}) from None
        return Response(s.SegmentSerializer(segment).data)

    @extend_schema(request=s.SegmentUpdateSerializer, responses=s.SegmentSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    @extend_schema(
        responses=s.AccountSerializer(many=True),
        parameters=[
            # The segment viewset's own filters do not apply to the members list.
            OpenApiParameter("kind", exclude=True),
            OpenApiParameter("ordering", exclude=True),
        ],
    )
    @action(detail=True, methods=["get"], filterset_fields=[], ordering_fields=[])
    def members(self, request: Request, pk: str) -> Response:
        """The segment's members among the accounts the caller may see, by name."""
        segment = self.get_object()
        accounts = segment_filter(
            accounts_visible_to(request_user(request)), segment, today=local_today()
        ).order_by("name", "pk")
        page = self.paginate_queryset(accounts)
        return self.get_paginated_response(s.AccountSerializer(page, many=True).data)

    @extend_schema(request=s.SegmentMembersSerializer, responses=s.SegmentMembersResultSerializer)
    @members.mapping.post
    def members_add(self, request: Request, pk: str) -> Response:
        """Add accounts to a static segment (rule segments follow their rules)."""
        segment = self.get_object()
        data = _input(s.SegmentMembersSerializer, request)
        wanted = set(data["account_ids"])
        found = set(
            accounts_visible_to(request_user(request))
            .filter(pk__in=wanted)
            .values_list("pk", flat=True)
        )
        if missing := sorted(wanted - found):
            shown = ", ".join(str(pk) for pk in missing[:20])
            raise ValidationError({"account_ids": [f"No such account: {shown}."]})
        if segment.kind != Segment.Kind.STATIC:
            raise ValidationError(
                {"non_field_errors": ["A rule segment's members follow its rules."]}
            )
        added = segment_services.segment_members_add(segment=segment, account_ids=found)
        return Response({"added": added})

    @extend_schema(
        request=None,
        responses={204: None},
        parameters=[OpenApiParameter("account_id", int, OpenApiParameter.PATH)],
    )
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<account_id>[0-9]+)")
    def members_remove(self, request: Request, pk: str, account_id: str) -> Response:
        """Remove one account from a static segment; 404 when it is not a member."""
        segment = self.get_object()
        if segment.kind != Segment.Kind.STATIC:
            raise ValidationError(
                {"non_field_errors": ["A rule segment's members follow its rules."]}
            )
        if not segment_services.segment_members_remove(
            segment=segment, account_ids=[int(account_id)]
        ):
            raise NotFound("That account is not a member of this segment.")
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Usage records and support tickets (read; writes are the bulk endpoints) ---------------


class UsageRecordApiFilter(django_filters.FilterSet):
    account = account_filter()
    day = django_filters.DateFromToRangeFilter(
        help_text="Days on or after `_after`, on or before `_before`."
    )

    class Meta:
        model = UsageRecord
        fields: list[str] = []


class UsageRecordViewSet(
    AccountScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """One account's product usage per day. Written by POST /api/v1/usage-records/bulk/.
    Cursor-paginated, newest first: follow `next` to page through millions of rows."""

    schema = ApiAutoSchema()
    queryset = UsageRecord.objects.all()
    serializer_class = s.UsageRecordSerializer
    filterset_class = UsageRecordApiFilter
    pagination_class = CursorPagination
    # Cursor pages need a unique order; the id is one, and follows arrival.
    ordering_fields = ["id"]
    ordering = ["-id"]


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time, moved to UTC: Python accepts offsets up to ±23:59 but
    PostgreSQL only up to ±15:59, and a query carrying such an offset would fail."""

    def to_python(self, value: Any) -> dt.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:
            raise DjangoValidationError(
                "Enter a date and time between the years 1 and 9999."
            ) from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class SupportTicketApiFilter(django_filters.FilterSet):
    account = account_filter()
    external_id = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=SupportTicket.Status.choices)
    priority = django_filters.ChoiceFilter(choices=SupportTicket.Priority.choices)
    opened_at_after = UtcIsoDateTimeFilter(
        field_name="opened_at", lookup_expr="gte", help_text="Opened at or after (ISO 8601)."
    )
    opened_at_before = UtcIsoDateTimeFilter(
        field_name="opened_at", lookup_expr="lte", help_text="Opened at or before (ISO 8601)."
    )

    class Meta:
        model = SupportTicket
        fields: list[str] = []


class SupportTicketViewSet(
    AccountScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Support tickets of accounts. Written by POST /api/v1/support-tickets/bulk/."""

    schema = ApiAutoSchema()
    queryset = SupportTicket.objects.all()
    serializer_class = s.SupportTicketSerializer
    filterset_class = SupportTicketApiFilter
    ordering_fields = ["id", "opened_at", "closed_at"]
    ordering = ["-opened_at", "-id"]
