"""Writing a checked plan: batched upserts in one transaction, all rows or none."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import DatabaseError, IntegrityError, transaction

from accounts.csv_import.parsing import RowError
from accounts.csv_import.validation import (
    LOOKUP_CHUNK,
    ImportPlan,
    ProgressCallback,
    chunked,
)
from accounts.models import Contract
from accounts.services.rollups import account_rollups_refresh

# Rows per INSERT ... ON CONFLICT statement: big enough that 50,000 rows are ~50 round
# trips, small enough to keep each statement's memory and lock time modest.
WRITE_BATCH = 1_000


class CsvImportRejected(Exception):
    """Nothing was written; `errors` says why, in the same shape as row errors."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(str(error) for error in errors[:3]))
        self.errors = errors


@dataclass(frozen=True)
class ImportResult:
    kind: str
    rows_total: int
    rows_new: int
    rows_updated: int


def csv_import_write(
    plan: ImportPlan, *, today: dt.date, progress: ProgressCallback | None = None
) -> ImportResult:
    """Upsert every planned row, matching on the kind's documented key, in one transaction.

    Raises CsvImportRejected (having written nothing) if the plan has errors or the database
    refuses a row, e.g. because someone changed the data since the file was checked.
    """
    if plan.errors:
        raise CsvImportRejected(plan.errors)
    try:
        with transaction.atomic():
            _upsert(plan, progress)
            if plan.kind == "contracts":
                _link_renewals(plan)
                # After the contracts, so Account.arr and renewal_date reflect them.
                for account_ids in chunked(sorted(plan.account_ids), LOOKUP_CHUNK):
                    account_rollups_refresh(today=today, account_ids=account_ids)
    except IntegrityError as exc:
        raise CsvImportRejected(
            [
                RowError(
                    None,
                    "",
                    "The database refused the import, so nothing was written. The data may "
                    f"have changed since the file was checked; check it again. ({exc})",
                )
            ]
        ) from exc
    except DatabaseError as exc:
        raise CsvImportRejected(
            [
                RowError(
                    None, "", f"The database failed during the import; nothing was written. ({exc})"
                )
            ]
        ) from exc
    return ImportResult(
        kind=plan.kind,
        rows_total=plan.rows_total,
        rows_new=plan.rows_new,
        rows_updated=plan.rows_updated,
    )


def _upsert(plan: ImportPlan, progress: ProgressCallback | None) -> None:
    if not plan.objects:
        return
    manager = type(plan.objects[0])._default_manager
    total = len(plan.objects)
    done = 0
    for batch in chunked(plan.objects, WRITE_BATCH):
        manager.bulk_create(
            batch,
            batch_size=WRITE_BATCH,
            update_conflicts=True,
            unique_fields=plan.unique_fields,
            update_fields=plan.update_fields,
        )
        done += len(batch)
        if progress is not None:
            progress("write", done, total)


def _link_renewals(plan: ImportPlan) -> None:
    """Point each contract at the one it renews, now that both have ids.

    The first upsert wrote previous = NULL for every contract in the file, so reassigning a
    renewal from one contract to another never trips the one-renewal-per-contract rule
    halfway. This second upsert sets only `previous`.
    """
    if not plan.previous_links:
        return
    previous_keys = sorted(set(plan.previous_links.values()))
    ids: dict[str, int] = {}
    for chunk in chunked(previous_keys, LOOKUP_CHUNK):
        for key, pk in Contract.objects.filter(external_id__in=chunk).values_list(
            "external_id", "pk"
        ):
            ids[key or ""] = pk
    fields = [f.attname for f in Contract._meta.concrete_fields if not f.primary_key]
    linked = []
    for contract in plan.objects:
        previous_key = plan.previous_links.get(contract.external_id)  # type: ignore[attr-defined]
        if previous_key:
            # A fresh instance: the first upsert may have set pk, and an INSERT carrying a pk
            # would conflict on the primary key rather than on external_id.
            clone = Contract(**{name: getattr(contract, name) for name in fields})
            clone.previous_id = ids[previous_key]
            linked.append(clone)
    for batch in chunked(linked, WRITE_BATCH):
        Contract.objects.bulk_create(
            batch,
            batch_size=WRITE_BATCH,
            update_conflicts=True,
            unique_fields=["external_id"],
            update_fields=["previous", "updated_at"],
        )
