"""A small portfolio whose every user-typed text is hostile: markup, script, template syntax
and spreadsheet formulas, in account, contact, CSM and team names, interaction notes, task
titles, survey comments, tags, segments, stages, initiatives and playbooks.

Used by the server-rendered checks (test_hostile_text.py) and the browser check
(tests/browser/test_hostile_dialogs.py).
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from django.apps import apps as django_apps
from django.core.management import call_command
from django.utils import timezone

from accounts.models import (
    Account,
    Contact,
    Interaction,
    Segment,
    SegmentMembership,
    Task,
    Team,
    User,
)
from feedback.models import AnswerTag, SurveyAnswer, Tag
from health.models import HealthScore, ScorecardVersion
from health.recompute import scorecard_default_restore
from health.retention import retention_snapshots_recompute
from journeys.models import Playbook, Stage
from reports.models import Initiative, Metric, MonthlyReport
from reports.services_monthly import monthly_report_generate
from reports.snapshots import metric_snapshots_recompute

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
QUOTE = "'-alert(1)-'"
TEMPLATE = "{{7*7}}"
HYPERLINK = '=HYPERLINK("http://x")'
PLUS = "+1+1"
MINUS = "-2+3"
AT = "@SUM(A1)"
TAB = "\t=1+2"
CR = "\r=1+2"
JS_URL = "javascript:alert(1)"

MARKUP = [SCRIPT, IMG, QUOTE, TEMPLATE]
FORMULAS = [HYPERLINK, PLUS, MINUS, AT, TAB, CR]
PAYLOADS = MARKUP + FORMULAS

# The CSM and team every page names: the charts of the team page carry them.
CSM_LAST_NAME = SCRIPT
TEAM_NAME = IMG


@dataclass
class HostileWorld:
    today: dt.date
    month: dt.date
    report: MonthlyReport
    accounts: list[Account]
    segment: Segment
    initiative: Initiative
    playbook: Playbook
    stage: Stage
    tag: Tag


def hostile(payload: str, what: str) -> str:
    """The payload first (a formula must start the cell), then a readable marker."""
    return f"{payload} {what}"


def hostile_world_build() -> HostileWorld:
    """The demo's accounts, renamed and annotated with every payload, snapshots computed and
    last month's report generated (without charts: they need Chromium)."""
    # A transactional test finds the migrations' default scorecard and stages flushed.
    scorecard_default_restore()
    if not Stage.objects.exists():
        stages = importlib.import_module("journeys.migrations.0002_default_stages")
        stages.create_defaults(django_apps, None)
    call_command(
        "seed_demo", "--accounts", "10", "--days", "120", "--health-days", "0", verbosity=0
    )
    today = timezone.localdate()
    month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)

    csm = User.objects.get(username="csm")
    User.objects.filter(pk=csm.pk).update(last_name=CSM_LAST_NAME)
    Team.objects.filter(pk=csm.team_id).update(name=TEAM_NAME)
    Team.objects.exclude(pk=csm.team_id).filter(name="SMB").update(name=hostile(HYPERLINK, "team"))

    accounts = list(Account.objects.order_by("pk"))
    for n, account in enumerate(accounts):
        account.name = hostile(PAYLOADS[n % len(PAYLOADS)], f"account {n}")
        account.domain = JS_URL
    Account.objects.bulk_update(accounts, ["name", "domain"])
    # The CSM's book holds a markup-named account whatever the demo's assignment was.
    Account.objects.filter(pk__in=[accounts[0].pk, accounts[1].pk]).update(
        owner=csm, team_id=csm.team_id
    )

    contacts = list(Contact.objects.order_by("pk"))
    for n, contact in enumerate(contacts):
        contact.name = hostile(PAYLOADS[n % len(PAYLOADS)], f"contact {n}")
        contact.title = SCRIPT
    Contact.objects.bulk_update(contacts, ["name", "title"])

    Interaction.objects.update(summary=hostile(IMG, "note"))
    for n, account in enumerate(accounts[:4]):
        Interaction.objects.create(
            account=account,
            author=csm,
            kind=Interaction.Kind.CALL,
            occurred_on=today - dt.timedelta(days=n + 1),
            summary=hostile(PAYLOADS[n], "interaction"),
        )
    Task.objects.update(title=hostile(SCRIPT, "task"), description=IMG)
    for n, account in enumerate(accounts[:4]):
        Task.objects.create(
            account=account,
            owner=csm,
            title=hostile(PAYLOADS[n], "task"),
            due_date=today + dt.timedelta(days=n),
        )

    tag = Tag.objects.create(name=hostile(SCRIPT, "tag"), description=IMG)
    answers = list(SurveyAnswer.objects.order_by("pk"))
    for n, answer in enumerate(answers):
        # The newest answers (the examples a CSV export quotes) carry the formulas.
        answer.comment = hostile(PAYLOADS[(n + len(MARKUP)) % len(PAYLOADS)], "comment")
        answer.answered_at = timezone.now() - dt.timedelta(days=n % 20 + 1)
    SurveyAnswer.objects.bulk_update(answers, ["comment", "answered_at"])
    AnswerTag.objects.bulk_create(AnswerTag(answer=answer, tag=tag) for answer in answers)

    segment = Segment.objects.create(
        name=hostile(IMG, "segment"), description=SCRIPT, kind=Segment.Kind.STATIC
    )
    SegmentMembership.objects.bulk_create(
        SegmentMembership(segment=segment, account=account) for account in accounts[:5]
    )
    # Segment names are unique: the others are numbered.
    for n, other in enumerate(Segment.objects.exclude(pk=segment.pk).order_by("pk")):
        Segment.objects.filter(pk=other.pk).update(
            name=hostile(PAYLOADS[n % len(PAYLOADS)], f"segment {n}")
        )
    initiative = Initiative.objects.create(
        name=hostile(SCRIPT, "initiative"),
        description=IMG,
        segment=segment,
        start_date=month - dt.timedelta(days=31),
        metric=Metric.values[0],
    )
    playbook = Playbook.objects.create(
        name=hostile(IMG, "playbook"),
        description=SCRIPT,
        trigger=Playbook.Trigger.RENEWAL_IN_DAYS,
        params={"days": 90},
    )
    stage = Stage.objects.order_by("order").first()
    assert stage is not None, "the migrations create the default journey stages"
    stage.name = hostile(SCRIPT, "stage")
    stage.save(update_fields=["name"])

    _health_scores_write(accounts, today)
    retention_snapshots_recompute(today=today)
    metric_snapshots_recompute(today=today)
    report = monthly_report_generate(month=month, today=today, notify=False, charts=False)
    return HostileWorld(
        today=today,
        month=month,
        report=report,
        accounts=accounts,
        segment=segment,
        initiative=initiative,
        playbook=playbook,
        stage=stage,
        tag=tag,
    )


def _health_scores_write(accounts: list[Account], today: dt.date) -> None:
    """A score a month ago and one yesterday per account (some falling), so the health
    page's distribution, trend and movers have rows."""
    version = ScorecardVersion.objects.filter(scorecard__name="Default").latest("pk")
    rows = []
    for n, account in enumerate(accounts):
        for day, score in [(today - dt.timedelta(days=31), 80), (today, 90 - 8 * n)]:
            band = "red" if score < 40 else "green" if score >= 70 else "yellow"
            rows.append(
                HealthScore(
                    account=account,
                    day=day,
                    score=score,
                    band=band,
                    computed_score=score,
                    computed_band=band,
                    components={
                        "usage": {
                            "raw": 0.5,
                            "points": score,
                            "weight": 30,
                            "effective_weight": 1.0,
                        }
                    },
                    scorecard_version=version,
                    usage_through=day,
                )
            )
        account.health_score, account.health_band = rows[-1].score, rows[-1].band
    HealthScore.objects.bulk_create(rows, ignore_conflicts=True)
    Account.objects.bulk_update(accounts, ["health_score", "health_band"])


# --- Reading pages -----------------------------------------------------------------------


class MarkupScanner(HTMLParser):
    """Elements and attributes a payload could have smuggled into the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.figures: list[str] = []
        self._script: dict[str, str] | None = None
        self._script_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag}> carries an event handler {name}={value!r}")
            if name in {"href", "src", "action", "formaction"} and re.match(
                r"\s*javascript:", value, re.IGNORECASE
            ):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "img" and values.get("src") == "x":
            self.problems.append("an <img src=x> from a payload")
        if tag == "script":
            self._script, self._script_text = values, []

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            text = "".join(self._script_text)
            if self._script.get("type") == "application/json":
                self.figures.append(text)
            elif "src" not in self._script or text.strip():
                self.problems.append(f"an inline script: {text[:80]!r}")
            self._script = None


def markup_problems(html: str) -> tuple[list[str], list[str]]:
    """What a payload broke out into, and the JSON payloads of the page's charts."""
    scanner = MarkupScanner()
    scanner.feed(html)
    problems = list(scanner.problems)
    for raw in (SCRIPT, "<img src=x", "onerror=alert(1)>"):
        # Escaped text never holds these: "<" becomes &lt; and ">" &gt;.
        if raw in html:
            problems.append(f"the raw text {raw!r} is in the page")
    return problems, scanner.figures
