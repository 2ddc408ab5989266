"""Serializers of the accounts floor's API: read serializers shape responses; input
serializers only parse and check types and lengths. The rules (who may own an account, a
churned account needs a reason, a renewal starts after its term...) stay in the services,
which the viewsets call; their ValidationErrors become 400s with field errors."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Model, QuerySet
from rest_framework import serializers

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
from accounts.segment_rules import RULE_KEYS
from accounts.selectors.access import accounts_visible_to
from cs_platform.api.scoping import ApiModelSerializer, choice_field, request_user

# The largest id either database stores (SQLite and PostgreSQL bigint alike).
MAX_ID = 2**63 - 1
# PositiveIntegerField's upper bound on PostgreSQL.
MAX_INT = 2**31 - 1
# Account.arr and Contract.arr: max_digits=14, decimal_places=2.
MAX_ARR = Decimal("999999999999.99")


class ScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A related id limited to the rows the request's user may use. Anything else reads as
    "does not exist", so the API never confirms that another team's id exists."""

    def __init__(
        self, *, model: type[Model], scope: Callable[[User], QuerySet[Any]], **kwargs: Any
    ):
        self.scope = scope
        # The queryset only tells the schema generator the id's type; get_queryset scopes it.
        super().__init__(queryset=model._default_manager.none(), **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        return self.scope(request_user(self.context["request"]))


def editable_accounts(user: User) -> QuerySet[Account]:
    return Account.objects.editable_by(user)


def visible_contacts(user: User) -> QuerySet[Contact]:
    return Contact.objects.filter(account__in=accounts_visible_to(user).values("pk"))


def visible_contracts(user: User) -> QuerySet[Contract]:
    return Contract.objects.filter(account__in=accounts_visible_to(user).values("pk"))


def account_field(**kwargs: Any) -> ScopedPrimaryKeyField:
    """The account of a new record: one the caller may edit."""
    return ScopedPrimaryKeyField(
        model=Account,
        scope=editable_accounts,
        help_text="Id of an account the caller may edit.",
        **kwargs,
    )


# --- Accounts ------------------------------------------------------------------------------


class AccountSerializer(ApiModelSerializer):
    class Meta:
        model = Account
        fields = [
            "id",
            "name",
            "external_id",
            "domain",
            "owner",
            "team",
            "industry",
            "tier",
            "product_complexity",
            "growth_potential",
            "lifecycle_status",
            "start_date",
            "churned_on",
            "churn_reason",
            "churn_note",
            "arr",
            "renewal_date",
            "last_interaction_on",
            "health_score",
            "health_band",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class AccountInputSerializer(serializers.Serializer):
    """PUT replaces every field (omitted optional ones take these defaults); PATCH changes
    only the fields given. ARR, renewal date and health are derived, never written."""

    name = serializers.CharField(max_length=200)
    start_date = serializers.DateField(help_text="Customer since: start of the first contract.")
    external_id = serializers.CharField(
        max_length=100, allow_null=True, allow_blank=True, default=None, help_text="CRM id."
    )
    domain = serializers.CharField(max_length=200, allow_blank=True, default="")
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), allow_null=True, default=None, help_text="A CSM or manager."
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(),
        allow_null=True,
        default=None,
        help_text="Left empty, the team follows the owner.",
    )
    industry = serializers.CharField(max_length=100, allow_blank=True, default="")
    tier = choice_field(Account, "tier", default=Account.Tier.SCALED)
    product_complexity = choice_field(Account, "product_complexity", default=Account.Level.MEDIUM)
    growth_potential = choice_field(Account, "growth_potential", default=Account.Level.MEDIUM)
    lifecycle_status = choice_field(
        Account, "lifecycle_status", default=Account.Lifecycle.ONBOARDING
    )
    churned_on = serializers.DateField(allow_null=True, default=None)
    churn_reason = choice_field(Account, "churn_reason", allow_blank=True, default="")
    churn_note = serializers.CharField(allow_blank=True, default="", max_length=10_000)


# --- Contacts ------------------------------------------------------------------------------


class ContactSerializer(ApiModelSerializer):
    class Meta:
        model = Contact
        fields = [
            "id",
            "account",
            "name",
            "email",
            "title",
            "phone",
            "is_decision_maker",
            "is_executive_sponsor",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ContactUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254)
    title = serializers.CharField(max_length=200, allow_blank=True, default="")
    phone = serializers.CharField(max_length=50, allow_blank=True, default="")
    is_decision_maker = serializers.BooleanField(default=False)
    is_executive_sponsor = serializers.BooleanField(default=False)
    is_active = serializers.BooleanField(default=True, help_text="Still at the account.")


class ContactCreateSerializer(ContactUpdateSerializer):
    account = account_field()


# --- Contracts -----------------------------------------------------------------------------


class ContractSerializer(ApiModelSerializer):
    class Meta:
        model = Contract
        fields = [
            "id",
            "account",
            "external_id",
            "previous",
            "start_date",
            "end_date",
            "arr",
            "seats",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ContractCreateSerializer(serializers.Serializer):
    account = account_field()
    start_date = serializers.DateField()
    end_date = serializers.DateField(help_text="Last day of the term: the renewal date.")
    arr = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0"), max_value=MAX_ARR
    )
    seats = serializers.IntegerField(min_value=0, max_value=MAX_INT, default=0)
    status = choice_field(Contract, "status", default=Contract.Status.ACTIVE)
    previous = ScopedPrimaryKeyField(
        model=Contract,
        scope=visible_contracts,
        allow_null=True,
        default=None,
        help_text="The contract this one renews (same account).",
    )
    external_id = serializers.CharField(
        max_length=100, allow_null=True, allow_blank=True, default=None
    )


# --- Interactions --------------------------------------------------------------------------


class InteractionSerializer(ApiModelSerializer):
    class Meta:
        model = Interaction
        fields = [
            "id",
            "account",
            "author",
            "kind",
            "occurred_on",
            "summary",
            "sentiment",
            "participants",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class InteractionUpdateSerializer(serializers.Serializer):
    kind = choice_field(Interaction, "kind")
    occurred_on = serializers.DateField(help_text="Not in the future.")
    summary = serializers.CharField(max_length=20_000)
    sentiment = choice_field(Interaction, "sentiment", default=Interaction.Sentiment.NEUTRAL)
    participants = ScopedPrimaryKeyField(
        model=Contact,
        scope=visible_contacts,
        many=True,
        default=list,
        help_text="Contact ids of the interaction's account.",
    )


class InteractionCreateSerializer(InteractionUpdateSerializer):
    account = account_field()
    next_step = serializers.CharField(
        max_length=200,
        allow_blank=True,
        default="",
        help_text="Becomes a task for the account owner, due on next_step_due.",
    )
    next_step_due = serializers.DateField(allow_null=True, default=None)


# --- Tasks ---------------------------------------------------------------------------------


class TaskSerializer(ApiModelSerializer):
    class Meta:
        model = Task
        fields = [
            "id",
            "account",
            "owner",
            "title",
            "description",
            "due_date",
            "priority",
            "status",
            "source",
            "interaction",
            "completed_at",
            "completed_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TaskUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    due_date = serializers.DateField()
    priority = choice_field(Task, "priority", default=Task.Priority.NORMAL)
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        allow_null=True,
        help_text="Someone who can see the task's account.",
    )
    description = serializers.CharField(allow_blank=True, default="", max_length=20_000)


class TaskCreateSerializer(TaskUpdateSerializer):
    account = account_field()
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        allow_null=True,
        required=False,
        help_text="Someone who can see the account; omitted: the account's owner.",
    )


# --- Segments ------------------------------------------------------------------------------


class SegmentSerializer(ApiModelSerializer):
    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "rules",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


_RULES_HELP = (
    "Rule segments only. Keys (all optional, all must hold): "
    + ", ".join(sorted(RULE_KEYS))
    + '. Lists match any of their values, e.g. {"tiers": ["high_touch"], "arr_min": "50000"}.'
)


class SegmentUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(allow_blank=True, default="", max_length=10_000)
    rules = serializers.DictField(default=dict, help_text=_RULES_HELP)

    def validate_name(self, value: str) -> str:
        taken = Segment.objects.filter(name=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError("Another segment already has this name.")
        return value

    def validate_rules(self, value: dict[str, Any]) -> dict[str, Any]:
        """Bounds the rule service does not check because its forms never send them: amounts
        that fit the ARR column and ids that fit an id column (else the query would fail)."""
        errors: dict[str, str] = {}
        for key in ("arr_min", "arr_max"):
            if value.get(key) in (None, ""):
                continue
            try:
                amount = Decimal(str(value[key]))
                fits = amount.is_finite() and abs(amount) <= MAX_ARR
            except (InvalidOperation, ValueError):
                fits = True  # not a number at all: the service says so in its own words
            if not fits:
                errors[key] = f"Expected an amount of at most {MAX_ARR:,}."
        for key in ("owners", "teams"):
            ids = value.get(key)
            items: list[Any] = ids if isinstance(ids, list) else [ids]
            for item in items:
                try:
                    number = int(item)
                except (TypeError, ValueError):
                    continue  # not an id at all: the service says so
                except OverflowError:
                    number = 0
                if not 0 < number <= MAX_ID:
                    errors[key] = "Expected a list of ids."
        days = value.get("renewal_within_days")
        if isinstance(days, float) and not math.isfinite(days):
            errors["renewal_within_days"] = "Expected a number of days."
        if errors:
            raise serializers.ValidationError({key: [message] for key, message in errors.items()})
        return value


class SegmentCreateSerializer(SegmentUpdateSerializer):
    kind = choice_field(Segment, "kind", default=Segment.Kind.RULE)


class SegmentMembersSerializer(serializers.Serializer):
    account_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        min_length=1,
        max_length=10_000,
    )


class SegmentMembersResultSerializer(serializers.Serializer):
    added = serializers.IntegerField(help_text="Accounts that were not members yet.")


# --- Usage and tickets (read; ingestion is accounts.api_ingest) -----------------------------


class UsageRecordSerializer(ApiModelSerializer):
    class Meta:
        model = UsageRecord
        fields = [
            "id",
            "account",
            "day",
            "active_users",
            "licensed_seats",
            "logins",
            "key_features_used",
            "events",
        ]
        read_only_fields = fields


class SupportTicketSerializer(ApiModelSerializer):
    class Meta:
        model = SupportTicket
        fields = [
            "id",
            "account",
            "external_id",
            "subject",
            "priority",
            "status",
            "opened_at",
            "closed_at",
        ]
        read_only_fields = fields
