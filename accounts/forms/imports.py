from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from accounts.import_models import ImportJob
from cs_platform.upload_limits import csv_upload_limits_check, size_describe


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label="What the file holds",
        choices=ImportJob.Kind.choices,
        widget=forms.RadioSelect,
        initial=ImportJob.Kind.ACCOUNTS,
    )
    file = forms.FileField(
        label="CSV file",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = (
            f"UTF-8 CSV with a header row, at most {size_describe(settings.IMPORT_MAX_BYTES)} "
            f"and {settings.IMPORT_MAX_ROWS:,} rows."
        )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if not upload.size:
            raise ValidationError("The file is empty.")
        csv_upload_limits_check(upload)
        return upload
