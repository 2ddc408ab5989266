"""Audit entries for events that reach the application by more than one path.

Logins come from the login page today and from another authentication front end tomorrow;
both fire Django's auth signals. Roles, teams, account owners and contracts are changed by
the services and also directly in the Django admin; a pre_save/post_save pair on the model
is the one place every single-row save passes through. Bulk writes (imports) fire no model
signals and record one summary entry themselves. Wired in AccountsConfig.ready().
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save, pre_save
from django.http import HttpRequest

from accounts.audit import Action, audit_record, changes_between, json_value
from accounts.models import Account, Contract, Team, User

# A user's access: the role, the team (whose accounts a CSM sees), whether they may sign in
# at all (deactivation ends their sessions) and the admin flags.
USER_FIELDS = ("role", "team_id", "is_active", "is_staff", "is_superuser")
_USER_SAVED_FIELDS = {*USER_FIELDS, "team"}
# The fields of a contract whose change is recorded.
CONTRACT_FIELDS = ("start_date", "end_date", "arr", "seats", "status", "previous_id", "external_id")
_BEFORE = "_audit_before"
CENTS = Decimal("0.01")


def _request(kwargs: dict[str, Any]) -> HttpRequest | None:
    request = kwargs.get("request")
    return request if isinstance(request, HttpRequest) else None


def _logged_in(
    sender: Any, request: HttpRequest | None = None, user: User | None = None, **kwargs: Any
) -> None:
    audit_record(Action.LOGIN, actor=user, obj=user, request=request)


def _logged_out(
    sender: Any, request: HttpRequest | None = None, user: User | None = None, **kwargs: Any
) -> None:
    if user is not None:
        audit_record(Action.LOGOUT, actor=user, obj=user, request=request)


def _login_failed(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    # Django has already masked the password in `credentials`; only the name is kept.
    tried = str(
        credentials.get("username") or credentials.get("email") or credentials.get("login") or ""
    )
    audit_record(Action.LOGIN_FAILED, actor=None, actor_label=tried, request=_request(kwargs))


# --- Users: role and team ------------------------------------------------------------------


def _team_name(team_id: int | None) -> str | None:
    if team_id is None:
        return None
    return Team.objects.filter(pk=team_id).values_list("name", flat=True).first()


def _user_pre_save(sender: Any, instance: User, update_fields: Any = None, **kwargs: Any) -> None:
    # Saves that cannot touch the role or team (last_login on every login) cost no query.
    if instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not _USER_SAVED_FIELDS & set(update_fields):
        return
    setattr(instance, _BEFORE, User.objects.filter(pk=instance.pk).values(*USER_FIELDS).first())


def _user_post_save(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    after = {field: getattr(instance, field) for field in USER_FIELDS}
    if created:
        changes = changes_between({}, {"role": instance.role, "team": _team_name(instance.team_id)})
        for flag in ("is_staff", "is_superuser"):
            if getattr(instance, flag):
                changes[flag] = [None, True]
        audit_record(Action.USER_CREATE, obj=instance, changes=changes)
        return
    before = instance.__dict__.pop(_BEFORE, None)
    if before is None:
        return
    changes = changes_between(before, after)
    if not changes:
        return
    if "team_id" in changes:
        del changes["team_id"]
        changes["team"] = [_team_name(before["team_id"]), _team_name(instance.team_id)]
    audit_record(
        Action.USER_ROLE_CHANGE,
        obj=instance,
        changes=changes,
        details={"team_id": [before["team_id"], instance.team_id]} if "team" in changes else {},
    )


# --- Accounts: owner (and the team that follows it) -----------------------------------------


def _account_pre_save(
    sender: Any, instance: Account, update_fields: Any = None, **kwargs: Any
) -> None:
    if instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not {"owner", "owner_id", "team", "team_id"} & set(
        update_fields
    ):
        return
    setattr(
        instance,
        _BEFORE,
        Account.objects.filter(pk=instance.pk).values("owner_id", "team_id").first(),
    )


def _user_name(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id).first()
    return str(user) if user is not None else f"user {user_id}"


def _account_post_save(sender: Any, instance: Account, created: bool, **kwargs: Any) -> None:
    before = instance.__dict__.pop(_BEFORE, None)
    if created or before is None:
        return
    if before["owner_id"] == instance.owner_id and before["team_id"] == instance.team_id:
        return
    changes: dict[str, list[Any]] = {}
    if before["owner_id"] != instance.owner_id:
        changes["owner"] = [_user_name(before["owner_id"]), _user_name(instance.owner_id)]
    if before["team_id"] != instance.team_id:
        changes["team"] = [_team_name(before["team_id"]), _team_name(instance.team_id)]
    audit_record(
        Action.ACCOUNT_REASSIGN,
        obj=instance,
        changes=changes,
        details={
            "owner_id": [before["owner_id"], instance.owner_id],
            "team_id": [before["team_id"], instance.team_id],
        },
    )


# --- Contracts ----------------------------------------------------------------------------


def _contract_label(contract: Contract) -> str:
    # The account may already be gone when its deletion cascades to the contract.
    try:
        return str(contract)
    except Account.DoesNotExist:
        return f"account {contract.account_id} {contract.start_date}–{contract.end_date}"


def _contract_values(contract: Contract) -> dict[str, Any]:
    values = {field: getattr(contract, field) for field in CONTRACT_FIELDS}
    # A form's Decimal("12000") and the stored Decimal("12000.00") are the same ARR.
    if values["arr"] is not None:
        values["arr"] = Decimal(values["arr"]).quantize(CENTS)
    return values


def _contract_pre_save(sender: Any, instance: Contract, **kwargs: Any) -> None:
    if instance._state.adding or instance.pk is None:
        return
    setattr(
        instance, _BEFORE, Contract.objects.filter(pk=instance.pk).values(*CONTRACT_FIELDS).first()
    )


def _contract_post_save(sender: Any, instance: Contract, created: bool, **kwargs: Any) -> None:
    before = instance.__dict__.pop(_BEFORE, None)
    if created:
        changes = changes_between({}, _contract_values(instance))
        audit_record(Action.CONTRACT_CREATE, obj=instance, changes=changes)
        return
    changes = changes_between(before or {}, _contract_values(instance))
    if changes:
        audit_record(Action.CONTRACT_CHANGE, obj=instance, changes=changes)


def _contract_post_delete(sender: Any, instance: Contract, **kwargs: Any) -> None:
    values = _contract_values(instance)
    audit_record(
        Action.CONTRACT_DELETE,
        obj=instance,
        object_label=_contract_label(instance),
        changes={field: [json_value(value), None] for field, value in values.items()},
    )


def audit_signals_connect() -> None:
    uid = "accounts.audit"
    user_logged_in.connect(_logged_in, dispatch_uid=f"{uid}.login")
    user_logged_out.connect(_logged_out, dispatch_uid=f"{uid}.logout")
    user_login_failed.connect(_login_failed, dispatch_uid=f"{uid}.login_failed")
    pre_save.connect(_user_pre_save, sender=User, dispatch_uid=f"{uid}.user_pre")
    post_save.connect(_user_post_save, sender=User, dispatch_uid=f"{uid}.user_post")
    pre_save.connect(_account_pre_save, sender=Account, dispatch_uid=f"{uid}.account_pre")
    post_save.connect(_account_post_save, sender=Account, dispatch_uid=f"{uid}.account_post")
    pre_save.connect(_contract_pre_save, sender=Contract, dispatch_uid=f"{uid}.contract_pre")
    post_save.connect(_contract_post_save, sender=Contract, dispatch_uid=f"{uid}.contract_post")
    post_delete.connect(
        _contract_post_delete, sender=Contract, dispatch_uid=f"{uid}.contract_delete"
    )
