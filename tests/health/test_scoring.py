import pytest

from health.scoring import ComponentRule, band_for, component_points, score_account

RULES = [
    ComponentRule("usage", 30, zero_at=0.1, full_at=0.8),
    ComponentRule("usage_trend", 10, zero_at=-0.5, full_at=0.1),
    ComponentRule("adoption", 15, zero_at=0.1, full_at=0.7),
    ComponentRule("support", 15, zero_at=6, full_at=0),
    ComponentRule("sentiment", 20, zero_at=30, full_at=90),
    ComponentRule("engagement", 10, zero_at=90, full_at=14),
]


@pytest.mark.parametrize(
    ("raw", "zero_at", "full_at", "points"),
    [
        (0.45, 0.1, 0.8, 50),  # halfway
        (0.05, 0.1, 0.8, 0),  # below zero_at clamps to 0
        (0.95, 0.1, 0.8, 100),  # above full_at clamps to 100
        (3, 6, 0, 50),  # lower is better: 3 tickets of 6
        (0, 6, 0, 100),
        (9, 6, 0, 0),
        (52, 90, 14, 50),  # 52 days since contact: halfway between 90 and 14
    ],
)
def test_points_are_linear_between_the_thresholds(raw, zero_at, full_at, points):
    assert component_points(raw, zero_at=zero_at, full_at=full_at) == points


@pytest.mark.parametrize(
    ("score", "band"),
    [(0, "red"), (39, "red"), (40, "yellow"), (69, "yellow"), (70, "green"), (100, "green")],
)
def test_bands_follow_the_thresholds(score, band):
    assert band_for(score, red_below=40, green_from=70) == band


def test_weighted_score_with_every_component():
    # usage 0.45 -> 50 pts, trend 0.1 -> 100, adoption 0.7 -> 100, support 3 -> 50,
    # sentiment 60 -> 50, engagement 14 -> 100.
    # (30*50 + 10*100 + 15*100 + 15*50 + 20*50 + 10*100) / 100 = 6750 / 100 = 67.5 -> 68
    raws = {
        "usage": 0.45,
        "usage_trend": 0.1,
        "adoption": 0.7,
        "support": 3,
        "sentiment": 60,
        "engagement": 14,
    }
    result = score_account(raws, RULES, red_below=40, green_from=70)
    assert result.score == 68
    assert result.band == "yellow"
    assert result.missing == []
    assert result.components["usage"] == {
        "raw": 0.45,
        "points": 50,
        "weight": 30,
        "effective_weight": 0.3,
    }


def test_components_without_data_are_left_out_and_weights_renormalised():
    # Only usage (0.8 -> 100 pts, weight 30) and support (6 -> 0 pts, weight 15):
    # 100 * 30/45 + 0 * 15/45 = 66.67 -> 67
    raws = {
        "usage": 0.8,
        "support": 6,
        "usage_trend": None,
        "adoption": None,
        "sentiment": None,
        "engagement": None,
    }
    result = score_account(raws, RULES, red_below=40, green_from=70)
    assert result.score == 67
    assert result.missing == ["usage_trend", "adoption", "sentiment", "engagement"]
    assert result.components["usage"]["effective_weight"] == pytest.approx(0.6667, abs=1e-4)
    assert set(result.components) == {"usage", "support"}


def test_no_data_at_all_gives_no_score_rather_than_zero():
    assert score_account({}, RULES, red_below=40, green_from=70) is None


def test_a_zero_weight_component_is_neither_scored_nor_missing():
    rules = [ComponentRule("usage", 100, 0.1, 0.8), ComponentRule("support", 0, 6, 0)]
    result = score_account({"usage": 0.1}, rules, red_below=40, green_from=70)
    assert (result.score, result.band, result.missing) == (0, "red", [])
