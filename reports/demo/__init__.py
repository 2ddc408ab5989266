"""Deterministic synthetic demo data: the customer base `seed_demo` loads.

The reports app is the top floor and may import every other app's models, which is why
the seed lives here. Modules: `planning` (accounts, contracts and their story), `usage`
(the daily usage rows), `activity` (tickets, interactions, tasks, survey answers),
`writing` (COPY / executemany), `seeding` (the service that runs it all).
"""

from reports.demo.seeding import DemoSummary, demo_data_present, demo_data_seed

__all__ = ["DemoSummary", "demo_data_present", "demo_data_seed"]
