"""A CSM's day in the browser: log a call with a next step, find the task; export a list."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, Task
from tests.conftest import PASSWORD
from tests.factories import AccountFactory, ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_a_call_with_a_next_step_shows_in_the_timeline_and_the_task_list(live_server, page, owner):
    account = AccountFactory(name="Globex", owner=owner, team=owner.team)
    ContactFactory(account=account, name="Hank Scorpio")
    due = timezone.localdate() + dt.timedelta(days=3)
    _log_in(page, live_server.url, owner.username)

    page.goto(f"{live_server.url}/accounts/{account.pk}/")
    form = page.locator("form.interaction-form")
    form.locator("select[name=kind]").select_option("call")
    form.get_by_label("Hank Scorpio").check()
    form.locator("textarea[name=summary]").fill("Walked through the Q3 rollout plan.")
    form.locator("select[name=sentiment]").select_option("positive")
    form.locator("input[name=next_step]").fill("Send the rollout checklist")
    form.locator("input[name=next_step_due]").fill(due.isoformat())
    form.locator("button[type=submit]").click()

    page.wait_for_url(f"{live_server.url}/accounts/{account.pk}/")
    logged = page.locator("#timeline li[data-kind=interaction]")
    assert logged.count() == 1
    assert "Walked through the Q3 rollout plan." in logged.inner_text()
    made = page.locator("#timeline li[data-kind=task]")
    assert "Send the rollout checklist" in made.first.inner_text()
    task = Task.objects.get(account=account)
    assert (task.title, task.owner, task.due_date, task.source) == (
        "Send the rollout checklist",
        owner,
        due,
        Task.Source.INTERACTION,
    )

    page.goto(f"{live_server.url}/tasks/")
    row = page.locator(f"#section-this_week tr[data-task-id='{task.pk}']")
    assert row.count() == 1
    assert "Send the rollout checklist" in row.inner_text()
    assert "Globex" in row.inner_text()


def test_the_filtered_csv_export_downloads_the_rows_shown(live_server, page, manager, owner):
    AccountFactory(
        name="Alpha High", owner=owner, tier=Account.Tier.HIGH_TOUCH, arr=Decimal("90000")
    )
    AccountFactory(
        name="Beta High", owner=owner, tier=Account.Tier.HIGH_TOUCH, arr=Decimal("40000")
    )
    AccountFactory(name="Gamma Scaled", owner=owner, tier=Account.Tier.SCALED, arr=Decimal("70000"))
    _log_in(page, live_server.url, manager.username)

    page.goto(f"{live_server.url}/accounts/?tier=high_touch&sort=-arr")
    shown = [
        name.strip() for name in page.locator("tr[data-account] td:first-child a").all_inner_texts()
    ]
    assert shown == ["Alpha High", "Beta High"]

    with page.expect_download() as download_info:
        page.click("[data-testid=export-csv]")
    download = download_info.value
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert [row["name"] for row in rows] == shown
    assert [row["arr"] for row in rows] == ["90000.00", "40000.00"]
