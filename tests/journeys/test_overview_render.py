"""The journeys page's overdue rows, printed in Python, must read exactly as the row template
printed them: same URLs, escaping, date and number formats."""

import datetime as dt

from django.template import Context, Template
from django.template.defaultfilters import date as date_filter

from journeys.selectors import OverdueMilestone
from journeys.status import MilestoneStatus
from journeys.views.journeys import day_text, overdue_lines, url_by_id

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
