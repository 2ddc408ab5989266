"""Monthly reports through the API: the archive and each month's frozen numbers, read by
admins, managers and executives; CSMs get 403 like on the report pages."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from reports.models import MonthlyReport
from reports.services_monthly import monthly_report_generate
from tests.api import fresh_cache, token_client  # noqa: F401
from tests.factories import AccountFactory, ContractFactory

# django_db up front: these tests reach the database through request.getfixturevalue, and
# without the mark pytest-django would order them after the transactional tests, whose
# flush removes the default stages and playbooks the migrations created.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

API = "/api/v1"


def _report(month: dt.date, **data) -> MonthlyReport:
    return MonthlyReport.objects.create(
        month=month,
        data={"kpis": data},
        summary=f"Summary of {month:%B}",
        generated_at=timezone.now(),
        pdf=b"%PDF-1.7 large bytes",
    )


def test_executives_list_the_archive_newest_first_without_the_numbers(
    executive, django_assert_max_num_queries
):
    for month in (dt.date(2026, 1, 1), dt.date(2026, 3, 1), dt.date(2026, 2, 1)):
        _report(month, nrr=104.5)
    client = token_client(executive)

    with django_assert_max_num_queries(4):
        body = client.get(f"{API}/monthly-reports/").json()
    ranged = client.get(
        f"{API}/monthly-reports/", {"month_after": "2026-02-01", "month_before": "2026-02-28"}
    ).json()

    assert [row["month"] for row in body["results"]] == ["2026-03-01", "2026-02-01", "2026-01-01"]
    assert "data" not in body["results"][0]
    assert "pdf" not in body["results"][0]
    assert body["results"][0]["summary"] == "Summary of March"
    assert [row["month"] for row in ranged["results"]] == ["2026-02-01"]


def test_a_reports_detail_carries_its_frozen_numbers(manager):
    report = _report(dt.date(2026, 2, 1), nrr=104.5, arr_at_risk="12000.00")

    body = token_client(manager).get(f"{API}/monthly-reports/{report.pk}/").json()

    assert body["data"] == {"kpis": {"nrr": 104.5, "arr_at_risk": "12000.00"}}
    assert (body["month"], body["version"]) == ("2026-02-01", 1)
    assert "pdf" not in body


def test_the_numbers_stay_frozen_until_the_month_is_regenerated(admin_user):
    account = AccountFactory(start_date=dt.date(2025, 1, 1))
    ContractFactory(
        account=account,
        start_date=dt.date(2025, 1, 1),
        end_date=dt.date(2026, 12, 31),
        arr=Decimal("12000.00"),
    )
    report = monthly_report_generate(
        month=dt.date(2026, 2, 1), today=dt.date(2026, 3, 5), notify=False, charts=False
    )
    client = token_client(admin_user)
    first = client.get(f"{API}/monthly-reports/{report.pk}/").json()

    # A new contract after generation changes nothing in the stored report.
    ContractFactory(
        account=AccountFactory(start_date=dt.date(2026, 2, 1)),
        start_date=dt.date(2026, 2, 1),
        end_date=dt.date(2027, 1, 31),
        arr=Decimal("5000.00"),
    )
    second = client.get(f"{API}/monthly-reports/{report.pk}/").json()

    assert first == second
    stored = MonthlyReport.objects.get(pk=report.pk)
    assert first["data"] == stored.data
    assert first["version"] == 1


def test_csms_get_403_on_the_monthly_reports(owner):
    report = _report(dt.date(2026, 2, 1))
    client = token_client(owner)

    assert client.get(f"{API}/monthly-reports/").status_code == 403
    assert client.get(f"{API}/monthly-reports/{report.pk}/").status_code == 403


def test_reports_are_read_only(admin_user):
    report = _report(dt.date(2026, 2, 1))
    client = token_client(admin_user)
    url = f"{API}/monthly-reports/{report.pk}/"

    assert client.post(f"{API}/monthly-reports/", {}, format="json").status_code == 405
    assert client.patch(url, {"summary": "Rewritten"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    assert MonthlyReport.objects.get(pk=report.pk).summary == "Summary of February"
