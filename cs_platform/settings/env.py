"""Typed readers for settings that come from the environment.

Each reader raises ImproperlyConfigured naming the variable and what was wrong, so a typo
in a deployment fails at start with a message instead of misbehaving later.
"""

import os
import zoneinfo
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    value = environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"Set the environment variable {name}.")
        return default
    return value


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of true/false, 1/0, yes/no, on/off."
    )


def env_int(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None


def env_list(name: str, default: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    raw = environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_time_zone(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    value = env_str(name, default, environ)
    if value not in zoneinfo.available_timezones():
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a known time zone; use an IANA name such as Europe/Berlin."
        )
    return value


def env_database(
    name: str, default_sqlite_path: str, environ: Mapping[str, str] | None = None
) -> dict[str, object]:
    """DATABASE_URL parsed into Django's settings; absent means a SQLite file."""
    import dj_database_url

    environ = os.environ if environ is None else environ
    raw = environ.get(name, "").strip()
    if not raw:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": default_sqlite_path}
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            f"{name} must look like postgres://user:password@host:5432/dbname "
            f"or sqlite:///path/to/file.sqlite3; got {raw!r}."
        )
    try:
        config = dict(dj_database_url.parse(raw))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} could not be parsed: {exc}") from None
    if config["ENGINE"] != "django.db.backends.sqlite3" and not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} names no database: add /dbname at its end.")
    return config


def env_redis_url(name: str, environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    raw = environ.get(name, "").strip()
    if raw and not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"{name} must look like redis://host:6379/0; got {raw!r}.")
    return raw
