"""Journeys (stages, milestones, transitions, handoffs) and playbooks (rules that make tasks)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Account, Segment, Task, User
from cs_platform.models import TimeStampedModel
from health.models import RetentionSnapshot


class Stage(TimeStampedModel):
    """A step of the customer journey: onboarding -> activation -> adoption -> renewal."""

    ONBOARDING_SLUG = "onboarding"

    name = models.CharField(max_length=100, unique=True)
    # Stable handle for code and imports; "onboarding" marks time-to-value's end point.
    slug = models.SlugField(max_length=50, unique=True)
    order = models.PositiveSmallIntegerField(unique=True)
    description = models.TextField(blank=True)
    # Target number of days an account should spend in this stage.
    target_days = models.PositiveIntegerField(null=True, blank=True)
    # Move accounts on automatically once every required milestone of the stage is done.
    auto_advance = models.BooleanField(default=False)

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return self.name


class Milestone(TimeStampedModel):
    """A moment of truth within a stage, due `target_days` after the account entered it."""

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="milestones")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    target_days = models.PositiveIntegerField()
    # Past this many days after stage entry, an incomplete milestone is "stuck".
    stuck_days = models.PositiveIntegerField()
    is_required = models.BooleanField(default=True)

    class Meta:
        ordering = ["stage__order", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["stage", "name"], name="milestone_name_per_stage"),
            models.CheckConstraint(
                condition=Q(stuck_days__gte=models.F("target_days")),
                name="milestone_stuck_after_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stage}: {self.name}"


class AccountJourney(models.Model):
    """Where an account stands now. Its history is the StageTransition rows."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="journey")
    # A stage with accounts in it cannot be deleted; move them first.
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="journeys")
    entered_at = models.DateTimeField()

    class Meta:
        indexes = [
            # Funnel: accounts per stage; time in stage.
            models.Index(fields=["stage", "entered_at"], name="journey_stage_entered_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account} in {self.stage}"


class StageTransition(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="stage_transitions")
    # History keeps pointing at stages; a stage in history cannot be deleted.
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    # Who moved it; null with `rule` set when a rule did.
    by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="stage_transitions"
    )
    rule = models.CharField(max_length=100, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["account", "at"]
        indexes = [
            # An account's history; time in stage between consecutive transitions.
            models.Index(fields=["account", "at"], name="transition_account_at_idx"),
            # Time to value: leaving onboarding, by month.
            models.Index(fields=["from_stage", "at"], name="transition_from_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.from_stage or '—'} → {self.to_stage} at {self.at:%Y-%m-%d}"


class MilestoneCompletion(models.Model):
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="milestone_completions"
    )
    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="completions")
    completed_at = models.DateTimeField()
    completed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "milestone"], name="milestone_completed_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.milestone.name} done"


class Handoff(TimeStampedModel):
    """What sales promised, handed to CS when the account enters onboarding."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="handoff")
    goals = models.TextField(blank=True)
    promised_outcomes = models.TextField(blank=True)
    stakeholders = models.TextField(blank=True)
    go_live_date = models.DateField(null=True, blank=True)
    sales_notes = models.TextField(blank=True)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Handoff for {self.account}"


class Playbook(TimeStampedModel):
    """A rule and the tasks it makes, once per occurrence."""

    class Trigger(models.TextChoices):
        BAND_CHANGED_TO = "band_changed_to", "Health band changed to"
        SCORE_DROPPED = "score_dropped", "Health score dropped by N points in 7 days"
        RENEWAL_IN_DAYS = "renewal_in_days", "Renewal within N days"
        STAGE_ENTERED = "stage_entered", "Journey stage entered"
        MILESTONE_OVERDUE = "milestone_overdue", "Milestone overdue"
        DETRACTOR = "detractor", "NPS detractor or CSAT ≤ 2 received"
        NO_INTERACTION = "no_interaction", "No interaction in N days"
        SEGMENT_ENTERED = "segment_entered", "Segment entered"
        SEGMENT_LEFT = "segment_left", "Segment left"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    trigger = models.CharField(max_length=32, choices=Trigger.choices)
    # The trigger's parameters: {"band": "red"}, {"points": 15}, {"days": 90},
    # {"stage": <id>}, {"segment": <id>}, optionally {"band_in": [...]} for renewals.
    params = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PlaybookTaskTemplate(models.Model):
    class Assignee(models.TextChoices):
        OWNER = "owner", "Account owner"
        TEAM_MANAGER = "team_manager", "Team's manager"

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="templates")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    due_in_days = models.PositiveSmallIntegerField(default=3)
    priority = models.CharField(
        max_length=8, choices=Task.Priority.choices, default=Task.Priority.NORMAL
    )
    assignee = models.CharField(max_length=16, choices=Assignee.choices, default=Assignee.OWNER)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["playbook", "order", "pk"]

    def __str__(self) -> str:
        return f"{self.playbook}: {self.title}"


class PlaybookFiring(models.Model):
    """One occurrence of a playbook on an account and the task it made.

    Unique per (playbook, account, occurrence, template): a rerun finds the row and makes
    nothing new. The occurrence key names what happened (e.g. "renewal:2027-03-31").
    """

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="firings")
    template = models.ForeignKey(
        PlaybookTaskTemplate, on_delete=models.CASCADE, related_name="firings"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="playbook_firings")
    occurrence = models.CharField(max_length=200)
    # The task stays on the account if it is deleted from the playbook's record.
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="playbook_firings"
    )
    fired_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["playbook", "account", "occurrence", "template"],
                name="playbook_fires_once_per_occurrence",
            ),
        ]
        indexes = [
            # "Tasks made / closed" per playbook.
            models.Index(fields=["playbook", "fired_at"], name="firing_playbook_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.playbook} on {self.account}: {self.occurrence}"


class PlaybookSnooze(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="snoozes")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="playbook_snoozes")
    until = models.DateField()
    reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["playbook", "account"], name="snooze_one_per_account"),
        ]

    def __str__(self) -> str:
        return f"{self.playbook} snoozed for {self.account} until {self.until}"


class SegmentPresence(models.Model):
    """The accounts a segment held at the last evaluation, to detect entering and leaving."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="presences")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="segment_presences")
    since = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "account"], name="segment_presence_once"),
        ]

    def __str__(self) -> str:
        return f"{self.account} in {self.segment} since {self.since}"


# --- Nightly rollups of the journeys page ---------------------------------------------------
# One row set per snapshot scope (health.retention.scope_plan_load), all replaced in one
# transaction by journeys.rollups.journey_rollups_recompute, so the page reads a few rows of
# its scope instead of every account's journey and history.


class JourneyRollup(models.Model):
    """A scope's journeys page as of `day`: the figures that are one number per scope."""

    scope = models.CharField(max_length=16, choices=RetentionSnapshot.Scope.choices)
    # Segment, team or user id, or the tier's value; empty for the company.
    scope_key = models.CharField(max_length=64, blank=True)
    day = models.DateField(help_text="The day the figures are worked out for.")
    # Live accounts whose journey has not started (the funnel's last row).
    not_started_accounts = models.PositiveIntegerField(default=0)
    not_started_arr = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    behind = models.PositiveIntegerField(default=0)
    stuck = models.PositiveIntegerField(default=0)
    stuck_accounts = models.PositiveIntegerField(default=0)
    # Time to value over the whole 12-month window (its median is not one of the months').
    ttv_accounts = models.PositiveIntegerField(default=0)
    ttv_median_days = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "scope_key"], name="journey_rollup_once"),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.scope_key} journeys on {self.day}"


class JourneyStageRollup(models.Model):
    """A scope's funnel row and time in stage for one stage."""

    scope = models.CharField(max_length=16, choices=RetentionSnapshot.Scope.choices)
    scope_key = models.CharField(max_length=64, blank=True)
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    accounts = models.PositiveIntegerField(default=0)
    arr = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    stays = models.PositiveIntegerField(default=0)
    median_days = models.FloatField(null=True, blank=True)
    p90_days = models.FloatField(null=True, blank=True)
    in_stage_now = models.PositiveIntegerField(default=0)
    over_target_now = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "scope_key", "stage"], name="journey_stage_rollup_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.scope_key} {self.stage_id}: {self.accounts}"


class JourneyTtvMonth(models.Model):
    """A scope's onboarding completions in one month and their median days to value."""

    scope = models.CharField(max_length=16, choices=RetentionSnapshot.Scope.choices)
    scope_key = models.CharField(max_length=64, blank=True)
    month = models.DateField(help_text="First day of the month.")
    accounts = models.PositiveIntegerField(default=0)
    median_days = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "scope_key", "month"], name="journey_ttv_month_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.scope_key} {self.month:%Y-%m}: {self.median_days}"


class JourneyOverdueGroup(models.Model):
    """One milestone late for the scope's accounts that entered its stage on one day: they
    share a status and days late, so the place they fill in the page's overdue list.

    The list sorts stuck first, then by days late, then by account name; groups with the
    same status and days late interleave by name, so each row carries the positions
    [first_row, end_row) of that whole sort group. A page reads the groups overlapping it,
    then those accounts by primary key, through the viewer's accounts.
    """

    scope = models.CharField(max_length=16, choices=RetentionSnapshot.Scope.choices)
    scope_key = models.CharField(max_length=64, blank=True)
    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="+")
    entered_on = models.DateField()
    # Ids of the accounts late on it: their names are read live, never stored.
    account_ids = models.JSONField(default=list)
    first_row = models.PositiveIntegerField()
    end_row = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "scope_key", "milestone", "entered_on"],
                name="journey_overdue_group_once",
            ),
        ]
        indexes = [
            # A page of the overdue list: the scope's groups overlapping its rows.
            models.Index(
                fields=["scope", "scope_key", "first_row"], name="journey_overdue_page_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.scope_key} {self.milestone_id} {self.entered_on}"
