import json

import pytest

from cs_platform import health_check


def test_healthz_needs_no_login_and_reports_the_database_up(client, db, settings):
    settings.REDIS_URL = ""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "up"
    assert "broker" not in body["checks"]


def test_healthz_is_503_when_the_database_is_down(client, db, settings, monkeypatch):
    settings.REDIS_URL = ""

    def broken() -> None:
        raise ConnectionError("connection refused")

    monkeypatch.setattr(health_check, "_check_database", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"status": "down", "error": "ConnectionError"}


def test_healthz_checks_the_broker_when_one_is_configured_and_it_is_down(client, db, settings):
    # Nothing listens on port 1: the ping fails fast.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert json.loads(response.content)["checks"]["broker"]["status"] == "down"


def test_healthz_reports_a_reachable_broker_up(client, db, settings):
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    settings.REDIS_URL = url
    response = client.get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.content)["checks"]["broker"]["status"] == "up"
