"""The documented columns of each import kind (docs/csv-import.md says the same in prose)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    required: bool = False


@dataclass(frozen=True)
class KindSpec:
    kind: str
    label: str
    columns: tuple[Column, ...]
    # Re-importing a row with the same key updates the existing record.
    match_key: str

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def required(self) -> list[str]:
        return [column.name for column in self.columns if column.required]


ACCOUNTS = KindSpec(
    kind="accounts",
    label="Accounts",
    match_key="external_id",
    columns=(
        Column("external_id", required=True),
        Column("name", required=True),
        Column("owner"),
        Column("team"),
        Column("industry"),
        Column("tier"),
        Column("product_complexity"),
        Column("growth_potential"),
        Column("lifecycle_status"),
        Column("start_date", required=True),
        Column("churned_on"),
        Column("churn_reason"),
        Column("domain"),
    ),
)

CONTACTS = KindSpec(
    kind="contacts",
    label="Contacts",
    match_key="account_external_id + email",
    columns=(
        Column("account_external_id", required=True),
        Column("email", required=True),
        Column("name", required=True),
        Column("title"),
        Column("phone"),
        Column("decision_maker"),
        Column("executive_sponsor"),
    ),
)

CONTRACTS = KindSpec(
    kind="contracts",
    label="Contracts",
    match_key="external_id",
    columns=(
        Column("external_id", required=True),
        Column("account_external_id", required=True),
        Column("start_date", required=True),
        Column("end_date", required=True),
        Column("arr", required=True),
        Column("seats"),
        Column("status"),
        Column("previous_external_id"),
    ),
)

KINDS: dict[str, KindSpec] = {spec.kind: spec for spec in (ACCOUNTS, CONTACTS, CONTRACTS)}
