"""Raw bulk inserts of trusted rows: COPY on PostgreSQL, batched executemany elsewhere.

For rows the caller has just generated and knows to be valid (the demo's millions of rows,
a nightly rollup's thousands): no model instances, rows are plain tuples in the order of a
field list. On PostgreSQL they stream through COPY from a generator (memory stays flat and
the server parses while Python generates); on SQLite they go through executemany in batches.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence

from django.db import connection
from django.db.models import Field, Model

# Rows per COPY chunk and per executemany batch: big enough to amortise the call,
# small enough that a chunk is a few hundred kilobytes.
CHUNK_ROWS = 5_000
# COPY's NULL marker: csv's empty field must stay an empty string for blank text columns.
COPY_NULL = "\\N"


class _CsvStream:
    """A read()-able file over CSV rows, so psycopg2 pulls chunks as it sends them."""

    def __init__(
        self,
        rows: Iterator[Sequence[object]],
        nullable: bool,
        line_format: str | None,
        on_rows: Callable[[int], None] | None,
    ) -> None:
        self._rows = rows
        self._nullable = nullable
        self._format = line_format.__mod__ if line_format else None
        self._on_rows = on_rows
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self.count = 0

    def read(self, size: int = -1) -> str:
        batch = list(itertools.islice(self._rows, CHUNK_ROWS))
        if not batch:
            return ""
        if self._nullable:
            batch = [tuple(COPY_NULL if value is None else value for value in row) for row in batch]
        if self._format is not None:
            text = "".join(map(self._format, batch))
        else:
            self._buffer.seek(0)
            self._buffer.truncate()
            self._writer.writerows(batch)
            text = self._buffer.getvalue()
        self.count += len(batch)
        if self._on_rows is not None:
            self._on_rows(len(batch))
        return text

    def readline(self, size: int = -1) -> str:  # pragma: no cover - psycopg2 only reads
        return self.read(size)


def _columns(model: type[Model], fields: Sequence[str]) -> list[str]:
    columns = []
    for name in fields:
        field = model._meta.get_field(name)
        if not isinstance(field, Field) or field.column is None:
            raise ValueError(f"{model.__name__}.{name} is not a concrete column")
        columns.append(field.column)
    return columns


def rows_write(
    model: type[Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    nullable: bool = False,
    line_format: str | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """Insert `rows` (tuples in the order of `fields`) into `model`'s table; the row count.

    `nullable` says a row may hold None (costs a pass over the values on PostgreSQL).
    `line_format` ("%d,%s\\n") formats rows of numbers and plain words for COPY, about
    three times faster than the csv module; only for values that need no quoting.
    """
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(column) for column in _columns(model, fields))
    iterator = iter(rows)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and hasattr(cursor.cursor, "copy_expert"):
            stream = _CsvStream(iterator, nullable, line_format, on_rows)
            cursor.cursor.copy_expert(
                f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '{COPY_NULL}')",
                stream,
                size=1 << 16,
            )
            return stream.count
        placeholders = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
        count = 0
        while batch := list(itertools.islice(iterator, CHUNK_ROWS)):
            cursor.executemany(sql, batch)  # type: ignore[arg-type]  # plain values
            count += len(batch)
            if on_rows is not None:
                on_rows(len(batch))
        return count
