"""Reads of the feedback floor: answers other apps compose (health's sentiment component,
the account page), and the survey, campaign, follow-up and tag pages' lists."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, models
from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import Coalesce, Lower
from django.http import Http404
from django.urls import reverse

from accounts.models import Account, Contact, User
from accounts.selectors.access import account_get_for_edit
from accounts.selectors.segments import segment_accounts
from feedback.models import (
    AnswerTag,
    FollowUp,
    Survey,
    SurveyAnswer,
    SurveyCampaign,
    SurveyInvitation,
    Tag,
    TagRule,
)
from feedback.tagging import KeywordRule, keyword_rule

# NPS 0-10 and CSAT 1-5 on one 0-100 scale, so the two can be averaged. CES is effort, not
# sentiment, and is left out.
_SENTIMENT_0_100 = Case(
    When(kind=Survey.Kind.NPS, then=F("score") * 10.0),
    When(kind=Survey.Kind.CSAT, then=(F("score") - 1) * 25.0),
    output_field=FloatField(),
)


def sentiment_by_account(
    *, account_id_from: int, account_id_to: int, since: dt.datetime, until: dt.datetime
) -> dict[int, float]:
    """Mean NPS/CSAT answer on a 0-100 scale per account, for answers in [since, until)."""
    rows = (
        SurveyAnswer.objects.filter(
            account_id__gte=account_id_from,
            account_id__lt=account_id_to,
            answered_at__gte=since,
            answered_at__lt=until,
            kind__in=[Survey.Kind.NPS, Survey.Kind.CSAT],
        )
        .order_by()
        .values("account_id")
        .annotate(mean=Avg(_SENTIMENT_0_100))
    )
    return {row["account_id"]: row["mean"] for row in rows}


def survey_answers_for_account(*, account_id: int, limit: int) -> list[SurveyAnswer]:
    """An account's newest answers with their contact, for its timeline."""
    return list(
        SurveyAnswer.objects.filter(account_id=account_id)
        .select_related("contact")
        .order_by("-answered_at", "-pk")[:limit]
    )


def newest_answer_time() -> dt.datetime | None:
    """The newest answer's time: the newest of each kind, one probe each of the
    (kind, answered_at) index in one UNION ALL query, where a plain ORDER BY over every
    answer reads the whole table (~25 ms at 180,000 answers). SQLite allows no LIMIT
    inside a UNION: there, the plain ORDER BY."""
    if not connection.features.supports_slicing_ordering_in_compound:
        latest = SurveyAnswer.objects.order_by("-answered_at").values_list("answered_at", flat=True)
        return latest.first()
    newest = [
        SurveyAnswer.objects.filter(kind=kind)
        .order_by("-answered_at")
        .values_list("answered_at", flat=True)[:1]
        for kind in Survey.Kind.values
    ]
    found = [moment for moment in newest[0].union(*newest[1:], all=True) if moment is not None]
    return max(found, default=None)


# --- surveys, campaigns and invitations (the settings pages) -----------------------------


def _count_of(model: type[models.Model], field: str) -> Subquery:
    """A correlated COUNT(*) of `model` rows whose `field` is the outer row: unlike
    Count() over joins, several of these on one queryset do not multiply each other."""
    return Subquery(
        model._default_manager.filter(**{field: OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(n=Count("pk"))
        .values("n"),
        output_field=IntegerField(),
    )


def surveys_for_list() -> QuerySet[Survey]:
    """Every survey with its number of answers and campaigns, active ones first."""
    return Survey.objects.annotate(
        answer_count=Coalesce(_count_of(SurveyAnswer, "survey"), 0),
        campaign_count=Coalesce(_count_of(SurveyCampaign, "survey"), 0),
    ).order_by("-is_active", "name", "pk")


def survey_get(*, survey_id: int) -> Survey:
    """A survey for the settings pages (their role check comes first); 404 if unknown."""
    try:
        return Survey.objects.annotate(
            answer_count=Coalesce(_count_of(SurveyAnswer, "survey"), 0)
        ).get(pk=survey_id)
    except (Survey.DoesNotExist, ValueError, TypeError):
        raise Http404("No such survey.") from None


def _with_invitation_counts(campaigns: QuerySet[SurveyCampaign]) -> QuerySet[SurveyCampaign]:
    return campaigns.annotate(
        invited_count=Count("invitations"),
        sent_count=Count("invitations", filter=Q(invitations__sent_at__isnull=False)),
        answered_count=Count("invitations", filter=Q(invitations__answered_at__isnull=False)),
    )


def campaigns_for_list(*, survey: Survey | None = None) -> QuerySet[SurveyCampaign]:
    """Campaigns newest first with invited / emailed / answered counts."""
    campaigns = SurveyCampaign.objects.select_related("survey", "segment", "created_by")
    if survey is not None:
        campaigns = campaigns.filter(survey=survey)
    return _with_invitation_counts(campaigns).order_by("-created_at", "-pk")


def campaign_get(*, campaign_id: int) -> SurveyCampaign:
    try:
        return _with_invitation_counts(
            SurveyCampaign.objects.select_related("survey", "segment", "created_by")
        ).get(pk=campaign_id)
    except (SurveyCampaign.DoesNotExist, ValueError, TypeError):
        raise Http404("No such campaign.") from None


def campaign_invitations(*, campaign: SurveyCampaign) -> QuerySet[SurveyInvitation]:
    """A campaign's invitations for its page, with who got them and what they answered."""
    return (
        SurveyInvitation.objects.filter(campaign=campaign)
        .select_related("contact", "account", "answer")
        .order_by("account__name", "contact__name", "pk")
    )


def campaign_recipients(
    *, campaign: SurveyCampaign, now: dt.datetime, today: dt.date
) -> QuerySet[Contact]:
    """Who a draft campaign would reach if sent now: the active contacts of the segment's
    accounts (or of the picked list), less anyone invited by another campaign that went out
    within the last `skip_recently_surveyed_days` days. One query, composable."""
    if campaign.segment_id is not None:
        assert campaign.segment is not None
        contacts = Contact.objects.filter(
            account__in=segment_accounts(campaign.segment, today=today)
        )
    else:
        contacts = Contact.objects.filter(invitations__campaign=campaign)
    cutoff = now - dt.timedelta(days=campaign.skip_recently_surveyed_days)
    # Drafts do not count: a picked list waiting to be sent has surveyed nobody yet.
    recent = SurveyInvitation.objects.filter(
        contact=OuterRef("pk"),
        created_at__gte=cutoff,
        campaign__status__in=[SurveyCampaign.Status.SENDING, SurveyCampaign.Status.SENT],
    ).exclude(campaign=campaign)
    return contacts.filter(is_active=True).exclude(Exists(recent))


@dataclass(frozen=True)
class RecipientPreview:
    count: int
    sample: list[Contact]


def campaign_recipient_preview(
    *, campaign: SurveyCampaign, now: dt.datetime, today: dt.date, sample_size: int = 10
) -> RecipientPreview:
    """How many a campaign would reach, and the first few of them by account, in 2 queries."""
    recipients = campaign_recipients(campaign=campaign, now=now, today=today)
    sample = list(
        recipients.select_related("account").order_by("account__name", "name", "pk")[:sample_size]
    )
    count = len(sample) if len(sample) < sample_size else recipients.count()
    return RecipientPreview(count=count, sample=sample)


# --- follow-ups (closing the loop) -------------------------------------------------------


def follow_up_get_for_edit(*, user: User, answer_id: int) -> tuple[FollowUp, Account]:
    """An answer's follow-up and its account, if the user may edit that account (the owner,
    a manager, an admin); 404 otherwise, through the accounts floor's one access check."""
    follow_up = (
        FollowUp.objects.select_related(
            "answer", "answer__survey", "answer__contact", "task", "task__owner", "updated_by"
        )
        .filter(answer_id=answer_id)
        .first()
    )
    if follow_up is None:
        raise Http404("No follow-up for this answer.")
    account = account_get_for_edit(user=user, account_id=follow_up.answer.account_id)
    return follow_up, account


def account_feedback_summary(*, account_id: int) -> dict[str, Any]:
    """The account header's feedback: the latest NPS and CSAT answers and the follow-ups not
    yet resolved, in 2 queries.

    {"nps": {"answer_id", "score", "answered_at", "contact"} or None, "csat": likewise,
     "open_follow_ups": [{"answer_id", "kind", "kind_label", "score", "status",
     "status_label", "contact", "answered_at", "due_date", "url"}, ...] oldest first}
    """
    mine = SurveyAnswer.objects.filter(account_id=account_id)

    def latest(kind: str) -> Subquery:
        return Subquery(mine.filter(kind=kind).order_by("-answered_at", "-pk").values("pk")[:1])

    answers = mine.filter(
        Q(pk=latest(Survey.Kind.NPS)) | Q(pk=latest(Survey.Kind.CSAT))
    ).select_related("contact")
    summary: dict[str, Any] = {"nps": None, "csat": None}
    for answer in answers:
        summary[answer.kind] = {
            "answer_id": answer.pk,
            "score": answer.score,
            "answered_at": answer.answered_at,
            "contact": answer.contact,
        }
    follow_ups = (
        FollowUp.objects.filter(answer__account_id=account_id)
        .exclude(status=FollowUp.Status.RESOLVED)
        .select_related("answer", "answer__contact", "task")
        .order_by("created_at", "pk")
    )
    summary["open_follow_ups"] = [
        {
            "answer_id": follow_up.answer_id,
            "kind": follow_up.answer.kind,
            "kind_label": follow_up.answer.get_kind_display(),
            "score": follow_up.answer.score,
            "status": follow_up.status,
            "status_label": follow_up.get_status_display(),
            "contact": follow_up.answer.contact,
            "answered_at": follow_up.answer.answered_at,
            "due_date": follow_up.task.due_date if follow_up.task else None,
            "url": reverse("feedback:follow_up", args=[follow_up.answer_id]),
        }
        for follow_up in follow_ups
    ]
    return summary


# --- tags and keyword rules --------------------------------------------------------------


def tags_for_rules_page() -> QuerySet[Tag]:
    """Tags by name with their rules and how many answers carry each (by hand, by rule)."""
    return Tag.objects.annotate(
        answer_count=Coalesce(_count_of(AnswerTag, "tag"), 0),
        rule_tagged_count=Coalesce(
            Subquery(
                AnswerTag.objects.filter(tag=OuterRef("pk"), source=AnswerTag.Source.RULE)
                .order_by()
                .values("tag")
                .annotate(n=Count("pk"))
                .values("n"),
                output_field=IntegerField(),
            ),
            0,
        ),
    ).prefetch_related(Prefetch("rules", queryset=TagRule.objects.order_by("pk")))


def tag_get(*, tag_id: int) -> Tag:
    try:
        return Tag.objects.annotate(answer_count=Coalesce(_count_of(AnswerTag, "tag"), 0)).get(
            pk=tag_id
        )
    except (Tag.DoesNotExist, ValueError, TypeError):
        raise Http404("No such tag.") from None


def tag_rule_get(*, rule_id: int) -> TagRule:
    try:
        return TagRule.objects.select_related("tag").get(pk=rule_id)
    except (TagRule.DoesNotExist, ValueError, TypeError):
        raise Http404("No such rule.") from None


def tag_rules_active() -> list[KeywordRule]:
    """The active keyword rules, ready for feedback.tagging.tags_matching."""
    return [
        keyword_rule(tag_id, keywords)
        for tag_id, keywords in TagRule.objects.filter(is_active=True)
        .order_by("pk")
        .values_list("tag_id", "keywords")
    ]


# Emails per IN (...) list when matching contacts (well under SQLite's parameter limit).
_EMAIL_CHUNK = 500


def contacts_by_email(emails: Iterable[str]) -> dict[str, list[Contact]]:
    """Contacts keyed by lower-cased email, active ones first, with their account; one
    query per 500 distinct emails. Emails with no contact are absent."""
    wanted = sorted({email.strip().lower() for email in emails if email.strip()})
    found: dict[str, list[Contact]] = {}
    for start in range(0, len(wanted), _EMAIL_CHUNK):
        contacts = (
            Contact.objects.annotate(email_lower=Lower("email"))
            .filter(email_lower__in=wanted[start : start + _EMAIL_CHUNK])
            .select_related("account")
            .order_by("-is_active", "account__name", "pk")
        )
        for contact in contacts:
            found.setdefault(contact.email_lower, []).append(contact)
    return found
