"""The size and row limits of an uploaded CSV, checked before a single row is parsed.

An import checks every row before writing any, so its cost grows with the file; a file far
beyond what one upload should carry is refused from its size (known from the upload) and its
line count (one streaming pass over the bytes, no CSV parsing, never the whole file in memory).
The limits are the settings IMPORT_MAX_BYTES and IMPORT_MAX_ROWS.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile


def size_describe(size: int) -> str:
    """ "812 bytes", "3.4 KB", "12.5 MB": how a person reads a file's size."""
    if size < 1024:
        return f"{size:,} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def csv_data_rows_count(upload: UploadedFile) -> int:
    """Lines after the header row, counted from newlines in the upload's chunks.

    A value quoted across several lines counts once per line, so the count can only run
    high, never let a larger file through. The file is rewound for the parser afterwards.
    """
    lines = 0
    last = b"\n"
    for chunk in upload.chunks():
        if chunk:
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1  # the last line has no newline of its own
    upload.seek(0)
    return max(lines - 1, 0)


def csv_upload_limits_check(upload: UploadedFile) -> None:
    """Raise ValidationError naming the limit and the file's own figure when either is over."""
    max_bytes: int = settings.IMPORT_MAX_BYTES
    max_rows: int = settings.IMPORT_MAX_ROWS
    size = upload.size or 0
    if size > max_bytes:
        raise ValidationError(
            f"The file is {size_describe(size)}; the limit is {size_describe(max_bytes)}. "
            "Split it into smaller files.",
            code="file_too_large",
        )
    rows = csv_data_rows_count(upload)
    if rows > max_rows:
        raise ValidationError(
            f"The file has {rows:,} rows after the header; the limit is {max_rows:,}. "
            "Split it into smaller files.",
            code="too_many_rows",
        )
