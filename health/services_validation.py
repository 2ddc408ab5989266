"""Writes of score validation: running a backtest, adopting its proposed weights.

A backtest is stored whole (ScoreBacktest.data), so the page reads one row and never
recomputes. Adopting makes the next version of the scorecard the backtest was compared
against, with the proposed weights and everything else (bounds, band thresholds) kept;
scores already stored keep pointing at the version they were computed with.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.models import Segment, User
from accounts.selectors.access import local_today
from accounts.selectors.segments import segment_accounts
from health.backtest import (
    HORIZONS,
    CurrentScorecard,
    backtest_compute,
    observations_load,
    sample_days_select,
)
from health.models import Measure, ScoreBacktest, Scorecard, ScorecardVersion
from health.scoring import ComponentRule
from health.services_scorecards import scorecard_version_create


def scorecard_for_scope(*, segment: Segment | None) -> Scorecard | None:
    """The active scorecard that scores the scope: the segment's own, else the default."""
    if segment is not None:
        own = Scorecard.objects.filter(segment=segment, is_active=True).order_by("priority").first()
        if own is not None:
            return own
    return Scorecard.objects.filter(segment__isnull=True, is_active=True).first()


def _latest_version(scorecard: Scorecard | None) -> ScorecardVersion | None:
    if scorecard is None:
        return None
    return (
        ScorecardVersion.objects.filter(scorecard=scorecard)
        .select_related("scorecard")
        .order_by("-number")
        .first()
    )


def _current(version: ScorecardVersion | None) -> CurrentScorecard:
    if version is None:
        return CurrentScorecard(None, "no scorecard", {}, 40, 70)
    return CurrentScorecard(
        version_id=version.pk,
        label=f"{version.scorecard} v{version.number}",
        weights={c["measure"]: int(c["weight"]) for c in version.components},
        red_below=version.red_below,
        green_from=version.green_from,
    )


def backtest_run(
    *, horizon_days: int, segment: Segment | None = None, today: dt.date | None = None
) -> ScoreBacktest:
    """Backtest the stored scores over `horizon_days` for the portfolio or one segment,
    and store the result. Costs two queries plus NumPy; a few seconds at 50,000 accounts.
    """
    if horizon_days not in HORIZONS:
        raise ValidationError(
            {"horizon_days": f"Choose one of {', '.join(str(h) for h in HORIZONS)} days."}
        )
    today = today or local_today()
    version = _latest_version(scorecard_for_scope(segment=segment))
    current = _current(version)
    # The current version's measures: adopting keeps their bounds and changes the weights,
    # so a measure outside the version could get a weight but no bounds.
    measures = [m for m in Measure.values if m in current.weights]
    accounts = segment_accounts(segment, today=today) if segment is not None else None
    days = sample_days_select(today=today, horizon_days=horizon_days)
    observations = observations_load(
        days=days, horizon_days=horizon_days, measures=measures, accounts=accounts
    )
    data = backtest_compute(
        observations,
        horizon_days=horizon_days,
        sample_days=days,
        current=current,
        today=today,
    )
    return ScoreBacktest.objects.create(
        horizon_days=horizon_days, segment=segment, data=data, based_on_version=version
    )


@transaction.atomic
def backtest_adopt(*, backtest: ScoreBacktest, user: User) -> ScorecardVersion:
    """Make the proposal the next version of the scorecard the backtest was measured against.

    Admins only (PRODUCT.md section 4: "an admin can adopt"). Refused when the backtest has
    no proposal, was adopted already, or the scorecard got a newer version since: the
    comparison on the page was made against the old one.
    """
    if not user.is_admin:
        raise PermissionDenied("Only admins adopt proposed weights.")
    locked = (
        ScoreBacktest.objects.select_for_update(of=("self",))
        .select_related("based_on_version__scorecard", "adopted_version", "segment")
        .get(pk=backtest.pk)
    )
    if locked.adopted_version_id is not None:
        raise ValidationError(
            "These weights were adopted already, as version "
            f"{locked.adopted_version.number if locked.adopted_version else '?'}."
        )
    proposal = (locked.data or {}).get("proposal")
    if not proposal:
        raise ValidationError("This backtest has no proposed weights to adopt.")
    based_on = locked.based_on_version
    if based_on is None:
        raise ValidationError(
            "The scorecard version this backtest was measured against no longer exists; "
            "run the backtest again."
        )
    if locked.segment_id is not None and based_on.scorecard.segment_id != locked.segment_id:
        raise ValidationError(
            f"“{locked.segment}” has no scorecard of its own: its accounts are scored by "
            f"“{based_on.scorecard}”, and adopting weights fitted on this segment would change "
            "them for every account. Create a scorecard for the segment first, or adopt from "
            "the whole-portfolio backtest."
        )
    latest = _latest_version(based_on.scorecard)
    if latest is not None and latest.pk != based_on.pk:
        raise ValidationError(
            f"“{based_on.scorecard}” has a newer version ({latest.number}) than the one this "
            f"backtest compared against ({based_on.number}). Run the backtest again before "
            "adopting."
        )
    weights = proposal["weights"]
    components = [
        ComponentRule(
            measure=c["measure"],
            weight=int(weights.get(c["measure"], 0)),
            zero_at=float(c["zero_at"]),
            full_at=float(c["full_at"]),
        )
        for c in based_on.components
    ]
    computed = locked.computed_at.date().isoformat()
    note = (
        f"Weights adopted from the {locked.horizon_days}-day backtest of {computed}: "
        f"out-of-sample AUC {proposal['auc_current']:.2f} with the current weights, "
        f"{proposal['auc_proposed']:.2f} with these."
        if proposal.get("auc_current") is not None and proposal.get("auc_proposed") is not None
        else f"Weights adopted from the {locked.horizon_days}-day backtest of {computed}."
    )
    version = scorecard_version_create(
        scorecard=based_on.scorecard,
        components=components,
        red_below=based_on.red_below,
        green_from=based_on.green_from,
        note=note,
        created_by=user,
        based_on=based_on.number,
    )
    locked.adopted_version = version
    locked.save(update_fields=["adopted_version"])
    backtest.adopted_version = version
    return version
