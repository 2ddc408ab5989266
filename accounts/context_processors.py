from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

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
        items.append({"label": label, "url": url, "active": False})
    # The longest matching prefix wins, so /health/scorecards/ lights Scorecards, not Health.
    matches = [i for i in items if i["url"] != "/" and request.path.startswith(i["url"])]
    if matches:
        max(matches, key=lambda i: len(i["url"]))["active"] = True
    elif request.path == "/":
        for item in items:
            item["active"] = item["url"] == "/"
    return {"nav_items": items}
