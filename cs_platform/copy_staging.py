"""Bulk loads through a staging table: COPY the rows in, then one set-based statement.

COPY is PostgreSQL's fastest way in (text rows, no per-statement parsing), but it cannot
upsert; so rows are copied into a temporary table shaped like the target's columns, and
the caller runs its own INSERT ... SELECT ... ON CONFLICT (and whatever else needs the
staged rows) from there. PostgreSQL only; callers keep their own path for other databases.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import IO, Any

from django.db import connection

# Each staging table gets a name of its own, so several loads in one transaction (or one
# session) never meet; ON COMMIT DROP removes them all when the transaction ends.
_serial = itertools.count(1)


def copy_to_staging(cursor: Any, *, table: str, columns: Sequence[str], rows: IO[str]) -> str:
    """COPY `rows` (COPY text format, `columns` in order) into a new temporary table with
    those columns of `table`; returns the staging table's quoted name.

    Must run inside a transaction: the table lives until it ends.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("copy_to_staging needs a transaction: its table ends with it.")
    quote = connection.ops.quote_name
    listed = ", ".join(quote(column) for column in columns)
    staging = quote(f"staging_{table}_{next(_serial)}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS "
        f"SELECT {listed} FROM {quote(table)} WITH NO DATA"
    )
    cursor.cursor.copy_expert(f"COPY {staging} ({listed}) FROM STDIN", rows)
    return staging
