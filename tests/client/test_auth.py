"""Authentication against the real API: an API key, a password login whose access token (1 s here) is
refreshed before it expires, tokens given by the caller refreshed after a 401, and refresh tokens
rotating: one refresh for many threads, and a used refresh token refused by the API."""

import threading
import time

import httpx
import pytest

from agentline_client import AuthenticationError, Tokens
from agentline_client.models import TokenPair
from app.auth.permissions import Role
from tests.builders import PASSWORD
from tests.client.conftest import Tenant, connect, make_tenant

pytestmark = pytest.mark.slow
EXPIRED = 2.1  # an access token of ACCESS_TOKEN_TTL_SECONDS=1 is refused after this (its exp is whole seconds)


@pytest.fixture
def own_tenant(factory) -> Tenant:
    """Logins are limited per email: each test logs in as users of its own."""
    return make_tenant(factory)


def test_an_api_key_is_sent_as_x_api_key(api, wire, tenant):
    client = connect(api, wire, api_key=tenant.keys[Role.viewer])
    me = client.me()
    assert (me.tenant_id, me.principal_type, me.role) == (tenant.id, "api_key", "viewer")
    assert wire.sent[0].headers["X-API-Key"] == tenant.keys[Role.viewer]
    assert "Authorization" not in wire.sent[0].headers


def test_a_password_login_is_refreshed_before_it_expires_once_for_all_threads(api, wire, own_tenant):
    pairs: list[TokenPair] = []
    client = connect(api, wire, auth=Tokens(own_tenant.email(Role.operator), PASSWORD, on_tokens=pairs.append))
    assert client.me().email == own_tenant.email(Role.operator)
    time.sleep(EXPIRED)

    answers, failures = [], []

    def ask() -> None:
        try:
            answers.append(client.me().role)
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            failures.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == [] and answers == ["operator"] * 8
    assert len(wire.requests("POST", "/auth/token")) == 1
    assert len(wire.requests("POST", "/auth/refresh")) == 1  # serialised: the other threads used its result
    assert 401 not in wire.statuses  # refreshed before the API could refuse the old token
    assert len(pairs) == 2 and pairs[1].refresh_token != pairs[0].refresh_token
    # Rotation: the first refresh token was consumed by the client's refresh, and the API refuses it now.
    reused = httpx.post(f"{api.url}/api/v1/auth/refresh", json={"refresh_token": pairs[0].refresh_token})
    assert reused.status_code == 401


def test_given_tokens_are_refreshed_after_a_401_and_the_newest_pair_is_kept(api, wire, own_tenant):
    login = httpx.post(f"{api.url}/api/v1/auth/token", json={"email": own_tenant.email(Role.reviewer),
                                                             "password": PASSWORD}).json()
    time.sleep(EXPIRED)
    pairs: list[TokenPair] = []
    client = connect(api, wire, auth=Tokens(access_token=login["access_token"],
                                            refresh_token=login["refresh_token"], on_tokens=pairs.append))

    assert client.me().role == "reviewer"
    assert [(r.url.path, status) for r, status in zip(wire.sent, wire.statuses, strict=True)] == [
        ("/api/v1/me", 401), ("/api/v1/auth/refresh", 200), ("/api/v1/me", 200)]
    assert wire.sent[2].headers["Authorization"] == f"Bearer {pairs[0].access_token}"
    time.sleep(EXPIRED)
    assert client.me().role == "reviewer"  # refreshed again, with the rotated refresh token
    assert len(pairs) == 2


def test_a_refused_refresh_token_without_a_password_is_an_authentication_error(api, wire, own_tenant):
    login = httpx.post(f"{api.url}/api/v1/auth/token", json={"email": own_tenant.email(Role.viewer),
                                                             "password": PASSWORD}).json()
    client = connect(api, wire, auth=Tokens(access_token="not-a-token", refresh_token=login["refresh_token"]))
    httpx.post(f"{api.url}/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})  # used elsewhere

    with pytest.raises(AuthenticationError, match="already used"):
        client.me()


def test_a_wrong_password_is_an_authentication_error_sent_once(api, wire, own_tenant):
    client = connect(api, wire, email=own_tenant.email(Role.viewer), password="not the password")
    with pytest.raises(AuthenticationError) as raised:
        client.me()
    assert raised.value.status == 401 and raised.value.detail == "Email or password is incorrect."
    assert [r.url.path for r in wire.sent] == ["/api/v1/auth/token"]


def test_logout_revokes_the_login_and_a_later_call_logs_in_again(api, wire, own_tenant):
    pairs: list[TokenPair] = []
    client = connect(api, wire, auth=Tokens(own_tenant.email(Role.viewer), PASSWORD, on_tokens=pairs.append))
    assert client.me().role == "viewer"

    client.logout()
    client.logout()  # nothing left to end: nothing is sent

    assert [r.url.path for r in wire.requests("POST", "/auth/")] == ["/api/v1/auth/token", "/api/v1/auth/logout"]
    revoked = httpx.post(f"{api.url}/api/v1/auth/refresh", json={"refresh_token": pairs[0].refresh_token})
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    assert client.me().role == "viewer"  # with the password: a new login
    assert len(wire.requests("POST", "/auth/token")) == 2


def test_logout_with_an_api_key_sends_nothing(api, wire, tenant):
    client = connect(api, wire, api_key=tenant.keys[Role.viewer])
    client.logout()
    assert wire.sent == [] and client.me().role == "viewer"
