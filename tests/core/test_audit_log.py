"""The audit log: every recorded event done through its real page or service leaves one entry
with the right actor, address, object and change; entries cannot be changed or deleted; the
search page is for admins only, filters, exports safely and keeps a fixed query count."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.api_tokens import ApiToken
from accounts.audit import Action, audit_record
from accounts.audit_models import AuditEntry, AuditEntryImmutable
from accounts.import_models import ImportJob
from accounts.import_tasks import csv_import_run_task
from accounts.models import Account, Contract, User
from accounts.services.segments import segment_create, segment_update
from health.models import HealthOverride, Scorecard
from health.scoring import ComponentRule
from health.services_scorecards import scorecard_active_set, scorecard_create
from journeys.models import Stage
from journeys.services import journey_start
from tests.accounts.test_records import contract_form_data, edit_data
from tests.api import token_client
from tests.factories import ContactFactory, ContractFactory, SurveyFactory
from tests.health.test_scorecards import rules_post, with_weight
from tests.reports.test_monthly import generate, quick_pdf  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.7"


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("pk"))


def only(action: str) -> AuditEntry:
    found = entries(action)
    assert len(found) == 1, found
    return found[0]


# --- Logins -------------------------------------------------------------------------------------


def test_a_login_records_the_user_and_address(client, owner):
    response = client.post(
        reverse("login"),
        {"username": "owner", "password": "correct-horse-battery"},
        REMOTE_ADDR=ADDRESS,
    )

    assert response.status_code == 302
    entry = only(Action.LOGIN)
    assert (entry.actor, entry.actor_label, entry.ip_address) == (owner, "owner", ADDRESS)
    assert (entry.object_type, entry.object_id) == ("user", str(owner.pk))


def test_a_failed_login_records_the_name_tried_and_the_address(client, owner):
    response = client.post(
        reverse("login"), {"username": "owner", "password": "wrong"}, REMOTE_ADDR=ADDRESS
    )

    assert response.status_code == 200
    entry = only(Action.LOGIN_FAILED)
    assert (entry.actor, entry.actor_label, entry.ip_address) == (None, "owner", ADDRESS)
    # The password tried is never stored, masked or not.
    assert "wrong" not in str(entry.changes) + str(entry.details)
    assert not entries(Action.LOGIN)


def test_a_logout_is_recorded(client_for, owner):
    client_for(owner).post(reverse("logout"), REMOTE_ADDR=ADDRESS)

    entry = only(Action.LOGOUT)
    assert (entry.actor, entry.ip_address) == (owner, ADDRESS)


def test_the_address_comes_from_x_forwarded_for_only_behind_trusted_proxies(owner, settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.4"
    )
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    assert audit_record(Action.EXPORT, actor=owner, request=request).ip_address == "10.0.0.5"
    # One proxy of ours appended the client's address; "6.6.6.6" is what the client claimed.
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    assert audit_record(Action.EXPORT, actor=owner, request=request).ip_address == "198.51.100.4"


# --- Roles and teams ----------------------------------------------------------------------------


def test_a_role_and_team_change_in_the_django_admin_is_recorded(
    client_for, admin_user, owner, smb_team
):
    client = client_for(admin_user)
    url = reverse("admin:accounts_user_change", args=[owner.pk])
    joined = timezone.localtime(owner.date_joined)
    data = {
        "username": owner.username,
        "first_name": owner.first_name,
        "last_name": owner.last_name,
        "email": owner.email,
        "is_active": "on",
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
        "role": "manager",
        "team": smb_team.pk,
    }

    response = client.post(url, data, REMOTE_ADDR=ADDRESS)

    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = only(Action.USER_ROLE_CHANGE)
    assert (entry.actor, entry.ip_address, entry.object_id) == (admin_user, ADDRESS, str(owner.pk))
    assert entry.changes == {"role": ["csm", "manager"], "team": ["Enterprise", "SMB"]}


def test_a_role_change_in_code_is_recorded_and_a_last_login_save_is_not(owner):
    owner.last_login = timezone.now()
    owner.save(update_fields=["last_login"])
    assert not entries(Action.USER_ROLE_CHANGE)

    owner.role = User.Role.EXECUTIVE
    owner.team = None
    owner.save()

    entry = only(Action.USER_ROLE_CHANGE)
    assert entry.actor is None  # no request: a script
    assert entry.changes == {"role": ["csm", "executive"], "team": ["Enterprise", None]}


def test_deactivating_a_user_is_recorded(owner):
    owner.is_active = False
    owner.save(update_fields=["is_active"])

    entry = only(Action.USER_ROLE_CHANGE)
    assert entry.object_label == str(owner)
    assert entry.changes == {"is_active": [True, False]}


# --- Accounts and contracts ---------------------------------------------------------------------


def test_reassigning_an_account_records_old_and_new_owner_and_team(
    client_for, manager, owner, outsider, account
):
    response = client_for(manager).post(
        reverse("accounts:account_edit", args=[account.pk]),
        edit_data(account, owner=outsider.pk, team=""),
        REMOTE_ADDR=ADDRESS,
    )

    assert response.status_code == 302
    entry = only(Action.ACCOUNT_REASSIGN)
    assert (entry.actor, entry.ip_address) == (manager, ADDRESS)
    assert (entry.object_type, entry.object_id, entry.object_label) == (
        "account",
        str(account.pk),
        "Acme Corp",
    )
    assert entry.changes == {
        "owner": [str(owner), str(outsider)],
        "team": ["Enterprise", "SMB"],
    }


def test_editing_an_account_without_reassigning_records_nothing(client_for, manager, account):
    client_for(manager).post(
        reverse("accounts:account_edit", args=[account.pk]), edit_data(account, name="Acme Ltd")
    )
    assert not entries(Action.ACCOUNT_REASSIGN)


def test_a_contract_added_on_its_page_is_recorded_with_its_terms(client_for, owner, account):
    response = client_for(owner).post(
        reverse("accounts:contract_create", args=[account.pk]),
        contract_form_data(arr="12000", seats="20"),
    )

    assert response.status_code == 302
    contract = Contract.objects.get(account=account)
    entry = only(Action.CONTRACT_CREATE)
    assert (entry.actor, entry.object_type, entry.object_id) == (
        owner,
        "contract",
        str(contract.pk),
    )
    assert entry.changes == {
        "start_date": [None, "2026-01-01"],
        "end_date": [None, "2026-12-31"],
        "arr": [None, "12000.00"],
        "seats": [None, 20],
        "status": [None, "active"],
    }


def test_a_contract_added_through_the_api_names_the_tokens_user(owner, account):
    client = token_client(owner)

    response = client.post(
        "/api/v1/contracts/",
        {
            "account": account.pk,
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "arr": "5000",
        },
        format="json",
        REMOTE_ADDR=ADDRESS,
    )

    assert response.status_code == 201, response.json()
    entry = only(Action.CONTRACT_CREATE)
    assert (entry.actor, entry.ip_address, entry.object_id) == (
        owner,
        ADDRESS,
        str(response.json()["id"]),
    )
    assert entry.changes["arr"] == [None, "5000.00"]


def test_a_contract_changed_and_deleted_in_the_django_admin_is_recorded(
    client_for, admin_user, account
):
    contract = ContractFactory(
        account=account,
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 12, 31),
        arr=Decimal("12000"),
        seats=20,
    )
    client = client_for(admin_user)
    data = {
        "account": account.pk,
        "external_id": contract.external_id or "",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "arr": "15000.00",
        "seats": "25",
        "status": contract.status,
        "previous": "",
    }

    response = client.post(reverse("admin:accounts_contract_change", args=[contract.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    response = client.post(
        reverse("admin:accounts_contract_delete", args=[contract.pk]), {"post": "yes"}
    )
    assert response.status_code == 302

    change = only(Action.CONTRACT_CHANGE)
    assert change.actor == admin_user
    assert change.changes == {"arr": ["12000.00", "15000.00"], "seats": [20, 25]}
    deleted = only(Action.CONTRACT_DELETE)
    assert (deleted.actor, deleted.object_id) == (admin_user, str(contract.pk))
    assert deleted.object_label == "Acme Corp 2026-01-01–2026-12-31"
    assert deleted.changes["arr"] == ["15000.00", None]


# --- Health -------------------------------------------------------------------------------------


def test_an_override_set_then_ended_on_its_pages_is_recorded(client_for, owner, account):
    client = client_for(owner)
    expires = timezone.localdate() + dt.timedelta(days=30)

    response = client.post(
        reverse("health:override_create", args=[account.pk]),
        {"score": 75, "reason": "Renewal signed", "expires_on": expires.isoformat()},
        REMOTE_ADDR=ADDRESS,
    )
    assert response.status_code == 302
    override = HealthOverride.objects.get(account=account)
    response = client.post(reverse("health:override_revoke", args=[override.pk]))
    assert response.status_code == 302

    created = only(Action.OVERRIDE_CREATE)
    assert (created.actor, created.ip_address, created.object_id) == (
        owner,
        ADDRESS,
        str(account.pk),
    )
    assert created.changes == {"health_score": [None, 75], "override_score": [None, 75]}
    assert created.details["reason"] == "Renewal signed"
    assert created.details["expires_on"] == expires.isoformat()
    ended = only(Action.OVERRIDE_END)
    assert (ended.actor, ended.changes) == (owner, {"override_score": [75, None]})
    assert ended.details["override_id"] == override.pk


def test_a_refused_override_records_nothing(client_for, owner, account):
    client_for(owner).post(
        reverse("health:override_create", args=[account.pk]),
        {"score": 150, "reason": "x", "expires_on": "2020-01-01"},
    )
    assert not entries(Action.OVERRIDE_CREATE)


def test_a_scorecard_edit_records_the_new_version_and_what_changed(client_for, manager):
    scorecard = Scorecard.objects.get(segment__isnull=True, is_active=True)

    response = client_for(manager).post(
        reverse("health:scorecard_edit", args=[scorecard.pk]),
        rules_post(with_weight("usage", 40), red_below=35),
    )

    assert response.status_code == 302
    entry = only(Action.SCORECARD_VERSION)
    assert (entry.actor, entry.object_type, entry.object_id) == (
        manager,
        "scorecard",
        str(scorecard.pk),
    )
    assert set(entry.changes) == {"components", "red_below"}
    assert entry.changes["red_below"] == [40, 35]
    old, new = entry.changes["components"]
    assert [c["weight"] for c in old if c["measure"] == "usage"] == [30]
    assert [c["weight"] for c in new if c["measure"] == "usage"] == [40]
    assert entry.details["version"] == 2


# --- Journeys and segments ----------------------------------------------------------------------


def test_a_stage_move_on_the_journey_page_is_recorded(client_for, owner, account):
    stages = {stage.slug: stage for stage in Stage.objects.all()}
    journey_start(account=account, stage=stages["onboarding"], by=owner)

    response = client_for(owner).post(
        reverse("journeys:journey_move", args=[account.pk]),
        {"to_stage": stages["activation"].pk, "reason": "Kick-off done"},
        REMOTE_ADDR=ADDRESS,
    )

    assert response.status_code == 302
    start, move = entries(Action.STAGE_MOVE)
    assert start.changes == {"stage": [None, stages["onboarding"].name]}
    assert (move.actor, move.ip_address, move.object_id) == (owner, ADDRESS, str(account.pk))
    assert move.changes == {"stage": [stages["onboarding"].name, stages["activation"].name]}
    assert move.details["reason"] == "Kick-off done"


def test_a_stage_edit_in_settings_records_the_changed_fields(client_for, manager):
    stage = Stage.objects.get(slug="activation")
    data = {
        "name": "Activation",
        "slug": "activation",
        "order": stage.order,
        "target_days": 45,
        "description": stage.description,
    }
    if stage.auto_advance:
        data["auto_advance"] = "on"

    response = client_for(manager).post(reverse("journeys:stage_edit", args=[stage.pk]), data)

    assert response.status_code == 302
    entry = only(Action.STAGE_CONFIG)
    assert (entry.actor, entry.object_type, entry.object_id) == (manager, "stage", str(stage.pk))
    assert entry.changes == {"target_days": [stage.target_days, 45]}


def test_reordering_stages_records_the_order_before_and_after(client_for, manager):
    names = list(Stage.objects.order_by("order").values_list("name", flat=True))
    second = Stage.objects.order_by("order")[1]

    client_for(manager).post(
        reverse("journeys:stage_reorder", args=[second.pk]), {"direction": "up"}
    )

    entry = only(Action.STAGE_CONFIG)
    assert entry.actor == manager
    assert entry.changes == {"order": [names, [names[1], names[0], *names[2:]]]}


def test_switching_a_segment_scorecard_off_is_recorded(manager):
    segment = segment_create(name="Enterprise", kind="static", created_by=manager)
    scorecard = scorecard_create(
        name="Enterprise",
        segment=segment,
        priority=1,
        components=[ComponentRule(measure="usage", weight=100, zero_at=0.1, full_at=0.8)],
        red_below=40,
        green_from=70,
        note="",
        created_by=manager,
    )

    scorecard_active_set(scorecard=scorecard, is_active=False)

    first_version = only(Action.SCORECARD_VERSION)
    assert first_version.changes["red_below"] == [None, 40]
    switched = only(Action.SCORECARD_ACTIVE)
    assert (switched.object_id, switched.changes) == (
        str(scorecard.pk),
        {"is_active": [True, False]},
    )


def test_segment_rules_changes_are_recorded(manager):
    segment = segment_create(
        name="Big", kind="rule", rules={"arr_min": "50000"}, created_by=manager
    )
    segment_update(segment=segment, name="Big", description="", rules={"arr_min": "80000"})

    first, second = entries(Action.SEGMENT_CHANGE)
    assert first.changes["name"] == [None, "Big"]
    assert second.changes == {"rules": [{"arr_min": "50000"}, {"arr_min": "80000"}]}


# --- Imports, exports and downloads -------------------------------------------------------------


def test_an_accounts_import_records_one_entry_for_the_whole_file(
    client_for, manager, owner, django_capture_on_commit_callbacks
):
    client = client_for(manager)
    text = "external_id,name,owner,start_date\n" + "".join(
        f"IMP-{n},Imported {n},owner,2024-01-15\n" for n in range(1, 4)
    )
    response = client.post(
        reverse("accounts:import_upload"),
        {"kind": "accounts", "file": SimpleUploadedFile("a.csv", text.encode())},
    )
    assert response.status_code == 302

    with (
        mock.patch.object(csv_import_run_task, "delay"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(response.url, {"action": "confirm"}, REMOTE_ADDR=ADDRESS)
    assert csv_import_run_task(ImportJob.objects.get().pk) == "succeeded"

    entry = only(Action.IMPORT)
    assert (entry.actor, entry.ip_address, entry.object_type) == (manager, ADDRESS, "importjob")
    assert entry.details == {
        "kind": "accounts",
        "file_name": "a.csv",
        "rows_total": 3,
        "rows_new": 3,
        "rows_updated": 0,
    }
    # The three accounts were written in bulk: no entry per row.
    assert Account.objects.filter(external_id__startswith="IMP-").count() == 3
    assert AuditEntry.objects.exclude(action__in=[Action.LOGIN, Action.USER_CREATE]).count() == 1


def test_a_survey_answers_import_records_one_entry_with_counts_and_ids(
    client_for, manager, account
):
    ContactFactory(account=account, email="jane@acme.example")
    SurveyFactory(name="Relationship NPS", kind="nps")
    answered = (timezone.localdate() - dt.timedelta(days=100)).isoformat()
    text = "external_id,email,survey,score,comment,answered_at\n" + "".join(
        f"ans-{n},jane@acme.example,Relationship NPS,9,,{answered}\n" for n in range(1, 3)
    )

    response = client_for(manager).post(
        "/feedback/surveys/import/", {"file": SimpleUploadedFile("x.csv", text.encode())}
    )

    assert response.status_code == 302
    entry = only(Action.IMPORT)
    assert entry.actor == manager
    assert entry.details["rows_total"] == 2
    assert entry.details["rows_new"] == 2
    assert entry.details["external_ids_sample"] == ["ans-1", "ans-2"]


def test_the_account_list_export_is_recorded_with_its_filters(client_for, manager, account):
    response = client_for(manager).get(
        reverse("accounts:account_export"), {"tier": "scaled"}, REMOTE_ADDR=ADDRESS
    )
    b"".join(response.streaming_content)

    entry = only(Action.EXPORT)
    assert (entry.actor, entry.ip_address, entry.object_id) == (manager, ADDRESS, "accounts")
    assert entry.details == {"filters": {"tier": "scaled"}}


def test_the_product_requests_export_is_recorded(client_for, manager):
    response = client_for(manager).get(reverse("feedback:product_requests_export"))

    assert response.status_code == 200
    entry = only(Action.EXPORT)
    assert (entry.actor, entry.object_id, entry.details["rows"]) == (
        manager,
        "product_requests",
        0,
    )


@pytest.mark.usefixtures("quick_pdf")
def test_monthly_report_downloads_are_recorded_per_format(client_for, executive):
    report = generate()
    client = client_for(executive)

    assert client.get("/reports/2026-10.pdf").status_code == 200
    assert client.get("/reports/2026-10.csv").status_code == 200

    pdf, csv_download = entries(Action.REPORT_DOWNLOAD)
    assert (pdf.actor, pdf.object_id, pdf.details["format"]) == (executive, str(report.pk), "pdf")
    assert (csv_download.object_label, csv_download.details["format"]) == (
        "Monthly report 2026-10",
        "csv",
    )


# --- API tokens ---------------------------------------------------------------------------------


def test_issuing_and_revoking_a_token_on_its_page_is_recorded(client_for, owner):
    client = client_for(owner)

    response = client.post(reverse("api_tokens:list"), {"name": "CRM sync"}, REMOTE_ADDR=ADDRESS)
    assert response.status_code == 200
    token = ApiToken.objects.get(user=owner)
    client.post(reverse("api_tokens:revoke", args=[token.pk]))

    issued = only(Action.TOKEN_CREATE)
    assert (issued.actor, issued.ip_address, issued.object_type, issued.object_id) == (
        owner,
        ADDRESS,
        "apitoken",
        str(token.pk),
    )
    assert issued.object_label == str(token)
    revoked = only(Action.TOKEN_REVOKE)
    assert revoked.actor == owner
    assert revoked.changes["revoked_at"][0] is None


# --- Append-only --------------------------------------------------------------------------------


def test_an_entry_cannot_be_updated_or_deleted(owner):
    entry = audit_record(Action.EXPORT, actor=owner, object_label="x")

    entry.object_label = "rewritten"
    with pytest.raises(AuditEntryImmutable):
        entry.save()
    with pytest.raises(AuditEntryImmutable):
        AuditEntry(pk=entry.pk, action=Action.LOGIN).save()
    with pytest.raises(AuditEntryImmutable):
        AuditEntry.objects.filter(pk=entry.pk).update(object_label="rewritten")
    with pytest.raises(AuditEntryImmutable):
        entry.delete()
    with pytest.raises(AuditEntryImmutable):
        AuditEntry.objects.all().delete()

    assert AuditEntry.objects.get(pk=entry.pk).object_label == "x"


def test_the_django_admin_grants_nobody_add_change_or_delete(admin_user, client_for):
    model_admin = admin.site._registry[AuditEntry]
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    entry = audit_record(Action.EXPORT, actor=admin_user)

    assert admin_user.is_superuser
    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_change_permission(request, entry) is False
    assert model_admin.has_delete_permission(request, entry) is False
    client = client_for(admin_user)
    assert client.get(reverse("admin:accounts_auditentry_changelist")).status_code == 200
    response = client.post(
        reverse("admin:accounts_auditentry_delete", args=[entry.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


# --- The audit page -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["manager", "owner", "executive"])
def test_only_admins_open_the_audit_page_or_its_export(client_for, request, persona):
    client = client_for(request.getfixturevalue(persona))

    assert client.get(reverse("audit:list")).status_code == 403
    assert client.get(reverse("audit:export")).status_code == 403


@pytest.fixture
def logged(admin_user, manager, owner):
    """Five entries on known days (UTC): the admin's and the manager's."""
    day = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    rows = [
        (admin_user, Action.EXPORT, "export", "Account list CSV", day),
        (admin_user, Action.TOKEN_CREATE, "apitoken", "CRM sync", day + dt.timedelta(days=1)),
        (manager, Action.EXPORT, "export", "Product requests CSV", day + dt.timedelta(days=2)),
        (manager, Action.CONTRACT_CREATE, "contract", "Acme Corp 2026", day + dt.timedelta(3)),
        (owner, Action.CONTRACT_CREATE, "contract", "=HYPERLINK(1)", day + dt.timedelta(days=4)),
    ]
    AuditEntry.objects.bulk_create(
        AuditEntry(
            actor=actor,
            actor_label=actor.username,
            action=action,
            object_type=kind,
            object_label=label,
            at=at,
        )
        for actor, action, kind, label, at in rows
    )
    # force_login of the personas recorded nothing through the page; keep only these five.
    return AuditEntry.objects.filter(at__year=2026, at__month=3)


def count_on_page(response) -> int:
    return response.context["page_obj"].paginator.count


def test_filters_narrow_the_page(client_for, admin_user, manager, logged):
    client = client_for(admin_user)
    url = reverse("audit:list")
    march = {"date_from": "2026-03-01", "date_to": "2026-03-31"}

    assert count_on_page(client.get(url, march)) == 5
    assert count_on_page(client.get(url, {**march, "actor": manager.pk})) == 2
    assert count_on_page(client.get(url, {**march, "action": "export"})) == 2
    assert count_on_page(client.get(url, {**march, "object_type": "contract"})) == 2
    assert count_on_page(client.get(url, {**march, "q": "acme"})) == 1
    # 11th to 12th March inclusive: the token (11th) and the manager's export (12th).
    assert count_on_page(client.get(url, {"date_from": "2026-03-11", "date_to": "2026-03-12"})) == 2
    assert client.get(url, {"date_from": "2026-03-12", "date_to": "2026-03-01"}).status_code == 400


def test_the_page_lists_newest_first(client_for, admin_user, logged):
    response = client_for(admin_user).get(
        reverse("audit:list"), {"date_from": "2026-03-01", "date_to": "2026-03-31"}
    )
    labels = [entry.object_label for entry in response.context["page_obj"].object_list]
    assert labels == [
        "=HYPERLINK(1)",
        "Acme Corp 2026",
        "Product requests CSV",
        "CRM sync",
        "Account list CSV",
    ]


def test_the_export_is_filtered_escaped_and_itself_recorded(client_for, admin_user, logged):
    response = client_for(admin_user).get(
        reverse("audit:export"), {"object_type": "contract", "date_from": "2026-03-01"}
    )

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["Time (UTC)", "Actor", "Address"]
    assert [row[6] for row in rows[1:]] == ["'=HYPERLINK(1)", "Acme Corp 2026"]
    assert rows[1][0] == "2026-03-14 12:00:00"
    export = AuditEntry.objects.filter(object_id="audit_log").get()
    assert export.details["filters"] == {"object_type": "contract", "date_from": "2026-03-01"}


def test_the_page_keeps_a_fixed_query_count(
    client_for, admin_user, logged, django_assert_max_num_queries
):
    client = client_for(admin_user)
    AuditEntry.objects.bulk_create(
        AuditEntry(actor=admin_user, actor_label="ops", action=Action.EXPORT) for _ in range(60)
    )

    # Session, user, the actor choices, the count and the page, whatever the page holds.
    with django_assert_max_num_queries(6):
        response = client.get(reverse("audit:list"))
    assert len(response.context["page_obj"].object_list) == 50
    with django_assert_max_num_queries(7):
        client.get(reverse("audit:list"), {"actor": admin_user.pk, "page": 2})


def test_admins_see_the_audit_log_in_the_navigation(client_for, admin_user, manager):
    def labels(user: User) -> list[str]:
        return [item["label"] for item in client_for(user).get("/").context["nav_items"]]

    assert "Audit log" in labels(admin_user)
    assert "Audit log" not in labels(manager)


def test_a_deleted_user_keeps_their_entries(owner):
    entry = audit_record(Action.EXPORT, actor=owner)

    owner.delete()

    kept = AuditEntry.objects.get(pk=entry.pk)
    assert (kept.actor_id, kept.actor_label) == (entry.actor_id, "owner")
