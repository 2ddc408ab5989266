"""docker-compose.yml runs the five services with commands that name real modules."""

import importlib
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _command(service: str) -> list[str]:
    command = COMPOSE["services"][service]["command"]
    return command if isinstance(command, list) else shlex.split(command)


def test_compose_defines_the_five_services_with_healthchecks():
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    for name, service in services.items():
        assert "healthcheck" in service, name
        assert service["healthcheck"]["test"], name


def test_database_lives_on_a_named_volume():
    assert "pgdata" in COMPOSE["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in COMPOSE["services"]["postgres"]["volumes"]


def test_web_serves_the_wsgi_app_under_gunicorn():
    command = " ".join(_command("web"))
    assert "gunicorn cs_platform.wsgi:application" in command
    module, attribute = "cs_platform.wsgi", "application"
    assert hasattr(importlib.import_module(module), attribute)


def test_worker_and_beat_run_the_project_celery_app():
    from celery import Celery

    for service, role in (("worker", "worker"), ("beat", "beat")):
        command = _command(service)
        assert command[0] == "celery"
        app_module = command[command.index("--app") + 1]
        assert role in command
        assert isinstance(importlib.import_module(app_module).celery_app, Celery)


def test_app_services_wait_for_healthy_dependencies():
    for name in ("web", "worker", "beat"):
        depends = COMPOSE["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        env = COMPOSE["services"][name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://redis:6379")


def test_beat_schedule_names_real_tasks():
    from cs_platform.beat_schedule import BEAT_SCHEDULE

    for entry in BEAT_SCHEDULE.values():
        module_name, _, function = entry["task"].rpartition(".")
        assert hasattr(importlib.import_module(module_name), function), entry["task"]
