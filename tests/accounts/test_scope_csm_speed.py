"""The scope filters' CSM field: who is listed, who is accepted from the URL, and that it
asks one question per page however many people and accounts there are.

The book below, worked out by hand. Enterprise: Ann (CSM), Bo (CSM), Cy (CSM, no account),
Max (manager). SMB: Dee (CSM), Eve (CSM, whose only account is on the Enterprise team).
No team: Flo (CSM), the executive.

    A1 Ann/Enterprise  A2 Bo/Enterprise  A3 Dee/SMB  A4 Eve/Enterprise
    A5 Ann/SMB         A6 Flo/no team    A7 Dee/no team

Ann's book is her own and Enterprise's: A1 A2 A4 A5, owned by Ann, Bo and Eve.
Dee's book is her own and SMB's: A3 A5 A7, owned by Dee and Ann (Eve owns nothing in it).
Flo has no team: her book is A6 alone.
"""

from typing import Any

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.forms.scope_csm import PICK_A_TEAM_LABEL, csm_field_scope
from accounts.models import Account, User
from tests.factories import AccountFactory, TeamFactory, UserFactory


class ScopeForm(forms.Form):
    # A plain number, so the query counts below are the CSM field's alone.
    team = forms.IntegerField(required=False)
    csm = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="All CSMs"
    )

    def __init__(self, data: Any = None, *, user: User, visible=None) -> None:
        super().__init__(data)
        if visible is None:
            visible = Account.objects.visible_to(user)
        csm_field_scope(self, user=user, visible=visible)


@pytest.fixture
def book(db) -> dict[str, Any]:
    enterprise = TeamFactory(name="Enterprise")
    smb = TeamFactory(name="SMB")

    def person(first: str, last: str, team, role=User.Role.CSM) -> User:
        return UserFactory(
            username=first.lower(), first_name=first, last_name=last, role=role, team=team
        )

    people = {
        "ann": person("Ann", "Owner", enterprise),
        "bo": person("Bo", "Teammate", enterprise),
        "cy": person("Cy", "Idle", enterprise),
        "max": person("Max", "Boss", enterprise, User.Role.MANAGER),
        "dee": person("Dee", "Outsider", smb),
        "eve": person("Eve", "Stray", smb),
        "flo": person("Flo", "Solo", None),
        "exec": person("Xena", "Chief", None, User.Role.EXECUTIVE),
    }
    for name, owner, team in [
        ("A1", "ann", enterprise),
        ("A2", "bo", enterprise),
        ("A3", "dee", smb),
        ("A4", "eve", enterprise),
        ("A5", "ann", smb),
        ("A6", "flo", None),
        ("A7", "dee", None),
    ]:
        AccountFactory(name=name, owner=people[owner], team=team)
    return {**people, "enterprise": enterprise, "smb": smb}


def listed(form: forms.Form) -> list[str]:
    """The dropdown's labels after its empty choice."""
    return [label for _pk, label in form.fields["csm"].widget.choices[1:]]


def empty_label(form: forms.Form) -> str:
    return form.fields["csm"].widget.choices[0][1]


# --- Who is listed ---


@pytest.mark.django_db
def test_a_csm_is_offered_everyone_owning_an_account_in_their_book(book):
    form = ScopeForm({}, user=book["ann"])

    # Eve is on SMB but owns A4, an Enterprise account; Cy owns nothing; Dee's accounts are
    # all outside Ann's book.
    assert listed(form) == ["Ann Owner", "Bo Teammate", "Eve Stray"]
    assert empty_label(form) == "All CSMs"


@pytest.mark.django_db
def test_a_csm_owning_nothing_is_still_offered_themself(book):
    assert listed(ScopeForm({}, user=book["cy"])) == [
        "Ann Owner",
        "Bo Teammate",
        "Cy Idle",
        "Eve Stray",
    ]


@pytest.mark.django_db
def test_a_csm_is_offered_an_owner_from_another_team_but_not_a_teammate_outside_the_book(book):
    # Ann (Enterprise) owns A5 on SMB; Eve (SMB) owns nothing on SMB.
    assert listed(ScopeForm({}, user=book["dee"])) == ["Ann Owner", "Dee Outsider"]


@pytest.mark.django_db
def test_a_csm_without_a_team_is_offered_only_themself(book):
    # Dee owns A7, which has no team either, but it is not in Flo's book.
    assert listed(ScopeForm({}, user=book["flo"])) == ["Flo Solo"]


@pytest.mark.django_db
def test_a_manager_without_a_team_picked_is_asked_to_pick_one(book):
    form = ScopeForm({}, user=book["max"])

    assert listed(form) == []
    assert empty_label(form) == PICK_A_TEAM_LABEL


@pytest.mark.django_db
def test_a_manager_picking_a_team_is_offered_its_owners_and_themself(book):
    enterprise = ScopeForm({"team": book["enterprise"].pk}, user=book["max"])
    smb = ScopeForm({"team": book["smb"].pk}, user=book["max"])

    # Cy owns nothing; Eve owns an Enterprise account but is on SMB.
    assert listed(enterprise) == ["Ann Owner", "Bo Teammate", "Max Boss"]
    assert listed(smb) == ["Dee Outsider", "Eve Stray"]
    assert empty_label(enterprise) == "All CSMs"


@pytest.mark.django_db
def test_an_executive_off_the_team_sees_only_its_owners(book):
    form = ScopeForm({"team": book["enterprise"].pk}, user=book["exec"])

    # Max is on the team but owns nothing, and is not the viewer here.
    assert listed(form) == ["Ann Owner", "Bo Teammate"]


@pytest.mark.django_db
def test_the_chosen_csm_is_listed_beside_the_picked_team(book):
    alone = ScopeForm({"csm": book["flo"].pk}, user=book["max"])
    with_team = ScopeForm({"team": book["enterprise"].pk, "csm": book["dee"].pk}, user=book["max"])

    assert listed(alone) == ["Flo Solo"]
    assert empty_label(alone) == PICK_A_TEAM_LABEL
    assert listed(with_team) == ["Ann Owner", "Bo Teammate", "Dee Outsider", "Max Boss"]


@pytest.mark.django_db
def test_a_csm_naming_another_team_is_offered_only_people_from_their_book(book):
    # SMB's Dee owns nothing Ann may see; Eve does (A4).
    assert listed(ScopeForm({"team": book["smb"].pk}, user=book["ann"])) == ["Eve Stray"]


@pytest.mark.django_db
def test_a_narrower_book_narrows_the_list(book):
    a2 = Account.objects.get(name="A2")
    visible = Account.objects.visible_to(book["ann"]).filter(pk=a2.pk)

    assert listed(ScopeForm({}, user=book["ann"], visible=visible)) == ["Ann Owner", "Bo Teammate"]


@pytest.mark.django_db
def test_someone_without_a_name_is_listed_by_username_as_everywhere_else(book):
    zed = UserFactory(username="zed", first_name="", last_name="", team=book["enterprise"])
    AccountFactory(name="A8", owner=zed, team=book["enterprise"])

    form = ScopeForm({}, user=book["ann"])

    # An empty first name sorts first.
    assert listed(form) == ["zed", "Ann Owner", "Bo Teammate", "Eve Stray"]
    people = {str(u.pk): str(u) for u in User.objects.all()}
    assert all(people[str(pk)] == label for pk, label in form.fields["csm"].widget.choices[1:])


# --- Who is accepted from the URL ---


def cleaned_csm(form: forms.Form) -> User | None:
    assert form.is_valid(), form.errors
    return form.cleaned_data["csm"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("viewer", "chosen"),
    [
        ("ann", "ann"),
        ("ann", "bo"),
        ("ann", "eve"),
        ("cy", "cy"),
        ("dee", "ann"),
        ("flo", "flo"),
        ("max", "max"),
        ("max", "flo"),
        ("max", "eve"),
        ("exec", "dee"),
    ],
)
def test_a_csm_the_viewer_may_choose_is_accepted(book, viewer, chosen):
    form = ScopeForm({"csm": book[chosen].pk}, user=book[viewer])

    assert cleaned_csm(form) == book[chosen]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("viewer", "chosen"),
    [
        # Dee's accounts are all outside Ann's book; Cy owns nothing.
        ("ann", "dee"),
        ("ann", "cy"),
        # Eve is on Dee's team but owns nothing in Dee's book.
        ("dee", "eve"),
        ("flo", "dee"),
        ("flo", "ann"),
        # Someone owning nothing is nobody's choice but their own.
        ("max", "cy"),
        ("exec", "max"),
    ],
)
def test_a_csm_outside_the_viewers_book_is_refused(book, viewer, chosen):
    form = ScopeForm({"csm": book[chosen].pk}, user=book[viewer])

    assert not form.is_valid()
    assert list(form.errors) == ["csm"]


# --- Its cost ---


@pytest.mark.django_db
@pytest.mark.parametrize("chosen", [None, "eve", "dee"])
def test_the_dropdown_prints_what_djangos_select_prints(book, chosen):
    data = {"csm": book[chosen].pk} if chosen else {}
    ours = ScopeForm(data, user=book["ann"])
    django = ScopeForm(data, user=book["ann"])
    django.fields["csm"].widget = forms.Select(choices=ours.fields["csm"].widget.choices)
    ours.is_valid()
    django.is_valid()

    html = str(ours["csm"])

    # Dee is refused and not listed, so nothing is selected and the field says why.
    assert ('aria-invalid="true"' in html) is (chosen == "dee")
    assert html.count(" selected>") == (0 if chosen == "dee" else 1)
    # Django's template puts a blank line between options; nothing else differs.
    assert html == str(django["csm"]).replace("\n\n", "\n")


@pytest.mark.django_db
def test_the_field_asks_the_same_questions_for_a_few_people_or_many(
    book, django_assert_max_num_queries
):
    def questions(data: dict, user: User) -> int:
        with CaptureQueriesContext(connection) as captured:
            form = ScopeForm(data, user=user)
            form.is_valid()
        return len(captured.captured_queries)

    cases = [
        ({}, "max"),
        ({"team": book["enterprise"].pk}, "max"),
        ({"team": book["enterprise"].pk, "csm": book["ann"].pk}, "max"),
        ({}, "ann"),
        ({"csm": book["bo"].pk}, "ann"),
    ]
    few = [questions(data, book[viewer]) for data, viewer in cases]
    for n in range(20):
        newcomer = UserFactory(username=f"csm{n}", team=book["enterprise"])
        for _ in range(3):
            AccountFactory(owner=newcomer)

    # Nothing to list and nothing chosen: no question at all. Otherwise one for the list
    # and one to check the chosen person.
    assert few == [0, 1, 2, 1, 2]
    with django_assert_max_num_queries(1):
        form = ScopeForm({}, user=book["ann"])
    assert len(listed(form)) == 23
    assert [questions(data, book[viewer]) for data, viewer in cases] == few
