"""seed_demo publishes the last closed months' executive reports, so an executive's first
login opens last month's report and its PDF rather than an empty list."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import JobRun, User
from health.retention import month_add, month_floor
from reports import pdf as report_pdf
from reports.models import MonthlyReport, ReportDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_chromium(monkeypatch):
    # The charts are tested with the real browser in test_monthly_pdf; here a PDF without
    # them keeps the seed fast.
    monkeypatch.setattr(report_pdf, "_server", report_pdf._ChartServer())
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")


def seed(*args: str) -> None:
    call_command("seed_demo", "--accounts", "12", "--health-days", "2", *args, verbosity=0)


def test_the_last_closed_months_are_published_as_monthly_job_runs_without_email(no_chromium):
    this_month = month_floor(timezone.localdate())
    last, before = month_add(this_month, -1), month_add(this_month, -2)

    seed("--days", "120", "--reports", "2")

    reports = {r.month: r for r in MonthlyReport.objects.all()}
    assert set(reports) == {last, before}
    for report in reports.values():
        assert report.version == 1
        assert bytes(report.pdf).startswith(b"%PDF")
        assert report.data["summary"]
    assert set(
        JobRun.objects.filter(job="monthly_report", status="succeeded").values_list(
            "period", flat=True
        )
    ) == {f"{last:%Y-%m}", f"{before:%Y-%m}"}
    assert not ReportDelivery.objects.exists()

    client = Client()
    client.force_login(User.objects.get(username="exec"))
    assert client.get("/").url == f"/reports/{last:%Y-%m}/"
    pdf = client.get(f"/reports/{last:%Y-%m}.pdf")
    assert pdf.status_code == 200
    assert pdf.content == bytes(reports[last].pdf)


def test_months_before_the_demo_window_get_no_report(no_chromium):
    days = timezone.localdate().day + 5
    this_month = month_floor(timezone.localdate())

    seed("--days", str(days), "--reports", "3")

    # The window starts in last month: its report exists, the two before would be empty.
    assert list(MonthlyReport.objects.values_list("month", flat=True)) == [
        month_add(this_month, -1)
    ]


def test_reports_zero_publishes_none(no_chromium):
    seed("--days", "60", "--reports", "0")

    assert not MonthlyReport.objects.exists()
