from typing import Any

from allauth.account.forms import LoginForm


class PlatformLoginForm(LoginForm):
    """allauth's login form, also accepting the field name `username` for the login, which
    the page has always used (and which scripts and bookmarks of the form post)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        data = kwargs.get("data")
        if data is not None and "login" not in data and "username" in data:
            data = data.copy()
            data["login"] = data["username"]
            kwargs["data"] = data
        super().__init__(*args, **kwargs)
