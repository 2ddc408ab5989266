"""The ground floor: staff and teams, customer accounts and everything logged against them."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from cs_platform.models import TimeStampedModel


class Team(TimeStampedModel):
    name = models.CharField(max_length=100, unique=True)
    # A team outlives its manager leaving: the team stays, managerless, until reassigned.
    manager = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_teams",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MANAGER = "manager", "CS manager"
        CSM = "csm", "CSM"
        EXECUTIVE = "executive", "Executive"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CSM)
    # Leaving a team must not delete the person or their history.
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )

    class Meta:
        ordering = ["first_name", "last_name", "username"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["admin", "manager", "csm", "executive"]),
                name="user_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN or self.is_superuser

    @property
    def is_manager(self) -> bool:
        return self.role == self.Role.MANAGER

    @property
    def is_csm(self) -> bool:
        return self.role == self.Role.CSM and not self.is_superuser

    @property
    def is_executive(self) -> bool:
        return self.role == self.Role.EXECUTIVE and not self.is_superuser

    @property
    def sees_all_accounts(self) -> bool:
        return not self.is_csm

    @property
    def can_edit_accounts(self) -> bool:
        return self.is_admin or self.is_manager or self.is_csm

    @property
    def can_configure(self) -> bool:
        """Scorecards, segments, stages, surveys, targets (PRODUCT.md section 6)."""
        return self.is_admin or self.is_manager


class AccountQuerySet(models.QuerySet["Account"]):
    def visible_to(self, user: User) -> AccountQuerySet:
        """The book-of-business rule: CSMs see their own and their team's accounts."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.sees_all_accounts:
            return self
        mine = Q(owner=user)
        if user.team_id is not None:
            mine |= Q(team_id=user.team_id)
        return self.filter(mine)

    def editable_by(self, user: User) -> AccountQuerySet:
        if not user.is_authenticated or not user.is_active or not user.can_edit_accounts:
            return self.none()
        if user.is_csm:
            return self.filter(owner=user)
        return self

    def live(self) -> AccountQuerySet:
        return self.exclude(lifecycle_status=Account.Lifecycle.CHURNED)


class Account(TimeStampedModel):
    class Tier(models.TextChoices):
        TECH_TOUCH = "tech_touch", "Tech-touch"
        SCALED = "scaled", "Scaled"
        HIGH_TOUCH = "high_touch", "High-touch"

    class Lifecycle(models.TextChoices):
        ONBOARDING = "onboarding", "Onboarding"
        ACTIVE = "active", "Active"
        CHURNED = "churned", "Churned"

    class Level(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    class ChurnReason(models.TextChoices):
        PRICE = "price", "Price"
        PRODUCT_FIT = "product_fit", "Product fit"
        COMPETITOR = "competitor", "Moved to a competitor"
        BUDGET = "budget", "Budget cut"
        CHAMPION_LEFT = "champion_left", "Champion left"
        ACQUIRED = "acquired", "Acquired or merged"
        OUT_OF_BUSINESS = "out_of_business", "Out of business"
        POOR_ADOPTION = "poor_adoption", "Poor adoption"
        OTHER = "other", "Other"

    class Band(models.TextChoices):
        RED = "red", "Red"
        YELLOW = "yellow", "Yellow"
        GREEN = "green", "Green"

    name = models.CharField(max_length=200)
    # The customer's id in the CRM; imports and the API match on it.
    external_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    domain = models.CharField(max_length=200, blank=True)
    # An account whose CSM leaves stays, unowned, until reassigned.
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_accounts"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts"
    )
    industry = models.CharField(max_length=100, blank=True)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.SCALED)
    product_complexity = models.CharField(max_length=8, choices=Level.choices, default=Level.MEDIUM)
    growth_potential = models.CharField(max_length=8, choices=Level.choices, default=Level.MEDIUM)
    lifecycle_status = models.CharField(
        max_length=16, choices=Lifecycle.choices, default=Lifecycle.ONBOARDING
    )
    start_date = models.DateField(help_text="Customer since: start of the first contract.")
    churned_on = models.DateField(null=True, blank=True)
    churn_reason = models.CharField(max_length=32, choices=ChurnReason.choices, blank=True)
    churn_note = models.TextField(blank=True)

    # Denormalised from contracts by account_rollups_refresh (after every contract write and
    # nightly) so the list can filter and sort 50,000 accounts on one indexed column.
    arr = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    renewal_date = models.DateField(null=True, blank=True)
    # Denormalised by interaction_log / interaction_delete, for sorting by recency.
    last_interaction_on = models.DateField(null=True, blank=True)
    # Written by the health app's nightly job; the history lives in health.HealthScore.
    # Deliberately not indexed: the nightly job rewrites them for most accounts, and an
    # unindexed column lets PostgreSQL update the row in place (a HOT update) instead of
    # writing every index of this table again. Sorting or filtering 50,000 rows by them
    # without an index costs tens of milliseconds; rewriting 15 indexes costs seconds.
    health_score = models.PositiveSmallIntegerField(null=True, blank=True)
    health_band = models.CharField(max_length=8, choices=Band.choices, blank=True)
    # Predicted probability of churning within 90 days, written nightly by the health app
    # (history in health.ChurnPrediction). Unindexed for the same reason as health_score.
    churn_risk = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(arr__gte=0), name="account_arr_not_negative"),
            models.CheckConstraint(
                condition=~Q(lifecycle_status="churned") | Q(churned_on__isnull=False),
                name="account_churned_has_date",
            ),
            models.CheckConstraint(
                condition=Q(churned_on__isnull=True) | Q(churned_on__gte=F("start_date")),
                name="account_churn_after_start",
            ),
            models.CheckConstraint(
                condition=Q(health_score__isnull=True) | Q(health_score__lte=100),
                name="account_health_score_0_100",
            ),
        ]
        # More indexes for the list's sorts (NULLS LAST both ways) and its name search live in
        # migration 0003 as PostgreSQL-only SQL.
        indexes = [
            # The list's default order for managers and executives: name, then id for paging.
            models.Index(fields=["name", "id"], name="account_name_idx"),
            # "My book": accounts of one owner, by name.
            models.Index(fields=["owner", "name"], name="account_owner_name_idx"),
            # Team scoping for CSMs and the team filter.
            models.Index(fields=["team", "name"], name="account_team_name_idx"),
            # Renewal windows (next 30/60/90 days) and sorting by days to renewal.
            models.Index(fields=["renewal_date"], name="account_renewal_idx"),
            # Sorting the list by ARR, and ARR-range segment rules.
            models.Index(fields=["arr"], name="account_arr_idx"),
            # Lifecycle filter; churn metrics by churn date.
            models.Index(fields=["lifecycle_status", "churned_on"], name="account_lifecycle_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("accounts:account_detail", args=[self.pk])


class Contact(TimeStampedModel):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    title = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    is_decision_maker = models.BooleanField(default=False)
    is_executive_sponsor = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True, help_text="Still at the account.")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "email"], name="contact_email_per_account"),
        ]
        indexes = [
            # Survey imports match answers to contacts by email.
            models.Index(fields=["email"], name="contact_email_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.account})"


class ContractQuerySet(models.QuerySet["Contract"]):
    def on_day(self, day: object) -> ContractQuerySet:
        return self.filter(start_date__lte=day, end_date__gte=day)


class Contract(TimeStampedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"
        CANCELLED = "cancelled", "Cancelled"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contracts")
    external_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    # The contract this one renews; a renewal keeps the chain when the earlier term is gone.
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="renewal"
    )
    start_date = models.DateField()
    end_date = models.DateField(help_text="Last day of the term: the renewal date.")
    arr = models.DecimalField(max_digits=14, decimal_places=2)
    seats = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)

    objects = ContractQuerySet.as_manager()

    class Meta:
        ordering = ["account", "start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gt=F("start_date")), name="contract_end_after_start"
            ),
            models.CheckConstraint(condition=Q(arr__gte=0), name="contract_arr_not_negative"),
        ]
        indexes = [
            # ARR on a day: contracts of an account covering that day.
            models.Index(
                fields=["account", "start_date", "end_date"], name="contract_account_term_idx"
            ),
            # Contracts due (ending) in a period, for renewal rate.
            models.Index(fields=["end_date"], name="contract_end_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.start_date:%Y-%m-%d}–{self.end_date:%Y-%m-%d}"


class Segment(TimeStampedModel):
    class Kind(models.TextChoices):
        RULE = "rule", "Rule-based"
        STATIC = "static", "Static list"

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.RULE)
    # The rule's criteria (see accounts.segment_rules for the keys); empty for static lists.
    rules = models.JSONField(default=dict, blank=True)
    members = models.ManyToManyField(
        Account, through="SegmentMembership", related_name="static_segments", blank=True
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="segments_created"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="segment_memberships"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "account"], name="segment_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.account} in {self.segment}"


class Interaction(TimeStampedModel):
    class Kind(models.TextChoices):
        CALL = "call", "Call"
        MEETING = "meeting", "Meeting"
        EMAIL = "email", "Email"
        QBR = "qbr", "QBR / EBR"
        NOTE = "note", "Note"

    class Sentiment(models.TextChoices):
        POSITIVE = "positive", "Positive"
        NEUTRAL = "neutral", "Neutral"
        NEGATIVE = "negative", "Negative"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="interactions")
    # The record of what happened stays when its author leaves.
    author = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="interactions"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    occurred_on = models.DateField()
    participants = models.ManyToManyField(Contact, blank=True, related_name="interactions")
    summary = models.TextField()
    sentiment = models.CharField(
        max_length=16, choices=Sentiment.choices, default=Sentiment.NEUTRAL
    )

    class Meta:
        ordering = ["-occurred_on", "-created_at"]
        indexes = [
            # The account timeline, newest first, and "last interaction" rollups.
            models.Index(fields=["account", "-occurred_on"], name="interaction_account_day_idx"),
            # CSM activity: interactions per author per week.
            models.Index(fields=["author", "occurred_on"], name="interaction_author_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} with {self.account} on {self.occurred_on}"


class TaskQuerySet(models.QuerySet["Task"]):
    def open(self) -> TaskQuerySet:
        return self.filter(status=Task.Status.OPEN)


class Task(TimeStampedModel):
    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    class Source(models.TextChoices):
        MANUAL = "manual", "Manual"
        INTERACTION = "interaction", "Interaction next step"
        PLAYBOOK = "playbook", "Playbook"
        ALERT = "alert", "Alert"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tasks")
    # Unassigned tasks stay visible on the account when their owner leaves.
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    due_date = models.DateField()
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    # The interaction whose next step made this task; the task stays if the note is deleted.
    interaction = models.ForeignKey(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    # Playbooks and alerts key each occurrence so a rerun updates rather than duplicates.
    dedupe_key = models.CharField(max_length=200, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks_completed"
    )

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="task_one_per_occurrence",
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(completed_at__isnull=False),
                name="task_done_has_completion_time",
            ),
        ]
        indexes = [
            # "My tasks": open tasks of one owner by due date.
            models.Index(fields=["owner", "status", "due_date"], name="task_owner_open_due_idx"),
            # Open tasks on the account page.
            models.Index(fields=["account", "status"], name="task_account_status_idx"),
            # CSM activity: tasks closed per week.
            models.Index(fields=["completed_by", "completed_at"], name="task_completed_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class UsageRecord(models.Model):
    """One account's product usage on one day."""

    # No index of its own: the (account, day) unique index leads with the account.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="usage_records", db_index=False
    )
    day = models.DateField()
    active_users = models.PositiveIntegerField(default=0)
    licensed_seats = models.PositiveIntegerField(default=0)
    logins = models.PositiveIntegerField(default=0)
    # Distinct key features used that day (the adoption measure divides by the feature count).
    key_features_used = models.PositiveSmallIntegerField(default=0)
    events = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # Also the index for "an account's usage over a window of days". On PostgreSQL,
            # migration 0011 adds usage_account_day_cover beside it: the same keys carrying
            # the measures, so the nightly health aggregation reads the index alone.
            models.UniqueConstraint(fields=["account", "day"], name="usage_one_per_account_day"),
        ]
        indexes = [
            # Freshness ("newest usage row") and day-range scans over all accounts.
            models.Index(fields=["day"], name="usage_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} usage on {self.day}"


class SupportTicket(models.Model):
    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        SOLVED = "solved", "Solved"
        CLOSED = "closed", "Closed"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tickets")
    external_id = models.CharField(max_length=100, unique=True)
    subject = models.CharField(max_length=300)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("opened_at")),
                name="ticket_closed_after_opened",
            ),
        ]
        indexes = [
            # Support component: an account's tickets over the last 30 days; the timeline.
            models.Index(fields=["account", "-opened_at"], name="ticket_account_opened_idx"),
            # The health page's data freshness: the newest ticket of all, one index entry.
            models.Index(fields=["opened_at"], name="ticket_opened_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.external_id} {self.subject}"


from accounts.api_tokens import ApiToken  # noqa: E402, F401
from accounts.audit_models import AuditEntry  # noqa: E402, F401  (registered with this app)
from accounts.import_models import ImportJob  # noqa: E402, F401  (registered with this app)
from accounts.job_models import JobRun  # noqa: E402, F401
from accounts.webhook_models import WebhookDelivery, WebhookEndpoint  # noqa: E402, F401
