"""The webhooks API: admin only, tenant scoped (404 across tenants), the secret shown once, unsafe URLs
refused, deliveries listed with their attempts, a delivery re-sent."""

import uuid

import pytest
from sqlalchemy import select

from app.auth.permissions import Role
from app.core.config import Settings
from app.models import WebhookDelivery, WebhookEndpoint
from app.webhooks import service, targets
from app.webhooks.schemas import EventType
from tests.builders import make_tenant, rebind

HOOKS = "/api/v1/webhooks"
EVENTS = ["invoice.issued", "review.requested"]


@pytest.fixture
def allow_private(webhook_settings):
    return webhook_settings


def _create(client, tenant, url="http://127.0.0.1:9/hooks", events=EVENTS):
    return client.post(HOOKS, json={"url": url, "events": events}, headers=tenant.headers(Role.admin))


def test_the_secret_is_shown_once_and_never_again(db, client, allow_private):
    tenant = make_tenant(db)
    created = _create(client, tenant)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["events"] == sorted(EVENTS) and body["enabled"]

    headers = tenant.headers(Role.admin)
    for response in (client.get(HOOKS, headers=headers), client.get(f"{HOOKS}/{body['id']}", headers=headers),
                     client.patch(f"{HOOKS}/{body['id']}", json={"events": ["pipeline.completed"]}, headers=headers)):
        assert response.status_code == 200, response.text
        assert "secret" not in response.text and body["secret"] not in response.text


def test_only_admins_manage_webhooks(db, client, allow_private):
    tenant = make_tenant(db)
    webhook_id = _create(client, tenant).json()["id"]
    operator = tenant.headers(Role.operator)
    assert client.post(HOOKS, json={"url": "http://127.0.0.1:9/", "events": EVENTS}, headers=operator).status_code == 403
    assert client.get(HOOKS, headers=operator).status_code == 403
    assert client.get(f"{HOOKS}/{webhook_id}", headers=operator).status_code == 403
    assert client.patch(f"{HOOKS}/{webhook_id}", json={"enabled": False}, headers=operator).status_code == 403
    assert client.delete(f"{HOOKS}/{webhook_id}", headers=operator).status_code == 403
    assert client.get(f"{HOOKS}/{webhook_id}/deliveries", headers=operator).status_code == 403
    assert client.get(f"{HOOKS}/{webhook_id}", headers=tenant.headers(Role.owner)).status_code == 200


def test_another_tenants_webhook_is_not_found(db, client, allow_private):
    ours, theirs = make_tenant(db), make_tenant(db)
    theirs_id = _create(client, theirs).json()["id"]
    rebind(db, ours.id)
    headers = ours.headers(Role.owner)
    assert client.get(f"{HOOKS}/{theirs_id}", headers=headers).status_code == 404
    assert client.patch(f"{HOOKS}/{theirs_id}", json={"enabled": False}, headers=headers).status_code == 404
    assert client.delete(f"{HOOKS}/{theirs_id}", headers=headers).status_code == 404
    assert client.get(f"{HOOKS}/{theirs_id}/deliveries", headers=headers).status_code == 404
    assert client.post(f"{HOOKS}/{theirs_id}/deliveries/{uuid.uuid4()}/resend", headers=headers).status_code == 404
    assert client.get(HOOKS, headers=headers).json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hooks", "http://10.0.0.5/hooks", "http://169.254.169.254/latest",
                                 "http://[::1]/hooks", "http://localhost/hooks", "ftp://example.com/hooks",
                                 "http://user:pw@example.com/hooks"])
def test_a_url_pointing_at_a_private_address_or_not_http_is_refused(db, client, webhook_settings, url):
    webhook_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS="false")
    tenant = make_tenant(db)
    response = _create(client, tenant, url=url)
    assert response.status_code == 422, response.text
    assert "cannot receive webhooks" in response.json()["detail"]


def test_production_takes_https_only():
    production = Settings(environment="production", jwt_secret="p" * 40)
    with pytest.raises(targets.UnsafeTarget, match="https"):
        targets.parse("http://example.com/hooks", production)
    assert targets.parse("https://example.com/hooks?a=1", production) == ("https", "example.com", 443, "/hooks?a=1")


def test_an_unknown_event_type_or_field_is_refused(db, client, allow_private):
    tenant = make_tenant(db)
    assert _create(client, tenant, events=["invoice.paid"]).status_code == 422
    assert _create(client, tenant, events=[]).status_code == 422
    headers = tenant.headers(Role.admin)
    unknown = client.post(HOOKS, json={"url": "http://127.0.0.1:9/", "events": EVENTS, "secret": "mine"},
                          headers=headers)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "secret"
    webhook_id = _create(client, tenant).json()["id"]
    assert client.patch(f"{HOOKS}/{webhook_id}", json={"enable": False}, headers=headers).status_code == 422
    assert client.get(f"{HOOKS}/{webhook_id}", headers=headers).json()["enabled"] is True


def test_deliveries_are_listed_and_one_can_be_resent(db, client, allow_private):
    tenant = make_tenant(db)
    webhook_id = _create(client, tenant).json()["id"]
    rebind(db, tenant.id)
    event = service.emit(db, tenant.id, EventType.invoice_issued, {"invoice_id": str(uuid.uuid4())})
    db.flush()
    headers = tenant.headers(Role.admin)
    [listed] = client.get(f"{HOOKS}/{webhook_id}/deliveries", headers=headers).json()["items"]
    assert (listed["message_id"], listed["event_type"], listed["status"], listed["attempt_log"]) == (
        event.message_id, "invoice.issued", "pending", [])

    rebind(db, tenant.id)
    row = db.scalars(select(WebhookDelivery).where(WebhookDelivery.id == uuid.UUID(listed["id"]))).one()
    row.status = "failed"
    db.flush()
    resent = client.post(f"{HOOKS}/{webhook_id}/deliveries/{listed['id']}/resend", headers=headers)
    assert resent.status_code == 202, resent.text
    assert resent.json()["status"] == "pending"

    disabled = client.patch(f"{HOOKS}/{webhook_id}", json={"enabled": False}, headers=headers).json()
    assert (disabled["enabled"], disabled["disabled_by"]) == (False, "admin")
    assert client.post(f"{HOOKS}/{webhook_id}/deliveries/{listed['id']}/resend", headers=headers).status_code == 409
    assert client.delete(f"{HOOKS}/{webhook_id}", headers=headers).status_code == 204
    rebind(db, tenant.id)
    assert db.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id == uuid.UUID(webhook_id))).all() == []


def test_endpoints_and_deliveries_are_cursor_paginated(db, client, allow_private):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.admin)
    created = [_create(client, tenant, url=f"http://127.0.0.1:9/hooks/{n}").json()["id"] for n in range(3)]
    rebind(db, tenant.id)
    for _ in range(3):
        service.emit(db, tenant.id, EventType.invoice_issued, {"invoice_id": str(uuid.uuid4())})
    db.flush()

    deliveries = {row.id for row in db.scalars(select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == uuid.UUID(created[0])))}
    for path, expected in ((HOOKS, set(map(uuid.UUID, created))), (f"{HOOKS}/{created[0]}/deliveries", deliveries)):
        seen, cursor = [], None
        for _ in range(2):  # two pages of two: the second is the last
            page = client.get(path, params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=headers)
            assert page.status_code == 200, page.text
            seen += [uuid.UUID(item["id"]) for item in page.json()["items"]]
            cursor = page.json()["next_cursor"]
        assert cursor is None and len(seen) == 3 and set(seen) == expected
    assert client.get(HOOKS, params={"cursor": "nope"}, headers=headers).status_code == 400
