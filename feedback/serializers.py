"""Serializers of the feedback floor's API: surveys and survey campaigns. (Answers arrive
through feedback.api_ingest.)"""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import Contact, Segment
from accounts.serializers import MAX_ID
from cs_platform.api.scoping import ApiModelSerializer, choice_field
from feedback.models import Survey, SurveyCampaign

# PositiveSmallIntegerField's bound: a larger number would fail the insert, not answer 400.
MAX_SMALL = 32_767
# Picked recipients per campaign: a pasted list; a segment reaches more.
MAX_PICKED = 10_000


class SurveySerializer(ApiModelSerializer):
    answer_count = serializers.IntegerField(read_only=True, help_text="Answers received.")
    campaign_count = serializers.IntegerField(read_only=True, help_text="Its campaigns.")

    class Meta:
        model = Survey
        fields = [
            "id",
            "name",
            "kind",
            "question",
            "follow_up_question",
            "is_active",
            "answer_count",
            "campaign_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SurveyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = choice_field(Survey, "kind", help_text="Fixed once the survey has answers.")
    question = serializers.CharField(max_length=500)
    follow_up_question = serializers.CharField(max_length=500, allow_blank=True, default="")
    is_active = serializers.BooleanField(default=True)


class SurveyCampaignSerializer(ApiModelSerializer):
    invited_count = serializers.IntegerField(read_only=True, help_text="Invitations made.")
    sent_count = serializers.IntegerField(read_only=True, help_text="Invitations emailed.")
    answered_count = serializers.IntegerField(read_only=True, help_text="Invitations answered.")

    class Meta:
        model = SurveyCampaign
        fields = [
            "id",
            "survey",
            "name",
            "segment",
            "skip_recently_surveyed_days",
            "link_valid_days",
            "status",
            "sent_at",
            "invited_count",
            "sent_count",
            "answered_count",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SurveyCampaignCreateSerializer(serializers.Serializer):
    survey = serializers.PrimaryKeyRelatedField(queryset=Survey.objects.all())
    name = serializers.CharField(max_length=200)
    segment = serializers.PrimaryKeyRelatedField(
        queryset=Segment.objects.all(),
        allow_null=True,
        default=None,
        help_text="Send to the active contacts of this segment's accounts ...",
    )
    contacts = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        max_length=MAX_PICKED,
        default=list,
        help_text="... or to these contact ids (one of the two, not both).",
    )
    skip_recently_surveyed_days = serializers.IntegerField(
        min_value=0,
        max_value=MAX_SMALL,
        default=90,
        help_text="Skip contacts who got any survey within this many days.",
    )
    link_valid_days = serializers.IntegerField(min_value=1, max_value=MAX_SMALL, default=14)

    def validate_contacts(self, value: list[int]) -> list[Contact]:
        """The contacts in one query (a related field would run one per id)."""
        found = Contact.objects.in_bulk(set(value))
        if missing := sorted(set(value) - set(found)):
            shown = ", ".join(str(pk) for pk in missing[:20])
            raise serializers.ValidationError(f"No such contact: {shown}.")
        return [found[pk] for pk in dict.fromkeys(value)]


class CampaignSendResultSerializer(serializers.Serializer):
    invitations = serializers.IntegerField(help_text="Invitations queued for sending.")
    campaign = SurveyCampaignSerializer()
