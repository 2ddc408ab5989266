"""Scorecard settings: new versions never touch old ones, bad rules save nothing, only
admins and managers get in, and the nightly recompute picks the new version up."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import UsageRecord
from health.models import HealthScore, Scorecard, ScorecardVersion
from health.scoring import ComponentRule
from health.selectors_scorecards import component_explain, version_component_rows
from health.services import health_scores_recompute
from health.services_scorecards import (
    scorecard_active_set,
    scorecard_create,
    scorecard_version_create,
)
from tests.factories import SegmentFactory, UserFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 6, 30)

# The default scorecard's version 1, as health/migrations/0002_default_scorecard.py made it.
DEFAULT_V1 = [
    {"measure": "usage", "weight": 30, "zero_at": 0.1, "full_at": 0.8},
    {"measure": "usage_trend", "weight": 10, "zero_at": -0.5, "full_at": 0.1},
    {"measure": "adoption", "weight": 15, "zero_at": 0.1, "full_at": 0.7},
    {"measure": "support", "weight": 15, "zero_at": 6, "full_at": 0},
    {"measure": "sentiment", "weight": 20, "zero_at": 30, "full_at": 90},
    {"measure": "engagement", "weight": 10, "zero_at": 90, "full_at": 14},
]
MEASURES = [c["measure"] for c in DEFAULT_V1]


@pytest.fixture
def default_scorecard() -> Scorecard:
    return Scorecard.objects.get(segment__isnull=True, is_active=True)


def rules_post(
    components: list[dict],
    *,
    red_below: object = 40,
    green_from: object = 70,
    note: str = "Usage predicts churn best in our data",
    based_on: object = 1,
    **extra: object,
) -> dict[str, object]:
    """The edit form's POST: one row per measure, ticked for those in `components`."""
    data: dict[str, object] = {
        "red_below": red_below,
        "green_from": green_from,
        "note": note,
        "based_on": based_on,
        **extra,
    }
    by_measure = {c["measure"]: c for c in components}
    for measure in MEASURES:
        component = by_measure.get(measure)
        if component is not None:
            data[f"{measure}-included"] = "on"
        data[f"{measure}-weight"] = component["weight"] if component else 0
        data[f"{measure}-zero_at"] = component["zero_at"] if component else 0
        data[f"{measure}-full_at"] = component["full_at"] if component else 1
    return data


def with_weight(measure: str, weight: int) -> list[dict]:
    return [{**c, "weight": weight} if c["measure"] == measure else c for c in DEFAULT_V1]


def usage_for(account, *, through: dt.date, days: int, active: int, seats: int, features: int):
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=account,
            day=through - dt.timedelta(days=n),
            active_users=active,
            licensed_seats=seats,
            key_features_used=features,
        )
        for n in range(days)
    )


# --- A new version, and the nightly using it -----------------------------------------------


def test_a_managers_edit_makes_version_2_and_the_next_recompute_uses_it(
    client_for, manager, account, default_scorecard
):
    # Given an account whose only data is usage: 5 of 10 seats active, 1 of 10 key features,
    # on the 21 days up to DAY (no earlier usage, so no trend; no tickets, surveys, calls).
    usage_for(account, through=DAY, days=21, active=5, seats=10, features=1)
    # Usage 0.5 -> (0.5 - 0.1) / 0.7 = 57 points; adoption 0.1 -> 0 points.
    # Version 1: (30 * 57 + 15 * 0) / 45 = 38 -> red (below 40).
    health_scores_recompute(day=DAY)
    before = HealthScore.objects.get(account=account, day=DAY)
    assert (before.score, before.band, before.scorecard_version.number) == (38, "red", 1)

    # When the manager saves the rules again with usage weighing 50
    response = client_for(manager).post(
        reverse("health:scorecard_edit", args=[default_scorecard.pk]),
        rules_post(with_weight("usage", 50)),
    )

    # Then version 2 exists, by the manager, with the note; version 1 is untouched
    assert response.status_code == 302
    assert response["Location"] == reverse("health:scorecard_detail", args=[default_scorecard.pk])
    v1, v2 = ScorecardVersion.objects.filter(scorecard=default_scorecard).order_by("number")
    assert (v2.number, v2.created_by, v2.note) == (
        2,
        manager,
        "Usage predicts churn best in our data",
    )
    assert v2.components == with_weight("usage", 50)
    assert (v2.red_below, v2.green_from) == (40, 70)
    assert v1.components == DEFAULT_V1
    assert v1.created_by is None
    # and the score computed before still points at version 1
    before.refresh_from_db()
    assert (before.score, before.scorecard_version_id) == (38, v1.pk)

    # When the next night is computed (the same 21 usage days are still within 30 days)
    next_day = DAY + dt.timedelta(days=1)
    health_scores_recompute(day=next_day)

    # Then version 2 scores it: 50 * 57 / (50 + 15) = 43.8 -> 44, yellow
    after = HealthScore.objects.get(account=account, day=next_day)
    assert (after.score, after.band, after.scorecard_version_id) == (44, "yellow", v2.pk)
    assert after.components["usage"]["weight"] == 50
    account.refresh_from_db()
    assert (account.health_score, account.health_band) == (44, "yellow")


def test_the_edit_form_starts_from_the_current_version(client_for, admin_user, default_scorecard):
    scorecard_version_create(
        scorecard=default_scorecard,
        components=[ComponentRule("usage", 60, 0.2, 0.9), ComponentRule("support", 40, 5, 0)],
        red_below=30,
        green_from=60,
        note="Simpler",
        created_by=admin_user,
    )

    response = client_for(admin_user).get(
        reverse("health:scorecard_edit", args=[default_scorecard.pk])
    )

    form = response.context["form"]
    assert form["usage-weight"].value() == 60
    assert form["usage-zero_at"].value() == 0.2
    assert form["usage-included"].value() is True
    # A measure left out starts unticked, with the default bounds ready for ticking.
    assert form["adoption-included"].value() is False
    assert (form["adoption-zero_at"].value(), form["adoption-full_at"].value()) == (0.1, 0.7)
    assert (form["red_below"].value(), form["green_from"].value()) == (30, 60)
    assert form["based_on"].value() == 2
    assert b"Saving makes version 3" in response.content


def test_unticked_measures_are_left_out_of_the_new_version(client_for, manager, default_scorecard):
    components = [c for c in DEFAULT_V1 if c["measure"] in ("usage", "support")]

    client_for(manager).post(
        reverse("health:scorecard_edit", args=[default_scorecard.pk]),
        rules_post(components, red_below=35, green_from=75),
    )

    v2 = ScorecardVersion.objects.get(scorecard=default_scorecard, number=2)
    assert v2.components == [
        {"measure": "usage", "weight": 30, "zero_at": 0.1, "full_at": 0.8},
        {"measure": "support", "weight": 15, "zero_at": 6.0, "full_at": 0.0},
    ]
    assert (v2.red_below, v2.green_from) == (35, 75)


# --- Bad rules save nothing ----------------------------------------------------------------


def _post_edit(client, scorecard, data):
    response = client.post(reverse("health:scorecard_edit", args=[scorecard.pk]), data)
    assert response.status_code == 200
    assert ScorecardVersion.objects.filter(scorecard=scorecard).count() == 1
    return response.context["form"]


def test_equal_zero_and_full_values_are_refused_beside_the_row(
    client_for, manager, default_scorecard
):
    components = [
        {**c, "zero_at": 0.5, "full_at": 0.5} if c["measure"] == "adoption" else c
        for c in DEFAULT_V1
    ]

    form = _post_edit(client_for(manager), default_scorecard, rules_post(components))

    assert form.errors["adoption-full_at"] == [
        "Must differ from the 0-point value: the score needs a range to move in."
    ]
    assert list(form.errors) == ["adoption-full_at"]


def test_all_weights_zero_is_refused(client_for, manager, default_scorecard):
    components = [{**c, "weight": 0} for c in DEFAULT_V1]

    form = _post_edit(client_for(manager), default_scorecard, rules_post(components))

    assert form.errors["usage-weight"] == [
        "An included measure needs a weight above 0: untick Usage to leave it out."
    ]
    assert len([key for key in form.errors if key.endswith("-weight")]) == 6


def test_no_measure_ticked_is_refused(client_for, manager, default_scorecard):
    response = client_for(manager).post(
        reverse("health:scorecard_edit", args=[default_scorecard.pk]), rules_post([])
    )

    assert response.context["form"].non_field_errors() == [
        "Include at least one measure with a weight above 0."
    ]
    assert b"Nothing was saved" in response.content
    assert ScorecardVersion.objects.filter(scorecard=default_scorecard).count() == 1


def test_red_below_above_green_from_is_refused(client_for, manager, default_scorecard):
    form = _post_edit(
        client_for(manager), default_scorecard, rules_post(DEFAULT_V1, red_below=75, green_from=70)
    )

    assert form.errors["green_from"] == ["Green from (70) can't be below red below (75)."]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("usage-weight", 101, "Ensure this value is less than or equal to 100."),
        ("usage-weight", -1, "Ensure this value is greater than or equal to 0."),
        ("usage-zero_at", "lots", "Enter a number."),
        ("red_below", 101, "Ensure this value is less than or equal to 100."),
        ("note", "", "Say why you are making this change."),
    ],
)
def test_out_of_range_values_and_a_missing_note_are_refused(
    client_for, manager, default_scorecard, field, value, message
):
    data = rules_post(DEFAULT_V1)
    data[field] = value

    form = _post_edit(client_for(manager), default_scorecard, data)

    assert form.errors[field] == [message]


def test_a_version_saved_meanwhile_is_not_overwritten(client_for, manager, default_scorecard):
    # Someone else saved version 2 after this editor opened version 1.
    scorecard_version_create(
        scorecard=default_scorecard,
        components=[ComponentRule("usage", 100, 0.1, 0.8)],
        red_below=40,
        green_from=70,
        note="Theirs",
        created_by=None,
    )

    response = client_for(manager).post(
        reverse("health:scorecard_edit", args=[default_scorecard.pk]),
        rules_post(with_weight("usage", 50), based_on=1),
    )

    assert response.status_code == 200
    assert "Version 2 was saved while you were editing version 1." in str(
        response.context["form"].non_field_errors()
    )
    assert ScorecardVersion.objects.filter(scorecard=default_scorecard).count() == 2


def test_the_service_refuses_what_the_form_would(default_scorecard):
    with pytest.raises(ValidationError) as caught:
        scorecard_version_create(
            scorecard=default_scorecard,
            components=[ComponentRule("usage", 0, 0.1, 0.1), ComponentRule("karma", 10, 0, 1)],
            red_below=80,
            green_from=70,
            note="  ",
            created_by=None,
        )

    errors = caught.value.message_dict
    assert errors["__all__"] == [
        "Usage: the 0-point and 100-point values must differ.",
        "'karma' is not a measure the score knows.",
    ]
    assert errors["green_from"] == ["Green from (70) can't be below red below (80)."]
    assert errors["note"] == ["Say why you are making this change: it is the record of the change."]
    assert ScorecardVersion.objects.filter(scorecard=default_scorecard).count() == 1


# --- Who may ----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "executive"])
@pytest.mark.parametrize(
    ("name", "method", "needs_pk"),
    [
        ("health:scorecard_list", "get", False),
        ("health:scorecard_create", "get", False),
        ("health:scorecard_create", "post", False),
        ("health:scorecard_detail", "get", True),
        ("health:scorecard_detail", "post", True),
        ("health:scorecard_edit", "get", True),
        ("health:scorecard_edit", "post", True),
    ],
)
def test_csms_and_executives_get_403_on_every_scorecard_page(
    request, client_for, default_scorecard, persona, name, method, needs_pk
):
    user = request.getfixturevalue(persona)
    url = reverse(name, args=[default_scorecard.pk] if needs_pk else [])
    client = client_for(user)

    data = rules_post(with_weight("usage", 50), name="Mine", action="deactivate")
    response = client.get(url) if method == "get" else client.post(url, data)

    assert response.status_code == 403
    assert ScorecardVersion.objects.count() == 1
    assert Scorecard.objects.count() == 1


def test_the_pages_need_a_login(client, default_scorecard):
    response = client.get(reverse("health:scorecard_list"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_an_unknown_scorecard_is_404(client_for, manager):
    assert (
        client_for(manager).get(reverse("health:scorecard_detail", args=[9999])).status_code == 404
    )


# --- Creating a scorecard ------------------------------------------------------------------


def test_the_create_form_is_prefilled_with_the_defaults_current_rules(
    client_for, admin_user, default_scorecard
):
    scorecard_version_create(
        scorecard=default_scorecard,
        components=[ComponentRule.from_json(c) for c in with_weight("sentiment", 35)],
        red_below=45,
        green_from=72,
        note="More weight on what customers say",
        created_by=admin_user,
    )

    response = client_for(admin_user).get(reverse("health:scorecard_create"))

    form = response.context["form"]
    assert form["sentiment-weight"].value() == 35
    assert form["usage-weight"].value() == 30
    assert (form["red_below"].value(), form["green_from"].value()) == (45, 72)
    assert all(form[f"{m}-included"].value() for m in MEASURES)


def test_a_manager_creates_a_segment_scorecard_with_its_first_version(client_for, manager):
    segment = SegmentFactory(name="Enterprise tier")
    components = [c for c in DEFAULT_V1 if c["measure"] in ("usage", "engagement")]

    response = client_for(manager).post(
        reverse("health:scorecard_create"),
        rules_post(
            components, name="Enterprise", segment=segment.pk, priority=10, note="", based_on=""
        ),
    )

    scorecard = Scorecard.objects.get(name="Enterprise")
    assert response.status_code == 302
    assert response["Location"] == reverse("health:scorecard_detail", args=[scorecard.pk])
    assert (scorecard.segment, scorecard.priority, scorecard.is_active) == (segment, 10, True)
    (version,) = scorecard.versions.all()
    assert (version.number, version.created_by, version.note) == (1, manager, "First version")
    assert [c["measure"] for c in version.components] == ["usage", "engagement"]


def test_a_second_active_default_is_a_form_error_not_a_500(client_for, manager):
    response = client_for(manager).post(
        reverse("health:scorecard_create"),
        rules_post(DEFAULT_V1, name="Another default", segment="", priority=5, based_on=""),
    )

    assert response.status_code == 200
    assert response.context["form"].errors["segment"] == [
        "“Default” is already the default scorecard, and there can be only one active "
        "default. Choose a segment for this one."
    ]
    assert not Scorecard.objects.filter(name="Another default").exists()


def test_the_service_refuses_a_second_default_too(manager):
    with pytest.raises(ValidationError) as caught:
        scorecard_create(
            name="Shadow default",
            segment=None,
            priority=1,
            components=[ComponentRule("usage", 100, 0.1, 0.8)],
            red_below=40,
            green_from=70,
            note="",
            created_by=manager,
        )
    assert "there can be only one" in caught.value.message_dict["segment"][0]
    assert Scorecard.objects.count() == 1


def test_a_duplicate_name_is_refused(client_for, manager):
    response = client_for(manager).post(
        reverse("health:scorecard_create"),
        rules_post(DEFAULT_V1, name="default", segment=SegmentFactory().pk, priority=5),
    )
    assert response.context["form"].errors["name"] == [
        "A scorecard named “default” already exists."
    ]
    assert Scorecard.objects.count() == 1


# --- Switching on and off --------------------------------------------------------------------


@pytest.fixture
def segment_scorecard(manager) -> Scorecard:
    return scorecard_create(
        name="Tech-touch",
        segment=SegmentFactory(name="Tech-touch accounts"),
        priority=20,
        components=[ComponentRule("usage", 100, 0.1, 0.8)],
        red_below=40,
        green_from=70,
        note="",
        created_by=manager,
    )


def test_a_segment_scorecard_can_be_deactivated_and_activated(
    client_for, manager, segment_scorecard
):
    client = client_for(manager)
    url = reverse("health:scorecard_detail", args=[segment_scorecard.pk])

    client.post(url, {"action": "deactivate"})
    segment_scorecard.refresh_from_db()
    assert segment_scorecard.is_active is False

    response = client.post(url, {"action": "activate"}, follow=True)
    segment_scorecard.refresh_from_db()
    assert segment_scorecard.is_active is True
    assert "“Tech-touch” is now active." in [str(m) for m in response.context["messages"]]


def test_the_default_cannot_be_deactivated(client_for, manager, default_scorecard):
    response = client_for(manager).post(
        reverse("health:scorecard_detail", args=[default_scorecard.pk]),
        {"action": "deactivate"},
        follow=True,
    )

    default_scorecard.refresh_from_db()
    assert default_scorecard.is_active is True
    assert any(
        "The default scorecard can't be deactivated" in str(m) for m in response.context["messages"]
    )


def test_an_inactive_default_cannot_be_activated_beside_the_active_one(default_scorecard):
    old = Scorecard.objects.create(name="Old default", segment=None, is_active=False)
    with pytest.raises(ValidationError):
        scorecard_active_set(scorecard=old, is_active=True)
    old.refresh_from_db()
    assert old.is_active is False


# --- The pages' content -----------------------------------------------------------------------


def test_the_list_shows_each_scorecards_current_version(
    client_for, manager, default_scorecard, segment_scorecard
):
    scorecard_version_create(
        scorecard=default_scorecard,
        components=[ComponentRule("usage", 100, 0.1, 0.8)],
        red_below=40,
        green_from=70,
        note="Usage only",
        created_by=manager,
    )

    response = client_for(manager).get(reverse("health:scorecard_list"))

    rows = response.context["rows"]
    # Segment scorecards first (the nightly tries them first), the default last.
    assert [(r.scorecard.name, r.current.number, r.current.created_by) for r in rows] == [
        ("Tech-touch", 1, manager),
        ("Default", 2, manager),
    ]
    html = response.content.decode()
    assert "Default — all other accounts" in html
    assert "Segment: Tech-touch accounts" in html


def test_the_detail_page_explains_each_component_in_plain_words(
    client_for, manager, default_scorecard
):
    response = client_for(manager).get(
        reverse("health:scorecard_detail", args=[default_scorecard.pk])
    )

    html = response.content.decode()
    assert "0 points at 10 % active seats, 100 points at 80 %, linear in between." in html
    assert (
        "0 points at 6 open or high-priority tickets, 100 points at 0; lower is better, "
        "linear in between." in html
    )
    assert (
        "0 points at 90 days since the last interaction, 100 points at 14 days; lower is "
        "better, linear in between." in html
    )
    assert "0 points at -50 % change in active users, 100 points at +10 %" in html
    rows = response.context["component_rows"]
    # Weights 30/10/15/15/20/10 total 100, so each share equals its weight.
    assert [(r.label, r.weight, r.share) for r in rows] == [
        ("Usage", 30, 30.0),
        ("Usage trend", 10, 10.0),
        ("Adoption", 15, 15.0),
        ("Support", 15, 15.0),
        ("Sentiment", 20, 20.0),
        ("Engagement", 10, 10.0),
    ]
    assert "below 40" in html
    assert "40–69" in html
    assert "70 and above" in html


def test_shares_follow_the_weights_when_they_do_not_total_100():
    rows, unused = version_component_rows(
        [
            {"measure": "usage", "weight": 50, "zero_at": 0.1, "full_at": 0.8},
            {"measure": "adoption", "weight": 15, "zero_at": 0.1, "full_at": 0.7},
        ]
    )
    # 50 / 65 = 76.9 %, 15 / 65 = 23.1 %.
    assert [(r.measure, r.share) for r in rows] == [("usage", 76.9), ("adoption", 23.1)]
    assert unused == ["Usage trend", "Support", "Sentiment", "Engagement"]


def test_explanations_read_the_raw_bounds_as_people_do():
    assert component_explain("adoption", zero_at=0.1, full_at=0.7) == (
        "0 points at 10 % of key features used, 100 points at 70 %, linear in between."
    )
    assert component_explain("sentiment", zero_at=30, full_at=90) == (
        "0 points at a sentiment of 30 out of 100, 100 points at 90, linear in between."
    )


def test_the_history_lists_who_changed_what_and_why(client_for, manager, default_scorecard):
    scorecard_version_create(
        scorecard=default_scorecard,
        components=[ComponentRule("usage", 100, 0.1, 0.8)],
        red_below=40,
        green_from=70,
        note="Usage only while surveys are paused",
        created_by=manager,
    )

    response = client_for(manager).get(
        reverse("health:scorecard_detail", args=[default_scorecard.pk])
    )

    assert response.context["current"].number == 2
    history = [(v.number, v.created_by, v.note) for v in response.context["page_obj"]]
    assert history == [
        (2, manager, "Usage only while surveys are paused"),
        (1, None, "Default scorecard"),
    ]
    assert "Usage only while surveys are paused" in response.content.decode()


# --- Query budgets ----------------------------------------------------------------------------


def _more_scorecards(count: int, *, versions: int, start: int = 0) -> None:
    author = UserFactory(username="ops-editor")
    for n in range(start, start + count):
        scorecard = Scorecard.objects.create(
            name=f"Segment card {n}", segment=SegmentFactory(), priority=n
        )
        for number in range(1, versions + 1):
            ScorecardVersion.objects.create(
                scorecard=scorecard,
                number=number,
                components=DEFAULT_V1,
                note=f"v{number}",
                created_by=author,
            )


def test_the_list_runs_a_fixed_number_of_queries(
    client_for, manager, default_scorecard, django_assert_max_num_queries
):
    client = client_for(manager)
    _more_scorecards(2, versions=2)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("health:scorecard_list"))

    _more_scorecards(20, versions=3, start=2)
    # Session, user, count, page, current versions: the same for 3 or 23 scorecards.
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("health:scorecard_list"))
    assert len(response.context["rows"]) == 23
    assert len(few.captured_queries) <= 5


def test_the_detail_page_runs_a_fixed_number_of_queries(
    client_for, manager, default_scorecard, django_assert_max_num_queries
):
    for number in range(2, 30):
        ScorecardVersion.objects.create(
            scorecard=default_scorecard,
            number=number,
            components=DEFAULT_V1,
            note=f"Tuning {number}",
            created_by=manager,
        )
    client = client_for(manager)
    # Session, user, scorecard, current version, history count, history page.
    with django_assert_max_num_queries(6):
        response = client.get(reverse("health:scorecard_detail", args=[default_scorecard.pk]))
    assert response.context["current"].number == 29
    assert len(response.context["page_obj"].object_list) == 29


# --- The Django admin ------------------------------------------------------------------------


def test_the_admin_shows_versions_read_only_and_adds_no_scorecards(
    client_for, admin_user, default_scorecard
):
    client = client_for(admin_user)

    change = client.get(reverse("admin:health_scorecard_change", args=[default_scorecard.pk]))
    add = client.get(reverse("admin:health_scorecard_add"))

    assert change.status_code == 200
    html = change.content.decode()
    assert "Default scorecard" in html  # version 1's note, shown in the inline
    assert 'name="versions-0-note"' not in html  # no editable version fields
    assert add.status_code == 403
    for name in ("healthscore", "healthrun", "retentionsnapshot", "healthoverride"):
        assert client.get(reverse(f"admin:health_{name}_changelist")).status_code == 200


def test_the_admin_action_refuses_to_deactivate_the_default(
    client_for, admin_user, default_scorecard
):
    client_for(admin_user).post(
        reverse("admin:health_scorecard_changelist"),
        {"action": "deactivate", "_selected_action": [default_scorecard.pk]},
    )
    default_scorecard.refresh_from_db()
    assert default_scorecard.is_active is True
