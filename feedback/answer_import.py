"""CSV import of survey answers exported from outside tools (columns in docs/survey-import.md).

Every row is checked first; one bad row imports nothing and every bad row is reported with
its line, column and reason. Rows are matched on external_id, so importing the same file
twice updates the answers instead of duplicating them. Each row is written by
feedback.services.answer_record, so imported answers get the same tags and follow-ups as
answers given through a link (follow-ups only for answers of the last 30 days).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.audit import Action, audit_record, ids_sample
from accounts.csv_import import CsvFileError, RowError, csv_text_decode
from accounts.models import Contact
from feedback.models import FollowUp, Survey, SurveyAnswer
from feedback.selectors import contacts_by_email, tag_rules_active
from feedback.services import FOLLOW_UP_MAX_AGE, answer_record
from journeys.tasks import playbooks_run_task

COLUMNS = ("external_id", "email", "survey", "score", "comment", "answered_at")
REQUIRED = ("external_id", "email", "survey", "score", "answered_at")
# external_ids looked up per query when telling new rows from updates.
_LOOKUP_CHUNK = 500
_WHOLE_NUMBER = re.compile(r"^\d+(?:\.0*)?$")

# (phase, rows done, rows in total): "check" then "write".
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class AnswerRow:
    line: int
    external_id: str
    contact: Contact
    survey: Survey
    score: int
    comment: str
    answered_at: dt.datetime


@dataclass
class AnswerImportPlan:
    rows: list[AnswerRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # Header columns that are not ours: exports carry extra ones, which are skipped.
    ignored_columns: list[str] = field(default_factory=list)
    rows_new: int = 0
    rows_updated: int = 0


@dataclass(frozen=True)
class AnswerImportResult:
    rows_total: int
    rows_new: int
    rows_updated: int
    follow_ups_opened: int


def _header_name(raw: str) -> str:
    # "Answered At", "answered-at" and "ANSWERED_AT" all mean answered_at.
    return re.sub(r"[\s\-]+", "_", raw.strip().lower())


def _read(text: str, plan: AnswerImportPlan) -> list[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [_header_name(name) for name in next(reader)]
    except (StopIteration, csv.Error):
        raise CsvFileError("The file has no header row.") from None
    if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
        raise CsvFileError(
            "The header row is not separated by commas. Save the file as comma-separated CSV."
        )
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        if name in positions:
            plan.errors.append(RowError(1, name, f'column "{name}" appears twice'))
        elif name in COLUMNS:
            positions[name] = index
        elif name:
            plan.ignored_columns.append(name)
    for name in REQUIRED:
        if name not in positions:
            plan.errors.append(RowError(1, name, f'missing required column "{name}"'))
    rows: list[tuple[int, dict[str, str]]] = []
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            plan.errors.append(RowError(line, "", f"this line cannot be read as CSV ({exc})"))
            break
        if not any(cell.strip() for cell in cells):
            continue
        rows.append(
            (
                line,
                {
                    name: cells[index].strip() if index < len(cells) else ""
                    for name, index in positions.items()
                },
            )
        )
    return rows


class _SurveyFinder:
    """A survey by kind (the first active one of that kind, by name) or by name."""

    def __init__(self) -> None:
        self.surveys = list(Survey.objects.order_by("-is_active", "name", "pk"))

    def find(self, value: str) -> Survey | str:
        key = value.strip().lower()
        if key in Survey.SCALES:
            for survey in self.surveys:
                if survey.kind == key and survey.is_active:
                    return survey
            return f"there is no active {key.upper()} survey; create one on the surveys page"
        named = [s for s in self.surveys if s.name.lower() == key]
        if not named:
            return f'no survey is called "{value}" (give a survey name, or nps, csat or ces)'
        active = [s for s in named if s.is_active] or named
        if len(active) > 1:
            return f'{len(active)} surveys are called "{value}"; rename one of them'
        return active[0]


def _answered_at(value: str, now: dt.datetime) -> dt.datetime | str:
    try:
        if len(value) == 10:
            moment = dt.datetime.combine(dt.date.fromisoformat(value), dt.time.min)
        else:
            moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return f'"{value}" is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM)'
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > now:
        return f"{value} is in the future"
    return moment


def _contact(email: str, found: dict[str, list[Contact]]) -> Contact | str:
    try:
        validate_email(email)
    except ValidationError:
        return f'"{email}" is not an email address'
    contacts = found.get(email.lower())
    if not contacts:
        return f"no contact has the email {email}"
    active = [c for c in contacts if c.is_active]
    candidates = active or contacts
    if len(candidates) > 1:
        accounts = ", ".join(sorted({c.account.name for c in candidates})[:5])
        return (
            f"ambiguous: {len(candidates)} {'active ' if active else ''}contacts have the "
            f"email {email} (at {accounts})"
        )
    return candidates[0]


def _row_check(
    line: int,
    row: dict[str, str],
    *,
    found: dict[str, list[Contact]],
    surveys: _SurveyFinder,
    first_line: dict[str, int],
    now: dt.datetime,
) -> tuple[AnswerRow | None, list[RowError]]:
    """One row as an AnswerRow, or every problem with it."""
    problems: list[RowError] = []

    def fail(column: str, message: str) -> None:
        problems.append(RowError(line, column, message))

    for name in REQUIRED:
        if name in row and not row[name]:
            fail(name, f"{name} is empty")
    external_id = row.get("external_id", "")
    if len(external_id) > 100:
        fail("external_id", "external_id is longer than 100 characters")
    elif external_id in first_line:
        fail("external_id", f'"{external_id}" is also on line {first_line[external_id]}')
    elif external_id:
        first_line[external_id] = line
    contact = _contact(row["email"], found) if row.get("email") else None
    if isinstance(contact, str):
        fail("email", contact)
    survey = surveys.find(row["survey"]) if row.get("survey") else None
    if isinstance(survey, str):
        fail("survey", survey)
    score: int | None = None
    if row.get("score"):
        if not _WHOLE_NUMBER.match(row["score"]):
            fail("score", f'"{row["score"]}" is not a whole number')
        else:
            score = int(float(row["score"]))
            if isinstance(survey, Survey):
                low, high = survey.scale
                if not low <= score <= high:
                    fail(
                        "score", f"{score} is outside the {survey.kind.upper()} scale {low}–{high}"
                    )
    answered_at = _answered_at(row["answered_at"], now) if row.get("answered_at") else None
    if isinstance(answered_at, str):
        fail("answered_at", answered_at)
    if problems:
        return None, problems
    # Every required column is in the header (checked first) and was not empty.
    assert isinstance(contact, Contact)
    assert isinstance(survey, Survey)
    assert score is not None
    assert isinstance(answered_at, dt.datetime)
    return (
        AnswerRow(
            line=line,
            external_id=external_id,
            contact=contact,
            survey=survey,
            score=score,
            comment=row.get("comment", ""),
            answered_at=answered_at,
        ),
        [],
    )


def answers_import_plan(
    *, data: bytes | str, now: dt.datetime | None = None, progress: ProgressCallback | None = None
) -> AnswerImportPlan:
    """Check every row of a file; the plan lists every problem, or the rows to write."""
    now = now or timezone.now()
    plan = AnswerImportPlan()
    try:
        text = data if isinstance(data, str) else csv_text_decode(data)
        raw_rows = _read(text, plan)
    except CsvFileError as exc:
        plan.errors.append(RowError(None, "", str(exc)))
        return plan
    if plan.errors:
        # A header without the required columns: the rows cannot be read meaningfully.
        return plan
    if not raw_rows:
        plan.errors.append(RowError(None, "", "The file has a header but no rows."))
    found = contacts_by_email(row.get("email", "") for _, row in raw_rows)
    surveys = _SurveyFinder()
    first_line: dict[str, int] = {}

    for done, (line, row) in enumerate(raw_rows, start=1):
        checked, problems = _row_check(
            line, row, found=found, surveys=surveys, first_line=first_line, now=now
        )
        plan.errors.extend(problems)
        if checked is not None and not plan.errors:
            plan.rows.append(checked)
        if progress:
            progress("check", done, len(raw_rows))

    if plan.errors:
        plan.rows = []
        return plan
    ids = [row.external_id for row in plan.rows]
    existing = 0
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        existing += SurveyAnswer.objects.filter(
            external_id__in=ids[start : start + _LOOKUP_CHUNK]
        ).count()
    plan.rows_updated = existing
    plan.rows_new = len(ids) - existing
    return plan


@transaction.atomic
def answers_import_write(
    plan: AnswerImportPlan,
    *,
    now: dt.datetime | None = None,
    progress: ProgressCallback | None = None,
) -> AnswerImportResult:
    """Write a checked plan in one transaction: all rows or none."""
    if plan.errors:
        raise ValueError("A plan with errors cannot be written.")
    now = now or timezone.now()
    rules = tag_rules_active()
    follow_ups_before = FollowUp.objects.count()
    recent_accounts: set[int] = set()
    total = len(plan.rows)
    for done, row in enumerate(plan.rows, start=1):
        answer_record(
            survey=row.survey,
            account=row.contact.account,
            contact=row.contact,
            score=row.score,
            comment=row.comment,
            answered_at=row.answered_at,
            source=SurveyAnswer.Source.IMPORT,
            external_id=row.external_id,
            rules=rules,
            run_playbooks=False,
            now=now,
        )
        if row.answered_at >= now - FOLLOW_UP_MAX_AGE:
            recent_accounts.add(row.contact.account_id)
        if progress:
            progress("write", done, total)
    if recent_accounts:
        # One playbook run for every account that got a recent answer, not one per row.
        today_iso = timezone.localdate(now).isoformat()
        account_ids = sorted(recent_accounts)
        transaction.on_commit(lambda: playbooks_run_task.delay(today_iso, account_ids))
    result = AnswerImportResult(
        rows_total=total,
        rows_new=plan.rows_new,
        rows_updated=plan.rows_updated,
        follow_ups_opened=FollowUp.objects.count() - follow_ups_before,
    )
    # One entry for the file, not one per answer.
    audit_record(
        Action.IMPORT,
        object_type="surveyanswer",
        object_label=f"Survey answers: {total} rows",
        details={
            "kind": "survey_answers",
            "rows_total": result.rows_total,
            "rows_new": result.rows_new,
            "rows_updated": result.rows_updated,
            "follow_ups_opened": result.follow_ups_opened,
            "external_ids_sample": ids_sample(row.external_id for row in plan.rows),
        },
    )
    return result


def answers_import(
    *,
    data: bytes | str,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[AnswerImportPlan, AnswerImportResult | None]:
    """Check a whole file and, unless it has errors or dry_run is set, write every row.

    Returns the plan (with every error, if any) and the result (None when nothing was
    written).
    """
    now = now or timezone.now()
    plan = answers_import_plan(data=data, now=now, progress=progress)
    if plan.errors or dry_run:
        return plan, None
    return plan, answers_import_write(plan, now=now, progress=progress)
