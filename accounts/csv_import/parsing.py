"""Reading an uploaded file into rows: encoding, header, line numbers as a person sees them."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from accounts.csv_import.columns import KindSpec

# csv's default 128 KB per cell is plenty for these columns; a bigger cell means a broken quote.
csv.field_size_limit(1024 * 1024)


class CsvFileError(Exception):
    """The file as a whole cannot be read as CSV (as opposed to one bad row)."""


@dataclass(frozen=True)
class RowError:
    """One problem with the file: line 1 is the header; line None is the file as a whole."""

    line: int | None
    column: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "message": self.message}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> RowError:
        line = data.get("line")
        return cls(
            line=int(line) if isinstance(line, int | str) and str(line).isdigit() else None,
            column=str(data.get("column") or ""),
            message=str(data.get("message") or ""),
        )

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


@dataclass
class ParsedCsv:
    # The known columns present in the header, in file order.
    columns: list[str]
    # (line number of the row's first physical line, {column: stripped text}).
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def csv_text_decode(data: bytes) -> str:
    """The file's text, or CsvFileError saying in plain words why it is not a UTF-8 CSV."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise CsvFileError(
            "This is a spreadsheet workbook (Excel or similar), not a CSV file. "
            'Open it and save it as "CSV UTF-8 (comma delimited)", then upload that file.'
        )
    if b"\x00" in data:
        raise CsvFileError(
            "This is not a CSV file: it contains binary data. "
            'Save the data as "CSV UTF-8 (comma delimited)" and upload that file.'
        )
    try:
        # utf-8-sig drops the byte-order mark Excel puts at the start of "CSV UTF-8" files.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvFileError(
            f"The file is not UTF-8 text (line {line} has the byte 0x{data[exc.start]:02x}, "
            'which is not valid UTF-8). Save it as "CSV UTF-8" and upload it again.'
        ) from None
    if not text.strip():
        raise CsvFileError("The file is empty.")
    return text


def csv_rows_read(text: str, spec: KindSpec) -> ParsedCsv:
    """Split text into rows keyed by column name, reporting header problems and odd lines."""
    # newline="" keeps \r\n inside quoted cells intact; csv handles \n, \r\n and \r endings.
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        raw_header = next(reader)
    except (StopIteration, csv.Error):
        raise CsvFileError("The file has no header row.") from None
    header = [name.strip().lower() for name in raw_header]
    while header and header[-1] == "":
        header.pop()
    if len(header) == 1 and header[0] not in spec.names:
        for separator, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")):
            if separator in header[0]:
                raise CsvFileError(
                    f"The header row is separated by {label}, not commas. "
                    "Save the file as comma-separated CSV and upload it again."
                )
    parsed = ParsedCsv(columns=[])
    positions: list[tuple[int, str]] = []
    seen: set[str] = set()
    for index, name in enumerate(header):
        if not name:
            parsed.errors.append(
                RowError(1, f"#{index + 1}", f"column {index + 1} has no name in the header row")
            )
        elif name in seen:
            parsed.errors.append(RowError(1, name, f'column "{name}" appears twice'))
        elif name not in spec.names:
            parsed.errors.append(
                RowError(
                    1,
                    name,
                    f'unknown column "{name}" (the {spec.kind} columns are: '
                    f"{', '.join(spec.names)})",
                )
            )
        else:
            positions.append((index, name))
            parsed.columns.append(name)
        seen.add(name)
    for name in spec.required:
        if name not in seen:
            parsed.errors.append(RowError(1, name, f'missing required column "{name}"'))

    width = len(header)
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            parsed.errors.append(RowError(line, "", f"this line cannot be read as CSV ({exc})"))
            break
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            parsed.errors.append(
                RowError(
                    line,
                    "",
                    f"this row has {len(cells)} values but the header has {width} columns "
                    "(a comma inside a value needs quotes around the value)",
                )
            )
            continue
        parsed.rows.append(
            (line, {name: cells[i].strip() if i < len(cells) else "" for i, name in positions})
        )
    return parsed
