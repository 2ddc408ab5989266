"""Input handling shared by the write endpoints: parse a request body with an input
serializer, and fill a PATCH up to the full set of fields a service takes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.settings import api_settings


def validated_input(
    serializer_class: type, request: Request, *, partial: bool = False, **kwargs: Any
) -> Any:
    """The request body checked by `serializer_class`; 400 with field errors otherwise."""
    serializer = serializer_class(
        data=request.data, partial=partial, context={"request": request}, **kwargs
    )
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def merged(stored: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """PATCH: the stored values with the given ones on top (services take every field)."""
    return {**stored, **given}


def field_errors(exc: DjangoValidationError, *, fields: set[str], rest: str) -> ValidationError:
    """A service's ValidationError as API field errors: keys that are input fields stay,
    Django's "__all__" becomes DRF's non_field_errors, and any other key (a detail the
    service checks inside one field, e.g. a trigger's parameter) goes under `rest`."""
    if not hasattr(exc, "error_dict"):
        return ValidationError({api_settings.NON_FIELD_ERRORS_KEY: exc.messages})
    detail: dict[str, Any] = {}
    nested: dict[str, list[str]] = {}
    for key, messages in exc.message_dict.items():
        if key == NON_FIELD_ERRORS:
            detail[api_settings.NON_FIELD_ERRORS_KEY] = messages
        elif key in fields:
            detail[key] = messages
        else:
            nested[key] = messages
    if nested:
        detail[rest] = nested
    return ValidationError(detail)
