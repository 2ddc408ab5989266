"""Team performance per CSM and period, recomputed nightly with the metric snapshots.

Counted live, the team performance page reads every account, answer, interaction and task
of the CSMs it shows, and again of every CSM to sort and chart them. Here the same figures
are worked out once a night for every active CSM and every period the page offers
(selectors_team.rollup_periods: the picker's months and quarters, and the periods they are
compared with), through the functions the page itself uses (selectors_team.csm_figures), so
a stored row equals what the page would count on the run's day. The page then reads one
row per CSM.

One grouped read per source for the whole window, not one per period:

- books (accounts, ARR today) and time to value: the CSMs' accounts, each with its first
  exit from onboarding;
- answers, interactions logged and tasks closed: counts per CSM, account team and calendar
  month (in the configured time zone), summed into each period;
- overdue tasks: per owner and account team, today;
- average health, NRR, GRR and renewal rate: the CSM scope's retention snapshots (written
  before this job) and metric snapshots (written earlier in this run).

Two views. Admins, managers and executives count every account ("all"); a CSM counts their
team's accounts, so a teammate's figures for them leave out accounts kept on another team
("team"). A "team" row is stored only where it differs from the "all" row: a team whose
books stay on the team costs no extra rows.

Every row is rewritten in one transaction: a rerun replaces them, never duplicates.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import Account, Interaction, Task
from cs_platform.bulk_rows import rows_write
from feedback.metrics import ScoreCounts, feedback_time_zone, local_midnight
from feedback.models import SurveyAnswer
from reports.models import CsmPeriodRollup
from reports.selectors_team import (
    ROLLUP_FIELDS,
    BookRow,
    CsmRef,
    CsmSources,
    Figures,
    active_csms,
    activity_figures,
    books_of,
    csm_refs,
    first_onboarding_exit,
    metric_rows_by_csm,
    retention_rows_by_csm,
    rollup_fields,
    rollup_periods,
    score_aggregates,
    score_counts_of_row,
    snapshot_figures,
    snapshot_names_for,
    ttv_medians,
)
from reports.targets import ReportPeriod, month_add

ALL = CsmPeriodRollup.View.ALL
TEAM = CsmPeriodRollup.View.TEAM

# (CSM, account team, month) -> a count, or the answer counts
Monthly = dict[tuple[int, int | None, dt.date], Any]


def _month_of(value: dt.date | dt.datetime) -> dt.date:
    """TruncMonth gives a date, or an aware datetime in the configured zone: its month."""
    if isinstance(value, dt.datetime):
        return value.date().replace(day=1)
    return value.replace(day=1)


@dataclass
class _Reads:
    """The raw counts of every active CSM over the whole window, one query each."""

    books: list[tuple[int, int | None, BookRow]] = field(default_factory=list)
    scores: Monthly = field(default_factory=dict)
    logged: Monthly = field(default_factory=dict)
    closed: Monthly = field(default_factory=dict)
    overdue: dict[tuple[int, int | None], int] = field(default_factory=dict)


def _reads_load(ids: Sequence[int], *, first: dt.date, end: dt.date, today: dt.date) -> _Reads:
    reads = _Reads()
    zone = feedback_time_zone()
    since, until = local_midnight(first), local_midnight(end)
    for owner_id, team_id, start, first_exit, status, arr in (
        Account.objects.filter(owner_id__in=ids)
        .order_by()
        .annotate(first_exit=first_onboarding_exit())
        .values_list("owner_id", "team_id", "start_date", "first_exit", "lifecycle_status", "arr")
    ):
        reads.books.append((owner_id, team_id, (owner_id, start, first_exit, status, arr)))

    for row in (
        SurveyAnswer.objects.filter(
            answered_at__gte=since, answered_at__lt=until, account__owner_id__in=ids
        )
        .order_by()
        .annotate(month=TruncMonth("answered_at", tzinfo=zone))
        .values("account__owner_id", "account__team_id", "month")
        .annotate(**score_aggregates(Q()))
    ):
        key = (row["account__owner_id"], row["account__team_id"], _month_of(row["month"]))
        reads.scores[key] = score_counts_of_row(row)

    for author_id, team_id, month, count in (
        Interaction.objects.filter(author_id__in=ids, occurred_on__gte=first, occurred_on__lt=end)
        .order_by()
        .annotate(month=TruncMonth("occurred_on"))
        .values("author_id", "account__team_id", "month")
        .annotate(n=Count("pk"))
        .values_list("author_id", "account__team_id", "month", "n")
    ):
        reads.logged[(author_id, team_id, _month_of(month))] = count

    for closer_id, team_id, month, count in (
        Task.objects.filter(
            status=Task.Status.DONE,
            completed_by_id__in=ids,
            completed_at__gte=since,
            completed_at__lt=until,
        )
        .order_by()
        .annotate(month=TruncMonth("completed_at", tzinfo=zone))
        .values("completed_by_id", "account__team_id", "month")
        .annotate(n=Count("pk"))
        .values_list("completed_by_id", "account__team_id", "month", "n")
    ):
        reads.closed[(closer_id, team_id, _month_of(month))] = count

    for owner_id, team_id, count in (
        Task.objects.filter(status=Task.Status.OPEN, owner_id__in=ids, due_date__lt=today)
        .order_by()
        .values("owner_id", "account__team_id")
        .annotate(n=Count("pk"))
        .values_list("owner_id", "account__team_id", "n")
    ):
        reads.overdue[(owner_id, team_id)] = count
    return reads


def _add_scores(a: ScoreCounts, b: ScoreCounts) -> ScoreCounts:
    return ScoreCounts(
        promoters=a.promoters + b.promoters,
        passives=a.passives + b.passives,
        detractors=a.detractors + b.detractors,
        csat_satisfied=a.csat_satisfied + b.csat_satisfied,
        csat_answers=a.csat_answers + b.csat_answers,
    )


def _view_sources(
    reads: _Reads,
    *,
    periods: Mapping[str, ReportPeriod],
    counted: Callable[[int, int | None], bool],
    today: dt.date,
) -> tuple[CsmSources, set[int]]:
    """The activity sources of one view: the rows whose (CSM, account team) `counted`
    accepts, months summed into each period that holds them; and the CSMs some row of
    whom it left out (for everyone else this view equals the one that counts all)."""
    keys_of_month: dict[dt.date, list[str]] = defaultdict(list)
    for key, period in periods.items():
        for month in period.months:
            keys_of_month[month].append(key)
    left_out: set[int] = set()

    def kept(pk: int, team_id: int | None) -> bool:
        if counted(pk, team_id):
            return True
        left_out.add(pk)
        return False

    def by_period(monthly: Monthly, add: Any, zero: Any) -> dict[tuple[int, str], Any]:
        out: dict[tuple[int, str], Any] = {}
        for (pk, team_id, month), value in monthly.items():
            if not kept(pk, team_id):
                continue
            for key in keys_of_month.get(month, ()):
                out[(pk, key)] = add(out.get((pk, key), zero), value)
        return out

    found = CsmSources()
    books = [row for pk, team_id, row in reads.books if kept(pk, team_id)]
    found.books = books_of(books)
    found.scores = by_period(reads.scores, _add_scores, ScoreCounts())
    found.logged = by_period(reads.logged, int.__add__, 0)
    found.closed = by_period(reads.closed, int.__add__, 0)
    for (pk, team_id), count in reads.overdue.items():
        if kept(pk, team_id):
            found.overdue[pk] = found.overdue.get(pk, 0) + count
    if left_out:
        # Only the CSMs this view differs for are read in it: medians cost the most here.
        books = [row for row in books if row[0] in left_out]
    found.ttv = ttv_medians([row[:3] for row in books], periods, today=today)
    return found, left_out


# The rollup's columns, in the order _rollup_rows gives their values.
COLUMNS = ("view", "period", "period_start", "csm", "as_of", "computed_at", *ROLLUP_FIELDS)


def _rollup_rows(
    refs: Sequence[CsmRef],
    periods: Mapping[str, ReportPeriod],
    *,
    everyone: CsmSources,
    own_team: CsmSources,
    differs: set[int],
    today: dt.date,
    computed_at: Any,
) -> Iterator[tuple[Any, ...]]:
    # Period by period: a page reads one period of every CSM, which then sits on a few
    # consecutive pages of the table rather than one page per CSM.
    for key, period in periods.items():
        for ref in refs:
            head = (period.kind, period.start, ref.pk, today, computed_at)
            snapshots = snapshot_figures(everyone, ref.pk, key, period, today=today)
            figures: Figures = {
                **snapshots,
                **activity_figures(everyone, ref.pk, key, period, today=today),
            }
            yield (ALL, *head, *_values(figures, everyone, ref.pk, key))
            if ref.team_id is None or ref.pk not in differs:
                continue
            own: Figures = {
                **snapshots,
                **activity_figures(own_team, ref.pk, key, period, today=today),
            }
            if own != figures:
                yield (TEAM, *head, *_values(own, own_team, ref.pk, key))


def _values(figures: Figures, found: CsmSources, pk: int, key: str) -> tuple[Any, ...]:
    fields = rollup_fields(figures, found.scores.get((pk, key), ScoreCounts()))
    return tuple(fields[name] for name in ROLLUP_FIELDS)


@transaction.atomic
def team_rollups_recompute(*, today: dt.date) -> int:
    """Rewrite the team performance rollup of every active CSM and every period the page
    offers, as of `today`; returns the rows written. A fixed number of queries whatever
    the number of CSMs and accounts (on SQLite, plus one INSERT per 5,000 rows)."""
    periods = {period.key: period for period in rollup_periods(today)}
    first = min(period.start for period in periods.values())
    end = max(period.end for period in periods.values())
    refs = csm_refs(active_csms().order_by("pk"))
    ids = [ref.pk for ref in refs]
    team_of = {ref.pk: ref.team_id for ref in refs}

    reads = _reads_load(ids, first=first, end=end, today=today)
    everyone, _none = _view_sources(
        reads, periods=periods, counted=lambda _pk, _team: True, today=today
    )
    own_team, differs = _view_sources(
        reads,
        periods=periods,
        counted=lambda pk, team_id: team_id is not None and team_of.get(pk) == team_id,
        today=today,
    )
    keys = [str(pk) for pk in ids]
    months = []
    month = first
    while month < end:
        months.append(month)
        month = month_add(month, 1)
    everyone.retention = retention_rows_by_csm(keys, months)
    everyone.snapshots = metric_rows_by_csm(keys, months, snapshot_names_for(periods.values()))

    CsmPeriodRollup.objects.all().delete()
    # Raw rows through COPY on PostgreSQL: building ~40,000 model instances and preparing
    # each of their values costs more than working the figures out.
    return rows_write(
        CsmPeriodRollup,
        COLUMNS,
        _rollup_rows(
            refs,
            periods,
            everyone=everyone,
            own_team=own_team,
            differs=differs,
            today=today,
            computed_at=CsmPeriodRollup._meta.get_field("computed_at").get_db_prep_save(
                timezone.now(), connection
            ),
        ),
        nullable=True,
    )
