from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from accounts.csv_import import MAX_FILE_BYTES
from accounts.import_models import ImportJob


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label="What the file holds",
        choices=ImportJob.Kind.choices,
        widget=forms.RadioSelect,
        initial=ImportJob.Kind.ACCOUNTS,
    )
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8 CSV with a header row, at most {MAX_FILE_BYTES // 2**20} MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if upload.size and upload.size > MAX_FILE_BYTES:
            size = upload.size / 2**20
            raise ValidationError(
                f"The file is {size:.1f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB. "
                "Split it into smaller files, or run `manage.py import_csv` on the server."
            )
        if not upload.size:
            raise ValidationError("The file is empty.")
        return upload
