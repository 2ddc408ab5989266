"""Endpoints whose pages a role may not open at all (playbooks, surveys and campaigns for
anyone but admins and managers; the company-wide monthly report for CSMs): the pages' role
check applied to reads as well as writes, and documented as a 403 on every operation."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from cs_platform.api.scoping import ApiAutoSchema, ErrorSerializer, request_user


class ConfiguresOnly(permissions.BasePermission):
    """Admins and CS managers only, for reads and writes: other roles get 403, as on the
    settings pages (PRODUCT.md section 6)."""

    message = "Only admins and CS managers use this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request_user(request).can_configure


class RoleRestrictedAutoSchema(ApiAutoSchema):
    """ApiAutoSchema plus the 403 that a role without access gets on reads too."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction == "response" and "403" not in responses:
            response = self._get_response_for_code(ErrorSerializer, "403", direction=direction)
            response["description"] = "The caller's role may not use this resource."
            responses["403"] = response
        return responses
