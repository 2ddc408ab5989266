"""Surveys and their answers. Answers count in the period of their answer date."""

from django.db import models
from django.db.models import Q

from accounts.models import Account, Contact, Segment, Task, User
from cs_platform.models import TimeStampedModel


class Survey(TimeStampedModel):
    class Kind(models.TextChoices):
        NPS = "nps", "NPS (0–10)"
        CSAT = "csat", "CSAT (1–5)"
        CES = "ces", "CES (1–7)"

    SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    question = models.CharField(max_length=500)
    follow_up_question = models.CharField(max_length=500, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def scale(self) -> tuple[int, int]:
        return self.SCALES[self.kind]


class SurveyAnswer(TimeStampedModel):
    class Source(models.TextChoices):
        LINK = "link", "Survey link"
        IMPORT = "import", "CSV import"
        API = "api", "API"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="answers")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="survey_answers")
    # The answer counts for the account even when the person has since left it.
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="survey_answers"
    )
    # Copied from the survey so metrics filter one table without a join.
    kind = models.CharField(max_length=8, choices=Survey.Kind.choices)
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField()
    # Id in the tool the answer came from; re-imports match on it.
    external_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    # db_default too: bulk loaders (COPY) that name only the columns they know stay valid.
    source = models.CharField(
        max_length=8, choices=Source.choices, default=Source.LINK, db_default=Source.LINK
    )
    tags = models.ManyToManyField("Tag", through="AnswerTag", related_name="answers", blank=True)

    class Meta:
        ordering = ["-answered_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="nps", score__lte=10)
                    | Q(kind="csat", score__gte=1, score__lte=5)
                    | Q(kind="ces", score__gte=1, score__lte=7)
                ),
                name="survey_answer_score_on_scale",
            ),
        ]
        indexes = [
            # NPS/CSAT/CES per month: answers of one kind by date.
            models.Index(fields=["kind", "answered_at"], name="answer_kind_day_idx"),
            # The account timeline and the sentiment component.
            models.Index(fields=["account", "-answered_at"], name="answer_account_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.score} from {self.account}"


class SurveyCampaign(TimeStampedModel):
    """One sending of a survey to the contacts of a segment or a picked list."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    # Null for a picked list of contacts. A segment in use cannot vanish from under it.
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns"
    )
    # Contacts who got any survey within this many days are skipped.
    skip_recently_surveyed_days = models.PositiveSmallIntegerField(default=90)
    link_valid_days = models.PositiveSmallIntegerField(default=14)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class SurveyInvitation(models.Model):
    """A single-use link sent to one contact. Only the token's SHA-256 is stored."""

    campaign = models.ForeignKey(
        SurveyCampaign, on_delete=models.CASCADE, related_name="invitations"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="invitations")
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="survey_invitations"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    answer = models.OneToOneField(
        SurveyAnswer, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitation"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "contact"], name="invitation_once_per_campaign"
            ),
        ]
        indexes = [
            # "Surveyed within N days": a contact's latest invitation.
            models.Index(fields=["contact", "created_at"], name="invitation_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} to {self.contact}"


class Tag(models.Model):
    """A theme of verbatims: performance, reporting, onboarding, pricing, ..."""

    name = models.CharField(max_length=60, unique=True)
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TagRule(TimeStampedModel):
    """Keywords that tag an answer's comment automatically (any keyword, case-insensitive)."""

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="rules")
    keywords = models.TextField(help_text="Comma-separated words or phrases.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["tag__name"]

    def __str__(self) -> str:
        return f"{self.keywords} → {self.tag}"


class AnswerTag(models.Model):
    class Source(models.TextChoices):
        MANUAL = "manual", "Set by hand"
        RULE = "rule", "Keyword rule"

    answer = models.ForeignKey(SurveyAnswer, on_delete=models.CASCADE, related_name="answer_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="answer_tags")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.MANUAL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["answer", "tag"], name="answer_tag_once"),
        ]

    def __str__(self) -> str:
        return f"{self.answer_id} tagged {self.tag}"


class FollowUp(TimeStampedModel):
    """Closing the loop on a detractor (NPS 0-6) or an unhappy CSAT (1-2)."""

    class Status(models.TextChoices):
        OPEN = "open", "Awaiting contact"
        CONTACTED = "contacted", "Contacted"
        RESOLVED = "resolved", "Resolved"

    answer = models.OneToOneField(SurveyAnswer, on_delete=models.CASCADE, related_name="follow_up")
    # The owner's task; the follow-up's record stays if the task is deleted.
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    contacted_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The open queue on the feedback page.
            models.Index(fields=["status", "created_at"], name="follow_up_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Follow-up of {self.answer}"
