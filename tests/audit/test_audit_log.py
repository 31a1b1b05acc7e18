"""Every write by a person or a key leaves an audit row: who, what, before and after, when."""

from datetime import UTC, datetime, timedelta

import pytest

from app.auth.permissions import Role
from tests.builders import add_api_key, make_tenant

AUDIT = "/api/v1/audit-log"


def _entries(client, tenant, **params) -> list[dict]:
    response = client.get(AUDIT, headers=tenant.headers(Role.owner), params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_every_foundation_write_is_audited_with_actor_before_and_after(db, client):
    tenant = make_tenant(db)
    admin, headers = tenant.users[Role.admin], tenant.headers(Role.admin)

    user = client.post("/api/v1/users", headers=headers, json={
        "email": "audited@example.com", "password": "a-long-enough-password", "role": "viewer"}).json()
    client.patch(f"/api/v1/users/{user['id']}", json={"role": "reviewer", "name": "Audited"}, headers=headers)
    client.delete(f"/api/v1/users/{user['id']}", headers=headers)
    key = client.post("/api/v1/api-keys", json={"name": "CI", "role": "viewer"}, headers=headers).json()
    client.delete(f"/api/v1/api-keys/{key['id']}", headers=headers)
    client.patch("/api/v1/tenant", json={"timezone": "Asia/Tokyo"}, headers=headers)

    entries = {entry["action"]: entry for entry in _entries(client, tenant)}
    assert set(entries) >= {"user.create", "user.update", "user.delete", "api_key.create", "api_key.revoke",
                            "tenant.update"}
    for entry in entries.values():
        assert (entry["actor_type"], entry["actor_id"]) == ("user", str(admin))
        assert entry["request_id"]
        assert datetime.now(UTC) - datetime.fromisoformat(entry["created_at"]) < timedelta(minutes=1)

    assert entries["user.create"]["before"] is None
    assert entries["user.create"]["after"]["email"] == "audited@example.com"
    assert "password" not in str(entries["user.create"]["after"]).lower()
    assert entries["user.update"]["before"]["role"] == "viewer"
    assert (entries["user.update"]["after"]["role"], entries["user.update"]["after"]["name"]) == ("reviewer", "Audited")
    assert entries["user.delete"]["entity_id"] == user["id"]
    assert entries["user.delete"]["before"]["email"] == "audited@example.com" and entries["user.delete"]["after"] is None
    assert entries["api_key.create"]["after"]["prefix"] == key["prefix"]
    assert key["key"] not in str(entries["api_key.create"])
    assert entries["api_key.revoke"]["before"]["revoked_at"] is None
    assert entries["api_key.revoke"]["after"]["revoked_at"] is not None
    assert entries["tenant.update"]["before"]["timezone"] == "UTC"
    assert entries["tenant.update"]["after"]["timezone"] == "Asia/Tokyo"


def test_writes_by_an_api_key_name_the_key_as_actor(db, client):
    tenant = make_tenant(db)
    key, record = add_api_key(db, tenant.id, Role.admin)
    response = client.patch("/api/v1/tenant", json={"name": "By a machine"}, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    entry = _entries(client, tenant, action="tenant.update")[0]
    assert (entry["actor_type"], entry["actor_id"]) == ("api_key", str(record.id))


def test_refused_and_invalid_writes_leave_no_audit_row(db, client):
    tenant = make_tenant(db)
    before = len(_entries(client, tenant))
    client.patch("/api/v1/tenant", json={"timezone": "Nowhere/Land"}, headers=tenant.headers(Role.admin))
    client.patch("/api/v1/tenant", json={"name": "x"}, headers=tenant.headers(Role.operator))
    client.post("/api/v1/users", headers=tenant.headers(Role.admin), json={
        "email": "escalate@example.com", "password": "a-long-enough-password", "role": "owner"})
    assert len(_entries(client, tenant)) == before


def test_audit_log_is_tenant_scoped_filterable_and_paginated(db, client):
    tenant, other = make_tenant(db), make_tenant(db)
    for index in range(5):
        client.patch("/api/v1/tenant", json={"name": f"Name {index}"}, headers=tenant.headers(Role.owner))
    client.patch("/api/v1/tenant", json={"name": "Other"}, headers=other.headers(Role.owner))

    first = client.get(AUDIT, params={"limit": 2, "action": "tenant.update"}, headers=tenant.headers(Role.owner)).json()
    second = client.get(AUDIT, params={"limit": 2, "action": "tenant.update", "cursor": first["next_cursor"]},
                        headers=tenant.headers(Role.owner)).json()
    third = client.get(AUDIT, params={"limit": 2, "action": "tenant.update", "cursor": second["next_cursor"]},
                       headers=tenant.headers(Role.owner)).json()
    names = [entry["after"]["name"] for page in (first, second, third) for entry in page["items"]]
    assert names == ["Name 4", "Name 3", "Name 2", "Name 1", "Name 0"]
    assert third["next_cursor"] is None
    assert "Other" not in str(first) + str(second) + str(third)


@pytest.mark.parametrize("cursor", ["abc", "-1", "1e9", "²", "9" * 30])
def test_bad_cursor_is_a_4xx(cursor, db, client):
    tenant = make_tenant(db)
    response = client.get(AUDIT, params={"cursor": cursor}, headers=tenant.headers(Role.owner))
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")
