"""The feedback overview's rows written in Python: each ready string against the template
filters it replaced, the follow-up queue's queries, and the page's query budget."""

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.template import Context, Template
from django.urls import NoReverseMatch, reverse

from accounts.filters import PlainSelect
from accounts.models import Account
from accounts.selectors.access import accounts_visible_to
from cs_platform import row_format
from feedback.forms_insights import FeedbackScopeForm
from feedback.metrics import ScoreCounts
from feedback.models import FollowUp, Survey, SurveyAnswer
from feedback.selectors_insights import BreakdownRow, follow_up_queue
from feedback.views.insights import (
    answers_text,
    breakdown_table_html,
    day_label,
    follow_up_rows_html,
    plain_selects,
)
from reports.snapshots import metric_snapshots_recompute
from tests.factories import (
    AccountFactory,
    ContactFactory,
    SegmentFactory,
    SurveyAnswerFactory,
    TaskFactory,
)

PAGE = reverse("feedback:overview")
DAY = dt.date(2026, 3, 15)

# The table as feedback/partials/_insights_breakdown_table.html wrote it, included from the
# breakdown section; breakdown_table_html must print exactly this.
OLD_BREAKDOWN_TABLE = """{% load humanize %}{% comment %}
One breakdown.
{% endcomment %}
{% if rows %}
<table class="data" id="{{ table_id }}">
  <thead><tr><th scope="col">{{ caption }}</th>
    {% for name in kind_names %}<th scope="col" class="num">{{ name }}</th>{% endfor %}
  </tr></thead>
  <tbody>
  {% for row in rows %}
    <tr data-row="{{ row.label }}">
      <th scope="row">{{ row.label }}</th>
      CELLS
    </tr>
  {% endfor %}
  </tbody>
</table>
{% else %}
<p class="muted">{{ none_text }}</p>
{% endif %}
""".replace(
    "CELLS",
    '{% for cell in row.cells %}<td class="num"><span data-score>{{ cell.score }}</span>'
    '<div class="muted">{{ cell.answers|intcomma }} answer{{ cell.answers|pluralize }}</div>'
    "</td>{% endfor %}",
)


@pytest.mark.parametrize("count", [0, 1, 2, 999, 1000, 1234, 1234567])
def test_answers_text_is_what_intcomma_and_pluralize_wrote(count):
    old = Template("{% load humanize %}{{ n|intcomma }} answer{{ n|pluralize }}")
    assert answers_text(count) == old.render(Context({"n": count}))


def test_answers_text_by_hand():
    assert answers_text(1) == "1 answer"
    assert answers_text(0) == "0 answers"
    assert answers_text(12345) == "12,345 answers"


def _rows():
    # NPS: 3 promoters, 1 detractor of 5 -> 40.0; CSAT: 1 satisfied of 1 -> 100.0%;
    # CES: 1,500 answers summing 6,000 -> 4.0. The second group has none: dashes.
    busy = ScoreCounts(
        promoters=3,
        passives=1,
        detractors=1,
        csat_satisfied=1,
        csat_answers=1,
        ces_sum=6000,
        ces_answers=1500,
    )
    return [
        BreakdownRow(label='<b>"R&D"</b> O\'Neil', counts=busy, kinds=("nps", "csat", "ces")),
        BreakdownRow(label="Quiet", counts=ScoreCounts(), kinds=("nps", "csat", "ces")),
    ]


def test_a_breakdown_table_is_what_its_template_wrote():
    rows = _rows()
    kinds = ["NPS", "CSAT", "CES"]
    old = Template(OLD_BREAKDOWN_TABLE).render(
        Context(
            {
                "rows": rows,
                "kind_names": kinds,
                "table_id": "breakdown-team",
                "caption": "Team",
                "none_text": "No answers in this period.",
            }
        )
    )
    new = breakdown_table_html(
        rows,
        kind_names=kinds,
        table_id="breakdown-team",
        caption="Team",
        none_text="No answers in this period.",
    )

    assert new == old
    assert '<td class="num"><span data-score>40.0</span><div class="muted">5 answers' in new
    assert '<span data-score>100.0%</span><div class="muted">1 answer</div>' in new
    assert '<span data-score>4.0</span><div class="muted">1,500 answers</div>' in new
    assert '<span data-score>—</span><div class="muted">0 answers</div>' in new
    # A group's name is text, never markup.
    assert "&lt;b&gt;&quot;R&amp;D&quot;&lt;/b&gt; O&#x27;Neil" in new
    assert "<b>" not in new


def test_an_empty_breakdown_is_what_its_template_wrote():
    old = Template(OLD_BREAKDOWN_TABLE).render(
        Context({"rows": [], "kind_names": ["NPS"], "none_text": "No tiers & <none>."})
    )
    new = breakdown_table_html(
        [], kind_names=["NPS"], table_id="t", caption="Tier", none_text="No tiers & <none>."
    )
    assert new == old
    assert '<p class="muted">No tiers &amp; &lt;none&gt;.</p>' in new


def _answer(account, score, when):
    survey, _ = Survey.objects.get_or_create(
        name="NPS survey", defaults={"kind": "nps", "question": "How likely?"}
    )
    return SurveyAnswerFactory(
        survey=survey, account=account, kind="nps", score=score, answered_at=when
    )


def _follow_up(account, day, **extra):
    when = dt.datetime(2026, 3, day, 12, tzinfo=dt.UTC)
    row = FollowUp.objects.create(answer=_answer(account, 2, when), **extra)
    FollowUp.objects.filter(pk=row.pk).update(created_at=when)
    return row


@pytest.mark.django_db
def test_an_empty_queue_costs_one_query(django_assert_num_queries):
    AccountFactory()
    with django_assert_num_queries(1):
        queue = follow_up_queue(Account.objects.all(), today=DAY)
    assert (queue.rows, queue.total, queue.more) == ([], 0, 0)


@pytest.mark.django_db
def test_a_long_queue_lists_the_oldest_and_counts_all_in_two_queries(
    owner, manager, django_assert_num_queries
):
    account = AccountFactory(owner=owner)
    task = TaskFactory(account=account, owner=manager)
    _follow_up(account, 4)
    _follow_up(account, 2, task=task)
    _follow_up(account, 3)
    # Contacted: no longer in the queue nor in its count.
    _follow_up(account, 1, status=FollowUp.Status.CONTACTED)

    with django_assert_num_queries(2):
        queue = follow_up_queue(Account.objects.all(), today=DAY, limit=2)
        owners = [row.owner for row in queue.rows]

    # Open on 2 and 3 March, the 15th today: 13 and 12 days; the task's owner calls first.
    assert [row.age_days for row in queue.rows] == [13, 12]
    assert owners == [manager, owner]
    assert (queue.total, queue.more) == (3, 1)


@pytest.mark.django_db
def test_a_csm_queue_leaves_out_other_teams_follow_ups(owner, outsider):
    mine = AccountFactory(owner=owner, team=owner.team)
    theirs = AccountFactory(owner=outsider, team=outsider.team)
    _follow_up(mine, 5)
    _follow_up(theirs, 1)

    queue = follow_up_queue(accounts_visible_to(owner), today=DAY)

    assert [row.account for row in queue.rows] == [mine]
    assert queue.total == 1


@pytest.mark.django_db
def test_the_overview_keeps_its_queries_with_or_without_follow_ups(
    client_for, manager, owner, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr("feedback.views.insights.local_today", lambda: DAY)
    accounts = [AccountFactory(owner=owner, team=owner.team) for _ in range(3)]
    client = client_for(manager)
    client.get(PAGE)  # warm caches (content types, sessions)
    with django_assert_max_num_queries(30) as none:
        client.get(PAGE)
    for n, account in enumerate(accounts * 10):
        _follow_up(account, 1 + n % 14)
    with django_assert_max_num_queries(len(none.captured_queries) + 1) as many:
        response = client.get(PAGE)

    # The queue's details are the one query an empty queue does not need.
    assert len(many.captured_queries) == len(none.captured_queries) + 1
    assert response.context["queue"].total == 30
    assert len(response.context["queue"].rows) == 25


def _without_blank_lines(html):
    return re.sub(r"\n\s*\n", "\n", str(html))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        {},
        {"team": "TEAM", "segment": "SEGMENT", "tier": "scaled", "kind": "nps"},
        {"period": "year", "kind": "bogus", "team": "999999"},
    ],
)
def test_the_plain_dropdowns_are_djangos_but_for_blank_lines(manager, enterprise_team, data):
    segment = SegmentFactory(name='R&D <"beta">')
    values = {
        key: str(enterprise_team.pk if value == "TEAM" else segment.pk)
        if value in ("TEAM", "SEGMENT")
        else value
        for key, value in data.items()
    }
    visible = accounts_visible_to(manager)
    django_form = FeedbackScopeForm(values, user=manager, visible=visible)
    plain_form = FeedbackScopeForm(values, user=manager, visible=visible)
    plain_selects(plain_form)
    django_form.is_valid()
    plain_form.is_valid()

    for name in ("segment", "team", "tier", "kind", "period"):
        assert isinstance(plain_form.fields[name].widget, PlainSelect)
        assert _without_blank_lines(plain_form[name]) == _without_blank_lines(django_form[name])
    assert "R&amp;D &lt;&quot;beta&quot;&gt;</option>" in str(plain_form["segment"])


@pytest.mark.django_db
def test_a_csm_is_offered_only_their_own_team(owner, enterprise_team, smb_team):
    form = FeedbackScopeForm({}, user=owner, visible=accounts_visible_to(owner))
    plain_selects(form)

    html = str(form["team"])

    assert f'<option value="{enterprise_team.pk}">{enterprise_team.name}</option>' in html
    assert f'value="{smb_team.pk}"' not in html
    # Asking for another team is refused, not widened to the book.
    other = FeedbackScopeForm(
        {"team": str(smb_team.pk)}, user=owner, visible=accounts_visible_to(owner)
    )
    plain_selects(other)
    assert not other.is_valid()
    assert 'aria-invalid="true"' in str(other["team"])


@pytest.mark.django_db
def test_stored_figures_are_kept_in_process_only_while_the_cache_holds_them(
    client_for, manager, owner, monkeypatch
):
    monkeypatch.setattr("feedback.views.insights.local_today", lambda: DAY)
    account = AccountFactory(owner=owner, team=owner.team)
    _answer(account, 10, dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC))
    metric_snapshots_recompute(today=DAY)
    client = client_for(manager)
    first = client.get(PAGE).context["by_team"]
    assert [row.label for row in first] == [owner.team.name]

    # Read again: the same rows, not unpickled from the cache again.
    unpickled = []
    real_get = cache.get
    monkeypatch.setattr(cache, "get", lambda key, *a: unpickled.append(key) or real_get(key, *a))
    again = client.get(PAGE).context["by_team"]
    assert again is first
    assert not [key for key in unpickled if "feedback-stored" in key and "token" not in key]

    # Once the cache lets them go (expired, cleared), they are read afresh: a renamed team
    # shows under its new name.
    owner.team.name = "Renamed"
    owner.team.save(update_fields=["name"])
    cache.clear()
    fresh = client.get(PAGE).context["by_team"]
    assert [row.label for row in fresh] == ["Renamed"]


OLD_QUEUE_LOOP = (
    "{% for row in queue.rows %}\n"
    "    {% url 'feedback:follow_up' row.answer.pk as follow_up_url %}\n"
    '    <tr data-follow-up="{{ row.follow_up.pk }}">\n'
    "      <td data-score>{{ row.score_label }}"
    '<div class="muted">{{ row.answer.answered_at|date:"j M Y" }}</div></td>\n'
    '      <td><a href="{{ row.account.get_absolute_url }}">{{ row.account.name }}</a>'
    '{% if row.answer.contact %}<div class="muted">{{ row.answer.contact.name }}</div>'
    "{% endif %}</td>\n"
    '      <td>{{ row.owner|default:"Unassigned" }}</td>\n'
    '      <td class="num" data-age="{{ row.age_days }}">{{ row.age_days }} day'
    "{{ row.age_days|pluralize }}</td>\n"
    '      <td>{{ row.answer.comment|truncatechars:140|default:"—" }}</td>\n'
    '      <td>{% if follow_up_url %}<a class="btn btn-small" href="{{ follow_up_url }}">'
    'Follow up</a>{% else %}<a class="btn btn-small" href="{{ row.account.get_absolute_url }}">'
    "Open account</a>{% endif %}</td>\n"
    "    </tr>\n"
    "  {% endfor %}"
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2026, 3, 1, 0, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 2, 28, 23, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC),
        dt.datetime(2026, 7, 9, 12, 0, tzinfo=dt.UTC),
    ],
)
def test_a_day_label_is_what_the_date_filter_wrote(moment):
    old = Template('{{ moment|date:"j M Y" }}').render(Context({"moment": moment}))
    assert day_label(moment) == old


@pytest.mark.django_db
def test_the_queue_rows_are_what_their_template_wrote(owner, manager):
    account = AccountFactory(name='Acme <"R&D">', owner=owner, team=owner.team)
    bare = AccountFactory(name="Bare", owner=None, team=owner.team)
    contact = ContactFactory(account=account, name="O'Hara <b>")
    long_comment = "Slow & <broken> " * 12  # 192 characters: 8 x 16 + 11 and an ellipsis
    first = _follow_up(account, 2, task=TaskFactory(account=account, owner=manager))
    SurveyAnswer.objects.filter(pk=first.answer_id).update(
        contact=contact, comment=long_comment, score=1
    )
    _follow_up(bare, 14)
    queue = follow_up_queue(Account.objects.all(), today=DAY)
    assert [row.age_days for row in queue.rows] == [13, 1]

    old = Template(OLD_QUEUE_LOOP).render(Context({"queue": queue}))
    new = follow_up_rows_html(queue.rows)

    assert new == old
    assert "Acme &lt;&quot;R&amp;D&quot;&gt;</a>" in new
    assert '<div class="muted">O&#x27;Hara &lt;b&gt;</div>' in new
    assert f"<td>{manager}</td>" in new
    assert "<td>Unassigned</td>" in new
    assert 'data-age="1">1 day</td>' in new
    assert 'data-age="13">13 days</td>' in new
    assert "<td>—</td>" in new
    cut = "Slow &amp; &lt;broken&gt; " * 8 + "Slow &amp; &lt;bro…"
    assert f"<td>{cut}</td>" in new
    assert '<div class="muted">2 Mar 2026</div>' in new
    follow_up_link = reverse("feedback:follow_up", args=[first.answer_id])
    assert f'href="{follow_up_link}">Follow up</a>' in new
    assert f'href="{bare.get_absolute_url()}">Bare</a>' in new


@pytest.mark.django_db
def test_without_the_follow_up_pages_a_row_links_to_its_account(owner, monkeypatch):
    account = AccountFactory(name="Acme", owner=owner, team=owner.team)
    _follow_up(account, 3)
    # The queue's links are reversed once each through row_format.url_by_id.
    real_reverse = row_format.reverse

    def reverse_without_follow_ups(name, *args, **kwargs):
        if name == "feedback:follow_up":
            raise NoReverseMatch(name)
        return real_reverse(name, *args, **kwargs)

    monkeypatch.setattr(row_format, "reverse", reverse_without_follow_ups)
    queue = follow_up_queue(Account.objects.all(), today=DAY)

    html = follow_up_rows_html(queue.rows)

    assert f'<a class="btn btn-small" href="{account.get_absolute_url()}">Open account</a>' in html
    assert "Follow up" not in html
