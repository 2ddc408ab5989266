"""The backup procedure of docs/operations.md, run for real: `pg_dump -Fc` of a database with
demo data, `pg_restore` into a fresh database, and the key tables come back row for row
(same count, same md5 over every row's text in id order). The restored database needs no
migration.

PostgreSQL only: SQLite has no pg_dump. The dump reads committed data, hence a transactional
test.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.models import Account, Contract, Interaction, UsageRecord, User
from feedback.models import SurveyAnswer
from health.models import HealthScore, ScorecardVersion
from health.recompute import scorecard_default_restore

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="backup and restore use pg_dump/pg_restore: set DATABASE_URL to a PostgreSQL",
    ),
    pytest.mark.skipif(
        shutil.which("pg_dump") is None or shutil.which("pg_restore") is None,
        reason="pg_dump/pg_restore are not installed: apt-get install postgresql-client",
    ),
]

KEY_MODELS = [Account, Contract, UsageRecord, HealthScore, SurveyAnswer, Interaction, User]
TIMEOUT = 300


def _pg_env(database: str) -> dict[str, str]:
    """libpq variables for the test database's server, pointed at `database`."""
    db = connection.settings_dict
    env = {**os.environ, "PGDATABASE": database}
    for variable, key in [("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER")]:
        if db.get(key):
            env[variable] = str(db[key])
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def _run(args: list[str], database: str) -> str:
    done = subprocess.run(
        args, env=_pg_env(database), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


def _major(version_text: str) -> int:
    match = re.search(r"(\d+)\.\d+", version_text)
    assert match, version_text
    return int(match.group(1))


def _fingerprints(database: str) -> dict[str, str]:
    """Per key table: its row count and the md5 of every row's text, in id order."""
    queries = [
        f"SELECT '{table}', count(*), "
        f"md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) FROM {table} t"
        for table in (model._meta.db_table for model in KEY_MODELS)
    ]
    out = _run(["psql", "-X", "-A", "-t", "-F", " ", "-c", " UNION ALL ".join(queries)], database)
    rows = [line.split(" ") for line in out.splitlines() if line.strip()]
    return {table: f"{count} {digest}" for table, count, digest in rows}


def test_the_client_tools_match_the_server():
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = _major(cursor.fetchone()[0])

    dump = _major(subprocess.run(["pg_dump", "--version"], capture_output=True, text=True).stdout)
    restore = _major(
        subprocess.run(["pg_restore", "--version"], capture_output=True, text=True).stdout
    )

    # pg_dump refuses a newer server, and an older pg_restore cannot read a newer dump.
    assert dump == restore == server


def _health_scores_write(day: dt.date) -> None:
    """One score per live account on `day`, written directly: the backup does not care how
    a score was computed."""
    version = ScorecardVersion.objects.filter(scorecard__name="Default").latest("id")
    HealthScore.objects.bulk_create(
        HealthScore(
            account=account,
            day=day,
            score=40 + account.pk % 50,
            band="yellow",
            computed_score=40 + account.pk % 50,
            computed_band="yellow",
            components={"usage": {"raw": 0.5, "points": 50, "weight": 30}},
            scorecard_version=version,
            usage_through=day,
        )
        for account in Account.objects.all()
    )


def test_a_dump_restores_into_a_fresh_database_row_for_row(tmp_path: Path):
    # A transactional test may find the migration's default scorecard flushed.
    scorecard_default_restore()
    call_command("seed_demo", "--accounts", "30", "--days", "30", "--health-days", "0", verbosity=0)
    _health_scores_write(timezone.localdate())
    source = connection.settings_dict["NAME"]
    restored = f"{source}_restore_{secrets.token_hex(4)}"
    dump = tmp_path / "cs.dump"
    before = _fingerprints(source)
    # The demo fills every key table, so an empty table cannot pass unnoticed.
    counts = {table: int(value.split(" ")[0]) for table, value in before.items()}
    assert min(counts.values()) > 0, counts

    _run(["pg_dump", "-Fc", "--no-owner", "-f", str(dump)], source)
    assert dump.stat().st_size > 0
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{restored}"')
    try:
        _run(
            ["pg_restore", "--no-owner", "--exit-on-error", "-d", restored, str(dump)],
            source,
        )

        assert _fingerprints(restored) == before

        # The restored schema is the code's: migrate --check finds nothing to apply.
        db = connection.settings_dict
        url = (
            f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{restored}"
        )
        check = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--check", "--no-input"],
            cwd=settings.BASE_DIR,
            env={**os.environ, "DATABASE_URL": url, "DEBUG": "true", "REDIS_URL": ""},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
