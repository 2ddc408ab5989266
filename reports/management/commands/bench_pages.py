"""`manage.py bench_pages`: p50 / p95 of every dashboard and report page under gunicorn, one
user and then N concurrent users, against the configured database.

It starts gunicorn (2 sync workers, production settings: DEBUG off, static files from the
collected manifest) on 127.0.0.1, logs in as the demo users (seed_demo: manager, csm, exec,
password demo), requests each page sequentially, then from N threads at once, and stops
gunicorn. Requests carry `X-Forwarded-Proto: https`, as behind the TLS proxy of production,
so the secure cookies and the SSL redirect behave as they would there.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from tqdm import tqdm

from accounts.models import Account, Team, User
from accounts.selectors.access import local_today
from reports.models import MonthlyReport
from reports.selectors_dashboards import DashPeriod

PASSWORD = "demo"
WORKERS = 2
# Page requests before measuring: each worker process imports templates and warms caches.
WARMUP_ROUNDS = 2
# Pages also measured as the CSM, whose scope (book and team) differs from the manager's.
CSM_PAGES = ("/health/", "/feedback/", "/journeys/", "/accounts/", "/team/")
# Seconds a request may take before it counts as an error rather than a sample.
REQUEST_TIMEOUT = 30


@dataclass
class Page:
    label: str
    user: str
    path: str
    samples: list[float] = field(default_factory=list)
    errors: int = 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return ordered[rank - 1]


class Session:
    """One logged-in browser: its cookies, over a fresh connection per request (gunicorn's
    sync workers close the connection after each response)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, *, body: str | None = None, headers: dict | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        sent = {
            "Host": f"127.0.0.1:{self.port}",
            "X-Forwarded-Proto": "https",
            "Accept": "text/html",
            **(headers or {}),
        }
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            content = response.read()
            for header in response.msg.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return response.status, content, dict(response.getheaders())
        finally:
            conn.close()

    def log_in(self, username: str) -> None:
        status, content, _ = self.request("GET", "/login/")
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', content)
        if status != 200 or match is None:
            raise CommandError(f"The login page answered {status}.")
        # The login form names its user field "username" or, with allauth, "login".
        field = re.search(rb'<input[^>]*name="(login|username)"', content)
        user_field = field.group(1).decode() if field else "username"
        origin = f"https://127.0.0.1:{self.port}"
        status, _, _headers = self.request(
            "POST",
            "/login/",
            body=urlencode(
                {
                    user_field: username,
                    "password": PASSWORD,
                    "csrfmiddlewaretoken": match.group(1).decode(),
                }
            ),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": origin,
                "Referer": f"{origin}/login/",
            },
        )
        if status != 302:
            raise CommandError(
                f"Could not log in as {username!r} (HTTP {status}): run seed_demo first."
            )


class Command(BaseCommand):
    help = (
        "Benchmark the dashboard pages under gunicorn (2 workers) on 127.0.0.1 against the "
        "configured database: p50 / p95 per page for one user, then for N concurrent users. "
        "Needs the demo logins of seed_demo and the snapshots (recompute_metrics)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=10, help="Concurrent users (10).")
        parser.add_argument(
            "--requests", type=int, default=40, help="Samples per page in each phase (40)."
        )
        parser.add_argument(
            "--port", type=int, default=0, help="Port for gunicorn (default: a free one)."
        )
        parser.add_argument(
            "--seconds",
            type=int,
            default=120,
            help="Most seconds the concurrent phase may run before it stops (120).",
        )

    def handle(self, *args: object, **options: object) -> None:
        users: int = options["users"]  # type: ignore[assignment]
        requests: int = options["requests"]  # type: ignore[assignment]
        port: int = options["port"]  # type: ignore[assignment]
        seconds: int = options["seconds"]  # type: ignore[assignment]
        if not 1 <= users <= 64:
            raise CommandError("--users must be between 1 and 64.")
        if not 1 <= requests <= 10_000:
            raise CommandError("--requests must be between 1 and 10,000.")

        port = port or _free_port()
        if _port_answers(port):
            raise CommandError(f"Something already listens on 127.0.0.1:{port}; pick another.")
        self.stdout.write(
            f"database {connection.vendor} · {Account.objects.count():,} accounts · "
            f"{WORKERS} gunicorn workers on 127.0.0.1:{port} · "
            f"load average {self._load()} ({os.cpu_count()} CPUs)"
        )
        env = self._server_env()
        self._collect_static(env)
        server = self._start(env, port)
        try:
            pages = self._pages(port)
            sessions = {user: Session(port) for user in {page.user for page in pages}}
            for username, session in sessions.items():
                session.log_in(username)
            pages = self._warm_up(pages, sessions)

            self.stdout.write(f"\nOne user, {requests} requests per page, one after another:")
            self._sequential(pages, sessions, requests)
            self._report(pages)

            for page in pages:
                page.samples.clear()
                page.errors = 0
            self.stdout.write(
                f"\n{users} concurrent users on one page at a time, {requests} requests per page "
                f"(at most {seconds} s in all):"
            )
            self._concurrent(pages, port, users, requests, seconds)
            self._report(pages)
            self.stdout.write(f"\nload average after: {self._load()}")
        finally:
            self._stop(server)

    # --- The server ----------------------------------------------------------------------

    def _server_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DEBUG"] = "false"
        env.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
        env["DJANGO_SETTINGS_MODULE"] = "cs_platform.settings.base"
        hosts = {h for h in env.get("ALLOWED_HOSTS", "").split(",") if h} | {"127.0.0.1"}
        env["ALLOWED_HOSTS"] = ",".join(sorted(hosts))
        return env

    def _collect_static(self, env: dict[str, str]) -> None:
        """Production serves static files from the collected manifest; collect it once."""
        manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
        if manifest.exists():
            return
        self.stdout.write("Collecting static files (once) ...")
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=settings.BASE_DIR,
            env=env,
            check=True,
        )

    def _start(self, env: dict[str, str], port: int) -> subprocess.Popen:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "cs_platform.wsgi",
                "--workers",
                str(WORKERS),
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "--timeout",
                "60",
            ],
            cwd=settings.BASE_DIR,
            env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"gunicorn exited with {server.returncode}; is {port} free?")
            try:
                status, _, _ = Session(port).request("GET", "/healthz")
                if status in (200, 503):
                    return server
            except OSError:
                pass
            time.sleep(0.3)
        self._stop(server)
        raise CommandError("gunicorn did not answer /healthz within 30 s.")

    def _stop(self, server: subprocess.Popen) -> None:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    @staticmethod
    def _load() -> str:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())

    # --- Pages ---------------------------------------------------------------------------

    def _pages(self, port: int) -> list[Page]:
        csm = User.objects.filter(username="csm").first()
        manager = User.objects.filter(username="manager").first()
        if csm is None or manager is None:
            raise CommandError("No demo logins: run seed_demo first.")
        team = Team.objects.filter(pk=csm.team_id or 0).first() or Team.objects.first()
        quarter = DashPeriod.quarter_of(local_today()).value
        pages = [
            Page("/ (manager: dashboard)", "manager", "/"),
            Page(f"/dashboard/?period={quarter}", "manager", f"/dashboard/?period={quarter}"),
            Page("/dashboard/?team=<team>", "manager", f"/dashboard/?team={team.pk}")
            if team
            else None,
            Page("/my-book/?csm=<csm> (manager)", "manager", f"/my-book/?csm={csm.pk}"),
            Page("/ (csm: my book)", "csm", "/"),
            Page("/dashboard/ (csm: own team)", "csm", "/dashboard/"),
            Page("/health/", "manager", "/health/"),
            Page("/feedback/", "manager", "/feedback/"),
            Page("/journeys/", "manager", "/journeys/"),
            Page("/accounts/", "manager", "/accounts/"),
            Page("/team/", "manager", "/team/"),
            # A CSM's view of the same pages: their book and their team's accounts.
            *(Page(f"{path} (csm)", "csm", path) for path in CSM_PAGES),
            Page("/reports/ (exec)", "exec", "/reports/"),
        ]
        # The latest monthly report, if one was generated (generate_monthly_report).
        latest = MonthlyReport.objects.order_by("-month").values_list("month", flat=True).first()
        if latest is not None:
            path = f"/reports/{latest:%Y-%m}/"
            pages.append(Page("/reports/<latest month>/ (exec)", "exec", path))
        return [page for page in pages if page is not None]

    def _warm_up(self, pages: list[Page], sessions: dict[str, Session]) -> list[Page]:
        """Request every page a few times; drop a page that is not installed (404)."""
        kept = []
        for page in pages:
            statuses = [
                sessions[page.user].request("GET", page.path)[0] for _ in range(WARMUP_ROUNDS)
            ]
            if statuses[-1] == 404:
                self.stdout.write(f"  {page.path}: not installed (404), left out")
                continue
            if statuses[-1] != 200:
                self.stdout.write(self.style.WARNING(f"  {page.path}: HTTP {statuses[-1]}"))
            kept.append(page)
        return kept

    def _timed(self, session: Session, page: Page) -> None:
        started = time.perf_counter()
        try:
            status, _, _ = session.request("GET", page.path)
        except OSError:
            status = 0
        elapsed = (time.perf_counter() - started) * 1000
        if status == 200:
            page.samples.append(elapsed)
        else:
            page.errors += 1

    def _sequential(self, pages: list[Page], sessions: dict[str, Session], requests: int) -> None:
        with tqdm(total=len(pages) * requests, unit="req", file=self.stderr) as bar:
            for _ in range(requests):
                for page in pages:
                    self._timed(sessions[page.user], page)
                    bar.update(1)

    def _concurrent(
        self, pages: list[Page], port: int, users: int, requests: int, seconds: int
    ) -> None:
        """Page by page, `users` threads (each its own logged-in session) request the same
        page until it has `requests` samples, or the page's share of `seconds` is up.

        One page at a time, so a page's figures are its own and not the queue behind a
        slower page; with 2 sync workers and 10 users, a request waits for about four others.
        """
        # Everyone logs in first, so no page's figures include a queue of logins.
        sessions = {
            (worker, user): Session(port)
            for worker in range(users)
            for user in {page.user for page in pages}
        }
        for (_worker, user), session in sessions.items():
            session.log_in(user)
        with tqdm(total=len(pages) * requests, unit="req", file=self.stderr) as bar:
            for page in pages:
                self._hammer(
                    page,
                    port=port,
                    users=users,
                    requests=requests,
                    seconds=seconds / len(pages),
                    sessions=sessions,
                    bar=bar,
                )

    def _hammer(
        self,
        page: Page,
        *,
        port: int,
        users: int,
        requests: int,
        seconds: float,
        sessions: dict[tuple[int, str], Session],
        bar: tqdm,
    ) -> None:
        lock = threading.Lock()
        left = [requests]
        deadline = time.monotonic() + seconds

        def work(worker: int) -> None:
            session = sessions[(worker, page.user)]
            while time.monotonic() < deadline:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                self._timed(session, page)
                bar.update(1)

        threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(users)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + REQUEST_TIMEOUT)

    def _report(self, pages: list[Page]) -> None:
        self.stdout.write(f"  {'page':<40} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} err")
        for page in pages:
            if not page.samples:
                self.stdout.write(
                    f"  {page.label:<40} {0:>5} {'—':>8} {'—':>8} {'—':>8} {page.errors}"
                )
                continue
            self.stdout.write(
                f"  {page.label:<40} {len(page.samples):>5} "
                f"{statistics.median(page.samples):>8.1f} "
                f"{percentile(page.samples, 0.95):>8.1f} {max(page.samples):>8.1f} {page.errors}"
            )
