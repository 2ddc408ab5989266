"""The demo's manager setup: the quarter's targets, feedback tags with rules applied to the
demo's comments, and one running initiative, each made once however often the demo is
seeded."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Team
from feedback.models import AnswerTag, SurveyAnswer, Tag, TagRule
from feedback.tagging import keyword_matches
from reports.demo.manager_setup import COMPANY_TARGETS, DEMO_TAGS, INITIATIVE_NAME
from reports.models import Initiative, Scope, Target
from reports.snapshots import quarter_floor

pytestmark = pytest.mark.django_db


def seed() -> None:
    call_command("seed_demo", "--accounts", "30", "--days", "90", "--health-days", "0", verbosity=0)


def test_targets_for_the_quarter_company_wide_and_per_team():
    seed()

    quarter = quarter_floor(timezone.localdate())
    company = Target.objects.filter(scope=Scope.COMPANY)
    assert {(t.metric, t.direction, t.value) for t in company} == {
        (plan.metric, plan.direction, Decimal(plan.value)) for plan in COMPANY_TARGETS
    }
    teams = Target.objects.filter(scope=Scope.TEAM)
    assert sorted(teams.values_list("scope_key", flat=True)) == sorted(
        str(pk) for pk in Team.objects.values_list("pk", flat=True)
    )
    assert {t.period_start for t in Target.objects.all()} == {quarter}
    assert {t.period for t in Target.objects.all()} == {Target.Period.QUARTER}


def test_comments_are_tagged_by_the_demo_rules():
    seed()

    assert set(Tag.objects.values_list("name", flat=True)) == {name for name, _, _ in DEMO_TAGS}
    assert TagRule.objects.count() == len(DEMO_TAGS)
    # Worked out from the comments themselves: an answer carries a tag exactly when one of
    # the tag's keywords is in its comment.
    keywords = {name: [k.strip() for k in words.split(",")] for name, _, words in DEMO_TAGS}
    expected = {
        (answer.pk, name)
        for answer in SurveyAnswer.objects.exclude(comment="")
        for name, words in keywords.items()
        if any(keyword_matches(answer.comment, word) for word in words)
    }
    assert expected
    assert set(AnswerTag.objects.values_list("answer_id", "tag__name")) == expected


def test_one_running_initiative_on_the_high_touch_segment():
    seed()

    initiative = Initiative.objects.get()
    assert initiative.name == INITIATIVE_NAME
    assert initiative.segment.name == "High-touch"
    assert initiative.end_date is None
    assert initiative.start_date < timezone.localdate().replace(day=1)
    assert initiative.owner.username == "manager"


def test_seeding_again_does_not_duplicate_the_setup():
    seed()
    counts = (Target.objects.count(), Tag.objects.count(), Initiative.objects.count())

    seed()

    assert (Target.objects.count(), Tag.objects.count(), Initiative.objects.count()) == counts
    assert TagRule.objects.count() == len(DEMO_TAGS)
