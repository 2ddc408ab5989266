"""Rates derived from the additive parts of a retention snapshot (PRODUCT.md section 3).

Each takes a RetentionSnapshot, a MonthTotals or anything with the same fields (so a
selector can sum several scopes or months first and derive the rate of the sum), and
returns a percentage rounded to 0.1, or None when its denominator is 0: a month with no
cohort or no due contract has no rate, which is not the same as a rate of zero.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

HUNDRED = Decimal("100")
_TENTH = Decimal("0.1")


class RetentionFigures(Protocol):
    cohort_accounts: int
    churned_accounts: int
    start_arr: Decimal
    expansion_arr: Decimal
    contraction_arr: Decimal
    churned_arr: Decimal
    contracts_due: int
    contracts_renewed: int
    due_arr: Decimal
    renewed_arr: Decimal


def percentage(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    """numerator / denominator as a percentage rounded half-up to 0.1; None when 0 / 0."""
    if not denominator:
        return None
    return (Decimal(numerator) * HUNDRED / Decimal(denominator)).quantize(
        _TENTH, rounding=ROUND_HALF_UP
    )


def nrr(figures: RetentionFigures) -> Decimal | None:
    """(start + expansion - contraction - churned) / start, over the month's cohort."""
    kept = figures.start_arr + figures.expansion_arr - figures.contraction_arr - figures.churned_arr
    return percentage(kept, figures.start_arr)


def grr(figures: RetentionFigures) -> Decimal | None:
    """(start - contraction - churned) / start; never above 100 % whatever the expansion."""
    rate = percentage(
        figures.start_arr - figures.contraction_arr - figures.churned_arr, figures.start_arr
    )
    if rate is None:
        return None
    return min(rate, HUNDRED.quantize(_TENTH))


def logo_churn_rate(figures: RetentionFigures) -> Decimal | None:
    """Churned logos / accounts active at the month's start."""
    return percentage(figures.churned_accounts, figures.cohort_accounts)


def renewal_rate_count(figures: RetentionFigures) -> Decimal | None:
    """Due contracts renewed / contracts due."""
    return percentage(figures.contracts_renewed, figures.contracts_due)


def renewal_rate_arr(figures: RetentionFigures) -> Decimal | None:
    """ARR of the renewed due contracts (their own ARR, not the successor's) / ARR due."""
    return percentage(figures.renewed_arr, figures.due_arr)
