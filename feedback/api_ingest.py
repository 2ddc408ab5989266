"""Bulk ingestion of survey answers from other tools: POST /api/v1/survey-answers/bulk/.

Rides on the machinery of accounts.api_ingest (envelope, item errors by index and field,
one account lookup per request, idempotency keys); each answer is then written by
feedback.services.answer_record, so an answer pushed through the API gets the same tags and
follow-ups as one given through a survey link.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_ingest import (
    MAX_ITEMS,
    BulkIngestView,
    ExternalIdField,
    LeanItemSerializer,
    bulk_schema,
    check_accounts,
    check_duplicates,
    check_foreign_keys,
    idempotent,
    validated_items,
)
from accounts.models import Account, Contact
from accounts.serializers import MAX_ID
from cs_platform.api.scoping import request_user
from feedback.models import Survey, SurveyAnswer
from feedback.selectors import tag_rules_active
from feedback.services import FOLLOW_UP_MAX_AGE, answer_record, score_validate
from journeys.tasks import playbooks_run_task


class AnswerItemSerializer(LeanItemSerializer):
    external_id = ExternalIdField(max_length=100, help_text="The answer's id in its tool.")
    account_external_id = ExternalIdField(max_length=100)
    survey = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Survey id.")
    email = serializers.EmailField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The contact who answered, matched among the account's contacts; "
        "an unknown or empty email records the answer for the account without a contact.",
    )
    score = serializers.IntegerField(
        help_text="On the survey's scale: NPS 0-10, CSAT 1-5, CES 1-7."
    )
    comment = serializers.CharField(allow_blank=True, default="", max_length=20_000)
    answered_at = serializers.DateTimeField()


class AnswerBulkSerializer(serializers.Serializer):
    items = AnswerItemSerializer(
        many=True, help_text=f"1 to {MAX_ITEMS:,} answers; external_id is the key."
    )


class SurveyAnswerBulkView(BulkIngestView):
    """Survey answers keyed by their external id, each written by
    feedback.services.answer_record so API answers get the same tags and follow-ups as
    answers given through a survey link. One playbook run is enqueued for all accounts with
    a recent answer after commit. Slower than usage (a few queries per answer)."""

    @bulk_schema(AnswerBulkSerializer, "survey answers")
    @idempotent
    def post(self, request: Request) -> Response:
        user = request_user(request)
        items, errors = validated_items(request, AnswerItemSerializer)
        accounts = check_accounts(items, errors, user=user)
        check_duplicates(
            items,
            errors,
            key=lambda item: item["external_id"],
            field="external_id",
            what="external_id",
        )
        check_foreign_keys(SurveyAnswer, items, errors, user=user, what="answer")
        surveys = Survey.objects.in_bulk(
            {item["survey"] for i, item in enumerate(items) if i not in errors}
        )
        for index, item in enumerate(items):
            if index in errors:
                continue
            survey = surveys.get(item["survey"])
            if survey is None:
                errors.add(index, "survey", "No such survey.")
                continue
            try:
                score_validate(kind=survey.kind, score=item["score"])
            except DjangoValidationError as exc:
                for message in exc.message_dict.get("score", exc.messages):
                    errors.add(index, "score", message)
        if errors:
            return errors.response(len(items))

        contacts = _contacts_by_account_email(items, accounts)
        # The follow-up task of an unhappy answer goes to the account's owner.
        account_rows = Account.objects.in_bulk(set(accounts.values()))
        now = timezone.now()
        recent: set[int] = set()
        with transaction.atomic():
            rules = tag_rules_active()
            for item in items:
                account_id = accounts[item["account_external_id"]]
                answer_record(
                    survey=surveys[item["survey"]],
                    account=account_rows[account_id],
                    contact=contacts.get((account_id, item["email"].lower())),
                    score=item["score"],
                    comment=item["comment"],
                    answered_at=item["answered_at"],
                    source=SurveyAnswer.Source.API,
                    external_id=item["external_id"],
                    rules=rules,
                    run_playbooks=False,
                    now=now,
                )
                if item["answered_at"] >= now - FOLLOW_UP_MAX_AGE:
                    recent.add(account_id)
            if recent:
                # One playbook run for every account with a recent answer, not one per item.
                today_iso = timezone.localdate(now).isoformat()
                account_ids = sorted(recent)
                transaction.on_commit(lambda: playbooks_run_task.delay(today_iso, account_ids))
        return Response({"upserted": len(items)})


def _contacts_by_account_email(
    items: Sequence[dict[str, Any]], accounts: dict[str, int]
) -> dict[tuple[int, str], Contact]:
    """Contacts of the request's accounts keyed by (account id, lower-cased email): one query."""
    emails = {item["email"].lower() for item in items if item["email"]}
    if not emails:
        return {}
    found = Contact.objects.annotate(email_lower=Lower("email")).filter(
        account_id__in=set(accounts.values()), email_lower__in=emails
    )
    return {(contact.account_id, contact.email_lower): contact for contact in found}
