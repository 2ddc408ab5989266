"""Schema and sequence handling around the demo's bulk writes (the writes themselves are
cs_platform.bulk_rows): truncating, suspending indexes and foreign keys while millions of
rows go in, and moving id sequences past the ids written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.core.management.color import no_style
from django.db import connection
from django.db.models import Max, Model


def next_id(model: type[Model]) -> int:
    """The first free primary key of a table (1 when it is empty)."""
    highest = model._default_manager.aggregate(highest=Max("pk"))["highest"]
    return (highest or 0) + 1


def sequences_reset(models: Sequence[type[Model]]) -> None:
    """Move id sequences past explicitly written ids, so the app's next insert succeeds."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(models))
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def tables_truncate(models: Sequence[type[Model]]) -> None:
    """Empty tables on PostgreSQL, with everything that references them (CASCADE)."""
    quote = connection.ops.quote_name
    tables = ", ".join(quote(model._meta.db_table) for model in models)
    with connection.cursor() as cursor:
        # PostgreSQL refuses to truncate tables with deferred checks still queued (rows
        # written earlier in the same transaction): run the checks first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@dataclass(frozen=True, slots=True)
class SuspendedSchema:
    """What `indexes_and_foreign_keys_drop` took away, for the restore to put back."""

    tables: tuple[str, ...] = ()
    # (index name, CREATE INDEX statement)
    indexes: tuple[tuple[str, str], ...] = ()
    # (table, constraint name, constraint definition)
    foreign_keys: tuple[tuple[str, str, str], ...] = ()

    @property
    def steps(self) -> int:
        return len(self.indexes) + len(self.foreign_keys) + (1 if self.tables else 0)


def indexes_and_foreign_keys_drop(models: Sequence[type[Model]]) -> SuspendedSchema:
    """On PostgreSQL, drop the secondary indexes and foreign keys of `models` before a
    bulk load; `indexes_and_foreign_keys_restore` puts them back. Elsewhere, nothing.

    Measured on 1.35 M usage rows: COPY into the table with its four indexes took 23 s,
    into the bare table 5 s plus 5 s to build the indexes afterwards. Django's foreign
    keys are deferred, so each loaded row also queues a check that runs at commit (a
    minute for 6.7 M rows); adding the constraint back validates all rows in one join.
    Primary keys and unique constraints stay: they are cheap for rows loaded in key order,
    and other tables point at them. The caller's transaction covers both halves, so a
    failed load rolls the schema back with the data. Skipped when the database user does
    not own the tables (only the owner may alter them); the load is then just slower.
    """
    if connection.vendor != "postgresql":
        return SuspendedSchema()
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bool_and(pg_has_role(relowner, 'USAGE')) FROM pg_class "
            "WHERE oid = ANY(%s::regclass[])",
            [tables],
        )
        if not cursor.fetchone()[0]:
            return SuspendedSchema()
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])",
            [tables],
        )
        foreign_keys = tuple(cursor.fetchall())
        # Indexes that back no constraint: the named Meta indexes, Django's index on every
        # foreign key column, and conditional unique constraints (checked on rebuild).
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
            "FROM pg_index i WHERE i.indrelid = ANY(%s::regclass[]) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [tables],
        )
        indexes = tuple(cursor.fetchall())
        # Rows written earlier in the transaction (staff, teams) still have checks queued,
        # and PostgreSQL refuses to alter a table with pending checks: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        quote = connection.ops.quote_name
        for table, name, _definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    return SuspendedSchema(tuple(tables), indexes, foreign_keys)


def indexes_and_foreign_keys_restore(
    suspended: SuspendedSchema, *, on_step: Callable[[int], None] | None = None
) -> None:
    """Rebuild what `indexes_and_foreign_keys_drop` dropped, validate, analyse."""
    if not suspended.tables:
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Index builds sort in memory up to this limit instead of spilling to disk.
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in suspended.indexes:
            cursor.execute(definition)
            if on_step is not None:
                on_step(1)
        for table, name, definition in suspended.foreign_keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
            if on_step is not None:
                on_step(1)
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        # Fresh statistics, so the queries right after the seed (rollups, the first health
        # run) are planned for millions of rows, not for the empty tables of a minute ago.
        cursor.execute("ANALYZE " + ", ".join(quote(table) for table in suspended.tables))
        if on_step is not None:
            on_step(1)
