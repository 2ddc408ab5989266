from decimal import Decimal
from types import SimpleNamespace

from health.retention import MonthTotals
from health.retention_rates import (
    grr,
    logo_churn_rate,
    nrr,
    percentage,
    renewal_rate_arr,
    renewal_rate_count,
)


def figures(**values: object) -> SimpleNamespace:
    base = {
        "cohort_accounts": 0,
        "churned_accounts": 0,
        "start_arr": Decimal("0"),
        "expansion_arr": Decimal("0"),
        "contraction_arr": Decimal("0"),
        "churned_arr": Decimal("0"),
        "contracts_due": 0,
        "contracts_renewed": 0,
        "due_arr": Decimal("0"),
        "renewed_arr": Decimal("0"),
    }
    return SimpleNamespace(**{**base, **values})


def test_nrr_and_grr_of_an_expansion_from_12000_to_15000():
    month = figures(start_arr=Decimal("12000"), expansion_arr=Decimal("3000"))

    assert nrr(month) == Decimal("125.0")
    assert grr(month) == Decimal("100.0")


def test_contraction_from_10000_to_8000_is_80_percent_gross_and_net():
    month = figures(start_arr=Decimal("10000"), contraction_arr=Decimal("2000"))

    assert grr(month) == Decimal("80.0")
    assert nrr(month) == Decimal("80.0")


def test_mixed_month_rates_worked_out_by_hand():
    # 35,000 at start; +3,000 expansion, -2,000 contraction, -9,000 churned.
    # NRR 27,000 / 35,000 = 77.142..%; GRR 24,000 / 35,000 = 68.571..%; 1 of 4 logos churned.
    month = figures(
        cohort_accounts=4,
        churned_accounts=1,
        start_arr=Decimal("35000"),
        expansion_arr=Decimal("3000"),
        contraction_arr=Decimal("2000"),
        churned_arr=Decimal("9000"),
    )

    assert nrr(month) == Decimal("77.1")
    assert grr(month) == Decimal("68.6")
    assert logo_churn_rate(month) == Decimal("25.0")


def test_grr_never_exceeds_100_even_when_the_parts_would_push_it_over():
    # A big expansion lifts NRR only; a negative contraction (inconsistent input) would
    # lift GRR above 100 if it were not capped.
    big = figures(start_arr=Decimal("1000"), expansion_arr=Decimal("49000"))
    odd = figures(start_arr=Decimal("1000"), contraction_arr=Decimal("-500"))

    assert nrr(big) == Decimal("5000.0")
    assert grr(big) == Decimal("100.0")
    assert grr(odd) == Decimal("100.0")


def test_every_rate_is_none_without_a_denominator_never_zero():
    empty = figures()

    assert nrr(empty) is None
    assert grr(empty) is None
    assert logo_churn_rate(empty) is None
    assert renewal_rate_count(empty) is None
    assert renewal_rate_arr(empty) is None


def test_a_cohort_with_no_churn_has_a_zero_logo_churn_rate_not_none():
    assert logo_churn_rate(figures(cohort_accounts=3)) == Decimal("0.0")


def test_renewal_rates_by_count_and_by_the_due_contracts_own_arr():
    # Two due: 12,000 renewed, 4,000 not. By count 1/2; by ARR 12,000 / 16,000.
    month = figures(
        contracts_due=2,
        contracts_renewed=1,
        due_arr=Decimal("16000"),
        renewed_arr=Decimal("12000"),
    )

    assert renewal_rate_count(month) == Decimal("50.0")
    assert renewal_rate_arr(month) == Decimal("75.0")


def test_rates_round_half_up_to_a_tenth():
    assert percentage(1, 16) == Decimal("6.3")  # 6.25
    assert percentage(2, 3) == Decimal("66.7")
    assert percentage(1, 3) == Decimal("33.3")


def test_rates_accept_month_totals_as_well_as_snapshots():
    totals = MonthTotals()
    totals.add_movement(Decimal("12000"), Decimal("15000"))

    assert nrr(totals) == Decimal("125.0")
    assert grr(totals) == Decimal("100.0")
    assert logo_churn_rate(totals) == Decimal("0.0")
