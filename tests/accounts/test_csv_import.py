"""CSV import: every bad row reported with its line and column, all rows or none written,
re-imports update, and the upload page's preview → confirm → result."""

import datetime as dt
import io
from decimal import Decimal
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.csv_import import RowError, csv_import_plan
from accounts.import_models import ImportJob
from accounts.import_tasks import csv_import_run_task
from accounts.models import Account, Contact, Contract, User
from accounts.services.imports import csv_import_file, import_job_prepare, import_job_run
from tests.factories import AccountFactory, ContactFactory, ContractFactory, UserFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 6, 15)

ACCOUNTS_HEADER = "external_id,name,owner,team,industry,tier,start_date,lifecycle_status\n"


def _csv(*lines: str) -> bytes:
    return "\n".join(lines).encode() + b"\n"


def _errors(plan_or_errors) -> list[tuple[int | None, str, str]]:
    errors = getattr(plan_or_errors, "errors", plan_or_errors)
    return [(e.line, e.column, e.message) for e in errors]


@pytest.fixture
def accounts_file(owner, outsider) -> bytes:
    # owner by username, by email (any case), and none; team given, from the owner, or none.
    return (
        ACCOUNTS_HEADER
        + "ACME-1,Acme Corp,owner,,Software,high_touch,2024-01-15,active\n"
        + "GLOBEX-2,Globex,OUTSIDER@example.com,,Retail,Scaled,2024-02-01,onboarding\n"
        + "INITECH-3,Initech,owner,SMB,Software,tech-touch,2023-11-30,active\n"
        + "HOOLI-4,Hooli,,,,,2025-03-01,\n"
    ).encode()


# --- accounts ---------------------------------------------------------------------------


def test_valid_accounts_file_creates_every_account_with_its_owner_and_team(
    accounts_file, owner, outsider, smb_team, enterprise_team
):
    plan, result = csv_import_file(kind="accounts", data=accounts_file, today=TODAY)

    assert plan.errors == []
    assert (result.rows_new, result.rows_updated) == (4, 0)
    accounts = {a.external_id: a for a in Account.objects.select_related("owner", "team")}
    assert set(accounts) == {"ACME-1", "GLOBEX-2", "INITECH-3", "HOOLI-4"}
    acme, globex, initech, hooli = (
        accounts[k] for k in ("ACME-1", "GLOBEX-2", "INITECH-3", "HOOLI-4")
    )
    assert (acme.name, acme.owner, acme.team, acme.tier) == (
        "Acme Corp",
        owner,
        enterprise_team,
        "high_touch",
    )
    assert acme.start_date == dt.date(2024, 1, 15)
    assert (globex.owner, globex.team, globex.tier) == (outsider, smb_team, "scaled")
    assert globex.lifecycle_status == "onboarding"
    # An explicit team wins over the owner's.
    assert (initech.owner, initech.team, initech.tier) == (owner, smb_team, "tech_touch")
    # Blank cells take the defaults.
    assert (hooli.owner, hooli.team, hooli.tier, hooli.lifecycle_status) == (
        None,
        None,
        "scaled",
        "onboarding",
    )


def test_reimport_updates_matching_accounts_instead_of_duplicating(accounts_file, owner):
    csv_import_file(kind="accounts", data=accounts_file, today=TODAY)
    changed = accounts_file.replace(b"Acme Corp", b"Acme Corporation").replace(
        b"HOOLI-4,Hooli,,", b"HOOLI-4,Hooli,owner,"
    )

    _plan, result = csv_import_file(kind="accounts", data=changed, today=TODAY)

    assert (result.rows_new, result.rows_updated) == (0, 4)
    assert Account.objects.count() == 4
    assert Account.objects.get(external_id="ACME-1").name == "Acme Corporation"
    hooli = Account.objects.get(external_id="HOOLI-4")
    assert (hooli.owner, hooli.team) == (owner, owner.team)


def test_reimport_leaves_columns_that_are_not_in_the_file_alone(owner):
    AccountFactory(external_id="ACME-1", name="Acme", industry="Software", domain="acme.test")

    csv_import_file(
        kind="accounts",
        data=_csv("external_id,name,start_date", "ACME-1,Acme Two,2024-01-01"),
        today=TODAY,
    )

    acme = Account.objects.get(external_id="ACME-1")
    assert (acme.name, acme.industry, acme.domain) == ("Acme Two", "Software", "acme.test")


def test_file_with_two_bad_rows_imports_nothing_and_names_both(owner):
    data = _csv(
        ACCOUNTS_HEADER.strip(),
        "A-1,Alpha,owner,,Software,scaled,2024-01-01,active",
        "A-2,Beta,owner,,Software,scaled,2024-13-01,active",
        "A-3,Gamma,owner,,Software,scaled,2024-01-01,active",
        "A-4,Delta,jdoe,,Software,scaled,2024-01-01,active",
    )

    plan, result = csv_import_file(kind="accounts", data=data, today=TODAY)

    assert result is None
    assert _errors(plan) == [
        (3, "start_date", 'bad date "2024-13-01" (expected YYYY-MM-DD)'),
        (5, "owner", 'unknown owner "jdoe"'),
    ]
    assert not Account.objects.exists()


def test_unknown_and_missing_columns_are_reported_on_the_header_line(owner):
    data = _csv("external_id,foo,start_date", "A-1,x,2024-01-01")

    plan = csv_import_plan(kind="accounts", data=data)

    assert _errors(plan)[0][:2] == (1, "foo")
    assert _errors(plan)[0][2].startswith('unknown column "foo"')
    assert _errors(plan)[1] == (1, "name", 'missing required column "name"')
    assert len(plan.errors) == 2


def test_duplicate_external_ids_within_the_file_are_reported_with_both_lines(owner):
    data = _csv(
        "external_id,name,start_date",
        "A-1,Alpha,2024-01-01",
        "A-2,Beta,2024-01-01",
        "A-1,Alpha again,2024-01-01",
    )

    plan = csv_import_plan(kind="accounts", data=data)

    assert _errors(plan) == [
        (4, "external_id", 'duplicate external_id "A-1" within the file (lines 2 and 4)')
    ]


def test_row_problems_are_all_listed_in_plain_words(owner):
    data = _csv(
        "external_id,name,owner,team,tier,start_date,lifecycle_status,churned_on",
        ",,owner,Nowhere,platinum,2024-01-01,churned,",
        "A-2,Beta,owner,,scaled,2024-05-01,churned,2024-04-01",
    )

    plan = csv_import_plan(kind="accounts", data=data)

    assert _errors(plan) == [
        (2, "external_id", "external_id is empty; it is required"),
        (2, "name", "name is empty; it is required"),
        (2, "team", 'unknown team "Nowhere"'),
        (
            2,
            "tier",
            'unknown tier "platinum" (expected one of: tech_touch, scaled, high_touch)',
        ),
        (2, "churned_on", "a churned account needs its churn date (churned_on)"),
        (3, "churned_on", "churn date 2024-04-01 is before start date 2024-05-01"),
    ]


def test_line_numbers_follow_the_file_when_a_quoted_value_spans_lines(owner):
    data = _csv(
        "external_id,name,start_date",
        'A-1,"Alpha',
        'Two lines",2024-01-01',
        "A-2,Beta,yesterday",
    )

    plan = csv_import_plan(kind="accounts", data=data)

    assert _errors(plan) == [(4, "start_date", 'bad date "yesterday" (expected YYYY-MM-DD)')]


def test_byte_order_mark_and_windows_line_endings_are_handled(owner):
    data = b"\xef\xbb\xbfexternal_id,name,owner,start_date\r\nA-1,Alpha,owner,2024-01-01\r\n"

    plan, _result = csv_import_file(kind="accounts", data=data, today=TODAY)

    assert plan.errors == []
    assert Account.objects.get(external_id="A-1").owner == owner


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("name,start_date\nCafé,2024-01-01\n".encode("latin-1"), "not UTF-8"),
        (b"PK\x03\x04\x14\x00\x06\x00rest-of-a-workbook", "spreadsheet workbook"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary data"),
        (b"external_id;name;start_date\nA-1;Alpha;2024-01-01\n", "separated by semicolons"),
        (b"", "empty"),
        (b"external_id,name,start_date\n", "no data rows"),
    ],
)
def test_files_that_are_not_utf8_csv_are_refused_with_a_clear_message(data, message):
    plan = csv_import_plan(kind="accounts", data=data)

    assert len(plan.errors) == 1
    assert plan.errors[0].line is None
    assert message in plan.errors[0].message


# --- contacts ---------------------------------------------------------------------------


def test_contacts_import_creates_then_updates_by_account_and_email(owner):
    acme = AccountFactory(external_id="ACME-1", owner=owner)
    ContactFactory(account=acme, email="Old.Friend@acme.test", name="Old Friend")
    header = "account_external_id,email,name,title,phone,decision_maker,executive_sponsor"
    data = _csv(
        header,
        "ACME-1,jane@acme.test,Jane Doe,CTO,+1 555 0100,yes,1",
        "ACME-1,old.friend@ACME.test,Old Friend,VP Ops,,no,false",
    )

    plan, result = csv_import_file(kind="contacts", data=data, today=TODAY)

    assert plan.errors == []
    assert (result.rows_new, result.rows_updated) == (1, 1)
    jane = Contact.objects.get(email="jane@acme.test")
    assert (jane.account, jane.name, jane.title, jane.phone) == (
        acme,
        "Jane Doe",
        "CTO",
        "+1 555 0100",
    )
    assert (jane.is_decision_maker, jane.is_executive_sponsor) == (True, True)
    # Matched in any case: the existing contact is updated, not duplicated.
    assert Contact.objects.count() == 2
    assert Contact.objects.get(email="Old.Friend@acme.test").title == "VP Ops"


def test_contacts_with_unknown_account_bad_email_or_flag_are_reported(owner):
    AccountFactory(external_id="ACME-1", owner=owner)
    data = _csv(
        "account_external_id,email,name,decision_maker",
        "NOPE-9,a@x.test,A,yes",
        "ACME-1,not-an-email,B,no",
        "ACME-1,c@x.test,C,maybe",
        "ACME-1,C@x.test,C again,no",
    )

    plan = csv_import_plan(kind="contacts", data=data)

    assert _errors(plan) == [
        (2, "account_external_id", 'unknown account external id "NOPE-9"'),
        (3, "email", 'bad email address "not-an-email"'),
        (4, "decision_maker", 'bad yes/no value "maybe" (expected true/false/yes/no/1/0)'),
        (
            5,
            "email",
            'duplicate contact "c@x.test" for account "ACME-1" within the file (lines 4 and 5)',
        ),
    ]
    assert Contact.objects.count() == 0


# --- contracts --------------------------------------------------------------------------

CONTRACTS_HEADER = (
    "external_id,account_external_id,start_date,end_date,arr,seats,status,previous_external_id"
)


def test_contracts_import_links_renewals_and_refreshes_account_arr(owner):
    acme = AccountFactory(external_id="ACME-1", owner=owner)
    globex = AccountFactory(external_id="GLOBEX-2", owner=owner)
    data = _csv(
        CONTRACTS_HEADER,
        # The renewal comes first: links to contracts later in the file work too.
        "C-2,ACME-1,2026-01-01,2026-12-31,30000.50,40,active,C-1",
        "C-1,ACME-1,2025-01-01,2025-12-31,24000,30,ended,",
        "C-3,ACME-1,2026-03-01,2027-02-28,5000,5,,",
        "G-1,GLOBEX-2,2026-06-01,2027-05-31,12000,10,active,",
    )

    plan, result = csv_import_file(kind="contracts", data=data, today=TODAY)

    assert plan.errors == []
    assert (result.rows_new, result.rows_updated) == (4, 0)
    c1, c2 = Contract.objects.get(external_id="C-1"), Contract.objects.get(external_id="C-2")
    assert c2.previous == c1
    assert (c2.arr, c2.seats, c2.status) == (Decimal("30000.50"), 40, "active")
    assert Contract.objects.get(external_id="C-3").status == "active"
    acme.refresh_from_db()
    globex.refresh_from_db()
    # On 2026-06-15, C-2 and C-3 cover the day: 30,000.50 + 5,000.
    assert acme.arr == Decimal("35000.50")
    assert acme.renewal_date == dt.date(2026, 12, 31)
    assert globex.arr == Decimal("12000.00")


def test_contracts_reimport_updates_terms_and_moves_the_renewal_link(owner):
    acme = AccountFactory(external_id="ACME-1", owner=owner)
    old = ContractFactory(
        account=acme,
        external_id="C-1",
        start_date=dt.date(2025, 1, 1),
        end_date=dt.date(2025, 12, 31),
    )
    ContractFactory(
        account=acme,
        external_id="C-2",
        previous=old,
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 12, 31),
    )
    data = _csv(
        CONTRACTS_HEADER,
        "C-2,ACME-1,2026-01-01,2026-12-31,8000,10,active,",
        "C-2B,ACME-1,2026-01-01,2026-12-31,1000,1,active,C-1",
    )

    plan, result = csv_import_file(kind="contracts", data=data, today=TODAY)

    assert plan.errors == []
    assert (result.rows_new, result.rows_updated) == (1, 1)
    assert Contract.objects.get(external_id="C-2").previous is None
    assert Contract.objects.get(external_id="C-2B").previous_id == old.pk
    acme.refresh_from_db()
    assert acme.arr == Decimal("9000.00")


def test_contract_problems_are_reported_in_plain_words(owner):
    acme = AccountFactory(external_id="ACME-1", owner=owner)
    AccountFactory(external_id="OTHER-2", owner=owner)
    taken = ContractFactory(account=acme, external_id="OLD-1")
    ContractFactory(
        account=acme,
        external_id="OLD-2",
        previous=taken,
        start_date=dt.date(2026, 1, 1),
    )
    data = _csv(
        CONTRACTS_HEADER,
        "K-1,ACME-1,2026-06-01,2026-01-01,100,1,active,",
        "K-2,ACME-1,2026-01-01,2026-12-31,-5,1,active,",
        "K-3,NOPE,2026-01-01,2026-12-31,100,1,active,",
        "K-4,ACME-1,2026-01-01,2026-12-31,12000.123,1,active,",
        "K-5,ACME-1,2026-01-01,2026-12-31,100,1,active,GHOST",
        "K-6,OTHER-2,2026-01-01,2026-12-31,100,1,active,K-2",
        "K-7,ACME-1,2026-01-01,2026-12-31,100,1,active,OLD-1",
        # 12,000 without quotes: one value too many.
        "K-8,ACME-1,2026-01-01,2026-12-31,12,000,10,active,K-1",
    )

    plan = csv_import_plan(kind="contracts", data=data)

    assert _errors(plan) == [
        (2, "end_date", "end date 2026-01-01 is before start date 2026-06-01"),
        (3, "arr", 'negative ARR "-5"'),
        (4, "account_external_id", 'unknown account external id "NOPE"'),
        (5, "arr", '"12000.123" has more than 2 decimal places'),
        (6, "previous_external_id", 'unknown previous contract "GHOST"'),
        (
            7,
            "previous_external_id",
            'previous contract "K-2" belongs to account "ACME-1", not "OTHER-2"',
        ),
        (8, "previous_external_id", 'contract "OLD-1" is already renewed by "OLD-2"'),
        (
            9,
            "",
            "this row has 9 values but the header has 8 columns "
            "(a comma inside a value needs quotes around the value)",
        ),
    ]
    assert Contract.objects.count() == 2


# --- the command ------------------------------------------------------------------------


def test_command_imports_a_file_and_reports_the_counts(tmp_path, accounts_file):
    path = tmp_path / "accounts.csv"
    path.write_bytes(accounts_file)
    out = io.StringIO()

    call_command("import_csv", "accounts", str(path), stdout=out, stderr=io.StringIO())

    assert "Imported 4 accounts rows: 4 created, 0 updated." in out.getvalue()
    assert Account.objects.count() == 4


def test_command_dry_run_writes_nothing(tmp_path, accounts_file):
    path = tmp_path / "accounts.csv"
    path.write_bytes(accounts_file)
    out = io.StringIO()

    call_command("import_csv", "accounts", str(path), "--dry-run", stdout=out, stderr=io.StringIO())

    assert "4 would be created and 0 updated" in out.getvalue()
    assert not Account.objects.exists()


def test_command_prints_every_error_and_fails_on_a_bad_file(tmp_path, owner):
    path = tmp_path / "bad.csv"
    path.write_bytes(
        _csv(
            "external_id,name,owner,start_date",
            "A-1,Alpha,owner,2024-01-01",
            "A-2,Beta,owner,2024-13-01",
            "A-3,Gamma,owner,2024-01-01",
            "A-4,Delta,jdoe,2024-01-01",
        )
    )
    err = io.StringIO()

    # manage.py turns CommandError into exit status 1.
    with pytest.raises(CommandError, match=r"2 problems found in bad\.csv; nothing was imported"):
        call_command("import_csv", "accounts", str(path), stdout=io.StringIO(), stderr=err)

    assert 'bad.csv: line 3, column start_date: bad date "2024-13-01"' in err.getvalue()
    assert 'bad.csv: line 5, column owner: unknown owner "jdoe"' in err.getvalue()
    assert not Account.objects.exists()


def test_command_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_csv", "accounts", str(tmp_path / "nope.csv"))


# --- the upload page --------------------------------------------------------------------


def _upload(client, data: bytes, kind: str = "accounts", name: str = "accounts.csv"):
    return client.post(
        reverse("accounts:import_upload"),
        {"kind": kind, "file": SimpleUploadedFile(name, data, content_type="text/csv")},
    )


def test_upload_preview_then_confirm_runs_the_import_in_the_background(
    client_for, manager, accounts_file, django_capture_on_commit_callbacks
):
    client = client_for(manager)

    response = _upload(client, accounts_file)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("accounts:import_detail", args=[job.pk])
    assert (job.status, job.rows_total, job.rows_new, job.rows_updated) == ("pending", 4, 4, 0)
    assert not Account.objects.exists()
    preview = client.get(response.url).content.decode()
    assert "Confirm import" in preview
    assert "Acme Corp" in preview
    assert "Globex" in preview
    assert preview.count('<span class="tag">new</span>') == 4

    with (
        mock.patch.object(csv_import_run_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(response.url, {"action": "confirm"})

    delay.assert_called_once_with(job.pk)
    job.refresh_from_db()
    assert job.status == "queued"
    assert not Account.objects.exists()

    # What the worker does with the message:
    assert csv_import_run_task(job.pk) == "succeeded"

    job.refresh_from_db()
    assert (job.status, job.rows_done, job.rows_new, job.rows_updated) == ("succeeded", 4, 4, 0)
    assert job.content == ""
    assert job.finished_at is not None
    assert Account.objects.count() == 4
    result = client.get(response.url).content.decode()
    assert 'data-kpi="created">4<' in result
    assert 'http-equiv="refresh"' not in result


def test_a_second_confirm_does_not_enqueue_again(
    client_for, manager, accounts_file, django_capture_on_commit_callbacks
):
    client = client_for(manager)
    url = _upload(client, accounts_file).url

    with (
        mock.patch.object(csv_import_run_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(url, {"action": "confirm"})
        client.post(url, {"action": "confirm"})

    assert delay.call_count == 1


def test_running_import_page_refreshes_and_shows_progress(client_for, manager, accounts_file):
    job = import_job_prepare(
        kind="accounts", file_name="a.csv", data=accounts_file, created_by=manager
    )
    ImportJob.objects.filter(pk=job.pk).update(status="running")

    response = client_for(manager).get(reverse("accounts:import_detail", args=[job.pk]))

    html = response.content.decode()
    assert '<meta http-equiv="refresh" content="2">' in html
    assert "<progress" in html
    assert "of 4" in html


def test_upload_of_a_bad_file_lists_every_error_and_keeps_nothing(client_for, manager, owner):
    data = _csv(
        "external_id,name,owner,start_date,foo",
        "A-1,Alpha,owner,2024-01-01,",
        "A-2,Beta,owner,2024-13-01,",
    )

    response = _upload(client_for(manager), data)

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was imported: 2 problems found." in html
    assert "unknown column &quot;foo&quot;" in html
    assert "bad date &quot;2024-13-01&quot; (expected YYYY-MM-DD)" in html
    assert not ImportJob.objects.exists()
    assert not Account.objects.exists()


def test_upload_of_a_non_utf8_file_is_refused_beside_the_file_field(client_for, manager):
    response = _upload(client_for(manager), "name\nCafé\n".encode("latin-1"))

    html = response.content.decode()
    field = html[html.index('data-field="file"') :]
    assert "not UTF-8" in field[: field.index("</div>")]
    assert not ImportJob.objects.exists()


def test_upload_over_the_size_limit_is_refused(client_for, manager, settings):
    settings.IMPORT_MAX_BYTES = 10
    response = _upload(client_for(manager), b"external_id,name,start_date\n")

    assert response.status_code == 400
    assert "The file is 28 bytes; the limit is 10 bytes." in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("persona", ["owner", "executive"])
def test_csm_and_executive_get_403_on_imports(request, client_for, persona, manager, accounts_file):
    job = import_job_prepare(
        kind="accounts", file_name="a.csv", data=accounts_file, created_by=manager
    )
    client = client_for(request.getfixturevalue(persona))

    assert client.get(reverse("accounts:import_upload")).status_code == 403
    assert _upload(client, accounts_file).status_code == 403
    assert client.get(reverse("accounts:import_detail", args=[job.pk])).status_code == 403
    response = client.post(reverse("accounts:import_detail", args=[job.pk]), {"action": "confirm"})
    assert response.status_code == 403
    job.refresh_from_db()
    assert job.status == "pending"
    assert ImportJob.objects.count() == 1


def test_job_fails_with_errors_when_the_data_changed_since_the_preview(manager, owner):
    data = _csv("external_id,name,owner,start_date", "A-1,Alpha,owner,2024-01-01")
    job = import_job_prepare(kind="accounts", file_name="a.csv", data=data, created_by=manager)
    ImportJob.objects.filter(pk=job.pk).update(status="queued")
    User.objects.filter(pk=owner.pk).update(username="renamed")

    job = import_job_run(job_id=job.pk, today=TODAY)

    assert job.status == "failed"
    assert [RowError.from_dict(e) for e in job.errors] == [
        RowError(2, "owner", 'unknown owner "owner"')
    ]
    assert not Account.objects.exists()


def test_rerunning_a_finished_job_changes_nothing(manager, accounts_file):
    job = import_job_prepare(
        kind="accounts", file_name="a.csv", data=accounts_file, created_by=manager
    )
    ImportJob.objects.filter(pk=job.pk).update(status="queued")
    import_job_run(job_id=job.pk, today=TODAY)
    Account.objects.filter(external_id="ACME-1").update(name="Edited since")

    job = import_job_run(job_id=job.pk, today=TODAY)

    assert job.status == "succeeded"
    assert Account.objects.get(external_id="ACME-1").name == "Edited since"


def test_upload_page_lists_recent_imports(client_for, manager, accounts_file):
    import_job_prepare(kind="accounts", file_name="crm.csv", data=accounts_file, created_by=manager)
    UserFactory(username="someone")

    response = client_for(manager).get(reverse("accounts:import_upload"))

    html = response.content.decode()
    assert "crm.csv" in html
    assert "Awaiting confirmation" in html
