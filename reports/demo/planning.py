"""Per-account plans: who the customer is, its contract history and the shape of its story.

A plan is pure data drawn from one random.Random in a fixed order, so one seed always gives
the same plans. Usage, tickets, interactions and surveys are derived from a plan later,
each from the plan's own random streams, so every table is reproducible on its own.

The story is what makes the demo useful to health analytics: outcomes (churn, expansion,
contraction) are decided first, then usage, tickets and sentiment are bent in the 60–120
days before each outcome, so the signal precedes what it predicts.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from reports.demo import vocabulary as words

# Share of accounts whose first contract starts inside the history window (new logos).
NEW_LOGO_SHARE = 0.30
# Accounts younger than this are still onboarding.
ONBOARDING_DAYS = 90
CONTRACT_HISTORY_MONTHS = 24

# Yearly logo churn at an average health of 0.65, by tier: self-serve customers leave more.
BASE_CHURN = {"tech_touch": 0.17, "scaled": 0.11, "high_touch": 0.06}
GROWTH_FACTOR = {"low": 0.6, "medium": 1.0, "high": 1.5}
# ARR per seat and year by tier; seats follow ARR through it.
PRICE_PER_SEAT = {"tech_touch": (240, 600), "scaled": (400, 900), "high_touch": (600, 1500)}
COMPLEXITY_PRICE = {"low": 0.85, "medium": 1.0, "high": 1.2}


@dataclass(slots=True)
class ContractPlan:
    id: int
    start: dt.date
    end: dt.date
    arr: int
    seats: int
    previous_id: int | None


@dataclass(slots=True)
class ContactPlan:
    id: int
    name: str
    email: str
    title: str
    phone: str
    is_decision_maker: bool
    is_executive_sponsor: bool
    is_active: bool


@dataclass(slots=True)
class AccountPlan:
    id: int
    name: str
    domain: str
    industry: str
    tier: str
    complexity: str
    growth: str
    team: str
    # Latent health 0..1: drives adoption, renewal odds, sentiment. Never stored.
    health: float
    start: dt.date
    lifecycle: str = "active"
    churned_on: dt.date | None = None
    churn_reason: str = ""
    churn_note: str = ""
    owner_id: int | None = None
    team_id: int | None = None
    contracts: list[ContractPlan] = field(default_factory=list)
    # The next term, already signed, of a current term ending soon; not part of `contracts`,
    # whose last item is the term running today.
    renewal_signed: ContractPlan | None = None
    contacts: list[ContactPlan] = field(default_factory=list)
    # Expected active users (before weekly rhythm and noise) as (ordinal day, value) knots,
    # linear in between; and a multiplier curve for slumps and temporary dips.
    level_knots: list[tuple[int, float]] = field(default_factory=list)
    dip_knots: list[tuple[int, float]] = field(default_factory=list)
    # (first day, last day, severity): stretches where the account is in trouble.
    trouble: list[tuple[int, int, float]] = field(default_factory=list)
    # (first day, last day): stretches of growth before an expansion.
    growth_windows: list[tuple[int, int]] = field(default_factory=list)
    utilisation: float = 0.7
    weekday_factors: tuple[float, ...] = ()
    logins_per_user: float = 2.0
    events_per_login: float = 20.0
    features_base: float = 5.0
    usage_seed: int = 0
    activity_seed: int = 0

    @property
    def external_id(self) -> str:
        return f"ACC-{self.id:06d}"

    @property
    def current_contract(self) -> ContractPlan:
        return self.contracts[-1]

    def trouble_on(self, day: int) -> float:
        """How deep in trouble the account is on an ordinal day: 0 (fine) to 1."""
        worst = 0.0
        for first, last, severity in self.trouble:
            if first <= day <= last:
                span = last - first
                value = severity * ((day - first) / span if span else 1.0)
                # Troubles are felt from their first week, not only at their depth.
                value = max(value, severity * 0.25)
                if value > worst:
                    worst = value
        return worst

    def growing_on(self, day: int) -> bool:
        return any(first <= day <= last for first, last in self.growth_windows)

    def mood_on(self, day: int) -> float:
        """Health as the customer feels it on a day: latent health bent by the story."""
        mood = self.health - 0.75 * self.trouble_on(day)
        if self.growing_on(day):
            mood += 0.12
        return min(1.0, max(0.0, mood))


@dataclass(slots=True)
class IdBlocks:
    """Next free primary keys; the demo writes explicit ids so children can point at
    parents before anything reaches the database."""

    account: int = 1
    contact: int = 1
    contract: int = 1


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def _weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _round_arr(value: float) -> int:
    step = 100 if value < 100_000 else 1_000
    return max(step, round(value / step) * step)


class NameBook:
    """Unique, plausible company names drawn deterministically from the seed's stream."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._taken: set[str] = set()

    def company(self, industry: str) -> tuple[str, str]:
        rng = self._rng
        nouns = words.INDUSTRIES[industry][1]
        for attempt in range(50):
            brand = rng.choice(words.BRAND_HEADS) + rng.choice(words.BRAND_TAILS)
            if attempt < 20 and rng.random() < 0.35:
                name = brand  # one-word brands read well ("Stonebridge")
            else:
                name = f"{brand} {rng.choice(nouns)}"
            if rng.random() < 0.3:
                name = f"{name} {rng.choice(words.LEGAL_FORMS)}"
            if name not in self._taken:
                break
        else:
            # Tens of thousands of accounts exhaust the short names; a number keeps them apart.
            suffix = 2
            while f"{name} {suffix}" in self._taken:
                suffix += 1
            name = f"{name} {suffix}"
        self._taken.add(name)
        domain = "".join(ch for ch in brand.lower() if ch.isalnum()) + rng.choice(
            words.DOMAIN_ENDINGS
        )
        return name, domain


def _contacts(
    rng: random.Random, plan: AccountPlan, ids: IdBlocks, churn_reason: str
) -> list[ContactPlan]:
    low, high = {"tech_touch": (2, 4), "scaled": (3, 6), "high_touch": (4, 8)}[plan.tier]
    count = rng.randint(low, high)
    decision_makers = 2 if count >= 4 and rng.random() < 0.3 else 1
    sponsor_odds = {"tech_touch": 0.1, "scaled": 0.45, "high_touch": 0.85}[plan.tier]
    has_sponsor = count >= 3 and rng.random() < sponsor_odds
    domain = plan.domain
    contacts: list[ContactPlan] = []
    emails: set[str] = set()
    for index in range(count):
        first = rng.choice(words.FIRST_NAMES)
        last = rng.choice(words.LAST_NAMES)
        local = f"{first}.{last}".lower()
        email = f"{local}@{domain}"
        suffix = 2
        while email in emails:
            email = f"{local}{suffix}@{domain}"
            suffix += 1
        emails.add(email)
        is_dm = index < decision_makers
        is_sponsor = has_sponsor and index == decision_makers
        if is_sponsor:
            title = rng.choice(words.SPONSOR_TITLES)
        elif is_dm:
            title = rng.choice(words.DECISION_MAKER_TITLES)
        else:
            title = rng.choice(words.CONTACT_TITLES)
        # The champion of a "champion left" churn is gone; a few others moved on too.
        active = not (churn_reason == "champion_left" and index == 0) and (
            is_dm or rng.random() > 0.06
        )
        phone = (
            f"+1 {rng.randint(201, 989)} 555-01{rng.randint(0, 99):02d}"
            if rng.random() < 0.6
            else ""
        )
        contacts.append(
            ContactPlan(
                id=ids.contact,
                name=f"{first} {last}",
                email=email,
                title=title,
                phone=phone,
                is_decision_maker=is_dm,
                is_executive_sponsor=is_sponsor,
                is_active=active,
            )
        )
        ids.contact += 1
    return contacts


def _initial_arr(rng: random.Random) -> int:
    # Log-normal body (median ~15k) with a Pareto tail for the few strategic customers.
    if rng.random() < 0.02:
        value = 150_000 * (1.0 - rng.random()) ** (-1 / 1.3)
    else:
        value = 15_000 * math.exp(rng.gauss(0, 1.05))
    return _round_arr(_clamp(value, 1_200, 3_000_000))


def _tier_for(rng: random.Random, arr: int) -> str:
    # Noise around the ARR cut-offs: service level is a sales decision, not a formula.
    judged = arr * math.exp(rng.gauss(0, 0.25))
    if judged < 20_000:
        return "tech_touch"
    if judged < 100_000:
        return "scaled"
    return "high_touch"


def _term_months(rng: random.Random, tier: str) -> int:
    options = {
        "tech_touch": {"1": 10, "12": 90},
        "scaled": {"12": 88, "24": 10, "36": 2},
        "high_touch": {"12": 70, "24": 18, "36": 12},
    }[tier]
    return int(_weighted(rng, options))


def _outcome(rng: random.Random, plan: AccountPlan, term_months: int, first: bool) -> str:
    h = plan.health
    # Monthly terms decide every month; multi-year terms once, at their end.
    scale = 1 / 12 if term_months == 1 else 1.0
    p_churn = BASE_CHURN[plan.tier] * (2.2 - 1.85 * h) * scale
    if first:
        p_churn *= 1.3  # first renewals are the riskiest
    p_expand = _clamp(0.12 + 0.35 * (h - 0.55), 0.03, 0.4) * GROWTH_FACTOR[plan.growth] * scale
    p_contract = _clamp(0.08 + 0.2 * (0.6 - h), 0.02, 0.2) * scale
    roll = rng.random()
    if roll < p_churn:
        return "churn"
    if roll < p_churn + p_expand:
        return "expand"
    if roll < p_churn + p_expand + p_contract:
        return "contract"
    return "renew"


# Share of renewals signed before the term ends, by days left: most are signed in the last
# month, some earlier. Without them every renewal still to come would look like churn in a
# period that is not over yet (end ARR counts only the contracts signed so far).
SIGNED_AHEAD_ODDS = ((30, 0.7), (60, 0.45), (90, 0.2))


def _signed_ahead(plan: AccountPlan, *, days_left: int) -> bool:
    # Its own stream, so the rest of the demo draws the same numbers with or without it.
    roll = random.Random(plan.activity_seed ^ 0x5EED).random()
    return any(days_left <= days and roll < odds for days, odds in SIGNED_AHEAD_ODDS)


def _ramp_to(knots: list[tuple[int, float]], day: int, value: float, lead: int) -> None:
    """Move the level linearly to `value`, arriving on `day` after `lead` days of change."""
    last_day, last_value = knots[-1]
    start = max(day - lead, last_day)
    if start > last_day:
        knots.append((start, last_value))
    if day > knots[-1][0]:
        knots.append((day, value))
    else:
        knots[-1] = (knots[-1][0], value)


def _shape_transition(
    rng: random.Random,
    plan: AccountPlan,
    level: float,
    day: int,
    outcome: str,
    seats_before: int,
    seats_after: int,
) -> float:
    """Bend usage (and mark trouble or growth) in the run-up to an outcome on `day`."""
    lead = rng.randint(60, 120)
    if outcome == "expand":
        level *= seats_after / seats_before * rng.uniform(0.9, 1.05)
        plan.growth_windows.append((day - lead, day))
    elif outcome == "contract":
        level *= seats_after / seats_before * rng.uniform(0.85, 1.0)
        plan.trouble.append((day - lead, day, rng.uniform(0.3, 0.6)))
    elif outcome == "churn":
        if plan.churn_reason in words.SILENT_CHURN_REASONS and rng.random() < 0.6:
            # Budget cuts and acquisitions come with little warning in the product.
            level *= rng.uniform(0.7, 1.0)
            plan.trouble.append((day - 30, day, 0.15))
        else:
            level *= rng.uniform(0.1, 0.45)
            plan.trouble.append((day - lead, day, rng.uniform(0.6, 1.0)))
    else:
        level *= rng.uniform(0.93, 1.07)
    _ramp_to(plan.level_knots, day, level, lead)
    return level


def _next_seats_and_arr(
    rng: random.Random, outcome: str, seats: int, arr: int, price: float
) -> tuple[int, int]:
    if outcome == "expand":
        new_seats = max(seats + 1, round(seats * rng.uniform(1.12, 1.6)))
        return new_seats, _round_arr(new_seats * price * rng.uniform(0.97, 1.04))
    if outcome == "contract":
        new_seats = max(1, min(seats - 1, round(seats * rng.uniform(0.6, 0.9))))
        return new_seats, _round_arr(new_seats * price * rng.uniform(0.97, 1.02))
    # A flat renewal keeps the seats; half of them carry a price uplift.
    if rng.random() < 0.5:
        return seats, _round_arr(arr * rng.uniform(1.02, 1.07))
    return seats, arr


def account_plan(
    *,
    rng: random.Random,
    names: NameBook,
    ids: IdBlocks,
    today: dt.date,
    history_start: dt.date,
    many_teams: bool,
) -> AccountPlan:
    """One customer with its contracts, contacts and story, drawn from `rng`."""
    industry = rng.choices(
        list(words.INDUSTRIES), weights=[w for w, _ in words.INDUSTRIES.values()]
    )[0]
    name, domain = names.company(industry)
    arr = _initial_arr(rng)
    tier = _tier_for(rng, arr)
    complexity = _weighted(
        rng,
        {
            "tech_touch": {"low": 55, "medium": 35, "high": 10},
            "scaled": {"low": 30, "medium": 45, "high": 25},
            "high_touch": {"low": 15, "medium": 40, "high": 45},
        }[tier],
    )
    growth = _weighted(rng, {"low": 30, "medium": 45, "high": 25})
    health = rng.gauss(0.66, 0.17) + (0.04 if tier == "high_touch" else 0.0)
    health -= 0.04 if complexity == "high" else 0.0
    health = _clamp(health, 0.05, 0.97)
    if tier == "high_touch":
        team = "Enterprise"
    elif tier == "scaled":
        team = "Mid-Market"
    else:
        team = "Digital" if many_teams and rng.random() < 0.5 else "SMB"

    term = _term_months(rng, tier)
    term_days = (add_months(history_start, term) - history_start).days
    if rng.random() < NEW_LOGO_SHARE:
        span = (today - history_start).days - 1
        # More recent signups than old ones: the vendor is growing.
        start = today - dt.timedelta(days=1 + int(span * rng.random() ** 1.2))
    else:
        start = history_start - dt.timedelta(days=rng.randrange(term_days))

    plan = AccountPlan(
        id=ids.account,
        name=name,
        domain=domain,
        industry=industry,
        tier=tier,
        complexity=complexity,
        growth=growth,
        team=team,
        health=health,
        start=start,
    )
    ids.account += 1
    plan.usage_seed = rng.getrandbits(63)
    plan.activity_seed = rng.getrandbits(63)

    price = rng.uniform(*PRICE_PER_SEAT[tier]) * COMPLEXITY_PRICE[complexity]
    seats = max(2, round(arr / price))
    plan.utilisation = _clamp(0.3 + 0.6 * health + rng.gauss(0, 0.08), 0.12, 0.98)
    level = seats * plan.utilisation
    ramp_days = rng.randint(30, 60) + (30 if complexity == "high" else 0)
    first_day = start.toordinal()
    plan.level_knots = [
        (first_day, level * rng.uniform(0.12, 0.3)),
        (first_day + ramp_days, level),
    ]

    previous_id: int | None = None
    term_start = start
    first_renewal = True
    while True:
        end = add_months(term_start, term) - dt.timedelta(days=1)
        contract = ContractPlan(ids.contract, term_start, end, arr, seats, previous_id)
        ids.contract += 1
        plan.contracts.append(contract)
        outcome = _outcome(rng, plan, term, first_renewal)
        if outcome == "churn":
            plan.churn_reason = _weighted(rng, words.CHURN_REASON_WEIGHTS)
        next_seats, next_arr = _next_seats_and_arr(rng, outcome, seats, arr, price)
        boundary = end.toordinal() + 1
        if outcome == "churn":
            # Usage ends with the contract: the decline lands on its last day.
            boundary = end.toordinal()
        level = _shape_transition(rng, plan, level, boundary, outcome, seats, next_seats)
        if end >= today:
            # The current term: its outcome is the future, only its run-up shows today.
            if outcome == "churn":
                plan.churn_reason = ""
            elif _signed_ahead(plan, days_left=(end - today).days):
                next_start = end + dt.timedelta(days=1)
                plan.renewal_signed = ContractPlan(
                    ids.contract,
                    next_start,
                    add_months(next_start, term) - dt.timedelta(days=1),
                    next_arr,
                    next_seats,
                    contract.id,
                )
                ids.contract += 1
            break
        if outcome == "churn":
            gap = rng.randint(1, 14) if rng.random() < 0.5 else 0
            plan.churned_on = min(end + dt.timedelta(days=gap), today)
            plan.lifecycle = "churned"
            plan.churn_note = rng.choice(words.CHURN_NOTES[plan.churn_reason])
            break
        previous_id = contract.id
        term_start = end + dt.timedelta(days=1)
        seats, arr = next_seats, next_arr
        first_renewal = False

    if plan.lifecycle != "churned":
        plan.lifecycle = "onboarding" if (today - start).days < ONBOARDING_DAYS else plan.lifecycle
        # Some live accounts are sliding right now: the red and yellow rows of the demo.
        if rng.random() < 0.05 + 0.15 * (1 - health):
            slide_start = today.toordinal() - rng.randint(15, 90)
            if slide_start > first_day + ramp_days:
                depth = rng.uniform(0.35, 0.7)
                plan.dip_knots = [(slide_start, 1.0), (today.toordinal(), depth)]
                plan.trouble.append((slide_start, today.toordinal(), rng.uniform(0.5, 0.9)))
    if not plan.dip_knots and rng.random() < 0.15:
        # A temporary dip that recovers (holidays, a reorg): noise the score must survive.
        last_day = min(plan.contracts[-1].end, today).toordinal()
        if last_day - first_day > 120:
            dip_start = rng.randint(first_day + 60, last_day - 45)
            depth = rng.uniform(0.55, 0.8)
            hold = rng.randint(7, 25)
            plan.dip_knots = [
                (dip_start, 1.0),
                (dip_start + 7, depth),
                (dip_start + 7 + hold, depth),
                (dip_start + 21 + hold, 1.0),
            ]
            plan.trouble.append((dip_start, dip_start + 7 + hold, 0.2))

    weekend = industry in words.WEEKEND_INDUSTRIES
    saturday, sunday = (0.6, 0.5) if weekend else (0.25, 0.18)
    plan.weekday_factors = tuple(
        base * rng.uniform(0.95, 1.05) for base in (1.0, 1.04, 1.03, 1.0, 0.9, saturday, sunday)
    )
    plan.logins_per_user = rng.uniform(1.2, 3.0)
    plan.events_per_login = rng.uniform(8, 35)
    plan.features_base = _clamp(
        2 + 7 * health + rng.gauss(0, 1) + {"low": -1, "medium": 0, "high": 1}[complexity],
        1,
        10,
    )
    plan.contacts = _contacts(rng, plan, ids, plan.churn_reason)
    return plan
