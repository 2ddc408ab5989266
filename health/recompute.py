"""The nightly recompute: every account's health for one day, set-based.

The work splits into account-id chunks. Each chunk runs a fixed handful of grouped queries
(usage, tickets, sentiment, engagement, overrides, scorecard membership) and one bulk
upsert, so a chunk costs the same whether it is run by one worker in a loop or fanned out
as a Celery chord over several machines. Each chunk is idempotent: rerunning it replaces
that chunk's rows for the day. The finishing step, run once after all chunks, copies the
day's scores onto the accounts, raises alerts and records the run.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import NamedTuple

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Max, Min, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from accounts.models import Account, Interaction, Segment, SupportTicket, UsageRecord
from accounts.selectors.segments import segment_accounts
from cs_platform.copy_staging import copy_to_staging
from feedback.selectors import sentiment_by_account
from health.models import HealthOverride, HealthScore, Measure, Scorecard, ScorecardVersion
from health.scoring import ComponentRule, band_for, score_account

# Accounts per chunk. 5,000 accounts x 60 days of usage is ~300,000 rows aggregated by the
# database into 5,000 small dicts: memory stays flat whatever the number of accounts.
CHUNK_SIZE = 5_000
# Rows per INSERT ... ON CONFLICT statement.
UPSERT_BATCH = 1_000
USAGE_WINDOW_DAYS = 30
SENTIMENT_WINDOW_DAYS = 180


@dataclass(frozen=True)
class ScorecardPlan:
    """Which scorecard version applies to which account, decided once per run."""

    version_ids: dict[int, int]  # scorecard id -> current version id
    segment_scorecards: list[tuple[int, Segment]]  # (scorecard id, segment) by priority
    default_scorecard_id: int


def scorecard_plan_load() -> ScorecardPlan:
    scorecards = list(Scorecard.objects.filter(is_active=True).select_related("segment"))
    latest = {
        row["scorecard_id"]: row["number"]
        for row in ScorecardVersion.objects.filter(scorecard__in=scorecards)
        .values("scorecard_id")
        .annotate(number=Max("number"))
    }
    version_ids = (
        dict(
            ScorecardVersion.objects.filter(
                Q(
                    *[Q(scorecard_id=sid, number=num) for sid, num in latest.items()],
                    _connector=Q.OR,
                )
            ).values_list("scorecard_id", "pk")
        )
        if latest
        else {}
    )
    default = next((s for s in scorecards if s.segment_id is None and s.pk in version_ids), None)
    if default is None:
        # Every account must be scorable: recreate the default rather than fail the night.
        scorecard_default_restore()
        return scorecard_plan_load()
    segment_scorecards = [
        (s.pk, s.segment)
        for s in sorted(scorecards, key=lambda s: (s.priority, s.name))
        if s.segment is not None and s.pk in version_ids
    ]
    return ScorecardPlan(
        version_ids=version_ids,
        segment_scorecards=segment_scorecards,
        default_scorecard_id=default.pk,
    )


def scorecard_default_restore() -> None:
    """Bring back an active default scorecard with PRODUCT.md's components if none exists."""
    from health.defaults import DEFAULT_COMPONENTS

    with transaction.atomic():
        scorecard, _ = Scorecard.objects.get_or_create(
            segment=None, is_active=True, defaults={"name": "Default", "priority": 1000}
        )
        if not scorecard.versions.exists():
            ScorecardVersion.objects.create(
                scorecard=scorecard,
                number=1,
                components=DEFAULT_COMPONENTS,
                note="Restored default scorecard",
            )


def account_id_chunks(*, day: dt.date, chunk_size: int = CHUNK_SIZE) -> Iterator[tuple[int, int]]:
    """Half-open id ranges [from, to) covering every account, each about chunk_size wide."""
    bounds = Account.objects.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return
    start = bounds["low"]
    while start <= bounds["high"]:
        yield start, start + chunk_size
        start += chunk_size


def scored_accounts(*, day: dt.date, id_from: int, id_to: int) -> list[int]:
    """Accounts that are customers on `day`: started, and not churned on or before it."""
    return list(
        Account.objects.filter(pk__gte=id_from, pk__lt=id_to, start_date__lte=day)
        .filter(Q(churned_on__isnull=True) | Q(churned_on__gt=day))
        .order_by()
        .values_list("pk", flat=True)
    )


def _end_of(day: dt.date) -> dt.datetime:
    """Start of the day after `day` in the site's time zone: the exclusive end of `day`."""
    return dt.datetime.combine(
        day + dt.timedelta(days=1), dt.time.min, tzinfo=timezone.get_current_timezone()
    )


def raw_measures(
    *, day: dt.date, id_from: int, id_to: int, account_ids: list[int]
) -> tuple[dict[int, dict[str, float | None]], dict[int, dt.date | None]]:
    """The raw value of every measure for every account of the chunk, in a few queries,
    and the newest usage day seen for each (for the staleness flag)."""
    recent_from = day - dt.timedelta(days=USAGE_WINDOW_DAYS - 1)
    previous_from = recent_from - dt.timedelta(days=USAGE_WINDOW_DAYS)
    recent = Q(day__gte=recent_from)
    previous = Q(day__lt=recent_from)
    usage = {
        row["account_id"]: row
        for row in UsageRecord.objects.filter(
            account_id__gte=id_from, account_id__lt=id_to, day__gte=previous_from, day__lte=day
        )
        .order_by()
        .values("account_id")
        .annotate(
            recent_rows=Count("day", filter=recent),  # "day", not "pk": the index covers it
            recent_active=Sum("active_users", filter=recent),
            recent_seats=Sum("licensed_seats", filter=recent),
            recent_features=Max("key_features_used", filter=recent),
            previous_rows=Count("day", filter=previous),
            previous_active=Sum("active_users", filter=previous),
            through=Max("day"),
        )
    }

    until = _end_of(day)
    tickets_since = until - dt.timedelta(days=USAGE_WINDOW_DAYS)
    still_open = Q(closed_at__isnull=True) | Q(closed_at__gte=until)
    urgent = Q(priority__in=[SupportTicket.Priority.HIGH, SupportTicket.Priority.URGENT])
    tickets = {
        row["account_id"]: row["open_count"] + row["urgent_count"]
        for row in SupportTicket.objects.filter(
            account_id__gte=id_from,
            account_id__lt=id_to,
            opened_at__gte=tickets_since,
            opened_at__lt=until,
        )
        .order_by()
        .values("account_id")
        .annotate(
            open_count=Count("pk", filter=still_open), urgent_count=Count("pk", filter=urgent)
        )
    }
    # With no ticket source connected at all, support is "no data", not "no problems".
    ticket_source_connected = bool(tickets) or SupportTicket.objects.exists()

    sentiment = sentiment_by_account(
        account_id_from=id_from,
        account_id_to=id_to,
        since=until - dt.timedelta(days=SENTIMENT_WINDOW_DAYS),
        until=until,
    )
    last_contact = dict(
        Interaction.objects.filter(
            account_id__gte=id_from, account_id__lt=id_to, occurred_on__lte=day
        )
        .order_by()
        .values("account_id")
        .annotate(last=Max("occurred_on"))
        .values_list("account_id", "last")
    )

    key_features = settings.HEALTH_KEY_FEATURES
    measures = Measure.values  # a property that rebuilds its list on every access
    result: dict[int, dict[str, float | None]] = {}
    usage_through: dict[int, dt.date | None] = {}
    for account_id in account_ids:
        u = usage.get(account_id)
        raws: dict[str, float | None] = dict.fromkeys(measures)
        if u and u["recent_rows"]:
            if u["recent_seats"]:
                raws[Measure.USAGE] = u["recent_active"] / u["recent_seats"]
            raws[Measure.ADOPTION] = min(1.0, (u["recent_features"] or 0) / key_features)
            if u["previous_rows"] and u["previous_active"]:
                recent_mean = u["recent_active"] / u["recent_rows"]
                previous_mean = u["previous_active"] / u["previous_rows"]
                raws[Measure.USAGE_TREND] = (recent_mean - previous_mean) / previous_mean
        if ticket_source_connected:
            raws[Measure.SUPPORT] = float(tickets.get(account_id, 0))
        raws[Measure.SENTIMENT] = sentiment.get(account_id)
        if account_id in last_contact:
            raws[Measure.ENGAGEMENT] = float((day - last_contact[account_id]).days)
        result[account_id] = raws
        usage_through[account_id] = u["through"] if u else None
    return result, usage_through


def _scorecard_by_account(
    plan: ScorecardPlan, *, day: dt.date, id_from: int, id_to: int
) -> dict[int, int]:
    """account id -> scorecard id, first match by priority; one query per segment scorecard."""
    assigned: dict[int, int] = {}
    for scorecard_id, segment in plan.segment_scorecards:
        ids = (
            segment_accounts(segment, today=day)
            .filter(pk__gte=id_from, pk__lt=id_to)
            .order_by()
            .values_list("pk", flat=True)
        )
        for account_id in ids:
            assigned.setdefault(account_id, scorecard_id)
    return assigned


class ScoreRow(NamedTuple):
    """One HealthScore row on its way to the table: a tuple, because building 50,000 model
    instances a night costs more than scoring the accounts."""

    account_id: int
    day: dt.date
    score: int
    band: str
    computed_score: int
    computed_band: str
    components: dict[str, dict[str, float | int]]
    missing: list[str]
    scorecard_version_id: int
    override_id: int | None
    usage_through: dt.date | None


def health_scores_recompute_chunk(
    *, day: dt.date, id_from: int, id_to: int, plan: ScorecardPlan | None = None
) -> int:
    """Score every account with id in [id_from, id_to) for `day`; returns rows written."""
    plan = plan or scorecard_plan_load()
    account_ids = scored_accounts(day=day, id_from=id_from, id_to=id_to)
    raws, usage_through = raw_measures(
        day=day, id_from=id_from, id_to=id_to, account_ids=account_ids
    )
    scorecard_of = _scorecard_by_account(plan, day=day, id_from=id_from, id_to=id_to)
    versions = {v.pk: v for v in ScorecardVersion.objects.filter(pk__in=plan.version_ids.values())}
    rules = {pk: [ComponentRule.from_json(c) for c in v.components] for pk, v in versions.items()}
    overrides: dict[int, HealthOverride] = {}
    for override in HealthOverride.objects.filter(
        account_id__gte=id_from,
        account_id__lt=id_to,
        revoked_at__isnull=True,
        expires_on__gte=day,
        created_at__lt=_end_of(day),
    ).order_by("account_id", "created_at"):
        overrides[override.account_id] = override  # the newest wins

    rows: list[ScoreRow] = []
    for account_id in account_ids:
        version_id = plan.version_ids[scorecard_of.get(account_id, plan.default_scorecard_id)]
        version = versions[version_id]
        result = score_account(
            raws[account_id],
            rules[version_id],
            red_below=version.red_below,
            green_from=version.green_from,
        )
        if result is None:
            continue
        override = overrides.get(account_id)
        shown = override.score if override else result.score
        rows.append(
            ScoreRow(
                account_id=account_id,
                day=day,
                score=shown,
                band=(
                    band_for(shown, red_below=version.red_below, green_from=version.green_from)
                    if override
                    else result.band
                ),
                computed_score=result.score,
                computed_band=result.band,
                components=result.components,
                missing=result.missing,
                scorecard_version_id=version_id,
                override_id=override.pk if override else None,
                usage_through=usage_through[account_id],
            )
        )
    health_scores_replace(day=day, id_from=id_from, id_to=id_to, rows=rows)
    return len(rows)


def health_scores_recompute_chunks(
    *, day: dt.date, plan: ScorecardPlan, progress: Callable[[int], None] | None = None
) -> int:
    """Every chunk of `day` in this process; returns rows written.

    On PostgreSQL, outside a transaction, HEALTH_RECOMPUTE_THREADS chunks run at once, each on
    its own connection: while one thread waits on the database another scores in Python,
    and the database works on both cores. Inside a transaction (tests, a caller's atomic
    block) other connections would not see its data, so chunks run one after another.
    """
    chunks = list(account_id_chunks(day=day))
    threads = settings.HEALTH_RECOMPUTE_THREADS
    if threads <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        written = 0
        for id_from, id_to in chunks:
            rows = health_scores_recompute_chunk(day=day, id_from=id_from, id_to=id_to, plan=plan)
            written += rows
            if progress:
                progress(rows)
        return written

    def run_chunk(id_from: int, id_to: int) -> int:
        try:
            return health_scores_recompute_chunk(day=day, id_from=id_from, id_to=id_to, plan=plan)
        finally:
            connection.close()  # this thread's own connection

    written = 0
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in as_completed([pool.submit(run_chunk, *chunk) for chunk in chunks]):
            rows = future.result()
            written += rows
            if progress:
                progress(rows)
    return written


_SCORE_COLUMNS = (
    "score",
    "band",
    "computed_score",
    "computed_band",
    "components",
    "missing",
    "scorecard_version_id",
    "override_id",
    "usage_through",
)


def health_scores_replace(*, day: dt.date, id_from: int, id_to: int, rows: list[ScoreRow]) -> None:
    """Make the stored rows of `day` for accounts in [id_from, id_to) exactly `rows`, in one
    transaction: new rows inserted, changed rows updated, unchanged rows left alone (a rerun
    rewrites nothing), and rows of accounts no longer scored (churn backdated, data removed)
    deleted.

    On PostgreSQL the rows travel by COPY, its fastest load: straight into the table when the
    range has no rows for the day yet (the night's first run), else into a staging table
    (cs_platform.copy_staging) and from there in one INSERT ... SELECT ... ON CONFLICT
    (about six times faster than multi-row VALUES, which PostgreSQL parses statement by
    statement). Elsewhere bulk_create does the same upsert.
    """
    in_range = HealthScore.objects.filter(day=day, account_id__gte=id_from, account_id__lt=id_to)
    if connection.vendor != "postgresql":
        with transaction.atomic():
            in_range.exclude(account_id__in=[r.account_id for r in rows]).delete()
            HealthScore.objects.bulk_create(
                [HealthScore(**r._asdict()) for r in rows],
                batch_size=UPSERT_BATCH,
                update_conflicts=True,
                unique_fields=["account", "day"],
                update_fields=[c.removesuffix("_id") for c in _SCORE_COLUMNS] + ["computed_at"],
            )
        return
    table = HealthScore._meta.db_table
    columns = ", ".join(_COPY_COLUMNS)
    buffer = _copy_buffer(rows)
    with transaction.atomic(), connection.cursor() as cursor:
        if not in_range.exists():
            cursor.cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)
            return
        staging = copy_to_staging(cursor, table=table, columns=_COPY_COLUMNS, rows=buffer)
        cursor.execute(
            f"DELETE FROM {table} s WHERE s.day = %s AND s.account_id >= %s AND s.account_id < %s"
            f" AND NOT EXISTS (SELECT 1 FROM {staging} i WHERE i.account_id = s.account_id)",
            [day, id_from, id_to],
        )
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in (*_SCORE_COLUMNS, "computed_at"))
        changed = " OR ".join(f"{table}.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in _SCORE_COLUMNS)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} "
            f"ON CONFLICT (account_id, day) DO UPDATE SET {updates} WHERE {changed}"
        )


_COPY_COLUMNS = ("account_id", "day", *_SCORE_COLUMNS, "computed_at")


def _copy_json(value: object) -> str:
    """JSON in COPY's text format. JSON text never holds a raw tab, newline or carriage
    return (they are escaped as \\t, \\n, \\r), so only backslashes need doubling."""
    return orjson.dumps(value).decode().replace("\\", "\\\\")


def _copy_buffer(rows: list[ScoreRow]) -> io.StringIO:
    """The rows as COPY text lines. Everything but the JSON is a number, a date or a band
    name, none of which can hold a tab, a newline or a backslash."""
    now = timezone.now().isoformat()
    buffer = io.StringIO()
    write = buffer.write
    for r in rows:
        write(
            f"{r.account_id}\t{r.day.isoformat()}\t{r.score}\t{r.band}\t{r.computed_score}\t"
            f"{r.computed_band}\t{_copy_json(r.components)}\t{_copy_json(r.missing)}\t"
            f"{r.scorecard_version_id}\t{_NULL if r.override_id is None else r.override_id}\t"
            f"{_NULL if r.usage_through is None else r.usage_through.isoformat()}\t{now}\n"
        )
    buffer.seek(0)
    return buffer


_NULL = "\\N"


# An alert for a drop is raised once; the same account is not alerted again for a drop
# within this many days (the drop stays visible on consecutive nights).
DROP_WINDOW_DAYS = 7
DROP_POINTS = 15
ALERT_DUE_IN_DAYS = 3


def health_alerts_raise(*, day: dt.date) -> int:
    """Tasks for owners of accounts that entered red on `day` or fell 15+ points in 7 days.

    Keyed by (account, dedupe_key), so a rerun of the day inserts nothing new.
    """
    from accounts.models import Task

    def score_on(offset_days: int, field: str) -> Subquery:
        return Subquery(
            HealthScore.objects.filter(
                account_id=OuterRef("account_id"), day=day - dt.timedelta(days=offset_days)
            ).values(field)[:1]
        )

    # Only the candidates leave the database: accounts red today and not red yesterday, or
    # 15+ points below their score a week ago (each lookup one probe of the unique index).
    candidates = (
        HealthScore.objects.filter(day=day)
        .annotate(
            previous_band=score_on(1, "band"),
            week_ago=score_on(DROP_WINDOW_DAYS, "score"),
        )
        .filter(
            (Q(band="red", previous_band__isnull=False) & ~Q(previous_band="red"))
            | Q(week_ago__gte=F("score") + DROP_POINTS)
        )
        .values_list(
            "account_id", "score", "band", "previous_band", "week_ago", "account__owner_id"
        )
    )
    recent_drop_keys = [
        f"health-drop:{(day - dt.timedelta(days=n)).isoformat()}"
        for n in range(1, DROP_WINDOW_DAYS)
    ]
    already_alerted = set(
        Task.objects.filter(dedupe_key__in=recent_drop_keys).values_list("account_id", flat=True)
    )
    tasks: list[Task] = []
    due = day + dt.timedelta(days=ALERT_DUE_IN_DAYS)
    for account_id, score, band, previous_band, before, owner_id in candidates:
        if band == "red" and previous_band is not None and previous_band != "red":
            tasks.append(
                Task(
                    account_id=account_id,
                    owner_id=owner_id,
                    title="Health dropped into red: review the account",
                    description=f"Health went from {previous_band} to red on {day:%Y-%m-%d}.",
                    due_date=due,
                    priority=Task.Priority.HIGH,
                    source=Task.Source.ALERT,
                    dedupe_key=f"health-red:{day.isoformat()}",
                )
            )
            continue  # one alert per account and day: entering red says it all
        if (
            before is not None
            and before - score >= DROP_POINTS
            and account_id not in already_alerted
        ):
            tasks.append(
                Task(
                    account_id=account_id,
                    owner_id=owner_id,
                    title=f"Health fell {before - score} points in {DROP_WINDOW_DAYS} days",
                    description=f"From {before} to {score} between "
                    f"{day - dt.timedelta(days=DROP_WINDOW_DAYS):%Y-%m-%d} and {day:%Y-%m-%d}.",
                    due_date=due,
                    priority=Task.Priority.HIGH,
                    source=Task.Source.ALERT,
                    dedupe_key=f"health-drop:{day.isoformat()}",
                )
            )
    before_count = Task.objects.filter(
        dedupe_key__in=[f"health-red:{day.isoformat()}", f"health-drop:{day.isoformat()}"]
    ).count()
    Task.objects.bulk_create(tasks, batch_size=UPSERT_BATCH, ignore_conflicts=True)
    after_count = Task.objects.filter(
        dedupe_key__in=[f"health-red:{day.isoformat()}", f"health-drop:{day.isoformat()}"]
    ).count()
    return after_count - before_count


def account_health_refresh(*, day: dt.date) -> int:
    """Copy `day`'s scores onto Account.health_score/band, unless a later day is stored.

    One UPDATE ... FROM joining the day's scores, touching only accounts whose score or band
    changed, and one clearing accounts that have no score that day.
    """
    from django.db.models import Exists, OuterRef

    latest_day = HealthScore.objects.aggregate(latest=Max("day"))["latest"]
    if latest_day is not None and latest_day > day:
        return 0
    accounts = Account._meta.db_table
    scores = HealthScore._meta.db_table
    # SQLite spells IS DISTINCT FROM as IS NOT.
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {accounts} SET health_score = h.score, health_band = h.band "
            f"FROM {scores} h WHERE h.account_id = {accounts}.id AND h.day = %s "
            f"AND ({accounts}.health_score {differs} h.score OR {accounts}.health_band <> h.band)",
            [day],
        )
        changed = cursor.rowcount
    cleared = (
        Account.objects.filter(health_score__isnull=False)
        .exclude(Exists(HealthScore.objects.filter(account=OuterRef("pk"), day=day)))
        .update(health_score=None, health_band="")
    )
    return changed + cleared
