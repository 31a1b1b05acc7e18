"""The edges every request passes: problem+json errors, body size limit, tenant rate limit, operations."""

from collections.abc import Iterator

import pytest

from app.auth.permissions import Role
from app.core import ratelimit
from app.core.config import get_settings
from app.core.redis import get_redis
from tests.builders import make_tenant

PROBLEM = "application/problem+json"


def _assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["request_id"] and body["request_id"] == response.headers["x-request-id"]
    return body


# --- problem+json ------------------------------------------------------------------------------


def test_validation_error_lists_every_invalid_field(db, client):
    tenant = make_tenant(db)
    response = client.post("/api/v1/users", headers=tenant.headers(Role.admin),
                           json={"email": "not-an-email", "password": "short", "role": "emperor", "shoe_size": 44})
    body = _assert_problem(response, 422)
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"email", "password", "role", "shoe_size"}
    assert all(error["message"] for error in body["errors"])


@pytest.mark.parametrize(
    "method, path, body",
    [
        pytest.param("PATCH", "/api/v1/tenant", {"name": "a\u0000b"}, id="text-column"),
        pytest.param("PATCH", "/api/v1/tenant", {"settings": {"note": "a\u0000b"}}, id="json-value"),
        pytest.param("PATCH", "/api/v1/tenant", {"settings": {"a\u0000b": 1}}, id="json-key"),
        pytest.param("POST", "/api/v1/api-keys", {"name": "a\u0000b", "role": "viewer"}, id="api-key-name"),
        pytest.param("POST", "/api/v1/users", {"email": "nul@example.com", "password": "a-long-enough-password",
                                               "role": "viewer", "name": "a\u0000b"}, id="user-name"),
    ],
)
def test_nul_characters_valid_in_json_but_not_storable_are_422(method, path, body, db, client):
    tenant = make_tenant(db, name="Unchanged")
    headers = tenant.headers(Role.owner)
    before = client.get("/api/v1/tenant", headers=headers).json()
    refused = _assert_problem(client.request(method, path, json=body, headers=headers), 422)
    assert "NUL" in refused["detail"]
    assert client.get("/api/v1/tenant", headers=headers).json() == before
    assert len(client.get("/api/v1/users", headers=headers).json()) == len(Role)


def test_malformed_json_is_422_not_500(db, client):
    tenant = make_tenant(db)
    response = client.post("/api/v1/users", headers={**tenant.headers(Role.admin), "Content-Type": "application/json"},
                           content=b'{"email": ')
    _assert_problem(response, 422)


def test_bad_path_parameter_is_422(db, client):
    tenant = make_tenant(db)
    body = _assert_problem(client.delete("/api/v1/users/not-a-uuid", headers=tenant.headers(Role.admin)), 422)
    assert [error["field"] for error in body["errors"]] == ["path.user_id"]


def test_unknown_route_and_wrong_method_are_problem_json(client):
    _assert_problem(client.get("/api/v1/nothing-here"), 404)
    _assert_problem(client.put("/api/v1/me"), 405)


def test_request_id_is_echoed_when_the_client_sends_one(client):
    response = client.get("/api/v1/me", headers={"X-Request-ID": "trace-abc-123"})
    body = _assert_problem(response, 401)
    assert body["request_id"] == "trace-abc-123"


# --- body size limit ---------------------------------------------------------------------------


def _user_body_of(size: int) -> bytes:
    """A valid user to create, padded with JSON whitespace to exactly `size` bytes: only its size is wrong."""
    fields = b'"email": "big@example.com", "password": "a-long-enough-password", "role": "viewer"}'
    return b"{" + b" " * (size - len(fields) - 1) + fields


def _chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


def _user_count(client, tenant) -> int:
    return len(client.get("/api/v1/users", headers=tenant.headers(Role.admin)).json())


def test_body_over_the_limit_with_content_length_is_413(db, client):
    tenant = make_tenant(db)
    limit = get_settings().max_request_body_bytes
    body = _user_body_of(limit + 1)
    response = client.post("/api/v1/users", content=body,
                           headers={**tenant.headers(Role.admin), "Content-Type": "application/json"})
    assert response.request.headers["content-length"] == str(limit + 1)
    _assert_problem(response, 413)
    assert _user_count(client, tenant) == len(Role)


def test_streamed_body_over_the_limit_without_content_length_is_413(db, client):
    tenant = make_tenant(db)
    body = _user_body_of(get_settings().max_request_body_bytes + 1)
    response = client.post("/api/v1/users", content=_chunks(body),
                           headers={**tenant.headers(Role.admin), "Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    _assert_problem(response, 413)
    assert _user_count(client, tenant) == len(Role)


def test_streamed_body_under_the_limit_is_accepted(db, client):
    tenant = make_tenant(db)
    body = _user_body_of(10_000)
    response = client.post("/api/v1/users", content=_chunks(body, size=1000),
                           headers={**tenant.headers(Role.admin), "Content-Type": "application/json"})
    assert response.status_code == 201, response.text


def test_lying_content_length_cannot_smuggle_a_larger_body(db, client):
    """A client that declares a small Content-Length but streams more is still stopped at the limit."""
    tenant = make_tenant(db)
    body = _user_body_of(get_settings().max_request_body_bytes + 1)
    response = client.post("/api/v1/users", content=_chunks(body),
                           headers={**tenant.headers(Role.admin), "Content-Type": "application/json",
                                    "Content-Length": "100"})
    _assert_problem(response, 413)
    assert _user_count(client, tenant) == len(Role)


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_a_json_route_keeps_the_body_limit_whatever_content_type_the_client_sends(db, client, streamed):
    """The larger upload limit is for routes that take uploads: calling a body multipart does not buy it."""
    tenant = make_tenant(db)
    limit = get_settings().max_request_body_bytes
    assert get_settings().max_upload_bytes > 2 * limit
    body = b"--x\r\n" + b"a" * (2 * limit) + b"\r\n--x--\r\n"
    response = client.post("/api/v1/users", content=_chunks(body) if streamed else body,
                           headers={**tenant.headers(Role.admin), "Content-Type": "multipart/form-data; boundary=x"})
    problem = _assert_problem(response, 413)
    assert str(limit) in problem["detail"]
    assert _user_count(client, tenant) == len(Role)


def test_an_upload_route_takes_a_multipart_body_over_the_json_limit(db, client):
    tenant = make_tenant(db)
    text = b"Renewals are due in March. " * (2 * get_settings().max_request_body_bytes // 27)
    response = client.post("/api/v1/knowledge/documents", files={"file": ("big.txt", text)},
                           headers=tenant.headers(Role.operator))
    assert response.status_code == 202, response.text


# --- per-tenant rate limit ---------------------------------------------------------------------


@pytest.fixture
def tiny_rate_limit(monkeypatch) -> Iterator[None]:
    """A bucket of three requests refilled at one per 100 s, read from the environment like production."""
    monkeypatch.setenv("RATE_LIMIT_BURST", "3")
    monkeypatch.setenv("RATE_LIMIT_PER_SECOND", "0.01")
    get_settings.cache_clear()
    ratelimit.tenant_limiter.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()
    ratelimit.tenant_limiter.cache_clear()


def test_tenant_rate_limit_exhausts_a_real_redis_bucket(db, client, tiny_rate_limit):
    tenant, neighbour = make_tenant(db), make_tenant(db)
    statuses = [client.get("/api/v1/me", headers=tenant.headers(Role.viewer)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]

    # The bucket is shared by every principal of the tenant: another user and another role are refused too.
    refused = client.get("/api/v1/tenant", headers=tenant.headers(Role.owner))
    _assert_problem(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 100

    bucket = get_redis().hgetall(f"ratelimit:tenant:{tenant.id}")
    assert float(bucket[b"tokens"]) < 1
    assert 0 < get_redis().ttl(f"ratelimit:tenant:{tenant.id}") <= 301

    # Another tenant has its own bucket.
    assert client.get("/api/v1/me", headers=neighbour.headers(Role.viewer)).status_code == 200


def test_rate_limit_refills_over_time():
    """On the limiter's clock: the burst is spent at once whatever the machine's load, and a token comes
    back a rate's period later, not before."""
    now = [1_700_000_000.0]
    limiter = ratelimit.RateLimiter(get_redis(), rate_per_second=20, burst=2, clock=lambda: now[0])
    key = "test:refill"
    get_redis().delete(f"ratelimit:{key}")
    assert [limiter.hit(key).allowed for _ in range(3)] == [True, True, False]
    now[0] += 0.04  # 0.8 of a token
    assert not limiter.hit(key).allowed
    now[0] += 0.04  # 1.6: one to spend
    assert limiter.hit(key).allowed
    assert not limiter.hit(key).allowed


# --- operations ---------------------------------------------------------------------------------


def test_health_is_alive(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_checks_database_and_broker(client):
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_ready_is_503_when_the_broker_is_unreachable(client, monkeypatch):
    from app.core import redis as redis_module

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    redis_module.get_redis.cache_clear()
    try:
        response = client.get("/ready")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        redis_module.get_redis.cache_clear()
    body = _assert_problem(response, 503)
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error")
    assert client.get("/ready").status_code == 200


def test_metrics_count_http_requests_by_route_template(db, client):
    tenant = make_tenant(db)
    client.get("/health")
    client.patch(f"/api/v1/users/{tenant.users[Role.viewer]}", json={"name": "x"}, headers=tenant.headers(Role.admin))
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert "# TYPE agentline_http_requests_total counter" in text
    assert 'agentline_http_requests_total{method="GET",route="/health",status="200"}' in text
    # Path parameters are folded into the template, so ids do not explode the label set.
    assert 'route="/api/v1/users/{user_id}",status="200"' in text
    assert str(tenant.users[Role.viewer]) not in text


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/api/v1/me", "/api/v1/users", "/api/v1/api-keys", "/api/v1/audit-log", "/api/v1/tenant"} <= set(schema["paths"])


def test_requests_are_served_when_redis_is_away(db, client, monkeypatch):
    """The rate limit fails open: a broker outage must not become an API outage."""
    from app.core import redis as redis_module

    tenant = make_tenant(db)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    redis_module.get_redis.cache_clear()
    ratelimit.tenant_limiter.cache_clear()
    try:
        response = client.get("/api/v1/me", headers=tenant.headers(Role.viewer))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        redis_module.get_redis.cache_clear()
        ratelimit.tenant_limiter.cache_clear()
    assert response.status_code == 200
