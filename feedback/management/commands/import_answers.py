"""manage.py import_answers FILE [--dry-run]"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.csv_import import RowError
from feedback.answer_import import answers_import

_PHASES = {"check": "Checking rows", "write": "Writing answers"}


class Command(BaseCommand):
    help = (
        "Import survey answers from a UTF-8 CSV export (columns in docs/survey-import.md): "
        "external_id, email, survey, score, comment, answered_at. Every row is checked "
        "first; one bad row imports nothing and every bad row is listed. Re-importing a "
        "file updates the answers it matches on external_id. Unhappy answers of the last "
        "30 days open a follow-up task for the account owner."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path, help="Path to the CSV file.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the file and report what would change, writing nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        show_bars = options.get("verbosity", 1) >= 1
        bars: dict[str, tqdm] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if not show_bars:
                return
            bar = bars.get(phase)
            if bar is None:
                for other in bars.values():
                    other.close()
                bar = bars[phase] = tqdm(
                    total=total, desc=_PHASES.get(phase, phase), unit="row", file=sys.stderr
                )
            bar.update(done - bar.n)

        try:
            plan, result = answers_import(
                data=path.read_bytes(), dry_run=options["dry_run"], progress=progress
            )
        finally:
            for bar in bars.values():
                bar.close()
        if plan.ignored_columns:
            self.stdout.write(f"Ignored columns: {', '.join(plan.ignored_columns)}.")
        if plan.errors:
            self._fail(path, plan.errors)
        if result is None:
            self.stdout.write(
                f"Dry run: {len(plan.rows)} answers are valid; {plan.rows_new} would be "
                f"created and {plan.rows_updated} updated. Nothing was written."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.rows_total} answers: {result.rows_new} created, "
                f"{result.rows_updated} updated, {result.follow_ups_opened} follow-ups opened."
            )
        )

    def _fail(self, path: Path, errors: list[RowError]) -> NoReturn:
        for error in errors:
            self.stderr.write(self.style.ERROR(f"{path.name}: {error}"))
        count = len(errors)
        raise CommandError(
            f"{count} problem{'s' if count != 1 else ''} found in {path.name}; "
            "nothing was imported."
        )
