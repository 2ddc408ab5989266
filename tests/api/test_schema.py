"""The OpenAPI schema and docs, and a schemathesis fuzz run against the schema in-process:
every GET operation, 50 generated requests each, as an admin with a real token, and no
answer may be a server error. The write operations get the same run with FUZZ_WRITES=1
(kept out of the default run for its ~2.5 minutes)."""

import datetime as dt
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from accounts.services.api_tokens import api_token_create
from cs_platform.api.throttles import IngestRateThrottle, TokenRateThrottle
from feedback.models import SurveyCampaign
from health.models import HealthScore, RetentionSnapshot, ScorecardVersion
from journeys.models import Stage
from journeys.services import journey_start
from reports.models import MonthlyReport
from tests.api import fresh_cache  # noqa: F401
from tests.factories import (
    AccountFactory,
    ContactFactory,
    ContractFactory,
    InteractionFactory,
    SegmentFactory,
    SupportTicketFactory,
    SurveyFactory,
    TaskFactory,
    UsageRecordFactory,
)

pytestmark = pytest.mark.usefixtures("fresh_cache")

# Every operation the API offers today (webhooks add theirs later); a missing one here means
# an endpoint fell out of the docs.
OPERATIONS = {
    "accounts_list", "accounts_create", "accounts_retrieve", "accounts_update",
    "accounts_partial_update", "contacts_list", "contacts_create", "contacts_retrieve",
    "contacts_update", "contacts_partial_update", "contracts_list", "contracts_create",
    "contracts_retrieve", "health_scores_list", "health_scores_retrieve", "interactions_list",
    "interactions_create", "interactions_retrieve", "interactions_update",
    "interactions_partial_update", "interactions_destroy", "retention_metrics_list",
    "segments_list", "segments_create", "segments_retrieve", "segments_update",
    "segments_partial_update", "segments_members_list", "segments_members_create",
    "segments_members_destroy", "support_tickets_list", "support_tickets_retrieve",
    "support_tickets_bulk_create", "survey_answers_bulk_create", "tasks_list", "tasks_create",
    "tasks_retrieve", "tasks_update", "tasks_partial_update", "tasks_complete_create",
    "usage_records_list", "usage_records_retrieve", "usage_records_bulk_create",
    "stages_list", "stages_create", "stages_retrieve", "stages_update", "stages_partial_update",
    "stage_transitions_list", "stage_transitions_create", "stage_transitions_retrieve",
    "playbooks_list", "playbooks_create", "playbooks_retrieve", "playbooks_update",
    "playbooks_partial_update", "surveys_list", "surveys_create", "surveys_retrieve",
    "surveys_update", "surveys_partial_update", "survey_campaigns_list",
    "survey_campaigns_create", "survey_campaigns_retrieve", "survey_campaigns_destroy",
    "survey_campaigns_send_create", "monthly_reports_list", "monthly_reports_retrieve",
}  # fmt: skip


def test_the_schema_documents_every_operation_with_its_errors(client):
    response = client.get("/api/schema/?format=json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    operations = {
        operation["operationId"]: (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    assert OPERATIONS <= set(operations)
    for path, method, operation in operations.values():
        codes = set(operation["responses"])
        assert {"401", "429"} <= codes, (method, path)
        if "{id}" in path:
            assert "404" in codes, (method, path)
        if method in {"post", "put", "patch", "delete"}:
            assert {"400", "403"} <= codes or method == "delete", (method, path)
    assert schema["components"]["securitySchemes"]["tokenAuth"]["scheme"] == "bearer"
    bulk = operations["usage_records_bulk_create"][2]
    assert {"200", "400", "409"} <= set(bulk["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in bulk["parameters"])


def test_the_docs_page_loads_its_assets_from_our_own_static_files(client):
    html = client.get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    asset = Client().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200
    # No inline start-up script: it is served from the page's own URL, allowed by script-src.
    assert '<script src="/api/docs/?script=' in html
    assert "<script>" not in html
    start_up = client.get("/api/docs/?script=")
    assert start_up.status_code == 200
    assert "SwaggerUIBundle" in start_up.content.decode()


# --- Fuzzing -----------------------------------------------------------------------------------


@pytest.fixture
def admin_secret(admin_user) -> str:
    return api_token_create(user=admin_user, name="schemathesis")[1]


@pytest.fixture
def keep_db_connection():
    """The WSGI handler closes the database connection after each request, which would end
    the test's transaction on PostgreSQL; Django's own test client unhooks it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_data(db, owner, outsider, monkeypatch, keep_db_connection):
    """A small book with one of everything, so ids the fuzzer guesses sometimes exist."""
    # Hundreds of requests in a few seconds would otherwise trip the per-token rate.
    for throttle in (TokenRateThrottle, IngestRateThrottle):
        monkeypatch.setattr(throttle, "THROTTLE_RATES", {"token": None, "ingest": None})
    for user in (owner, outsider):
        account = AccountFactory(owner=user)
        ContactFactory(account=account)
        ContractFactory(account=account)
        InteractionFactory(account=account)
        TaskFactory(account=account)
        UsageRecordFactory(account=account)
        SupportTicketFactory(account=account)
        HealthScore.objects.create(
            account=account,
            day=dt.date(2026, 3, 1),
            score=50,
            band="yellow",
            computed_score=50,
            computed_band="yellow",
            components={},
            scorecard_version=ScorecardVersion.objects.get(scorecard__name="Default"),
        )
        journey_start(account=account, stage=Stage.objects.get(slug="onboarding"), by=user)
    SegmentFactory(rules={"tiers": ["scaled"]})
    RetentionSnapshot.objects.create(month=dt.date(2026, 2, 1), scope="company")
    survey = SurveyFactory()
    SurveyCampaign.objects.create(survey=survey, name="Draft")
    MonthlyReport.objects.create(
        month=dt.date(2026, 2, 1), data={"kpis": {}}, generated_at=dt.datetime.now(dt.UTC)
    )


# Loaded once at collection; the schema view needs no database. FUZZ_PATHS (a regex) narrows
# both runs to some paths, e.g. the endpoints a change touched:
#   FUZZ_PATHS='^/api/v1/(stages|playbooks)/' FUZZ_WRITES=1 pytest tests/api/test_schema.py
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
if os.environ.get("FUZZ_PATHS"):
    schema = schema.include(path_regex=os.environ["FUZZ_PATHS"])


# exclude() keeps an earlier include()'s filter where a second include() would not.
@schema.exclude(method=["POST", "PUT", "PATCH", "DELETE"]).parametrize()
@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_get_operation_answers_a_server_error(case, admin_secret, fuzz_data):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {admin_secret}"}, checks=[not_a_server_error]
    )


@pytest.mark.skipif(
    os.environ.get("FUZZ_WRITES") != "1",
    reason="about 1.5 minutes: .ci/run runs it as its own step (FUZZ_WRITES=1)",
)
@schema.exclude(method="GET").parametrize()
@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_write_operation_answers_a_server_error(case, admin_secret, fuzz_data):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {admin_secret}"}, checks=[not_a_server_error]
    )
