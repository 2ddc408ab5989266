"""Places the demo's accounts on their journey: stage, past transitions, milestones done,
and a sales handoff for those in onboarding. Runs after the accounts exist, in bulk."""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Account, Contract, User
from journeys.models import (
    AccountJourney,
    Handoff,
    Milestone,
    MilestoneCompletion,
    Stage,
    StageTransition,
)

# Days after the account's start at which it left each stage, on a typical path; each
# account gets its own noise. An account renewing within 90 days is in the renewal stage.
STAGE_EXIT_DAYS = {"onboarding": 40, "activation": 100}
RENEWAL_WINDOW_DAYS = 90
BATCH = 2_000

HANDOFF_GOALS = [
    "Replace spreadsheets for weekly reporting across three regions.",
    "Cut onboarding time for new store managers from six weeks to two.",
    "One source of truth for renewals and upsell pipeline.",
    "Automate the monthly board pack.",
]
HANDOFF_PROMISES = [
    "Live in 30 days with SSO and the CRM integration.",
    "Dedicated onboarding manager and weekly check-ins for the first quarter.",
    "Custom export to the data warehouse by go-live.",
    "Training for 40 admins before the fiscal year starts.",
]


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9), tzinfo=timezone.get_current_timezone())


@transaction.atomic
def journeys_demo_seed(*, today: dt.date, seed: int) -> int:
    """Put every live demo account on its journey; returns the number placed."""
    rng = random.Random(seed * 7919 + 17)
    stages = {stage.slug: stage for stage in Stage.objects.order_by("order")}
    if not {"onboarding", "activation", "adoption", "renewal"} <= set(stages):
        return 0
    milestones: dict[int, list[Milestone]] = {}
    for milestone in Milestone.objects.order_by("stage__order", "order"):
        milestones.setdefault(milestone.stage_id, []).append(milestone)
    manager = User.objects.filter(username="manager").first()
    # The start of each account's current term: a renewal begins a new adoption cycle.
    term_start = dict(
        Contract.objects.filter(start_date__lte=today)
        .order_by()
        .values("account_id")
        .annotate(latest=Max("start_date"))
        .values_list("account_id", "latest")
    )

    journeys: list[AccountJourney] = []
    transitions: list[StageTransition] = []
    completions: list[MilestoneCompletion] = []
    handoffs: list[Handoff] = []
    accounts = (
        Account.objects.live()
        .order_by("pk")
        .values_list("pk", "start_date", "renewal_date", "owner_id", "health_band")
    )
    for account_id, start, renewal, owner_id, band in accounts.iterator(chunk_size=BATCH):
        # Weaker accounts take longer; a red one is likely still stuck where it is.
        slowness = {"red": 1.6, "yellow": 1.25}.get(band, 1.0) * rng.uniform(0.8, 1.3)
        path: list[tuple[Stage, dt.date]] = [(stages["onboarding"], start)]
        onboarded = start + dt.timedelta(days=round(STAGE_EXIT_DAYS["onboarding"] * slowness))
        activated = start + dt.timedelta(days=round(STAGE_EXIT_DAYS["activation"] * slowness))
        if onboarded < today:
            path.append((stages["activation"], onboarded))
        if activated < today:
            path.append((stages["adoption"], activated))
            cycle = term_start.get(account_id)
            if cycle and cycle > activated + dt.timedelta(days=RENEWAL_WINDOW_DAYS):
                # Renewed since: the renewal stage before the new term, then adoption again.
                path.append((stages["renewal"], cycle - dt.timedelta(days=RENEWAL_WINDOW_DAYS)))
                path.append((stages["adoption"], cycle))
        if renewal and (renewal - today).days <= RENEWAL_WINDOW_DAYS and activated < today:
            entered = max(renewal - dt.timedelta(days=RENEWAL_WINDOW_DAYS), path[-1][1])
            path.append((stages["renewal"], min(entered, today)))
        previous = None
        for stage, entered in path:
            transitions.append(
                StageTransition(
                    account_id=account_id,
                    from_stage=previous,
                    to_stage=stage,
                    at=_at(entered),
                    by=manager if previous is None else None,
                    rule="" if previous is None else "auto:milestones",
                    reason="Handed over from sales" if previous is None else "",
                )
            )
            previous = stage
        current, entered = path[-1]
        journeys.append(
            AccountJourney(account_id=account_id, stage=current, entered_at=_at(entered))
        )
        # A milestone is completed once per account: for a stage visited again after a
        # renewal, the latest visit decides (completions of earlier visits are superseded).
        latest_visit = {stage.pk: (stage, entered_on) for stage, entered_on in path}
        for stage, stage_entered in latest_visit.values():
            done_by = _at(min(today, stage_entered + dt.timedelta(days=1)))
            for milestone in milestones.get(stage.pk, []):
                due = stage_entered + dt.timedelta(days=milestone.target_days)
                if stage is not current:
                    finished = True  # stages left behind had their required milestones done
                else:
                    # In the current stage: done when due and the account is coping.
                    finished = due <= today and rng.random() < {"red": 0.3, "yellow": 0.6}.get(
                        band, 0.85
                    )
                if finished and (milestone.is_required or rng.random() < 0.5):
                    day = min(
                        today,
                        stage_entered
                        + dt.timedelta(days=round(milestone.target_days * rng.uniform(0.5, 1.1))),
                    )
                    completions.append(
                        MilestoneCompletion(
                            account_id=account_id,
                            milestone=milestone,
                            completed_at=max(done_by, _at(day)),
                            completed_by_id=owner_id,
                        )
                    )
        if current.slug == "onboarding":
            handoffs.append(
                Handoff(
                    account_id=account_id,
                    goals=rng.choice(HANDOFF_GOALS),
                    promised_outcomes=rng.choice(HANDOFF_PROMISES),
                    stakeholders="Executive sponsor and two admins (see contacts).",
                    go_live_date=start + dt.timedelta(days=30),
                    sales_notes="Competitive deal; price-sensitive at renewal.",
                )
            )
    AccountJourney.objects.bulk_create(journeys, batch_size=BATCH)
    StageTransition.objects.bulk_create(transitions, batch_size=BATCH)
    MilestoneCompletion.objects.bulk_create(completions, batch_size=BATCH, ignore_conflicts=True)
    Handoff.objects.bulk_create(handoffs, batch_size=BATCH, ignore_conflicts=True)
    return len(journeys)


DEMO_SEGMENTS = [
    ("High-touch", "Accounts on the high-touch service level.", {"tiers": ["high_touch"]}),
    (
        "Renewing in 90 days",
        "Every account whose current term ends within 90 days.",
        {"renewal_within_days": 90},
    ),
    (
        "At risk",
        "Accounts in the red or yellow health band.",
        {"health_bands": ["red", "yellow"], "lifecycle_statuses": ["onboarding", "active"]},
    ),
    (
        "Enterprise ARR 50k+",
        "Accounts worth at least $50,000 a year.",
        {"arr_min": "50000"},
    ),
]


def segments_demo_seed() -> int:
    """A few rule-based segments, so filters and dashboards have something to scope by."""
    from accounts.models import Segment

    created = 0
    for name, description, rules in DEMO_SEGMENTS:
        _, made = Segment.objects.get_or_create(
            name=name,
            defaults={"description": description, "kind": Segment.Kind.RULE, "rules": rules},
        )
        created += made
    return created
