"""Per-request authentication after the shortcuts: a token's signature is verified once per process,
but its expiry, its user's state and role, and an API key's state are checked on every request."""

import uuid

from app.auth.permissions import Role
from app.core import security
from app.core.config import get_settings
from tests.builders import add_api_key, make_tenant

ME = "/api/v1/me"
RUN = "/api/v1/agents/echo/run"


def test_a_token_verified_before_is_refused_once_it_has_expired(db, client, monkeypatch):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.viewer)
    assert client.get(ME, headers=headers).status_code == 200
    claims = security.decode_token(headers["Authorization"].split()[1], "access")
    monkeypatch.setattr(security, "_now", lambda: claims.expires_at.timestamp() + 1)
    response = client.get(ME, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_token_is_verified_again_when_the_settings_change(db, client, monkeypatch):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.viewer)
    assert client.get(ME, headers=headers).status_code == 200
    monkeypatch.setenv("JWT_SECRET", "another-secret-" + uuid.uuid4().hex)
    get_settings.cache_clear()
    try:
        assert client.get(ME, headers=headers).status_code == 401
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert client.get(ME, headers=headers).status_code == 200


def test_a_verified_token_of_the_wrong_type_is_still_refused(db, client):
    tenant = make_tenant(db)
    token = security.create_token(tenant.users[Role.viewer], tenant.id, "refresh", family_id=uuid.uuid4())[0]
    security.decode_token(token, "refresh")  # verified and remembered as a refresh token
    assert client.get(ME, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_lowered_role_applies_from_the_next_request(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.operator)
    assert client.post(RUN, json={"input": {"message": "a"}}, headers=headers).status_code == 202
    lowered = client.patch(f"/api/v1/users/{tenant.users[Role.operator]}", json={"role": "viewer"},
                           headers=tenant.headers(Role.admin))
    assert lowered.status_code == 200, lowered.text
    assert client.post(RUN, json={"input": {"message": "b"}}, headers=headers).status_code == 403


def test_an_api_key_accepts_runs_in_its_own_tenant(db, client):
    tenant = make_tenant(db)
    key, record = add_api_key(db, tenant.id, Role.operator)
    response = client.post(RUN, json={"input": {"message": "by key"}}, headers={"X-API-Key": key})
    assert response.status_code == 202, response.text
    run = response.json()
    assert (run["requested_by_type"], run["requested_by_id"]) == ("api_key", str(record.id))
    listed = client.get("/api/v1/runs", headers={"X-API-Key": key}).json()["items"]
    assert [item["id"] for item in listed] == [run["id"]]
    other = make_tenant(db)
    assert client.get("/api/v1/runs", headers=other.headers(Role.viewer)).json()["items"] == []
