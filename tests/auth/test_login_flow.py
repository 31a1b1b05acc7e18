import pytest

from app.auth.permissions import Role
from app.core.config import get_settings
from tests.builders import PASSWORD, make_tenant


def test_login_me_refresh_rotation_and_reuse_revokes_family(db, client):
    tenant = make_tenant(db)
    response = client.post("/api/v1/auth/token", json={"email": tenant.emails[Role.operator], "password": PASSWORD})
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["token_type"] == "bearer" and pair["expires_in"] > 0

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200
    assert me.json()["role"] == "operator" and me.json()["tenant_id"] == str(tenant.id)

    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200
    newer = rotated.json()["refresh_token"]

    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert reused.status_code == 401
    assert reused.headers["content-type"].startswith("application/problem+json")
    # The reuse revoked the whole family, including the token issued by the legitimate rotation.
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": newer}).status_code == 401


def test_wrong_password_is_401_problem_json(db, client):
    tenant = make_tenant(db)
    response = client.post("/api/v1/auth/token", json={"email": tenant.emails[Role.owner], "password": "nope"})
    assert response.status_code == 401
    body = response.json()
    assert body["title"] and body["status"] == 401 and body["request_id"]


@pytest.fixture
def redis_unreachable(monkeypatch):
    """Redis on a port where nothing listens, read from the environment as in production."""
    from app.core import ratelimit, redis

    caches = (get_settings, redis.get_redis, ratelimit.login_limiter, ratelimit.tenant_limiter)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    for cache in caches:
        cache.cache_clear()
    yield
    monkeypatch.undo()
    for cache in caches:
        cache.cache_clear()


class Warnings:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def warning(self, event: str, **fields) -> None:
        self.events.append((event, fields))


def test_login_and_requests_fail_open_when_redis_is_down(db, client, redis_unreachable, monkeypatch):
    from app.core import ratelimit

    warnings = Warnings()
    monkeypatch.setattr(ratelimit, "log", warnings)
    tenant = make_tenant(db)
    response = client.post("/api/v1/auth/token", json={"email": tenant.emails[Role.viewer], "password": PASSWORD})
    assert response.status_code == 200, response.text
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"})
    assert me.status_code == 200, me.text
    assert [(event, fields["limit"]) for event, fields in warnings.events] == [
        ("rate_limit_unavailable", "login"), ("rate_limit_unavailable", "tenant")]
