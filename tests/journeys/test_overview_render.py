"""The journeys page's overdue rows, printed in Python, must read exactly as the row template
printed them: same URLs, escaping, date and number formats."""

import datetime as dt
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.template.defaultfilters import date as date_filter

from journeys.models import Stage
from journeys.selectors import FunnelStep, OverdueMilestone, StageTime, TtvMonth
from journeys.status import MilestoneStatus
from journeys.views.journeys import (
    day_text,
    funnel_lines,
    one_decimal,
    overdue_lines,
    time_lines,
    ttv_lines,
    url_by_id,
    whole,
)

# The row as templates/journeys/journeys_overview.html printed it before.
ROW_TEMPLATE = Template(
    """{% load humanize %}{% for row in rows %}
    <tr data-account="{{ row.account_id }}" data-status="{{ row.status }}">
      <td><a href="{% url 'accounts:account_detail' row.account_id %}">{{ row.account_name }}</a></td>
      <td>{{ row.owner_name|default:"Unassigned" }}</td>
      <td><a href="{% url 'journeys:account_journey' row.account_id %}">{{ row.stage_name }}</a></td>
      <td>{{ row.milestone_name }}{% if not row.is_required %} <span class="tag">Optional</span>{% endif %}</td>
      <td>{{ row.due_on|date:"j M Y" }}</td>
      <td class="num" data-days-late>{{ row.days_late|intcomma }}</td>
      <td><span class="band band-{{ row.status.band }}">{{ row.status.label }}</span></td>
    </tr>
  {% endfor %}"""  # noqa: E501
)
LINES_TEMPLATE = Template(
    """{% for line in lines %}
    {{ line }}
  {% endfor %}"""
)


def row(**overrides) -> OverdueMilestone:
    values = {
        "account_id": 7,
        "account_name": "Acme",
        "owner_name": "Dana Scully",
        "stage_name": "Onboarding",
        "milestone_name": "Kickoff call held",
        "is_required": True,
        "status": MilestoneStatus.STUCK,
        "due_on": dt.date(2026, 3, 5),
        "days_late": 10,
    }
    values.update(overrides)
    return OverdueMilestone(**values)


def test_day_text_writes_every_month_as_the_date_filter():
    days = [dt.date(2026, month, day) for month in range(1, 13) for day in (1, 9, 10, 28)]
    assert [day_text(d) for d in days] == [date_filter(d, "j M Y") for d in days]
    assert day_text(dt.date(2026, 9, 3)) == "3 Sep 2026"


def test_url_by_id_is_reverse_with_the_id_filled_in():
    assert url_by_id("accounts:account_detail")(42) == "/accounts/42/"
    assert url_by_id("journeys:account_journey")(987) == "/journeys/accounts/987/"


def test_overdue_lines_print_what_the_row_template_printed():
    rows = [
        row(),
        # Typed names are escaped; an unowned account says so; an optional milestone says so.
        row(
            account_id=12345,
            account_name='<b>Smith & "Sons"</b> O\'Neil',
            owner_name="",
            stage_name="Adopt <i>",
            milestone_name="Setup & 'go'",
            is_required=False,
            status=MilestoneStatus.BEHIND,
            due_on=dt.date(2025, 12, 31),
            days_late=1234,
        ),
        row(account_id=3, days_late=0, status=MilestoneStatus.ON_TRACK, due_on=dt.date(2026, 1, 1)),
        row(account_id=4, days_late=1000000, status=MilestoneStatus.DONE),
    ]
    lines = overdue_lines(rows)
    assert LINES_TEMPLATE.render(Context({"lines": lines})) == ROW_TEMPLATE.render(
        Context({"rows": rows})
    )
    assert lines[1] == (
        '<tr data-account="12345" data-status="behind">\n'
        '      <td><a href="/accounts/12345/">&lt;b&gt;Smith &amp; &quot;Sons&quot;&lt;/b&gt;'
        " O&#x27;Neil</a></td>\n"
        "      <td>Unassigned</td>\n"
        '      <td><a href="/journeys/accounts/12345/">Adopt &lt;i&gt;</a></td>\n'
        '      <td>Setup &amp; &#x27;go&#x27; <span class="tag">Optional</span></td>\n'
        "      <td>31 Dec 2025</td>\n"
        '      <td class="num" data-days-late>1,234</td>\n'
        '      <td><span class="band band-yellow">Behind</span></td>\n'
        "    </tr>"
    )


def lines_template(indent: str, end: str) -> Template:
    return Template(f"{{% for line in lines %}}\n{indent}{{{{ line }}}}\n{end}{{% endfor %}}")


FUNNEL_TEMPLATE = Template(
    """{% load humanize %}{% for step in steps %}
        <tr data-stage="{{ step.stage.slug }}"><td>{{ step.label }}</td>
          <td class="num" data-accounts="{{ step.accounts }}">{{ step.accounts|intcomma }}</td>
          <td class="num" data-arr="{{ step.arr|floatformat:0 }}">${{ step.arr|floatformat:0|intcomma }}</td></tr>
      {% endfor %}"""  # noqa: E501
)
TIME_TEMPLATE = Template(
    """{% load humanize %}{% for t in times %}
      <tr data-stage="{{ t.stage.slug }}"><td>{{ t.stage.name }}</td>
        <td class="num">{% if t.target_days is not None %}{{ t.target_days }} d{% else %}—{% endif %}</td>
        <td class="num" data-stays>{{ t.stays|intcomma }}</td>
        <td class="num" data-median>{% if t.median_days is not None %}{{ t.median_days|floatformat:"-1" }} d{% if t.median_over_target %} <span class="band band-red">over</span>{% endif %}{% else %}—{% endif %}</td>
        <td class="num" data-p90>{% if t.p90_days is not None %}{{ t.p90_days|floatformat:"-1" }} d{% if t.p90_over_target %} <span class="band band-yellow">over</span>{% endif %}{% else %}—{% endif %}</td>
        <td class="num" data-now>{{ t.in_stage_now|intcomma }}</td>
        <td class="num" data-over-now>{{ t.over_target_now|intcomma }}</td></tr>
    {% endfor %}"""  # noqa: E501
)
TTV_TEMPLATE = Template(
    """{% load humanize %}{% for m in months %}
        <tr data-month="{{ m.month|date:'Y-m' }}"><td>{{ m.month|date:"M Y" }}</td>
          <td class="num" data-accounts>{{ m.accounts|intcomma }}</td>
          <td class="num" data-median>{% if m.median_days is not None %}{{ m.median_days|floatformat:"-1" }}{% else %}—{% endif %}</td></tr>
      {% endfor %}"""  # noqa: E501
)
DAYS = [0, 7, 0.0, 12.0, 12.04, 12.05, 12.25, 12.35, 0.05, 0.949, 99.95, 1234.5, Decimal("3.45")]


@pytest.mark.parametrize("days", DAYS)
def test_one_decimal_is_floatformat_minus_one(days):
    assert one_decimal(days) == Template('{{ v|floatformat:"-1" }}').render(Context({"v": days}))


@pytest.mark.parametrize(
    "amount", [0, Decimal("0.00"), Decimal("0.50"), Decimal("12345.49"), Decimal("2.5"), 7.5]
)
def test_whole_is_floatformat_zero(amount):
    assert whole(amount) == Template("{{ v|floatformat:0 }}").render(Context({"v": amount}))


def stage(slug: str, name: str, target_days: int | None) -> Stage:
    return Stage(slug=slug, name=name, target_days=target_days, order=1)


def test_funnel_lines_print_what_the_row_template_printed():
    steps = [
        FunnelStep(
            stage=stage("onboarding", "Onboarding", 30),
            label="Onboarding",
            accounts=0,
            arr=Decimal("0.00"),
        ),
        FunnelStep(
            stage=stage("r&d", "R&D <b>", None),
            label="R&D <b>",
            accounts=12345,
            arr=Decimal("1234567.50"),
        ),
        FunnelStep(stage=None, label="Not started", accounts=3, arr=Decimal("99.49")),
    ]
    lines = funnel_lines(steps)
    assert lines_template("        ", "      ").render(
        Context({"lines": lines})
    ) == FUNNEL_TEMPLATE.render(Context({"steps": steps}))
    assert lines[1] == (
        '<tr data-stage="r&amp;d"><td>R&amp;D &lt;b&gt;</td>\n'
        '          <td class="num" data-accounts="12345">12,345</td>\n'
        '          <td class="num" data-arr="1234568">$1,234,568</td></tr>'
    )


def test_time_lines_print_what_the_row_template_printed():
    onboarding = stage("onboarding", "Onboarding", 30)
    times = [
        StageTime(
            stage=onboarding,
            stays=1234,
            median_days=30.0,
            p90_days=30.05,
            in_stage_now=5678,
            over_target_now=0,
        ),
        StageTime(
            stage=onboarding,
            stays=0,
            median_days=None,
            p90_days=None,
            in_stage_now=0,
            over_target_now=0,
        ),
        StageTime(
            stage=stage("a<b", "Adopt & grow", None),
            stays=3,
            median_days=12.25,
            p90_days=99.0,
            in_stage_now=1,
            over_target_now=1,
        ),
    ]
    lines = time_lines(times)
    assert lines_template("      ", "    ").render(
        Context({"lines": lines})
    ) == TIME_TEMPLATE.render(Context({"times": times}))
    assert lines[0] == (
        '<tr data-stage="onboarding"><td>Onboarding</td>\n'
        '        <td class="num">30 d</td>\n'
        '        <td class="num" data-stays>1,234</td>\n'
        '        <td class="num" data-median>30 d</td>\n'
        '        <td class="num" data-p90>30.1 d <span class="band band-yellow">over</span></td>\n'
        '        <td class="num" data-now>5,678</td>\n'
        '        <td class="num" data-over-now>0</td></tr>'
    )


def test_ttv_lines_print_what_the_row_template_printed():
    months = [
        TtvMonth(month=dt.date(2025, month, 1), accounts=n, median_days=median)
        for month, n, median in [(1, 0, None), (9, 1500, 45.0), (10, 3, 20.25), (12, 7, 0.04)]
    ]
    lines = ttv_lines(months)
    assert lines_template("        ", "      ").render(
        Context({"lines": lines})
    ) == TTV_TEMPLATE.render(Context({"months": months}))
    assert lines[1] == (
        '<tr data-month="2025-09"><td>Sep 2025</td>\n'
        '          <td class="num" data-accounts>1,500</td>\n'
        '          <td class="num" data-median>45</td></tr>'
    )
