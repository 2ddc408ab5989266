"""The monthly report pages: the archive, one month's page, its PDF and CSV, generating and
regenerating, the subscription switch; who may see what (a CSM gets 403 on all of it)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse
from django.utils.html import escape

from accounts.models import Account, Contract
from reports.models import MonthlyReport, ReportSubscription
from tests.reports.test_monthly import (  # quick_pdf: the fixture, used by pytestmark
    OCTOBER,
    TODAY,
    d,
    generate,
    portfolio,
    quick_pdf,  # noqa: F401
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_pdf")]

DETAIL = "/reports/2026-10/"


@pytest.fixture
def report(owner, outsider):
    portfolio(owner=owner, outsider=outsider)
    return generate()


@pytest.fixture
def today():
    with (
        mock.patch("reports.views.monthly.local_today", return_value=TODAY),
    ):
        yield TODAY


def kpi_value(html: str, key: str) -> str:
    """The printed value of one headline tile."""
    marker = f'data-kpi="{key}"'
    tile = html[html.index(marker) :]
    value = tile[tile.index('class="kpi-value"') :]
    return value[value.index(">") + 1 : value.index("</span>")]


def test_the_urls_take_a_yyyy_mm_month():
    assert reverse("reports:report_list") == "/reports/"
    assert reverse("reports:report_detail", args=["2026-10"]) == DETAIL
    assert reverse("reports:report_pdf", args=["2026-10"]) == "/reports/2026-10.pdf"
    assert reverse("reports:report_csv", kwargs={"month": "2026-10"}) == "/reports/2026-10.csv"
    assert reverse("reports:report_detail", args=[OCTOBER]) == DETAIL
    assert reverse("reports:report_regenerate", args=["2026-10"]) == "/reports/2026-10/regenerate/"
    assert reverse("reports:report_subscription") == "/reports/subscription/"


@pytest.mark.parametrize(
    "url", ["/reports/", DETAIL, "/reports/2026-10.pdf", "/reports/2026-10.csv"]
)
def test_a_csm_gets_403_on_the_company_report(client_for, owner, report, url):
    response = client_for(owner).get(url)

    assert response.status_code == 403


def test_a_csm_cannot_regenerate_or_subscribe(client_for, owner, report):
    client = client_for(owner)

    assert client.post("/reports/2026-10/regenerate/").status_code == 403
    assert client.post("/reports/subscription/", {"subscribed": "1"}).status_code == 403
    assert not ReportSubscription.objects.exists()


@pytest.mark.parametrize("persona", ["executive", "manager", "admin_user"])
def test_executives_managers_and_admins_read_the_report(client_for, request, report, persona):
    response = client_for(request.getfixturevalue(persona)).get(DETAIL)

    assert response.status_code == 200
    html = response.content.decode()
    assert kpi_value(html, "nrr") == "82.6 %"
    assert kpi_value(html, "grr") == "73.9 %"
    assert kpi_value(html, "logo_churn") == "25.0 %"
    assert kpi_value(html, "nps") == "40.0"
    assert kpi_value(html, "arr") == "$215,000"
    assert kpi_value(html, "arr_at_risk") == "$70,000"


def test_the_page_shows_every_section_from_the_frozen_numbers(client_for, executive, report):
    response = client_for(executive).get(DETAIL)

    html = response.content.decode()
    assert "NRR fell from 100.0 % to 82.6 % and GRR from 100.0 % to 73.9 %" in html
    # Comparisons on the tiles: September and October 2025.
    assert "September 2026: <b>100.0 %</b>" in html
    assert "October 2025: <b>111.1 %</b>" in html
    assert 'data-bridge="churned">−$50,000' in html
    assert 'data-renewals="due"><td>Due in the month</td><td class="num">3</td>' in html
    for section in ("chart-bridge", "chart-retention", "chart-feedback", "chart-health"):
        assert f'id="{section}"' in html
        assert f'data-chart-target="{section}"' in html
    assert 'id="risks"' in html
    assert ">Cobalt</a>" in html
    assert "<td>SMB</td>" in html
    assert 'id="definitions"' in html
    assert "ARR of accounts in the red band" in html
    assert "vendor/plotly/plotly.min" in html


def test_the_page_runs_a_fixed_number_of_queries(
    client_for, executive, report, django_assert_max_num_queries
):
    client = client_for(executive)
    client.get(DETAIL)

    # Session, user, the report, its generations, the subscription.
    with django_assert_max_num_queries(6):
        response = client.get(DETAIL)
    assert response.status_code == 200


def test_a_data_change_after_generation_leaves_page_pdf_and_csv_unchanged(
    client_for, executive, report
):
    client = client_for(executive)
    before_csv = client.get("/reports/2026-10.csv").content
    before_pdf = client.get("/reports/2026-10.pdf").content

    acme = Account.objects.get(name="Acme")
    Contract.objects.filter(account=acme, start_date=d("2026-11-01")).update(arr=Decimal("80000"))
    Account.objects.filter(name="Cobalt").update(name="Renamed Cobalt")

    html = client.get(DETAIL).content.decode()
    assert kpi_value(html, "nrr") == "82.6 %"
    assert ">Cobalt</a>" in html
    assert "Renamed Cobalt" not in html
    assert client.get("/reports/2026-10.csv").content == before_csv
    assert client.get("/reports/2026-10.pdf").content == before_pdf


def test_regenerated_numbers_show_with_the_new_version_and_its_history(
    client_for, executive, manager, report
):
    Contract.objects.filter(account__name="Acme", start_date=d("2026-11-01")).update(
        arr=Decimal("80000")
    )
    generate(by=manager)

    html = client_for(executive).get(DETAIL).content.decode()

    assert kpi_value(html, "nrr") == "65.2 %"
    assert "Version <span data-version>2</span>" in html
    assert 'id="generations"' in html
    assert "changed" in html


def test_the_list_shows_every_month_with_its_version_and_generation_time(
    client_for, executive, report, manager
):
    generate(by=manager)
    generate(month=d("2026-09-01"))

    response = client_for(executive).get("/reports/")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index('data-month="2026-10"') < html.index('data-month="2026-09"')
    october = html[html.index('data-month="2026-10"') :]
    assert "<td data-version>2</td>" in october[: october.index("</tr>")]
    assert "September 2026" in html
    assert escape(str(manager)) in html
    assert 'href="/reports/2026-10.pdf"' in html
    # The executive is subscribed by default; no generate form for an executive.
    assert 'data-subscribed="1"' in html
    assert 'id="generate"' not in html


def test_the_list_runs_a_fixed_number_of_queries(
    client_for, executive, report, django_assert_max_num_queries
):
    for month in ("2026-07-01", "2026-08-01", "2026-09-01"):
        generate(month=d(month))
    client = client_for(executive)
    client.get("/reports/")

    # Session, user, the count, the page, the subscription.
    with django_assert_max_num_queries(6):
        assert client.get("/reports/").status_code == 200


def test_an_empty_archive_says_when_the_first_report_comes(client_for, manager, today):
    html = client_for(manager).get("/reports/").content.decode()

    assert 'id="no-reports"' in html
    assert "generated on the 1st of the next month" in html
    # Managers get the form, prefilled with last month.
    assert 'id="generate"' in html
    assert 'value="2026-10"' in html


def test_a_month_without_a_report_answers_404_with_a_way_to_generate_it(client_for, manager, today):
    response = client_for(manager).get("/reports/2026-08/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "No report for August 2026" in html
    assert 'action="/reports/2026-08/regenerate/"' in html


def test_an_impossible_month_is_not_found(client_for, executive):
    client = client_for(executive)

    assert client.get("/reports/2026-13/").status_code == 404
    assert client.get("/reports/26-10/").status_code == 404
    assert client.get("/reports/2026-13.pdf").status_code == 404


def test_the_pdf_downloads_as_the_stored_file(client_for, executive, report):
    response = client_for(executive).get("/reports/2026-10.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        'attachment; filename="cs-monthly-report-2026-10-v1.pdf"'
    )
    assert response.content == bytes(report.pdf)


def test_a_report_stored_without_a_pdf_is_printed_from_its_numbers(client_for, executive, report):
    MonthlyReport.objects.filter(pk=report.pk).update(pdf=None)

    with mock.patch(
        "reports.views.monthly.monthly_report_pdf_render", return_value=b"%PDF-printed"
    ) as render:
        response = client_for(executive).get("/reports/2026-10.pdf")

    assert response.content == b"%PDF-printed"
    assert render.call_args.kwargs["charts"] is False
    assert render.call_args.kwargs["data"]["month"] == "2026-10"


def test_the_csv_has_one_row_per_number(client_for, executive, report):
    response = client_for(executive).get("/reports/2026-10.csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="cs-monthly-report-2026-10-v1.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["section", "metric", "value", "previous", "same month last year"]
    assert ["Headline", "NRR", "82.6", "100.0", "111.1"] in rows
    assert ["Headline", "NPS", "40.0", "-25.0", "100.0"] in rows
    assert ["ARR bridge", "End ARR", "215000.0", "", ""] in rows


def test_the_csv_defuses_names_a_spreadsheet_would_run(client_for, executive, owner, outsider):
    accounts = portfolio(owner=owner, outsider=outsider)
    Account.objects.filter(pk=accounts["Cobalt"].pk).update(name='=HYPERLINK("http://x","y")')
    generate()

    rows = list(
        csv.reader(io.StringIO(client_for(executive).get("/reports/2026-10.csv").content.decode()))
    )

    assert ["Top risks", '\'=HYPERLINK("http://x","y")', "40000.0", "", ""] in rows


def test_a_manager_regenerates_a_month_through_celery(client_for, manager, report, today):
    with mock.patch("reports.tasks_monthly.monthly_report_generate_task.delay") as delay:
        response = client_for(manager).post(
            "/reports/2026-10/regenerate/", {"notify": "1"}, follow=True
        )

    assert response.redirect_chain == [(DETAIL, 302)]
    delay.assert_called_once_with("2026-10", manager.pk, notify=True)
    assert "Generating the October 2026 report." in response.content.decode()


def test_a_broker_that_does_not_answer_gives_a_message_not_an_error(client_for, manager, report):
    with mock.patch(
        "reports.tasks_monthly.monthly_report_generate_task.delay",
        side_effect=ConnectionError("Redis is down"),
    ):
        response = client_for(manager).post("/reports/2026-10/regenerate/", follow=True)

    assert response.status_code == 200
    assert "The October 2026 report could not be generated" in response.content.decode()
    assert MonthlyReport.objects.get().version == 1


@pytest.mark.parametrize("persona", ["executive", "owner"])
def test_only_admins_and_managers_regenerate(client_for, request, report, persona):
    with mock.patch("reports.tasks_monthly.monthly_report_generate_task.delay") as delay:
        response = client_for(request.getfixturevalue(persona)).post("/reports/2026-10/regenerate/")

    assert response.status_code == 403
    delay.assert_not_called()


def test_regenerate_is_post_only(client_for, manager, report):
    assert client_for(manager).get("/reports/2026-10/regenerate/").status_code == 405


def test_a_month_that_is_not_over_cannot_be_regenerated(client_for, manager, today):
    with mock.patch("reports.tasks_monthly.monthly_report_generate_task.delay") as delay:
        response = client_for(manager).post("/reports/2026-11/regenerate/", follow=True)

    delay.assert_not_called()
    assert "November 2026 is not over yet" in response.content.decode()


def test_the_generate_form_checks_the_month_beside_the_field(client_for, manager, today):
    with mock.patch("reports.tasks_monthly.monthly_report_generate_task.delay") as delay:
        response = client_for(manager).post("/reports/", {"month": "2026-12", "notify": "on"})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="month-error"' in html
    assert "December 2026 is not over yet" in html
    delay.assert_not_called()
    assert not MonthlyReport.objects.exists()


def test_the_generate_form_refuses_a_malformed_month(client_for, manager, today):
    response = client_for(manager).post("/reports/", {"month": "last month"})

    assert response.status_code == 400
    assert "use YYYY-MM, e.g. 2026-10" in response.content.decode()


def test_the_generate_form_enqueues_the_month(client_for, manager, today):
    with mock.patch("reports.tasks_monthly.monthly_report_generate_task.delay") as delay:
        response = client_for(manager).post("/reports/", {"month": "2026-09"})

    assert response.status_code == 302
    # The box was left unticked: no email.
    delay.assert_called_once_with("2026-09", manager.pk, notify=False)


def test_an_executive_cannot_use_the_generate_form(client_for, executive, today):
    response = client_for(executive).post("/reports/", {"month": "2026-09"})

    assert response.status_code == 403


def test_an_executive_unsubscribes_and_subscribes_again(client_for, executive):
    client = client_for(executive)

    response = client.post("/reports/subscription/", {"subscribed": "0", "next": DETAIL})
    assert response.status_code == 302
    assert response["Location"] == DETAIL
    assert ReportSubscription.objects.get(user=executive).subscribed is False
    assert 'data-subscribed="0"' in client.get("/reports/").content.decode()

    client.post("/reports/subscription/", {"subscribed": "1"})
    assert ReportSubscription.objects.get(user=executive).subscribed is True


def test_a_manager_subscribes(client_for, manager):
    client_for(manager).post("/reports/subscription/", {"subscribed": "1"})

    assert ReportSubscription.objects.get(user=manager).subscribed is True


def test_the_subscription_ignores_a_foreign_next_and_a_bad_value(client_for, manager):
    client = client_for(manager)

    response = client.post(
        "/reports/subscription/", {"subscribed": "1", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/reports/"

    response = client.post("/reports/subscription/", {"subscribed": "maybe"}, follow=True)
    assert "Choose to subscribe or to unsubscribe." in response.content.decode()
    assert ReportSubscription.objects.get(user=manager).subscribed is True


def test_executives_see_reports_in_the_navigation_and_csms_do_not(client_for, executive, owner):
    assert 'href="/reports/"' in client_for(executive).get("/reports/").content.decode()
    assert 'href="/reports/"' not in client_for(owner).get("/").content.decode()
