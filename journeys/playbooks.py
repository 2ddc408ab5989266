"""Playbook evaluation (placeholder until the playbook engine lands)."""

from __future__ import annotations

import datetime as dt


def playbooks_run(*, today: dt.date, account_ids: list[int] | None = None) -> int:
    """Evaluate every active playbook (for the given accounts, or all); returns tasks made."""
    return 0
