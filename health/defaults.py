"""The default scorecard (PRODUCT.md section 4), as the data migration created it."""

# PRODUCT.md section 4: the default scorecard. Points are 0 at zero_at and 100 at full_at.
DEFAULT_COMPONENTS = [
    # Active users / licensed seats over the last 30 days.
    {"measure": "usage", "weight": 30, "zero_at": 0.1, "full_at": 0.8},
    # Relative change of active users, last 30 days vs the 30 before (-0.5 = halved).
    {"measure": "usage_trend", "weight": 10, "zero_at": -0.5, "full_at": 0.1},
    # Share of key features used in the last 30 days.
    {"measure": "adoption", "weight": 15, "zero_at": 0.1, "full_at": 0.7},
    # Open plus high-priority tickets of the last 30 days: none is best.
    {"measure": "support", "weight": 15, "zero_at": 6, "full_at": 0},
    # NPS and CSAT answers of the last 180 days on a 0-100 scale.
    {"measure": "sentiment", "weight": 20, "zero_at": 30, "full_at": 90},
    # Days since the last logged interaction: recent is best.
    {"measure": "engagement", "weight": 10, "zero_at": 90, "full_at": 14},
]
