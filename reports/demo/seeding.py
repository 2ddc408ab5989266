"""The demo seed: replace the demo data with a fresh, deterministic synthetic customer base.

The demo owns the database it seeds: a run removes every account (and with it everything
logged against accounts), the demo teams and the demo staff, then writes the new data in
bulk inside one transaction, so a failed or killed run leaves the previous data in place.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, TextIO

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Max, OuterRef, Q, Subquery
from django.utils import timezone
from tqdm import tqdm

from accounts.models import (
    Account,
    Contact,
    Contract,
    Interaction,
    SupportTicket,
    Task,
    Team,
    UsageRecord,
    User,
)
from accounts.services.rollups import account_rollups_refresh
from cs_platform.bulk_rows import rows_write
from feedback.models import Survey, SurveyAnswer
from reports.demo import vocabulary as words
from reports.demo.activity import (
    ANSWER_FIELDS,
    INTERACTION_FIELDS,
    PARTICIPANT_FIELDS,
    TASK_FIELDS,
    TICKET_FIELDS,
    ActivityBuilder,
    ActivityRows,
)
from reports.demo.planning import AccountPlan, IdBlocks, NameBook, account_plan, add_months
from reports.demo.usage import USAGE_FIELDS, UsageWindow, usage_rows, usage_rows_count
from reports.demo.writing import (
    indexes_and_foreign_keys_drop,
    indexes_and_foreign_keys_restore,
    next_id,
    sequences_reset,
    tables_truncate,
)

DEMO_PASSWORD = "demo"
# Staff the seed creates get addresses here; a rerun removes exactly these users.
DEMO_EMAIL_DOMAIN = "demo-cs.example"
# username -> (first name, last name, role); PRODUCT.md section 7 promises these logins.
DEMO_LOGINS: dict[str, tuple[str, str, str]] = {
    "admin": ("Morgan", "Reyes", User.Role.ADMIN),
    "manager": ("Priya", "Natarajan", User.Role.MANAGER),
    "csm": ("Sam", "Okafor", User.Role.CSM),
    "exec": ("Helen", "Carter", User.Role.EXECUTIVE),
}
# The team the `manager` login manages and the `csm` login works in.
DEMO_TEAM = "Mid-Market"
# Accounts per CSM by team: high-touch books are small, tech-touch pools are large.
ACCOUNTS_PER_CSM = {"Enterprise": 30, "Mid-Market": 45, "SMB": 80, "Digital": 120}
MIN_CSMS_PER_TEAM = 2
# From this many accounts the tech-touch book is split between SMB and a Digital team.
DIGITAL_TEAM_FROM = 2_000
SURVEYS = (
    (
        "Relationship NPS",
        Survey.Kind.NPS,
        "How likely are you to recommend us to a friend or colleague?",
        "What is the main reason for your score?",
    ),
    (
        "Support CSAT",
        Survey.Kind.CSAT,
        "How satisfied were you with the support you received?",
        "What could we have done better?",
    ),
    (
        "Customer Effort Score",
        Survey.Kind.CES,
        "How easy was it to get your issue resolved?",
        "What made it easy or hard?",
    ),
)
# Accounts whose activity rows are flushed together: bounds memory at 50,000 accounts.
ACTIVITY_BATCH = 1_000

# USAGE_FIELDS as a COPY line: all integers but the ISO day.
USAGE_LINE = "%d,%s,%d,%d,%d,%d,%d\n"
# Every table the seed bulk-loads: indexed and checked once, after the load.
LOADED_MODELS = (
    Account,
    Contact,
    Contract,
    UsageRecord,
    SupportTicket,
    Interaction,
    Interaction.participants.through,
    Task,
    SurveyAnswer,
)

ACCOUNT_FIELDS = (
    "id",
    "name",
    "external_id",
    "domain",
    "owner",
    "team",
    "industry",
    "tier",
    "product_complexity",
    "growth_potential",
    "lifecycle_status",
    "start_date",
    "churned_on",
    "churn_reason",
    "churn_note",
    "arr",
    "health_band",
    "created_at",
    "updated_at",
)
CONTACT_FIELDS = (
    "id",
    "account",
    "name",
    "email",
    "title",
    "phone",
    "is_decision_maker",
    "is_executive_sponsor",
    "is_active",
    "created_at",
    "updated_at",
)
CONTRACT_FIELDS = (
    "id",
    "account",
    "external_id",
    "previous",
    "start_date",
    "end_date",
    "arr",
    "seats",
    "status",
    "created_at",
    "updated_at",
)


@dataclasses.dataclass(frozen=True, slots=True)
class DemoSummary:
    teams: int
    users: int
    accounts: int
    churned_accounts: int
    contacts: int
    contracts: int
    usage_records: int
    tickets: int
    interactions: int
    tasks: int
    survey_answers: int
    seconds: float


def demo_data_present() -> bool:
    """Whether the database already holds customer data (`seed_demo --if-empty` keeps it)."""
    return Account.objects.exists()


def _demo_data_wipe() -> None:
    if connection.vendor == "postgresql":
        # One statement for millions of rows; CASCADE empties every table hanging off
        # accounts (usage, tickets, interactions, scores ...), which is all demo data.
        tables_truncate([Account])
    else:
        Account.objects.all().delete()
    User.objects.filter(
        Q(username__in=list(DEMO_LOGINS)) | Q(email__iendswith=f"@{DEMO_EMAIL_DOMAIN}")
    ).delete()
    Team.objects.filter(name__in=list(ACCOUNTS_PER_CSM)).delete()
    Survey.objects.filter(name__in=[name for name, *_ in SURVEYS]).delete()


class _Staff:
    """Teams, managers and CSMs sized to the book, plus the four demo logins."""

    def __init__(self, *, plans: list[AccountPlan], rng: random.Random) -> None:
        self.rng = rng
        self.password = make_password(DEMO_PASSWORD)  # hashed once, copied to everyone
        self.usernames: set[str] = set(DEMO_LOGINS)
        counts: dict[str, int] = {}
        for plan in plans:
            counts[plan.team] = counts.get(plan.team, 0) + 1
        names = ["Enterprise", "Mid-Market", "SMB"]
        if "Digital" in counts:
            names.append("Digital")
        self.teams = {
            team.name: team for team in Team.objects.bulk_create(Team(name=n) for n in names)
        }

        users: list[User] = []
        for username, (first, last, role) in DEMO_LOGINS.items():
            team = self.teams[DEMO_TEAM] if role in (User.Role.MANAGER, User.Role.CSM) else None
            users.append(self._user(username, first, last, role, team))
        users[0].is_staff = users[0].is_superuser = True
        self.managers: dict[str, User] = {DEMO_TEAM: users[1]}
        self.csms: dict[str, list[User]] = {DEMO_TEAM: [users[2]]}
        for name in names:
            team = self.teams[name]
            if name not in self.managers:
                manager = self._generated_user(User.Role.MANAGER, team)
                self.managers[name] = manager
                users.append(manager)
            wanted = max(MIN_CSMS_PER_TEAM, round(counts.get(name, 0) / ACCOUNTS_PER_CSM[name]))
            team_csms = self.csms.setdefault(name, [])
            while len(team_csms) < wanted:
                csm = self._generated_user(User.Role.CSM, team)
                team_csms.append(csm)
                users.append(csm)
        User.objects.bulk_create(users)
        self.users = users
        for name, manager in self.managers.items():
            Team.objects.filter(pk=self.teams[name].pk).update(manager=manager)

    def _user(self, username: str, first: str, last: str, role: str, team: Team | None) -> User:
        return User(
            username=username,
            first_name=first,
            last_name=last,
            email=f"{username}@{DEMO_EMAIL_DOMAIN}",
            role=role,
            team=team,
            password=self.password,
        )

    def _generated_user(self, role: str, team: Team) -> User:
        first = self.rng.choice(words.FIRST_NAMES)
        last = self.rng.choice(words.LAST_NAMES)
        base = f"{first}.{last}".lower()
        username, suffix = base, 2
        while username in self.usernames:
            username, suffix = f"{base}{suffix}", suffix + 1
        self.usernames.add(username)
        return self._user(username, first, last, role, team)

    def books_assign(self, plans: list[AccountPlan]) -> None:
        """Give every account its team and an owning CSM of that team."""
        rng = self.rng
        # Books differ in size, as they do in real teams.
        weights = {name: [rng.uniform(0.7, 1.3) for _ in csms] for name, csms in self.csms.items()}
        for plan in plans:
            csms = self.csms[plan.team]
            owner = rng.choices(csms, weights=weights[plan.team])[0]
            plan.owner_id = owner.pk
            plan.team_id = self.teams[plan.team].pk
        demo_csm = self.csms[DEMO_TEAM][0]
        if plans and not any(plan.owner_id == demo_csm.pk for plan in plans):
            # Tiny demos may have no mid-market account; the csm login still needs a book.
            plans[0].owner_id = demo_csm.pk
            plans[0].team_id = self.teams[DEMO_TEAM].pk


def _progress(progress_file: TextIO | None) -> Callable[..., Any]:
    def bar(**kwargs: Any) -> tqdm:
        return tqdm(
            file=progress_file,
            disable=progress_file is None,
            dynamic_ncols=True,
            **kwargs,
        )

    return bar


@transaction.atomic
def demo_data_seed(
    *,
    accounts: int,
    days: int,
    seed: int,
    today: dt.date,
    progress_file: TextIO | None = None,
) -> DemoSummary:
    """Replace the demo data with `accounts` synthetic customers and `days` of activity.

    Deterministic: the same arguments (and the same `today`) give the same data. Costly:
    about a minute per few million usage rows; progress bars go to `progress_file`.
    """
    started = time.monotonic()
    bar = _progress(progress_file)
    tz = timezone.get_current_timezone()
    # Everything generated happened before today began: the data then depends on the day
    # alone, not on the second the seed ran, so reruns on one day are identical.
    now = dt.datetime.combine(today, dt.time(0), tzinfo=tz)
    adapt_datetime = connection.ops.adapt_datetimefield_value

    _demo_data_wipe()
    master = random.Random(seed)
    plan_rng = random.Random(master.getrandbits(63))
    staff_rng = random.Random(master.getrandbits(63))

    # Contracts reach back 24 months, or further when more usage days are asked for.
    history_start = min(add_months(today, -24), today - dt.timedelta(days=days))
    ids = IdBlocks(account=next_id(Account), contact=next_id(Contact), contract=next_id(Contract))
    names = NameBook(plan_rng)
    plans = [
        account_plan(
            rng=plan_rng,
            names=names,
            ids=ids,
            today=today,
            history_start=history_start,
            many_teams=accounts >= DIGITAL_TEAM_FROM,
        )
        for _ in bar(iterable=range(accounts), desc="Planning accounts", unit=" accounts")
    ]
    staff = _Staff(plans=plans, rng=staff_rng)
    staff.books_assign(plans)

    surveys = Survey.objects.bulk_create(
        Survey(name=name, kind=kind, question=question, follow_up_question=follow_up)
        for name, kind, question, follow_up in SURVEYS
    )
    # Bulk-load into bare tables; the transaction brings the indexes back if anything fails.
    suspended = indexes_and_foreign_keys_drop(LOADED_MODELS)
    rows_total = sum(
        1 + len(plan.contacts) + len(plan.contracts) + (plan.renewal_signed is not None)
        for plan in plans
    )
    with bar(total=rows_total, desc="Accounts, contacts, contracts", unit=" rows") as done:
        contacts, contracts = _accounts_write(
            plans, today=today, tz=tz, now=now, on_rows=done.update
        )

    window = UsageWindow(today=today, days=days)
    usage_total = sum(usage_rows_count(plan, window) for plan in plans)
    with bar(total=usage_total, desc="Usage records", unit=" rows", unit_scale=True) as done:
        usage_count = rows_write(
            UsageRecord,
            USAGE_FIELDS,
            (row for plan in plans for row in usage_rows(plan, window)),
            line_format=USAGE_LINE,
            on_rows=done.update,
        )

    builder = ActivityBuilder(
        today=today,
        now=now,
        days=days,
        tz=tz,
        surveys={survey.kind: survey.pk for survey in surveys},
        adapt_datetime=adapt_datetime,
        first_interaction_id=next_id(Interaction),
    )
    with bar(total=len(plans), desc="Tickets, interactions, surveys", unit=" accounts") as done:
        rows = ActivityRows()
        for start in range(0, len(plans), ACTIVITY_BATCH):
            batch = plans[start : start + ACTIVITY_BATCH]
            for plan in batch:
                builder.add(plan, rows)
            _activity_write(rows)
            rows.clear()
            done.update(len(batch))

    with bar(total=suspended.steps + 2, desc="Indexes, checks, rollups", unit=" steps") as done:
        indexes_and_foreign_keys_restore(suspended, on_step=done.update)
        _last_interaction_refresh()
        done.update()
        account_rollups_refresh(today=today)
        done.update()
    sequences_reset([Account, Contact, Contract, Interaction])
    return DemoSummary(
        teams=len(staff.teams),
        users=len(staff.users),
        accounts=len(plans),
        churned_accounts=sum(1 for plan in plans if plan.churned_on is not None),
        contacts=contacts,
        contracts=contracts,
        usage_records=usage_count,
        tickets=builder.ticket_count,
        interactions=builder.interaction_count,
        tasks=builder.task_count,
        survey_answers=builder.answer_count,
        seconds=time.monotonic() - started,
    )


def _accounts_write(
    plans: list[AccountPlan],
    *,
    today: dt.date,
    tz: dt.tzinfo,
    now: dt.datetime,
    on_rows: Callable[[int], None],
) -> tuple[int, int]:
    adapt = connection.ops.adapt_datetimefield_value

    def stamp(day: dt.date) -> object:
        moment = dt.datetime.combine(day, dt.time(9), tzinfo=tz)
        return adapt(min(moment, now))

    def account_rows() -> Iterator[tuple[object, ...]]:
        for plan in plans:
            created = stamp(plan.start)
            yield (
                plan.id,
                plan.name,
                plan.external_id,
                plan.domain,
                plan.owner_id,
                plan.team_id,
                plan.industry,
                plan.tier,
                plan.complexity,
                plan.growth,
                plan.lifecycle,
                plan.start,
                plan.churned_on,
                plan.churn_reason,
                plan.churn_note,
                Decimal(0),  # set from the contracts by account_rollups_refresh
                "",  # the health app's nightly job scores the account
                created,
                created,
            )

    def contact_rows() -> Iterator[tuple[object, ...]]:
        for plan in plans:
            created = stamp(plan.start)
            for c in plan.contacts:
                yield (
                    c.id,
                    plan.id,
                    c.name,
                    c.email,
                    c.title,
                    c.phone,
                    c.is_decision_maker,
                    c.is_executive_sponsor,
                    c.is_active,
                    created,
                    created,
                )

    def contract_rows() -> Iterator[tuple[object, ...]]:
        for plan in plans:
            signed = [plan.renewal_signed] if plan.renewal_signed is not None else []
            for c in [*plan.contracts, *signed]:
                # Signed a couple of weeks before the term starts (stamp caps it at now).
                created = stamp(c.start - dt.timedelta(days=14))
                yield (
                    c.id,
                    plan.id,
                    f"CTR-{c.id:06d}",
                    c.previous_id,
                    c.start,
                    c.end,
                    Decimal(c.arr),
                    c.seats,
                    Contract.Status.ACTIVE if c.end >= today else Contract.Status.ENDED,
                    created,
                    created,
                )

    rows_write(Account, ACCOUNT_FIELDS, account_rows(), nullable=True, on_rows=on_rows)
    contacts = rows_write(Contact, CONTACT_FIELDS, contact_rows(), on_rows=on_rows)
    contracts = rows_write(
        Contract, CONTRACT_FIELDS, contract_rows(), nullable=True, on_rows=on_rows
    )
    return contacts, contracts


def _activity_write(rows: ActivityRows) -> None:
    rows_write(SupportTicket, TICKET_FIELDS, rows.tickets, nullable=True)
    rows_write(Interaction, INTERACTION_FIELDS, rows.interactions, nullable=True)
    rows_write(Interaction.participants.through, PARTICIPANT_FIELDS, rows.participants)
    rows_write(Task, TASK_FIELDS, rows.tasks, nullable=True)
    rows_write(SurveyAnswer, ANSWER_FIELDS, rows.answers, nullable=True)


def _last_interaction_refresh() -> None:
    newest = (
        Interaction.objects.filter(account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(newest=Max("occurred_on"))
        .values("newest")
    )
    Account.objects.update(last_interaction_on=Subquery(newest))
