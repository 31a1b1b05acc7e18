"""Every foundation endpoint × every role, as a user (bearer token) and as an API key of that role.

Expected statuses come from PRODUCT.md: viewers and up read; admins manage users below admin, API keys,
tenant settings and read the audit log; owners manage everything. Another tenant's user or key is a 404
for every role (never a 403, which would confirm that it exists).
"""

import uuid
from dataclasses import dataclass

import pytest

from app.auth.permissions import Role
from tests.builders import TenantFixture, add_api_key, add_user, make_tenant

ROLES = list(Role)
MANAGERS = {Role.owner, Role.admin}


@dataclass
class World:
    tenant: TenantFixture
    other: TenantFixture
    target_user: uuid.UUID
    target_key: uuid.UUID
    other_user: uuid.UUID
    other_key: uuid.UUID
    headers: dict[str, str]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict | None
    success: int
    allowed: frozenset[Role]


def _everyone(success: int = 200) -> tuple[int, frozenset[Role]]:
    return success, frozenset(ROLES)


def _managers(success: int) -> tuple[int, frozenset[Role]]:
    return success, frozenset(MANAGERS)


ENDPOINTS = {
    "GET /me": Call("GET", "/api/v1/me", None, *_everyone()),
    "GET /tenant": Call("GET", "/api/v1/tenant", None, *_everyone()),
    "PATCH /tenant": Call("PATCH", "/api/v1/tenant", {"name": "Renamed"}, *_managers(200)),
    "GET /users": Call("GET", "/api/v1/users", None, *_everyone()),
    "POST /users": Call("POST", "/api/v1/users",
                        {"email": "new.person@example.com", "password": "a-long-enough-password", "role": "viewer"},
                        *_managers(201)),
    "PATCH /users/{id}": Call("PATCH", "/api/v1/users/{target_user}", {"name": "Renamed"}, *_managers(200)),
    "DELETE /users/{id}": Call("DELETE", "/api/v1/users/{target_user}", None, *_managers(204)),
    "POST /api-keys": Call("POST", "/api/v1/api-keys", {"name": "ci", "role": "viewer"}, *_managers(201)),
    "GET /api-keys": Call("GET", "/api/v1/api-keys", None, *_managers(200)),
    "DELETE /api-keys/{id}": Call("DELETE", "/api/v1/api-keys/{target_key}", None, *_managers(204)),
    "GET /audit-log": Call("GET", "/api/v1/audit-log", None, *_managers(200)),
}

CROSS_TENANT = {
    "PATCH /users/{other}": ("PATCH", "/api/v1/users/{other_user}", {"name": "Pwned"}),
    "DELETE /users/{other}": ("DELETE", "/api/v1/users/{other_user}", None),
    "DELETE /api-keys/{other}": ("DELETE", "/api/v1/api-keys/{other_key}", None),
    "PATCH /users/{unknown}": ("PATCH", f"/api/v1/users/{uuid.uuid4()}", {"name": "Ghost"}),
    "DELETE /api-keys/{unknown}": ("DELETE", f"/api/v1/api-keys/{uuid.uuid4()}", None),
}


def _world(db, role: Role, principal: str) -> World:
    other = make_tenant(db)
    other_user = add_user(db, other.id, Role.viewer).id
    other_key = add_api_key(db, other.id, Role.viewer)[1].id
    tenant = make_tenant(db)
    target_user = add_user(db, tenant.id, Role.viewer).id
    target_key = add_api_key(db, tenant.id, Role.viewer)[1].id
    if principal == "user":
        headers = tenant.headers(role)
    else:
        headers = {"X-API-Key": add_api_key(db, tenant.id, role)[0]}
    return World(tenant, other, target_user, target_key, other_user, other_key, headers)


def _path(template: str, world: World) -> str:
    return template.format(target_user=world.target_user, target_key=world.target_key,
                           other_user=world.other_user, other_key=world.other_key)


@pytest.mark.parametrize("principal", ["user", "api_key"])
@pytest.mark.parametrize("role", ROLES, ids=str)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_role_matrix(endpoint, role, principal, db, client):
    call = ENDPOINTS[endpoint]
    world = _world(db, role, principal)
    response = client.request(call.method, _path(call.path, world), json=call.body, headers=world.headers)
    expected = call.success if role in call.allowed else 403
    assert response.status_code == expected, response.text
    if expected == 403:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 403


@pytest.mark.parametrize("principal", ["user", "api_key"])
@pytest.mark.parametrize("role", ROLES, ids=str)
@pytest.mark.parametrize("attempt", CROSS_TENANT)
def test_another_tenants_resources_are_404_for_every_role(attempt, role, principal, db, client):
    method, template, body = CROSS_TENANT[attempt]
    world = _world(db, role, principal)
    response = client.request(method, _path(template, world), json=body, headers=world.headers)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    # Nothing of the other tenant changed.
    other_headers = world.other.headers(Role.owner)
    users = {u["id"]: u for u in client.get("/api/v1/users", headers=other_headers).json()}
    assert users[str(world.other_user)]["name"] == "Viewer"
    keys = {k["id"]: k for k in client.get("/api/v1/api-keys", headers=other_headers).json()}
    assert keys[str(world.other_key)]["revoked_at"] is None


@pytest.mark.parametrize("principal", ["user", "api_key"])
@pytest.mark.parametrize("role", ROLES, ids=str)
def test_lists_never_show_another_tenants_rows(role, principal, db, client):
    world = _world(db, role, principal)
    users = client.get("/api/v1/users", headers=world.headers)
    assert users.status_code == 200
    ids = {u["id"] for u in users.json()}
    assert str(world.target_user) in ids and str(world.other_user) not in ids
    assert set(ids) >= {str(user_id) for user_id in world.tenant.users.values()}
    assert not ids & {str(user_id) for user_id in world.other.users.values()}
    me = client.get("/api/v1/me", headers=world.headers).json()
    assert (me["tenant_id"], me["role"], me["principal_type"]) == (str(world.tenant.id), role, principal)
