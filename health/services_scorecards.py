"""Writes for scorecards: creating one, making a new version, switching one on or off.

A version is never changed once made: scores keep pointing at the version they were
computed with, so an edit always writes version n+1. Who made each version and when
(created_by, created_at) is the audit record of every change to the scoring rules.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from accounts.audit import FROM_REQUEST, Action, audit_record, changes_between
from accounts.models import Segment, User
from health.models import Measure, Scorecard, ScorecardVersion
from health.scoring import ComponentRule

NOTE_MAX_LENGTH = ScorecardVersion._meta.get_field("note").max_length or 300
NAME_MAX_LENGTH = Scorecard._meta.get_field("name").max_length or 100
PRIORITY_MAX = 32_767  # PositiveSmallIntegerField's ceiling on PostgreSQL


def _rules_errors(
    *, components: Sequence[ComponentRule], red_below: int, green_from: int
) -> dict[str, list[str]]:
    """What is wrong with a version's rules, keyed like the form's fields.

    The form says the same beside each field; this guards the API, the admin and scripts.
    """
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    seen: set[str] = set()
    for rule in components:
        label = Measure(rule.measure).label if rule.measure in Measure.values else rule.measure
        if rule.measure not in Measure.values:
            add(NON_FIELD_ERRORS, f"{rule.measure!r} is not a measure the score knows.")
        elif rule.measure in seen:
            add(NON_FIELD_ERRORS, f"{label} appears twice; give each measure one row.")
        seen.add(rule.measure)
        if not 0 <= rule.weight <= 100:
            add(NON_FIELD_ERRORS, f"{label}: the weight must be between 0 and 100.")
        if rule.zero_at == rule.full_at:
            add(
                NON_FIELD_ERRORS,
                f"{label}: the 0-point and 100-point values must differ.",
            )
    if not any(rule.weight > 0 for rule in components):
        add(NON_FIELD_ERRORS, "Include at least one measure with a weight above 0.")
    if not 0 <= red_below <= 100:
        add("red_below", "Red below must be between 0 and 100.")
    if not 0 <= green_from <= 100:
        add("green_from", "Green from must be between 0 and 100.")
    elif red_below > green_from:
        add("green_from", f"Green from ({green_from}) can't be below red below ({red_below}).")
    return errors


def _components_json(components: Sequence[ComponentRule]) -> list[dict[str, object]]:
    # Stored in Measure order, so two versions with the same rules have the same JSON.
    order = {measure: n for n, measure in enumerate(Measure.values)}
    return [
        {
            "measure": rule.measure,
            "weight": int(rule.weight),
            "zero_at": float(rule.zero_at),
            "full_at": float(rule.full_at),
        }
        for rule in sorted(components, key=lambda r: order.get(r.measure, len(order)))
    ]


@transaction.atomic
def scorecard_version_create(
    *,
    scorecard: Scorecard,
    components: Sequence[ComponentRule],
    red_below: int,
    green_from: int,
    note: str,
    created_by: User | None,
    based_on: int | None = None,
) -> ScorecardVersion:
    """Make the scorecard's next version; the earlier ones stay exactly as they were.

    `based_on` is the version number the editor started from: if someone saved another
    version meanwhile, this one is refused rather than silently undoing theirs. The nightly
    recompute uses the new version from its next run on.
    """
    note = note.strip()
    errors = _rules_errors(components=components, red_below=red_below, green_from=green_from)
    if not note:
        errors.setdefault("note", []).append(
            "Say why you are making this change: it is the record of the change."
        )
    elif len(note) > NOTE_MAX_LENGTH:
        errors.setdefault("note", []).append(
            f"Keep the note to {NOTE_MAX_LENGTH} characters (it has {len(note)})."
        )
    if errors:
        raise ValidationError(errors)

    # Lock the scorecard so two editors saving at once get n+1 and n+2 (or a clear refusal
    # through based_on), never a clash on the unique version number.
    Scorecard.objects.select_for_update().filter(pk=scorecard.pk).values_list("pk").first()
    current = scorecard.versions.aggregate(number=Max("number"))["number"] or 0
    if based_on is not None and based_on != current:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    f"Version {current} was saved while you were editing version {based_on}. "
                    "Nothing was saved: open the scorecard again to start from the latest "
                    "version."
                ]
            }
        )
    version = ScorecardVersion.objects.create(
        scorecard=scorecard,
        number=current + 1,
        components=_components_json(components),
        red_below=red_below,
        green_from=green_from,
        note=note,
        created_by=created_by,
    )
    _audit_version(scorecard=scorecard, version=version, created_by=created_by)
    return version


def _audit_version(
    *, scorecard: Scorecard, version: ScorecardVersion, created_by: User | None
) -> None:
    fields = ("components", "red_below", "green_from")
    previous = (
        ScorecardVersion.objects.filter(scorecard=scorecard, number=version.number - 1)
        .values(*fields)
        .first()
    ) or {}
    audit_record(
        Action.SCORECARD_VERSION,
        actor=created_by if created_by is not None else FROM_REQUEST,
        obj=scorecard,
        changes=changes_between(previous, {f: getattr(version, f) for f in fields}),
        details={"version": version.number, "version_id": version.pk, "note": version.note},
    )


def _active_default_exists(*, excluding: Scorecard | None = None) -> Scorecard | None:
    others = Scorecard.objects.filter(segment__isnull=True, is_active=True)
    if excluding is not None:
        others = others.exclude(pk=excluding.pk)
    return others.first()


def _second_default_message(existing: Scorecard) -> str:
    return (
        f"“{existing}” is already the default scorecard (the one for accounts in no "
        "scorecard's segment), and there can be only one. Choose a segment, or make a new "
        f"version of “{existing}” instead."
    )


@transaction.atomic
def scorecard_create(
    *,
    name: str,
    segment: Segment | None,
    priority: int,
    components: Sequence[ComponentRule],
    red_below: int,
    green_from: int,
    note: str,
    created_by: User | None,
) -> Scorecard:
    """Create an active scorecard with its first version.

    A scorecard with a segment scores that segment's accounts (the lowest priority number
    wins when an account is in several); one without is the default, and only one default
    may be active.
    """
    name = name.strip()
    errors = _rules_errors(components=components, red_below=red_below, green_from=green_from)
    if not name:
        errors.setdefault("name", []).append("Give the scorecard a name.")
    elif len(name) > NAME_MAX_LENGTH:
        errors.setdefault("name", []).append(f"Keep the name to {NAME_MAX_LENGTH} characters.")
    elif Scorecard.objects.filter(name__iexact=name).exists():
        errors.setdefault("name", []).append(f"A scorecard named “{name}” already exists.")
    if segment is None and (existing := _active_default_exists()) is not None:
        errors.setdefault("segment", []).append(_second_default_message(existing))
    if not 0 <= priority <= PRIORITY_MAX:
        errors.setdefault("priority", []).append(f"Priority must be between 0 and {PRIORITY_MAX}.")
    if errors:
        raise ValidationError(errors)

    try:
        # A savepoint: losing a race to another creator is a form error, not a 500.
        with transaction.atomic():
            scorecard = Scorecard.objects.create(
                name=name, segment=segment, priority=priority, is_active=True
            )
    except IntegrityError:
        if Scorecard.objects.filter(name__iexact=name).exists():
            raise ValidationError({"name": f"A scorecard named “{name}” already exists."}) from None
        existing = _active_default_exists()
        raise ValidationError(
            {"segment": _second_default_message(existing) if existing else "Choose a segment."}
        ) from None
    scorecard_version_create(
        scorecard=scorecard,
        components=components,
        red_below=red_below,
        green_from=green_from,
        note=note.strip() or "First version",
        created_by=created_by,
    )
    return scorecard


@transaction.atomic
def scorecard_active_set(*, scorecard: Scorecard, is_active: bool) -> Scorecard:
    """Switch a segment scorecard on or off; its accounts fall back to the next match.

    The default cannot be switched off: every account outside the segment scorecards is
    scored by it, and the nightly refuses to run without one.
    """
    if scorecard.is_active == is_active:
        return scorecard
    if scorecard.segment_id is None:
        if not is_active:
            raise ValidationError(
                "The default scorecard can't be deactivated: it scores every account that no "
                "segment scorecard covers. Change it with a new version instead."
            )
        if (existing := _active_default_exists(excluding=scorecard)) is not None:
            raise ValidationError(_second_default_message(existing))
    scorecard.is_active = is_active
    try:
        with transaction.atomic():
            scorecard.save(update_fields=["is_active", "updated_at"])
    except IntegrityError:
        scorecard.is_active = not is_active
        raise ValidationError("Another default scorecard was activated meanwhile.") from None
    audit_record(
        Action.SCORECARD_ACTIVE, obj=scorecard, changes={"is_active": [not is_active, is_active]}
    )
    return scorecard
