"""Manual overrides: who may make them, that they show at once, survive the night until they
expire, and that revoking brings the computed score back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import UsageRecord
from accounts.selectors.access import local_today
from health.models import HealthOverride, HealthScore, ScorecardVersion
from health.services import health_scores_recompute
from health.services_overrides import health_override_create, health_override_revoke
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def today() -> dt.date:
    return local_today()


@pytest.fixture
def scored(account, today):
    """The owner's account scored today: 38, red (worked out below).

    Usage only, on the 21 days up to today: 5 of 10 seats active, 1 of 10 key features.
    Usage 0.5 -> (0.5 - 0.1) / 0.7 = 57 points; adoption 0.1 -> 0 points; no trend (no
    usage before), no tickets, surveys or calls: (30 * 57 + 15 * 0) / 45 = 38 -> red.
    """
    UsageRecord.objects.bulk_create(
        UsageRecord(
            account=account,
            day=today - dt.timedelta(days=n),
            active_users=5,
            licensed_seats=10,
            key_features_used=1,
        )
        for n in range(21)
    )
    health_scores_recompute(day=today)
    row = HealthScore.objects.get(account=account, day=today)
    assert (row.score, row.band, row.computed_score) == (38, "red", 38)
    return account


def override_url(account) -> str:
    return reverse("health:override_create", args=[account.pk])


def post_data(today: dt.date, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "score": 75,
        "reason": "Signed a two-year renewal yesterday; usage dip is the summer break.",
        "expires_on": (today + dt.timedelta(days=30)).isoformat(),
    }
    data.update(changes)
    return data


# --- Making one --------------------------------------------------------------------------------


def test_the_owner_overrides_and_it_shows_at_once(client_for, owner, scored, today):
    response = client_for(owner).post(override_url(scored), post_data(today))

    assert response.status_code == 302
    assert response["Location"] == scored.get_absolute_url()
    override = HealthOverride.objects.get(account=scored)
    assert (override.score, override.created_by, override.expires_on) == (
        75,
        owner,
        today + dt.timedelta(days=30),
    )
    assert override.reason.startswith("Signed a two-year renewal")
    # The latest row shows 75, green (v1: green from 70); what the scorecard said stays.
    row = HealthScore.objects.get(account=scored, day=today)
    assert (row.score, row.band, row.override) == (75, "green", override)
    assert (row.computed_score, row.computed_band) == (38, "red")
    scored.refresh_from_db()
    assert (scored.health_score, scored.health_band) == (75, "green")


def test_the_band_follows_the_thresholds_of_the_rows_scorecard_version(scored, manager, today):
    # The row was computed with v1 (red below 40, green from 70); a later v2 with other
    # thresholds does not change how that row's override is banded.
    version = ScorecardVersion.objects.get(scorecard__name="Default", number=1)
    ScorecardVersion.objects.create(
        scorecard=version.scorecard,
        number=2,
        components=version.components,
        red_below=60,
        green_from=90,
        note="Stricter",
    )

    health_override_create(
        account=scored,
        user=manager,
        score=65,
        reason="Champion confirmed budget",
        expires_on=today + dt.timedelta(days=10),
    )

    row = HealthScore.objects.get(account=scored, day=today)
    assert (row.score, row.band) == (65, "yellow")


def test_managers_and_admins_may_override_too(client_for, manager, admin_user, scored, today):
    for user, score in ((manager, 55), (admin_user, 20)):
        response = client_for(user).post(override_url(scored), post_data(today, score=score))
        assert response.status_code == 302
        scored.refresh_from_db()
        assert scored.health_score == score
    assert scored.health_band == "red"  # 20 is below 40


def test_a_new_override_ends_the_one_in_force(client_for, owner, manager, scored, today):
    client_for(owner).post(override_url(scored), post_data(today, score=75))
    client_for(manager).post(override_url(scored), post_data(today, score=50))

    first, second = HealthOverride.objects.filter(account=scored).order_by("created_at", "pk")
    assert (first.revoked_by, second.revoked_at) == (manager, None)
    assert first.revoked_at is not None
    row = HealthScore.objects.get(account=scored, day=today)
    assert (row.score, row.band, row.override) == (50, "yellow", second)


def test_an_account_never_scored_gets_the_override_on_its_own_fields(owner, today):
    fresh = AccountFactory(owner=owner)

    health_override_create(
        account=fresh,
        user=owner,
        score=60,
        reason="Kick-off went well",
        expires_on=today + dt.timedelta(days=14),
    )

    fresh.refresh_from_db()
    # Banded by the default scorecard's thresholds: 40 <= 60 < 70.
    assert (fresh.health_score, fresh.health_band) == (60, "yellow")
    assert not HealthScore.objects.filter(account=fresh).exists()


# --- The night after ---------------------------------------------------------------------------


def test_an_override_survives_a_recompute_of_the_same_day(owner, scored, today):
    override = health_override_create(
        account=scored,
        user=owner,
        score=75,
        reason="Renewal signed",
        expires_on=today + dt.timedelta(days=30),
    )

    health_scores_recompute(day=today)

    row = HealthScore.objects.get(account=scored, day=today)
    assert (row.score, row.band, row.override) == (75, "green", override)
    assert (row.computed_score, row.computed_band) == (38, "red")
    scored.refresh_from_db()
    assert (scored.health_score, scored.health_band) == (75, "green")


def test_an_expired_override_is_not_applied_by_a_later_recompute(owner, scored, today):
    health_override_create(
        account=scored,
        user=owner,
        score=75,
        reason="Renewal signed",
        expires_on=today + dt.timedelta(days=1),
    )
    # The last day it holds is tomorrow; the day after, the computed score is back.
    tomorrow, after = today + dt.timedelta(days=1), today + dt.timedelta(days=2)

    health_scores_recompute(day=tomorrow)
    health_scores_recompute(day=after)

    held = HealthScore.objects.get(account=scored, day=tomorrow)
    assert (held.score, held.band) == (75, "green")
    # The 21 usage days up to today are all within 30 days of `after`: still 38, red.
    expired = HealthScore.objects.get(account=scored, day=after)
    assert (expired.score, expired.band, expired.override) == (38, "red", None)
    scored.refresh_from_db()
    assert (scored.health_score, scored.health_band) == (38, "red")


# --- Who may -----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["teammate", "outsider", "executive"])
def test_others_get_404_and_nothing_is_created(request, client_for, scored, today, persona):
    client = client_for(request.getfixturevalue(persona))

    assert client.get(override_url(scored)).status_code == 404
    assert client.post(override_url(scored), post_data(today)).status_code == 404

    assert not HealthOverride.objects.exists()
    scored.refresh_from_db()
    assert scored.health_score == 38


@pytest.mark.parametrize("persona", ["teammate", "outsider", "executive"])
def test_others_cannot_revoke(request, client_for, owner, scored, today, persona):
    override = health_override_create(
        account=scored,
        user=owner,
        score=75,
        reason="Renewal signed",
        expires_on=today + dt.timedelta(days=5),
    )

    response = client_for(request.getfixturevalue(persona)).post(
        reverse("health:override_revoke", args=[override.pk])
    )

    assert response.status_code == 404
    override.refresh_from_db()
    assert override.revoked_at is None


def test_an_unknown_account_is_404(client_for, manager):
    assert (
        client_for(manager).get(reverse("health:override_create", args=[9999])).status_code == 404
    )


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"expires_on": "2020-01-01"}, "expires_on", "The expiry must be after today"),
        ({"expires_on": "TODAY"}, "expires_on", "The expiry must be after today"),
        ({"expires_on": "DAY_181"}, "expires_on", "An override can run at most 180 days"),
        ({"expires_on": ""}, "expires_on", "Choose when the override ends."),
        ({"reason": "   "}, "reason", "Say why you override the score."),
        ({"score": 101}, "score", "Ensure this value is less than or equal to 100."),
        ({"score": -5}, "score", "Ensure this value is greater than or equal to 0."),
        ({"score": ""}, "score", "Give the score to show instead of the computed one."),
    ],
)
def test_bad_input_is_refused_beside_the_field_and_changes_nothing(
    client_for, owner, scored, today, changes, field, message
):
    if changes.get("expires_on") == "TODAY":
        changes = {"expires_on": today.isoformat()}
    elif changes.get("expires_on") == "DAY_181":
        changes = {"expires_on": (today + dt.timedelta(days=181)).isoformat()}

    response = client_for(owner).post(override_url(scored), post_data(today, **changes))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert errors[field][0].startswith(message)
    assert b"Nothing was saved" in response.content
    assert not HealthOverride.objects.exists()
    assert HealthScore.objects.get(account=scored, day=today).score == 38
    scored.refresh_from_db()
    assert scored.health_score == 38


def test_an_expiry_exactly_180_days_out_is_accepted(client_for, owner, scored, today):
    last = today + dt.timedelta(days=180)
    response = client_for(owner).post(
        override_url(scored), post_data(today, expires_on=last.isoformat())
    )
    assert response.status_code == 302
    assert HealthOverride.objects.get().expires_on == last


def test_the_service_refuses_what_the_form_would(owner, scored, today):
    with pytest.raises(ValidationError) as caught:
        health_override_create(account=scored, user=owner, score=120, reason=" ", expires_on=today)
    assert set(caught.value.message_dict) == {"score", "reason", "expires_on"}
    assert not HealthOverride.objects.exists()


# --- Revoking ----------------------------------------------------------------------------------


def test_revoking_restores_the_computed_score(client_for, owner, scored, today):
    client = client_for(owner)
    client.post(override_url(scored), post_data(today))
    override = HealthOverride.objects.get()

    response = client.post(reverse("health:override_revoke", args=[override.pk]), follow=True)

    assert response.redirect_chain[0] == (scored.get_absolute_url(), 302)
    override.refresh_from_db()
    assert override.revoked_by == owner
    assert override.revoked_at is not None
    row = HealthScore.objects.get(account=scored, day=today)
    assert (row.score, row.band, row.override) == (38, "red", None)
    scored.refresh_from_db()
    assert (scored.health_score, scored.health_band) == (38, "red")
    # And the night does not bring it back.
    health_scores_recompute(day=today)
    assert HealthScore.objects.get(account=scored, day=today).score == 38


def test_revoking_twice_says_so_and_changes_nothing(client_for, owner, scored, today):
    override = health_override_create(
        account=scored,
        user=owner,
        score=75,
        reason="Renewal signed",
        expires_on=today + dt.timedelta(days=5),
    )
    health_override_revoke(override=override, user=owner)
    first_revoked_at = HealthOverride.objects.get().revoked_at

    response = client_for(owner).post(
        reverse("health:override_revoke", args=[override.pk]), follow=True
    )

    assert any("already revoked" in str(m) for m in response.context["messages"])
    assert HealthOverride.objects.get().revoked_at == first_revoked_at


def test_revoke_answers_post_only(client_for, owner, scored, today):
    override = health_override_create(
        account=scored,
        user=owner,
        score=75,
        reason="Renewal signed",
        expires_on=today + dt.timedelta(days=5),
    )
    response = client_for(owner).get(reverse("health:override_revoke", args=[override.pk]))
    assert response.status_code == 405
    override.refresh_from_db()
    assert override.revoked_at is None


# --- The page ----------------------------------------------------------------------------------


def test_the_page_shows_the_computed_score_the_override_in_force_and_the_history(
    client_for, owner, manager, scored, today
):
    old = health_override_create(
        account=scored,
        user=manager,
        score=90,
        reason="Exec sponsor happy",
        expires_on=today + dt.timedelta(days=3),
    )
    health_override_revoke(override=old, user=owner)
    current = health_override_create(
        account=scored,
        user=owner,
        score=75,
        reason="Renewal signed",
        expires_on=today + dt.timedelta(days=30),
    )

    response = client_for(owner).get(override_url(scored))

    assert response.status_code == 200
    ctx = response.context
    assert (ctx["latest"].computed_score, ctx["latest"].computed_band) == (38, "red")
    assert ctx["active"] == current
    assert list(ctx["page_obj"]) == [current, old]
    html = response.content.decode()
    assert reverse("health:override_revoke", args=[current.pk]) in html
    assert "Exec sponsor happy" in html
    assert f"Revoked by {owner}" in html
    # The form starts with an expiry 30 days out.
    assert ctx["form"]["expires_on"].value() == today + dt.timedelta(days=30)


def test_an_account_without_overrides_says_so(client_for, owner, scored):
    response = client_for(owner).get(override_url(scored))
    assert response.context["active"] is None
    assert "never been overridden" in response.content.decode()


def test_the_page_runs_a_fixed_number_of_queries(
    client_for, owner, scored, today, django_assert_max_num_queries
):
    for n in range(25):
        override = HealthOverride.objects.create(
            account=scored,
            score=50 + n,
            reason=f"Call {n}",
            expires_on=today + dt.timedelta(days=n + 1),
            created_by=owner,
        )
        HealthOverride.objects.filter(pk=override.pk).update(
            revoked_at=timezone.now(), revoked_by=owner
        )
    client = client_for(owner)
    # Session, user, account, latest score, active override, history count, history page.
    with django_assert_max_num_queries(7):
        response = client.get(override_url(scored))
    assert len(response.context["page_obj"].object_list) == 25


def test_the_admin_revokes_through_the_service(client_for, admin_user, owner, scored, today):
    override = health_override_create(
        account=scored,
        user=owner,
        score=75,
        reason="Renewal signed",
        expires_on=today + dt.timedelta(days=5),
    )

    client_for(admin_user).post(
        reverse("admin:health_healthoverride_changelist"),
        {"action": "revoke", "_selected_action": [override.pk]},
    )

    override.refresh_from_db()
    assert override.revoked_by == admin_user
    assert HealthScore.objects.get(account=scored, day=today).score == 38
    scored.refresh_from_db()
    assert (scored.health_score, scored.health_band) == (38, "red")
