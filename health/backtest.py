"""The backtest: how well did the stored health scores predict what happened afterwards?

Extraction is set-based and the same on PostgreSQL and SQLite:

1. the distinct score days old enough for their outcome to be known (day + horizon <=
   today), thinned to one every SAMPLE_EVERY_DAYS days counting back from the newest, at
   most MAX_SAMPLE_DATES of them. Consecutive days of one account say nearly the same
   thing, so a weekly sample loses little and bounds the work: 50,000 accounts x 52 weeks
   is 2.6 M observations instead of 18 M;
2. one query for the score rows of those days (component points pulled out of the JSON
   breakdown by the database), joined with each account's churn date;
3. one query for the live contracts around the window, from which NumPy derives each
   observation's ARR on its day and what happened at the next renewal within the horizon
   (expanded, contracted, renewed flat, or ended without a renewal).

Everything after that is NumPy on arrays (health/validation.py), in backtest_compute,
which never touches the database and is tested on hand-made observations.

An observation is one account on one sampled score day. "Churned" means its churned_on
falls in (day, day + horizon]. Churns are counted as distinct accounts when deciding
whether there are enough outcomes to report a number (MIN_CHURNS): one churn seen from
thirteen weekly samples is still one churn.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import FloatField, QuerySet
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast
from django.http import Http404

from accounts.models import Account, Contract, Segment
from health.models import Band, HealthScore, Measure, ScoreBacktest, ScorecardVersion
from health.retention import RENEWAL_WINDOW_DAYS
from health.validation import (
    TimeSplit,
    auc,
    correlation_matrix,
    logistic_fit,
    quantile_groups,
    roc_curve,
    time_split,
    weighted_score,
    weights_from_model,
)

HORIZONS = (30, 60, 90, 180)
SAMPLE_EVERY_DAYS = 7
# Two years of weekly samples.
MAX_SAMPLE_DATES = 104
# Fewer churned accounts than this and the page shows counts, not rates or an AUC: an AUC
# from a dozen churns moves by 0.1 when one of them goes the other way.
MIN_CHURNS = 20
# Fewer assessed overrides than this and their accuracy is not given as a percentage.
MIN_OVERRIDES = 10
# Rows fetched per round trip; each batch becomes NumPy arrays at once, so memory holds
# arrays of floats, not millions of Python tuples.
FETCH_BATCH = 20_000
BANDS = (Band.RED, Band.YELLOW, Band.GREEN)
# A component whose own AUC (to two decimals) is below this predicts (almost) nothing;
# below WEAK_AUC, little.
USELESS_AUC = 0.55
WEAK_AUC = 0.6
# Components correlated at least this much largely measure the same thing.
REDUNDANT_CORRELATION = 0.7
# Proposed weights must beat the current ones by this much out of sample to be worth it.
MEANINGFUL_GAIN = 0.01
# Composite keys (account index, date ordinal) for sorted searches: ordinals stay < 2**21.
_KEY_BASE = 2**21


class Outcome:
    """What happened to an observation's account within the horizon; churn comes first."""

    CHURNED = "churned"
    EXPANDED = "expanded"
    CONTRACTED = "contracted"
    RENEWED = "renewed"
    LAPSED = "lapsed"  # a contract ended with no successor, the account not marked churned
    NONE_DUE = "none_due"  # no contract ended within the horizon

    ALL = (CHURNED, EXPANDED, CONTRACTED, RENEWED, LAPSED, NONE_DUE)
    LABELS = {
        CHURNED: "Churned",
        EXPANDED: "Renewed with expansion",
        CONTRACTED: "Renewed with contraction",
        RENEWED: "Renewed flat",
        LAPSED: "Contract ended, not renewed",
        NONE_DUE: "No renewal due",
    }


@dataclass
class Observations:
    """One row per account per sampled score day; arrays of equal length."""

    measures: tuple[str, ...]
    account_id: np.ndarray
    day: np.ndarray  # date ordinals
    score: np.ndarray  # the computed score (the scorecard's own prediction)
    shown: np.ndarray  # the score shown: the override's while one was active
    band: np.ndarray  # computed band
    shown_band: np.ndarray
    override_id: np.ndarray  # 0: no override
    churned: np.ndarray
    outcome: np.ndarray
    arr: np.ndarray  # the account's ARR on the day
    points: np.ndarray  # (rows, measures), NaN where the component had no data

    @classmethod
    def build(cls, measures: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Observations:
        """From plain dicts (tests): account_id, day, score, band, churned, and optionally
        shown, shown_band, override_id, outcome, arr and points {measure: value}."""
        items = list(rows)
        return cls(
            measures=tuple(measures),
            account_id=np.array([r["account_id"] for r in items], dtype=np.int64),
            day=np.array([r["day"].toordinal() for r in items], dtype=np.int64),
            score=np.array([r["score"] for r in items], dtype=np.float64),
            shown=np.array([r.get("shown", r["score"]) for r in items], dtype=np.float64),
            band=np.array([r["band"] for r in items], dtype="<U6"),
            shown_band=np.array([r.get("shown_band", r["band"]) for r in items], dtype="<U6"),
            override_id=np.array([r.get("override_id", 0) for r in items], dtype=np.int64),
            churned=np.array([r["churned"] for r in items], dtype=bool),
            outcome=np.array(
                [
                    r.get("outcome", Outcome.CHURNED if r["churned"] else Outcome.NONE_DUE)
                    for r in items
                ],
                dtype="<U10",
            ),
            arr=np.array([r.get("arr", 0.0) for r in items], dtype=np.float64),
            points=np.array(
                [[r.get("points", {}).get(m, np.nan) for m in measures] for r in items],
                dtype=np.float64,
            ).reshape(len(items), len(measures)),
        )

    def __len__(self) -> int:
        return int(self.account_id.size)


@dataclass(frozen=True)
class CurrentScorecard:
    """The scorecard version a proposal would replace, as plain values."""

    version_id: int | None
    label: str
    weights: dict[str, int]
    red_below: int
    green_from: int


# --- Extraction --------------------------------------------------------------------------


def sample_days_select(
    *, today: dt.date, horizon_days: int, every: int = SAMPLE_EVERY_DAYS
) -> list[dt.date]:
    """Score days whose horizon has passed, one every `every` days from the newest back,
    oldest first. Works whether scores are stored daily or only weekly."""
    newest_usable = today - dt.timedelta(days=horizon_days)
    stored = (
        HealthScore.objects.filter(day__lte=newest_usable)
        .order_by("-day")
        .values_list("day", flat=True)
        .distinct()
    )
    picked: list[dt.date] = []
    for day in stored.iterator():
        if picked and (picked[-1] - day).days < every:
            continue
        picked.append(day)
        if len(picked) >= MAX_SAMPLE_DATES:
            break
    return picked[::-1]


def _points_column(measure: str) -> Cast:
    # Nested transforms, not the "components__usage_trend__points" lookup: "__" inside
    # a key would be read as a path separator.
    return Cast(KeyTextTransform("points", KeyTransform(measure, "components")), FloatField())


def observations_load(
    *,
    days: Sequence[dt.date],
    horizon_days: int,
    measures: Sequence[str],
    accounts: QuerySet[Account] | None = None,
) -> Observations:
    """The sampled score rows with their outcomes: one query for scores, one for contracts."""
    columns = {f"p{n}": _points_column(measure) for n, measure in enumerate(measures)}
    scores = HealthScore.objects.filter(day__in=list(days)).order_by()
    if accounts is not None:
        scores = scores.filter(account_id__in=accounts.order_by().values("pk"))
    rows = (
        scores.annotate(**columns)
        .values_list(
            "account_id",
            "day",
            "computed_score",
            "score",
            "computed_band",
            "band",
            "override_id",
            "account__churned_on",
            *columns,
        )
        .iterator(chunk_size=FETCH_BATCH)
    )
    parts: dict[str, list[np.ndarray]] = defaultdict(list)
    while batch := list(itertools.islice(rows, FETCH_BATCH)):
        account_id, day, score, shown, band, shown_band, override, churn_day, *points = zip(
            *batch, strict=True
        )
        parts["account_id"].append(np.array(account_id, dtype=np.int64))
        parts["day"].append(np.array([d.toordinal() for d in day], dtype=np.int64))
        parts["score"].append(np.array(score, dtype=np.float64))
        parts["shown"].append(np.array(shown, dtype=np.float64))
        parts["band"].append(np.array(band, dtype="<U6"))
        parts["shown_band"].append(np.array(shown_band, dtype="<U6"))
        parts["override_id"].append(np.array([o or 0 for o in override], dtype=np.int64))
        parts["churned_on"].append(
            np.array([d.toordinal() if d else 0 for d in churn_day], dtype=np.int64)
        )
        parts["points"].append(
            np.array(
                [[np.nan if v is None else v for v in column] for column in points],
                dtype=np.float64,
            ).T.reshape(len(batch), len(measures))
        )

    def joined(name: str, dtype: Any, shape: tuple[int, ...] = (0,)) -> np.ndarray:
        return np.concatenate(parts[name]) if parts[name] else np.empty(shape, dtype=dtype)

    account_ids = joined("account_id", np.int64)
    day_ordinals = joined("day", np.int64)
    churned_on = joined("churned_on", np.int64)
    churned = (churned_on > day_ordinals) & (churned_on <= day_ordinals + horizon_days)
    arr, renewal = contract_facts(
        account_ids=account_ids, days=day_ordinals, horizon_days=horizon_days, accounts=accounts
    )
    outcome = np.where(churned, Outcome.CHURNED, renewal).astype("<U10")
    return Observations(
        measures=tuple(measures),
        account_id=account_ids,
        day=day_ordinals,
        score=joined("score", np.float64),
        shown=joined("shown", np.float64),
        band=joined("band", "<U6"),
        shown_band=joined("shown_band", "<U6"),
        override_id=joined("override_id", np.int64),
        churned=churned,
        outcome=outcome,
        arr=arr,
        points=joined("points", np.float64, (0, len(measures))),
    )


def contract_facts(
    *,
    account_ids: np.ndarray,
    days: np.ndarray,
    horizon_days: int,
    accounts: QuerySet[Account] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each observation's ARR on its day, and what happened at its account's first contract
    end within (day, day + horizon]: one query for the contracts around the window.

    ARR on a day is the sum of the non-cancelled contracts covering it (PRODUCT.md section
    3); a contract end is renewed when the account has contracts starting within 30 days
    after it, expanded or contracted when their ARR is above or below the ended ARR.
    """
    n = account_ids.size
    if n == 0:
        return np.zeros(0), np.empty(0, dtype="<U10")
    first, last = int(days.min()), int(days.max())
    contracts = Contract.objects.exclude(status=Contract.Status.CANCELLED).filter(
        end_date__gte=dt.date.fromordinal(first),
        start_date__lte=dt.date.fromordinal(last + horizon_days + RENEWAL_WINDOW_DAYS),
    )
    if accounts is not None:
        contracts = contracts.filter(account_id__in=accounts.order_by().values("pk"))
    rows = list(contracts.order_by().values_list("account_id", "start_date", "end_date", "arr"))

    known = np.unique(account_ids)
    obs_index = np.searchsorted(known, account_ids)
    if rows:
        c_account = np.array([r[0] for r in rows], dtype=np.int64)
        c_start = np.array([r[1].toordinal() for r in rows], dtype=np.int64)
        c_end = np.array([r[2].toordinal() for r in rows], dtype=np.int64)
        c_arr = np.array([float(r[3]) for r in rows], dtype=np.float64)
        c_index = np.minimum(np.searchsorted(known, c_account), known.size - 1)
        ours = known[c_index] == c_account
    else:
        c_account = c_start = c_end = c_index = np.zeros(0, dtype=np.int64)
        c_arr = np.zeros(0)
        ours = np.zeros(0, dtype=bool)

    # ARR: one bincount per distinct sampled day (a few dozen), not one pass per row.
    arr = np.zeros(n)
    sample_days, day_index = np.unique(days, return_inverse=True)
    for j, day in enumerate(sample_days):
        covering = ours & (c_start <= day) & (c_end >= day)
        by_account = np.bincount(c_index[covering], weights=c_arr[covering], minlength=known.size)
        on_day = day_index == j
        arr[on_day] = by_account[obs_index[on_day]]

    # Renewal events: (account, end day) -> kind, from the ended ARR and its successors.
    ended: dict[tuple[int, int], float] = defaultdict(float)
    starts: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for a, s, e, value, mine in zip(c_index, c_start, c_end, c_arr, ours, strict=True):
        if not mine:
            continue
        starts[int(a)].append((int(s), float(value)))
        if first < e <= last + horizon_days:
            ended[(int(a), int(e))] += float(value)
    event_keys: list[int] = []
    event_kinds: list[str] = []
    for (a, e), value in sorted(ended.items()):
        following = sum(v for s, v in starts[a] if e < s <= e + RENEWAL_WINDOW_DAYS)
        if following == 0:
            kind = Outcome.LAPSED
        elif following > value:
            kind = Outcome.EXPANDED
        elif following < value:
            kind = Outcome.CONTRACTED
        else:
            kind = Outcome.RENEWED
        event_keys.append(a * _KEY_BASE + e)
        event_kinds.append(kind)

    renewal = np.full(n, Outcome.NONE_DUE, dtype="<U10")
    if event_keys:
        keys = np.array(event_keys, dtype=np.int64)
        kinds = np.array(event_kinds, dtype="<U10")
        obs_keys = obs_index.astype(np.int64) * _KEY_BASE + days
        # The first event strictly after the day; it counts if it is the same account's and
        # falls within the horizon.
        nxt = np.searchsorted(keys, obs_keys, side="right")
        found = nxt < keys.size
        candidate = np.where(found, keys[np.minimum(nxt, keys.size - 1)], 0)
        hit = (
            found
            & (candidate // _KEY_BASE == obs_index)
            & (candidate % _KEY_BASE <= days + horizon_days)
        )
        renewal[hit] = kinds[np.minimum(nxt, keys.size - 1)][hit]
    return arr, renewal


# --- The figures -------------------------------------------------------------------------


def _r(value: float | None, digits: int = 4) -> float | None:
    """JSON-safe rounding: NaN and infinities become None (PostgreSQL's jsonb refuses NaN)."""
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)


def _distinct_churns(obs: Observations, mask: np.ndarray | None = None) -> int:
    churned = obs.churned if mask is None else obs.churned & mask
    return int(np.unique(obs.account_id[churned]).size)


def band_figures(obs: Observations, *, sample_dates: int, enough: bool) -> list[dict[str, Any]]:
    """Per band (of the computed score): observations, churns and their rate, average ARR
    per sample date and the part of it lost to churn, and every outcome's count."""
    rows = []
    dates = max(sample_dates, 1)
    for band in BANDS:
        members = obs.band == band
        size = int(members.sum())
        churned = members & obs.churned
        events = int(churned.sum())
        arr_total = float(obs.arr[members].sum()) / dates
        arr_lost = float(obs.arr[churned].sum()) / dates
        rows.append(
            {
                "band": str(band),
                "observations": size,
                "accounts": int(np.unique(obs.account_id[members]).size),
                "churned": events,
                "churned_accounts": int(np.unique(obs.account_id[churned]).size),
                "rate": _r(events / size) if enough and size else None,
                "arr_avg": round(arr_total, 2),
                "arr_lost_avg": round(arr_lost, 2),
                "arr_rate": _r(arr_lost / arr_total) if enough and arr_total else None,
                "outcomes": {
                    kind: int((members & (obs.outcome == kind)).sum()) for kind in Outcome.ALL
                },
            }
        )
    return rows


def override_accuracy(obs: Observations) -> dict[str, Any]:
    """How often a manual override moved the score the right way, next to the computed band.

    Each override is judged once, on the first sampled day it was active and differed from
    the computed score. Raising the score is right when the account did not churn within
    the horizon; lowering it is right when it did. The bands are compared the same way:
    red says "will churn", yellow and green say "will stay".
    """
    active = (obs.override_id > 0) & (obs.shown != obs.score)
    idx = np.flatnonzero(active)
    if idx.size:
        order = idx[np.lexsort((obs.day[idx], obs.override_id[idx]))]
        _, first = np.unique(obs.override_id[order], return_index=True)
        idx = order[first]
    raised = obs.shown[idx] > obs.score[idx]
    churned = obs.churned[idx]
    right = (raised & ~churned) | (~raised & churned)
    override_band_right = (obs.shown_band[idx] == Band.RED) == churned
    computed_band_right = (obs.band[idx] == Band.RED) == churned
    assessed = int(idx.size)
    enough = assessed >= MIN_OVERRIDES
    return {
        "assessed": assessed,
        "enough": enough,
        "raised": int(raised.sum()),
        "raised_churned": int((raised & churned).sum()),
        "lowered": int((~raised).sum()),
        "lowered_churned": int((~raised & churned).sum()),
        "right": int(right.sum()),
        "right_share": _r(right.mean()) if enough else None,
        "override_band_right": int(override_band_right.sum()),
        "computed_band_right": int(computed_band_right.sum()),
        "override_band_share": _r(override_band_right.mean()) if enough else None,
        "computed_band_share": _r(computed_band_right.mean()) if enough else None,
    }


def proposal_figures(
    obs: Observations,
    *,
    split: TimeSplit,
    current: CurrentScorecard,
    min_churns: int,
) -> dict[str, Any]:
    """Fit on the training dates, judge on the test dates: the proposal and its evidence."""
    train, test = split.masks(obs.day)
    train_churns = _distinct_churns(obs, train)
    test_churns = _distinct_churns(obs, test)
    result: dict[str, Any] = {
        "split": {
            "train_from": split.train_from.isoformat(),
            "train_until": split.train_until.isoformat(),
            "test_from": split.test_from.isoformat(),
            "test_until": split.test_until.isoformat(),
            "train_observations": int(train.sum()),
            "test_observations": int(test.sum()),
            "train_churns": train_churns,
            "test_churns": test_churns,
        },
        "proposal": None,
        "model": None,
        "calibration": [],
    }
    if train_churns < min_churns or test_churns < min_churns:
        result["note"] = (
            f"Too few churns to fit and test weights: {train_churns} in the training dates "
            f"and {test_churns} in the test dates; each needs at least {min_churns}."
        )
        return result

    measures = obs.measures
    has_data = ~np.isnan(obs.points[train]).all(axis=0)
    used = [m for m, ok in zip(measures, has_data, strict=True) if ok]
    if not used:
        result["note"] = "No component has data in the training dates."
        return result
    columns = [measures.index(m) for m in used]
    model = logistic_fit(obs.points[train][:, columns], obs.churned[train], features=used)
    fitted = weights_from_model(model)
    if fitted is None:
        result["note"] = (
            "No component lowers churn risk in the training dates (every fitted "
            "coefficient points the wrong way), so there are no weights to propose."
        )
        result["model"] = model.to_json()
        return result
    proposed = {m: fitted.get(m, 0) for m in measures}
    current_vector = [current.weights.get(m, 0) for m in measures]
    proposed_vector = [proposed[m] for m in measures]
    test_points = obs.points[test]
    truth = obs.churned[test]
    probabilities = model.predict(test_points[:, columns])
    per_point = model.raw_coefficients()
    result["proposal"] = {
        "weights": proposed,
        "auc_current": _r(auc(-weighted_score(test_points, current_vector), truth)),
        "auc_proposed": _r(auc(-weighted_score(test_points, proposed_vector), truth)),
        "auc_model": _r(auc(probabilities, truth)),
        "auc_stored": _r(auc(-obs.score[test], truth)),
        "component_auc_test": {
            m: _r(auc(-test_points[:, j], truth)) for j, m in enumerate(measures)
        },
        "coefficients": {m: _r(per_point.get(m), 6) for m in measures},
    }
    result["model"] = model.to_json()
    result["calibration"] = [
        {
            "predicted": _r(row["mean"]),
            "observed": _r(row["rate"]),
            "observations": row["observations"],
            "churned": row["events"],
        }
        for row in quantile_groups(probabilities, truth)
    ]
    return result


def backtest_compute(
    obs: Observations,
    *,
    horizon_days: int,
    sample_days: Sequence[dt.date],
    current: CurrentScorecard,
    today: dt.date,
    min_churns: int = MIN_CHURNS,
) -> dict[str, Any]:
    """Every figure the validation page shows, as JSON-ready values (no database)."""
    churn_events = _distinct_churns(obs)
    enough = churn_events >= min_churns
    labels = dict(Measure.choices)
    data: dict[str, Any] = {
        "horizon_days": horizon_days,
        "as_of": today.isoformat(),
        "sample_every_days": SAMPLE_EVERY_DAYS,
        "sample_dates": len(sample_days),
        "first_day": sample_days[0].isoformat() if sample_days else None,
        "last_day": sample_days[-1].isoformat() if sample_days else None,
        "observations": len(obs),
        "accounts": int(np.unique(obs.account_id).size),
        "churned_observations": int(obs.churned.sum()),
        "churn_events": churn_events,
        "min_churns": min_churns,
        "enough_outcomes": enough,
        "scorecard": {
            "version_id": current.version_id,
            "label": current.label,
            "weights": current.weights,
            "red_below": current.red_below,
            "green_from": current.green_from,
        },
        "measures": [{"measure": m, "label": labels.get(m, m)} for m in obs.measures],
    }
    data["bands"] = band_figures(obs, sample_dates=len(sample_days), enough=enough)
    data["overrides"] = override_accuracy(obs)
    data["correlations"] = correlation_matrix(obs.points) if len(obs) else []
    if not enough:
        data.update(auc=None, roc=None, deciles=[], components=[], red_vs_green=None)
        data.update(split=None, proposal=None, model=None, calibration=[])
        data["conclusions"] = []
        return data

    data["auc"] = _r(auc(-obs.score, obs.churned))
    fpr, tpr = roc_curve(-obs.score, obs.churned)
    data["roc"] = {"fpr": fpr, "tpr": tpr}
    rates = {row["band"]: row["rate"] for row in data["bands"]}
    red, green = rates.get(Band.RED), rates.get(Band.GREEN)
    data["red_vs_green"] = _r(red / green, 2) if red is not None and green else None
    data["deciles"] = [
        {
            "low": int(row["low"]),
            "high": int(row["high"]),
            "observations": row["observations"],
            "churned": row["events"],
            "rate": _r(row["rate"]),
        }
        for row in quantile_groups(obs.score, obs.churned)
    ]
    data["components"] = [
        {
            "measure": m,
            "label": labels.get(m, m),
            "weight": current.weights.get(m, 0),
            "observations": int((~np.isnan(obs.points[:, j])).sum()),
            "auc": _r(auc(-obs.points[:, j], obs.churned)),
        }
        for j, m in enumerate(obs.measures)
    ]

    split = time_split(sample_days, horizon_days=horizon_days)
    if split is None:
        data.update(split=None, proposal=None, model=None, calibration=[])
        data["split_note"] = (
            f"The score history ({len(sample_days)} sampled dates) is too short to train on "
            f"older dates and test on newer ones {horizon_days} days apart: it needs more "
            f"than twice the horizon."
        )
    else:
        data.update(proposal_figures(obs, split=split, current=current, min_churns=min_churns))
        if "note" in data:
            data["split_note"] = data.pop("note")
    data["conclusions"] = conclusions(data)
    return data


# --- Words -------------------------------------------------------------------------------


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f} %"


def _auc_quality(value: float) -> str:
    if value >= 0.8:
        return "well"
    if value >= 0.7:
        return "fairly well"
    if value >= 0.6:
        return "weakly"
    return "hardly at all"


def conclusions(data: Mapping[str, Any]) -> list[str]:
    """Plain-language findings, strongest first; only from numbers the page also shows."""
    horizon = data["horizon_days"]
    sentences: list[str] = []
    if data.get("auc") is not None:
        sentences.append(
            f"The score separates accounts that churned within {horizon} days from those "
            f"that stayed {_auc_quality(data['auc'])}: AUC {data['auc']:.2f} (0.5 is a coin "
            f"toss, 1.0 is perfect), over {data['churn_events']} churned accounts."
        )
    bands = {row["band"]: row for row in data.get("bands", [])}
    red, green = bands.get(Band.RED), bands.get(Band.GREEN)
    if red and green and red["rate"] is not None and green["rate"] is not None:
        if green["rate"] > 0:
            sentences.append(
                f"Accounts in red churned {red['rate'] / green['rate']:.1f}× as often as green "
                f"within {horizon} days ({_pct(red['rate'])} vs {_pct(green['rate'])})."
            )
        elif red["rate"] > 0:
            sentences.append(
                f"{_pct(red['rate'])} of accounts in red churned within {horizon} days; "
                "none in green did."
            )
    deciles = data.get("deciles") or []
    if len(deciles) >= 2 and deciles[0]["rate"] is not None:
        low, high = deciles[0], deciles[-1]
        sentences.append(
            f"The lowest tenth of scores ({low['low']}–{low['high']}) churned at "
            f"{_pct(low['rate'])}, the highest tenth ({high['low']}–{high['high']}) at "
            f"{_pct(high['rate'])}."
        )
    components = [c for c in data.get("components", []) if c["auc"] is not None]
    if components:
        best = max(components, key=lambda c: c["auc"])
        sentences.append(f"{best['label']} predicts churn best on its own: AUC {best['auc']:.2f}.")
        for c in sorted(components, key=lambda c: c["auc"]):
            shown = round(c["auc"], 2)
            if shown < USELESS_AUC:
                sentences.append(
                    f"The {c['label'].lower()} component adds nothing: AUC {shown:.2f}."
                )
            elif shown < WEAK_AUC:
                sentences.append(
                    f"The {c['label'].lower()} component adds little: AUC {shown:.2f}."
                )
    measures = [m["label"] for m in data.get("measures", [])]
    matrix = data.get("correlations") or []
    for i, j in itertools.combinations(range(len(matrix)), 2):
        r = matrix[i][j]
        if r is not None and abs(r) >= REDUNDANT_CORRELATION:
            sentences.append(
                f"{measures[i]} and {measures[j].lower()} move together (r = {r:.2f}): they "
                "largely measure the same thing."
            )
    proposal = data.get("proposal")
    if proposal and proposal["auc_current"] is not None and proposal["auc_proposed"] is not None:
        split = data["split"]
        gain = proposal["auc_proposed"] - proposal["auc_current"]
        period = f"the newer dates ({split['test_from']} to {split['test_until']})"
        if gain >= MEANINGFUL_GAIN:
            sentences.append(
                f"The proposed weights, fitted on older dates only, rank {period} better: "
                f"AUC {proposal['auc_proposed']:.2f} against {proposal['auc_current']:.2f} "
                "for the current weights."
            )
        else:
            sentences.append(
                f"The proposed weights do no better than the current ones on {period} "
                f"(AUC {proposal['auc_proposed']:.2f} against "
                f"{proposal['auc_current']:.2f}): keeping the current weights is fine."
            )
    overrides = data.get("overrides") or {}
    if overrides.get("enough"):
        sentences.append(
            f"Manual overrides moved the score the right way {overrides['right']} times out "
            f"of {overrides['assessed']} ({_pct(overrides['right_share'])})."
        )
    return sentences


# --- Reads for the validation page -------------------------------------------------------


def backtest_latest(*, horizon_days: int, segment: Segment | None) -> ScoreBacktest | None:
    """The newest stored backtest of a horizon and scope, with what the page shows of it."""
    return (
        ScoreBacktest.objects.filter(horizon_days=horizon_days, segment=segment)
        .select_related(
            "segment",
            "based_on_version__scorecard",
            "adopted_version__created_by",
        )
        .order_by("-computed_at", "-pk")
        .first()
    )


def backtest_get(*, backtest_id: int) -> ScoreBacktest:
    """A stored backtest by id, or 404. Backtests hold portfolio-wide figures only (no
    account names), so who may see one is a question of role, checked by the view."""
    try:
        return ScoreBacktest.objects.select_related("based_on_version__scorecard", "segment").get(
            pk=backtest_id
        )
    except ScoreBacktest.DoesNotExist:
        raise Http404("No such backtest.") from None


def _percent_value(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


@dataclass(frozen=True)
class WeightRow:
    measure: str
    label: str
    current: int
    proposed: int | None
    auc_all: float | None
    auc_test: float | None
    weak: bool  # predicts little on its own


@dataclass(frozen=True)
class BandRow:
    band: str
    label: str
    observations: int
    accounts: int
    churned: int
    churned_accounts: int
    rate_pct: float | None
    arr_avg: float
    arr_lost_avg: float
    arr_rate_pct: float | None
    outcomes: list[tuple[str, int]]


@dataclass(frozen=True)
class DecileRow:
    low: int
    high: int
    observations: int
    churned: int
    rate_pct: float | None


@dataclass(frozen=True)
class CalibrationRow:
    predicted_pct: float | None
    observed_pct: float | None
    observations: int
    churned: int


@dataclass(frozen=True)
class CorrelationRow:
    label: str
    cells: list[float | None]


@dataclass(frozen=True)
class SplitDates:
    train_from: dt.date
    train_until: dt.date
    test_from: dt.date
    test_until: dt.date
    train_observations: int
    test_observations: int
    train_churns: int
    test_churns: int


@dataclass
class ValidationPage:
    """A stored backtest made ready for the template: rows, words and the adopt state."""

    backtest: ScoreBacktest
    data: dict[str, Any]
    first_day: dt.date | None
    last_day: dt.date | None
    bands: list[BandRow]
    deciles: list[DecileRow]
    calibration: list[CalibrationRow]
    weights: list[WeightRow]
    correlations: list[CorrelationRow]
    overrides: dict[str, Any]
    split: SplitDates | None
    # "ready", "adopted", "no_proposal", "stale" (the scorecard has a newer version) or
    # "not_own_scorecard" (a segment scored by the default scorecard).
    adopt_state: str
    latest_version_number: int | None
    proposal: dict[str, Any] | None = None


def validation_page_build(backtest: ScoreBacktest) -> ValidationPage:
    """Everything the page needs from one backtest; one query (the scorecard's latest
    version number, for "has it changed since?")."""
    data = backtest.data or {}
    proposal = data.get("proposal")
    labels = dict(Measure.choices)
    outcome_order = [o for o in Outcome.ALL if o != Outcome.CHURNED]
    bands = [
        BandRow(
            band=row["band"],
            label=Band(row["band"]).label,
            observations=row["observations"],
            accounts=row["accounts"],
            churned=row["churned"],
            churned_accounts=row["churned_accounts"],
            rate_pct=_percent_value(row["rate"]),
            arr_avg=row["arr_avg"],
            arr_lost_avg=row["arr_lost_avg"],
            arr_rate_pct=_percent_value(row["arr_rate"]),
            outcomes=[(Outcome.LABELS[o], row["outcomes"].get(o, 0)) for o in outcome_order],
        )
        for row in data.get("bands", [])
    ]
    deciles = [
        DecileRow(
            row["low"],
            row["high"],
            row["observations"],
            row["churned"],
            _percent_value(row["rate"]),
        )
        for row in data.get("deciles", [])
    ]
    calibration = [
        CalibrationRow(
            _percent_value(row["predicted"]),
            _percent_value(row["observed"]),
            row["observations"],
            row["churned"],
        )
        for row in data.get("calibration", [])
    ]
    component_auc = {c["measure"]: c["auc"] for c in data.get("components", [])}
    test_auc = (proposal or {}).get("component_auc_test", {})
    current = data.get("scorecard", {}).get("weights", {})
    weights = [
        WeightRow(
            measure=m["measure"],
            label=m["label"],
            current=int(current.get(m["measure"], 0)),
            proposed=proposal["weights"].get(m["measure"]) if proposal else None,
            auc_all=component_auc.get(m["measure"]),
            auc_test=test_auc.get(m["measure"]),
            weak=component_auc.get(m["measure"]) is not None
            and round(component_auc[m["measure"]], 2) < WEAK_AUC,
        )
        for m in data.get("measures", [])
    ]
    names = [labels.get(m["measure"], m["measure"]) for m in data.get("measures", [])]
    matrix = data.get("correlations") or []
    correlations = [
        CorrelationRow(label=name, cells=list(matrix[i]))
        for i, name in enumerate(names)
        if i < len(matrix)
    ]
    overrides = dict(data.get("overrides") or {})
    for key in ("right_share", "override_band_share", "computed_band_share"):
        overrides[f"{key}_pct"] = _percent_value(overrides.get(key))
    split_data = data.get("split")
    split = (
        SplitDates(
            train_from=dt.date.fromisoformat(split_data["train_from"]),
            train_until=dt.date.fromisoformat(split_data["train_until"]),
            test_from=dt.date.fromisoformat(split_data["test_from"]),
            test_until=dt.date.fromisoformat(split_data["test_until"]),
            train_observations=split_data["train_observations"],
            test_observations=split_data["test_observations"],
            train_churns=split_data["train_churns"],
            test_churns=split_data["test_churns"],
        )
        if split_data
        else None
    )

    based_on = backtest.based_on_version
    latest_number = None
    if based_on is not None:
        latest_number = (
            ScorecardVersion.objects.filter(scorecard_id=based_on.scorecard_id)
            .order_by("-number")
            .values_list("number", flat=True)
            .first()
        )
    if backtest.adopted_version_id is not None:
        state = "adopted"
    elif not proposal or based_on is None:
        state = "no_proposal"
    elif backtest.segment_id is not None and based_on.scorecard.segment_id != backtest.segment_id:
        state = "not_own_scorecard"
    elif latest_number != based_on.number:
        state = "stale"
    else:
        state = "ready"
    return ValidationPage(
        backtest=backtest,
        data=data,
        first_day=_day(data.get("first_day")),
        last_day=_day(data.get("last_day")),
        bands=bands,
        deciles=deciles,
        calibration=calibration,
        weights=weights,
        correlations=correlations,
        overrides=overrides,
        split=split,
        adopt_state=state,
        latest_version_number=latest_number,
        proposal=proposal,
    )
