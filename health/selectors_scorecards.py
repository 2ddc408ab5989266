"""Reads for the scorecard settings pages and the override page.

Scorecards: the list with each one's current version, one scorecard with its history, and
the plain-language reading of a version's components. Overrides: the access-checked getter
behind revoking, an account's latest score, its active override and its override history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from accounts.models import Account, User
from health.models import HealthOverride, HealthScore, Measure, Scorecard, ScorecardVersion

# --- What the numbers of each measure mean ----------------------------------------------


@dataclass(frozen=True)
class MeasureScale:
    """How a measure's raw value reads, and the bounds a newly included measure starts from.

    `first` places the value in a phrase ("10 % active seats"); `second` is the shorter
    form used for the other bound ("80 %"). The suggested bounds are the default
    scorecard's (health/migrations/0002_default_scorecard.py).
    """

    kind: str  # "share" (0-1 shown as %), "change" (relative, signed %), "number"
    first: str
    second: str
    hint: str
    zero_at: float
    full_at: float


MEASURE_SCALES: dict[str, MeasureScale] = {
    Measure.USAGE: MeasureScale(
        "share", "{} active seats", "{}", "Active users ÷ seats, 0–1 (0.1 = 10 %)", 0.1, 0.8
    ),
    Measure.USAGE_TREND: MeasureScale(
        "change",
        "{} change in active users",
        "{}",
        "Last 30 days vs the 30 before (-0.5 = halved, 0.1 = +10 %)",
        -0.5,
        0.1,
    ),
    Measure.ADOPTION: MeasureScale(
        "share", "{} of key features used", "{}", "Key features used, 0–1 (0.7 = 70 %)", 0.1, 0.7
    ),
    Measure.SUPPORT: MeasureScale(
        "number",
        "{} open or high-priority tickets",
        "{}",
        "Open plus high-priority tickets, last 30 days",
        6,
        0,
    ),
    Measure.SENTIMENT: MeasureScale(
        "number",
        "a sentiment of {} out of 100",
        "{}",
        "NPS and CSAT answers of the last 180 days, 0–100",
        30,
        90,
    ),
    Measure.ENGAGEMENT: MeasureScale(
        "number",
        "{} days since the last interaction",
        "{} days",
        "Days since the last logged interaction",
        90,
        14,
    ),
}


def _number(value: float) -> str:
    # Six significant digits hide float noise such as 0.1 * 100 = 10.000000000000002.
    return f"{value:g}"


def measure_value_format(measure: str, value: float) -> str:
    """A raw bound as a person reads it: 0.1 of seats is "10 %", a -0.5 trend "-50 %"."""
    kind = MEASURE_SCALES[measure].kind
    if kind == "share":
        return f"{_number(round(value * 100, 4))} %"
    if kind == "change":
        return f"{'+' if value > 0 else ''}{_number(round(value * 100, 4))} %"
    return _number(value)


def component_explain(measure: str, *, zero_at: float, full_at: float) -> str:
    """ "0 points at 10 % active seats, 100 points at 80 %", and which way is better."""
    scale = MEASURE_SCALES[measure]
    text = (
        f"0 points at {scale.first.format(measure_value_format(measure, zero_at))}, "
        f"100 points at {scale.second.format(measure_value_format(measure, full_at))}"
    )
    if zero_at > full_at:
        text += "; lower is better"
    return text + ", linear in between."


@dataclass(frozen=True)
class ComponentRow:
    measure: str
    label: str
    weight: int
    share: float  # the weight's part of the total, in %, before any renormalisation
    zero_at: float
    full_at: float
    explanation: str

    @property
    def zero_at_text(self) -> str:
        return _number(self.zero_at)

    @property
    def full_at_text(self) -> str:
        return _number(self.full_at)

    @property
    def share_text(self) -> str:
        return f"{_number(self.share)} %"


def version_component_rows(
    components: Sequence[Mapping[str, Any]],
) -> tuple[list[ComponentRow], list[str]]:
    """The components of a version in Measure order, and the labels of measures it leaves out."""
    by_measure = {c["measure"]: c for c in components}
    total = sum(int(c["weight"]) for c in components)
    rows: list[ComponentRow] = []
    unused: list[str] = []
    for measure, label in Measure.choices:
        component = by_measure.get(measure)
        if component is None or int(component["weight"]) == 0:
            unused.append(str(label))
            continue
        zero_at, full_at = float(component["zero_at"]), float(component["full_at"])
        rows.append(
            ComponentRow(
                measure=measure,
                label=str(label),
                weight=int(component["weight"]),
                share=round(100 * int(component["weight"]) / total, 1) if total else 0.0,
                zero_at=zero_at,
                full_at=full_at,
                explanation=component_explain(measure, zero_at=zero_at, full_at=full_at),
            )
        )
    return rows, unused


# --- Scorecards ----------------------------------------------------------------------------


def scorecards_for_list() -> QuerySet[Scorecard]:
    """Every scorecard, segment ones by priority (the order the nightly tries them), then
    the default; each annotated with its current (highest-numbered) version's id."""
    latest = ScorecardVersion.objects.filter(scorecard=OuterRef("pk")).order_by("-number")
    return (
        Scorecard.objects.select_related("segment")
        .annotate(
            current_version_id=Subquery(latest.values("pk")[:1]),
            is_default=ExpressionWrapper(Q(segment__isnull=True), output_field=BooleanField()),
        )
        .order_by("is_default", "-is_active", "priority", "name", "pk")
    )


@dataclass(frozen=True)
class ScorecardListRow:
    scorecard: Scorecard
    current: ScorecardVersion | None


def scorecard_list_rows(scorecards: Iterable[Scorecard]) -> list[ScorecardListRow]:
    """Pair one page of scorecards_for_list() with their current versions: one query."""
    scorecards = list(scorecards)
    ids = [s.current_version_id for s in scorecards if s.current_version_id]  # type: ignore[attr-defined]
    versions = ScorecardVersion.objects.select_related("created_by").in_bulk(ids)
    return [
        ScorecardListRow(
            scorecard=s,
            current=versions.get(s.current_version_id),  # type: ignore[attr-defined]
        )
        for s in scorecards
    ]


def scorecard_get(*, scorecard_id: int) -> Scorecard:
    """One scorecard for the settings pages (whose role check is the view's); 404 if none."""
    try:
        return Scorecard.objects.select_related("segment").get(pk=scorecard_id)
    except (Scorecard.DoesNotExist, ValueError, TypeError):
        raise Http404("No such scorecard.") from None


def scorecard_current_version(*, scorecard: Scorecard) -> ScorecardVersion | None:
    return (
        ScorecardVersion.objects.filter(scorecard=scorecard)
        .select_related("created_by")
        .order_by("-number")
        .first()
    )


def scorecard_versions(*, scorecard: Scorecard) -> QuerySet[ScorecardVersion]:
    """The version history, newest first, with who made each."""
    return (
        ScorecardVersion.objects.filter(scorecard=scorecard)
        .select_related("created_by")
        .order_by("-number")
    )


def scorecard_default_current_version() -> ScorecardVersion | None:
    """The active default scorecard's current version: where a new scorecard starts from."""
    return (
        ScorecardVersion.objects.filter(scorecard__segment__isnull=True, scorecard__is_active=True)
        .order_by("-number")
        .first()
    )


# --- Overrides -----------------------------------------------------------------------------


def health_override_get_for_edit(*, user: User, override_id: int) -> HealthOverride:
    """An override on an account the user may change (own book for a CSM); 404 otherwise."""
    try:
        return HealthOverride.objects.select_related("account", "created_by").get(
            pk=override_id, account__in=Account.objects.editable_by(user)
        )
    except (HealthOverride.DoesNotExist, ValueError, TypeError):
        raise Http404("No such override.") from None


def account_latest_score(*, account: Account) -> HealthScore | None:
    """The account's newest stored score (whatever its day), with its scorecard version."""
    return (
        HealthScore.objects.filter(account=account)
        .select_related("scorecard_version__scorecard")
        .order_by("-day")
        .first()
    )


def health_override_active(*, account: Account, today: dt.date) -> HealthOverride | None:
    """The override in force today: not revoked, not expired; the newest if several."""
    return (
        HealthOverride.objects.filter(
            account=account, revoked_at__isnull=True, expires_on__gte=today
        )
        .select_related("created_by")
        .order_by("-created_at", "-pk")
        .first()
    )


def health_overrides_for_account(*, account: Account) -> QuerySet[HealthOverride]:
    """Every override the account ever had, newest first, with who made and who revoked it."""
    return (
        HealthOverride.objects.filter(account=account)
        .select_related("created_by", "revoked_by")
        .order_by("-created_at", "-pk")
    )
