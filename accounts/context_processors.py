from dataclasses import dataclass, field

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

# (label, url name, who sees it). Entries whose page is not installed are skipped.
_NAVIGATION: list[tuple[str, str, set[str]]] = [
    ("Home", "home", {"admin", "manager", "csm", "executive"}),
    ("Accounts", "accounts:account_list", {"admin", "manager", "csm", "executive"}),
    ("Tasks", "accounts:task_list", {"admin", "manager", "csm"}),
    ("Health", "health:overview", {"admin", "manager", "csm", "executive"}),
    ("Scorecards", "health:scorecard_list", {"admin", "manager"}),
    ("Validation", "health:validation", {"admin", "manager", "executive"}),
    ("Journeys", "journeys:overview", {"admin", "manager", "csm", "executive"}),
    ("Playbooks", "journeys:playbook_list", {"admin", "manager"}),
    ("Feedback", "feedback:overview", {"admin", "manager", "csm", "executive"}),
    ("Surveys", "feedback:survey_list", {"admin", "manager"}),
    ("Team", "reports:team", {"admin", "manager", "csm", "executive"}),
    ("Reports", "reports:report_list", {"admin", "manager", "executive"}),
    ("Segments", "accounts:segment_list", {"admin", "manager"}),
    ("Imports", "accounts:import_upload", {"admin", "manager"}),
    ("API tokens", "api_tokens:list", {"admin", "manager", "csm", "executive"}),
    ("Webhooks", "webhooks:list", {"admin"}),
    ("Audit log", "audit:list", {"admin"}),
]

# Links of the user menu in base.html, next to the navigation.
_HEADER_LINKS = {
    "home": "home",
    "security": "mfa_index",
    "logout": "logout",
    "admin": "admin:index",
}


def _reverse_or_none(url_name: str) -> str | None:
    try:
        return reverse(url_name)
    except NoReverseMatch:
        return None


@dataclass
class _RoleNavigation:
    """A role's links, reversed once per process: every page's header shows them, and the
    URL map does not change while the process runs."""

    items: tuple[tuple[str, str], ...]
    header_urls: dict[str, str | None]
    # The <a> list for each set of highlighted positions, rendered the first time it is shown.
    rendered: dict[tuple[int, ...], SafeString] = field(default_factory=dict)

    def active(self, path: str) -> tuple[int, ...]:
        # The longest matching prefix wins, so /health/scorecards/ lights Scorecards, not
        # Health; "/" is only a match for the home page itself.
        best = None
        for position, (_, url) in enumerate(self.items):
            if url != "/" and path.startswith(url):
                if best is None or len(url) > len(self.items[best][1]):
                    best = position
        if best is not None:
            return (best,)
        if path == "/":
            return tuple(i for i, (_, url) in enumerate(self.items) if url == "/")
        return ()

    def links(self, active: tuple[int, ...]) -> SafeString:
        html = self.rendered.get(active)
        if html is None:
            html = format_html_join(
                "\n    ",
                '<a href="{}"{}>{}</a>',
                (
                    (
                        url,
                        SafeString(' class="active" aria-current="page"')
                        if position in active
                        else "",
                        label,
                    )
                    for position, (label, url) in enumerate(self.items)
                ),
            )
            self.rendered[active] = html
        return html


# Keyed by role and by what reverse() depends on (the URL map and the script prefix), so a
# test or a deployment that changes either gets its own links.
_by_role: dict[tuple[str, str, str | None, str], _RoleNavigation] = {}


def _role_navigation(role: str) -> _RoleNavigation:
    urlconf = get_urlconf()
    key = (role, get_script_prefix(), urlconf, settings.ROOT_URLCONF)
    cached = _by_role.get(key)
    if cached is None:
        items = []
        for label, url_name, roles in _NAVIGATION:
            if role in roles and (url := _reverse_or_none(url_name)) is not None:
                items.append((label, url))
        cached = _RoleNavigation(
            items=tuple(items),
            header_urls={link: _reverse_or_none(name) for link, name in _HEADER_LINKS.items()},
        )
        _by_role[key] = cached
    return cached


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    role_navigation = _role_navigation("admin" if user.is_superuser else user.role)
    active = role_navigation.active(request.path)
    return {
        "nav_items": [
            {"label": label, "url": url, "active": position in active}
            for position, (label, url) in enumerate(role_navigation.items)
        ],
        "nav_links": role_navigation.links(active),
        "header_urls": role_navigation.header_urls,
    }
