import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cs_platform.settings.env import (
    env_bool,
    env_database,
    env_int,
    env_list,
    env_redis_url,
    env_str,
    env_time_zone,
)

ROOT = Path(__file__).resolve().parents[2]


def test_database_defaults_to_a_sqlite_file_in_the_project():
    config = env_database("DATABASE_URL", "/srv/app/db.sqlite3", environ={})
    assert config == {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/app/db.sqlite3"}


def test_database_url_for_postgres_is_parsed():
    config = env_database(
        "DATABASE_URL",
        "/unused",
        environ={"DATABASE_URL": "postgres://cs:s3cret@db.internal:6543/cs_prod"},
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"], config["NAME"]) == (
        "cs",
        "s3cret",
        "db.internal",
        6543,
        "cs_prod",
    )


@pytest.mark.parametrize(
    "url", ["mysql://x@y/z", "not a url", "postgres://user@host:5432/", "http://example.com/db"]
)
def test_malformed_database_url_fails_with_a_message(url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env_database("DATABASE_URL", "/unused", environ={"DATABASE_URL": url})


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("0", False), ("YES", True), ("off", False)]
)
def test_booleans_accept_the_usual_spellings(raw, expected):
    assert env_bool("DEBUG", default=not expected, environ={"DEBUG": raw}) is expected


def test_a_malformed_boolean_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match=r"DEBUG='maybe' is not a boolean"):
        env_bool("DEBUG", default=False, environ={"DEBUG": "maybe"})


def test_integers_and_lists():
    assert env_int("EMAIL_PORT", 25, environ={"EMAIL_PORT": "587"}) == 587
    with pytest.raises(ImproperlyConfigured, match="EMAIL_PORT"):
        env_int("EMAIL_PORT", 25, environ={"EMAIL_PORT": "five"})
    assert env_list("ALLOWED_HOSTS", [], environ={"ALLOWED_HOSTS": "a.example, b.example,"}) == [
        "a.example",
        "b.example",
    ]


def test_missing_required_value_is_named():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        env_str("SECRET_KEY", environ={})


def test_time_zone_must_be_an_iana_name():
    assert env_time_zone("TIME_ZONE", "UTC", environ={"TIME_ZONE": "Asia/Seoul"}) == "Asia/Seoul"
    with pytest.raises(ImproperlyConfigured, match="TIME_ZONE"):
        env_time_zone("TIME_ZONE", "UTC", environ={"TIME_ZONE": "Mars/Olympus"})


def test_redis_url_absent_means_in_process_tasks_and_bad_scheme_fails():
    assert env_redis_url("REDIS_URL", environ={}) == ""
    assert (
        env_redis_url("REDIS_URL", environ={"REDIS_URL": "redis://r:6379/0"}) == "redis://r:6379/0"
    )
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        env_redis_url("REDIS_URL", environ={"REDIS_URL": "amqp://guest@rabbit//"})


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DEBUG"))}
    clean.pop("SECRET_KEY", None)
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "cs_platform.settings.base"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k3J9x-production-like-secret-key-with-enough-entropy-5b7Q2mZp8",
    "ALLOWED_HOSTS": "cs.example.com",
}


def test_check_deploy_is_clean_with_production_values():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_secret_key_in_production_the_app_refuses_to_start():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "Set the environment variable SECRET_KEY" in result.stderr


def test_a_malformed_value_stops_the_start_with_a_clear_message():
    result = _manage("check", env={**PRODUCTION, "DATABASE_URL": "mysql://root@db/cs"})
    assert result.returncode != 0
    assert "DATABASE_URL must look like postgres://" in result.stderr
