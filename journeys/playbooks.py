"""The playbook engine: evaluate every active playbook and make each occurrence's tasks once.

Set-based: each trigger is a couple of queries over all accounts (journeys/playbook_triggers.py);
the tasks and firings are then written in bounded batches, each a few queries whatever its
size. A rerun finds the firings it already wrote and makes nothing new; a run killed
halfway leaves whole batches behind, and the rerun finishes the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, AccountQuerySet, Task
from journeys.models import (
    Playbook,
    PlaybookFiring,
    PlaybookSnooze,
    PlaybookTaskTemplate,
    SegmentPresence,
)
from journeys.playbook_triggers import (
    SEGMENT_TRIGGERS,
    TRIGGERS,
    Fire,
    SegmentDiff,
    segment_diff,
)

# (template, fire) pairs written per transaction: five queries each (existing firings,
# accounts, existing tasks, inserts), and small enough to keep IN lists well under SQLite's
# parameter limit.
FIRING_BATCH = 500
# Presence rows inserted or deleted per statement.
PRESENCE_BATCH = 1000
TASK_KEY_MAX = 200


@dataclass(frozen=True)
class _Wanted:
    playbook: Playbook
    template: PlaybookTaskTemplate
    fire: Fire
    # The first template of a playbook takes the fire's shared key (health alert, detractor
    # follow-up) so those converge on one task; any further template gets its own.
    shared_key: bool

    @property
    def dedupe_key(self) -> str:
        if self.shared_key and self.fire.dedupe_key:
            return self.fire.dedupe_key
        key = f"playbook:{self.playbook.pk}:{self.template.pk}:{self.fire.occurrence}"
        return key[:TASK_KEY_MAX]


def playbooks_run(*, today: dt.date, account_ids: list[int] | None = None) -> int:
    """Evaluate every active playbook (for the given accounts, or all); returns tasks made.

    Skips churned accounts and accounts on which the playbook is snoozed (until ≥ today).
    Segment presence is brought up to date after the tasks are written, so a run killed
    before that point sees the same entries and exits again on the rerun.
    """
    accounts: AccountQuerySet = Account.objects.live()
    if account_ids is not None:
        if not account_ids:
            return 0
        accounts = accounts.filter(pk__in=account_ids)
    playbooks = [
        playbook
        for playbook in Playbook.objects.filter(is_active=True).prefetch_related("templates")
        if playbook.templates.all()
    ]
    if not playbooks:
        return 0
    snoozes = PlaybookSnooze.objects.filter(
        playbook__in=[p.pk for p in playbooks], until__gte=today
    )
    if account_ids is not None:
        snoozes = snoozes.filter(account_id__in=account_ids)
    snoozed = set(snoozes.values_list("playbook_id", "account_id"))

    diffs: dict[int, SegmentDiff] = {}
    for playbook in playbooks:
        segment_id = playbook.params.get("segment")
        if playbook.trigger in SEGMENT_TRIGGERS and segment_id and int(segment_id) not in diffs:
            diff = segment_diff(
                int(segment_id), today=today, accounts=accounts, account_ids=account_ids
            )
            if diff is not None:
                diffs[int(segment_id)] = diff

    wanted: list[_Wanted] = []
    for playbook in playbooks:
        trigger = TRIGGERS.get(playbook.trigger)
        if trigger is None:
            continue
        fires = trigger(playbook, today=today, accounts=accounts, segment_diffs=diffs)
        templates = list(playbook.templates.all())
        for fire in fires:
            if (playbook.pk, fire.account_id) in snoozed:
                continue
            for position, template in enumerate(templates):
                wanted.append(_Wanted(playbook, template, fire, shared_key=position == 0))

    created = 0
    for start in range(0, len(wanted), FIRING_BATCH):
        created += _write_batch(wanted[start : start + FIRING_BATCH], today=today)
    for diff in diffs.values():
        _presence_apply(diff, today=today)
    return created


def _render(text: str, values: Mapping[str, str]) -> str:
    # Plain replacement rather than str.format: a stray brace in a title must not crash
    # the nightly job.
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


@transaction.atomic
def _write_batch(batch: Sequence[_Wanted], *, today: dt.date) -> int:
    """Tasks and firings for one batch; returns the number of tasks created."""
    playbook_ids = {w.playbook.pk for w in batch}
    account_ids = {w.fire.account_id for w in batch}
    occurrences = {w.fire.occurrence for w in batch}
    existing = set(
        PlaybookFiring.objects.filter(
            playbook_id__in=playbook_ids, account_id__in=account_ids, occurrence__in=occurrences
        ).values_list("playbook_id", "account_id", "occurrence", "template_id")
    )
    todo = [
        w
        for w in batch
        if (w.playbook.pk, w.fire.account_id, w.fire.occurrence, w.template.pk) not in existing
    ]
    if not todo:
        return 0

    people = {
        pk: (name, owner_id, manager_id)
        for pk, name, owner_id, manager_id in Account.objects.filter(
            pk__in={w.fire.account_id for w in todo}
        ).values_list("pk", "name", "owner_id", "team__manager_id")
    }
    todo = [w for w in todo if w.fire.account_id in people]
    tasks: dict[tuple[int, str], Task] = {}
    for w in todo:
        key = (w.fire.account_id, w.dedupe_key)
        if key in tasks:
            continue  # two playbooks converging on one shared key: the first one writes it
        tasks[key] = _task_for(w, people[w.fire.account_id], today=today)

    found = _tasks_by_key(tasks)
    converged = [found[key] for key in tasks if key in found]
    for task in converged:
        if task.status == Task.Status.OPEN:
            fresh = tasks[(task.account_id, task.dedupe_key)]
            task.title, task.description, task.priority = (
                fresh.title,
                fresh.description,
                fresh.priority,
            )
            task.updated_at = timezone.now()
    Task.objects.bulk_update(
        [t for t in converged if t.status == Task.Status.OPEN],
        ["title", "description", "priority", "updated_at"],
    )
    new = [task for key, task in tasks.items() if key not in found]
    # Conflicts are ignored: an alert written between the lookup and here wins, and the
    # lookup below links it like any other existing task.
    Task.objects.bulk_create(new, ignore_conflicts=True)
    linked = _tasks_by_key({(t.account_id, t.dedupe_key): t for t in new}) if new else {}
    created = sum(1 for task in linked.values() if task.source == Task.Source.PLAYBOOK)
    linked.update(found)

    PlaybookFiring.objects.bulk_create(
        [
            PlaybookFiring(
                playbook=w.playbook,
                template=w.template,
                account_id=w.fire.account_id,
                occurrence=w.fire.occurrence,
                task=linked.get((w.fire.account_id, w.dedupe_key)),
            )
            for w in todo
        ],
        ignore_conflicts=True,
    )
    return created


def _task_for(w: _Wanted, person: tuple[str, int | None, int | None], *, today: dt.date) -> Task:
    name, owner_id, manager_id = person
    values = {"account": name, **w.fire.context}
    description = _render(w.template.description, values).strip()
    reason = w.fire.context.get("reason", "")
    if reason:
        description = f"{description}\n\n{reason}" if description else reason
    assignee = owner_id
    if w.template.assignee == PlaybookTaskTemplate.Assignee.TEAM_MANAGER and manager_id:
        assignee = manager_id
    return Task(
        account_id=w.fire.account_id,
        owner_id=assignee,
        title=_render(w.template.title, values)[:200],
        description=description,
        due_date=today + dt.timedelta(days=w.template.due_in_days),
        priority=w.template.priority,
        status=Task.Status.OPEN,
        source=Task.Source.PLAYBOOK,
        dedupe_key=w.dedupe_key,
    )


def _tasks_by_key(keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Task]:
    """The tasks already holding these (account, dedupe_key) pairs, in one query."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = Task.objects.filter(
        account_id__in={a for a, _ in wanted}, dedupe_key__in={k for _, k in wanted}
    ).only("pk", "account_id", "dedupe_key", "status", "source", "title")
    return {(t.account_id, t.dedupe_key): t for t in rows if (t.account_id, t.dedupe_key) in wanted}


@transaction.atomic
def _presence_apply(diff: SegmentDiff, *, today: dt.date) -> None:
    """Record who is in the segment now: insert the newcomers, delete the leavers."""
    arrivals = diff.initialise or diff.entered
    SegmentPresence.objects.bulk_create(
        [SegmentPresence(segment=diff.segment, account_id=pk, since=today) for pk in arrivals],
        batch_size=PRESENCE_BATCH,
        ignore_conflicts=True,
    )
    for start in range(0, len(diff.left_all), PRESENCE_BATCH):
        SegmentPresence.objects.filter(
            segment=diff.segment, account_id__in=diff.left_all[start : start + PRESENCE_BATCH]
        ).delete()
