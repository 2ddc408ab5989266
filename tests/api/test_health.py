"""Health scores and retention metrics through the API (read-only)."""

import datetime as dt
from decimal import Decimal

import pytest

from health.models import HealthScore, RetentionSnapshot, ScorecardVersion
from tests.api import fresh_cache, token_client  # noqa: F401
from tests.factories import AccountFactory

pytestmark = pytest.mark.usefixtures("fresh_cache")

SCORES = "/api/v1/health-scores/"
RETENTION = "/api/v1/retention-metrics/"
Scope = RetentionSnapshot.Scope


def score(account, day: dt.date, value: int) -> HealthScore:
    band = "red" if value < 40 else "green" if value >= 70 else "yellow"
    return HealthScore.objects.create(
        account=account,
        day=day,
        score=value,
        band=band,
        computed_score=value,
        computed_band=band,
        components={"usage": {"raw": 0.6, "points": value, "weight": 30, "effective_weight": 1.0}},
        missing=["support"],
        scorecard_version=ScorecardVersion.objects.get(scorecard__name="Default"),
        usage_through=day - dt.timedelta(days=5),
    )


def test_scores_are_scoped_filtered_and_explained(owner, outsider, account):
    other = AccountFactory(owner=outsider)
    score(other, dt.date(2026, 3, 1), 90)
    for day, value in [(1, 35), (2, 55), (3, 80)]:
        score(account, dt.date(2026, 3, day), value)
    client = token_client(owner)

    everything = client.get(SCORES).json()["results"]
    red = client.get(f"{SCORES}?band=red").json()["results"]
    window = client.get(f"{SCORES}?day_after=2026-03-02&account={account.pk}").json()["results"]

    assert [(row["day"], row["score"], row["band"]) for row in everything] == [
        ("2026-03-03", 80, "green"),
        ("2026-03-02", 55, "yellow"),
        ("2026-03-01", 35, "red"),
    ]
    assert [row["score"] for row in red] == [35]
    assert [row["day"] for row in window] == ["2026-03-03", "2026-03-02"]
    assert red[0]["components"]["usage"]["points"] == 35
    assert red[0]["missing"] == ["support"]
    assert red[0]["is_stale"] is True


def test_another_teams_score_is_404(owner, outsider):
    theirs = score(AccountFactory(owner=outsider), dt.date(2026, 3, 1), 50)

    assert token_client(owner).get(f"{SCORES}{theirs.pk}/").status_code == 404


def test_scores_page_by_cursor(manager, account):
    for day in range(1, 8):
        score(account, dt.date(2026, 3, day), 50)
    client = token_client(manager)

    first = client.get(f"{SCORES}?page_size=3").json()
    second = client.get(first["next"]).json()

    assert [row["day"][-2:] for row in first["results"]] == ["07", "06", "05"]
    assert [row["day"][-2:] for row in second["results"]] == ["04", "03", "02"]
    assert "count" not in first


def test_scores_are_read_only(admin_user, account):
    row = score(account, dt.date(2026, 3, 1), 50)
    client = token_client(admin_user)

    assert client.post(SCORES, {}, format="json").status_code == 405
    assert client.delete(f"{SCORES}{row.pk}/").status_code == 405


def snapshot(scope: str, key: str = "", **figures) -> RetentionSnapshot:
    return RetentionSnapshot.objects.create(
        month=dt.date(2026, 2, 1), scope=scope, scope_key=key, **figures
    )


def test_retention_rates_are_derived_from_the_stored_parts(manager):
    snapshot(
        Scope.COMPANY,
        cohort_accounts=10,
        churned_accounts=1,
        start_arr=Decimal("100000"),
        expansion_arr=Decimal("10000"),
        contraction_arr=Decimal("5000"),
        churned_arr=Decimal("15000"),
        end_arr=Decimal("95000"),
        new_arr=Decimal("5000"),
        contracts_due=4,
        contracts_renewed=3,
        due_arr=Decimal("40000"),
        renewed_arr=Decimal("30000"),
    )

    row = token_client(manager).get(f"{RETENTION}?scope=company").json()["results"][0]

    # NRR (100k + 10k - 5k - 15k) / 100k; GRR (100k - 5k - 15k) / 100k; 1 of 10 logos;
    # 3 of 4 contracts and 30k of 40k ARR renewed.
    assert (row["nrr"], row["grr"], row["logo_churn_rate"]) == ("90.0", "80.0", "10.0")
    assert (row["renewal_rate_count"], row["renewal_rate_arr"]) == ("75.0", "75.0")
    assert (row["month"], row["start_arr"], row["end_arr"]) == (
        "2026-02-01",
        "100000.00",
        "95000.00",
    )


def test_a_month_with_no_cohort_has_no_rates_rather_than_zero(manager):
    snapshot(Scope.COMPANY)

    row = token_client(manager).get(RETENTION).json()["results"][0]

    assert [row[k] for k in ("nrr", "grr", "logo_churn_rate", "renewal_rate_count")] == [None] * 4


def test_a_csm_reads_only_their_own_and_their_teams_figures(owner, teammate, outsider):
    snapshot(Scope.COMPANY)
    snapshot(Scope.TIER, "high_touch")
    mine = snapshot(Scope.CSM, str(owner.pk))
    snapshot(Scope.CSM, str(teammate.pk))
    team = snapshot(Scope.TEAM, str(owner.team_id))
    snapshot(Scope.TEAM, str(outsider.team_id))

    rows = token_client(owner).get(RETENTION).json()["results"]

    assert {(row["scope"], row["scope_key"]) for row in rows} == {
        (mine.scope, mine.scope_key),
        (team.scope, team.scope_key),
    }


def test_executives_read_every_scope_and_filter_by_month(executive):
    snapshot(Scope.COMPANY)
    RetentionSnapshot.objects.create(month=dt.date(2026, 1, 1), scope=Scope.COMPANY)
    client = token_client(executive)

    rows = client.get(f"{RETENTION}?month_after=2026-02-01").json()["results"]

    assert [row["month"] for row in rows] == ["2026-02-01"]
    assert client.get(f"{RETENTION}?scope=galaxy").status_code == 400
