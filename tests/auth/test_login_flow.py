from app.auth.permissions import Role
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
