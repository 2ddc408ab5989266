"""Pure statistics for validating the health score: arrays in, numbers out.

No database and no Django here, so every formula is unit-tested on cases worked out by hand
(tests/health/test_validation.py). NumPy only: the whole job is an AUC, a few grouped rates,
a correlation matrix and a six-feature logistic regression, which do not justify
scikit-learn and its SciPy stack.

Conventions: `labels` are booleans (True = the outcome happened, e.g. churned within the
horizon); a `scores` array is oriented so that a HIGHER value means MORE likely to have
the outcome. Callers pass the negated health score, since a low score should mean churn.
Missing values are NaN.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# Logistic regression on standardised features: the L2 penalty (on the coefficients, never
# the intercept). With thousands of rows it barely moves a real effect, and it keeps the
# fit finite when one component separates the outcomes perfectly.
DEFAULT_L2 = 1.0
NEWTON_MAX_ITERATIONS = 50
NEWTON_TOLERANCE = 1e-8
# exp() overflows past ~709; a log-odds beyond ±35 is a probability of 1e-15 anyway.
LOGIT_CLIP = 35.0
# Fewer complete pairs than this and a correlation is not reported.
MIN_CORRELATION_PAIRS = 3


def _floats(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _bools(values: ArrayLike) -> BoolArray:
    return np.asarray(values, dtype=bool)


def average_ranks(values: ArrayLike) -> FloatArray:
    """1-based ranks, tied values sharing the mean of the ranks they span."""
    data = _floats(values)
    if data.size == 0:
        return np.empty(0)
    order = np.argsort(data, kind="mergesort")
    ordered = data[order]
    starts_group = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    sizes = np.diff(np.r_[starts, data.size])
    # A group occupying positions start .. start+size-1 (0-based) has mean rank start + (size+1)/2.
    mean_rank = starts + (sizes + 1) / 2
    ranks = np.empty(data.size)
    ranks[order] = mean_rank[group]
    return ranks


def auc(scores: ArrayLike, labels: ArrayLike) -> float | None:
    """Area under the ROC curve: the chance that a random positive scores above a random
    negative, ties counting one half (the Mann-Whitney U statistic over n_pos * n_neg).

    None when either class is empty: there is nothing to rank.
    """
    values = _floats(scores)
    truth = _bools(labels)
    keep = ~np.isnan(values)
    values, truth = values[keep], truth[keep]
    positives = int(truth.sum())
    negatives = int(truth.size - positives)
    if positives == 0 or negatives == 0:
        return None
    ranks = average_ranks(values)
    u = ranks[truth].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


def roc_curve(
    scores: ArrayLike, labels: ArrayLike, *, max_points: int = 200
) -> tuple[list[float], list[float]]:
    """(false positive rates, true positive rates) from (0, 0) to (1, 1), one point per
    distinct score taken as the threshold, highest first.

    Thinned to about `max_points` (the ends kept) so a chart of 50,000 rows stays small.
    """
    values = _floats(scores)
    truth = _bools(labels)
    keep = ~np.isnan(values)
    values, truth = values[keep], truth[keep]
    positives = int(truth.sum())
    negatives = int(truth.size - positives)
    if positives == 0 or negatives == 0:
        return [], []
    order = np.argsort(-values, kind="mergesort")
    ordered, hits = values[order], truth[order]
    # The last row of each run of equal scores: a threshold takes all of its ties at once.
    last_of_group = np.r_[ordered[1:] != ordered[:-1], True]
    tp = np.cumsum(hits)[last_of_group]
    fp = np.cumsum(~hits)[last_of_group]
    fpr = np.r_[0.0, fp / negatives]
    tpr = np.r_[0.0, tp / positives]
    if fpr.size > max_points:
        picks = np.unique(np.linspace(0, fpr.size - 1, max_points).round().astype(int))
        fpr, tpr = fpr[picks], tpr[picks]
    return [round(float(x), 4) for x in fpr], [round(float(y), 4) for y in tpr]


def quantile_groups(
    values: ArrayLike, labels: ArrayLike, *, groups: int = 10
) -> list[dict[str, float | int]]:
    """Rows split into `groups` groups of (nearly) equal size by value, lowest first, with
    each group's value range, size, outcomes and outcome rate.

    Tied values always land in the same group (grouped by their mean rank), so a group can
    be larger than n / groups and some groups can be empty (left out).
    """
    data = _floats(values)
    truth = _bools(labels)
    keep = ~np.isnan(data)
    data, truth = data[keep], truth[keep]
    if data.size == 0:
        return []
    ranks = average_ranks(data)
    group_of = np.minimum(groups - 1, np.floor((ranks - 1) * groups / data.size)).astype(int)
    rows: list[dict[str, float | int]] = []
    for group in range(groups):
        members = group_of == group
        size = int(members.sum())
        if size == 0:
            continue
        events = int(truth[members].sum())
        rows.append(
            {
                "low": float(data[members].min()),
                "high": float(data[members].max()),
                "mean": float(data[members].mean()),
                "observations": size,
                "events": events,
                "rate": events / size,
            }
        )
    return rows


def rate_by_group(
    groups: ArrayLike, labels: ArrayLike, names: Sequence[str]
) -> dict[str, dict[str, float | int | None]]:
    """Per named group: observations, outcomes and their rate (None for an empty group)."""
    keys = np.asarray(groups)
    truth = _bools(labels)
    result: dict[str, dict[str, float | int | None]] = {}
    for name in names:
        members = keys == name
        size = int(members.sum())
        events = int(truth[members].sum())
        result[name] = {
            "observations": size,
            "events": events,
            "rate": events / size if size else None,
        }
    return result


def correlation_matrix(columns: FloatArray) -> list[list[float | None]]:
    """Pearson correlation of every pair of columns over the rows where both have a value.

    None where fewer than MIN_CORRELATION_PAIRS rows have both, or either is constant.
    """
    matrix = _floats(columns)
    width = matrix.shape[1] if matrix.ndim == 2 else 0
    result: list[list[float | None]] = [[None] * width for _ in range(width)]
    for i in range(width):
        for j in range(i, width):
            both = ~np.isnan(matrix[:, i]) & ~np.isnan(matrix[:, j])
            if both.sum() < MIN_CORRELATION_PAIRS:
                continue
            a, b = matrix[both, i], matrix[both, j]
            spread_a, spread_b = a.std(), b.std()
            if spread_a == 0 or spread_b == 0:
                continue
            r = float(((a - a.mean()) * (b - b.mean())).mean() / (spread_a * spread_b))
            r = max(-1.0, min(1.0, r))
            result[i][j] = result[j][i] = round(r, 4)
    return result


def sigmoid(z: ArrayLike) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-np.clip(_floats(z), -LOGIT_CLIP, LOGIT_CLIP)))


@dataclass(frozen=True)
class LogisticModel:
    """A fitted logistic regression on standardised features.

    A missing feature (NaN) is replaced by the training mean, so it pushes the prediction
    neither way: the same "left out, not marked down" rule the score applies to a
    component without data.
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]  # per standardised feature
    intercept: float

    def standardised(self, rows: ArrayLike) -> FloatArray:
        data = _floats(rows).reshape(-1, len(self.features))
        mean = np.asarray(self.mean)
        data = np.where(np.isnan(data), mean, data)
        return (data - mean) / np.asarray(self.scale)

    def contributions(self, rows: ArrayLike) -> FloatArray:
        """Each feature's push on the log-odds against an average row (0 for a missing one)."""
        return self.standardised(rows) * np.asarray(self.coef)

    def log_odds(self, rows: ArrayLike) -> FloatArray:
        return self.intercept + self.contributions(rows).sum(axis=1)

    def predict(self, rows: ArrayLike) -> FloatArray:
        return sigmoid(self.log_odds(rows))

    def raw_coefficients(self) -> dict[str, float]:
        """Change of the log-odds per unit of each feature (per point, for component points)."""
        return {
            name: coef / scale
            for name, coef, scale in zip(self.features, self.coef, self.scale, strict=True)
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": [round(x, 6) for x in self.mean],
            "scale": [round(x, 6) for x in self.scale],
            "coef": [round(x, 6) for x in self.coef],
            "intercept": round(self.intercept, 6),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LogisticModel:
        return cls(
            features=tuple(str(f) for f in data["features"]),
            mean=tuple(float(x) for x in data["mean"]),
            scale=tuple(float(x) for x in data["scale"]),
            coef=tuple(float(x) for x in data["coef"]),
            intercept=float(data["intercept"]),
        )


def logistic_fit(
    rows: ArrayLike,
    labels: ArrayLike,
    *,
    features: Sequence[str],
    l2: float = DEFAULT_L2,
) -> LogisticModel:
    """L2-regularised logistic regression by Newton's method (IRLS).

    Minimises sum(log loss) + l2/2 * |coef|^2 over standardised features (mean 0, standard
    deviation 1, missing values at the mean), so the penalty treats every feature alike
    whatever its unit. A constant feature gets coefficient 0.
    """
    data = _floats(rows).reshape(-1, len(features))
    truth = _bools(labels).astype(np.float64)
    if data.shape[0] != truth.size:
        raise ValueError("rows and labels differ in length")
    if data.shape[0] == 0:
        raise ValueError("no rows to fit")
    mean = np.array([_nanmean(data[:, j]) for j in range(data.shape[1])])
    filled = np.where(np.isnan(data), mean, data)
    scale = filled.std(axis=0)
    constant = scale == 0
    scale[constant] = 1.0
    design = np.column_stack([np.ones(data.shape[0]), (filled - mean) / scale])
    design[:, 1:][:, constant] = 0.0
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0  # the intercept is the base rate: never shrunk
    beta = np.zeros(design.shape[1])
    for _ in range(NEWTON_MAX_ITERATIONS):
        p = sigmoid(design @ beta)
        gradient = design.T @ (p - truth) + penalty * beta
        weights = p * (1 - p)
        hessian = (design * weights[:, None]).T @ design + np.diag(penalty)
        # A tiny ridge on the diagonal keeps the solve defined when every row is one class.
        step = np.linalg.solve(hessian + 1e-9 * np.eye(design.shape[1]), gradient)
        beta -= step
        if np.max(np.abs(step)) < NEWTON_TOLERANCE:
            break
    return LogisticModel(
        features=tuple(features),
        mean=tuple(float(x) for x in mean),
        scale=tuple(float(x) for x in scale),
        coef=tuple(float(x) for x in beta[1:]),
        intercept=float(beta[0]),
    )


def _nanmean(column: FloatArray) -> float:
    present = column[~np.isnan(column)]
    return float(present.mean()) if present.size else 0.0


def round_to_total(values: Mapping[str, float], total: int = 100) -> dict[str, int]:
    """Non-negative shares rounded to integers that add up to `total` exactly.

    Largest remainder: everyone gets the floor of their exact share, and the points left
    go to the largest fractional parts (ties to the earlier key).
    """
    keys = list(values)
    raw = np.array([max(0.0, float(values[k])) for k in keys])
    if raw.sum() <= 0:
        return dict.fromkeys(keys, 0)
    exact = raw / raw.sum() * total
    floors = np.floor(exact).astype(int)
    left = total - int(floors.sum())
    order = sorted(range(len(keys)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return {k: int(v) for k, v in zip(keys, floors, strict=True)}


def weights_from_model(model: LogisticModel, *, total: int = 100) -> dict[str, int] | None:
    """Scorecard weights whose weighted sum of points ranks rows like the model does.

    More points must mean less churn, so a feature's weight is its negated coefficient per
    point; a feature whose extra points go with MORE churn (a positive coefficient) gets 0
    rather than a negative weight the score cannot have. None when no feature lowers risk.
    """
    per_point = model.raw_coefficients()
    protective = {name: max(0.0, -coef) for name, coef in per_point.items()}
    if sum(protective.values()) <= 0:
        return None
    return round_to_total(protective, total)


def weighted_score(points: ArrayLike, weights: Sequence[float]) -> FloatArray:
    """The health score from component points and weights, as health.scoring computes it:
    the weighted mean over the components that have data (weight > 0), rounded half to
    even like Python's round(); NaN for a row with none."""
    data = _floats(points)
    w = np.asarray(weights, dtype=np.float64)
    present = ~np.isnan(data) & (w > 0)
    total_weight = (present * w).sum(axis=1)
    weighted = np.where(present, np.nan_to_num(data) * w, 0.0).sum(axis=1)
    safe_total = np.where(total_weight > 0, total_weight, 1.0)
    score = np.where(total_weight > 0, weighted / safe_total, np.nan)
    return np.rint(score)


@dataclass(frozen=True)
class TimeSplit:
    """Train on score dates up to `train_until`, test on dates from `test_from` on.

    The cutoff is `test_from`: a model fitted on that day could only have known outcomes up
    to then, so every training row's horizon (day, day + horizon] ends on or before it.
    Training rows are therefore older than every test row by at least the horizon.
    """

    train_from: dt.date
    train_until: dt.date
    test_from: dt.date
    test_until: dt.date

    def masks(self, days: NDArray[np.int64]) -> tuple[BoolArray, BoolArray]:
        """(train, test) masks over score days given as date ordinals."""
        ordinals = np.asarray(days)
        train = ordinals <= self.train_until.toordinal()
        test = ordinals >= self.test_from.toordinal()
        return train, test


def time_split(
    sample_days: Sequence[dt.date], *, horizon_days: int, min_dates: int = 3
) -> TimeSplit | None:
    """Split the sampled score dates at the middle of the span the data covers.

    The data covers [first day, last day + horizon]. Cutting it at its midpoint gives the
    training dates (first day .. cutoff - horizon) and the test dates (cutoff .. last day)
    spans of equal length. None when either side would hold fewer than `min_dates` dates:
    the history is too short for the horizon (it needs more than twice the horizon).
    """
    days = sorted(set(sample_days))
    if not days:
        return None
    first, last = days[0], days[-1]
    span = (last - first).days + horizon_days
    cutoff = first + dt.timedelta(days=math.ceil(span / 2))
    train_last = cutoff - dt.timedelta(days=horizon_days)
    train = [d for d in days if d <= train_last]
    test = [d for d in days if d >= cutoff]
    if len(train) < min_dates or len(test) < min_dates:
        return None
    return TimeSplit(
        train_from=train[0], train_until=train[-1], test_from=test[0], test_until=test[-1]
    )
