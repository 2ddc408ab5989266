"""Health scores: versioned scorecards, one score per account per day, overrides, runs, and
the monthly retention snapshots the dashboards read."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from accounts.models import Account, Segment, User
from cs_platform.models import TimeStampedModel


class Measure(models.TextChoices):
    """What a scorecard component measures (PRODUCT.md section 4)."""

    USAGE = "usage", "Usage"
    USAGE_TREND = "usage_trend", "Usage trend"
    ADOPTION = "adoption", "Adoption"
    SUPPORT = "support", "Support"
    SENTIMENT = "sentiment", "Sentiment"
    ENGAGEMENT = "engagement", "Engagement"


class Band(models.TextChoices):
    RED = "red", "Red"
    YELLOW = "yellow", "Yellow"
    GREEN = "green", "Green"


class Scorecard(TimeStampedModel):
    """A named scorecard; its rules live in versions. One default, others per segment."""

    name = models.CharField(max_length=100, unique=True)
    # Accounts in this segment use this scorecard; null marks the default for everyone else.
    # A segment in use by a scorecard cannot be deleted out from under it.
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.PROTECT, related_name="scorecards"
    )
    # Lower number wins when an account is in several scorecards' segments.
    priority = models.PositiveSmallIntegerField(default=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(segment__isnull=True, is_active=True),
                name="scorecard_one_active_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ScorecardVersion(models.Model):
    """An immutable snapshot of a scorecard's rules; every edit makes a new one.

    components: [{"measure": "usage", "weight": 30, "zero_at": 0.1, "full_at": 0.8}, ...]
    Points are 0 at `zero_at`, 100 at `full_at`, linear between and clamped outside; when
    zero_at > full_at, lower raw values score higher (support tickets, days since contact).
    """

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    components = models.JSONField()
    red_below = models.PositiveSmallIntegerField(default=40)
    green_from = models.PositiveSmallIntegerField(default=70)
    note = models.CharField(max_length=300, blank=True)
    # Who made this version stays on record after they leave.
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scorecard", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["scorecard", "number"], name="scorecard_version_number"
            ),
            models.CheckConstraint(
                condition=Q(red_below__lte=F("green_from"), green_from__lte=100),
                name="scorecard_version_bands_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scorecard} v{self.number}"


class HealthScore(models.Model):
    """One account's health on one day, with everything needed to explain it."""

    USAGE_STALE_DAYS = 3

    # No index of its own: the (account, day) unique index leads with the account, and one
    # index fewer is a cheaper nightly load.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="health_scores", db_index=False
    )
    day = models.DateField()
    # The score shown: the override's value while one is active, else the computed one.
    score = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=8, choices=Band.choices)
    computed_score = models.PositiveSmallIntegerField()
    computed_band = models.CharField(max_length=8, choices=Band.choices)
    # {measure: {"raw": float, "points": int, "weight": int, "effective_weight": float}}
    components = models.JSONField()
    # Measures with no data for this account: left out, the others' weights renormalised.
    missing = models.JSONField(default=list)
    # Old scores keep pointing at the version they were computed with.
    scorecard_version = models.ForeignKey(
        ScorecardVersion, on_delete=models.PROTECT, related_name="scores"
    )
    override = models.ForeignKey(
        "HealthOverride", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Newest usage day behind the score: more than USAGE_STALE_DAYS before `day` is stale.
    usage_through = models.DateField(null=True, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "-day"]
        constraints = [
            models.UniqueConstraint(fields=["account", "day"], name="health_score_one_per_day"),
            models.CheckConstraint(
                condition=Q(score__lte=100, computed_score__lte=100), name="health_score_0_100"
            ),
        ]
        indexes = [
            # Band distribution and movers over all accounts on one day.
            models.Index(fields=["day", "band"], name="health_day_band_idx"),
            # The health page's count of one day's scores resting on stale usage: an
            # index-only scan of the day's entries instead of fetching every score row.
            models.Index(fields=["day", "usage_through"], name="health_day_usage_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day}: {self.score} ({self.band})"

    @property
    def is_stale(self) -> bool:
        """Usage data older than USAGE_STALE_DAYS: the score may not reflect the account."""
        if self.usage_through is None:
            return True
        return (self.day - self.usage_through).days > self.USAGE_STALE_DAYS


class HealthOverride(TimeStampedModel):
    """A person's judgement replacing the computed score until it expires."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="health_overrides")
    score = models.PositiveSmallIntegerField()
    reason = models.TextField()
    expires_on = models.DateField()
    # The record of who overrode a score stays when they leave.
    created_by = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="health_overrides"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(score__lte=100), name="health_override_0_100"),
        ]
        indexes = [
            # Active overrides on a day: not revoked, not expired.
            models.Index(fields=["account", "expires_on"], name="health_override_active_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account} overridden to {self.score} until {self.expires_on}"


class HealthRun(models.Model):
    """One run of the nightly recompute for one day; the last step records it."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    day = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    accounts_scored = models.PositiveIntegerField(default=0)
    alerts_raised = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # "Last successful run" for freshness and the health page.
            models.Index(fields=["day", "status"], name="health_run_day_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Health run for {self.day}: {self.status}"


class RetentionSnapshot(models.Model):
    """Retention figures of one calendar month for one scope, recomputed nightly.

    Stores the additive parts; rates are derived (and are None when their denominator is 0,
    never zero): NRR, GRR, logo churn, renewal rate.
    """

    class Scope(models.TextChoices):
        COMPANY = "company", "Company"
        SEGMENT = "segment", "Segment"
        TEAM = "team", "Team"
        CSM = "csm", "CSM"
        TIER = "tier", "Tier"

    month = models.DateField(help_text="First day of the month.")
    scope = models.CharField(max_length=16, choices=Scope.choices)
    # Segment, team or user id, or the tier's value; empty for the company.
    scope_key = models.CharField(max_length=64, blank=True)

    cohort_accounts = models.PositiveIntegerField(default=0)
    churned_accounts = models.PositiveIntegerField(default=0)
    start_arr = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    new_arr = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    expansion_arr = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    contraction_arr = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    churned_arr = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    end_arr = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    contracts_due = models.PositiveIntegerField(default=0)
    contracts_renewed = models.PositiveIntegerField(default=0)
    due_arr = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    renewed_arr = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    arr_at_risk = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-month", "scope", "scope_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["month", "scope", "scope_key"], name="retention_one_per_month_scope"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.scope} {self.scope_key}".strip()


class ScoreBacktest(models.Model):
    """A stored backtest of the health score against what happened afterwards.

    data holds the figures the validation page shows (AUC, per-band churn, calibration,
    component AUCs and correlations, override accuracy, the proposed weights and their
    out-of-sample AUC beside the current ones), so the page never recomputes them.
    """

    horizon_days = models.PositiveSmallIntegerField()
    # Null for the whole portfolio. A segment with backtests cannot vanish from under them.
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.PROTECT, related_name="backtests"
    )
    computed_at = models.DateTimeField(auto_now_add=True)
    data = models.JSONField()
    # The scorecard version the proposal would replace, and the version adopted from it.
    based_on_version = models.ForeignKey(
        ScorecardVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    adopted_version = models.ForeignKey(
        ScorecardVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-computed_at"]
        indexes = [
            # The validation page: the latest backtest for a horizon and scope.
            models.Index(
                fields=["horizon_days", "segment", "computed_at"], name="backtest_latest_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Backtest {self.horizon_days} d at {self.computed_at:%Y-%m-%d}"


class ChurnPrediction(models.Model):
    """An account's predicted probability of churning within 90 days, and why."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="churn_predictions")
    day = models.DateField()
    probability = models.DecimalField(max_digits=5, decimal_places=4)
    # [{"factor": "usage", "text": "active users down 40 % in 30 days", "effect": 0.12}, ...]
    factors = models.JSONField(default=list)
    model_version = models.CharField(max_length=64, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "day"], name="churn_prediction_one_per_day"),
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=1),
                name="churn_prediction_is_probability",
            ),
        ]
        indexes = [
            # Highest risks of a day.
            models.Index(fields=["day", "probability"], name="churn_prediction_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day}: {self.probability}"


class HealthMover(models.Model):
    """One of a scope's 10 accounts whose score fell (or rose) most over a window, ranked
    nightly so the health page and the manager dashboard never join two days of scores for
    every account. Only the latest scored day is kept: the job replaces every row."""

    class Direction(models.TextChoices):
        DOWN = "down", "Fell"
        UP = "up", "Rose"

    scope = models.CharField(max_length=16, choices=RetentionSnapshot.Scope.choices)
    # Segment, team or user id, or the tier's value; empty for the company.
    scope_key = models.CharField(max_length=64, blank=True)
    window = models.PositiveSmallIntegerField(help_text="Days between the two scores.")
    direction = models.CharField(max_length=4, choices=Direction.choices)
    rank = models.PositiveSmallIntegerField()
    day = models.DateField(help_text="The newer scored day.")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="health_movers")
    score_then = models.SmallIntegerField()
    score_now = models.SmallIntegerField()
    band_now = models.CharField(max_length=8, choices=Band.choices)
    # A manual override set the newer score: the components do not explain it.
    overridden = models.BooleanField(default=False)
    # [{"measure": "usage", "label": "Usage", "points": -12}, ...] largest move first.
    moves = models.JSONField(default=list)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "scope_key", "window", "direction", "rank"],
                name="health_mover_once_per_rank",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.scope_key} {self.direction} {self.window} d #{self.rank}"


class HealthBandTrend(models.Model):
    """A scope's scored accounts per band on a month's last scored day, with their current
    ARR (Account.arr, as the health page's trend shows it); recomputed nightly."""

    scope = models.CharField(max_length=16, choices=RetentionSnapshot.Scope.choices)
    scope_key = models.CharField(max_length=64, blank=True)
    day = models.DateField(help_text="The month's last scored day.")
    band = models.CharField(max_length=8, choices=Band.choices)
    accounts = models.PositiveIntegerField(default=0)
    arr = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "scope_key", "day", "band"], name="health_band_trend_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.scope_key} {self.day} {self.band}={self.accounts}"


class HealthBandToday(models.Model):
    """A scope's live accounts per band today, as the health page's distribution shows them
    (each account's current band and ARR; "none" for the unscored), and that band's scores
    of the latest scored day with how many rest on stale usage; recomputed nightly.

    Stored so the page's cost does not grow with the scope's accounts: the band column of
    Account is deliberately unindexed, so counting it live reads every account row.
    """

    NO_SCORE = "none"
    BANDS = [*Band.choices, (NO_SCORE, "No score")]

    scope = models.CharField(max_length=16, choices=RetentionSnapshot.Scope.choices)
    scope_key = models.CharField(max_length=64, blank=True)
    band = models.CharField(max_length=8, choices=BANDS)
    accounts = models.PositiveIntegerField(default=0)
    arr = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    # The latest scored day when the job ran (None: nothing scored yet), its scores in this
    # band and those whose usage is older than HealthScore.USAGE_STALE_DAYS or missing.
    day = models.DateField(null=True, blank=True)
    scores = models.PositiveIntegerField(default=0)
    stale_scores = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "scope_key", "band"], name="health_band_today_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.scope_key} {self.band}={self.accounts}"
