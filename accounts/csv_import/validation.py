"""Checking every row of a parsed file and turning it into unsaved model instances.

Set-based: owners, teams, accounts and existing rows are looked up with one query per
kind of lookup for the whole file (chunked only past LOOKUP_CHUNK keys), never per row.
Every problem is collected, so one pass tells the user everything that is wrong.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from accounts.csv_import.columns import KINDS, KindSpec
from accounts.csv_import.parsing import (
    CsvFileError,
    ParsedCsv,
    RowError,
    csv_rows_read,
    csv_text_decode,
)
from accounts.models import Account, Contact, Contract, Team, User

# Keys per lookup query: far below SQLite's bound-parameter cap, one query for most files.
LOOKUP_CHUNK = 10_000
# Rows shown on the upload page before confirming.
PREVIEW_ROWS = 20
# How often (in rows) the checking phase reports progress.
PROGRESS_EVERY = 1_000

# progress(phase, done, total), phase "check" or "write".
ProgressCallback = Callable[[str, int, int], None]
T = TypeVar("T")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass
class ImportPlan:
    """What an import would write; `errors` non-empty means it must write nothing."""

    kind: str
    rows_total: int = 0
    errors: list[RowError] = field(default_factory=list)
    objects: list[models.Model] = field(default_factory=list)
    unique_fields: list[str] = field(default_factory=list)
    update_fields: list[str] = field(default_factory=list)
    rows_new: int = 0
    rows_updated: int = 0
    preview_columns: list[str] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    # Contracts only: contract external id -> the external id of the contract it renews.
    previous_links: dict[str, str] = field(default_factory=dict)
    # Contracts only: accounts whose ARR and renewal date must be recomputed.
    account_ids: set[int] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.errors


def chunked(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _account_ids_by_external_id(external_ids: Iterable[str]) -> dict[str, int]:
    keys = sorted(set(external_ids))
    found: dict[str, int] = {}
    for chunk in chunked(keys, LOOKUP_CHUNK):
        for external_id, pk in Account.objects.filter(external_id__in=chunk).values_list(
            "external_id", "pk"
        ):
            found[external_id or ""] = pk
    return found


class _Row:
    """One row's values with typed readers that record a RowError instead of raising."""

    def __init__(
        self, line: int, values: dict[str, str], present: set[str], errors: list[RowError]
    ) -> None:
        self.line = line
        self.values = values
        self.present = present
        self.errors = errors
        self.bad = False

    def error(self, column: str, message: str) -> None:
        self.bad = True
        self.errors.append(RowError(self.line, column, message))

    def raw(self, column: str) -> str:
        return self.values.get(column, "")

    def text(self, column: str, *, max_length: int, required: bool = False) -> str:
        value = self.raw(column)
        if not value:
            if required and column in self.present:
                self.error(column, f"{column} is empty; it is required")
            return ""
        if len(value) > max_length:
            self.error(column, f"too long ({len(value)} characters; at most {max_length})")
        return value

    def date(self, column: str, *, required: bool = False) -> dt.date | None:
        value = self.raw(column)
        if not value:
            if required and column in self.present:
                self.error(column, f"{column} is empty; it is required")
            return None
        # Only YYYY-MM-DD is documented; fromisoformat alone would also take 20240101.
        match = _ISO_DATE.match(value)
        try:
            if match is None:
                raise ValueError(value)
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            self.error(column, f'bad date "{value}" (expected YYYY-MM-DD)')
            return None

    def choice(self, column: str, choices: type[models.TextChoices], default: str) -> str:
        value = self.raw(column)
        if not value:
            return default
        accepted = _accepted_values(choices)
        found = accepted.get(value.lower().replace("-", "_").replace(" ", "_"))
        if found is None:
            found = accepted.get(value.lower())
        if found is not None:
            return found
        allowed = ", ".join(choices.values)
        self.error(column, f'unknown {column} "{value}" (expected one of: {allowed})')
        return default

    def amount(self, column: str, *, required: bool = False, label: str) -> Decimal | None:
        value = self.raw(column)
        if not value:
            if required and column in self.present:
                self.error(column, f"{column} is empty; it is required")
            return None
        try:
            amount = Decimal(value)
        except InvalidOperation:
            self.error(column, f'bad amount "{value}" (expected a number such as 12000.50)')
            return None
        if not amount.is_finite():
            self.error(column, f'bad amount "{value}" (expected a number such as 12000.50)')
            return None
        if amount < 0:
            self.error(column, f'negative {label} "{value}"')
            return None
        if amount >= Decimal("1000000000000"):
            self.error(column, f'{label} "{value}" is too large')
            return None
        if amount != amount.quantize(Decimal("0.01")):
            self.error(column, f'"{value}" has more than 2 decimal places')
            return None
        return amount.quantize(Decimal("0.01"))

    def count(self, column: str) -> int | None:
        value = self.raw(column)
        if not value:
            return None
        try:
            number = int(value)
        except ValueError:
            self.error(column, f'bad number "{value}" (expected a whole number such as 25)')
            return None
        if number < 0 or number > 2_147_483_647:
            self.error(column, f'"{value}" is out of range (0 or more)')
            return None
        return number

    def boolean(self, column: str) -> bool:
        value = self.raw(column).lower()
        if value in {"", "false", "no", "0", "n", "f"}:
            return False
        if value in {"true", "yes", "1", "y", "t"}:
            return True
        self.error(
            column, f'bad yes/no value "{self.raw(column)}" (expected true/false/yes/no/1/0)'
        )
        return False


@functools.cache
def _accepted_values(choices: type[models.TextChoices]) -> dict[str, str]:
    """Lower-case value or label -> stored value ("High-touch" and "high_touch" both work)."""
    accepted = {str(label).lower(): str(value) for value, label in choices.choices}
    accepted.update({str(value): str(value) for value in choices.values})
    return accepted


def _duplicate(row: _Row, column: str, key: Any, seen: dict[Any, int], label: str) -> bool:
    """Record a duplicate of `key` within the file; True when it is one."""
    first = seen.get(key)
    if first is not None:
        row.error(column, f"duplicate {label} within the file (lines {first} and {row.line})")
        return True
    seen[key] = row.line
    return False


def _report(progress: ProgressCallback | None, done: int, total: int) -> None:
    if progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
        progress("check", done, total)


def _preview_row(plan: ImportPlan, line: int, is_new: bool, values: dict[str, object]) -> None:
    if len(plan.preview) < PREVIEW_ROWS:
        plan.preview.append(
            {
                "line": line,
                "action": "new" if is_new else "update",
                "values": {
                    column: "" if values.get(column) is None else str(values[column])
                    for column in plan.preview_columns
                },
            }
        )


# --- accounts ---------------------------------------------------------------------------

_ACCOUNT_FIELDS = {
    "name": "name",
    "owner": "owner",
    "team": "team",
    "industry": "industry",
    "tier": "tier",
    "product_complexity": "product_complexity",
    "growth_potential": "growth_potential",
    "lifecycle_status": "lifecycle_status",
    "start_date": "start_date",
    "churned_on": "churned_on",
    "churn_reason": "churn_reason",
    "domain": "domain",
}


def _owners_by_key(keys: set[str]) -> dict[str, list[User]]:
    """Users matching each owner cell: by username exactly, else by email in any case."""
    if not keys:
        return {}
    lowered = {key.lower() for key in keys}
    users = list(
        User.objects.annotate(email_lower=Lower("email"))
        .filter(Q(username__in=keys) | Q(email_lower__in=lowered))
        .only("pk", "username", "email", "team_id", "is_active")
    )
    by_username = {user.username: user for user in users}
    matches: dict[str, list[User]] = {}
    for key in keys:
        if key in by_username:
            matches[key] = [by_username[key]]
        else:
            matches[key] = [user for user in users if user.email.lower() == key.lower()]
    return matches


def _accounts_plan(parsed: ParsedCsv, progress: ProgressCallback | None) -> ImportPlan:
    plan = ImportPlan(kind="accounts", rows_total=len(parsed.rows), errors=list(parsed.errors))
    present = set(parsed.columns)
    plan.unique_fields = ["external_id"]
    update = [field for column, field in _ACCOUNT_FIELDS.items() if column in present]
    if "owner" in present and "team" not in present:
        # The team follows the owner when the file does not say otherwise.
        update.append("team")
    plan.update_fields = [*update, "updated_at"]
    plan.preview_columns = ["external_id", *[c for c in _ACCOUNT_FIELDS if c in update]]

    owners = _owners_by_key({v["owner"] for _, v in parsed.rows if v.get("owner")})
    teams = {team.name.lower(): team for team in Team.objects.only("pk", "name")}
    team_names = {team.pk: team.name for team in teams.values()}
    existing = _account_ids_by_external_id(
        v["external_id"] for _, v in parsed.rows if v.get("external_id")
    )
    seen: dict[str, int] = {}
    for done, (line, values) in enumerate(parsed.rows, start=1):
        row = _Row(line, values, present, plan.errors)
        external_id = row.text("external_id", max_length=100, required=True)
        if external_id:
            _duplicate(row, "external_id", external_id, seen, f'external_id "{external_id}"')
        name = row.text("name", max_length=200, required=True)
        owner: User | None = None
        owner_key = row.raw("owner")
        if owner_key:
            found = owners.get(owner_key, [])
            if not found:
                row.error("owner", f'unknown owner "{owner_key}"')
            elif len(found) > 1:
                row.error("owner", f'owner "{owner_key}" matches several users; use a username')
            elif not found[0].is_active:
                row.error("owner", f'owner "{owner_key}" is deactivated')
            else:
                owner = found[0]
        team_id: int | None = owner.team_id if owner is not None else None
        team_key = row.raw("team")
        if team_key:
            team = teams.get(team_key.lower())
            if team is None:
                row.error("team", f'unknown team "{team_key}"')
            else:
                team_id = team.pk
        start_date = row.date("start_date", required=True)
        churned_on = row.date("churned_on")
        lifecycle = row.choice("lifecycle_status", Account.Lifecycle, Account.Lifecycle.ONBOARDING)
        if lifecycle == Account.Lifecycle.CHURNED and churned_on is None:
            row.error("churned_on", "a churned account needs its churn date (churned_on)")
        if start_date and churned_on and churned_on < start_date:
            row.error(
                "churned_on",
                f"churn date {churned_on:%Y-%m-%d} is before start date {start_date:%Y-%m-%d}",
            )
        churn_reason = ""
        if row.raw("churn_reason"):
            churn_reason = row.choice("churn_reason", Account.ChurnReason, "")
        industry = row.text("industry", max_length=100)
        tier = row.choice("tier", Account.Tier, Account.Tier.SCALED)
        complexity = row.choice("product_complexity", Account.Level, Account.Level.MEDIUM)
        growth = row.choice("growth_potential", Account.Level, Account.Level.MEDIUM)
        domain = row.text("domain", max_length=200)
        _report(progress, done, plan.rows_total)
        if row.bad or plan.errors or start_date is None:
            # Once anything is wrong nothing is written: keep checking, stop building.
            continue
        account = Account(
            external_id=external_id,
            name=name,
            owner_id=owner.pk if owner else None,
            team_id=team_id,
            industry=industry,
            tier=tier,
            product_complexity=complexity,
            growth_potential=growth,
            lifecycle_status=lifecycle,
            start_date=start_date,
            churned_on=churned_on,
            churn_reason=churn_reason,
            domain=domain,
        )
        is_new = external_id not in existing
        plan.rows_new += is_new
        plan.rows_updated += not is_new
        plan.objects.append(account)
        if len(plan.preview) < PREVIEW_ROWS:
            # owner and team by name, without touching the relations (a query each).
            shown: dict[str, object] = {
                column: getattr(account, column)
                for column in _ACCOUNT_FIELDS
                if column not in {"owner", "team"}
            }
            shown.update(
                external_id=external_id,
                owner=owner.username if owner else "",
                team=team_names.get(team_id, "") if team_id else "",
            )
            _preview_row(plan, line, is_new, shown)
    return plan


# --- contacts ---------------------------------------------------------------------------

_CONTACT_FIELDS = {
    "name": "name",
    "title": "title",
    "phone": "phone",
    "decision_maker": "is_decision_maker",
    "executive_sponsor": "is_executive_sponsor",
}


def _contacts_plan(parsed: ParsedCsv, progress: ProgressCallback | None) -> ImportPlan:
    plan = ImportPlan(kind="contacts", rows_total=len(parsed.rows), errors=list(parsed.errors))
    present = set(parsed.columns)
    plan.unique_fields = ["account", "email"]
    plan.update_fields = [
        *(field for column, field in _CONTACT_FIELDS.items() if column in present),
        "updated_at",
    ]
    plan.preview_columns = [
        "account_external_id",
        "email",
        *(c for c in _CONTACT_FIELDS if c in present),
    ]

    account_ids = _account_ids_by_external_id(
        v["account_external_id"] for _, v in parsed.rows if v.get("account_external_id")
    )
    # Existing emails per account, matched in any case so "Jane@X.com" is not duplicated.
    existing: dict[tuple[int, str], str] = {}
    for chunk in chunked(sorted(set(account_ids.values())), LOOKUP_CHUNK):
        for contact_account_id, email in Contact.objects.filter(account_id__in=chunk).values_list(
            "account_id", "email"
        ):
            existing[(contact_account_id, email.lower())] = email
    seen: dict[tuple[str, str], int] = {}
    for done, (line, values) in enumerate(parsed.rows, start=1):
        row = _Row(line, values, present, plan.errors)
        account_key = row.text("account_external_id", max_length=100, required=True)
        account_id = account_ids.get(account_key)
        if account_key and account_id is None:
            row.error("account_external_id", f'unknown account external id "{account_key}"')
        email = row.text("email", max_length=254, required=True).lower()
        if email:
            try:
                validate_email(email)
            except ValidationError:
                row.error("email", f'bad email address "{row.raw("email")}"')
            else:
                _duplicate(
                    row,
                    "email",
                    (account_key, email),
                    seen,
                    f'contact "{email}" for account "{account_key}"',
                )
        name = row.text("name", max_length=200, required=True)
        title = row.text("title", max_length=200)
        phone = row.text("phone", max_length=50)
        decision_maker = row.boolean("decision_maker")
        sponsor = row.boolean("executive_sponsor")
        _report(progress, done, plan.rows_total)
        if row.bad or plan.errors or account_id is None:
            continue
        contact = Contact(
            account_id=account_id,
            email=existing.get((account_id, email), email),
            name=name,
            title=title,
            phone=phone,
            is_decision_maker=decision_maker,
            is_executive_sponsor=sponsor,
        )
        is_new = (account_id, email) not in existing
        plan.rows_new += is_new
        plan.rows_updated += not is_new
        plan.objects.append(contact)
        shown: dict[str, object] = {
            column: getattr(contact, field) for column, field in _CONTACT_FIELDS.items()
        }
        for flag in ("decision_maker", "executive_sponsor"):
            shown[flag] = "yes" if shown[flag] else "no"
        shown.update(account_external_id=account_key, email=contact.email)
        _preview_row(plan, line, is_new, shown)
    return plan


# --- contracts --------------------------------------------------------------------------


@dataclass(frozen=True)
class _ExistingContract:
    pk: int
    account_id: int
    account_external_id: str | None


def _contracts_plan(parsed: ParsedCsv, progress: ProgressCallback | None) -> ImportPlan:
    plan = ImportPlan(kind="contracts", rows_total=len(parsed.rows), errors=list(parsed.errors))
    present = set(parsed.columns)
    plan.unique_fields = ["external_id"]
    plan.update_fields = [
        "account",
        "start_date",
        "end_date",
        "arr",
        *(column for column in ("seats", "status") if column in present),
        *(["previous"] if "previous_external_id" in present else []),
        "updated_at",
    ]
    plan.preview_columns = [
        c for c in KINDS["contracts"].names if c in present or c in {"seats", "status"}
    ]

    account_ids = _account_ids_by_external_id(
        v["account_external_id"] for _, v in parsed.rows if v.get("account_external_id")
    )
    keys = {v["external_id"] for _, v in parsed.rows if v.get("external_id")}
    previous_keys = {
        v["previous_external_id"] for _, v in parsed.rows if v.get("previous_external_id")
    }
    existing: dict[str, _ExistingContract] = {}
    renewed_by: dict[str, str] = {}
    lookup = sorted(keys | previous_keys)
    for chunk in chunked(lookup, LOOKUP_CHUNK):
        for key, pk, owner_account_id, account_external_id in Contract.objects.filter(
            external_id__in=chunk
        ).values_list("external_id", "pk", "account_id", "account__external_id"):
            existing[key or ""] = _ExistingContract(pk, owner_account_id, account_external_id)
    for chunk in chunked(sorted(previous_keys), LOOKUP_CHUNK):
        for previous_key, renewer in Contract.objects.filter(
            previous__external_id__in=chunk
        ).values_list("previous__external_id", "external_id"):
            renewed_by[previous_key or ""] = renewer or ""

    seen: dict[str, int] = {}
    # Per row kept for the cross-row checks of previous_external_id.
    rows: list[tuple[_Row, str, str, str]] = []
    for done, (line, values) in enumerate(parsed.rows, start=1):
        row = _Row(line, values, present, plan.errors)
        external_id = row.text("external_id", max_length=100, required=True)
        if external_id:
            _duplicate(row, "external_id", external_id, seen, f'external_id "{external_id}"')
        account_key = row.text("account_external_id", max_length=100, required=True)
        account_id = account_ids.get(account_key)
        if account_key and account_id is None:
            row.error("account_external_id", f'unknown account external id "{account_key}"')
        start_date = row.date("start_date", required=True)
        end_date = row.date("end_date", required=True)
        if start_date and end_date and end_date <= start_date:
            word = "is the same day as" if end_date == start_date else "is before"
            row.error(
                "end_date",
                f"end date {end_date:%Y-%m-%d} {word} start date {start_date:%Y-%m-%d}",
            )
        arr = row.amount("arr", required=True, label="ARR")
        seats = row.count("seats")
        status = row.choice("status", Contract.Status, Contract.Status.ACTIVE)
        previous_key = row.text("previous_external_id", max_length=100)
        rows.append((row, external_id, account_key, previous_key))
        _report(progress, done, plan.rows_total)
        if (
            row.bad
            or plan.errors
            or account_id is None
            or start_date is None
            or end_date is None
            or arr is None
        ):
            continue
        contract = Contract(
            external_id=external_id,
            account_id=account_id,
            start_date=start_date,
            end_date=end_date,
            arr=arr,
            seats=seats or 0,
            status=status,
        )
        is_new = external_id not in existing
        plan.rows_new += is_new
        plan.rows_updated += not is_new
        plan.objects.append(contract)
        plan.account_ids.add(account_id)
        if not is_new:
            # A contract moved to another account changes that account's ARR too.
            plan.account_ids.add(existing[external_id].account_id)
        if previous_key:
            plan.previous_links[external_id] = previous_key
        shown: dict[str, object] = {
            "external_id": external_id,
            "account_external_id": account_key,
            "start_date": start_date,
            "end_date": end_date,
            "arr": arr,
            "seats": contract.seats,
            "status": status,
            "previous_external_id": previous_key,
        }
        _preview_row(plan, line, is_new, shown)

    # Renewal links, checked once every row's own values are known.
    account_of_row = {external_id: account_key for _, external_id, account_key, _ in rows}
    renewed_in_file: dict[str, int] = {}
    for row, external_id, account_key, previous_key in rows:
        if not previous_key:
            continue
        column = "previous_external_id"
        if previous_key == external_id:
            row.error(column, "a contract cannot renew itself")
            continue
        if previous_key in account_of_row:
            previous_account = account_of_row[previous_key]
        elif previous_key in existing:
            previous_account = existing[previous_key].account_external_id or ""
        else:
            row.error(column, f'unknown previous contract "{previous_key}"')
            continue
        if previous_account != account_key:
            row.error(
                column,
                f'previous contract "{previous_key}" belongs to account "{previous_account}", '
                f'not "{account_key}"',
            )
        first = renewed_in_file.get(previous_key)
        if first is not None:
            row.error(
                column,
                f'contract "{previous_key}" is renewed twice within the file '
                f"(lines {first} and {row.line})",
            )
        else:
            renewed_in_file[previous_key] = row.line
        renewer = renewed_by.get(previous_key)
        if renewer and renewer != external_id and renewer not in account_of_row:
            row.error(column, f'contract "{previous_key}" is already renewed by "{renewer}"')
    return plan


_PLANNERS: dict[str, Callable[[ParsedCsv, ProgressCallback | None], ImportPlan]] = {
    "accounts": _accounts_plan,
    "contacts": _contacts_plan,
    "contracts": _contracts_plan,
}


def csv_import_plan(
    *, kind: str, data: bytes | str, progress: ProgressCallback | None = None
) -> ImportPlan:
    """Read and check a whole file; the plan lists every error, or what would be written."""
    spec: KindSpec | None = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"Unknown import kind {kind!r}; expected one of {', '.join(KINDS)}.")
    try:
        text = csv_text_decode(data) if isinstance(data, bytes) else data
        parsed = csv_rows_read(text, spec)
    except CsvFileError as exc:
        return ImportPlan(kind=kind, errors=[RowError(None, "", str(exc))])
    if not parsed.rows and not parsed.errors:
        return ImportPlan(
            kind=kind, errors=[RowError(None, "", "The file has a header row but no data rows.")]
        )
    plan = _PLANNERS[kind](parsed, progress)
    if plan.errors:
        # Row by row, and within a row in the file's column order; cross-row checks
        # (renewal links) were added last. The header's own errors keep their order.
        position = {name: index for index, name in enumerate(parsed.columns)}
        plan.errors.sort(
            key=lambda e: (e.line or 0, -1 if e.line == 1 else position.get(e.column, -1))
        )
        plan.objects.clear()
        plan.previous_links.clear()
        plan.account_ids.clear()
        plan.preview.clear()
        plan.rows_new = plan.rows_updated = 0
    return plan
