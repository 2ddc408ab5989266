"""Nightly churn risk: each live account's probability of churning within 90 days, and why.

The model is the one the latest whole-portfolio 90-day backtest fitted on older score dates
and checked on newer ones (health/backtest.py), applied to each account's latest health
components. When that backtest could not fit one (too few churns to test it), the
account's current band is mapped through the per-band churn rates the backtest measured.
With neither, nothing is predicted: a probability made up from a handful of churns would
look as precise as a real one.

The factors are the three components that move the account's risk most against an
average account, in words a CSM can act on ("active users down 40 % in 30 days").

Written set-based and idempotent: one query for the latest scores, one upsert of the day's
rows keyed on (account, day), one UPDATE ... FROM for Account.churn_risk touching only the
accounts whose value changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef

from accounts.models import Account
from health.models import Band, ChurnPrediction, HealthScore, Measure, ScoreBacktest
from health.validation import LogisticModel

RISK_HORIZON_DAYS = 90
TOP_FACTORS = 3
# Rows per INSERT ... ON CONFLICT statement.
UPSERT_BATCH = 1_000
# In the band fallback a component pulls the risk up below this many points, down above.
NEUTRAL_POINTS = 50
PROBABILITY_STEP = Decimal("0.0001")


@dataclass(frozen=True)
class RiskModel:
    """How probabilities are made tonight: a fitted model, or churn rates per band."""

    kind: str  # "logit" or "bands"
    version: str
    backtest_id: int
    logit: LogisticModel | None = None
    band_rates: Mapping[str, float] | None = None


def risk_model_load() -> RiskModel | None:
    """From the latest whole-portfolio 90-day backtest; None when it has no usable figures."""
    backtest = (
        ScoreBacktest.objects.filter(horizon_days=RISK_HORIZON_DAYS, segment__isnull=True)
        .order_by("-computed_at", "-pk")
        .first()
    )
    if backtest is None:
        return None
    data = backtest.data or {}
    if data.get("model") and data.get("proposal"):
        return RiskModel(
            kind="logit",
            version=f"logit:backtest-{backtest.pk}",
            backtest_id=backtest.pk,
            logit=LogisticModel.from_json(data["model"]),
        )
    rates = {row["band"]: row["rate"] for row in data.get("bands", []) if row["rate"] is not None}
    if len(rates) == len(Band.values):
        return RiskModel(
            kind="bands",
            version=f"bands:backtest-{backtest.pk}",
            backtest_id=backtest.pk,
            band_rates=rates,
        )
    return None


def _portfolio_backtest_exists() -> bool:
    return ScoreBacktest.objects.filter(
        horizon_days=RISK_HORIZON_DAYS, segment__isnull=True
    ).exists()


# --- Words -------------------------------------------------------------------------------


def _percent(value: float) -> str:
    return f"{abs(value) * 100:.0f} %"


def factor_text(measure: str, raw: float) -> str:
    """A component's raw value as a CSM would say it."""
    if measure == Measure.USAGE:
        return f"{_percent(raw)} of licensed seats active in the last 30 days"
    if measure == Measure.USAGE_TREND:
        if round(raw * 100) == 0:
            return "active users flat over 30 days"
        direction = "down" if raw < 0 else "up"
        return f"active users {direction} {_percent(raw)} in 30 days"
    if measure == Measure.ADOPTION:
        total = settings.HEALTH_KEY_FEATURES
        return f"{round(raw * total)} of {total} key features used in the last 30 days"
    if measure == Measure.SUPPORT:
        count = round(raw)
        if count == 0:
            return "no open or high-priority tickets in 30 days"
        return f"{count} open or high-priority ticket{'s' if count != 1 else ''} in 30 days"
    if measure == Measure.SENTIMENT:
        return f"survey answers average {raw:.0f}/100 over 180 days"
    if measure == Measure.ENGAGEMENT:
        days = round(raw)
        if days <= 0:
            return "an interaction logged today"
        return f"no interaction for {days} day{'s' if days != 1 else ''}"
    return f"{Measure(measure).label if measure in Measure.values else measure}: {raw}"


def _factors(
    components: Mapping[str, Mapping[str, Any]], effects: Mapping[str, float]
) -> list[dict[str, Any]]:
    """The TOP_FACTORS components with the largest effect either way, largest first."""
    labels = dict(Measure.choices)
    ranked = sorted(
        (m for m in effects if m in components and abs(effects[m]) > 1e-9),
        key=lambda m: -abs(effects[m]),
    )
    return [
        {
            "factor": measure,
            "label": labels.get(measure, measure),
            "text": factor_text(measure, float(components[measure]["raw"])),
            "effect": round(float(effects[measure]), 4),
            "raises_risk": effects[measure] > 0,
        }
        for measure in ranked[:TOP_FACTORS]
    ]


# --- Predicting --------------------------------------------------------------------------


def _probability(value: float) -> Decimal:
    clipped = min(1.0, max(0.0, float(value)))
    return Decimal(str(clipped)).quantize(PROBABILITY_STEP)


def predictions_for(
    rows: list[tuple[int, str, dict[str, Any]]], model: RiskModel, *, day: dt.date
) -> list[ChurnPrediction]:
    """ChurnPrediction rows (unsaved) for (account id, band, components) rows."""
    if not rows:
        return []
    predictions: list[ChurnPrediction] = []
    if model.kind == "logit" and model.logit is not None:
        logit = model.logit
        points = np.array(
            [
                [
                    float(components[m]["points"]) if m in components else np.nan
                    for m in logit.features
                ]
                for _account, _band, components in rows
            ],
            dtype=np.float64,
        ).reshape(len(rows), len(logit.features))
        probabilities = logit.predict(points)
        contributions = logit.contributions(points)
        for n, (account_id, _band, components) in enumerate(rows):
            effects = dict(zip(logit.features, contributions[n].tolist(), strict=True))
            predictions.append(
                ChurnPrediction(
                    account_id=account_id,
                    day=day,
                    probability=_probability(probabilities[n]),
                    factors=_factors(components, effects),
                    model_version=model.version,
                )
            )
        return predictions
    rates = model.band_rates or {}
    for account_id, band, components in rows:
        if band not in rates:
            continue
        effects = {
            m: (NEUTRAL_POINTS - float(c["points"])) * float(c["effective_weight"]) / NEUTRAL_POINTS
            for m, c in components.items()
        }
        predictions.append(
            ChurnPrediction(
                account_id=account_id,
                day=day,
                probability=_probability(rates[band]),
                factors=_factors(components, effects),
                model_version=model.version,
            )
        )
    return predictions


def latest_score_rows(*, today: dt.date) -> list[tuple[int, str, dict[str, Any]]]:
    """(account id, band, components) of every live account scored on the newest score
    day on or before today, in one query."""
    latest = HealthScore.objects.filter(day__lte=today).aggregate(day=Max("day"))["day"]
    if latest is None:
        return []
    return list(
        HealthScore.objects.filter(day=latest)
        .exclude(account__lifecycle_status=Account.Lifecycle.CHURNED)
        .order_by("account_id")
        .values_list("account_id", "band", "components")
    )


@transaction.atomic
def churn_predictions_compute(*, today: dt.date, backtest_if_missing: bool = True) -> int:
    """Write today's churn predictions for every live scored account; returns rows written.

    Idempotent: a rerun for the same day replaces that day's rows (and drops rows for
    accounts no longer predicted), then copies the probabilities onto Account.churn_risk.
    On a fresh install with no 90-day backtest yet, one is run first (and stored). With no
    usable backtest nothing is written and nothing is changed.
    """
    model = risk_model_load()
    if model is None and backtest_if_missing and not _portfolio_backtest_exists():
        from health.services_validation import backtest_run

        backtest_run(horizon_days=RISK_HORIZON_DAYS, today=today)
        model = risk_model_load()
    if model is None:
        return 0
    predictions = predictions_for(latest_score_rows(today=today), model, day=today)
    ChurnPrediction.objects.filter(day=today).exclude(
        account_id__in=[p.account_id for p in predictions]
    ).delete()
    ChurnPrediction.objects.bulk_create(
        predictions,
        batch_size=UPSERT_BATCH,
        update_conflicts=True,
        unique_fields=["account", "day"],
        update_fields=["probability", "factors", "model_version", "computed_at"],
    )
    account_churn_risk_refresh(day=today)
    return len(predictions)


def account_churn_risk_refresh(*, day: dt.date) -> int:
    """Copy `day`'s predictions onto Account.churn_risk, unless a later day is stored.

    One UPDATE ... FROM touching only accounts whose value changed (the column is
    unindexed, so PostgreSQL updates those rows in place), and one clearing accounts
    without a prediction that day (churned since, or no longer scored).
    """
    latest_day = ChurnPrediction.objects.aggregate(latest=Max("day"))["latest"]
    if latest_day is not None and latest_day > day:
        return 0
    accounts = Account._meta.db_table
    predictions = ChurnPrediction._meta.db_table
    # SQLite spells IS DISTINCT FROM as IS NOT.
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {accounts} SET churn_risk = p.probability "
            f"FROM {predictions} p WHERE p.account_id = {accounts}.id AND p.day = %s "
            f"AND {accounts}.churn_risk {differs} p.probability",
            [day],
        )
        changed = cursor.rowcount
    cleared = (
        Account.objects.filter(churn_risk__isnull=False)
        .exclude(Exists(ChurnPrediction.objects.filter(account=OuterRef("pk"), day=day)))
        .update(churn_risk=None)
    )
    return changed + cleared


def account_churn_risk(*, account_id: int) -> ChurnPrediction | None:
    """The account's latest prediction, for the account page's churn-risk panel.

    The caller has already fetched the account through the access-checked getter.
    """
    return ChurnPrediction.objects.filter(account_id=account_id).order_by("-day").first()
