"""Load test of the pages people open most, against a running server (not a pytest module).

    make load HOST=http://127.0.0.1:8899 TIME=2m

Users (demo logins from seed_demo, password "demo"; override with LOAD_PASSWORD):
- ManagerUser: the manager dashboard with scope and period params, the health, feedback
  and team pages, and account pages of accounts it can see;
- CsmUser: "my book", account pages of the book, and logging an interaction through the
  account page's form (POST with its CSRF token);
- ApiUser: API reads with a token (accounts list, health scores). The token comes from
  LOAD_API_TOKEN, else one is issued through the token page as the manager.

Log-in reads the form it is served, so it works whether the user field is named
`username` or `login` (django-allauth). Requests carry X-Forwarded-Proto: https, as behind
the TLS proxy of production, so secure cookies and the SSL redirect behave as there.
Each request is named by its page, not its URL, so percentiles group per page.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import sys
from html.parser import HTMLParser
from typing import Any

from locust import HttpUser, between, events, task

PASSWORD = os.environ.get("LOAD_PASSWORD", "demo")
MANAGER = os.environ.get("LOAD_MANAGER", "manager")
CSM = os.environ.get("LOAD_CSM", "csm")
HEADERS = {"X-Forwarded-Proto": "https"}
ACCOUNT_LINK = re.compile(r'href="/accounts/(\d+)/"')
OPTION = re.compile(r'<option value="(\d+)"')


class FormReader(HTMLParser):
    """The fields of the first <form> matching `marker` (a substring of its start tag):
    inputs with their values, the first option of each select, textareas empty."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker
        self.inside = False
        self.done = False
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.field_names: list[str] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.done and not self.inside:
            raw = " ".join(f'{k}="{v}"' for k, v in attr.items())
            if self.marker in raw:
                self.inside, self.action = True, attr.get("action")
            return
        if not self.inside:
            return
        name = attr.get("name")
        if tag == "input" and name:
            self.field_names.append(name)
            kind = attr.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attr:
                return
            self.fields.setdefault(name, attr.get("value", ""))
        elif tag == "select" and name:
            self.field_names.append(name)
            self._select = name
        elif tag == "option" and self._select:
            value = attr.get("value", "")
            if value and (self._select not in self.fields or "selected" in attr):
                self.fields[self._select] = value
        elif tag == "textarea" and name:
            self.field_names.append(name)
            self.fields.setdefault(name, "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        if tag == "form" and self.inside:
            self.inside, self.done = False, True


def read_form(html: str, marker: str) -> FormReader:
    reader = FormReader(marker)
    reader.feed(html)
    return reader


class LoggedInUser(HttpUser):
    abstract = True
    wait_time = between(1, 3)
    username = ""

    def on_start(self) -> None:
        self.account_ids: list[int] = []
        self.client.headers.update(HEADERS)
        # What the browser saw as its origin behind the TLS proxy: the CSRF check compares
        # the Referer with it.
        self.origin = self.host.replace("http://", "https://", 1)
        send = self.client.request

        def request(*args: Any, **kwargs: Any) -> Any:
            # The session and CSRF cookies are Secure (production settings); the test talks
            # plain HTTP to the server behind where the proxy would be, so send them anyway.
            for cookie in self.client.cookies:
                cookie.secure = False
            return send(*args, **kwargs)

        self.client.request = request  # type: ignore[method-assign]
        page = self.client.get("/login/", name="/login/ (form)")
        form = read_form(page.text, 'method="post"')
        # allauth names the user field "login"; the plain form "username".
        user_field = "login" if "login" in form.field_names else "username"
        data = {**form.fields, user_field: self.username, "password": PASSWORD}
        with self.client.post(
            "/login/",
            data=data,
            headers={"Referer": f"{self.origin}/login/"},
            name="/login/ (post)",
            catch_response=True,
            allow_redirects=False,
        ) as response:
            if response.status_code != 302:
                response.failure(f"log-in as {self.username} answered {response.status_code}")

    def remember_accounts(self, html: str) -> None:
        found = [int(pk) for pk in ACCOUNT_LINK.findall(html)]
        if found:
            self.account_ids = list(dict.fromkeys(found + self.account_ids))[:200]

    def open_account(self) -> str | None:
        if not self.account_ids:
            self.remember_accounts(self.client.get("/accounts/", name="/accounts/").text)
        if not self.account_ids:
            return None
        pk = random.choice(self.account_ids)
        return self.client.get(f"/accounts/{pk}/", name="/accounts/<id>/").text


class ManagerUser(LoggedInUser):
    weight = 3
    username = MANAGER

    def on_start(self) -> None:
        super().on_start()
        page = self.client.get("/dashboard/", name="/dashboard/").text
        self.teams = sorted(set(re.findall(r'name="team"[^>]*>(.*?)</select>', page, re.S)))
        self.team_ids = OPTION.findall(self.teams[0]) if self.teams else []
        self.remember_accounts(page)

    @task(5)
    def dashboard(self) -> None:
        self.client.get("/", name="/ (manager dashboard)")

    @task(3)
    def dashboard_scoped(self) -> None:
        today = dt.date.today()
        quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
        params: dict[str, Any] = {"period": random.choice([quarter, f"{today:%Y-%m}"])}
        if self.team_ids:
            params["team"] = random.choice(self.team_ids)
        self.client.get("/dashboard/", params=params, name="/dashboard/?team&period")

    @task(2)
    def health(self) -> None:
        self.client.get("/health/", name="/health/")

    @task(2)
    def feedback(self) -> None:
        self.client.get("/feedback/", name="/feedback/")

    @task(1)
    def team(self) -> None:
        self.client.get("/team/", name="/team/")

    @task(3)
    def account(self) -> None:
        self.open_account()


class CsmUser(LoggedInUser):
    weight = 5
    username = CSM

    @task(5)
    def my_book(self) -> None:
        self.remember_accounts(self.client.get("/", name="/ (my book)").text)

    @task(4)
    def account(self) -> None:
        self.open_account()

    @task(1)
    def log_interaction(self) -> None:
        html = self.open_account()
        if html is None:
            return
        form = read_form(html, "interaction-form")
        if not form.action:
            return
        data = {
            **form.fields,
            "occurred_on": dt.date.today().isoformat(),
            "summary": "Load test: weekly check-in call.",
        }
        data.pop("next_step_due", None)
        data.pop("next_step", None)
        with self.client.post(
            form.action,
            data=data,
            headers={"Referer": f"{self.origin}{form.action}"},
            name="/accounts/<id>/interactions/new/ (post)",
            catch_response=True,
            allow_redirects=False,
        ) as response:
            if response.status_code != 302:
                response.failure(f"logging an interaction answered {response.status_code}")


class ApiUser(HttpUser):
    weight = 2
    wait_time = between(1, 3)

    def on_start(self) -> None:
        token = os.environ.get("LOAD_API_TOKEN", "")
        self.client.headers.update({**HEADERS, "Accept": "application/json"})
        if token:
            self.client.headers["Authorization"] = f"Bearer {token}"

    @task(3)
    def accounts(self) -> None:
        page = random.randint(1, 20)
        self.client.get(f"/api/v1/accounts/?page={page}", name="/api/v1/accounts/")

    @task(2)
    def health_scores(self) -> None:
        self.client.get("/api/v1/health-scores/", name="/api/v1/health-scores/")


@events.quitting.add_listener
def _print_percentiles(environment: Any, **_kwargs: Any) -> None:
    """p50 / p95 / p99 per page, after the run (locust's own table shows them too)."""
    stats = environment.runner.stats if environment.runner else None
    if stats is None:
        return
    out = sys.stdout
    out.write(f"{'page':<48} {'reqs':>6} {'fail':>5} {'p50':>6} {'p95':>6} {'p99':>6}  (ms)\n")
    for entry in sorted(stats.entries.values(), key=lambda e: e.name):
        out.write(
            f"{entry.method + ' ' + entry.name:<48} {entry.num_requests:>6} "
            f"{entry.num_failures:>5} {entry.get_response_time_percentile(0.5):>6.0f} "
            f"{entry.get_response_time_percentile(0.95):>6.0f} "
            f"{entry.get_response_time_percentile(0.99):>6.0f}\n"
        )
