"""Reads behind the health page: band distribution, monthly trend, movers and freshness.

Every function takes an account queryset already scoped to the viewer
(accounts_visible_to, then the page's segment / team / CSM filters) and runs a fixed
number of grouped queries, whatever the number of accounts: the page costs the same for a
book of 20 accounts and a portfolio of 50,000.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    ExpressionWrapper,
    F,
    FilteredRelation,
    IntegerField,
    Max,
    Q,
    QuerySet,
    Sum,
)
from django.utils import timezone

from accounts.models import Account, Segment, SupportTicket, Team, UsageRecord, User
from accounts.selectors.segments import segment_filter
from feedback.selectors import newest_answer_time
from health.models import (
    Band,
    HealthBandToday,
    HealthBandTrend,
    HealthMover,
    HealthRun,
    HealthScore,
    Measure,
    RetentionSnapshot,
)

NO_SCORE = "none"
SCORED_BANDS = (Band.RED.value, Band.YELLOW.value, Band.GREEN.value)
ALL_BANDS = (*SCORED_BANDS, NO_SCORE)
BAND_LABELS = {**dict(Band.choices), NO_SCORE: "No score"}
TREND_MONTHS = 12
MOVERS_LIMIT = 10
# Components named per mover: the two that moved the score the most.
MOVER_COMPONENTS = 2
# A source, or a score's usage, older than this is flagged stale (the score's own rule).
STALE_AFTER_DAYS = HealthScore.USAGE_STALE_DAYS
MINUS = "\u2212"


def health_scope_accounts(
    accounts: QuerySet[Account],
    *,
    segment: Segment | None = None,
    team: Team | None = None,
    csm: User | None = None,
    today: dt.date,
) -> QuerySet[Account]:
    """Narrow accounts already visible to the viewer; never widens them."""
    if segment is not None:
        accounts = segment_filter(accounts, segment, today=today)
    if team is not None:
        accounts = accounts.filter(team=team)
    if csm is not None:
        accounts = accounts.filter(owner=csm)
    return accounts


# --- Band distribution today -------------------------------------------------------------


@dataclass(frozen=True)
class BandSlice:
    band: str
    label: str
    accounts: int
    arr: Decimal
    arr_share: float | None  # percent of the scope's ARR; None when the scope has no ARR


@dataclass(frozen=True)
class BandDistribution:
    slices: list[BandSlice]
    total_accounts: int
    total_arr: Decimal

    def slice(self, band: str) -> BandSlice:
        return next(s for s in self.slices if s.band == band)

    @property
    def red_arr_share(self) -> float | None:
        return self.slice(Band.RED).arr_share

    @property
    def scored_accounts(self) -> int:
        return self.total_accounts - self.slice(NO_SCORE).accounts


def band_distribution(accounts: QuerySet[Account]) -> BandDistribution:
    """Live accounts and their ARR per band, from the denormalised Account columns; one query.

    Churned accounts are left out: they have no score and no ARR worth watching. Grouped by
    band (a handful of groups) rather than one filtered count and sum per band: one pass
    over the rows either way, with less to evaluate per row.
    """
    grouped = (
        accounts.live()
        .order_by()
        .values_list("health_band")
        .annotate(n=Count("pk"), arr=Sum("arr"))
    )
    return _distribution(grouped)


def _distribution(grouped: Iterable[tuple[str, int, Decimal | None]]) -> BandDistribution:
    """The distribution from (band, accounts, ARR) groups; a band outside the scored ones
    (blank: never scored) counts as "No score"."""
    counts = dict.fromkeys(ALL_BANDS, 0)
    sums = dict.fromkeys(ALL_BANDS, Decimal("0"))
    for band, n, arr in grouped:
        key = band if band in SCORED_BANDS else NO_SCORE
        counts[key] += n
        sums[key] += arr or Decimal("0")
    total_arr = sum(sums.values(), Decimal("0"))
    slices = [
        BandSlice(
            band=band,
            label=BAND_LABELS[band],
            accounts=counts[band],
            arr=sums[band],
            arr_share=float(sums[band] * 100 / total_arr) if total_arr else None,
        )
        for band in ALL_BANDS
    ]
    return BandDistribution(
        slices=slices,
        total_accounts=sum(s.accounts for s in slices),
        total_arr=total_arr,
    )


# --- Which days have scores --------------------------------------------------------------


@dataclass(frozen=True)
class ScoreDays:
    latest: dt.date | None  # the newest scored day, the page's "as of"
    month_ends: list[dt.date]  # the last scored day of each of the last 12 months, oldest first


def _month_starts(today: dt.date, months: int) -> list[dt.date]:
    """First days of the `months` calendar months ending with today's, oldest first."""
    year, month = today.year, today.month
    starts = []
    for _ in range(months):
        starts.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def score_days(*, today: dt.date, months: int = TREND_MONTHS) -> ScoreDays:
    """The latest scored day and each month's last scored day, in one query.

    Each is a `MAX(day)` over a day range, which the (day, band) index answers by reading
    one index entry, rather than grouping millions of score rows by month. Written as plain
    SQL: the same query through thirteen ORM subqueries cost more to build than to run.
    """
    starts = _month_starts(today, months)
    ends = [*starts[1:], today + dt.timedelta(days=1)]
    table = connection.ops.quote_name(HealthScore._meta.db_table)
    newest = f"SELECT MAX(day) FROM {table} WHERE day >= %s AND day < %s"
    sql = f"SELECT (SELECT MAX(day) FROM {table} WHERE day <= %s), " + ", ".join(
        f"({newest})" for _ in starts
    )
    params: list[dt.date] = [today]
    for start, end in zip(starts, ends, strict=True):
        params += [start, end]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        latest, *month_last = (_as_date(value) for value in cursor.fetchone())
    if latest is None:
        return ScoreDays(latest=None, month_ends=[])
    return ScoreDays(latest=latest, month_ends=[day for day in month_last if day is not None])


def _as_date(value: dt.date | str | None) -> dt.date | None:
    """SQLite hands back a raw query's dates as text."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


# --- Trend over the last 12 months -------------------------------------------------------


@dataclass(frozen=True)
class BandTrend:
    days: list[dt.date]
    accounts: dict[str, list[int]]  # band -> count per day, aligned with days
    arr: dict[str, list[Decimal]]  # band -> today's ARR of those accounts per day

    @property
    def is_empty(self) -> bool:
        return not any(any(counts) for counts in self.accounts.values())


def band_trend(accounts: QuerySet[Account], *, days: list[dt.date]) -> BandTrend:
    """Accounts and ARR per band on each given day; one grouped query over the day's scores.

    ARR is each account's current ARR (Account.arr), not its ARR on that day: the page
    says so. Accounts churned since still count on the days they were scored.
    """
    counts = {band: [0] * len(days) for band in SCORED_BANDS}
    arr = {band: [Decimal("0")] * len(days) for band in SCORED_BANDS}
    if days:
        position = {day: i for i, day in enumerate(days)}
        rows = (
            HealthScore.objects.filter(day__in=days, account__in=accounts.order_by().values("pk"))
            .order_by()
            .values("day", "band")
            .annotate(n=Count("pk"), arr=Sum("account__arr"))
        )
        for row in rows:
            if row["band"] in counts:
                counts[row["band"]][position[row["day"]]] = row["n"]
                arr[row["band"]][position[row["day"]]] = row["arr"] or Decimal("0")
    return BandTrend(days=list(days), accounts=counts, arr=arr)


# --- Biggest movers ----------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentMove:
    measure: str
    label: str
    points: int  # score points this component added (+) or took away (-)

    def __str__(self) -> str:
        sign = "+" if self.points > 0 else MINUS
        return f"{self.label} {sign}{abs(self.points)} pts"


def component_moves(
    now: Mapping[str, Mapping[str, Any]] | None,
    then: Mapping[str, Mapping[str, Any]] | None,
    *,
    limit: int = MOVER_COMPONENTS,
) -> list[ComponentMove]:
    """The components that moved a score the most, largest first.

    A component's share of the score is its points x effective weight (0 when it had no
    data), so the moves of all components add up to the change of the computed score.
    """
    now, then = now or {}, then or {}

    def share(components: Mapping[str, Mapping[str, Any]], measure: str) -> float:
        component = components.get(measure)
        if not component:
            return 0.0
        return float(component["points"]) * float(component["effective_weight"])

    labels = dict(Measure.choices)
    moves = []
    for measure in sorted(set(now) | set(then)):
        points = round(share(now, measure) - share(then, measure))
        if points:
            moves.append(
                ComponentMove(measure=measure, label=labels.get(measure, measure), points=points)
            )
    moves.sort(key=lambda m: (-abs(m.points), m.label))
    return moves[:limit]


@dataclass(frozen=True)
class Mover:
    account: Account
    score_then: int
    score_now: int
    band_now: str
    overridden: bool  # a manual override sets today's score: the components do not explain it
    moves: list[ComponentMove] = field(default_factory=list)

    @property
    def change(self) -> int:
        return self.score_now - self.score_then

    @property
    def change_label(self) -> str:
        return f"+{self.change}" if self.change > 0 else f"{MINUS}{abs(self.change)}"

    @property
    def band_label(self) -> str:
        return BAND_LABELS.get(self.band_now, self.band_now)


@dataclass(frozen=True)
class Movers:
    day: dt.date
    since: dt.date
    window: int
    down: list[Mover]
    up: list[Mover]

    @property
    def is_empty(self) -> bool:
        return not self.down and not self.up


def health_movers(accounts: QuerySet[Account], *, day: dt.date, window: int) -> Movers:
    """The 10 accounts whose score fell most and the 10 that rose most over `window` days.

    Two queries. Each joins the account to its score on `day` and on `day - window`
    through the unique (account, day) index, and carries both days' components, so the
    explanation of the 20 movers costs no further query.
    """
    since = day - dt.timedelta(days=window)
    paired = (
        accounts.order_by()
        .annotate(
            now_row=FilteredRelation("health_scores", condition=Q(health_scores__day=day)),
            then_row=FilteredRelation("health_scores", condition=Q(health_scores__day=since)),
        )
        .filter(now_row__score__isnull=False, then_row__score__isnull=False)
        .annotate(
            score_now=F("now_row__score"),
            score_then=F("then_row__score"),
            change=ExpressionWrapper(
                F("now_row__score") - F("then_row__score"), output_field=IntegerField()
            ),
            band_now=F("now_row__band"),
            override_now=F("now_row__override_id"),
            components_now=F("now_row__components"),
            components_then=F("then_row__components"),
        )
        .select_related("owner")
    )
    down = paired.filter(change__lt=0).order_by("change", "name", "pk")[:MOVERS_LIMIT]
    up = paired.filter(change__gt=0).order_by("-change", "name", "pk")[:MOVERS_LIMIT]
    return Movers(
        day=day,
        since=since,
        window=window,
        down=[_mover(a) for a in down],
        up=[_mover(a) for a in up],
    )


def _mover(account: Any) -> Mover:
    overridden = account.override_now is not None
    return Mover(
        account=account,
        score_then=account.score_then,
        score_now=account.score_now,
        band_now=account.band_now,
        overridden=overridden,
        moves=component_moves(account.components_now, account.components_then),
    )


# --- Data freshness ----------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFreshness:
    name: str
    newest: dt.date | dt.datetime | None
    age_days: int | None  # whole days between the newest row's day and today

    @property
    def is_stale(self) -> bool:
        return self.age_days is None or self.age_days > STALE_AFTER_DAYS

    @property
    def has_time(self) -> bool:
        return isinstance(self.newest, dt.datetime)


@dataclass(frozen=True)
class Freshness:
    sources: list[SourceFreshness]
    last_run: HealthRun | None
    run_age_days: int | None

    @property
    def run_is_stale(self) -> bool:
        return self.run_age_days is None or self.run_age_days > STALE_AFTER_DAYS


def _age(newest: dt.date | dt.datetime | None, *, today: dt.date) -> int | None:
    if newest is None:
        return None
    day = timezone.localdate(newest) if isinstance(newest, dt.datetime) else newest
    return (today - day).days


def data_freshness(*, today: dt.date) -> Freshness:
    """The newest row of each source feeding the score, and the last successful run.

    Company-wide, not scoped: a feed is late for everyone or for no one. Four single-row
    queries (usage's newest day reads one entry of the usage day index).
    """
    newest_usage = UsageRecord.objects.aggregate(newest=Max("day"))["newest"]
    newest_ticket = SupportTicket.objects.aggregate(newest=Max("opened_at"))["newest"]
    newest_answer = newest_answer_time()
    last_run = (
        HealthRun.objects.filter(status=HealthRun.Status.SUCCEEDED)
        .order_by("-day", "-finished_at")
        .first()
    )
    sources = [
        SourceFreshness("Product usage", newest_usage, _age(newest_usage, today=today)),
        SourceFreshness("Support tickets", newest_ticket, _age(newest_ticket, today=today)),
        SourceFreshness("Survey answers", newest_answer, _age(newest_answer, today=today)),
    ]
    return Freshness(
        sources=sources,
        last_run=last_run,
        run_age_days=_age(last_run.day, today=today) if last_run else None,
    )


@dataclass(frozen=True)
class StaleScores:
    day: dt.date
    scored: int
    stale: int


def stale_scores(accounts: QuerySet[Account] | None, *, day: dt.date) -> StaleScores:
    """Scores of `day` in scope, and how many rest on usage older than 3 days (or none).
    `accounts` None is every account: the day's index range alone, with no semi-join of
    50,000 ids.

    Mirrors HealthScore.is_stale in SQL: one aggregate query.
    """
    cutoff = day - dt.timedelta(days=STALE_AFTER_DAYS)
    scores = HealthScore.objects.filter(day=day)
    if accounts is not None:
        scores = scores.filter(account__in=accounts.order_by().values("pk"))
    # Counting `day` (never null) rather than the id lets the (day, usage_through) index
    # answer the whole-portfolio count without reading a score row.
    totals = scores.order_by().aggregate(
        scored=Count("day"),
        stale=Count("day", filter=Q(usage_through__isnull=True) | Q(usage_through__lt=cutoff)),
    )
    return StaleScores(day=day, scored=totals["scored"], stale=totals["stale"])


# --- Nightly rollups (HealthBandTrend, HealthMover) -----------------------------------------


@dataclass(frozen=True)
class RollupScope:
    """The snapshot scope a page's account set is exactly equal to."""

    scope: str
    key: str


def rollup_scope_for(
    *,
    user: User,
    segment: Segment | None,
    team: Team | None,
    csm: User | None,
) -> RollupScope | None:
    """The one nightly scope whose accounts are exactly the viewer's visible accounts under
    these filters, or None when no single scope is (then the page computes live).

    Someone who sees every account gets the company, or the one filter's scope. A CSM sees
    their own book and their team's accounts: filtered by their team, that is the team's
    scope (their own accounts in the team are in it; any outside it are not matched by the
    filter); filtered by themselves, their own scope. Unfiltered, it is the team's scope
    when they own no account outside their team (one indexed EXISTS on the owner; a
    portfolio's CSM book can be a team of thousands of accounts), their own scope when they
    have no team. Anything else (another CSM, a segment) is computed live over the book.
    """
    filters = [f for f in (segment, team, csm) if f is not None]
    if len(filters) > 1:
        return None
    Scope = RetentionSnapshot.Scope
    if user.sees_all_accounts:
        if segment is not None:
            return RollupScope(Scope.SEGMENT, str(segment.pk))
        if team is not None:
            return RollupScope(Scope.TEAM, str(team.pk))
        if csm is not None:
            return RollupScope(Scope.CSM, str(csm.pk))
        return RollupScope(Scope.COMPANY, "")
    if team is not None and user.team_id is not None and team.pk == user.team_id:
        return RollupScope(Scope.TEAM, str(team.pk))
    if csm is not None and csm.pk == user.pk:
        return RollupScope(Scope.CSM, str(user.pk))
    if filters:
        return None
    if user.team_id is None:
        return RollupScope(Scope.CSM, str(user.pk))
    owned_elsewhere = Account.objects.filter(owner=user).exclude(team_id=user.team_id)
    if not owned_elsewhere.exists():
        return RollupScope(Scope.TEAM, str(user.team_id))
    return None


@dataclass(frozen=True)
class StoredTrend:
    trend: BandTrend
    computed_at: dt.datetime | None  # None: the nightly job has not run yet


def band_trend_stored(scope: RollupScope) -> StoredTrend:
    """The scope's band trend as the nightly job stored it; one query on the
    (scope, scope_key, day, band) unique index."""
    rows = list(
        HealthBandTrend.objects.filter(scope=scope.scope, scope_key=scope.key)
        .order_by("day")
        .values_list("day", "band", "accounts", "arr", "computed_at")
    )
    days = sorted({row[0] for row in rows})
    position = {day: i for i, day in enumerate(days)}
    counts = {band: [0] * len(days) for band in SCORED_BANDS}
    arr = {band: [Decimal("0")] * len(days) for band in SCORED_BANDS}
    for day, band, accounts, band_arr, _computed in rows:
        if band in counts:
            counts[band][position[day]] = accounts
            arr[band][position[day]] = band_arr
    return StoredTrend(
        trend=BandTrend(days=days, accounts=counts, arr=arr),
        computed_at=max((row[4] for row in rows), default=None),
    )


def stored_moves(moves: list[dict[str, Any]] | None) -> list[ComponentMove]:
    """A mover's components as the nightly job stored them."""
    return [
        ComponentMove(measure=m["measure"], label=m["label"], points=int(m["points"]))
        for m in moves or []
    ]


def health_movers_stored(
    scope: RollupScope, *, day: dt.date, window: int
) -> tuple[Movers, dt.datetime | None]:
    """The scope's movers as ranked by the nightly job, and when it ran (None: no row);
    one query. `day` is used when the scope has no mover."""
    rows = list(
        HealthMover.objects.filter(scope=scope.scope, scope_key=scope.key, window=window)
        .select_related("account__owner")
        .order_by("direction", "rank")
    )
    if rows:
        day = rows[0].day
    down: list[Mover] = []
    up: list[Mover] = []
    for row in rows:
        mover = Mover(
            account=row.account,
            score_then=row.score_then,
            score_now=row.score_now,
            band_now=row.band_now,
            overridden=row.overridden,
            moves=stored_moves(row.moves),
        )
        (down if row.direction == HealthMover.Direction.DOWN else up).append(mover)
    movers = Movers(day=day, since=day - dt.timedelta(days=window), window=window, down=down, up=up)
    return movers, max((row.computed_at for row in rows), default=None)


@dataclass(frozen=True)
class StoredToday:
    distribution: BandDistribution
    stale: StaleScores | None  # None: nothing was scored when the job ran
    computed_at: dt.datetime


def band_today_stored(scope: RollupScope) -> StoredToday | None:
    """The scope's distribution today and its stale scores as the nightly job stored them,
    or None when it has not stored this scope (then the page counts live); one query on
    the (scope, scope_key, band) unique index."""
    rows = list(
        HealthBandToday.objects.filter(scope=scope.scope, scope_key=scope.key).values_list(
            "band", "accounts", "arr", "day", "scores", "stale_scores", "computed_at"
        )
    )
    if not rows:
        return None
    day = rows[0][3]
    stale = None
    if day is not None:
        stale = StaleScores(
            day=day, scored=sum(row[4] for row in rows), stale=sum(row[5] for row in rows)
        )
    return StoredToday(
        distribution=_distribution((row[0], row[1], row[2]) for row in rows),
        stale=stale,
        computed_at=max(row[6] for row in rows),
    )
