"""No page loads anything from another origin, and every HTML page carries the strict CSP.

As each demo role (admin, manager, CSM, executive), the test client starts at "/" and follows
same-origin links breadth first. On every HTML page, each script/link/img/iframe/source/
embed/object address, each form action and each url() in a style attribute or <style>
element must stay on this origin (a path, or http://testserver). Pages of one shape are
sampled, not all visited: a path with its ids replaced by <id> is opened at most
PER_SHAPE times, each path with at most PER_PATH query strings, and at most MAX_PAGES
pages per role.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from tests.reports.test_monthly import generate, quick_pdf  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_pdf")]

MAX_PAGES = 150
PER_SHAPE = 3
PER_PATH = 2
ORIGIN = "http://testserver"
# Logging out ends the crawl's session; the admin's own pages and the API's browsable
# views are Django's and DRF's, not this product's templates.
SKIP = re.compile(r"^/(logout/|admin/|api/v1/)")
LOADING = {
    "script": "src",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "embed": "src",
    "audio": "src",
    "video": "src",
    "object": "data",
    "link": "href",
    "form": "action",
}
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]*)", re.IGNORECASE)


class PageParser(HTMLParser):
    """The loaded addresses, the links to follow and the CSS of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loaded: list[tuple[str, str]] = []
        self.links: list[str] = []
        self.css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in LOADING and LOADING[tag] in values:
            self.loaded.append((tag, values[LOADING[tag]]))
        if tag == "img" and "srcset" in values:
            self.loaded += [("img srcset", part.split()[0]) for part in values["srcset"].split(",")]
        if tag == "a" and "href" in values:
            self.links.append(values["href"])
        if "style" in values:
            self.css.append(values["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.css.append(data)


def same_origin(address: str) -> bool:
    parts = urlsplit(address.strip())
    if not parts.scheme and not parts.netloc:
        return True  # a path, a query or a fragment on this origin
    return f"{parts.scheme}://{parts.netloc}" == ORIGIN


def csp_problems(policy: str) -> list[str]:
    directives = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives[name] = value.strip()
    wanted = {
        "object-src": "'none'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
        "script-src": "'self'",
    }
    return [
        f"{name} is {directives.get(name)!r}, not {value}"
        for name, value in wanted.items()
        if directives.get(name) != value
    ]


def shape(path: str) -> str:
    return re.sub(r"/\d+(?=/|$|\.)", "/<id>", re.sub(r"/\d{4}-\d{2}(?=/|$|\.)", "/<month>", path))


def crawl(client: Client) -> tuple[list[str], list[str]]:
    """Visit from "/"; return the pages opened and every problem found."""
    queue: deque[str] = deque(["/"])
    seen: set[str] = {"/"}
    per_shape: Counter[str] = Counter()
    per_path: Counter[str] = Counter()
    visited: list[str] = []
    problems: list[str] = []
    while queue and len(visited) < MAX_PAGES:
        url = queue.popleft()
        response = client.get(url)
        visited.append(url)
        if response.status_code in {301, 302}:
            target = urljoin(url, response["Location"])
            parts = urlsplit(target)
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if not same_origin(target):
                problems.append(f"{url}: redirects to another origin {target}")
            elif link not in seen:
                seen.add(link)
                queue.append(link)
            continue
        content_type = response.get("Content-Type", "")
        if response.status_code != 200 or not content_type.startswith("text/html"):
            continue
        policy = response.get("Content-Security-Policy")
        if policy is None:
            problems.append(f"{url}: no Content-Security-Policy header")
        else:
            problems += [f"{url}: {problem}" for problem in csp_problems(policy)]
        parser = PageParser()
        parser.feed(response.content.decode())
        for tag, address in parser.loaded:
            if not same_origin(address):
                problems.append(f"{url}: <{tag}> loads {address}")
        for css in parser.css:
            for address in CSS_URL.findall(css):
                if not same_origin(address) and not address.startswith("data:"):
                    problems.append(f"{url}: CSS url({address})")
        for href in parser.links:
            target = urljoin(url, href)
            if not same_origin(target):
                continue
            parts = urlsplit(target)
            path = parts.path
            link = path + (f"?{parts.query}" if parts.query else "")
            if link in seen or SKIP.match(path):
                continue
            seen.add(link)
            if per_shape[shape(path)] >= PER_SHAPE and path not in per_path:
                continue
            if per_path[path] >= PER_PATH:
                continue
            if path not in per_path:
                per_shape[shape(path)] += 1
            per_path[path] += 1
            queue.append(link)
    return visited, problems


@pytest.fixture
def demo():
    """The demo data (every page has rows and links) and a monthly report to open."""
    call_command("seed_demo", "--accounts", "12", "--days", "60", "--health-days", "0", verbosity=0)
    generate()


@pytest.mark.parametrize("username", ["admin", "manager", "csm", "exec"])
def test_no_page_loads_from_another_origin_and_each_carries_the_csp(demo, username):
    client = Client()
    client.force_login(User.objects.get(username=username))

    visited, problems = crawl(client)

    assert problems == []
    # The crawl reached well past the home page: lists, detail pages, settings.
    assert len(visited) >= 25, visited
    assert any(shape(url) == "/accounts/<id>/" for url in visited), visited


def test_an_address_on_another_origin_is_caught():
    assert same_origin("/static/js/charts.js")
    assert same_origin("?page=2")
    assert same_origin("http://testserver/accounts/")
    assert not same_origin("//cdn.example.com/plotly.js")
    assert not same_origin("https://cdn.example.com/plotly.js")
    assert not same_origin("javascript:alert(1)")
    assert csp_problems("script-src 'self' https://cdn.example.com; object-src 'none'") == [
        "base-uri is None, not 'none'",
        "frame-ancestors is None, not 'none'",
        "script-src is \"'self' https://cdn.example.com\", not 'self'",
    ]
