"""manage.py import_csv accounts|contacts|contracts FILE [--dry-run]"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any, NoReturn

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.csv_import import KINDS, CsvImportRejected, RowError
from accounts.selectors.access import local_today
from accounts.services.imports import csv_import_file
from cs_platform.upload_limits import size_describe

_PHASES = {"check": "Checking rows", "write": "Writing rows"}


class Command(BaseCommand):
    help = (
        "Import accounts, contacts or contracts from a UTF-8 CSV file (columns in "
        "docs/csv-import.md). Every row is checked first: one bad row imports nothing and "
        "every bad row is listed. Re-importing a file updates the rows it matches."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("kind", choices=sorted(KINDS), help="What the file holds.")
        parser.add_argument("file", type=Path, help="Path to the CSV file.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the file and report what would change, writing nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kind: str = options["kind"]
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        if path.stat().st_size > settings.IMPORT_MAX_BYTES:
            self.stderr.write(
                f"Note: {path} is larger than the upload page's "
                f"{size_describe(settings.IMPORT_MAX_BYTES)} limit; the command imports it anyway."
            )
        data = path.read_bytes()
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
            plan, result = csv_import_file(
                kind=kind,
                data=data,
                today=local_today(),
                dry_run=options["dry_run"],
                progress=progress,
            )
        except CsvImportRejected as exc:
            self._fail(path, exc.errors)
        finally:
            for bar in bars.values():
                bar.close()
        if plan.errors:
            self._fail(path, plan.errors)
        if result is None:
            self.stdout.write(
                f"Dry run: {plan.rows_total} {kind} rows are valid; "
                f"{plan.rows_new} would be created and {plan.rows_updated} updated. "
                "Nothing was written."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.rows_total} {kind} rows: "
                f"{result.rows_new} created, {result.rows_updated} updated."
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
