"""What a CS manager sets up in the first weeks, so the demo's pages show it from the first
login: targets for the quarter (actual against target on the dashboard and the team page),
feedback tags with keyword rules (the top themes of the insights page and the monthly
report), and one running program (the initiative page and the report's section on it).

Every object is made through the same services as the forms use, and only when missing, so
seeding twice does not duplicate them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from accounts.models import Segment, Team, User
from feedback.models import Tag, TagRule
from feedback.services import tag_create, tag_rule_create, tag_rules_reapply
from health.retention import month_add
from reports.models import Initiative, Metric, Scope, Target
from reports.services_initiatives import initiative_create
from reports.services_targets import target_create
from reports.snapshots import quarter_floor

# The themes of the demo's comments (reports/demo/vocabulary.py), as a manager would tag them.
DEMO_TAGS: list[tuple[str, str, str]] = [
    ("Performance", "Speed of exports and reports.", "slow, faster, painfully slow"),
    ("Reporting", "Reports, dashboards, Excel work-arounds.", "reporting, dashboards, excel"),
    ("Onboarding", "Getting set up and adopted.", "onboarding, set up, adopted"),
    ("Pricing", "Price and value for money.", "expensive, price, pricing"),
    ("Support", "Response time and quality of support.", "support, answer, reply, agent"),
    ("Integrations", "Salesforce and other integrations.", "integration, integrations, salesforce"),
]


@dataclass(frozen=True)
class TargetPlan:
    metric: str
    value: str
    scope: str = Scope.COMPANY
    direction: str = Target.Direction.AT_LEAST
    note: str = ""


# The quarter's goals: the company's, and one per team for average health, so the team page
# has targets to read against.
COMPANY_TARGETS = [
    TargetPlan(Metric.NRR, "100", note="Expansion covers churn and contraction."),
    TargetPlan(Metric.GRR, "95"),
    TargetPlan(Metric.NPS, "30"),
    TargetPlan(Metric.CSAT, "80"),
    TargetPlan(Metric.RENEWAL_RATE, "90"),
    TargetPlan(Metric.LOGO_CHURN, "1.5", direction=Target.Direction.AT_MOST),
]
TEAM_HEALTH_TARGET = "75"

INITIATIVE_NAME = "Onboarding webinars for high-touch accounts"
INITIATIVE_SEGMENT = "High-touch"
# Started this many months before the current one, so the report shows months on each side.
INITIATIVE_MONTHS_AGO = 4


@dataclass(frozen=True)
class SetupSummary:
    targets: int
    tags: int
    answers_tagged: int
    initiatives: int


def _targets_seed(*, quarter: dt.date, manager: User | None) -> int:
    teams = [str(pk) for pk in Team.objects.order_by("pk").values_list("pk", flat=True)]
    # Reseeding replaces the teams: targets of the teams it removed would point at nothing.
    Target.objects.filter(scope=Scope.TEAM).exclude(scope_key__in=teams).delete()
    plans = [(plan, plan.scope, "") for plan in COMPANY_TARGETS] + [
        (TargetPlan(Metric.AVG_HEALTH, TEAM_HEALTH_TARGET, scope=Scope.TEAM), Scope.TEAM, key)
        for key in teams
    ]
    made = 0
    for plan, scope, scope_key in plans:
        if Target.objects.filter(
            metric=plan.metric,
            period=Target.Period.QUARTER,
            period_start=quarter,
            scope=scope,
            scope_key=scope_key,
        ).exists():
            continue
        target_create(
            metric=plan.metric,
            direction=plan.direction,
            value=Decimal(plan.value),
            period=Target.Period.QUARTER,
            period_start=quarter,
            scope=scope,
            scope_key=scope_key,
            note=plan.note,
            created_by=manager,
        )
        made += 1
    return made


def _tags_seed() -> tuple[int, int]:
    made = 0
    for name, description, keywords in DEMO_TAGS:
        tag = Tag.objects.filter(name=name).first()
        if tag is None:
            tag = tag_create(name=name, description=description)
            made += 1
        if not TagRule.objects.filter(tag=tag).exists():
            tag_rule_create(tag=tag, keywords=keywords)
    return made, tag_rules_reapply().tags_added


def _initiative_seed(*, today: dt.date, manager: User | None) -> int:
    segment = Segment.objects.filter(name=INITIATIVE_SEGMENT).first()
    if segment is None or Initiative.objects.filter(name=INITIATIVE_NAME).exists():
        return 0
    start = month_add(today.replace(day=1), -INITIATIVE_MONTHS_AGO)
    initiative_create(
        name=INITIATIVE_NAME,
        description=(
            "Monthly live webinars on reporting and integrations for the high-touch tier, "
            "to lift usage of the key features."
        ),
        segment=segment,
        start_date=start,
        end_date=None,
        owner=manager,
        metric=Metric.AVG_HEALTH,
    )
    return 1


def manager_setup_seed(*, today: dt.date) -> SetupSummary:
    manager = User.objects.filter(username="manager").first()
    targets = _targets_seed(quarter=quarter_floor(today), manager=manager)
    tags, tagged = _tags_seed()
    initiatives = _initiative_seed(today=today, manager=manager)
    return SetupSummary(targets=targets, tags=tags, answers_tagged=tagged, initiatives=initiatives)
