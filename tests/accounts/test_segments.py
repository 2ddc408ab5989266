"""Segment pages: rule and static segments, live counts, and who may see and change what."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.forms.segments import RULE_FIELDS
from accounts.models import Account, Segment, SegmentMembership
from accounts.segment_rules import RULE_KEYS
from accounts.selectors.segments import segment_accounts
from accounts.services.segments import segment_rules_describe
from tests.factories import AccountFactory, SegmentFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def portfolio(owner, teammate, outsider):
    """Five accounts; the high-touch ones at or above $50,000 are A, B and E.

    A  high-touch  $60,000.00  owner      (Enterprise)  member
    B  high-touch  $50,000.00  owner      (Enterprise)  member (the bound is inclusive)
    C  high-touch  $49,999.99  teammate   (Enterprise)  below the bound
    D  scaled      $90,000.00  outsider   (SMB)         wrong tier
    E  high-touch  $120,000.00 outsider   (SMB)         member
    """
    high = Account.Tier.HIGH_TOUCH
    return {
        "A": AccountFactory(name="A", owner=owner, tier=high, arr=Decimal("60000.00")),
        "B": AccountFactory(name="B", owner=owner, tier=high, arr=Decimal("50000.00")),
        "C": AccountFactory(name="C", owner=teammate, tier=high, arr=Decimal("49999.99")),
        "D": AccountFactory(
            name="D", owner=outsider, tier=Account.Tier.SCALED, arr=Decimal("90000.00")
        ),
        "E": AccountFactory(name="E", owner=outsider, tier=high, arr=Decimal("120000.00")),
    }


def _kpi(response, name: str) -> str:
    match = re.search(rf'data-kpi="{name}">([^<]*)<', response.content.decode())
    assert match, f"no KPI {name} on the page"
    return match.group(1)


def _preview(response, name: str) -> str:
    match = re.search(rf'data-preview="{name}">([^<]*)<', response.content.decode())
    assert match, f"no preview {name} in the answer"
    return match.group(1)


def _rule_form(**fields):
    data = {"name": "Big high-touch", "description": "", "kind": "rule", "action": "save"}
    data.update(fields)
    return data


def test_every_rule_key_has_a_form_field():
    assert set(RULE_FIELDS) == RULE_KEYS


def test_manager_creates_a_rule_segment_that_counts_high_touch_accounts_from_50k(
    client_for, manager, portfolio
):
    response = client_for(manager).post(
        reverse("accounts:segment_create"), _rule_form(tiers=["high_touch"], arr_min="50000")
    )

    segment = Segment.objects.get(name="Big high-touch")
    assert response.status_code == 302
    assert response.url == reverse("accounts:segment_detail", args=[segment.pk])
    assert segment.kind == Segment.Kind.RULE
    assert segment.rules == {"tiers": ["high_touch"], "arr_min": "50000"}
    assert segment.created_by == manager
    members = segment_accounts(segment, today=dt.date(2026, 6, 1))
    assert sorted(members.values_list("name", flat=True)) == ["A", "B", "E"]

    detail = client_for(manager).get(response.url)
    # 60,000 + 50,000 + 120,000
    assert _kpi(detail, "members") == "3"
    assert _kpi(detail, "arr") == "$230,000"
    assert "Tier is High-touch" in detail.content.decode()
    assert "ARR at least $50,000" in detail.content.decode()


def test_live_preview_counts_the_same_accounts_the_saved_segment_will_hold(
    client_for, manager, portfolio
):
    response = client_for(manager).get(
        reverse("accounts:segment_preview"), {"tiers": "high_touch", "arr_min": "50000"}
    )

    assert response.status_code == 200
    assert _preview(response, "members") == "3"
    assert _preview(response, "arr") == "$230,000"
    assert "<html" not in response.content.decode()  # a fragment, not a page


def test_preview_button_shows_the_count_without_saving(client_for, manager, portfolio):
    response = client_for(manager).post(
        reverse("accounts:segment_create"),
        _rule_form(tiers=["high_touch"], arr_min="50000", arr_max="100000", action="preview"),
    )

    assert response.status_code == 200
    # A and B; E's $120,000 is above the maximum.
    assert _preview(response, "members") == "2"
    assert _preview(response, "arr") == "$110,000"
    assert not Segment.objects.exists()


def test_minimum_above_maximum_is_refused_beside_the_field_and_nothing_is_saved(
    client_for, manager
):
    response = client_for(manager).post(
        reverse("accounts:segment_create"), _rule_form(arr_min="100000", arr_max="50000")
    )

    assert response.status_code == 400
    html = response.content.decode()
    field = html[html.index('data-field="arr_max"') :]
    field = field[: field.index("</div>")]
    assert "The maximum ARR is below the minimum." in field
    assert not Segment.objects.exists()


def test_negative_arr_and_bad_renewal_window_are_refused(client_for, manager):
    response = client_for(manager).post(
        reverse("accounts:segment_create"),
        _rule_form(arr_min="-5", renewal_within_days="0"),
    )

    assert response.status_code == 400
    assert "ARR cannot be negative." in response.content.decode()
    assert "Between 1 and 730 days." in response.content.decode()
    assert not Segment.objects.exists()


def test_duplicate_segment_name_is_refused(client_for, manager):
    SegmentFactory(name="Big high-touch")

    response = client_for(manager).post(reverse("accounts:segment_create"), _rule_form())

    assert response.status_code == 400
    assert "A segment with this name already exists." in response.content.decode()
    assert Segment.objects.count() == 1


@pytest.mark.parametrize("persona", ["owner", "executive"])
def test_csm_and_executive_may_not_create_edit_or_preview_segments(
    request, client_for, persona, account
):
    user = request.getfixturevalue(persona)
    segment = SegmentFactory(name="Existing", kind=Segment.Kind.STATIC)
    client = client_for(user)

    assert client.get(reverse("accounts:segment_create")).status_code == 403
    assert client.post(reverse("accounts:segment_create"), _rule_form()).status_code == 403
    assert client.get(reverse("accounts:segment_edit", args=[segment.pk])).status_code == 403
    assert client.get(reverse("accounts:segment_preview")).status_code == 403
    response = client.post(
        reverse("accounts:segment_members", args=[segment.pk]),
        {"action": "add", "account": account.pk},
    )
    assert response.status_code == 403
    assert Segment.objects.count() == 1
    assert not SegmentMembership.objects.exists()


def test_manager_edits_the_rules_and_the_kind_stays(client_for, manager, portfolio):
    segment = SegmentFactory(name="Old", rules={"tiers": ["high_touch"]})

    response = client_for(manager).post(
        reverse("accounts:segment_edit", args=[segment.pk]),
        {"name": "Renamed", "kind": "static", "tiers": ["scaled"], "action": "save"},
    )

    segment.refresh_from_db()
    assert response.status_code == 302
    assert segment.name == "Renamed"
    assert segment.kind == Segment.Kind.RULE
    assert segment.rules == {"tiers": ["scaled"]}


def test_static_segment_members_are_added_and_removed_by_hand(client_for, manager, portfolio):
    client = client_for(manager)
    client.post(
        reverse("accounts:segment_create"),
        {"name": "Watch list", "kind": "static", "tiers": ["scaled"], "action": "save"},
    )
    segment = Segment.objects.get(name="Watch list")
    assert segment.rules == {}
    members_url = reverse("accounts:segment_members", args=[segment.pk])

    # Found by name search, then picked.
    search = client.get(reverse("accounts:segment_detail", args=[segment.pk]), {"q": "D"})
    assert f'name="account" value="{portfolio["D"].pk}"' in search.content.decode()
    client.post(members_url, {"action": "add", "account": portfolio["D"].pk})
    # Several at once by external id.
    ids = f"{portfolio['A'].external_id}, {portfolio['B'].external_id}"
    client.post(members_url, {"action": "add_external_ids", "external_ids": ids})
    assert set(segment.members.values_list("name", flat=True)) == {"A", "B", "D"}

    client.post(members_url, {"action": "remove", "account": portfolio["B"].pk})
    assert set(segment.members.values_list("name", flat=True)) == {"A", "D"}

    detail = client.get(reverse("accounts:segment_detail", args=[segment.pk]))
    # 60,000 + 90,000
    assert _kpi(detail, "members") == "2"
    assert _kpi(detail, "arr") == "$150,000"


def test_adding_an_unknown_external_id_adds_nothing(client_for, manager, portfolio):
    segment = SegmentFactory(name="List", kind=Segment.Kind.STATIC)

    response = client_for(manager).post(
        reverse("accounts:segment_members", args=[segment.pk]),
        {"action": "add_external_ids", "external_ids": f"{portfolio['A'].external_id} NOPE-1"},
        follow=True,
    )

    assert "No account has the external id NOPE-1; nothing was added." in (
        response.content.decode()
    )
    assert not segment.members.exists()


def test_members_of_a_rule_segment_cannot_be_added_by_hand(client_for, manager, portfolio):
    segment = SegmentFactory(name="Rules", rules={"tiers": ["scaled"]})

    client_for(manager).post(
        reverse("accounts:segment_members", args=[segment.pk]),
        {"action": "add", "account": portfolio["A"].pk},
    )

    assert not SegmentMembership.objects.exists()


def test_csm_sees_only_the_members_in_their_book_and_team(client_for, owner, portfolio):
    segment = SegmentFactory(name="Big", rules={"tiers": ["high_touch"], "arr_min": "50000"})

    response = client_for(owner).get(reverse("accounts:segment_detail", args=[segment.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    shown = set(re.findall(r'data-account="(\d+)"', html))
    # E is a member but belongs to the SMB team.
    assert shown == {str(portfolio["A"].pk), str(portfolio["B"].pk)}
    assert _kpi(response, "members") == "2"
    assert _kpi(response, "arr") == "$110,000"
    assert "Remove" not in html
    assert reverse("accounts:segment_edit", args=[segment.pk]) not in html
    assert f"/accounts/?segment={segment.pk}" in html


def test_csm_static_segment_counts_only_visible_members(client_for, owner, portfolio):
    segment = SegmentFactory(name="List", kind=Segment.Kind.STATIC)
    for key in ("A", "C", "D"):
        SegmentMembership.objects.create(segment=segment, account=portfolio[key])

    response = client_for(owner).get(reverse("accounts:segment_list"))

    # A (own) and C (teammate's); D is on the SMB team. 60,000 + 49,999.99, shown rounded.
    assert re.search(
        rf'data-segment="{segment.pk}">.*?data-col="members">2<.*?data-col="arr">\$110,000<',
        response.content.decode(),
        re.S,
    )


def test_segment_list_shows_each_segments_members_and_arr_in_fixed_queries(
    client_for, manager, portfolio, django_assert_max_num_queries
):
    big = SegmentFactory(name="Big", rules={"tiers": ["high_touch"], "arr_min": "50000"})
    scaled = SegmentFactory(name="Scaled", rules={"tiers": ["scaled"]})
    listed = SegmentFactory(name="Listed", kind=Segment.Kind.STATIC)
    SegmentMembership.objects.create(segment=listed, account=portfolio["C"])
    for n in range(10):
        SegmentFactory(name=f"Extra {n}", rules={"health_bands": ["red"]})
    client = client_for(manager)

    # session, user, count, page, one aggregate for rule segments, one for static ones
    with django_assert_max_num_queries(6):
        response = client.get(reverse("accounts:segment_list"))

    html = response.content.decode()
    for segment, members, arr in (
        (big, "3", "$230,000"),
        (scaled, "1", "$90,000"),
        (listed, "1", "$50,000"),
    ):
        assert re.search(
            rf'data-segment="{segment.pk}">.*?data-col="members">{members}<'
            rf'.*?data-col="arr">{re.escape(arr)}<',
            html,
            re.S,
        ), segment.name


def test_segment_detail_runs_a_fixed_number_of_queries(
    client_for, manager, django_assert_max_num_queries
):
    team = TeamFactory(name="Growth")
    csm = UserFactory(username="grower", team=team)
    for n in range(30):
        AccountFactory(name=f"Acc {n:02d}", owner=csm, tier=Account.Tier.HIGH_TOUCH)
    segment = SegmentFactory(
        name="Growth high-touch",
        rules={"tiers": ["high_touch"], "owners": [csm.pk], "teams": [team.pk]},
    )
    client = client_for(manager)

    # session, user, segment, totals, page count, page, owner names, team names
    with django_assert_max_num_queries(8):
        response = client.get(reverse("accounts:segment_detail", args=[segment.pk]))

    assert response.status_code == 200
    assert _kpi(response, "members") == "30"
    assert f"Owner is {csm}" in response.content.decode()
    assert "Team is Growth" in response.content.decode()


def test_segment_pages_have_empty_states(client_for, manager):
    response = client_for(manager).get(reverse("accounts:segment_list"))

    assert "No segments yet" in response.content.decode()


def test_unknown_segment_answers_404(client_for, owner):
    assert client_for(owner).get(reverse("accounts:segment_detail", args=[999])).status_code == 404


def test_rules_read_as_sentences():
    rules = {
        "arr_min": "10000",
        "arr_max": "250000",
        "tiers": ["high_touch", "scaled"],
        "lifecycle_statuses": ["active"],
        "industries": ["Retail"],
        "renewal_within_days": 90,
    }

    assert segment_rules_describe(rules) == [
        "ARR between $10,000 and $250,000",
        "Industry is Retail",
        "Tier is High-touch or Scaled",
        "Lifecycle status is Active",
        "Renews within the next 90 days",
    ]


def test_form_offers_the_industries_that_exist(client_for, manager):
    AccountFactory(industry="Fintech")
    AccountFactory(industry="Healthcare")

    response = client_for(manager).get(reverse("accounts:segment_create"))

    html = response.content.decode()
    assert '<option value="Fintech">' in html
    assert '<option value="Healthcare">' in html
    assert "js/segment_preview" in html
    assert "<script>" not in html  # no inline script
