from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

# (label, url name, who sees it). Entries whose page is not installed are skipped.
_NAVIGATION: list[tuple[str, str, set[str]]] = [
    ("Home", "home", {"admin", "manager", "csm", "executive"}),
    ("Accounts", "accounts:account_list", {"admin", "manager", "csm", "executive"}),
    ("Tasks", "accounts:task_list", {"admin", "manager", "csm"}),
    ("Health", "health:overview", {"admin", "manager", "csm", "executive"}),
    ("Scorecards", "health:scorecard_list", {"admin", "manager"}),
    ("Journeys", "journeys:overview", {"admin", "manager", "csm", "executive"}),
    ("Feedback", "feedback:overview", {"admin", "manager", "csm", "executive"}),
    ("Team", "reports:team", {"admin", "manager", "executive"}),
    ("Reports", "reports:report_list", {"admin", "manager", "executive"}),
    ("Segments", "accounts:segment_list", {"admin", "manager"}),
    ("Imports", "accounts:import_upload", {"admin", "manager"}),
]


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    role = "admin" if user.is_superuser else user.role
    items = []
    for label, url_name, roles in _NAVIGATION:
        if role not in roles:
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"label": label, "url": url, "active": active})
    return {"nav_items": items}
