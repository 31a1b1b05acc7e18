"""Users: who may create, change and remove whom; the tenant always keeps an active owner."""

import threading

import pytest
from sqlalchemy import select, text

from app.auth.permissions import Role
from app.core.context import Principal, TenantContext
from app.core.db import session_scope
from app.core.errors import Conflict
from app.models import Membership
from app.users import service as users_service
from app.users.schemas import UserPatch
from tests.builders import PASSWORD, add_user, make_tenant

USERS = "/api/v1/users"


def _new_user(role: str, email: str = "new.person@example.com") -> dict:
    return {"email": email, "password": "a-long-enough-password", "name": "New Person", "role": role}


def _users(client, tenant) -> dict[str, dict]:
    return {u["id"]: u for u in client.get(USERS, headers=tenant.headers(Role.owner)).json()}


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_admin_cannot_create_owners_or_admins(role, db, client):
    tenant = make_tenant(db)
    response = client.post(USERS, json=_new_user(role), headers=tenant.headers(Role.admin))
    assert response.status_code == 403, response.text
    assert len(_users(client, tenant)) == len(Role)


@pytest.mark.parametrize("role", ["operator", "reviewer", "viewer"])
def test_admin_creates_users_below_admin_who_can_then_log_in(role, db, client):
    tenant = make_tenant(db)
    response = client.post(USERS, json=_new_user(role, email="New.Person@Example.com"), headers=tenant.headers(Role.admin))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["email"] == "new.person@example.com" and created["role"] == role and created["is_active"]
    assert "password" not in created and "password_hash" not in created
    login = client.post("/api/v1/auth/token", json={"email": "new.person@example.com", "password": "a-long-enough-password"})
    assert login.status_code == 200, login.text


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owner_creates_admins_and_owners(role, db, client):
    tenant = make_tenant(db)
    response = client.post(USERS, json=_new_user(role), headers=tenant.headers(Role.owner))
    assert response.status_code == 201, response.text
    assert response.json()["role"] == role


def test_duplicate_email_in_the_tenant_is_409(db, client):
    tenant = make_tenant(db)
    response = client.post(USERS, json=_new_user("viewer", email=tenant.emails[Role.viewer].upper()),
                           headers=tenant.headers(Role.admin))
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_same_email_may_exist_in_another_tenant(db, client):
    tenant, other = make_tenant(db), make_tenant(db)
    response = client.post(USERS, json=_new_user("viewer", email=tenant.emails[Role.viewer]),
                           headers=other.headers(Role.admin))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("new_role", ["owner", "admin"])
def test_admin_cannot_promote_to_admin_or_owner(new_role, db, client):
    tenant = make_tenant(db)
    target = tenant.users[Role.operator]
    response = client.patch(f"{USERS}/{target}", json={"role": new_role, "name": "Promoted"},
                            headers=tenant.headers(Role.admin))
    assert response.status_code == 403, response.text
    # Refused as a whole: the name in the same request did not change either.
    unchanged = _users(client, tenant)[str(target)]
    assert (unchanged["role"], unchanged["name"]) == ("operator", "Operator")


@pytest.mark.parametrize("target_role", [Role.owner, Role.admin])
def test_admin_cannot_change_or_remove_admins_and_owners(target_role, db, client):
    tenant = make_tenant(db)
    other_admin = add_user(db, tenant.id, Role.admin).id
    target = other_admin if target_role is Role.admin else tenant.users[Role.owner]
    headers = tenant.headers(Role.admin)
    assert client.patch(f"{USERS}/{target}", json={"role": "viewer"}, headers=headers).status_code == 403
    assert client.patch(f"{USERS}/{target}", json={"is_active": False}, headers=headers).status_code == 403
    assert client.delete(f"{USERS}/{target}", headers=headers).status_code == 403
    assert _users(client, tenant)[str(target)]["role"] == target_role


def test_admin_manages_users_below_admin(db, client):
    tenant = make_tenant(db)
    target = tenant.users[Role.viewer]
    headers = tenant.headers(Role.admin)
    response = client.patch(f"{USERS}/{target}", json={"role": "operator", "name": "Promoted"}, headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["role"], response.json()["name"]) == ("operator", "Promoted")
    assert client.delete(f"{USERS}/{target}", headers=headers).status_code == 204
    assert str(target) not in _users(client, tenant)


def test_owner_promotes_an_admin_to_owner_and_demotes_them_again(db, client):
    tenant = make_tenant(db)
    target = tenant.users[Role.admin]
    headers = tenant.headers(Role.owner)
    assert client.patch(f"{USERS}/{target}", json={"role": "owner"}, headers=headers).json()["role"] == "owner"
    assert client.patch(f"{USERS}/{target}", json={"role": "viewer"}, headers=headers).json()["role"] == "viewer"


def test_the_last_owner_cannot_demote_deactivate_or_delete_themselves(db, client):
    tenant = make_tenant(db)
    owner = tenant.users[Role.owner]
    headers = tenant.headers(Role.owner)
    for attempt in (
        client.patch(f"{USERS}/{owner}", json={"role": "admin"}, headers=headers),
        client.patch(f"{USERS}/{owner}", json={"is_active": False}, headers=headers),
        client.delete(f"{USERS}/{owner}", headers=headers),
    ):
        assert attempt.status_code == 409, attempt.text
        assert attempt.headers["content-type"].startswith("application/problem+json")
    me = _users(client, tenant)[str(owner)]
    assert (me["role"], me["is_active"]) == ("owner", True)


def test_an_owner_can_be_removed_while_another_active_owner_remains(db, client):
    tenant = make_tenant(db)
    second = add_user(db, tenant.id, Role.owner).id
    headers = tenant.headers(Role.owner)
    assert client.patch(f"{USERS}/{second}", json={"role": "admin"}, headers=headers).status_code == 200
    assert client.patch(f"{USERS}/{second}", json={"role": "owner"}, headers=headers).status_code == 200
    assert client.delete(f"{USERS}/{second}", headers=headers).status_code == 204
    # Now the remaining owner is the last one again.
    assert client.patch(f"{USERS}/{tenant.users[Role.owner]}", json={"role": "admin"}, headers=headers).status_code == 409


def test_an_inactive_owner_does_not_count_as_the_remaining_owner(db, client):
    tenant = make_tenant(db)
    dormant = add_user(db, tenant.id, Role.owner, is_active=False).id
    headers = tenant.headers(Role.owner)
    response = client.patch(f"{USERS}/{tenant.users[Role.owner]}", json={"role": "admin"}, headers=headers)
    assert response.status_code == 409, response.text
    # Removing the inactive owner leaves the active one: allowed.
    assert client.delete(f"{USERS}/{dormant}", headers=headers).status_code == 204


def test_deactivated_user_cannot_log_in_and_reactivated_user_can(db, client):
    tenant = make_tenant(db)
    target = tenant.users[Role.reviewer]
    headers = tenant.headers(Role.admin)
    credentials = {"email": tenant.emails[Role.reviewer], "password": PASSWORD}
    assert client.patch(f"{USERS}/{target}", json={"is_active": False}, headers=headers).status_code == 200
    assert client.post("/api/v1/auth/token", json=credentials).status_code == 401
    assert client.patch(f"{USERS}/{target}", json={"is_active": True}, headers=headers).status_code == 200
    assert client.post("/api/v1/auth/token", json=credentials).status_code == 200


def test_deleted_users_tokens_stop_working(db, client):
    tenant = make_tenant(db)
    victim_headers = tenant.headers(Role.operator)
    assert client.delete(f"{USERS}/{tenant.users[Role.operator]}", headers=tenant.headers(Role.admin)).status_code == 204
    assert client.get("/api/v1/me", headers=victim_headers).status_code == 401


def test_unknown_fields_are_rejected_not_ignored(db, client):
    tenant = make_tenant(db)
    response = client.patch(f"{USERS}/{tenant.users[Role.viewer]}", json={"email": "hijack@example.com"},
                            headers=tenant.headers(Role.admin))
    assert response.status_code == 422
    assert _users(client, tenant)[str(tenant.users[Role.viewer])]["email"] == tenant.emails[Role.viewer]


def test_two_owners_demoting_each_other_at_once_leave_one_owner(committed_db, owner_engine):
    """Each transaction locks only the user it demotes; without a tenant-wide lock both would count two
    owners, both would commit, and the tenant would be left with none."""
    with session_scope(factory=committed_db) as session:
        tenant = make_tenant(session)
        first, second = tenant.users[Role.owner], add_user(session, tenant.id, Role.owner).id
    ctx_of = {user: TenantContext(tenant.id, Principal("user", user, Role.owner)) for user in (first, second)}
    outcome: dict[str, object] = {}

    def second_demotes_first() -> None:
        try:
            with session_scope(tenant.id, factory=committed_db) as session:
                session.execute(text("SET LOCAL lock_timeout = '10s'"))
                users_service.update_user(session, ctx_of[second], first, UserPatch(role=Role.admin))
            outcome["second"] = "committed"
        except Exception as exc:  # the thread reports what happened; the test asserts on it
            outcome["second"] = exc

    try:
        with session_scope(tenant.id, factory=committed_db) as session:
            users_service.update_user(session, ctx_of[first], second, UserPatch(role=Role.admin))
            racer = threading.Thread(target=second_demotes_first)
            racer.start()
            racer.join(timeout=1)
            assert racer.is_alive(), "the second demotion must wait for the first to finish"
        racer.join(timeout=15)
        assert isinstance(outcome["second"], Conflict), outcome
        with session_scope(tenant.id, factory=committed_db) as session:
            owners = session.scalars(select(Membership.user_id).where(Membership.role == Role.owner)).all()
        assert owners == [first]
    finally:
        with owner_engine.begin() as connection:
            connection.execute(text("DELETE FROM tenants WHERE id = :id"), {"id": tenant.id})
