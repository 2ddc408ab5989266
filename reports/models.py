"""The top floor: metric snapshots that dashboards read, targets, initiatives, and the
frozen monthly executive report with its subscriptions and deliveries."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Segment, User
from cs_platform.models import TimeStampedModel


class Metric(models.TextChoices):
    """Metrics a target or an initiative can be about (PRODUCT.md section 3)."""

    NRR = "nrr", "NRR %"
    GRR = "grr", "GRR %"
    LOGO_CHURN = "logo_churn", "Logo churn %"
    RENEWAL_RATE = "renewal_rate", "Renewal rate % (count)"
    RENEWAL_RATE_ARR = "renewal_rate_arr", "Renewal rate % (ARR)"
    NPS = "nps", "NPS"
    CSAT = "csat", "CSAT %"
    CES = "ces", "CES"
    AVG_HEALTH = "avg_health", "Average health score"
    ARR_AT_RISK = "arr_at_risk", "ARR at risk"
    INTERACTIONS_PER_WEEK = "interactions_per_week", "Interactions logged per week"
    TASKS_CLOSED_PER_WEEK = "tasks_closed_per_week", "Tasks closed per week"


class Scope(models.TextChoices):
    COMPANY = "company", "Company"
    SEGMENT = "segment", "Segment"
    TEAM = "team", "Team"
    CSM = "csm", "CSM"
    TIER = "tier", "Tier"


class MetricSnapshot(models.Model):
    """One metric of one calendar month for one scope, recomputed nightly so pages never
    aggregate raw rows. `value` is None when the metric has no data (an NPS with no answers),
    never 0; `count` is what it was computed from (answers, accounts, interactions)."""

    month = models.DateField(help_text="First day of the month.")
    scope = models.CharField(max_length=16, choices=Scope.choices)
    # Segment, team or user id, or the tier's value; empty for the company.
    scope_key = models.CharField(max_length=64, blank=True)
    metric = models.CharField(max_length=40)
    value = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    count = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["month", "scope", "scope_key", "metric"], name="metric_snapshot_once"
            ),
        ]
        indexes = [
            # A dashboard: every metric of one scope over the last 12 months.
            models.Index(fields=["scope", "scope_key", "month"], name="metric_snapshot_scope_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.scope}:{self.scope_key} {self.metric}={self.value}"


class FeedbackScoreMonth(models.Model):
    """Survey answers of one kind and one score value, answered in one calendar month (in the
    configured time zone) by accounts of one scope; recomputed nightly. Every NPS, CSAT and
    CES figure of a month, quarter or year, and each scale's distribution, is a sum of these
    rows, so the feedback page and team performance never count raw answers. Only non-zero
    counts are stored."""

    month = models.DateField(help_text="First day of the month.")
    scope = models.CharField(max_length=16, choices=Scope.choices)
    scope_key = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=8)
    score = models.SmallIntegerField()
    answers = models.PositiveIntegerField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "scope_key", "month", "kind", "score"],
                name="feedback_score_month_once",
            ),
        ]
        indexes = [
            # Breakdowns: every segment, tier, team and CSM of one period's months.
            models.Index(fields=["month", "scope"], name="feedback_score_month_idx"),
        ]

    def __str__(self) -> str:
        where = f"{self.scope}:{self.scope_key}"
        return f"{self.month:%Y-%m} {where} {self.kind}={self.score} x{self.answers}"


class Target(TimeStampedModel):
    """A goal for a metric over a period and scope, e.g. NRR >= 110 % for 2026-Q4."""

    class Period(models.TextChoices):
        MONTH = "month", "Month"
        QUARTER = "quarter", "Quarter"
        YEAR = "year", "Year"

    class Direction(models.TextChoices):
        AT_LEAST = "gte", "at least"
        AT_MOST = "lte", "at most"

    metric = models.CharField(max_length=40, choices=Metric.choices)
    direction = models.CharField(
        max_length=3, choices=Direction.choices, default=Direction.AT_LEAST
    )
    value = models.DecimalField(max_digits=16, decimal_places=2)
    period = models.CharField(max_length=8, choices=Period.choices)
    period_start = models.DateField(help_text="First day of the month, quarter or year.")
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.COMPANY)
    scope_key = models.CharField(max_length=64, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-period_start", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "period", "period_start", "scope", "scope_key"],
                name="target_once_per_metric_period_scope",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} {self.get_direction_display()} {self.value}"


class CsmPeriodRollup(models.Model):
    """One CSM's team performance figures for one month or quarter, as the team performance
    page works them out, recomputed nightly (reports.team_rollups) so the page reads one row
    per CSM instead of counting every account, answer, interaction and task of the team.

    Book, ARR and overdue tasks are those of `as_of` (the run's day) on every period's row;
    rates and per-week figures are the period's up to that day. `view` says which accounts
    were counted: every account (what admins, managers and executives see), or only those of
    the CSM's own team (what a teammate sees); a "team" row is stored only where it differs
    from the "all" row."""

    class View(models.TextChoices):
        ALL = "all", "Every account"
        TEAM = "team", "The CSM's team's accounts"

    view = models.CharField(max_length=8, choices=View.choices)
    period = models.CharField(max_length=8, choices=Target.Period.choices)
    period_start = models.DateField(help_text="First day of the month or quarter.")
    csm = models.ForeignKey(User, on_delete=models.CASCADE, related_name="period_rollups")
    as_of = models.DateField(help_text="The day the figures are for.")
    accounts = models.PositiveIntegerField()
    arr = models.DecimalField(max_digits=16, decimal_places=2)
    health = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    health_basis = models.CharField(max_length=200, blank=True)
    nrr = models.DecimalField(max_digits=10, decimal_places=1, null=True, blank=True)
    nrr_basis = models.CharField(max_length=200, blank=True)
    grr = models.DecimalField(max_digits=10, decimal_places=1, null=True, blank=True)
    grr_basis = models.CharField(max_length=200, blank=True)
    renewal = models.DecimalField(max_digits=10, decimal_places=1, null=True, blank=True)
    renewal_basis = models.CharField(max_length=200, blank=True)
    nps = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    nps_answers = models.PositiveIntegerField()
    csat = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    csat_answers = models.PositiveIntegerField()
    # Per week of the period, up to `as_of` for a period still running.
    interactions = models.DecimalField(max_digits=10, decimal_places=1, null=True, blank=True)
    tasks = models.DecimalField(max_digits=10, decimal_places=1, null=True, blank=True)
    overdue = models.PositiveIntegerField()
    # Median days from start to leaving onboarding, exits of the 12 months to the period's end.
    ttv = models.DecimalField(max_digits=8, decimal_places=1, null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Its index serves the page: one view and period, every CSM of the scope.
            models.UniqueConstraint(
                fields=["view", "period", "period_start", "csm"], name="csm_period_rollup_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.period_start:%Y-%m} {self.view} csm:{self.csm_id}"


class Initiative(TimeStampedModel):
    """A CS program on a segment, read against the rest of the portfolio before and after."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # The program's scope; a segment in use cannot vanish from under it.
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="initiatives")
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="initiatives"
    )
    metric = models.CharField(max_length=40, choices=Metric.choices)

    class Meta:
        ordering = ["-start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="initiative_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MonthlyReport(models.Model):
    """The executive report of one month, its numbers frozen when generated."""

    month = models.DateField(unique=True, help_text="First day of the month.")
    # Every number and series the page, the PDF and the CSV show.
    data = models.JSONField()
    summary = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    generated_at = models.DateTimeField()
    # Null when the monthly Celery job made it.
    generated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pdf = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-month"]

    def __str__(self) -> str:
        return f"Monthly report {self.month:%Y-%m}"


class ReportGeneration(models.Model):
    """The record of each (re)generation of a month's report."""

    report = models.ForeignKey(MonthlyReport, on_delete=models.CASCADE, related_name="generations")
    version = models.PositiveIntegerField()
    generated_at = models.DateTimeField()
    generated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Checksum of the numbers, to show whether a regeneration changed anything.
    data_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["report", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["report", "version"], name="report_generation_once"),
        ]

    def __str__(self) -> str:
        return f"{self.report} v{self.version}"


class ReportSubscription(models.Model):
    """A user's choice about the monthly email; executives without a row are subscribed."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="report_subscription")
    subscribed = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user}: {'subscribed' if self.subscribed else 'unsubscribed'}"


class ReportDelivery(models.Model):
    """One email of one report version to one person, with its outcome."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    report = models.ForeignKey(MonthlyReport, on_delete=models.CASCADE, related_name="deliveries")
    version = models.PositiveIntegerField()
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="report_deliveries")
    email = models.EmailField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["report", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "version", "user"], name="report_delivery_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.report} to {self.email}: {self.status}"
