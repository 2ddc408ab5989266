"""Which days the demo scores after seeding, so health has a past from the first login.

Every day of the recent history is scored, so the health page's movers (7 and 30 days) and
the account pages' charts have daily scores. Before that, about one day a week back to the
start of the usage window: the 90-day backtest behind the validation page and every
account's churn risk only learns from scores old enough for their outcome to be known, and
it samples them weekly anyway, so these give it most of a year of outcomes for a seventh of
the cost of daily scores. The health page's 12-month trend gets its month-end bars from
them too.
"""

from __future__ import annotations

import datetime as dt

from health.recompute import USAGE_WINDOW_DAYS

# A score compares the last 30 days of usage with the 30 before: an earlier day would be
# scored on a partial window and look like a collapse of usage.
USAGE_LOOKBACK_DAYS = 2 * USAGE_WINDOW_DAYS
# Eight days apart rather than seven: no older day is then another's "a week ago" or
# "yesterday", so scoring them raises no health alert tasks that would sit open for months
# in the task lists; the backtest, sampling days at least a week apart, keeps every one.
EARLIER_EVERY_DAYS = 8


def health_history_days(*, today: dt.date, daily_days: int, usage_days: int) -> list[dt.date]:
    """The days to score before today, oldest first: the `daily_days - 1` days before
    today, then one every EARLIER_EVERY_DAYS further back while a day has its whole usage
    lookback inside the `usage_days` of seeded usage. Today is the nightly jobs' to score."""
    if daily_days < 1:
        return []
    first_daily = today - dt.timedelta(days=daily_days - 1)
    oldest = today - dt.timedelta(days=usage_days - USAGE_LOOKBACK_DAYS)
    earlier = []
    day = first_daily - dt.timedelta(days=EARLIER_EVERY_DAYS)
    while day >= oldest:
        earlier.append(day)
        day -= dt.timedelta(days=EARLIER_EVERY_DAYS)
    daily = [first_daily + dt.timedelta(days=n) for n in range(daily_days - 1)]
    return [*earlier[::-1], *daily]
