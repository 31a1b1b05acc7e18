"""Errors and retries against the real API: each error class from a real problem+json answer, sent once
(no 4xx is retried); a 429 waited out as its Retry-After says; a 5xx retried with backoff; and the
Idempotency-Key: one per call, the same on every retry, so a start whose answer was lost is one run."""

import uuid

import pytest

from agentline_client import (
    APIConnectionError, APIError, AuthenticationError, ConflictError, NotFoundError, PermissionDeniedError,
    RateLimitedError, RetryPolicy, ServerError, ValidationError,
)
from agentline_client.models import LeadCreate
from app.auth.permissions import Role
from tests.client.conftest import Sleeps, Tenant, connect, make_tenant

pytestmark = pytest.mark.slow


def is_run_start(request) -> bool:
    return request.method == "POST" and request.url.path == "/api/v1/agents/echo/run"


def test_validation_errors_name_each_field(api, wire, tenant):
    client = connect(api, wire, api_key=tenant.keys[Role.operator])
    with pytest.raises(ValidationError) as raised:
        client.leads.create(LeadCreate(name="Ada", email="not-an-email", country="Germany"))
    error = raised.value
    assert error.status == 422 and error.title == "Validation failed"
    assert {e.field for e in error.errors} == {"email", "country"}
    assert error.request_id and error.headers["X-Request-ID"] == error.request_id
    assert error.problem["instance"] == "/api/v1/leads"
    assert len(wire.sent) == 1


@pytest.mark.parametrize(("role", "call", "expected", "status"), [
    ("bad key", lambda c: c.me(), AuthenticationError, 401),
    (Role.viewer, lambda c: c.runs.start("echo", {"message": "hi"}), PermissionDeniedError, 403),
    (Role.viewer, lambda c: c.runs.get(uuid.uuid4()), NotFoundError, 404),
    (Role.operator, lambda c: c.runs.start("no_such_agent", {}), NotFoundError, 404),
    (Role.operator, lambda c: c.runs.retry(c.runs.start("echo", {"message": "queued"}).id), ConflictError, 409),
])
def test_each_status_has_its_error_class_and_is_not_retried(api, wire, tenant, role, call, expected, status):
    client = connect(api, wire, api_key=tenant.keys.get(role, "al_nonsense"))
    with pytest.raises(expected) as raised:
        call(client)
    assert isinstance(raised.value, APIError) and raised.value.status == status and raised.value.request_id
    assert wire.statuses.count(status) == 1 and wire.statuses[-1] == status


def test_a_duplicate_is_a_conflict(api, wire, tenant):
    client = connect(api, wire, api_key=tenant.keys[Role.operator])
    lead = LeadCreate(name="Grace Hopper", email=f"grace-{uuid.uuid4().hex[:6]}@example.com")
    client.leads.create(lead)
    with pytest.raises(ConflictError):
        client.leads.create(lead)
    assert wire.statuses == [201, 409]


def test_a_start_whose_answer_was_lost_is_sent_again_with_its_key_and_is_one_run(api, wire, tenant):
    wire.inject(is_run_start, wire.lose_answer)
    client = connect(api, wire, api_key=tenant.keys[Role.operator])

    run = client.runs.start("echo", {"message": "exactly once"})

    first, second = wire.requests("POST", "/agents/echo/run")
    key = first.headers["Idempotency-Key"]
    assert str(uuid.UUID(key)) == key and second.headers["Idempotency-Key"] == key
    assert wire.statuses == [None, 202]
    assert run.idempotency_key == key and run.input["message"] == "exactly once"
    assert [r.id for r in client.runs.iter(agent="echo") if r.idempotency_key == key] == [run.id]


def test_the_callers_key_is_sent_and_each_call_gets_a_new_one_otherwise(api, wire, tenant):
    client = connect(api, wire, api_key=tenant.keys[Role.operator])
    key = f"order-{uuid.uuid4()}"
    first = client.runs.start("echo", {"message": "mine"}, idempotency_key=key)
    again = client.runs.start("echo", {"message": "mine"}, idempotency_key=key)
    assert again.id == first.id and again.idempotency_key == key
    with pytest.raises(ValidationError, match="different request body"):
        client.runs.start("echo", {"message": "another body"}, idempotency_key=key)
    other = client.runs.start("echo", {"message": "mine"})
    assert other.id != first.id and other.idempotency_key not in (None, key)


def test_a_5xx_is_retried_with_backoff_and_raised_when_retries_run_out(api, wire, tenant):
    sleeps = Sleeps()
    client = connect(api, wire, sleep=sleeps, retry=RetryPolicy(max_retries=2, initial_backoff=0.5),
                     api_key=tenant.keys[Role.viewer])
    wire.inject(lambda request: request.url.path == "/api/v1/me", wire.bad_gateway)
    assert client.me().role == "viewer"
    assert wire.statuses == [502, 200] and len(sleeps.asked) == 1 and 0 <= sleeps.asked[0] <= 0.5

    wire.inject(lambda request: request.url.path == "/api/v1/me", wire.bad_gateway, times=3)
    with pytest.raises(ServerError) as raised:
        client.me()
    assert raised.value.status == 502 and "Bad Gateway" in raised.value.detail
    assert wire.statuses[2:] == [502, 502, 502] and len(sleeps.asked) == 3


def test_a_request_that_may_have_reached_the_api_is_not_sent_again_unless_safe(api, wire, tenant):
    """A lost answer to a POST without an Idempotency-Key (here a lead) might have been acted on."""
    wire.inject(lambda request: request.url.path == "/api/v1/leads", wire.lose_answer)
    client = connect(api, wire, api_key=tenant.keys[Role.operator])
    email = f"ida-{uuid.uuid4().hex[:6]}@example.com"
    with pytest.raises(APIConnectionError):
        client.leads.create(LeadCreate(name="Ida", email=email))
    assert len(wire.sent) == 1
    assert [lead.email for lead in client.leads.iter(q=email)] == [email]  # it had been created


@pytest.fixture
def limited_tenant(factory) -> Tenant:
    return make_tenant(factory)  # a bucket of its own


def test_a_429_is_waited_out_as_its_retry_after_says(limited_api, wire, limited_tenant):
    sleeps = Sleeps(real=1.0)  # the API's bucket refills in real time
    client = connect(limited_api, wire, sleep=sleeps, api_key=limited_tenant.keys[Role.viewer])
    assert [client.me().role for _ in range(3)] == ["viewer"] * 3
    assert wire.statuses == [200, 200, 429, 200]
    assert sleeps.asked == [1.0]


def test_a_429_past_the_retries_is_a_rate_limited_error_with_retry_after(limited_api, wire, limited_tenant):
    client = connect(limited_api, wire, retry=RetryPolicy(max_retries=0), api_key=limited_tenant.keys[Role.viewer])
    with pytest.raises(RateLimitedError) as raised:
        for _ in range(3):
            client.me()
    assert raised.value.retry_after == 1.0 and wire.statuses == [200, 200, 429]
