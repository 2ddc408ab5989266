"""Daily usage rows from account plans.

This is the hot loop of the seed: 50,000 accounts × 180 days is up to nine million rows, so the
per-row work is a handful of float operations and two random draws; everything that can
be worked out once per account or once per day is.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence

from reports.demo.planning import AccountPlan

UsageRow = tuple[int, str, int, int, int, int, int]
USAGE_FIELDS = (
    "account",
    "day",
    "active_users",
    "licensed_seats",
    "logins",
    "key_features_used",
    "events",
)
# Key features the adoption measure divides by; the column never exceeds it.
KEY_FEATURES = 10


class UsageWindow:
    """The days that get usage: the last `days` complete days before today."""

    def __init__(self, *, today: dt.date, days: int) -> None:
        self.first = today.toordinal() - days
        self.last = today.toordinal() - 1
        self.day_strings = [
            dt.date.fromordinal(day).isoformat() for day in range(self.first, self.last + 1)
        ]
        # Weekday (0 = Monday) and a holiday damper per day, so the row loop only indexes.
        self.weekdays = [
            dt.date.fromordinal(day).weekday() for day in range(self.first, self.last + 1)
        ]
        self.holiday = [
            _holiday_factor(dt.date.fromordinal(day)) for day in range(self.first, self.last + 1)
        ]


def _holiday_factor(day: dt.date) -> float:
    if (day.month == 12 and day.day >= 24) or (day.month == 1 and day.day == 1):
        return 0.45
    return 1.0


def _curve(knots: Sequence[tuple[int, float]], first: int, last: int) -> list[float]:
    """Piecewise-linear values of `knots` on every day first..last (flat beyond the ends)."""
    values: list[float] = []
    append = values.append
    index = 0
    count = len(knots)
    for day in range(first, last + 1):
        while index < count and knots[index][0] < day:
            index += 1
        if index == 0:
            append(knots[0][1])
        elif index == count:
            append(knots[-1][1])
        else:
            day0, value0 = knots[index - 1]
            day1, value1 = knots[index]
            append(value0 + (value1 - value0) * (day - day0) / (day1 - day0))
    return values


def usage_rows_count(plan: AccountPlan, window: UsageWindow) -> int:
    first = max(window.first, plan.start.toordinal())
    last = min(window.last, plan.contracts[-1].end.toordinal())
    return max(0, last - first + 1)


def usage_rows(plan: AccountPlan, window: UsageWindow) -> Iterator[UsageRow]:
    """One row per day the account is under contract inside the window."""
    first = max(window.first, plan.start.toordinal())
    last = min(window.last, plan.contracts[-1].end.toordinal())
    if first > last:
        return
    expected = _curve(plan.level_knots, first, last)
    if plan.dip_knots:
        dips = _curve(plan.dip_knots, first, last)
        expected = [level * dip for level, dip in zip(expected, dips, strict=True)]

    draw = random.Random(plan.usage_seed).random
    account_id = plan.id
    weekday_factors = plan.weekday_factors
    weekdays = window.weekdays
    holiday = window.holiday
    day_strings = window.day_strings
    logins_per_user = plan.logins_per_user
    events_per_login = plan.events_per_login
    features_base = plan.features_base
    offset = window.first
    for contract in plan.contracts:
        start = max(first, contract.start.toordinal())
        end = min(last, contract.end.toordinal())
        if start > end:
            continue
        seats = contract.seats
        # A few users over the licence is normal just before an expansion.
        cap = int(seats * 1.12) + 1
        steady = 1.0 / (plan.utilisation * seats)
        for day in range(start, end + 1):
            slot = day - offset
            value = expected[day - first] * weekday_factors[weekdays[slot]] * holiday[slot]
            noise = draw()
            active = int(value * (0.85 + 0.3 * noise) + 0.5)
            if active > cap:
                active = cap
            if active:
                spread = draw()
                logins = int(active * logins_per_user * (0.75 + 0.5 * spread) + 0.5)
                features = int(features_base * (value * steady) ** 0.5 * (0.8 + 0.4 * spread) + 0.5)
                if features > KEY_FEATURES:
                    features = KEY_FEATURES
                events = int(logins * events_per_login * (0.8 + 0.4 * noise) + 0.5)
            else:
                logins = features = events = 0
            yield (account_id, day_strings[slot], active, seats, logins, features, events)
