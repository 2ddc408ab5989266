"""The monthly executive report's numbers: one JSON-ready dict, frozen into MonthlyReport.data.

`monthly_report_data_build` reads the raw tables once, for one closed calendar month, and
returns every number and series that the page, the PDF and the CSV show. Nothing
downstream queries again: a later change of contracts, scores or answers does not alter a
published report; regenerating the month builds a new dict (services_monthly).

Why raw rows and not the nightly RetentionSnapshot / MetricSnapshot tables: the report is
built once a month, so it can afford the reads, and building from the rows makes it exact as
of its generation (a regeneration after a contract fix shows the fix without waiting for the
nightly jobs). The revenue figures go through health.retention's own definitions
(`arr_timeline`, `arr_bridge`, the renewal rule) and health.retention_rates, and NPS / CSAT
through feedback.metrics, so the report and the snapshots that dashboards read agree.

The rest of this module is pure: formatting, the written summary, the CSV rows and the
view model that the page and the PDF share, all from the frozen dict alone.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Max, Q, QuerySet

from accounts.models import Account, Team, User
from cs_platform.spreadsheets import spreadsheet_safe
from feedback.metrics import Period, feedback_scores_by_month, feedback_scores_by_team
from feedback.models import SurveyAnswer
from feedback.selectors_insights import product_requests
from health.models import Band, HealthScore
from health.retention import (
    RENEWAL_WINDOW_DAYS,
    RISK_RENEWAL_DAYS,
    ContractRow,
    MonthTotals,
    arr_timeline,
    month_add,
    month_floor,
    month_last_day,
    window_contracts_load,
)
from health.retention_rates import grr, logo_churn_rate, nrr, renewal_rate_arr, renewal_rate_count
from reports.models import (
    Initiative,
    Metric,
    MonthlyReport,
    ReportGeneration,
    ReportSubscription,
)

logger = logging.getLogger(__name__)

# The shape of `data`; a template meeting an older shape can tell (none exists yet).
SCHEMA_VERSION = 1
TREND_MONTHS = 12
# Lists are cut to what an executive reads; each keeps its full count and ARR beside it.
TOP_RISKS = 10
TOP_THEMES = 5
TOP_CHURNED = 10
TOP_RENEWALS = 20
TOP_NEXT_RENEWALS = 10
# How many "biggest changes" the written summary lists after its ARR sentence.
SUMMARY_CHANGES = 4

ZERO = Decimal("0")
MINUS = "\u2212"
_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

# --- Months ------------------------------------------------------------------------------


def month_parse(value: str) -> dt.date:
    """ "2026-10" -> 1 October 2026; ValueError for anything else."""
    match = _MONTH_RE.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a month: use YYYY-MM, e.g. 2026-10.")
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def month_key(month: dt.date) -> str:
    return f"{month:%Y-%m}"


def month_label(month: dt.date) -> str:
    return f"{month:%B %Y}"


def report_month_default(*, today: dt.date) -> dt.date:
    """The month a report is made for by default: the one before today's."""
    return month_add(month_floor(today), -1)


def report_month_check(month: dt.date, *, today: dt.date) -> None:
    """Only a month that is over has a report: its numbers must not move any more."""
    if month_floor(month) >= month_floor(today):
        raise ValueError(
            f"{month_label(month)} is not over yet (today is {today:%d %B %Y}); "
            "a monthly report covers a closed month."
        )


# --- Reading the raw rows ----------------------------------------------------------------


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(value.quantize(Decimal("0.01")))


def _rate(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class _AccountInfo:
    name: str
    team_id: int | None
    owner_id: int | None
    churn_reason: str


def _accounts_load() -> dict[int, _AccountInfo]:
    rows = Account.objects.order_by().values_list(
        "id", "name", "team_id", "owner_id", "churn_reason"
    )
    return {row[0]: _AccountInfo(*row[1:]) for row in rows}


def _arr_on_day(contracts: Iterable[ContractRow], day: dt.date) -> dict[int, Decimal]:
    """Each account's ARR on a day: its live contracts covering it (PRODUCT.md section 3)."""
    arr: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for account_id, start, end, contract_arr in contracts:
        if start <= day <= end:
            arr[account_id] += contract_arr
    return {account_id: value for account_id, value in arr.items() if value}


def _renewing(contracts: Iterable[ContractRow], day: dt.date) -> dict[int, dt.date]:
    """Accounts with a live contract ending in [day, day + 90 days], and the first such end."""
    horizon = day + dt.timedelta(days=RISK_RENEWAL_DAYS)
    first_end: dict[int, dt.date] = {}
    for account_id, _start, end, _arr in contracts:
        if day <= end <= horizon and (account_id not in first_end or end < first_end[account_id]):
            first_end[account_id] = end
    return first_end


def _bridge_by(
    start: Mapping[int, Decimal], end: Mapping[int, Decimal], group_of: Mapping[int, Any] | None
) -> dict[Any, MonthTotals]:
    """The ARR bridge per group (None: one group, the company) in one pass over the accounts,
    with health.retention's reference definition (MonthTotals.add_movement)."""
    totals: dict[Any, MonthTotals] = defaultdict(MonthTotals)
    for account_id in start.keys() | end.keys():
        group = group_of.get(account_id) if group_of is not None else None
        totals[group].add_movement(start.get(account_id, ZERO), end.get(account_id, ZERO))
    return totals


@dataclass(frozen=True, slots=True)
class _DueContract:
    account_id: int
    end_date: dt.date
    arr: Decimal
    successor_arr: Decimal | None  # the ARR of the renewing contract; None if not renewed


def _due_contracts(
    contracts: Sequence[ContractRow], *, first_day: dt.date, last_day: dt.date
) -> list[_DueContract]:
    """Live contracts ending in [first_day, last_day], each with its renewal if any: a live
    contract of the same account starting in (end, end + 30 days] (health.retention's rule)."""
    starts: dict[int, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for account_id, start, _end, arr in contracts:
        starts[account_id].append((start, arr))
    start_days: dict[int, list[dt.date]] = {}
    for account_id, account_starts in starts.items():
        account_starts.sort()
        start_days[account_id] = [start for start, _arr in account_starts]
    window = dt.timedelta(days=RENEWAL_WINDOW_DAYS)
    due = []
    for account_id, _start, end, arr in contracts:
        if not first_day <= end <= last_day:
            continue
        # The first contract starting after the end, if it starts within the window.
        following = bisect_right(start_days[account_id], end)
        successor_arr = None
        if following < len(starts[account_id]):
            successor_start, candidate_arr = starts[account_id][following]
            if successor_start <= end + window:
                successor_arr = candidate_arr
        due.append(_DueContract(account_id, end, arr, successor_arr))
    return due


@dataclass(frozen=True, slots=True)
class _HealthDay:
    """The stored scores of the month's last scored day (its last day when the nightly job
    ran then), with every account's ARR that day and who renews within 90 days."""

    day: dt.date | None
    scores: dict[int, tuple[int, str]]
    arr: dict[int, Decimal]
    renewing: dict[int, dt.date]
    # ARR at risk per account, worked out once (see at_risk).
    risk: dict[int, Decimal] = field(default_factory=dict)

    @property
    def average(self) -> float | None:
        if not self.scores:
            return None
        total = sum(score for score, _band in self.scores.values())
        return round(total / len(self.scores), 1)

    def at_risk(self) -> dict[int, Decimal]:
        return self.risk


def _health_day_load(month: dt.date, contracts: Sequence[ContractRow]) -> _HealthDay:
    last = month_last_day(month)
    day = HealthScore.objects.filter(day__gte=month, day__lte=last).aggregate(last=Max("day"))[
        "last"
    ]
    if day is None:
        return _HealthDay(None, {}, {}, {})
    rows = HealthScore.objects.filter(day=day).order_by().values_list("account_id", "score", "band")
    scores = {account_id: (score, band) for account_id, score, band in rows}
    arr = _arr_on_day(contracts, day)
    renewing = _renewing(contracts, day)
    return _HealthDay(day, scores, arr, renewing, _risk_of(scores, arr, renewing))


def _risk_of(
    scores: Mapping[int, tuple[int, str]],
    arr: Mapping[int, Decimal],
    renewing: Collection[int],
) -> dict[int, Decimal]:
    """ARR at risk per account (PRODUCT.md section 3): red, or yellow and renewing within 90
    days; an account without ARR that day is at no risk."""
    risk = {}
    for account_id, (_score, band) in scores.items():
        if band == Band.RED or (band == Band.YELLOW and account_id in renewing):
            value = arr.get(account_id, ZERO)
            if value:
                risk[account_id] = value
    return risk


# --- The build -----------------------------------------------------------------------------

HEADLINE: tuple[tuple[str, str, str, str], ...] = (
    # key, label, unit, which way is better
    ("arr", "ARR", "money", "up"),
    ("nrr", "NRR", "percent", "up"),
    ("grr", "GRR", "percent", "up"),
    ("logo_churn", "Logo churn", "percent", "down"),
    ("renewal_rate", "Renewal rate (count)", "percent", "up"),
    ("renewal_rate_arr", "Renewal rate (ARR)", "percent", "up"),
    ("nps", "NPS", "nps", "up"),
    ("csat", "CSAT", "percent", "up"),
    ("avg_health", "Average health", "score", "up"),
    ("arr_at_risk", "ARR at risk", "money", "down"),
)


def _kpis_of(
    totals: MonthTotals, nps: Decimal | None, csat: Decimal | None, health: _HealthDay
) -> dict[str, float | None]:
    risk = health.at_risk()
    return {
        "arr": _money(totals.end_arr),
        "nrr": _rate(nrr(totals)),
        "grr": _rate(grr(totals)),
        "logo_churn": _rate(logo_churn_rate(totals)),
        "renewal_rate": _rate(renewal_rate_count(totals)),
        "renewal_rate_arr": _rate(renewal_rate_arr(totals)),
        "nps": _rate(nps),
        "csat": _rate(csat),
        "avg_health": health.average,
        # No scored day in the month: no value, not zero.
        "arr_at_risk": _money(sum(risk.values(), ZERO)) if health.day else None,
    }


def _company_totals(
    arr_on: Mapping[dt.date, Mapping[int, Decimal]],
    changed: Collection[int],
    due: Iterable[_DueContract],
    month: dt.date,
) -> MonthTotals:
    """The company's bridge of one month, folding only the accounts whose ARR changed at
    its end (from arr_timeline): an unchanged account is flat, so it only adds its ARR to
    start and end and, with ARR, one account to the cohort. Same result as _bridge_by over
    every account (a test holds the two equal), at a fraction of the cost on 50,000."""
    start, end = arr_on[month], arr_on[month_add(month, 1)]
    totals = MonthTotals()
    moved_start = ZERO
    moved_cohort = 0
    for account_id in changed:
        before = start.get(account_id, ZERO)
        totals.add_movement(before, end.get(account_id, ZERO))
        moved_start += before
        moved_cohort += 1 if before > 0 else 0
    flat = sum(start.values(), ZERO) - moved_start
    totals.start_arr += flat
    totals.end_arr += flat
    totals.cohort_accounts += len(start) - moved_cohort
    for contract in due:
        totals.add_due(contract.arr, contract.successor_arr is not None)
    return totals


def _month_totals(
    arr_on: Mapping[dt.date, Mapping[int, Decimal]],
    due: Iterable[_DueContract],
    month: dt.date,
    group_of: Mapping[int, Any] | None = None,
) -> dict[Any, MonthTotals]:
    """The bridge and renewals of one month per group (None: the company), over every
    account; `due` holds the month's due contracts."""
    totals = _bridge_by(arr_on[month], arr_on[month_add(month, 1)], group_of)
    for contract in due:
        group = group_of.get(contract.account_id) if group_of is not None else None
        totals[group].add_due(contract.arr, contract.successor_arr is not None)
    return totals


def monthly_report_data_build(*, month: dt.date, today: dt.date) -> dict[str, Any]:
    """Every number of the report for `month` (its first day), read as of `today`.

    About fifteen queries whatever the portfolio's size (plus two per running initiative):
    one for the contracts of the 14 months around it, one for the accounts, two per compared
    month for health, one for the 13-month NPS / CSAT series, one per breakdown. Measured
    on 50,000 accounts and 154,000 contracts (PostgreSQL): see the test module's notes.
    """
    month = month_floor(month)
    previous, year_ago, following = month_add(month, -1), month_add(month, -12), month_add(month, 1)
    first_month = month_add(month, -TREND_MONTHS)  # the same month last year
    months = [month_add(first_month, i) for i in range(TREND_MONTHS + 1)]

    # Contracts ending up to 90 days after the month (ARR at risk), and their successors.
    horizon = month_last_day(month) + dt.timedelta(days=RISK_RENEWAL_DAYS + RENEWAL_WINDOW_DAYS)
    contracts = window_contracts_load(first_day=first_month, last_day=horizon)
    timeline = arr_timeline(contracts, [*months, following])
    arr_on = timeline.arr_on
    due = _due_contracts(contracts, first_day=first_month, last_day=month_last_day(following))
    due_by_month: dict[dt.date, list[_DueContract]] = defaultdict(list)
    for contract in due:
        due_by_month[month_floor(contract.end_date)].append(contract)
    accounts = _accounts_load()

    company = {
        m: _company_totals(arr_on, timeline.changed_on[month_add(m, 1)], due_by_month.get(m, []), m)
        for m in months
    }
    health = {m: _health_day_load(m, contracts) for m in (month, previous, year_ago)}
    scores = feedback_scores_by_month(answers_qs=SurveyAnswer.objects.all(), months=months)
    counts_by_month = {item.month: item.counts for item in scores}

    kpis = {
        m: _kpis_of(company[m], counts_by_month[m].nps, counts_by_month[m].csat, health[m])
        for m in (month, previous, year_ago)
    }
    headline = [
        {
            "key": key,
            "label": label,
            "unit": unit,
            "better": better,
            "value": kpis[month][key],
            "previous": kpis[previous][key],
            "year_ago": kpis[year_ago][key],
        }
        for key, label, unit, better in HEADLINE
    ]
    trend_months = months[1:]
    current = company[month]
    names = _UserNames.load(
        accounts,
        health[month],
        [*due_by_month.get(month, []), *due_by_month.get(following, [])],
        arr_on,
        month,
    )

    data: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "month": month_key(month),
        "label": month_label(month),
        "previous": {"month": month_key(previous), "label": month_label(previous)},
        "year_ago": {"month": month_key(year_ago), "label": month_label(year_ago)},
        "headline": headline,
        "retention": {
            "bridge": {
                "start": _money(current.start_arr),
                "new": _money(current.new_arr),
                "expansion": _money(current.expansion_arr),
                "contraction": _money(current.contraction_arr),
                "churned": _money(current.churned_arr),
                "end": _money(current.end_arr),
            },
            "cohort_accounts": current.cohort_accounts,
            "churned_accounts": current.churned_accounts,
            "churned": _churned_rows(arr_on, month, accounts, names),
            "trend": {
                "months": [month_key(m) for m in trend_months],
                "nrr": [_rate(nrr(company[m])) for m in trend_months],
                "grr": [_rate(grr(company[m])) for m in trend_months],
                "logo_churn": [_rate(logo_churn_rate(company[m])) for m in trend_months],
            },
        },
        "renewals": _renewals(
            due_by_month.get(month, []),
            due_by_month.get(following, []),
            following,
            today,
            accounts,
            names,
            health[month],
        ),
        "feedback": _feedback(trend_months, counts_by_month, month),
        "health": _health_section(health[month], health[previous]),
        "risks": _risks(health[month], accounts, names),
        "teams": _teams(arr_on, due_by_month.get(month, []), month, accounts, health[month]),
        "initiatives": _initiatives(month),
    }
    data["summary"] = summary_sentences(data)
    return data


class _UserNames(dict[int, str]):
    """Display names of the owners shown in the lists, in one query."""

    @classmethod
    def load(
        cls,
        accounts: Mapping[int, _AccountInfo],
        health: _HealthDay,
        due: Iterable[_DueContract],
        arr_on: Mapping[dt.date, Mapping[int, Decimal]],
        month: dt.date,
    ) -> _UserNames:
        shown = set(health.at_risk()) | {c.account_id for c in due}
        shown |= set(arr_on[month]) - set(arr_on[month_add(month, 1)])
        owner_ids = {
            owner_id
            for a in shown
            if a in accounts and (owner_id := accounts[a].owner_id) is not None
        }
        names = cls()
        for user in User.objects.filter(pk__in=owner_ids).order_by():
            names[user.pk] = str(user)
        return names

    def of(self, info: _AccountInfo | None) -> str:
        if info is None or info.owner_id is None:
            return "Unassigned"
        return self.get(info.owner_id, "Unassigned")


def _account_ref(account_id: int, accounts: Mapping[int, _AccountInfo]) -> dict[str, Any]:
    info = accounts.get(account_id)
    return {"id": account_id, "name": info.name if info else f"Account #{account_id}"}


def _churned_rows(
    arr_on: Mapping[dt.date, Mapping[int, Decimal]],
    month: dt.date,
    accounts: Mapping[int, _AccountInfo],
    names: _UserNames,
) -> dict[str, Any]:
    start, end = arr_on[month], arr_on[month_add(month, 1)]
    churned = sorted(
        ((arr, account_id) for account_id, arr in start.items() if account_id not in end),
        key=lambda item: (-item[0], accounts[item[1]].name if item[1] in accounts else ""),
    )
    reasons = dict(Account.ChurnReason.choices)
    rows = []
    for arr, account_id in churned[:TOP_CHURNED]:
        info = accounts.get(account_id)
        rows.append(
            {
                **_account_ref(account_id, accounts),
                "owner": names.of(info),
                "arr": _money(arr),
                "reason": str(reasons.get(info.churn_reason, "")) if info else "",
            }
        )
    return {"rows": rows, "more": max(0, len(churned) - TOP_CHURNED)}


def _renewal_status(contract: _DueContract, today: dt.date) -> str:
    if contract.successor_arr is not None:
        return "renewed"
    # Its 30-day window is still running: it may yet renew.
    if contract.end_date + dt.timedelta(days=RENEWAL_WINDOW_DAYS) >= today:
        return "open"
    return "not_renewed"


def _renewals(
    in_month: Sequence[_DueContract],
    next_month: Sequence[_DueContract],
    following: dt.date,
    today: dt.date,
    accounts: Mapping[int, _AccountInfo],
    names: _UserNames,
    health: _HealthDay,
) -> dict[str, Any]:
    groups: dict[str, dict[str, float | int | None]] = {
        status: {"count": 0, "arr": 0.0} for status in ("renewed", "open", "not_renewed")
    }
    arr_by_status: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for contract in in_month:
        status = _renewal_status(contract, today)
        groups[status]["count"] = int(groups[status]["count"] or 0) + 1
        arr_by_status[status] += contract.arr
    for status, arr in arr_by_status.items():
        groups[status]["arr"] = _money(arr)

    def by_arr(rows: Sequence[_DueContract]) -> list[_DueContract]:
        return sorted(rows, key=lambda c: (-c.arr, c.end_date, c.account_id))

    rows = []
    for contract in by_arr(in_month)[:TOP_RENEWALS]:
        info = accounts.get(contract.account_id)
        rows.append(
            {
                **_account_ref(contract.account_id, accounts),
                "owner": names.of(info),
                "end_date": contract.end_date.isoformat(),
                "arr": _money(contract.arr),
                "new_arr": _money(contract.successor_arr),
                "status": _renewal_status(contract, today),
            }
        )
    upcoming = []
    for contract in by_arr(next_month)[:TOP_NEXT_RENEWALS]:
        score = health.scores.get(contract.account_id)
        upcoming.append(
            {
                **_account_ref(contract.account_id, accounts),
                "owner": names.of(accounts.get(contract.account_id)),
                "end_date": contract.end_date.isoformat(),
                "arr": _money(contract.arr),
                "band": score[1] if score else "",
            }
        )
    return {
        "due": {"count": len(in_month), "arr": _money(sum((c.arr for c in in_month), ZERO))},
        **groups,
        "rows": rows,
        "more": max(0, len(in_month) - TOP_RENEWALS),
        "next": {
            "month": month_key(following),
            "label": month_label(following),
            "count": len(next_month),
            "arr": _money(sum((c.arr for c in next_month), ZERO)),
            "rows": upcoming,
            "more": max(0, len(next_month) - TOP_NEXT_RENEWALS),
        },
    }


def _feedback(
    trend_months: Sequence[dt.date], counts_by_month: Mapping[dt.date, Any], month: dt.date
) -> dict[str, Any]:
    counts = counts_by_month[month]
    themes = product_requests(SurveyAnswer.objects.all(), period=Period.month_of(month))
    return {
        "trend": {
            "months": [month_key(m) for m in trend_months],
            "nps": [_rate(counts_by_month[m].nps) for m in trend_months],
            "nps_answers": [counts_by_month[m].nps_answers for m in trend_months],
            "csat": [_rate(counts_by_month[m].csat) for m in trend_months],
            "csat_answers": [counts_by_month[m].csat_answers for m in trend_months],
        },
        "nps": {
            "promoters": counts.promoters,
            "passives": counts.passives,
            "detractors": counts.detractors,
            "answers": counts.nps_answers,
        },
        "csat": {"satisfied": counts.csat_satisfied, "answers": counts.csat_answers},
        "themes": [
            {
                "name": theme.name,
                "accounts": theme.accounts,
                "answers": theme.answers,
                "arr": _money(theme.arr),
            }
            for theme in themes[:TOP_THEMES]
        ],
    }


BANDS = (Band.RED.value, Band.YELLOW.value, Band.GREEN.value)


def _bands(health: _HealthDay) -> list[dict[str, Any]]:
    accounts: dict[str, int] = dict.fromkeys(BANDS, 0)
    arr: dict[str, Decimal] = dict.fromkeys(BANDS, ZERO)
    for account_id, (_score, band) in health.scores.items():
        if band in accounts:
            accounts[band] += 1
            arr[band] += health.arr.get(account_id, ZERO)
    return [
        {
            "band": band,
            "label": str(Band(band).label),
            "accounts": accounts[band],
            "arr": _money(arr[band]),
        }
        for band in BANDS
    ]


def _health_section(health: _HealthDay, previous: _HealthDay) -> dict[str, Any]:
    return {
        "day": health.day.isoformat() if health.day else None,
        "scored_accounts": len(health.scores),
        "average": health.average,
        "bands": _bands(health),
        "previous_day": previous.day.isoformat() if previous.day else None,
        "previous_bands": _bands(previous),
    }


def _risks(
    health: _HealthDay, accounts: Mapping[int, _AccountInfo], names: _UserNames
) -> dict[str, Any]:
    risk = health.at_risk()
    ranked = sorted(
        risk.items(),
        key=lambda item: (-item[1], accounts[item[0]].name if item[0] in accounts else ""),
    )
    rows = []
    for account_id, arr in ranked[:TOP_RISKS]:
        score, band = health.scores[account_id]
        renewal = health.renewing.get(account_id)
        rows.append(
            {
                **_account_ref(account_id, accounts),
                "owner": names.of(accounts.get(account_id)),
                "score": score,
                "band": band,
                "renewal_date": renewal.isoformat() if renewal else None,
                "arr": _money(arr),
            }
        )
    return {
        "day": health.day.isoformat() if health.day else None,
        "accounts": len(risk),
        "arr": _money(sum(risk.values(), ZERO)),
        "rows": rows,
    }


def _teams(
    arr_on: Mapping[dt.date, Mapping[int, Decimal]],
    due: Sequence[_DueContract],
    month: dt.date,
    accounts: Mapping[int, _AccountInfo],
    health: _HealthDay,
) -> list[dict[str, Any]]:
    """One row per team (the accounts' current team), then "No team" if it has any ARR."""
    team_of = {account_id: info.team_id for account_id, info in accounts.items()}
    totals = _month_totals(arr_on, due, month, team_of)
    end = arr_on[month_add(month, 1)]
    customers: dict[int | None, int] = defaultdict(int)
    for account_id in end:
        customers[team_of.get(account_id)] += 1
    risk: dict[int | None, Decimal] = defaultdict(lambda: ZERO)
    for account_id, arr in health.at_risk().items():
        risk[team_of.get(account_id)] += arr
    nps_by_team = {
        group.key: group.counts
        for group in feedback_scores_by_team(
            answers_qs=SurveyAnswer.objects.all(), period=Period.month_of(month)
        )
    }
    teams: list[tuple[int | None, str]] = list(
        Team.objects.order_by("name").values_list("pk", "name")
    )
    teams.append((None, "No team"))
    rows: list[dict[str, Any]] = []
    for team_id, name in teams:
        figures = totals.get(team_id, MonthTotals())
        feedback = nps_by_team.get(team_id)
        if team_id is None and not (figures.start_arr or figures.end_arr or feedback):
            continue
        rows.append(
            {
                "id": team_id,
                "name": name,
                "accounts": customers.get(team_id, 0),
                "arr": _money(figures.end_arr),
                "nrr": _rate(nrr(figures)),
                "grr": _rate(grr(figures)),
                "churned_arr": _money(figures.churned_arr),
                "arr_at_risk": _money(risk.get(team_id, ZERO)),
                "nps": _rate(feedback.nps) if feedback else None,
                "nps_answers": feedback.nps_answers if feedback else 0,
            }
        )
    rows.sort(key=lambda row: (row["id"] is None, -(row["arr"] or 0), row["name"]))
    return rows


def _initiative_effect(initiative: Initiative, month: dt.date) -> dict[str, Any] | None:
    """The initiative's effect as the initiatives page reads it (reports.initiative_effect),
    as of the end of the report month: its metric for the segment and for the rest of the
    portfolio before and after the start. None when it cannot be computed: one program's
    missing numbers must not stop the month's report (the error is logged)."""
    from reports.initiative_effect import effect_texts, initiative_effect

    try:
        effect = initiative_effect(initiative=initiative, today=month_add(month, 1))
    except Exception:
        logger.exception("Initiative %s: effect not computed for the monthly report", initiative.pk)
        return None
    return {
        "before": effect.before_label,
        "after": effect.after_label,
        "segment_before": _rate(effect.segment_before),
        "segment_after": _rate(effect.segment_after),
        "rest_before": _rate(effect.rest_before),
        "rest_after": _rate(effect.rest_after),
        "did": _rate(effect.difference_in_differences),
        "favours_segment": effect.favours_segment,
        "texts": effect_texts(effect),
        "sentence": effect.sentence,
    }


def _initiatives(month: dt.date) -> list[dict[str, Any]]:
    """Programs running during the month, each with its effect against the rest of the
    portfolio (two queries per program; a company runs a handful at a time)."""
    last = month_last_day(month)
    running = (
        Initiative.objects.filter(start_date__lte=last)
        .exclude(end_date__lt=month)
        .select_related("segment", "owner")
        .order_by("start_date", "name")
    )
    metrics = dict(Metric.choices)
    return [
        {
            "name": initiative.name,
            "segment": initiative.segment.name,
            "metric": str(metrics.get(initiative.metric, initiative.metric)),
            "start_date": initiative.start_date.isoformat(),
            "end_date": initiative.end_date.isoformat() if initiative.end_date else None,
            "owner": str(initiative.owner) if initiative.owner else "",
            "effect": _initiative_effect(initiative, month),
        }
        for initiative in running
    ]


# --- Formatting (pure) ---------------------------------------------------------------------

DASH = "—"


def format_money(value: float | None) -> str:
    if value is None:
        return DASH
    text = f"${abs(value):,.0f}"
    return f"{MINUS}{text}" if value < 0 and text != "$0" else text


def format_value(unit: str, value: float | int | None) -> str:
    """A number the way the report prints it: "$84,000", "101.5 %", "41.0", "62.4"."""
    if value is None:
        return DASH
    if unit == "money":
        return format_money(float(value))
    if unit == "percent":
        return f"{value:.1f} %".replace("-", MINUS)
    if unit == "count":
        return f"{int(value):,}"
    return f"{value:.1f}".replace("-", MINUS)


def change_of(value: float | None, before: float | None) -> float | None:
    if value is None or before is None:
        return None
    return round(value - before, 2)


def format_change(unit: str, delta: float | None) -> str:
    """ "+2.5 pts", "−$3,000", "+4.1", "no change"."""
    if delta is None:
        return DASH
    if abs(delta) < 0.05:
        return "no change"
    sign = "+" if delta > 0 else MINUS
    if unit == "money":
        return f"{sign}${abs(delta):,.0f}"
    if unit == "percent":
        return f"{sign}{abs(delta):.1f} pts"
    return f"{sign}{abs(delta):.1f}"


def change_tone(better: str, delta: float | None) -> str:
    """ "good", "bad" or "" (no change or no value), for colouring a change."""
    if delta is None or abs(delta) < 0.05:
        return ""
    improved = delta > 0 if better == "up" else delta < 0
    return "good" if improved else "bad"


# --- The written summary (pure) ------------------------------------------------------------

# A move counts as material from this size (in the metric's unit): the summary ranks moves
# by their size in these units, so "NRR −6.7 pts" (6.7) outranks "NPS +6" (1.2).
MATERIAL: dict[str, float] = {
    "nrr": 1.0,
    "grr": 1.0,
    "logo_churn": 0.5,
    "renewal_rate_arr": 5.0,
    "nps": 5.0,
    "csat": 3.0,
    "avg_health": 2.0,
}
# ARR at risk is material when it moves by this share of its previous value.
MATERIAL_RISK_SHARE = 0.10


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def summary_sentences(data: Mapping[str, Any]) -> list[str]:
    """Plain sentences on the month's biggest changes against the previous month.

    The first says where ARR closed; then up to SUMMARY_CHANGES moves of headline metrics
    that are material (see MATERIAL), biggest first, each with what drove it where the
    report holds the cause. Pure: it reads only the frozen numbers.
    """
    kpi = {row["key"]: row for row in data["headline"]}
    bridge = data["retention"]["bridge"]
    previous_label = data["previous"]["label"]
    sentences: list[str] = []

    arr, arr_before = kpi["arr"]["value"], kpi["arr"]["previous"]
    if arr is not None:
        sentence = f"ARR closed {data['label']} at {format_money(arr)}"
        delta = change_of(arr, arr_before)
        if delta is not None and arr_before:
            direction = "up" if delta > 0 else "down"
            if abs(delta) >= 0.5:
                share = abs(delta) * 100 / arr_before
                sentence += (
                    f", {direction} {format_money(abs(delta))} ({share:.1f} %) "
                    f"from {format_money(arr_before)}"
                )
            else:
                sentence += f", unchanged from {previous_label}"
        parts = [
            (bridge["new"], "new"),
            (bridge["expansion"], "expansion"),
            (bridge["contraction"], "contraction"),
            (bridge["churned"], "churn"),
        ]
        moved = [f"{format_money(v)} {label}" for v, label in parts if v]
        if moved:
            sentence += f" ({', '.join(moved)})"
        sentences.append(sentence + ".")

    ranked: list[tuple[float, str]] = _retention_moves(kpi, data)
    for key, unit_size in MATERIAL.items():
        if key in ("nrr", "grr"):
            continue
        row = kpi[key]
        delta = change_of(row["value"], row["previous"])
        if delta is None or abs(delta) < unit_size:
            continue
        ranked.append((abs(delta) / unit_size, _metric_sentence(key, row, delta, data)))
    risk = kpi["arr_at_risk"]
    risk_delta = change_of(risk["value"], risk["previous"])
    if risk_delta is not None and abs(risk_delta) >= 0.5:
        base = risk["previous"] or 0
        share = abs(risk_delta) / base if base else float("inf")
        if share >= MATERIAL_RISK_SHARE:
            size = min(share / MATERIAL_RISK_SHARE, 10.0)
            verb = "grew" if risk_delta > 0 else "fell"
            accounts = data["risks"]["accounts"]
            ranked.append(
                (
                    size,
                    f"ARR at risk {verb} from {format_money(risk['previous'])} to "
                    f"{format_money(risk['value'])} ({_plural(accounts, 'account')} red, or "
                    "yellow and renewing within 90 days).",
                )
            )
    ranked.sort(key=lambda item: -item[0])
    sentences.extend(sentence for _size, sentence in ranked[:SUMMARY_CHANGES])
    if not ranked and kpi["arr"]["previous"] is not None:
        sentences.append(f"No other headline metric moved materially from {previous_label}.")
    return sentences


def _retention_driver(delta: float, data: Mapping[str, Any], *, expansion: bool) -> str:
    """What moved a retention rate, from the month's bridge: the larger of churn and
    contraction when it fell; expansion when NRR rose."""
    bridge, retention = data["retention"]["bridge"], data["retention"]
    churned, contraction = bridge["churned"] or 0, bridge["contraction"] or 0
    if delta < 0 and (churned or contraction):
        if churned >= contraction:
            accounts = _plural(retention["churned_accounts"], "account")
            return f", driven by {format_money(churned)} of churned ARR ({accounts})"
        return f", driven by {format_money(contraction)} of contraction"
    if delta > 0 and expansion and bridge["expansion"]:
        return f", driven by {format_money(bridge['expansion'])} of expansion"
    return ""


def _retention_moves(kpi: Mapping[str, Any], data: Mapping[str, Any]) -> list[tuple[float, str]]:
    """NRR and GRR: one sentence for both when both moved the same way (they share a cause),
    else one for whichever moved."""
    moves = {}
    for key in ("nrr", "grr"):
        delta = change_of(kpi[key]["value"], kpi[key]["previous"])
        if delta is not None and abs(delta) >= MATERIAL[key]:
            moves[key] = delta
    if len(moves) == 2 and (moves["nrr"] > 0) == (moves["grr"] > 0):
        nrr_row, grr_row = kpi["nrr"], kpi["grr"]
        verb = "rose" if moves["nrr"] > 0 else "fell"
        sentence = (
            f"NRR {verb} from {format_value('percent', nrr_row['previous'])} to "
            f"{format_value('percent', nrr_row['value'])} and GRR from "
            f"{format_value('percent', grr_row['previous'])} to "
            f"{format_value('percent', grr_row['value'])}"
        )
        sentence += _retention_driver(moves["nrr"], data, expansion=True)
        size = max(abs(moves["nrr"]) / MATERIAL["nrr"], abs(moves["grr"]) / MATERIAL["grr"])
        return [(size, sentence + ".")]
    return [
        (abs(delta) / MATERIAL[key], _metric_sentence(key, kpi[key], delta, data))
        for key, delta in moves.items()
    ]


def _metric_sentence(key: str, row: Mapping[str, Any], delta: float, data: Mapping) -> str:
    unit, label = row["unit"], row["label"]
    before, after = format_value(unit, row["previous"]), format_value(unit, row["value"])
    verb = "rose" if delta > 0 else "fell"
    sentence = f"{label} {verb} from {before} to {after}"
    retention = data["retention"]
    if key in ("nrr", "grr"):
        sentence += _retention_driver(delta, data, expansion=key == "nrr")
    elif key == "logo_churn":
        cohort = retention["cohort_accounts"]
        sentence += f" ({retention['churned_accounts']:,} of {_plural(cohort, 'account')})"
    elif key == "renewal_rate_arr":
        renewals = data["renewals"]
        sentence += (
            f" ({renewals['renewed']['count']:,} of "
            f"{_plural(renewals['due']['count'], 'contract')} due renewed"
        )
        if renewals["open"]["count"]:
            sentence += f", {renewals['open']['count']:,} still open"
        sentence += ")"
    elif key == "nps":
        sentence += f" on {_plural(data['feedback']['nps']['answers'], 'answer')}"
    elif key == "csat":
        sentence += f" on {_plural(data['feedback']['csat']['answers'], 'answer')}"
    return sentence + "."


# --- Definitions: the page's and the PDF's footnote ------------------------------------------

DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        "ARR",
        "sum of the ARR of an account's contracts running on a day; a month's ARR is the "
        "ARR on the first day after it, its start ARR the ARR on its first day.",
    ),
    (
        "NRR",
        "(start ARR + expansion − contraction − churned ARR) ÷ start ARR, over the accounts "
        "with ARR at the month's start.",
    ),
    (
        "GRR",
        "(start ARR − contraction − churned ARR) ÷ start ARR, same accounts; never above 100 %.",
    ),
    (
        "Logo churn",
        "accounts whose ARR fell to 0 during the month ÷ accounts with ARR at its start.",
    ),
    (
        "Renewal rate",
        "contracts ending in the month renewed by a contract starting within 30 "
        "days after, ÷ contracts ending in the month; by count and by their own ARR.",
    ),
    (
        "ARR bridge",
        "start + new + expansion − contraction − churned = end; new is the ARR of "
        "accounts without ARR at the start (reactivations included).",
    ),
    (
        "NPS",
        "% promoters (9–10) − % detractors (0–6) over the 0–10 answers given in the month; "
        "no answers, no value.",
    ),
    ("CSAT", "share of 4 and 5 among the 1–5 answers given in the month."),
    ("Average health", "mean health score (0–100) on the month's last scored day."),
    (
        "ARR at risk",
        "ARR of accounts in the red band, or in the yellow band with a contract "
        "ending within 90 days, on the month's last scored day.",
    ),
    (
        "Scopes",
        "teams are the accounts' teams when the report was generated; the numbers are "
        "frozen at generation and change only when the report is regenerated.",
    ),
)


# --- The CSV (pure) --------------------------------------------------------------------------

CSV_HEADER = ("section", "metric", "value", "previous", "same month last year")


def csv_rows(data: Mapping[str, Any]) -> list[tuple[object, ...]]:
    """One row per number: (section, metric, value, previous month, same month last year);
    the comparisons are blank where the report has none. Text cells are formula-escaped."""
    rows: list[tuple[object, ...]] = []

    def add(
        section: str, metric: str, value: object, previous: object = "", year: object = ""
    ) -> None:
        cells = (section, metric, value, previous, year)
        rows.append(tuple(spreadsheet_safe("" if cell is None else cell) for cell in cells))

    for kpi in data["headline"]:
        add("Headline", kpi["label"], kpi["value"], kpi["previous"], kpi["year_ago"])
    retention = data["retention"]
    for key, label in (
        ("start", "Start ARR"),
        ("new", "New ARR"),
        ("expansion", "Expansion"),
        ("contraction", "Contraction"),
        ("churned", "Churned ARR"),
        ("end", "End ARR"),
    ):
        add("ARR bridge", label, retention["bridge"][key])
    add("Retention", "Accounts with ARR at start", retention["cohort_accounts"])
    add("Retention", "Churned accounts", retention["churned_accounts"])
    for row in retention["churned"]["rows"]:
        add("Churned accounts", row["name"], row["arr"])
    trend = retention["trend"]
    for i, month in enumerate(trend["months"]):
        add("Retention trend", f"NRR {month}", trend["nrr"][i])
        add("Retention trend", f"GRR {month}", trend["grr"][i])
        add("Retention trend", f"Logo churn {month}", trend["logo_churn"][i])
    renewals = data["renewals"]
    for key, label in (
        ("due", "Due"),
        ("renewed", "Renewed"),
        ("open", "Open (window still running)"),
        ("not_renewed", "Not renewed"),
    ):
        add("Renewals", f"{label}: contracts", renewals[key]["count"])
        add("Renewals", f"{label}: ARR", renewals[key]["arr"])
    for row in renewals["rows"]:
        add("Renewals due", f"{row['name']} ({row['end_date']}, {row['status']})", row["arr"])
    add("Renewals next month", "Due: contracts", renewals["next"]["count"])
    add("Renewals next month", "Due: ARR", renewals["next"]["arr"])
    feedback = data["feedback"]
    ftrend = feedback["trend"]
    for i, month in enumerate(ftrend["months"]):
        add("Feedback trend", f"NPS {month}", ftrend["nps"][i])
        add("Feedback trend", f"NPS answers {month}", ftrend["nps_answers"][i])
        add("Feedback trend", f"CSAT {month}", ftrend["csat"][i])
        add("Feedback trend", f"CSAT answers {month}", ftrend["csat_answers"][i])
    for theme in feedback["themes"]:
        add("Top themes", f"{theme['name']}: ARR of accounts asking", theme["arr"])
        add("Top themes", f"{theme['name']}: accounts", theme["accounts"])
    health = data["health"]
    previous_bands = {b["band"]: b for b in health["previous_bands"]}
    for band in health["bands"]:
        before = previous_bands.get(band["band"], {})
        add("Health", f"{band['label']}: accounts", band["accounts"], before.get("accounts"))
        add("Health", f"{band['label']}: ARR", band["arr"], before.get("arr"))
    risks = data["risks"]
    add("ARR at risk", "Accounts at risk", risks["accounts"])
    for row in risks["rows"]:
        add("Top risks", row["name"], row["arr"])
    for item in data["initiatives"]:
        effect = item.get("effect") or {}
        for key, label in (
            ("segment_before", "segment before"),
            ("segment_after", "segment after"),
            ("rest_before", "rest before"),
            ("rest_after", "rest after"),
            ("did", "difference-in-differences"),
        ):
            if effect:
                add("Initiatives", f"{item['name']} ({item['metric']}): {label}", effect[key])
    for team in data["teams"]:
        for key, label in (
            ("accounts", "accounts"),
            ("arr", "ARR"),
            ("nrr", "NRR"),
            ("nps", "NPS"),
            ("arr_at_risk", "ARR at risk"),
        ):
            add("Teams", f"{team['name']}: {label}", team[key])
    return rows


# --- The view model the page and the PDF share (pure) ---------------------------------------

BRIDGE_STEPS: tuple[tuple[str, str, int], ...] = (
    ("start", "Start ARR", 0),
    ("new", "New", 1),
    ("expansion", "Expansion", 1),
    ("contraction", "Contraction", -1),
    ("churned", "Churned", -1),
    ("end", "End ARR", 0),
)
RENEWAL_STATUS_LABELS = {"renewed": "Renewed", "open": "Open", "not_renewed": "Not renewed"}


def _date_label(value: str | None) -> str:
    if not value:
        return DASH
    day = dt.date.fromisoformat(value)
    return f"{day.day} {day:%b %Y}"


def report_view(data: Mapping[str, Any]) -> dict[str, Any]:
    """Ready-to-print rows for the templates: every number formatted, every change signed
    and toned. Reads the frozen dict only."""
    headline = []
    for kpi in data["headline"]:
        unit = kpi["unit"]
        vs_previous = change_of(kpi["value"], kpi["previous"])
        vs_year = change_of(kpi["value"], kpi["year_ago"])
        headline.append(
            {
                **kpi,
                "display": format_value(unit, kpi["value"]),
                "previous_display": format_value(unit, kpi["previous"]),
                "year_ago_display": format_value(unit, kpi["year_ago"]),
                "change_previous": format_change(unit, vs_previous),
                "change_year": format_change(unit, vs_year),
                "tone_previous": change_tone(kpi["better"], vs_previous),
                "tone_year": change_tone(kpi["better"], vs_year),
            }
        )
    retention = data["retention"]
    bridge = [
        {
            "key": key,
            "label": label,
            "sign": sign,
            "display": format_money(retention["bridge"][key]),
        }
        for key, label, sign in BRIDGE_STEPS
    ]
    trend = retention["trend"]
    retention_trend = [
        {
            "month": _month_short(month),
            "nrr": format_value("percent", trend["nrr"][i]),
            "grr": format_value("percent", trend["grr"][i]),
            "logo_churn": format_value("percent", trend["logo_churn"][i]),
        }
        for i, month in enumerate(trend["months"])
    ]
    renewals = data["renewals"]
    renewal_rows = [
        {
            **row,
            "end_display": _date_label(row["end_date"]),
            "arr_display": format_money(row["arr"]),
            "new_arr_display": format_money(row["new_arr"]),
            "status_label": RENEWAL_STATUS_LABELS.get(row["status"], row["status"]),
        }
        for row in renewals["rows"]
    ]
    renewal_totals = [
        {
            "key": key,
            "label": label,
            "count": renewals[key]["count"],
            "arr_display": format_money(renewals[key]["arr"]),
        }
        for key, label in (
            ("due", "Due in the month"),
            ("renewed", "Renewed"),
            ("open", "Open (30-day window still running)"),
            ("not_renewed", "Not renewed"),
        )
    ]
    next_renewals = {
        **renewals["next"],
        "arr_display": format_money(renewals["next"]["arr"]),
        "rows": [
            {
                **row,
                "end_display": _date_label(row["end_date"]),
                "arr_display": format_money(row["arr"]),
            }
            for row in renewals["next"]["rows"]
        ],
    }
    feedback = data["feedback"]
    ftrend = feedback["trend"]
    feedback_trend = [
        {
            "month": _month_short(month),
            "nps": format_value("nps", ftrend["nps"][i]),
            "nps_answers": ftrend["nps_answers"][i],
            "csat": format_value("percent", ftrend["csat"][i]),
            "csat_answers": ftrend["csat_answers"][i],
        }
        for i, month in enumerate(ftrend["months"])
    ]
    health = data["health"]
    previous_bands = {b["band"]: b for b in health["previous_bands"]}
    bands = [
        {
            **band,
            "arr_display": format_money(band["arr"]),
            "previous_accounts": previous_bands.get(band["band"], {}).get("accounts"),
        }
        for band in health["bands"]
    ]
    risks = data["risks"]
    return {
        "headline": headline,
        "bridge": bridge,
        "cohort_accounts": retention["cohort_accounts"],
        "churned_accounts": retention["churned_accounts"],
        "churned": [
            {**row, "arr_display": format_money(row["arr"])} for row in retention["churned"]["rows"]
        ],
        "churned_more": retention["churned"]["more"],
        "retention_trend": retention_trend,
        "renewal_totals": renewal_totals,
        "renewal_rows": renewal_rows,
        "renewals_more": renewals["more"],
        "next_renewals": next_renewals,
        "feedback_trend": feedback_trend,
        "nps_counts": feedback["nps"],
        "csat_counts": feedback["csat"],
        "themes": [{**t, "arr_display": format_money(t["arr"])} for t in feedback["themes"]],
        "health_day": _date_label(health["day"]) if health["day"] else None,
        "health_average": format_value("score", health["average"]),
        "health_bands": bands,
        "scored_accounts": health["scored_accounts"],
        "risks_day": _date_label(risks["day"]) if risks["day"] else None,
        "risks_total": format_money(risks["arr"]) if risks["day"] else DASH,
        "risks_accounts": risks["accounts"],
        "risks": [
            {
                **row,
                "renewal_display": _date_label(row["renewal_date"]),
                "arr_display": format_money(row["arr"]),
            }
            for row in risks["rows"]
        ],
        "teams": [
            {
                **team,
                "arr_display": format_money(team["arr"]),
                "nrr_display": format_value("percent", team["nrr"]),
                "grr_display": format_value("percent", team["grr"]),
                "nps_display": format_value("nps", team["nps"]),
                "risk_display": format_money(team["arr_at_risk"]),
            }
            for team in data["teams"]
        ],
        "initiatives": [
            {
                **item,
                "start_display": _date_label(item["start_date"]),
                "end_display": _date_label(item["end_date"]) if item["end_date"] else "ongoing",
            }
            for item in data["initiatives"]
        ],
        "summary": data["summary"],
        "definitions": DEFINITIONS,
    }


def _month_short(key: str) -> str:
    return f"{month_parse(key):%b %Y}"


# --- Stored reports (reads) ----------------------------------------------------------------


def monthly_reports_for_list() -> QuerySet[MonthlyReport]:
    """Every month's report, newest first, without the heavy columns (numbers and PDF)."""
    return MonthlyReport.objects.defer("data", "pdf").select_related("generated_by")


def monthly_report_get(*, month: dt.date) -> MonthlyReport | None:
    """One month's report with its numbers, not its PDF bytes; None when not generated."""
    return (
        MonthlyReport.objects.defer("pdf")
        .select_related("generated_by")
        .filter(month=month_floor(month))
        .first()
    )


def monthly_report_pdf_get(*, month: dt.date) -> MonthlyReport | None:
    """One month's report with its PDF bytes (and its numbers, for a PDF never stored)."""
    return MonthlyReport.objects.filter(month=month_floor(month)).first()


@dataclass(frozen=True)
class GenerationRow:
    version: int
    generated_at: dt.datetime
    generated_by: str
    # Whether this version's numbers differ from the version before it; None for the first.
    changed: bool | None


def report_generations(*, report: MonthlyReport) -> list[GenerationRow]:
    """The report's (re)generations, newest first, each saying whether the numbers moved."""
    generations = list(
        ReportGeneration.objects.filter(report=report)
        .select_related("generated_by")
        .order_by("version")
    )
    rows = []
    previous_sha: str | None = None
    for generation in generations:
        rows.append(
            GenerationRow(
                version=generation.version,
                generated_at=generation.generated_at,
                generated_by=str(generation.generated_by or "the monthly job"),
                changed=None if previous_sha is None else generation.data_sha256 != previous_sha,
            )
        )
        previous_sha = generation.data_sha256
    return rows[::-1]


def user_reads_monthly_report(user: User) -> bool:
    """The report is company-wide: admins, managers and executives read it (PRODUCT.md
    section 6); a CSM reads their own book on their dashboards instead."""
    return user.is_active and not user.is_csm


def user_generates_monthly_report(user: User) -> bool:
    return user.is_active and (user.is_admin or user.is_manager)


def report_subscription_is_on(user: User) -> bool:
    """Executives are subscribed unless they opted out; everyone else only if they opted in."""
    row = ReportSubscription.objects.filter(user=user).values_list("subscribed", flat=True).first()
    if row is None:
        return user.is_executive
    return bool(row) and user_reads_monthly_report(user)


def report_recipients() -> QuerySet[User]:
    """Who gets the monthly email: active readers with an address who are subscribed,
    executives by default (no subscription row), anyone else by opting in."""
    subscribed = Q(report_subscription__subscribed=True) | Q(
        role=User.Role.EXECUTIVE, report_subscription__isnull=True
    )
    return (
        User.objects.filter(subscribed, is_active=True)
        .exclude(email="")
        # A CSM who subscribed before becoming one (or by any other path) cannot read it.
        .exclude(role=User.Role.CSM, is_superuser=False)
        .order_by("pk")
    )
