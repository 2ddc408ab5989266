"""Pure scoring: raw measures -> component points -> a weighted score and a band.

No database here, so every rule of PRODUCT.md section 4 is unit-tested on plain numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from health.models import Band


@dataclass(frozen=True)
class ComponentRule:
    measure: str
    weight: int
    zero_at: float
    full_at: float

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ComponentRule:
        return cls(
            measure=str(data["measure"]),
            weight=int(data["weight"]),
            zero_at=float(data["zero_at"]),
            full_at=float(data["full_at"]),
        )


@dataclass(frozen=True)
class ScoreResult:
    score: int
    band: str
    components: dict[str, dict[str, float | int]]
    missing: list[str]


def component_points(raw: float, *, zero_at: float, full_at: float) -> int:
    """0 points at zero_at, 100 at full_at, linear between, clamped outside.

    zero_at > full_at means lower is better (tickets, days since the last interaction).
    """
    if zero_at == full_at:
        return 100 if raw >= full_at else 0
    fraction = (raw - zero_at) / (full_at - zero_at)
    return round(100 * min(1.0, max(0.0, fraction)))


def band_for(score: int, *, red_below: int, green_from: int) -> str:
    if score < red_below:
        return Band.RED
    if score >= green_from:
        return Band.GREEN
    return Band.YELLOW


def score_account(
    raws: Mapping[str, float | None],
    rules: Sequence[ComponentRule],
    *,
    red_below: int,
    green_from: int,
) -> ScoreResult | None:
    """Weighted score of the components that have data; None when none has.

    A component without data is left out and the others' weights are renormalised, so an
    account with no survey answers is scored on the rest rather than marked down.
    """
    present = [r for r in rules if r.weight > 0 and raws.get(r.measure) is not None]
    missing = [r.measure for r in rules if r.weight > 0 and raws.get(r.measure) is None]
    total_weight = sum(r.weight for r in present)
    if total_weight == 0:
        return None
    components: dict[str, dict[str, float | int]] = {}
    weighted = 0.0
    for rule in present:
        raw = float(raws[rule.measure])  # type: ignore[arg-type]
        points = component_points(raw, zero_at=rule.zero_at, full_at=rule.full_at)
        effective = rule.weight / total_weight
        weighted += points * effective
        components[rule.measure] = {
            "raw": round(raw, 4),
            "points": points,
            "weight": rule.weight,
            "effective_weight": round(effective, 4),
        }
    score = round(weighted)
    return ScoreResult(
        score=score,
        band=band_for(score, red_below=red_below, green_from=green_from),
        components=components,
        missing=missing,
    )
