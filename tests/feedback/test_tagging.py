"""Keyword rules tag comments: pure matching, rules applied on every answer, the tag-rules
page and re-applying rules to all answers."""

import pytest

from feedback.models import AnswerTag, Tag, TagRule
from feedback.services import answer_record, tag_rules_reapply
from feedback.tagging import keyword_rule, keywords_parse, tags_matching, text_normalise
from tests.factories import SurveyAnswerFactory, SurveyFactory

RULES_PAGE = "/feedback/surveys/tags/"

# --- pure matching -----------------------------------------------------------------------


def test_text_is_normalised_to_lower_case_words_between_single_spaces():
    assert text_normalise("Export is SLOW!!  (again)") == " export is slow again "
    assert text_normalise("  ...  ") == ""


def test_keywords_are_split_on_commas_trimmed_and_deduplicated():
    assert keywords_parse(" slow, Timeout ,, slow ,takes  forever, !!") == [
        "slow",
        "timeout",
        "takes forever",
    ]


@pytest.mark.parametrize(
    ("comment", "matches"),
    [
        ("Export is slow", True),
        ("The CSV-export broke", True),  # punctuation separates words
        ("EXPORT!!!", True),  # case and punctuation ignored
        ("exporting takes ages", False),  # whole words only
        ("re-export", True),
        ("", False),
    ],
)
def test_a_single_keyword_matches_whole_words_only(comment, matches):
    rules = [keyword_rule(7, "export")]
    assert (tags_matching(comment, rules) == {7}) is matches


def test_a_phrase_matches_across_punctuation_and_spacing_but_not_in_another_order():
    rules = [keyword_rule(3, "too slow")]
    assert tags_matching("Way TOO   slow, honestly.", rules) == {3}
    assert tags_matching("too-slow", rules) == {3}
    assert tags_matching("slow, too", rules) == set()


def test_any_keyword_of_a_rule_matches_and_several_tags_can_match():
    rules = [
        keyword_rule(1, "slow, timeout"),
        keyword_rule(2, "report, export"),
        keyword_rule(3, "price"),
    ]
    assert tags_matching("Timeouts aside, the report is great", rules) == {2}
    assert tags_matching("timeout on every export", rules) == {1, 2}


def test_keywords_with_apostrophes_match_the_same_spelling():
    assert tags_matching("I can't log in", [keyword_rule(5, "can't log in")]) == {5}


# --- rules applied to answers ------------------------------------------------------------


@pytest.fixture
def performance(db):
    tag = Tag.objects.create(name="performance")
    TagRule.objects.create(tag=tag, keywords="slow, timeout")
    return tag


@pytest.fixture
def reporting(db):
    tag = Tag.objects.create(name="reporting")
    TagRule.objects.create(tag=tag, keywords="export, report")
    return tag


def test_answer_record_tags_the_comment_by_the_active_rules(account, performance, reporting):
    Tag.objects.create(name="pricing").rules.create(keywords="price", is_active=False)
    answer = answer_record(
        survey=SurveyFactory(kind="nps"),
        account=account,
        contact=None,
        score=8,
        comment="Export is slow and the price is high",
    )
    tagged = {(at.tag.name, at.source) for at in answer.answer_tags.select_related("tag")}
    # The inactive pricing rule does not fire.
    assert tagged == {("performance", "rule"), ("reporting", "rule")}


def test_reapply_adds_earned_tags_removes_stale_rule_tags_and_keeps_manual_ones(
    account, performance, reporting
):
    survey = SurveyFactory()
    slow = SurveyAnswerFactory(survey=survey, account=account, comment="So slow")
    export = SurveyAnswerFactory(survey=survey, account=account, comment="export broke")
    silent = SurveyAnswerFactory(survey=survey, account=account, comment="")
    # A rule tag the comment no longer earns, and a hand-set tag the rules would not set.
    AnswerTag.objects.create(answer=silent, tag=performance, source=AnswerTag.Source.RULE)
    AnswerTag.objects.create(answer=export, tag=performance, source=AnswerTag.Source.MANUAL)

    result = tag_rules_reapply()

    # slow+performance and export+reporting are added; silent loses its rule tag.
    assert (result.answers_scanned, result.tags_added, result.tags_removed) == (3, 2, 1)
    pairs = set(AnswerTag.objects.values_list("answer_id", "tag_id", "source"))
    assert pairs == {
        (slow.pk, performance.pk, "rule"),
        (export.pk, reporting.pk, "rule"),
        (export.pk, performance.pk, "manual"),
    }
    # A second run changes nothing.
    again = tag_rules_reapply()
    assert (again.tags_added, again.tags_removed) == (0, 0)


# --- the tags and rules page -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["owner", "executive"])
def test_only_admins_and_managers_open_the_tag_rules_page(client_for, request, persona):
    user = request.getfixturevalue(persona)
    assert client_for(user).get(RULES_PAGE).status_code == 403
    assert client_for(user).post(RULES_PAGE + "reapply/").status_code == 403
    assert client_for(user).post(RULES_PAGE + "new/", {"name": "x"}).status_code == 403
    assert not Tag.objects.exists()


def test_a_manager_creates_a_tag_and_a_rule_and_sees_them_listed(
    client_for, manager, django_assert_max_num_queries
):
    client = client_for(manager)
    response = client.post(RULES_PAGE + "new/", {"name": " Performance ", "description": ""})
    assert response.status_code == 302
    tag = Tag.objects.get()
    assert tag.name == "Performance"
    response = client.post(
        RULES_PAGE + "rules/new/",
        {"tag": tag.pk, "keywords": "Slow, timeout,, slow", "is_active": "on"},
    )
    assert response.status_code == 302
    assert TagRule.objects.get().keywords == "slow, timeout"

    with django_assert_max_num_queries(8):
        page = client.get(RULES_PAGE)
    html = page.content.decode()
    assert "Performance" in html
    assert "slow, timeout" in html


def test_a_duplicate_tag_name_and_empty_keywords_are_refused_beside_the_field(
    client_for, manager, performance
):
    client = client_for(manager)
    response = client.post(RULES_PAGE + "new/", {"name": "PERFORMANCE"})
    assert response.status_code == 400
    assert "There is already a tag called" in response.content.decode()
    response = client.post(RULES_PAGE + "rules/new/", {"tag": performance.pk, "keywords": " , ,"})
    assert response.status_code == 400
    assert 'data-error-for="keywords"' in response.content.decode()
    assert Tag.objects.count() == 1
    assert TagRule.objects.count() == 1


def test_the_reapply_button_reports_its_counts(client_for, manager, account, performance):
    SurveyAnswerFactory(account=account, comment="timeout again")
    response = client_for(manager).post(RULES_PAGE + "reapply/", follow=True)
    assert "Rules re-applied to 1 answers: 1 tags added, 0 removed." in response.content.decode()


def test_deleting_a_tag_asks_first_then_removes_it_with_its_rules(client_for, manager, performance):
    client = client_for(manager)
    confirm = client.get(f"{RULES_PAGE}{performance.pk}/delete/")
    assert "Delete the tag" in confirm.content.decode()
    assert Tag.objects.exists()
    client.post(f"{RULES_PAGE}{performance.pk}/delete/")
    assert not Tag.objects.exists()
    assert not TagRule.objects.exists()
