"""API keys: shown once, stored hashed, prefix visible, role-bound, expiring, last use recorded, revocable."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from app.auth.permissions import Role
from app.models import ApiKey
from tests.builders import add_api_key, make_tenant, rebind

KEYS = "/api/v1/api-keys"


def test_key_is_shown_once_stored_hashed_and_its_prefix_is_visible(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.admin)
    created = client.post(KEYS, json={"name": "CI", "role": "operator"}, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    key, prefix = body["key"], body["prefix"]
    assert key.startswith(prefix + "_") and len(key) > len(prefix) + 40
    assert (body["name"], body["role"], body["last_used_at"], body["revoked_at"]) == ("CI", "operator", None, None)

    listed = client.get(KEYS, headers=headers).json()
    assert [k["prefix"] for k in listed] == [prefix]
    assert "key" not in listed[0] and "key_hash" not in listed[0]
    assert key not in client.get(KEYS, headers=headers).text

    rebind(db, tenant.id)
    row = db.execute(text("SELECT * FROM api_keys WHERE id = :id"), {"id": body["id"]}).mappings().one()
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    secret = key.removeprefix(prefix + "_")
    assert not any(isinstance(value, str) and secret in value for value in row.values())


def test_api_key_authenticates_with_its_role_and_records_its_last_use(db, client):
    tenant = make_tenant(db)
    key = client.post(KEYS, json={"name": "Bot", "role": "reviewer"}, headers=tenant.headers(Role.owner)).json()["key"]
    me = client.get("/api/v1/me", headers={"X-API-Key": key})
    assert me.status_code == 200, me.text
    assert (me.json()["principal_type"], me.json()["role"], me.json()["tenant_id"]) == ("api_key", "reviewer", str(tenant.id))
    # A reviewer key may read but not manage.
    assert client.get("/api/v1/users", headers={"X-API-Key": key}).status_code == 200
    assert client.patch("/api/v1/tenant", json={"name": "x"}, headers={"X-API-Key": key}).status_code == 403
    listed = client.get(KEYS, headers=tenant.headers(Role.owner)).json()
    last_used = datetime.fromisoformat(listed[0]["last_used_at"])
    assert datetime.now(UTC) - last_used < timedelta(minutes=1)


def test_revocation_stops_the_key_and_is_idempotent(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.admin)
    created = client.post(KEYS, json={"name": "Temp", "role": "viewer"}, headers=headers).json()
    assert client.get("/api/v1/me", headers={"X-API-Key": created["key"]}).status_code == 200
    assert client.delete(f"{KEYS}/{created['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers={"X-API-Key": created["key"]}).status_code == 401
    assert client.delete(f"{KEYS}/{created['id']}", headers=headers).status_code == 204
    listed = client.get(KEYS, headers=headers).json()
    assert listed[0]["revoked_at"] is not None


def test_key_expiry_in_the_future_is_honoured_until_it_passes(db, client):
    tenant = make_tenant(db)
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    created = client.post(KEYS, json={"name": "Monthly", "role": "viewer", "expires_at": expires},
                          headers=tenant.headers(Role.admin))
    assert created.status_code == 201, created.text
    assert client.get("/api/v1/me", headers={"X-API-Key": created.json()["key"]}).status_code == 200
    rebind(db, tenant.id)
    record = db.scalars(select(ApiKey).where(ApiKey.id == created.json()["id"])).one()
    record.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.flush()
    assert client.get("/api/v1/me", headers={"X-API-Key": created.json()["key"]}).status_code == 401


@pytest.mark.parametrize("expires_at", ["2001-01-01T00:00:00Z", "not-a-date", "2030-01-01T00:00:00"])
def test_expiry_in_the_past_malformed_or_without_offset_is_422(expires_at, db, client):
    tenant = make_tenant(db)
    response = client.post(KEYS, json={"name": "Old", "role": "viewer", "expires_at": expires_at},
                           headers=tenant.headers(Role.admin))
    assert response.status_code == 422, response.text
    assert client.get(KEYS, headers=tenant.headers(Role.admin)).json() == []


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_admin_cannot_mint_or_revoke_keys_at_admin_level_or_above(role, db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.admin)
    assert client.post(KEYS, json={"name": "Escalate", "role": role}, headers=headers).status_code == 403
    _, record = add_api_key(db, tenant.id, Role(role))
    assert client.delete(f"{KEYS}/{record.id}", headers=headers).status_code == 403
    # The owner may do both.
    assert client.post(KEYS, json={"name": "Allowed", "role": role}, headers=tenant.headers(Role.owner)).status_code == 201
    assert client.delete(f"{KEYS}/{record.id}", headers=tenant.headers(Role.owner)).status_code == 204


def test_admin_api_key_cannot_escalate_to_owner(db, client):
    tenant = make_tenant(db)
    key, _ = add_api_key(db, tenant.id, Role.admin)
    response = client.post(KEYS, json={"name": "Escalate", "role": "owner"}, headers={"X-API-Key": key})
    assert response.status_code == 403
    response = client.post("/api/v1/users", headers={"X-API-Key": key}, json={
        "email": "new.owner@example.com", "password": "a-long-enough-password", "role": "owner"})
    assert response.status_code == 403
