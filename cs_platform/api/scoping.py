"""The one chokepoint through which every API view applies the book-of-business rules
(PRODUCT.md section 6), and the schema class that documents the errors they produce.

Reads are scoped to accounts_visible_to(user); writes to objects are scoped to the accounts
the user may edit (or to the object's own access-checked getter), so an object the user may
not see or may not change answers 404 for reads and writes alike, and lists never include
it. A role that may never write (executives) gets 403 on every unsafe method.
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import Model, QuerySet
from django.db.models import fields as model_fields
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import permissions, serializers
from rest_framework.request import Request

from accounts.models import Account, AccountQuerySet, User
from accounts.selectors.access import accounts_visible_to


def request_user(request: Request) -> User:
    # IsAuthenticated runs before any view code, so the user is a real User here.
    return cast(User, request.user)


def accounts_for_request(request: Request) -> AccountQuerySet:
    """The accounts the request may touch: visible ones for reads, editable ones for writes."""
    user = request_user(request)
    if request.method in permissions.SAFE_METHODS:
        return accounts_visible_to(user)
    return Account.objects.editable_by(user)


def scope_to_accounts(
    queryset: QuerySet[Any], accounts: AccountQuerySet, account_lookup: str
) -> QuerySet[Any]:
    """Narrow `queryset` to rows whose account (reached through `account_lookup`, "" for
    Account itself) is in `accounts`."""
    if not accounts.query.has_filters():
        # Everything (admins, managers, executives reading): skip a subquery over all
        # accounts, which would cost a semi-join on every list of 10 M usage rows.
        return queryset
    if not account_lookup:
        return queryset.filter(pk__in=accounts.values("pk"))
    return queryset.filter(**{f"{account_lookup}__in": accounts.values("pk")})


class CanWriteAccounts(permissions.BasePermission):
    """Executives (and any other read-only role) get 403 on every write."""

    message = "Your role is read-only: it cannot change accounts or their records."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return request_user(request).can_edit_accounts


class CanConfigure(permissions.BasePermission):
    """Settings objects (segments): everyone reads, admins and managers write."""

    message = "Only admins and CS managers change this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return request_user(request).can_configure


class AccountScopedViewSetMixin:
    """Put first in the bases of every viewset over accounts or rows of an account.

    `account_lookup` is the path from the viewset's model to Account ("account", or "" for
    Account itself). Writes to one object go through get_object_for_edit, which viewsets
    override with their access-checked getter when its rule differs from "may edit the
    account" (a task's owner may close it; only an interaction's author may change it).
    """

    account_lookup: str = "account"
    permission_classes = [permissions.IsAuthenticated, CanWriteAccounts]
    # Ids are integers; anything else is a 404 from the URL resolver, not a query.
    lookup_value_regex = r"[0-9]+"

    request: Request
    kwargs: dict[str, Any]

    def get_queryset(self) -> QuerySet[Any]:
        queryset = cast(QuerySet[Any], super().get_queryset())  # type: ignore[misc]
        if getattr(self, "swagger_fake_view", False):
            # Schema generation has no real user; the rules do not change the schema.
            return queryset.none()
        return scope_to_accounts(queryset, accounts_for_request(self.request), self.account_lookup)

    def get_object(self) -> Model:
        if self.request.method in permissions.SAFE_METHODS:
            return cast(Model, super().get_object())  # type: ignore[misc]
        obj = self.get_object_for_edit(int(self.kwargs["pk"]))
        self.check_object_permissions(self.request, obj)  # type: ignore[attr-defined]
        return obj

    def get_object_for_edit(self, pk: int) -> Model:
        """The object to change, or Http404; by default: in the accounts the user edits."""
        return cast(Model, super().get_object())  # type: ignore[misc]

    def editable_accounts(self) -> AccountQuerySet:
        return Account.objects.editable_by(request_user(self.request))


# --- Documentation of the errors every endpoint can answer ---------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


FIELD_ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Field errors: each invalid field (or `non_field_errors`) and its messages.",
    "additionalProperties": {},
    "example": {"name": ["This field is required."]},
}

_DETAIL_ERRORS = {
    "401": "No valid credentials: a missing, unknown, revoked or expired token.",
    "403": "The role may not do this (executives are read-only).",
    "404": "No such object, or not one the caller may see (or change, for writes).",
    "429": "Too many requests for this token; retry after the Retry-After header's seconds.",
}


class ApiAutoSchema(AutoSchema):
    """Adds the error responses of the API's shared machinery to every operation, so each
    endpoint documents its 400/401/403/404/429 without repeating them."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = cast(dict[str, Any], super()._get_response_bodies(direction))
        if direction != "response":
            return responses
        has_id = "{id}" in self.path or "{pk}" in self.path
        unsafe = self.method not in permissions.SAFE_METHODS
        codes = ["401", "429"]
        if unsafe:
            codes.append("403")
        if has_id:
            codes.append("404")
        for code in codes:
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = _DETAIL_ERRORS[code]
                responses[code] = response
        if (unsafe or (self._is_list_view() and not has_id)) and "400" not in responses:
            response = self._get_response_for_code(dict(FIELD_ERRORS_SCHEMA), "400")
            response["description"] = "Invalid input: field errors, nothing was changed."
            responses["400"] = response
        return responses


class HashedTokenScheme(OpenApiAuthenticationExtension):
    """Documents accounts.api_auth.HashedTokenAuthentication as HTTP bearer auth."""

    target_class = "accounts.api_auth.HashedTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token from /settings/api-tokens/: "
            "`Authorization: Bearer csp_...` (or `Token csp_...`).",
        }


# --- Named choice sets ---------------------------------------------------------------------
# drf-spectacular names every choice set after its field ("status", "kind"), so the API's
# many `status` fields collide and warn (and --fail-on-warn fails). A NamedChoiceField
# carries its own component name instead, e.g. TaskStatus, ContractStatus, AccountTier.


class NamedChoiceField(serializers.ChoiceField):
    def __init__(
        self, *args: Any, enum_name: str, may_be_blank: bool = False, **kwargs: Any
    ) -> None:
        self.enum_name = enum_name
        # Read-only fields lose allow_blank; a stored blank value still appears in responses.
        self.may_be_blank = may_be_blank
        super().__init__(*args, **kwargs)


def choice_field(model: type[Model], field_name: str, **kwargs: Any) -> NamedChoiceField:
    """An input field with the choices of `model.field_name`, documented as the same named
    component as that field in responses."""
    model_field = model._meta.get_field(field_name)
    assert isinstance(model_field, model_fields.Field)
    return NamedChoiceField(
        choices=model_field.choices or [], enum_name=enum_name_of(model, field_name), **kwargs
    )


def enum_name_of(model: type[Model], field_name: str) -> str:
    return model.__name__ + "".join(part.title() for part in field_name.split("_"))


class NamedChoiceFieldSchema(OpenApiSerializerFieldExtension):
    target_class = NamedChoiceField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        field = cast(NamedChoiceField, self.target)
        values = [value for value in field.choices if value not in ("", None)]
        labels = "\n".join(f"* `{value}` - {label}" for value, label in field.choices.items())
        component = ResolvedComponent(
            name=field.enum_name,
            type=ResolvedComponent.SCHEMA,
            schema={"type": "string", "enum": values, "description": labels},
            object=field.enum_name,
        )
        auto_schema.registry.register_on_missing(component)
        options: list[dict[str, Any]] = [component.ref]
        if field.allow_blank or field.may_be_blank:
            options.append({"type": "string", "enum": [""]})
        if len(options) == 1 and not field.allow_null:
            return component.ref
        schema: dict[str, Any] = {"oneOf": options} if len(options) > 1 else {"allOf": options}
        if field.allow_null:
            schema["nullable"] = True
        return schema


class ApiModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose choice fields are named after their model and field."""

    serializer_choice_field = NamedChoiceField

    def build_standard_field(
        self, field_name: str, model_field: Any
    ) -> tuple[type, dict[str, Any]]:
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if field_class is NamedChoiceField:
            kwargs["enum_name"] = enum_name_of(model_field.model, field_name)
            kwargs["may_be_blank"] = bool(model_field.blank)
        return field_class, kwargs
