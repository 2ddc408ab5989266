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
from django.db.models import OuterRef, Q, QuerySet, Subquery

from accounts.filters import PlainSelect
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
    owned = visible.filter(owner=OuterRef("pk"))
    if not user.sees_all_accounts:
        # A CSM's book is their own accounts and their team's, so anyone else owning one of
        # them owns one of the team's. Naming the team makes each person's lookup one probe
        # of the (owner, team) index, also for the hundreds of people outside the team, whose
        # every account would otherwise be walked. Without a team, their book is their own
        # accounts only. The viewer is accepted by pk below, and a narrower `visible` still
        # narrows the list.
        owned = owned.filter(team_id=user.team_id) if user.team_id else owned.none()
    # A LIMIT 1 lookup per person rather than an EXISTS: PostgreSQL may answer an EXISTS by
    # hashing the owners of every visible account (17,000 rows for a team of 400 CSMs at
    # 50,000 accounts), which it prefers whenever it believes the index alone cannot answer,
    # as after the nightly job rewrites the scores. A scalar lookup is always per person.
    first_owned = Subquery(owned.order_by().values("owner_id")[:1])
    people = User.objects.alias(first_owned=first_owned).filter(
        Q(first_owned__isnull=False) | Q(pk=user.pk)
    )
    field.queryset = people

    data = form.data if form.is_bound else {}
    team_id = _int_or_none(data.get(form.add_prefix(team_field)))
    chosen = _int_or_none(data.get(form.add_prefix(field_name)))
    empty = field.empty_label or ""
    if team_id is None and not user.sees_all_accounts:
        # Everyone a CSM may choose: the owners in their book, mostly their own team.
        listed = people
    else:
        # Only the picked team's people and the chosen one are looked up; with neither, the
        # empty IN leaves nothing to ask the database.
        wanted = Q(pk__in=[])
        if team_id is not None:
            wanted |= Q(team_id=team_id)
        if chosen is not None:
            wanted |= Q(pk=chosen)
        listed = people.filter(wanted)
        if team_id is None:
            empty = PICK_A_TEAM_LABEL
    # Names, not User objects: building hundreds of users costs more than the query.
    rows = listed.order_by("first_name", "last_name", "username").values_list(
        "pk", "first_name", "last_name", "username"
    )
    # Values stay ids, as a model choice field's are; the widget prints them as text.
    choices: list[tuple[Any, str]] = [("", str(empty)), *((pk, _label(*n)) for pk, *n in rows)]
    # Hundreds of options: joined as strings, not rendered through a template each.
    plain = PlainSelect(attrs=field.widget.attrs, choices=choices)
    plain.is_required = field.widget.is_required
    field.widget = plain


def _label(first_name: str, last_name: str, username: str) -> str:
    """What str(user) shows: the full name, else the username."""
    return f"{first_name} {last_name}".strip() or username
