import pytest


def _nav(response) -> dict[str, bool]:
    return {item["label"]: item["active"] for item in response.context["nav_items"]}


@pytest.mark.django_db
def test_navigation_fits_the_role(client_for, manager, owner, executive):
    manager_nav = _nav(client_for(manager).get("/"))
    assert {"Accounts", "Tasks", "Health", "Scorecards", "Segments", "Imports"} <= set(manager_nav)
    csm_nav = _nav(client_for(owner).get("/"))
    assert "Scorecards" not in csm_nav
    assert "Imports" not in csm_nav
    assert "Tasks" in csm_nav
    exec_nav = _nav(client_for(executive).get("/"))
    assert "Tasks" not in exec_nav
    assert "Segments" not in exec_nav
    assert "Accounts" in exec_nav


@pytest.mark.django_db
def test_the_most_specific_section_is_highlighted(client_for, manager):
    nav = _nav(client_for(manager).get("/health/scorecards/"))
    assert nav["Scorecards"] is True
    assert nav["Health"] is False
    assert nav["Home"] is False
    assert [label for label, active in _nav(client_for(manager).get("/")).items() if active] == [
        "Home"
    ]
