"""Forged, stale and misused credentials: each is a 401 problem+json, never a 200 and never a 500."""

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from jose import jwt

from app.auth.permissions import Role
from app.core.config import get_settings
from app.core.security import create_token
from tests.builders import PASSWORD, add_api_key, make_tenant

ME = "/api/v1/me"


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _claims(user_id: uuid.UUID, tenant_id: uuid.UUID, **overrides) -> dict:
    settings = get_settings()
    now = int(time.time())
    claims = {"sub": str(user_id), "tid": str(tenant_id), "typ": "access", "jti": str(uuid.uuid4()),
              "iat": now, "exp": now + 300, "iss": settings.jwt_issuer, "aud": settings.jwt_audience}
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def _sign(claims: dict, secret: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret or get_settings().jwt_secret.get_secret_value(), algorithm=algorithm)


def _assert_401(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 401 and body["title"] and body["detail"] and body["request_id"]


def test_a_well_formed_token_is_accepted(db, client):
    """The control: the claims the attacks below start from do authenticate when left alone."""
    tenant = make_tenant(db)
    response = client.get(ME, headers={"Authorization": f"Bearer {_sign(_claims(tenant.users[Role.viewer], tenant.id))}"})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(tenant.users[Role.viewer])


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_unsigned_alg_none_token(alg, db, client):
    tenant = make_tenant(db)
    token = f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(_claims(tenant.users[Role.owner], tenant.id))}."
    _assert_401(client.get(ME, headers={"Authorization": f"Bearer {token}"}))


def test_token_signed_with_another_secret(db, client):
    tenant = make_tenant(db)
    token = _sign(_claims(tenant.users[Role.owner], tenant.id), secret="not-the-server-secret-" * 2)
    _assert_401(client.get(ME, headers={"Authorization": f"Bearer {token}"}))


def test_token_with_another_algorithm_and_the_right_secret(db, client):
    tenant = make_tenant(db)
    token = _sign(_claims(tenant.users[Role.owner], tenant.id), algorithm="HS512")
    _assert_401(client.get(ME, headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"exp": int(time.time()) - 10, "iat": int(time.time()) - 1000}, id="expired"),
        pytest.param({"aud": "someone-else"}, id="wrong-aud"),
        pytest.param({"iss": "evil-issuer"}, id="wrong-iss"),
        pytest.param({"exp": None}, id="missing-exp"),
        pytest.param({"iat": None}, id="missing-iat"),
        pytest.param({"aud": None}, id="missing-aud"),
        pytest.param({"iss": None}, id="missing-iss"),
        pytest.param({"tid": None}, id="missing-tid"),
        pytest.param({"typ": None}, id="missing-typ"),
        pytest.param({"sub": "not-a-uuid"}, id="malformed-sub"),
        pytest.param({"typ": "refresh", "fam": str(uuid.uuid4())}, id="refresh-as-access"),
    ],
)
def test_correctly_signed_but_invalid_claims(overrides, db, client):
    tenant = make_tenant(db)
    token = _sign(_claims(tenant.users[Role.owner], tenant.id, **overrides))
    _assert_401(client.get(ME, headers={"Authorization": f"Bearer {token}"}))


def test_real_refresh_token_used_as_access_token(db, client):
    tenant = make_tenant(db)
    pair = client.post("/api/v1/auth/token", json={"email": tenant.emails[Role.owner], "password": PASSWORD}).json()
    _assert_401(client.get(ME, headers={"Authorization": f"Bearer {pair['refresh_token']}"}))


def test_access_token_used_at_refresh(db, client):
    tenant = make_tenant(db)
    pair = client.post("/api/v1/auth/token", json={"email": tenant.emails[Role.owner], "password": PASSWORD}).json()
    _assert_401(client.post("/api/v1/auth/refresh", json={"refresh_token": pair["access_token"]}))


@pytest.mark.parametrize("claim", ["tid", "sub"])
def test_tampered_payload_keeps_the_original_signature(claim, db, client):
    victim, attacker = make_tenant(db), make_tenant(db)
    token = create_token(attacker.users[Role.viewer], attacker.id, "access")[0]
    header, payload, signature = token.split(".")
    claims = _unb64(payload)
    claims[claim] = str(victim.id if claim == "tid" else victim.users[Role.owner])
    forged = f"{header}.{_b64(claims)}.{signature}"
    _assert_401(client.get(ME, headers={"Authorization": f"Bearer {forged}"}))
    # The untampered token still works: the 401 is the signature check, not a broken fixture.
    assert client.get(ME, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_token_of_a_user_from_another_tenant_claiming_this_tenant(db, client):
    """Even correctly signed, a token whose sub is not a member of its tid is refused."""
    home, other = make_tenant(db), make_tenant(db)
    token = _sign(_claims(other.users[Role.owner], home.id))
    _assert_401(client.get(ME, headers={"Authorization": f"Bearer {token}"}))


def test_token_of_a_deactivated_user(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.operator)
    assert client.get(ME, headers=headers).status_code == 200
    response = client.patch(f"/api/v1/users/{tenant.users[Role.operator]}", json={"is_active": False},
                            headers=tenant.headers(Role.admin))
    assert response.status_code == 200, response.text
    _assert_401(client.get(ME, headers=headers))


def test_revoked_api_key(db, client):
    tenant = make_tenant(db)
    key, record = add_api_key(db, tenant.id, Role.operator)
    assert client.get(ME, headers={"X-API-Key": key}).status_code == 200
    assert client.delete(f"/api/v1/api-keys/{record.id}", headers=tenant.headers(Role.admin)).status_code == 204
    _assert_401(client.get(ME, headers={"X-API-Key": key}))


def test_expired_api_key(db, client):
    tenant = make_tenant(db)
    key, _ = add_api_key(db, tenant.id, Role.operator, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    _assert_401(client.get(ME, headers={"X-API-Key": key}))


def test_api_key_with_a_known_prefix_and_a_wrong_secret(db, client):
    tenant = make_tenant(db)
    key, record = add_api_key(db, tenant.id, Role.owner)
    forged = f"{record.prefix}_{'A' * 43}"
    assert forged != key
    _assert_401(client.get(ME, headers={"X-API-Key": forged}))


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-credentials"),
        pytest.param({"Authorization": "Bearer"}, id="bearer-without-token"),
        pytest.param({"Authorization": "Bearer not-a-jwt"}, id="bearer-garbage"),
        pytest.param({"Authorization": "Bearer a.b.c"}, id="bearer-three-garbage-segments"),
        pytest.param({"Authorization": "Bearer " + "x" * 5000}, id="bearer-huge"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic-auth"),
        pytest.param({"Authorization": "garbage"}, id="no-scheme"),
        pytest.param({"X-API-Key": "garbage"}, id="api-key-garbage"),
        pytest.param({"X-API-Key": "al_000000000000_" + "x" * 43}, id="api-key-unknown-prefix"),
    ],
)
def test_garbage_credentials(headers, client, migrated):
    _assert_401(client.get(ME, headers=headers))
