"""Writes for manual health overrides: a person's judgement replacing the computed score.

An override shows at once: it is written onto the account's latest stored score and onto
Account.health_score/health_band, so nobody waits for the night. From then on the nightly
recompute (health/recompute.py) applies it to every day from its creation until it
expires. computed_score/computed_band are never touched: they keep what the scorecard said.
The override row itself (who, when, why, until when, who revoked it) is the audit record.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import Action, audit_record
from accounts.models import Account, User
from accounts.selectors.access import local_today
from health.models import HealthOverride, HealthScore, ScorecardVersion
from health.scoring import band_for

# The longest an override may run: long enough for a quarter's renewal cycle, short enough
# that a forgotten override does not hide the real score for good.
OVERRIDE_MAX_DAYS = 180
_DEFAULT_RED_BELOW = ScorecardVersion._meta.get_field("red_below").default
_DEFAULT_GREEN_FROM = ScorecardVersion._meta.get_field("green_from").default


def override_expiry_errors(*, expires_on: dt.date, today: dt.date) -> list[str]:
    """Why an expiry date is refused (empty when fine); shared with the form."""
    latest = today + dt.timedelta(days=OVERRIDE_MAX_DAYS)
    if expires_on <= today:
        return [f"The expiry must be after today ({today:%d %b %Y})."]
    if expires_on > latest:
        return [
            f"An override can run at most {OVERRIDE_MAX_DAYS} days: choose "
            f"{latest:%d %b %Y} or earlier."
        ]
    return []


def _latest_score(account: Account) -> HealthScore | None:
    return (
        # Lock the score row only, not the scorecard version it joins.
        HealthScore.objects.select_for_update(of=("self",))
        .filter(account=account)
        .select_related("scorecard_version")
        .order_by("-day")
        .first()
    )


def _thresholds_without_score() -> tuple[int, int]:
    """Band thresholds for an account with no stored score: the default scorecard's."""
    version = (
        ScorecardVersion.objects.filter(scorecard__segment__isnull=True, scorecard__is_active=True)
        .order_by("-number")
        .first()
    )
    if version is None:
        return _DEFAULT_RED_BELOW, _DEFAULT_GREEN_FROM
    return version.red_below, version.green_from


def _account_health_set(account: Account, *, score: int | None, band: str) -> None:
    Account.objects.filter(pk=account.pk).update(health_score=score, health_band=band)
    account.health_score, account.health_band = score, band


@transaction.atomic
def health_override_create(
    *,
    account: Account,
    user: User,
    score: int,
    reason: str,
    expires_on: dt.date,
) -> HealthOverride:
    """Override the account's health with `score` until `expires_on` (inclusive).

    The caller has checked that `user` may edit the account (account_get_for_edit). An
    override already in force is ended (revoked by `user`, now) so one override at a time
    holds. The latest stored score shows the override at once, banded by the thresholds of
    the scorecard version it was computed with.
    """
    today = local_today()
    reason = reason.strip()
    errors: dict[str, list[str]] = {}
    if not 0 <= score <= 100:
        errors["score"] = ["The score must be between 0 and 100."]
    if not reason:
        errors["reason"] = ["Say why you override the score: the next reader needs to know."]
    if expiry := override_expiry_errors(expires_on=expires_on, today=today):
        errors["expires_on"] = expiry
    if errors:
        raise ValidationError(errors)

    # One writer per account at a time: two people overriding at once end up one after the
    # other, and the later one's override is the one in force.
    Account.objects.select_for_update().filter(pk=account.pk).values_list("pk").first()
    now = timezone.now()
    in_force = HealthOverride.objects.filter(
        account=account, revoked_at__isnull=True, expires_on__gte=today
    )
    replaced = list(in_force.values("pk", "score"))
    in_force.update(revoked_at=now, revoked_by=user, updated_at=now)
    override = HealthOverride.objects.create(
        account=account, score=score, reason=reason, expires_on=expires_on, created_by=user
    )
    shown_before = account.health_score

    latest = _latest_score(account)
    if latest is not None:
        version = latest.scorecard_version
        band = band_for(score, red_below=version.red_below, green_from=version.green_from)
        # Only the shown score changes; computed_at keeps the time of the computation.
        HealthScore.objects.filter(pk=latest.pk).update(score=score, band=band, override=override)
    else:
        red_below, green_from = _thresholds_without_score()
        band = band_for(score, red_below=red_below, green_from=green_from)
    for old in replaced:
        audit_record(
            Action.OVERRIDE_END,
            actor=user,
            obj=account,
            changes={"override_score": [old["score"], None]},
            details={"override_id": old["pk"], "replaced_by": override.pk},
        )
    audit_record(
        Action.OVERRIDE_CREATE,
        actor=user,
        obj=account,
        changes={"health_score": [shown_before, score], "override_score": [None, score]},
        details={"override_id": override.pk, "reason": reason, "expires_on": expires_on},
    )
    _account_health_set(account, score=score, band=str(band))
    return override


@transaction.atomic
def health_override_revoke(*, override: HealthOverride, user: User) -> HealthOverride:
    """End an override now; the account's latest score goes back to the computed one.

    The caller has checked that `user` may edit the override's account.
    """
    locked = HealthOverride.objects.select_for_update().get(pk=override.pk)
    if locked.revoked_at is not None:
        revoked_on = timezone.localtime(locked.revoked_at)
        raise ValidationError(f"This override was already revoked on {revoked_on:%d %b %Y}.")
    if locked.expires_on < local_today():
        raise ValidationError(
            f"This override expired on {locked.expires_on:%d %b %Y}: there is nothing to revoke."
        )
    now = timezone.now()
    locked.revoked_at, locked.revoked_by = now, user
    locked.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
    override.revoked_at, override.revoked_by = locked.revoked_at, user
    audit_record(
        Action.OVERRIDE_END,
        actor=user,
        obj=override.account,
        changes={"override_score": [locked.score, None]},
        details={"override_id": locked.pk, "reason": locked.reason},
    )

    account = override.account
    latest = _latest_score(account)
    if latest is None:
        _account_health_set(account, score=None, band="")
        return override
    if latest.override_id == override.pk:
        latest.score, latest.band, latest.override = (
            latest.computed_score,
            latest.computed_band,
            None,
        )
        HealthScore.objects.filter(pk=latest.pk).update(
            score=latest.score, band=latest.band, override=None
        )
    _account_health_set(account, score=latest.score, band=latest.band)
    return override
