"""What happens around an account besides usage: tickets, interactions with their
participants and next-step tasks, manual tasks, and survey answers.

Each account draws from its own random stream (plan.activity_seed), so its activity does
not change when other accounts are added. Rates and tones follow the plan's mood, which
falls in the run-up to churn and contraction: more and hotter tickets, negative calls,
detractor answers.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from reports.demo import vocabulary as words
from reports.demo.planning import AccountPlan, ContactPlan

TICKET_FIELDS = (
    "account",
    "external_id",
    "subject",
    "priority",
    "status",
    "opened_at",
    "closed_at",
)
INTERACTION_FIELDS = (
    "id",
    "account",
    "author",
    "kind",
    "occurred_on",
    "summary",
    "sentiment",
    "created_at",
    "updated_at",
)
PARTICIPANT_FIELDS = ("interaction", "contact")
TASK_FIELDS = (
    "account",
    "owner",
    "title",
    "description",
    "due_date",
    "priority",
    "status",
    "source",
    "interaction",
    "dedupe_key",
    "completed_at",
    "completed_by",
    "created_at",
    "updated_at",
)
ANSWER_FIELDS = (
    "survey",
    "account",
    "contact",
    "kind",
    "score",
    "comment",
    "answered_at",
    "external_id",
    "created_at",
    "updated_at",
)

# Mean days between logged touches, and between QBRs, by service level.
TOUCH_GAP_DAYS = {"high_touch": 9, "scaled": 24, "tech_touch": 70}
QBR_GAP_DAYS = {"high_touch": 91, "scaled": 182}
TOUCH_KINDS = {
    "high_touch": {"call": 30, "meeting": 25, "email": 30, "note": 15},
    "scaled": {"call": 35, "meeting": 10, "email": 40, "note": 15},
    "tech_touch": {"email": 60, "call": 20, "note": 20},
}
# Median hours to resolve a ticket by priority.
RESOLUTION_HOURS = {"urgent": 5, "high": 16, "normal": 36, "low": 60}
NPS_WAVE_DAYS = 91
NPS_RESPONSE_RATE = 0.22
CSAT_RESPONSE_RATE = 0.3
CES_RESPONSE_RATE = 0.12
NEXT_STEP_RATE = 0.35


@dataclass(slots=True)
class ActivityRows:
    """One batch of rows per table, flushed to the database together."""

    tickets: list[tuple[object, ...]] = field(default_factory=list)
    interactions: list[tuple[object, ...]] = field(default_factory=list)
    participants: list[tuple[int, int]] = field(default_factory=list)
    tasks: list[tuple[object, ...]] = field(default_factory=list)
    answers: list[tuple[object, ...]] = field(default_factory=list)

    def clear(self) -> None:
        for rows in (self.tickets, self.interactions, self.participants, self.tasks, self.answers):
            rows.clear()


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


class ActivityBuilder:
    """Turns plans into activity rows; holds the running ids and external-id counters."""

    def __init__(
        self,
        *,
        today: dt.date,
        now: dt.datetime,
        days: int,
        tz: dt.tzinfo,
        surveys: dict[str, int],
        adapt_datetime: Callable[[dt.datetime], object],
        first_interaction_id: int,
    ) -> None:
        self.today = today
        self.today_ordinal = today.toordinal()
        self.first_ordinal = self.today_ordinal - days
        self.now = now
        self.tz = tz
        self.surveys = surveys
        self.adapt = adapt_datetime
        self.next_interaction_id = first_interaction_id
        self.ticket_count = 0
        self.answer_count = 0
        self.interaction_count = 0
        self.task_count = 0

    # --- helpers -------------------------------------------------------------------------

    def _moment(self, day: int, hour: float) -> dt.datetime:
        """An aware moment on an ordinal day in the local time zone, never in the future."""
        base = dt.datetime.combine(dt.date.fromordinal(day), dt.time(), tzinfo=self.tz)
        moment = base + dt.timedelta(hours=hour)
        return min(moment, self.now)

    def _answer(
        self,
        rows: ActivityRows,
        plan: AccountPlan,
        kind: str,
        contact: ContactPlan | None,
        score: int,
        comment: str,
        moment: dt.datetime,
    ) -> None:
        self.answer_count += 1
        stamp = self.adapt(moment)
        rows.answers.append(
            (
                self.surveys[kind],
                plan.id,
                contact.id if contact else None,
                kind,
                score,
                comment,
                stamp,
                f"DEMO-{kind.upper()}-{self.answer_count:07d}",
                stamp,
                stamp,
            )
        )

    # --- the account's activity ----------------------------------------------------------

    def add(self, plan: AccountPlan, rows: ActivityRows) -> None:
        first = max(self.first_ordinal, plan.start.toordinal())
        last = self.today_ordinal - 1  # today has not happened yet (see demo_data_seed)
        if plan.churned_on is not None:
            last = min(last, plan.churned_on.toordinal())
        if first > last:
            return
        rng = random.Random(plan.activity_seed)
        people = [contact for contact in plan.contacts if contact.is_active]
        self._tickets(rng, plan, people, first, last, rows)
        self._interactions(rng, plan, people, first, last, rows)
        self._nps(rng, plan, people, first, last, rows)
        if plan.churned_on is None:
            self._manual_tasks(rng, plan, rows)

    def _tickets(
        self,
        rng: random.Random,
        plan: AccountPlan,
        people: list[ContactPlan],
        first: int,
        last: int,
        rows: ActivityRows,
    ) -> None:
        seats = plan.current_contract.seats
        base = min(0.2, (0.3 + seats / 40) / 30)
        # Thinning: draw at the account's peak rate, keep each with rate(day) / peak.
        peak_factor = 1 + 2.5 * max((severity for *_, severity in plan.trouble), default=0.0)
        peak = base * peak_factor
        moment_day = float(first)
        while True:
            moment_day += rng.expovariate(peak)
            day = int(moment_day)
            if day > last:
                return
            # Ordinal 1 was a Monday: (day + 6) % 7 is the weekday, 5 and 6 the weekend.
            if (day + 6) % 7 >= 5 and rng.random() < 0.6:
                continue
            trouble = plan.trouble_on(day)
            if peak_factor > 1 and rng.random() * peak_factor > 1 + 2.5 * trouble:
                continue
            opened = self._moment(day, rng.uniform(7, 19))
            hot = 0.18 + 0.5 * trouble
            roll = rng.random()
            if roll < hot * 0.3:
                priority = "urgent"
            elif roll < hot:
                priority = "high"
            else:
                priority = "normal" if rng.random() < 0.6 else "low"
            subjects = (
                words.URGENT_TICKET_SUBJECTS if priority == "urgent" else words.TICKET_SUBJECTS
            )
            subject = rng.choice(subjects)
            hours = rng.lognormvariate(math.log(RESOLUTION_HOURS[priority]), 0.9) * (
                1 + 0.8 * trouble
            )
            resolved = opened + dt.timedelta(hours=hours)
            closed: dt.datetime | None = None
            # A few tickets stall for good; the rest close unless their fix is still ahead.
            if resolved > self.now or rng.random() < 0.015:
                status = "pending" if rng.random() < 0.4 else "open"
            else:
                closed = resolved
                status = "solved" if self.now - resolved < dt.timedelta(days=7) else "closed"
            self.ticket_count += 1
            rows.tickets.append(
                (
                    plan.id,
                    f"T-{self.ticket_count:07d}",
                    subject,
                    priority,
                    status,
                    self.adapt(opened),
                    self.adapt(closed) if closed else None,
                )
            )
            if closed is None or not people:
                continue
            slow = hours > 72
            if rng.random() < CSAT_RESPONSE_RATE:
                answered = closed + dt.timedelta(hours=rng.uniform(0.5, 36))
                if answered <= self.now and answered.date().toordinal() <= last:
                    good = _clamp(
                        0.82 - 0.4 * trouble - (0.12 if slow else 0) - 0.3 * (0.65 - plan.health),
                        0.15,
                        0.97,
                    )
                    if rng.random() < good:
                        score = 5 if rng.random() < 0.6 else 4
                        comments = words.CSAT_HIGH_COMMENTS
                    else:
                        score = rng.choices((1, 2, 3), weights=(2, 3, 5))[0]
                        comments = words.CSAT_LOW_COMMENTS
                    comment = rng.choice(comments) if rng.random() < 0.25 else ""
                    self._answer(rows, plan, "csat", rng.choice(people), score, comment, answered)
            if rng.random() < CES_RESPONSE_RATE:
                answered = closed + dt.timedelta(hours=rng.uniform(0.5, 48))
                if answered <= self.now and answered.date().toordinal() <= last:
                    mean = 5.4 - 2.2 * trouble - (0.5 if slow else 0)
                    score = int(_clamp(round(rng.gauss(mean, 1.1)), 1, 7))
                    comment = rng.choice(words.CES_COMMENTS) if rng.random() < 0.15 else ""
                    self._answer(rows, plan, "ces", rng.choice(people), score, comment, answered)

    def _interaction_days(
        self, rng: random.Random, plan: AccountPlan, first: int, last: int
    ) -> list[tuple[int, str]]:
        touches: list[tuple[int, str]] = []
        kinds = TOUCH_KINDS[plan.tier]
        gap = TOUCH_GAP_DAYS[plan.tier]
        moment_day = float(first)
        while True:
            moment_day += rng.expovariate(1 / gap)
            if int(moment_day) > last:
                break
            kind = rng.choices(list(kinds), weights=list(kinds.values()))[0]
            touches.append((int(moment_day), kind))
        qbr_gap = QBR_GAP_DAYS.get(plan.tier)
        if qbr_gap:
            day = first + rng.randrange(qbr_gap)
            while day <= last:
                touches.append((day, "qbr"))
                day += qbr_gap + rng.randint(-7, 7)
        # CSMs log work on weekdays: weekend touches move to the Monday.
        moved = []
        for day, kind in touches:
            weekday = dt.date.fromordinal(day).weekday()
            if weekday >= 5:
                day += 7 - weekday
            if day <= last:
                moved.append((day, kind))
        moved.sort()
        return moved

    def _interactions(
        self,
        rng: random.Random,
        plan: AccountPlan,
        people: list[ContactPlan],
        first: int,
        last: int,
        rows: ActivityRows,
    ) -> None:
        decision_makers = [c for c in people if c.is_decision_maker or c.is_executive_sponsor]
        for day, kind in self._interaction_days(rng, plan, first, last):
            mood = plan.mood_on(day)
            positive = _clamp(0.15 + 0.8 * (mood - 0.35), 0.03, 0.8)
            negative = _clamp(0.45 - 0.9 * (mood - 0.25), 0.03, 0.8)
            roll = rng.random() * max(1.0, positive + negative)
            if roll < positive:
                sentiment = "positive"
            elif roll < positive + negative:
                sentiment = "negative"
            else:
                sentiment = "neutral"
            if kind == "note" or not people:
                count = 0
            elif kind == "email":
                count = 1
            elif kind == "qbr":
                count = rng.randint(2, 4)
            else:
                count = rng.randint(1, 3 if kind == "meeting" else 2)
            count = min(count, len(people))
            chosen: list[ContactPlan] = []
            if kind == "qbr" and decision_makers:
                chosen.append(rng.choice(decision_makers))
            while len(chosen) < count:
                person = rng.choice(people)
                if person not in chosen:
                    chosen.append(person)
            named = chosen[0] if chosen else (rng.choice(people) if people else None)
            contact_name = named.name if named else "the team"
            template = rng.choice(words.INTERACTION_SUMMARIES[kind][sentiment])
            summary = template.format(
                contact=contact_name,
                feature=rng.choice(words.FEATURES),
                topic=rng.choice(words.TOPICS),
                n=max(2, round(plan.current_contract.seats * plan.utilisation)),
            )
            interaction_id = self.next_interaction_id
            self.next_interaction_id += 1
            self.interaction_count += 1
            logged = self.adapt(self._moment(day, rng.uniform(15, 18.5)))
            rows.interactions.append(
                (
                    interaction_id,
                    plan.id,
                    plan.owner_id,
                    kind,
                    dt.date.fromordinal(day),
                    summary,
                    sentiment,
                    logged,
                    logged,
                )
            )
            rows.participants.extend((interaction_id, person.id) for person in chosen)
            if kind != "note" and rng.random() < NEXT_STEP_RATE:
                title = rng.choice(words.TASK_TITLES_FROM_INTERACTION).format(
                    contact=contact_name,
                    feature=rng.choice(words.FEATURES),
                    topic=rng.choice(words.TOPICS),
                )
                due = day + rng.randint(2, 21)
                urgent = sentiment == "negative"
                priority = rng.choices(
                    ("low", "normal", "high", "urgent"),
                    weights=(5, 40, 40, 15) if urgent else (15, 60, 20, 5),
                )[0]
                self._task(
                    rng,
                    plan,
                    rows,
                    title=title,
                    created=day,
                    due=due,
                    priority=priority,
                    source="interaction",
                    interaction_id=interaction_id,
                )

    def _task(
        self,
        rng: random.Random,
        plan: AccountPlan,
        rows: ActivityRows,
        *,
        title: str,
        created: int,
        due: int,
        priority: str,
        source: str,
        interaction_id: int | None = None,
        status: str | None = None,
    ) -> None:
        today = self.today_ordinal
        if status is None:
            if due < today - 45:
                status = "done" if rng.random() < 0.93 else "cancelled"
            elif due < today - 2:
                roll = rng.random()
                status = "done" if roll < 0.85 else "cancelled" if roll < 0.9 else "open"
            else:
                status = "done" if created < today and rng.random() < 0.2 else "open"
        if plan.churned_on is not None and status == "open":
            status = "cancelled"
        completed = None
        if status == "done":
            done_day = min(max(created, due - rng.randint(-3, 5)), today)
            completed = self.adapt(self._moment(done_day, rng.uniform(9, 18)))
        created_at = self.adapt(self._moment(min(created, today), rng.uniform(8, 18)))
        self.task_count += 1
        rows.tasks.append(
            (
                plan.id,
                plan.owner_id,
                title,
                "",
                dt.date.fromordinal(due),
                priority,
                status,
                source,
                interaction_id,
                "",
                completed,
                plan.owner_id if completed else None,
                created_at,
                completed or created_at,
            )
        )

    def _manual_tasks(self, rng: random.Random, plan: AccountPlan, rows: ActivityRows) -> None:
        today = self.today_ordinal
        end = plan.current_contract.end.toordinal()
        if plan.tier != "tech_touch" and 0 <= end - today <= 120:
            due = end - 60
            self._task(
                rng,
                plan,
                rows,
                title="Prepare renewal proposal",
                created=due - 21,
                due=due,
                priority="high",
                source="manual",
            )
        if plan.trouble_on(today) > 0.3:
            self._task(
                rng,
                plan,
                rows,
                title="Review usage drop with champion",
                created=today - rng.randint(1, 10),
                due=today + rng.randint(-6, 7),
                priority="high",
                source="manual",
                status="open",
            )
        if plan.lifecycle == "onboarding":
            start = plan.start.toordinal()
            self._task(
                rng,
                plan,
                rows,
                title="Plan onboarding kickoff",
                created=start,
                due=min(start + 5, today),
                priority="normal",
                source="manual",
                status="done",
            )
            self._task(
                rng,
                plan,
                rows,
                title="Check in on integration rollout",
                created=start + 5,
                due=start + 40,
                priority="normal",
                source="manual",
            )
        if rng.random() < 0.25:
            self._task(
                rng,
                plan,
                rows,
                title=rng.choice(words.TASK_TITLES_MANUAL[4:]),
                created=today - rng.randint(1, 20),
                due=today + rng.randint(-10, 30),
                priority=rng.choice(("low", "normal", "normal", "high")),
                source="manual",
            )

    def _nps(
        self,
        rng: random.Random,
        plan: AccountPlan,
        people: list[ContactPlan],
        first: int,
        last: int,
        rows: ActivityRows,
    ) -> None:
        if not people:
            return
        # Relationship NPS goes out quarterly, not in the customer's first month.
        wave = max(first, plan.start.toordinal() + 30) + rng.randrange(NPS_WAVE_DAYS)
        while wave <= last:
            for person in people:
                if rng.random() >= NPS_RESPONSE_RATE:
                    continue
                day = wave + rng.randint(0, 6)
                if day > last:
                    continue
                mood = plan.mood_on(day)
                promoter = _clamp(0.05 + 0.75 * (mood - 0.2), 0.03, 0.8)
                detractor = _clamp(0.6 - 0.8 * (mood - 0.2), 0.04, 0.85)
                roll = rng.random() * max(1.0, promoter + detractor)
                if roll < detractor:
                    score = rng.choices(range(7), weights=(1, 1, 2, 3, 4, 6, 8))[0]
                    comments: tuple[str, ...] = words.DETRACTOR_COMMENTS
                    odds = 0.5
                elif roll < detractor + promoter:
                    score = 10 if rng.random() < 0.45 else 9
                    comments, odds = words.PROMOTER_COMMENTS, 0.3
                else:
                    score = rng.choice((7, 8))
                    comments, odds = words.PASSIVE_COMMENTS, 0.3
                comment = rng.choice(comments) if rng.random() < odds else ""
                moment = self._moment(day, rng.uniform(8, 20))
                self._answer(rows, plan, "nps", person, score, comment, moment)
            wave += NPS_WAVE_DAYS
