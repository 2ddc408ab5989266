"""Surveys and their answers. Answers count in the period of their answer date."""

from django.db import models
from django.db.models import Q

from accounts.models import Account, Contact
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
