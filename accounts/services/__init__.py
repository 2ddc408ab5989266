"""Writes of the accounts floor, one module per sub-domain; the public names are re-exported."""

from accounts.services.rollups import account_rollups_refresh

__all__ = ["account_rollups_refresh"]
