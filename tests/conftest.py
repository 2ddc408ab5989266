"""Personas: one fixture per kind of person, so every permission test is one line of setup.

The owner CSM and the teammate share team "Enterprise"; the outsider is a CSM on team
"SMB"; the manager manages "Enterprise"; the executive and admin belong to no team.
"""

import os
import shutil

import pytest

# Playwright's sync API runs an event loop; Django would otherwise refuse ORM calls under it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from accounts.models import User
from tests.factories import AccountFactory, TeamFactory, UserFactory

PASSWORD = "correct-horse-battery"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def _empty_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def enterprise_team(db):
    return TeamFactory(name="Enterprise")


@pytest.fixture
def smb_team(db):
    return TeamFactory(name="SMB")


@pytest.fixture
def owner(enterprise_team):
    return UserFactory(username="owner", role=User.Role.CSM, team=enterprise_team)


@pytest.fixture
def teammate(enterprise_team):
    return UserFactory(username="teammate", role=User.Role.CSM, team=enterprise_team)


@pytest.fixture
def outsider(smb_team):
    return UserFactory(username="outsider", role=User.Role.CSM, team=smb_team)


@pytest.fixture
def manager(enterprise_team):
    user = UserFactory(username="boss", role=User.Role.MANAGER, team=enterprise_team)
    enterprise_team.manager = user
    enterprise_team.save(update_fields=["manager"])
    return user


@pytest.fixture
def executive(db):
    return UserFactory(username="chief", role=User.Role.EXECUTIVE)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ops", role=User.Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def account(owner):
    """An account in the owner's book, on the Enterprise team."""
    return AccountFactory(name="Acme Corp", owner=owner, team=owner.team)


@pytest.fixture
def client_for(client):
    """client_for(user) logs the test client in as that user and returns it."""

    def login(user):
        client.force_login(user)
        return client

    return login


# --- Browser tests (Playwright driving Debian's Chromium; never a downloaded browser) ---


def _chromium_available() -> bool:
    return os.path.exists(CHROMIUM) or shutil.which("chromium") is not None


def pytest_collection_modifyitems(config, items):
    if _chromium_available():
        return
    if os.environ.get("CI", "").lower() == "true":
        # Under CI a missing browser is a broken machine, not a reason to skip.
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}; apt-get install chromium")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }
