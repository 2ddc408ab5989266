"""Serializers of the journeys floor's API: stages with their milestones, stage transitions,
playbooks with their task templates. Output serializers are read-only model serializers;
input serializers check types and bounds, and the services decide the rest."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import Task
from accounts.serializers import MAX_ID, account_field
from cs_platform.api.scoping import ApiModelSerializer, choice_field
from journeys.models import (
    Milestone,
    Playbook,
    PlaybookTaskTemplate,
    Stage,
    StageTransition,
)
from journeys.services import REASON_MAX_LENGTH
from journeys.services_playbooks import MAX_DUE_IN_DAYS

# PositiveSmallIntegerField and PositiveIntegerField bounds: larger numbers would fail the
# insert instead of answering 400.
MAX_SMALL = 32_767
MAX_DAYS = 2_147_483_647

# --- Stages --------------------------------------------------------------------------------


class MilestoneSerializer(ApiModelSerializer):
    class Meta:
        model = Milestone
        fields = [
            "id",
            "name",
            "description",
            "order",
            "target_days",
            "stuck_days",
            "is_required",
        ]
        read_only_fields = fields


class StageSerializer(ApiModelSerializer):
    milestones = MilestoneSerializer(many=True, read_only=True)

    class Meta:
        model = Stage
        fields = [
            "id",
            "name",
            "slug",
            "order",
            "description",
            "target_days",
            "auto_advance",
            "milestones",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class StageInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.SlugField(max_length=50, help_text="Stable handle, e.g. `onboarding`.")
    order = serializers.IntegerField(
        min_value=0,
        max_value=MAX_SMALL,
        required=False,
        help_text="Position among the stages (unique); omitted on create: last.",
    )
    description = serializers.CharField(allow_blank=True, default="", max_length=10_000)
    target_days = serializers.IntegerField(
        min_value=0,
        max_value=MAX_DAYS,
        allow_null=True,
        default=None,
        help_text="Days an account should spend in the stage.",
    )
    auto_advance = serializers.BooleanField(
        default=False, help_text="Move on once every required milestone is done."
    )


# --- Transitions ---------------------------------------------------------------------------


class StageTransitionSerializer(ApiModelSerializer):
    class Meta:
        model = StageTransition
        fields = ["id", "account", "from_stage", "to_stage", "at", "by", "rule", "reason"]
        read_only_fields = fields


class StageTransitionCreateSerializer(serializers.Serializer):
    account = account_field()
    to_stage = serializers.PrimaryKeyRelatedField(
        queryset=Stage.objects.all(), help_text="The stage to move the account to."
    )
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH,
        allow_blank=True,
        default="",
        help_text="Why: required for a move (it stays on record), optional for the first "
        "stage of an account's journey.",
    )


# --- Playbooks -----------------------------------------------------------------------------


class PlaybookTaskTemplateSerializer(ApiModelSerializer):
    class Meta:
        model = PlaybookTaskTemplate
        fields = ["id", "title", "description", "due_in_days", "priority", "assignee", "order"]
        read_only_fields = fields


class PlaybookSerializer(ApiModelSerializer):
    templates = PlaybookTaskTemplateSerializer(many=True, read_only=True)
    params = serializers.JSONField(
        read_only=True,
        help_text='The trigger\'s parameters: {"band": "red"}, {"points": 15}, '
        '{"days": 90, "band_in": ["red"]}, {"stage": <id>}, {"segment": <id>} ...',
    )

    class Meta:
        model = Playbook
        fields = [
            "id",
            "name",
            "description",
            "trigger",
            "params",
            "is_active",
            "templates",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TaskTemplateInputSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="An existing template of this playbook to change in place (it keeps its "
        "firings); omitted: a new template.",
    )
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, default="", max_length=10_000)
    due_in_days = serializers.IntegerField(min_value=0, max_value=MAX_DUE_IN_DAYS, default=3)
    priority = choice_field(PlaybookTaskTemplate, "priority", default=Task.Priority.NORMAL)
    assignee = choice_field(
        PlaybookTaskTemplate, "assignee", default=PlaybookTaskTemplate.Assignee.OWNER
    )


class PlaybookInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, default="", max_length=10_000)
    trigger = choice_field(Playbook, "trigger")
    params = serializers.DictField(
        default=dict, help_text="The trigger's parameters; others are dropped."
    )
    is_active = serializers.BooleanField(default=True)
    templates = TaskTemplateInputSerializer(
        many=True, help_text="The tasks it makes, in order: the playbook's full list."
    )
