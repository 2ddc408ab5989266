"""CSV uploads above IMPORT_MAX_BYTES or IMPORT_MAX_ROWS are refused before a row is parsed,
with a message naming the limit and the file's own figure; nothing is written. A file just
under both limits goes through.

The limits are made small here: 200 bytes and 3 data rows.
"""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.import_models import ImportJob
from accounts.models import Account
from cs_platform.upload_limits import csv_data_rows_count, size_describe
from feedback.models import Survey, SurveyAnswer
from tests.factories import ContactFactory, SurveyFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("small_limits"),
]

ACCOUNTS_HEADER = "external_id,name,start_date\n"
ANSWERS_HEADER = "external_id,email,survey,score,comment,answered_at\n"


@pytest.fixture
def small_limits():
    with override_settings(IMPORT_MAX_BYTES=200, IMPORT_MAX_ROWS=3):
        yield


def _accounts_rows(count: int) -> str:
    return "".join(f"A-{n},Acct {n},2025-01-0{n}\n" for n in range(1, count + 1))


def _upload_accounts(client, text: str):
    return client.post(
        reverse("accounts:import_upload"),
        {"kind": "accounts", "file": SimpleUploadedFile("a.csv", text.encode(), "text/csv")},
    )


def _upload_answers(client, text: str):
    return client.post(
        reverse("feedback:answer_import"),
        {"file": SimpleUploadedFile("answers.csv", text.encode(), "text/csv")},
    )


def _file_error(html: str) -> str:
    field = html[html.index('data-field="file"') :]
    return field[: field.index("</div>")]


# --- counting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        (b"", 0),
        (b"h\n", 0),
        (b"h", 0),
        (b"h\na\nb\n", 2),
        (b"h\na\nb", 2),  # no newline after the last row
        (b"h\r\na\r\nb\r\n", 2),  # Windows line endings
    ],
)
def test_rows_are_lines_after_the_header(text, rows):
    assert csv_data_rows_count(SimpleUploadedFile("f.csv", text)) == rows


def test_rows_are_counted_in_chunks_from_a_file_on_disk_and_the_file_is_rewound():
    # 70,000 lines of 10 bytes, above the 64 KB chunk size: counted without reading it whole.
    upload = TemporaryUploadedFile("big.csv", "text/csv", 0, "utf-8")
    upload.write(b"header123\n" + b"row-456789\n" * 70_000)
    upload.flush()
    upload.seek(0)
    upload.size = upload.file.tell() or 10 + 11 * 70_000

    assert csv_data_rows_count(upload) == 70_000
    assert upload.read(10) == b"header123\n"
    upload.close()


def test_sizes_read_as_a_person_reads_them():
    assert size_describe(200) == "200 bytes"
    assert size_describe(3 * 1024 + 512) == "3.5 KB"
    assert size_describe(10 * 1024 * 1024) == "10.0 MB"


# --- accounts, contacts, contracts ---------------------------------------------------------


def test_an_accounts_file_over_the_size_limit_is_refused_with_both_sizes(client_for, manager):
    text = ACCOUNTS_HEADER + "X-1," + "n" * 190 + ",2025-01-01\n"
    size = len(text.encode())
    assert size == 28 + 4 + 190 + 12

    with mock.patch("accounts.views.imports.import_job_prepare") as prepare:
        response = _upload_accounts(client_for(manager), text)

    assert response.status_code == 400
    assert "The file is 234 bytes; the limit is 200 bytes." in _file_error(
        response.content.decode()
    )
    prepare.assert_not_called()  # refused before the file is parsed
    assert not ImportJob.objects.exists()
    assert not Account.objects.exists()


def test_an_accounts_file_over_the_row_limit_is_refused_with_both_counts(client_for, manager):
    text = ACCOUNTS_HEADER + _accounts_rows(4)  # 28 + 4 * 22 = 116 bytes, under 200

    with mock.patch("accounts.views.imports.import_job_prepare") as prepare:
        response = _upload_accounts(client_for(manager), text)

    assert response.status_code == 400
    assert "The file has 4 rows after the header; the limit is 3." in _file_error(
        response.content.decode()
    )
    prepare.assert_not_called()
    assert not ImportJob.objects.exists()
    assert not Account.objects.exists()


def test_an_accounts_file_just_under_both_limits_is_checked_and_previewed(client_for, manager):
    # Three rows and padding to exactly 200 bytes.
    text = ACCOUNTS_HEADER + _accounts_rows(3)
    text = text.replace("Acct 3", "Acct 3" + "z" * (200 - len(text.encode())))
    assert len(text.encode()) == 200

    response = _upload_accounts(client_for(manager), text)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == job.get_absolute_url()
    assert job.rows_total == 3


def test_the_upload_page_states_the_limits(client_for, manager):
    html = client_for(manager).get(reverse("accounts:import_upload")).content.decode()

    assert "at most 200 bytes and 3 rows." in html


# --- survey answers ------------------------------------------------------------------------


@pytest.fixture
def jane(account):
    SurveyFactory(name="NPS", kind=Survey.Kind.NPS)
    return ContactFactory(account=account, email="j@x.example")


def _answer_rows(count: int) -> str:
    day = timezone.localdate().isoformat()
    return "".join(f"d-{n},j@x.example,nps,9,,{day}\n" for n in range(1, count + 1))


def test_an_answers_file_over_the_size_limit_is_refused(client_for, manager, jane):
    text = ANSWERS_HEADER + "d-1,j@x.example,nps,9," + "c" * 150 + ",2026-01-01\n"
    size = len(text.encode())

    with mock.patch("feedback.views.surveys.answers_import") as run:
        response = _upload_answers(client_for(manager), text)

    assert size == 51 + 22 + 150 + 12
    html = response.content.decode()
    assert response.status_code == 400
    assert escape("The file is 235 bytes; the limit is 200 bytes.") in html
    run.assert_not_called()
    assert not SurveyAnswer.objects.exists()


def test_an_answers_file_over_the_row_limit_is_refused(client_for, manager, jane):
    with override_settings(IMPORT_MAX_BYTES=10_000):
        with mock.patch("feedback.views.surveys.answers_import") as run:
            response = _upload_answers(client_for(manager), ANSWERS_HEADER + _answer_rows(4))

    assert response.status_code == 400
    assert "The file has 4 rows after the header; the limit is 3." in response.content.decode()
    run.assert_not_called()
    assert not SurveyAnswer.objects.exists()


def test_an_answers_file_at_the_row_limit_is_imported(client_for, manager, jane):
    with override_settings(IMPORT_MAX_BYTES=10_000):
        response = _upload_answers(client_for(manager), ANSWERS_HEADER + _answer_rows(3))

    assert response.status_code == 302
    assert SurveyAnswer.objects.count() == 3
