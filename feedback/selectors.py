"""Reads of survey answers that other apps compose (health's sentiment component)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Avg, Case, F, FloatField, When

from feedback.models import Survey, SurveyAnswer

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
    latest = SurveyAnswer.objects.order_by("-answered_at").values_list("answered_at", flat=True)
    return latest.first()
