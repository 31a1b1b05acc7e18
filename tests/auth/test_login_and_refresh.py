"""Login across tenants, refresh-token lifetime and who may still refresh."""

from app.auth.permissions import Role
from tests.builders import PASSWORD, add_user, make_tenant, rebind

TOKEN, REFRESH, LOGOUT, ME = "/api/v1/auth/token", "/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/me"


def _login(client, email: str, password: str = PASSWORD, tenant: str | None = None):
    return client.post(TOKEN, json={"email": email, "password": password, "tenant": tenant})


def test_login_is_case_insensitive_on_the_email(db, client):
    tenant = make_tenant(db)
    assert _login(client, tenant.emails[Role.viewer].upper()).status_code == 200


def test_unknown_email_and_wrong_password_get_the_same_answer(db, client):
    tenant = make_tenant(db)
    unknown = _login(client, "nobody@nowhere.example.com")
    wrong = _login(client, tenant.emails[Role.viewer], "wrong-password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["detail"] == wrong.json()["detail"]


def test_an_email_in_two_tenants_must_name_the_tenant(db, client):
    first, second = make_tenant(db), make_tenant(db)
    shared = "shared.person@example.com"
    add_user(db, second.id, Role.viewer, email=shared)
    rebind(db, first.id)
    add_user(db, first.id, Role.operator, email=shared)
    ambiguous = _login(client, shared)
    assert ambiguous.status_code == 400, ambiguous.text
    assert "tenant" in ambiguous.json()["detail"]
    chosen = _login(client, shared, tenant=second.slug)
    assert chosen.status_code == 200, chosen.text
    me = client.get(ME, headers={"Authorization": f"Bearer {chosen.json()['access_token']}"}).json()
    assert (me["tenant_id"], me["role"]) == (str(second.id), "viewer")
    assert _login(client, shared, tenant="no-such-tenant").status_code == 401


def test_refresh_rotates_and_the_new_access_token_works(db, client):
    tenant = make_tenant(db)
    pair = _login(client, tenant.emails[Role.reviewer]).json()
    rotated = client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["refresh_token"] != pair["refresh_token"] and new["access_token"] != pair["access_token"]
    assert client.get(ME, headers={"Authorization": f"Bearer {new['access_token']}"}).json()["role"] == "reviewer"
    assert client.post(REFRESH, json={"refresh_token": new["refresh_token"]}).status_code == 200


def test_a_deactivated_or_deleted_user_cannot_refresh(db, client):
    tenant = make_tenant(db)
    deactivated = _login(client, tenant.emails[Role.reviewer]).json()
    deleted = _login(client, tenant.emails[Role.operator]).json()
    admin = tenant.headers(Role.admin)
    assert client.patch(f"/api/v1/users/{tenant.users[Role.reviewer]}", json={"is_active": False}, headers=admin).status_code == 200
    assert client.delete(f"/api/v1/users/{tenant.users[Role.operator]}", headers=admin).status_code == 204
    for pair in (deactivated, deleted):
        response = client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith("application/problem+json")


def test_logout_revokes_the_whole_login_and_is_idempotent(db, client):
    tenant = make_tenant(db)
    pair = _login(client, tenant.emails[Role.reviewer]).json()
    rotated = client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}).json()
    other_login = _login(client, tenant.emails[Role.reviewer]).json()

    for _ in range(2):  # with the newest token of the login; again, harmless
        response = client.post(LOGOUT, json={"refresh_token": rotated["refresh_token"]})
        assert response.status_code == 204 and response.content == b""
    assert client.post(LOGOUT, json={"refresh_token": pair["refresh_token"]}).status_code == 204  # an older one
    refused = client.post(REFRESH, json={"refresh_token": rotated["refresh_token"]})
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert client.post(REFRESH, json={"refresh_token": other_login["refresh_token"]}).status_code == 200


def test_logout_refuses_what_is_not_a_refresh_token(db, client):
    tenant = make_tenant(db)
    pair = _login(client, tenant.emails[Role.reviewer]).json()
    for token in ("garbage", pair["access_token"]):
        response = client.post(LOGOUT, json={"refresh_token": token})
        assert response.status_code == 401 and response.headers["content-type"].startswith("application/problem+json")
    assert client.post(LOGOUT, json={}).status_code == 422
    assert client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}).status_code == 200
