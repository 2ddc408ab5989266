"""CSV import of accounts, contacts and contracts: parse, check every row, then write all
rows or none. The columns of each kind are documented in docs/csv-import.md."""

from accounts.csv_import.columns import KINDS, KindSpec
from accounts.csv_import.parsing import CsvFileError, RowError, csv_text_decode
from accounts.csv_import.validation import ImportPlan, ProgressCallback, csv_import_plan
from accounts.csv_import.writing import (
    CsvImportRejected,
    ImportResult,
    csv_import_write,
)

__all__ = [
    "KINDS",
    "CsvFileError",
    "CsvImportRejected",
    "ImportPlan",
    "ImportResult",
    "KindSpec",
    "ProgressCallback",
    "RowError",
    "csv_import_plan",
    "csv_import_write",
    "csv_text_decode",
]
