"""The CSM field of the dashboards' scope filters (health, feedback).

A portfolio has hundreds of CSMs, so the dropdown lists the CSMs of the team picked beside
it (a CSM's own team for a CSM), plus the one already chosen, instead of everyone on every
page load: pick a team, apply, then pick one of its CSMs. Any CSM the viewer may choose is
still accepted from the URL: the field validates against the whole queryset, only the
listed options are narrowed.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import Account, User

# The empty choice when someone who sees every team has not picked one.
PICK_A_TEAM_LABEL = "All CSMs (pick a team to list its CSMs)"


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def csm_field_scope(
    form: forms.Form,
    *,
    user: User,
    visible: QuerySet[Account],
    field_name: str = "csm",
    team_field: str = "team",
) -> None:
    """Set the CSM field's queryset (people owning an account the viewer may see, and the
    viewer) and list only the picked team's (or the viewer's team's) among its options."""
    field = cast(forms.ModelChoiceField, form.fields[field_name])
    owns_visible = Exists(visible.filter(owner=OuterRef("pk")).order_by())
    people = User.objects.filter(owns_visible | Q(pk=user.pk))
    field.queryset = people

    data = form.data if form.is_bound else {}
    team_id = _int_or_none(data.get(form.add_prefix(team_field)))
    chosen = _int_or_none(data.get(form.add_prefix(field_name)))
    wanted = Q(pk__in=[])
    if team_id is not None:
        wanted |= Q(team_id=team_id)
    elif not user.sees_all_accounts:
        # A CSM's book spans their own team only: a short list.
        wanted |= Q(pk__in=people.values("pk"))
    if chosen is not None:
        wanted |= Q(pk=chosen)
    empty = field.empty_label or ""
    if team_id is None and user.sees_all_accounts:
        empty = PICK_A_TEAM_LABEL
    listed = people.filter(wanted).order_by("first_name", "last_name", "username")
    field.widget.choices = [("", empty), *((u.pk, str(u)) for u in listed)]
