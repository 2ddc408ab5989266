"""Reads of the accounts floor, one module per sub-domain; the public names are re-exported."""

from accounts.selectors.access import (
    account_get_for_edit,
    account_get_for_user,
    accounts_visible_to,
    local_today,
    portfolio_summary,
    tasks_summary_for_owner,
)

__all__ = [
    "account_get_for_edit",
    "account_get_for_user",
    "accounts_visible_to",
    "local_today",
    "portfolio_summary",
    "tasks_summary_for_owner",
]
