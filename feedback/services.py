"""Writes of the feedback floor: surveys, campaigns and their single-use links, answers (one
place, answer_record, for the public page, the CSV import and the API), closing the loop on
unhappy answers, and the keyword rules that tag comments."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Contact, Segment, Task, User
from accounts.services.tasks import task_complete
from accounts.services.webhooks import webhook_event_emit
from accounts.webhook_models import WebhookEvent
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
from feedback.selectors import campaign_recipients, tag_rules_active
from feedback.tagging import KeywordRule, keywords_parse, tags_matching
from feedback.tokens import token_hash, token_is_well_formed, token_new
from journeys.tasks import playbooks_run_task

# The owner has this many days to call an unhappy customer back (PRODUCT.md: "NPS detractor
# -> call within 3 days").
FOLLOW_UP_DUE_DAYS = 3
# Answers older than this get no follow-up: a historic import must not flood owners with
# tasks about conversations that ended months ago.
FOLLOW_UP_MAX_AGE = dt.timedelta(days=30)
# Invitations inserted per INSERT when a campaign goes out (well under SQLite's 999 params).
INVITATION_INSERT_BATCH = 100
# Emails sent per transaction and SMTP connection: a failed send rolls back one batch only,
# and a retry picks up exactly the invitations not yet sent.
SEND_BATCH_SIZE = 200
# Answers read per round when re-applying tag rules; bounds memory and the IN (...) lists.
REAPPLY_CHUNK = 1000


def detractor_dedupe_key(answer_id: int) -> str:
    """The task key of an unhappy answer; the "detractor" playbook uses the same one, so the
    two converge on one task."""
    return f"detractor:{answer_id}"


def answer_is_unhappy(*, kind: str, score: int) -> bool:
    """An NPS detractor (0-6) or a CSAT of 1 or 2: the answers that need a call back."""
    return (kind == Survey.Kind.NPS and score <= 6) or (kind == Survey.Kind.CSAT and score <= 2)


def score_validate(*, kind: str, score: object) -> int:
    """The score as an int on the kind's scale, or ValidationError({"score": ...})."""
    low, high = Survey.SCALES[kind]
    message = f"Choose a score from {low} to {high}."
    if isinstance(score, bool):
        raise ValidationError({"score": message})
    if isinstance(score, str):
        text = score.strip()
        if not text.lstrip("-").isdigit():
            raise ValidationError({"score": message})
        score = int(text)
    if not isinstance(score, int) or not low <= score <= high:
        raise ValidationError({"score": message})
    return score


# --- surveys -----------------------------------------------------------------------------


def _survey_fields_check(survey: Survey) -> None:
    survey.name = survey.name.strip()
    survey.question = survey.question.strip()
    survey.follow_up_question = survey.follow_up_question.strip()
    survey.full_clean(exclude=["created_at", "updated_at"])


@transaction.atomic
def survey_create(
    *, name: str, kind: str, question: str, follow_up_question: str = "", is_active: bool = True
) -> Survey:
    survey = Survey(
        name=name,
        kind=kind,
        question=question,
        follow_up_question=follow_up_question,
        is_active=is_active,
    )
    _survey_fields_check(survey)
    survey.save()
    return survey


@transaction.atomic
def survey_update(
    *,
    survey: Survey,
    name: str,
    kind: str,
    question: str,
    follow_up_question: str,
    is_active: bool,
) -> Survey:
    """Change a survey. Its kind is fixed once it has answers: they were given on its scale."""
    if kind != survey.kind and SurveyAnswer.objects.filter(survey=survey).exists():
        raise ValidationError(
            {
                "kind": "This survey has answers on its current scale, so its kind can't change. "
                "Make a new survey instead."
            }
        )
    survey.name, survey.kind, survey.question = name, kind, question
    survey.follow_up_question, survey.is_active = follow_up_question, is_active
    _survey_fields_check(survey)
    survey.save()
    return survey


# --- campaigns and invitations ------------------------------------------------------------


def survey_link(raw_token: str) -> str:
    """The absolute link of an invitation, as written in its email."""
    base = getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/")
    return base + reverse("public_survey:answer", args=[raw_token])


def _invitations_insert(
    *, campaign: SurveyCampaign, recipients: Iterable[tuple[int, int]], now: dt.datetime
) -> None:
    """Insert invitations for (contact id, account id) pairs in batches.

    Each gets a hash of a token that is thrown away: the link only becomes real when
    campaign_invitations_send issues a fresh token and emails it.
    """
    expires_at = now + dt.timedelta(days=campaign.link_valid_days)
    batch: list[SurveyInvitation] = []
    for contact_id, account_id in recipients:
        batch.append(
            SurveyInvitation(
                campaign=campaign,
                contact_id=contact_id,
                account_id=account_id,
                token_hash=token_new()[1],
                expires_at=expires_at,
            )
        )
        if len(batch) >= INVITATION_INSERT_BATCH:
            SurveyInvitation.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        SurveyInvitation.objects.bulk_create(batch, ignore_conflicts=True)


@transaction.atomic
def campaign_create(
    *,
    survey: Survey,
    name: str,
    segment: Segment | None,
    contacts: Sequence[Contact] | None,
    skip_recently_surveyed_days: int,
    link_valid_days: int,
    created_by: User | None,
) -> SurveyCampaign:
    """A draft campaign to a segment, or to picked contacts.

    A picked list is kept as the campaign's (not yet sent) invitations, since the campaign
    has nowhere else to hold it; only its active contacts are kept.
    """
    if (segment is None) == (not contacts):
        raise ValidationError("Send the survey to a segment or to a list of contacts.")
    if link_valid_days < 1:
        raise ValidationError({"link_valid_days": "Links must stay valid for at least a day."})
    if not survey.is_active:
        raise ValidationError({"survey": f"“{survey}” is switched off; switch it on first."})
    campaign = SurveyCampaign(
        survey=survey,
        name=name.strip(),
        segment=segment,
        skip_recently_surveyed_days=skip_recently_surveyed_days,
        link_valid_days=link_valid_days,
        created_by=created_by,
    )
    campaign.full_clean(exclude=["survey", "segment", "created_by", "created_at", "updated_at"])
    campaign.save()
    if contacts:
        picked = {c.pk: c.account_id for c in contacts if c.is_active}
        if not picked:
            raise ValidationError("None of these contacts is still at their account.")
        _invitations_insert(campaign=campaign, recipients=picked.items(), now=timezone.now())
    return campaign


@transaction.atomic
def campaign_send(
    *, campaign: SurveyCampaign, today: dt.date, now: dt.datetime | None = None
) -> int:
    """Freeze a draft campaign's recipients as invitations and queue the emails.

    The status flips draft -> sending in one conditional UPDATE, so a double click sends
    once. Returns the number of invitations; ValidationError if there is no one to send to
    (then nothing changes).
    """
    # The task module imports this one.
    from feedback.tasks import campaign_send_task

    now = now or timezone.now()
    claimed = SurveyCampaign.objects.filter(
        pk=campaign.pk, status=SurveyCampaign.Status.DRAFT
    ).update(status=SurveyCampaign.Status.SENDING, updated_at=now)
    if not claimed:
        raise ValidationError("This campaign has already been sent.")
    recipients = campaign_recipients(campaign=campaign, now=now, today=today)
    if campaign.segment_id is not None:
        # Materialised first: the insert must not run while a cursor reads the same tables.
        pairs = list(recipients.order_by("pk").values_list("pk", "account_id"))
        _invitations_insert(campaign=campaign, recipients=pairs, now=now)
    else:
        # The picked contacts who left or were surveyed recently drop out.
        SurveyInvitation.objects.filter(campaign=campaign).exclude(
            contact__in=recipients.values("pk")
        ).delete()
    invitations = SurveyInvitation.objects.filter(campaign=campaign)
    # "Surveyed within N days" counts from the sending, not from when a draft was saved.
    count = invitations.update(
        created_at=now, expires_at=now + dt.timedelta(days=campaign.link_valid_days)
    )
    if count == 0:
        # Raising rolls the status flip back: the draft stays a draft.
        raise ValidationError(
            "No one to send to: every contact has left or was surveyed in the last "
            f"{campaign.skip_recently_surveyed_days} days."
        )
    campaign.status = SurveyCampaign.Status.SENDING
    transaction.on_commit(lambda: campaign_send_task.delay(campaign.pk))
    return count


@transaction.atomic
def campaign_delete(*, campaign: SurveyCampaign) -> None:
    """Delete a draft (and its picked list); a campaign that went out stays on record."""
    deleted, _ = SurveyCampaign.objects.filter(
        pk=campaign.pk, status=SurveyCampaign.Status.DRAFT
    ).delete()
    if not deleted:
        raise ValidationError("This campaign has been sent, so it stays on record.")


def _invitation_email(
    *, invitation: SurveyInvitation, survey: Survey, raw_token: str
) -> EmailMultiAlternatives:
    context = {
        "contact": invitation.contact,
        "account": invitation.account,
        "survey": survey,
        "link": survey_link(raw_token),
        "expires_at": invitation.expires_at,
    }
    subject = " ".join(
        render_to_string("feedback/emails/survey_invitation_subject.txt", context).split()
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("feedback/emails/survey_invitation.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[invitation.contact.email],
    )
    message.attach_alternative(
        render_to_string("feedback/emails/survey_invitation.html", context), "text/html"
    )
    return message


def campaign_invitations_send(*, campaign_id: int) -> int:
    """Email every invitation of a sending campaign not yet emailed; returns how many.

    Per batch, in one transaction: issue each invitation a fresh token (only its hash is
    kept; the raw token goes into the email and is forgotten), start its validity, mark it
    sent, then send the batch. If sending fails the batch rolls back and a retry sends it
    again with new tokens. A crash between the send and the commit is the one case where a
    contact gets two emails; the first link then answers "unknown": a duplicate beats a
    lost invitation. Reruns are safe: sent invitations are never touched again.
    """
    campaign = SurveyCampaign.objects.select_related("survey").get(pk=campaign_id)
    if campaign.status == SurveyCampaign.Status.DRAFT:
        return 0
    sent = 0
    connection = get_connection()
    while True:
        with transaction.atomic():
            # Lock only the invitations (not their contacts and accounts, which others edit
            # while the mail server answers); a second worker on the same campaign takes
            # the next batch instead of waiting for this one.
            batch = list(
                SurveyInvitation.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(campaign=campaign, sent_at__isnull=True)
                .select_related("contact", "account")
                .order_by("pk")[:SEND_BATCH_SIZE]
            )
            if not batch:
                break
            now = timezone.now()
            emails = []
            for invitation in batch:
                raw, hashed = token_new()
                invitation.token_hash = hashed
                invitation.sent_at = now
                invitation.expires_at = now + dt.timedelta(days=campaign.link_valid_days)
                emails.append(
                    _invitation_email(invitation=invitation, survey=campaign.survey, raw_token=raw)
                )
            SurveyInvitation.objects.bulk_update(batch, ["token_hash", "sent_at", "expires_at"])
            connection.send_messages(emails)
        sent += len(batch)
    now = timezone.now()
    SurveyCampaign.objects.filter(pk=campaign.pk).update(
        status=SurveyCampaign.Status.SENT, sent_at=now, updated_at=now
    )
    return sent


@transaction.atomic
def invitation_create(
    *,
    campaign: SurveyCampaign,
    contact: Contact,
    raw_token: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[SurveyInvitation, str]:
    """One invitation whose link the caller delivers itself (a resend by hand, a test).

    Returns the invitation, already counted as sent, and its raw token: the only time the
    token is seen. A given raw_token must look like one this module issues.
    """
    now = now or timezone.now()
    if raw_token is None:
        raw_token, hashed = token_new()
    elif not token_is_well_formed(raw_token):
        raise ValidationError("A token is 1 to 128 letters, digits, '-' or '_'.")
    else:
        hashed = token_hash(raw_token)
    invitation = SurveyInvitation.objects.create(
        campaign=campaign,
        contact=contact,
        account_id=contact.account_id,
        token_hash=hashed,
        sent_at=now,
        expires_at=now + dt.timedelta(days=campaign.link_valid_days),
    )
    return invitation, raw_token


class TokenStatus:
    OK = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True)
class TokenCheck:
    status: str
    invitation: SurveyInvitation | None = None


def invitation_verify(*, raw_token: str, now: dt.datetime | None = None) -> TokenCheck:
    """What a link's token opens: a live invitation, or why not (unknown, expired, used).

    A used link says so even after it expires: "you already answered" is the truer news.
    """
    if not token_is_well_formed(raw_token):
        return TokenCheck(TokenStatus.UNKNOWN)
    invitation = (
        SurveyInvitation.objects.select_related("campaign__survey", "contact", "account", "answer")
        .filter(token_hash=token_hash(raw_token))
        .first()
    )
    if invitation is None:
        return TokenCheck(TokenStatus.UNKNOWN)
    if invitation.answered_at is not None:
        return TokenCheck(TokenStatus.USED, invitation)
    if invitation.expires_at <= (now or timezone.now()):
        return TokenCheck(TokenStatus.EXPIRED, invitation)
    return TokenCheck(TokenStatus.OK, invitation)


# --- answers -----------------------------------------------------------------------------


class InvitationClosed(Exception):
    """The link was answered already (reason "used") or has expired ("expired")."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"This survey link is {reason}.")
        self.reason = reason


def _invitation_claim(*, invitation: SurveyInvitation, now: dt.datetime) -> None:
    # One conditional UPDATE: of two submits racing, exactly one sees a row updated. The
    # other blocks on the row lock until the first commits and then matches nothing.
    claimed = SurveyInvitation.objects.filter(
        pk=invitation.pk, answered_at__isnull=True, expires_at__gt=now
    ).update(answered_at=now)
    if claimed != 1:
        used = SurveyInvitation.objects.filter(pk=invitation.pk, answered_at__isnull=False)
        raise InvitationClosed(TokenStatus.USED if used.exists() else TokenStatus.EXPIRED)
    invitation.answered_at = now


def _rule_tags_apply(*, answer: SurveyAnswer, rules: list[KeywordRule], replace: bool) -> None:
    matched = tags_matching(answer.comment, rules)
    if replace:
        # A changed comment (a re-import) loses the rule tags it no longer earns; tags set by
        # hand stay.
        AnswerTag.objects.filter(answer=answer, source=AnswerTag.Source.RULE).exclude(
            tag_id__in=matched
        ).delete()
    if matched:
        AnswerTag.objects.bulk_create(
            [
                AnswerTag(answer=answer, tag_id=tag_id, source=AnswerTag.Source.RULE)
                for tag_id in matched
            ],
            ignore_conflicts=True,
        )


def _follow_up_open(*, answer: SurveyAnswer, account: Account, today: dt.date) -> None:
    """The follow-up of an unhappy answer and its task for the owner; never twice."""
    if FollowUp.objects.filter(answer=answer).exists():
        return
    who = answer.contact.name if answer.contact else "a contact"
    comment = f"\n\nTheir comment: “{answer.comment}”" if answer.comment else ""
    # get_or_create on the playbook's key: whichever of the two comes first makes the task
    # and the other finds it (the unique constraint settles a race).
    task, _ = Task.objects.get_or_create(
        account=account,
        dedupe_key=detractor_dedupe_key(answer.pk),
        defaults={
            "owner": account.owner,
            "title": f"Call back {who}: {answer.kind.upper()} {answer.score}",
            "description": f"{who} answered {answer.score} on “{answer.survey}”.{comment}",
            "due_date": today + dt.timedelta(days=FOLLOW_UP_DUE_DAYS),
            "priority": Task.Priority.HIGH,
            "source": Task.Source.ALERT,
        },
    )
    FollowUp.objects.get_or_create(answer=answer, defaults={"task": task})


@transaction.atomic
def answer_record(
    *,
    survey: Survey,
    account: Account,
    contact: Contact | None,
    score: object,
    comment: str = "",
    answered_at: dt.datetime | None = None,
    source: str = SurveyAnswer.Source.LINK,
    external_id: str | None = None,
    invitation: SurveyInvitation | None = None,
    rules: list[KeywordRule] | None = None,
    run_playbooks: bool = True,
    now: dt.datetime | None = None,
) -> SurveyAnswer:
    """Record one answer: the one place an answer is written.

    Checks the score against the survey's scale (ValidationError, nothing written); claims
    the invitation if there is one (InvitationClosed if it was used or has expired); writes
    the answer, or updates the one with the same external_id (imports and the API resend);
    tags the comment by the active keyword rules; for an NPS detractor or a CSAT of 1-2
    answered within FOLLOW_UP_MAX_AGE opens a follow-up with a task for the account owner
    (once per answer); and after commit asks the playbooks to look at the account.

    `rules` lets a bulk caller load the rules once; `run_playbooks=False` lets it enqueue
    one playbook run for all its accounts.
    """
    now = now or timezone.now()
    value = score_validate(kind=survey.kind, score=score)
    answered_at = answered_at or now
    if invitation is not None:
        _invitation_claim(invitation=invitation, now=now)

    fields: dict[str, Any] = {
        "survey": survey,
        "account": account,
        "contact": contact,
        "kind": survey.kind,
        "score": value,
        "comment": comment.strip(),
        "answered_at": answered_at,
        "source": source,
    }
    answer = None
    if external_id:
        answer = SurveyAnswer.objects.select_for_update().filter(external_id=external_id).first()
    created = answer is None
    if answer is None:
        answer = SurveyAnswer.objects.create(external_id=external_id or None, **fields)
    else:
        for name, field_value in fields.items():
            setattr(answer, name, field_value)
        answer.save(update_fields=[*fields, "updated_at"])

    if invitation is not None:
        SurveyInvitation.objects.filter(pk=invitation.pk).update(answer=answer)
        invitation.answer = answer

    _rule_tags_apply(
        answer=answer, rules=tag_rules_active() if rules is None else rules, replace=not created
    )
    today = timezone.localdate(now)
    if answer_is_unhappy(kind=survey.kind, score=value) and answered_at >= now - FOLLOW_UP_MAX_AGE:
        _follow_up_open(answer=answer, account=account, today=today)
        webhook_event_emit(
            event=WebhookEvent.DETRACTOR_RECEIVED,
            payload={
                "account_id": account.pk,
                "survey_id": survey.pk,
                "answer_id": answer.pk,
                "kind": survey.kind,
                "score": value,
                "comment": answer.comment,
            },
        )
    if run_playbooks:
        account_ids = [account.pk]
        transaction.on_commit(lambda: playbooks_run_task.delay(today.isoformat(), account_ids))
    return answer


# --- follow-ups --------------------------------------------------------------------------


@transaction.atomic
def follow_up_update(
    *,
    follow_up: FollowUp,
    status: str,
    outcome: str,
    user: User,
    now: dt.datetime | None = None,
) -> FollowUp:
    """Record where closing the loop stands.

    Contacted stamps contacted_at (the first time only: the feedback page's "time to first
    contact"); resolved also stamps resolved_at, needs an outcome, and completes the
    owner's task. Going back to an earlier status clears the later stamps; a completed
    task stays completed.
    """
    now = now or timezone.now()
    if status not in FollowUp.Status.values:
        raise ValidationError({"status": "Choose awaiting contact, contacted or resolved."})
    outcome = outcome.strip()
    if status == FollowUp.Status.RESOLVED and not outcome:
        raise ValidationError({"outcome": "Say how it was resolved."})
    if status == FollowUp.Status.OPEN:
        follow_up.contacted_at = None
    elif follow_up.contacted_at is None:
        follow_up.contacted_at = now
    if status == FollowUp.Status.RESOLVED:
        follow_up.resolved_at = follow_up.resolved_at or now
    else:
        follow_up.resolved_at = None
    follow_up.status = status
    follow_up.outcome = outcome
    follow_up.updated_by = user
    follow_up.save(
        update_fields=[
            "status",
            "outcome",
            "contacted_at",
            "resolved_at",
            "updated_by",
            "updated_at",
        ]
    )
    task = follow_up.task
    if status == FollowUp.Status.RESOLVED and task is not None and task.status == Task.Status.OPEN:
        task_complete(task=task, user=user)
    return follow_up


# --- tags and keyword rules --------------------------------------------------------------


def _tag_name_check(*, name: str, tag: Tag | None) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "Give the tag a name."})
    others = Tag.objects.filter(name__iexact=name)
    if tag is not None:
        others = others.exclude(pk=tag.pk)
    if others.exists():
        raise ValidationError({"name": f"There is already a tag called “{name}”."})
    return name


@transaction.atomic
def tag_create(*, name: str, description: str = "") -> Tag:
    return Tag.objects.create(
        name=_tag_name_check(name=name, tag=None), description=description.strip()
    )


@transaction.atomic
def tag_update(*, tag: Tag, name: str, description: str) -> Tag:
    tag.name = _tag_name_check(name=name, tag=tag)
    tag.description = description.strip()
    tag.save(update_fields=["name", "description"])
    return tag


@transaction.atomic
def tag_delete(*, tag: Tag) -> int:
    """Delete a tag with its rules; returns how many answers lose it."""
    count = AnswerTag.objects.filter(tag=tag).count()
    tag.delete()
    return count


def _keywords_clean(keywords: str) -> str:
    parsed = keywords_parse(keywords)
    if not parsed:
        raise ValidationError({"keywords": "Give at least one word or phrase."})
    return ", ".join(parsed)


@transaction.atomic
def tag_rule_create(*, tag: Tag, keywords: str, is_active: bool = True) -> TagRule:
    """A keyword rule; it tags answers recorded from now on (re-apply for older ones)."""
    return TagRule.objects.create(tag=tag, keywords=_keywords_clean(keywords), is_active=is_active)


@transaction.atomic
def tag_rule_update(*, rule: TagRule, tag: Tag, keywords: str, is_active: bool) -> TagRule:
    rule.tag = tag
    rule.keywords = _keywords_clean(keywords)
    rule.is_active = is_active
    rule.save(update_fields=["tag", "keywords", "is_active", "updated_at"])
    return rule


@transaction.atomic
def tag_rule_delete(*, rule: TagRule) -> None:
    rule.delete()


@dataclass(frozen=True)
class ReapplyResult:
    answers_scanned: int
    tags_added: int
    tags_removed: int


@transaction.atomic
def tag_rules_reapply() -> ReapplyResult:
    """Make every answer's rule tags match the active rules now: add what they earn, drop
    rule tags they no longer earn. Tags set by hand are never touched.

    Set-based: answers are read in chunks with iterator(); per chunk one read of the
    existing tags, one bulk insert and one delete per tag that lost answers.
    """
    rules = tag_rules_active()
    scanned = added = removed = 0
    answers = SurveyAnswer.objects.order_by("pk").values_list("pk", "comment")
    chunk: list[tuple[int, str]] = []

    def flush() -> None:
        nonlocal added, removed
        ids = [pk for pk, _ in chunk]
        wanted = {(pk, tag_id) for pk, comment in chunk for tag_id in tags_matching(comment, rules)}
        existing: set[tuple[int, int]] = set()
        by_rule: set[tuple[int, int]] = set()
        for answer_id, tag_id, source in AnswerTag.objects.filter(answer_id__in=ids).values_list(
            "answer_id", "tag_id", "source"
        ):
            existing.add((answer_id, tag_id))
            if source == AnswerTag.Source.RULE:
                by_rule.add((answer_id, tag_id))
        to_add = wanted - existing
        AnswerTag.objects.bulk_create(
            [AnswerTag(answer_id=a, tag_id=t, source=AnswerTag.Source.RULE) for a, t in to_add],
            ignore_conflicts=True,
            batch_size=INVITATION_INSERT_BATCH,
        )
        stale: dict[int, list[int]] = defaultdict(list)
        for answer_id, tag_id in by_rule - wanted:
            stale[tag_id].append(answer_id)
        for tag_id, answer_ids in stale.items():
            removed += AnswerTag.objects.filter(
                tag_id=tag_id, answer_id__in=answer_ids, source=AnswerTag.Source.RULE
            ).delete()[0]
        added += len(to_add)

    for row in answers.iterator(chunk_size=REAPPLY_CHUNK):
        chunk.append(row)
        scanned += 1
        if len(chunk) >= REAPPLY_CHUNK:
            flush()
            chunk = []
    if chunk:
        flush()
    return ReapplyResult(answers_scanned=scanned, tags_added=added, tags_removed=removed)


@transaction.atomic
def answer_tag_add(*, answer: SurveyAnswer, tag: Tag) -> bool:
    """Tag an answer by hand; whether it was newly tagged.

    A tag a keyword rule set becomes a manual one: a person confirmed it, and re-applying
    the rules never takes away a tag set by hand.
    """
    answer_tag, created = AnswerTag.objects.get_or_create(
        answer=answer, tag=tag, defaults={"source": AnswerTag.Source.MANUAL}
    )
    if not created and answer_tag.source != AnswerTag.Source.MANUAL:
        answer_tag.source = AnswerTag.Source.MANUAL
        answer_tag.save(update_fields=["source"])
    return created


@transaction.atomic
def answer_tag_remove(*, answer: SurveyAnswer, tag_id: int) -> Tag | None:
    """Take theme `tag_id` off an answer; the theme removed, or None if it was not there."""
    found = AnswerTag.objects.select_related("tag").filter(answer=answer, tag_id=tag_id).first()
    if found is None:
        return None
    found.delete()
    return found.tag
