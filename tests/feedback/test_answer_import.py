"""CSV import of answers from other survey tools: matched to contacts by email, every bad
row reported with line, column and reason, nothing imported on error, re-imports update."""

import datetime as dt
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Task
from feedback.answer_import import answers_import
from feedback.models import AnswerTag, FollowUp, Survey, SurveyAnswer, Tag, TagRule
from tests.factories import AccountFactory, ContactFactory, SurveyFactory

NOW = timezone.now()
RECENT = (timezone.localdate() - dt.timedelta(days=5)).isoformat()
OLD = "2024-03-01"
HEADER = "external_id,email,survey,score,comment,answered_at\n"


@pytest.fixture
def setup(account):
    """Acme (the owner's account) with Jane; NPS and CSAT surveys; a performance rule."""
    jane = ContactFactory(account=account, name="Jane", email="jane@acme.example")
    nps = SurveyFactory(name="Relationship NPS", kind=Survey.Kind.NPS)
    SurveyFactory(name="Old NPS", kind=Survey.Kind.NPS, is_active=False)
    csat = SurveyFactory(name="Support CSAT", kind=Survey.Kind.CSAT)
    TagRule.objects.create(tag=Tag.objects.create(name="performance"), keywords="slow")
    return {"jane": jane, "nps": nps, "csat": csat}


def _errors(plan):
    return [(e.line, e.column, e.message) for e in plan.errors]


def test_a_valid_file_is_imported_with_tags_and_a_follow_up_for_the_recent_detractor(
    setup, account
):
    data = (
        HEADER
        + f"d-1,JANE@acme.example,nps,3,Export is slow,{RECENT}\n"
        + f'd-2,jane@acme.example,Support CSAT,5,"Great, thanks",{RECENT}T14:30:00\n'
        + f"d-3,jane@acme.example,nps,0,,{OLD}\n"
    )
    plan, result = answers_import(data=data)
    assert plan.errors == []
    assert (result.rows_total, result.rows_new, result.rows_updated) == (3, 3, 0)
    answers = {a.external_id: a for a in SurveyAnswer.objects.all()}
    d1, d2, d3 = answers["d-1"], answers["d-2"], answers["d-3"]
    assert (d1.survey, d1.kind, d1.score, d1.contact, d1.account) == (
        setup["nps"],
        "nps",
        3,
        setup["jane"],
        account,
    )
    assert d1.source == SurveyAnswer.Source.IMPORT
    assert (d2.survey, d2.kind, d2.comment) == (setup["csat"], "csat", "Great, thanks")
    assert timezone.localtime(d2.answered_at).time() == dt.time(14, 30)
    assert timezone.localtime(d3.answered_at) == timezone.make_aware(dt.datetime(2024, 3, 1))
    assert list(AnswerTag.objects.values_list("answer__external_id", "tag__name")) == [
        ("d-1", "performance")
    ]
    # d-1 is a recent detractor: one follow-up. d-3 is a detractor from 2024: none.
    assert result.follow_ups_opened == 1
    assert list(FollowUp.objects.values_list("answer__external_id", flat=True)) == ["d-1"]
    assert Task.objects.get().dedupe_key == f"detractor:{d1.pk}"


def test_the_same_file_twice_updates_and_never_duplicates(setup):
    first = HEADER + f"d-1,jane@acme.example,nps,3,slow,{RECENT}\n"
    answers_import(data=first)
    second = HEADER + f"d-1,jane@acme.example,nps,5,Better now,{RECENT}\n"
    _, result = answers_import(data=second)
    assert (result.rows_new, result.rows_updated, result.follow_ups_opened) == (0, 1, 0)
    answer = SurveyAnswer.objects.get()
    assert (answer.score, answer.comment) == (5, "Better now")
    # The rule tag of "slow" went with the comment; the follow-up of the first import stays.
    assert not AnswerTag.objects.exists()
    assert FollowUp.objects.count() == 1
    assert Task.objects.count() == 1
    # And the very same file a third time changes nothing.
    answers_import(data=second)
    assert SurveyAnswer.objects.count() == 1


def test_every_bad_row_is_reported_with_line_column_and_reason_and_nothing_is_imported(
    setup, account
):
    other = AccountFactory(name="Other Co")
    ContactFactory(account=account, email="shared@x.example")
    ContactFactory(account=other, email="SHARED@x.example")
    future = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
    data = (
        HEADER
        + f"ok-1,jane@acme.example,nps,9,,{RECENT}\n"  # line 2: fine
        + f"e-3,nobody@acme.example,nps,9,,{RECENT}\n"  # line 3
        + f"e-4,jane@acme.example,Weekly pulse,9,,{RECENT}\n"  # line 4
        + f"e-5,jane@acme.example,nps,11,,{RECENT}\n"  # line 5
        + f"e-6,jane@acme.example,csat,0,,{RECENT}\n"  # line 6
        + f"e-7,jane@acme.example,nps,nine,,{RECENT}\n"  # line 7
        + "e-8,jane@acme.example,nps,9,,yesterday\n"  # line 8
        + f"ok-1,jane@acme.example,nps,9,,{RECENT}\n"  # line 9: repeats line 2's id
        + f"e-10,shared@x.example,nps,9,,{RECENT}\n"  # line 10
        + f",jane@acme.example,ces,4,,{future}\n"  # line 11
        + f"e-12,not-an-email,nps,9,,{RECENT}\n"  # line 12
    )
    plan, result = answers_import(data=data)
    assert result is None
    assert _errors(plan) == [
        (3, "email", "no contact has the email nobody@acme.example"),
        (
            4,
            "survey",
            'no survey is called "Weekly pulse" (give a survey name, or nps, csat or ces)',
        ),
        (5, "score", "11 is outside the NPS scale 0–10"),
        (6, "score", "0 is outside the CSAT scale 1–5"),
        (7, "score", '"nine" is not a whole number'),
        (
            8,
            "answered_at",
            '"yesterday" is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM)',
        ),
        (9, "external_id", '"ok-1" is also on line 2'),
        (
            10,
            "email",
            "ambiguous: 2 active contacts have the email shared@x.example (at Acme Corp, Other Co)",
        ),
        (11, "external_id", "external_id is empty"),
        (11, "survey", "there is no active CES survey; create one on the surveys page"),
        (11, "answered_at", f"{future} is in the future"),
        (12, "email", '"not-an-email" is not an email address'),
    ]
    assert not SurveyAnswer.objects.exists()


def test_an_email_shared_with_a_departed_contact_goes_to_the_active_one(setup, account):
    other = AccountFactory(name="Old Employer")
    ContactFactory(account=other, email="jane@acme.example".upper(), is_active=False)
    plan, _ = answers_import(data=HEADER + f"x-1,jane@acme.example,nps,9,,{RECENT}\n")
    assert plan.errors == []
    assert SurveyAnswer.objects.get().account == account


def test_a_header_missing_required_columns_is_reported_on_line_one(setup):
    plan, _ = answers_import(data="id,email,score\n1,jane@acme.example,9\n")
    assert _errors(plan) == [
        (1, "external_id", 'missing required column "external_id"'),
        (1, "survey", 'missing required column "survey"'),
        (1, "answered_at", 'missing required column "answered_at"'),
    ]
    assert plan.ignored_columns == ["id"]


def test_export_style_headers_and_extra_columns_are_accepted(setup):
    data = (
        "Respondent,External ID,Email,Survey,Score,Answered At\n"
        f"Jane,r-1,jane@acme.example,nps,10,{RECENT}\n"
    )
    plan, result = answers_import(data=data)
    assert plan.errors == []
    assert plan.ignored_columns == ["respondent"]
    assert result.rows_new == 1


def test_a_spreadsheet_file_is_refused_as_a_whole(setup):
    plan, _ = answers_import(data=b"PK\x03\x04 not really a workbook")
    assert _errors(plan)[0][:2] == (None, "")
    assert "spreadsheet workbook" in plan.errors[0].message


def test_a_dry_run_checks_and_writes_nothing(setup):
    answers_import(data=HEADER + f"d-1,jane@acme.example,nps,9,,{RECENT}\n")
    plan, result = answers_import(
        data=HEADER
        + f"d-1,jane@acme.example,nps,7,,{RECENT}\nd-2,jane@acme.example,nps,8,,{RECENT}\n",
        dry_run=True,
    )
    assert result is None
    assert (plan.rows_new, plan.rows_updated) == (1, 1)
    assert list(SurveyAnswer.objects.values_list("score", flat=True)) == [9]


def test_the_import_runs_playbooks_once_for_the_accounts_with_recent_answers(
    setup, account, monkeypatch, django_capture_on_commit_callbacks
):
    calls = []
    monkeypatch.setattr("journeys.tasks.playbooks_run_task.delay", lambda *args: calls.append(args))
    data = (
        HEADER
        + f"a,jane@acme.example,nps,3,,{RECENT}\n"
        + f"b,jane@acme.example,nps,4,,{RECENT}\n"
        + f"c,jane@acme.example,nps,4,,{OLD}\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        answers_import(data=data)
    assert calls == [(timezone.localdate().isoformat(), [account.pk])]


# --- the command and the upload page --------------------------------------------------------


def test_the_command_imports_a_file_and_reports_counts(setup, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text(HEADER + f"d-1,jane@acme.example,nps,3,,{RECENT}\n", encoding="utf-8")
    out = StringIO()
    call_command("import_answers", str(path), stdout=out, verbosity=0)
    assert "Imported 1 answers: 1 created, 0 updated, 1 follow-ups opened." in out.getvalue()


def test_the_command_lists_bad_rows_and_fails(setup, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text(HEADER + f"d-1,jane@acme.example,nps,12,,{RECENT}\n", encoding="utf-8")
    err = StringIO()
    with pytest.raises(
        CommandError, match=r"1 problem found in answers\.csv; nothing was imported"
    ):
        call_command("import_answers", str(path), stderr=err, verbosity=0)
    assert "answers.csv: line 2, column score: 12 is outside the NPS scale 0–10" in err.getvalue()
    assert not SurveyAnswer.objects.exists()


def test_the_command_dry_run_writes_nothing(setup, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text(HEADER + f"d-1,jane@acme.example,nps,3,,{RECENT}\n", encoding="utf-8")
    out = StringIO()
    call_command("import_answers", str(path), "--dry-run", stdout=out, verbosity=0)
    assert "Dry run: 1 answers are valid; 1 would be created and 0 updated." in out.getvalue()
    assert not SurveyAnswer.objects.exists()


def _upload(client, text, **extra):
    return client.post(
        "/feedback/surveys/import/",
        {"file": SimpleUploadedFile("export.csv", text.encode(), content_type="text/csv"), **extra},
    )


def test_the_upload_page_lists_bad_rows_with_their_lines(client_for, manager, setup):
    response = _upload(client_for(manager), HEADER + f"d-1,jane@acme.example,nps,12,,{RECENT}\n")
    html = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was imported: 1 problem found." in html
    assert "12 is outside the NPS scale 0–10" in html
    assert not SurveyAnswer.objects.exists()


def test_the_upload_page_imports_and_says_how_many(client_for, manager, setup):
    response = _upload(client_for(manager), HEADER + f"d-1,jane@acme.example,nps,9,,{RECENT}\n")
    assert response.status_code == 302
    page = client_for(manager).get(response["Location"]).content.decode()
    assert "Imported 1 answers: 1 created, 0 updated, 0 follow-ups opened." in page
    assert SurveyAnswer.objects.count() == 1


def test_csms_may_not_upload_answers(client_for, owner, setup):
    assert (
        _upload(client_for(owner), HEADER + f"d-1,jane@acme.example,nps,9,,{RECENT}\n").status_code
        == 403
    )
    assert not SurveyAnswer.objects.exists()
