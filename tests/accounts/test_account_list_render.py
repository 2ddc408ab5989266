"""The account list's rows, printed in Python, must read exactly as the row template printed
them: escaping, empty cells, health band, risk attribute and renewal lines included."""

import datetime as dt
from decimal import Decimal

import pytest
from django.template import Context, Template

from accounts.models import Account, Team, User
from accounts.selectors.account_list import account_rows

# The row as templates/accounts/account_list.html printed it before.
ROW_TEMPLATE = Template(
    """{% for row in rows %}{% with a=row.account %}
    <tr data-account="{{ a.pk }}">
      <td><a href="{{ row.url }}">{{ a.name }}</a>{% if a.industry %}<div class="muted">{{ a.industry }}</div>{% endif %}</td>
      <td>{{ row.owner }}</td>
      <td>{{ row.team }}</td>
      <td>{{ row.tier }}</td>
      <td>{{ row.lifecycle }}</td>
      <td class="num">${{ row.arr }}</td>
      <td>{% if row.renewal %}{{ row.renewal }}
        <div class="muted" data-days="{{ row.days_to_renewal }}">{{ row.renewal_when }}</div>
        {% else %}<span class="muted">No renewal</span>{% endif %}</td>
      <td class="num">{% if a.health_score is not None %}{{ a.health_score }} <span class="band band-{{ a.health_band|default:'none' }}">{{ row.band_label }}</span>{% else %}<span class="band band-none">No score</span>{% endif %}</td>
      <td class="num" data-risk="{{ a.churn_risk|default_if_none:'' }}">{% if row.risk_percent %}{{ row.risk_percent }} %{% else %}<span class="muted">—</span>{% endif %}</td>
      <td>{% if row.last_interaction %}{{ row.last_interaction }}{% else %}<span class="muted">Never</span>{% endif %}</td>
    </tr>
    {% endwith %}{% endfor %}"""  # noqa: E501
)
LINES_TEMPLATE = Template(
    """{% for row in rows %}
    {{ row.line }}
    {% endfor %}"""
)
TODAY = dt.date(2026, 5, 20)


def account(pk: int, **fields) -> Account:
    values = {
        "name": "Acme",
        "industry": "",
        "arr": Decimal("0"),
        "tier": "scaled",
        "lifecycle_status": "active",
        "renewal_date": None,
        "health_score": None,
        "health_band": "",
        "churn_risk": None,
        "last_interaction_on": None,
    }
    values.update(fields)
    return Account(pk=pk, **values)


def accounts() -> list[Account]:
    typed = account(
        1,
        name='<b>Smith & "Sons"</b> O\'Neil',
        industry="R&D <labs>",
        arr=Decimal("1234567.50"),
        tier="high_touch",
        lifecycle_status="onboarding",
        renewal_date=dt.date(2026, 6, 14),
        health_score=73,
        health_band="green",
        churn_risk=Decimal("0.4150"),
        last_interaction_on=dt.date(2026, 5, 1),
    )
    typed.owner = User(first_name="Ann <x>", last_name="O'Hara", username="ann")
    typed.team = Team(name="Ops & <Co>")
    today = account(2, renewal_date=TODAY, health_score=0, health_band="", churn_risk=Decimal(0))
    past = account(
        3,
        renewal_date=dt.date(2026, 5, 19),
        health_score=100,
        health_band="red",
        churn_risk=Decimal("0.0200"),
    )
    return [account(4), typed, today, past]


def test_row_lines_print_what_the_row_template_printed():
    rows = account_rows(accounts(), today=TODAY)

    assert LINES_TEMPLATE.render(Context({"rows": rows})) == ROW_TEMPLATE.render(
        Context({"rows": rows})
    )


def test_the_line_of_a_typed_row():
    [row] = account_rows([accounts()[1]], today=TODAY)

    assert row.line == (
        '<tr data-account="1">\n'
        '      <td><a href="/accounts/1/">&lt;b&gt;Smith &amp; &quot;Sons&quot;&lt;/b&gt;'
        ' O&#x27;Neil</a><div class="muted">R&amp;D &lt;labs&gt;</div></td>\n'
        "      <td>Ann &lt;x&gt; O&#x27;Hara</td>\n"
        "      <td>Ops &amp; &lt;Co&gt;</td>\n"
        "      <td>High-touch</td>\n"
        "      <td>Onboarding</td>\n"
        '      <td class="num">$1,234,568</td>\n'
        "      <td>14 Jun 2026\n"
        '        <div class="muted" data-days="25">in 25 days</div>\n'
        "        </td>\n"
        '      <td class="num">73 <span class="band band-green">Green</span></td>\n'
        '      <td class="num" data-risk="0.4150">42 %</td>\n'
        "      <td>1 May 2026</td>\n"
        "    </tr>"
    )


def test_the_line_of_an_empty_row():
    [row] = account_rows([accounts()[0]], today=TODAY)

    assert row.line == (
        '<tr data-account="4">\n'
        '      <td><a href="/accounts/4/">Acme</a></td>\n'
        "      <td>Unassigned</td>\n"
        "      <td>—</td>\n"
        "      <td>Scaled</td>\n"
        "      <td>Active</td>\n"
        '      <td class="num">$0</td>\n'
        '      <td><span class="muted">No renewal</span></td>\n'
        '      <td class="num"><span class="band band-none">No score</span></td>\n'
        '      <td class="num" data-risk=""><span class="muted">—</span></td>\n'
        '      <td><span class="muted">Never</span></td>\n'
        "    </tr>"
    )


@pytest.mark.parametrize("risk", ["0.0000", "0.0001", "0.0200", "0.4100", "1.0000"])
def test_the_risk_attribute_is_what_the_template_printed(risk):
    [row] = account_rows([account(9, churn_risk=Decimal(risk))], today=TODAY)

    printed = Template("{{ v|default_if_none:'' }}").render(Context({"v": Decimal(risk)}))
    assert f'data-risk="{printed}"' in row.line
