"""Webhook endpoints and their deliveries through the client, a page at a time and iterated over every page
(the rows are written directly: the endpoints' URLs need not resolve, and nothing is sent)."""

import uuid

import pytest

from app.auth.permissions import Role
from app.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.builders import rebind
from tests.client.conftest import connect, make_tenant

pytestmark = pytest.mark.slow


def test_endpoints_and_deliveries_come_in_pages(api, wire, factory):
    tenant = make_tenant(factory)
    with factory() as session, session.begin():
        rebind(session, tenant.id)
        endpoints = [WebhookEndpoint(tenant_id=tenant.id, url=f"https://hooks.example.com/{n}",
                                     events=["invoice.issued"], secret=f"whsec_{n}", enabled=True) for n in range(3)]
        session.add_all(endpoints)
        session.flush()
        for n in range(3):
            event = WebhookEvent(tenant_id=tenant.id, message_id=f"msg_{uuid.uuid4().hex}", type="invoice.issued",
                                 payload={"n": n})
            session.add(event)
            session.flush()
            session.add(WebhookDelivery(tenant_id=tenant.id, endpoint_id=endpoints[0].id, event_id=event.id,
                                        status="delivered", attempts=1))
    client = connect(api, wire, api_key=tenant.keys[Role.admin])

    first = client.webhooks.list(limit=2)
    assert len(first.items) == 2 and first.next_cursor
    assert {hook.id for hook in client.webhooks.iter(page_size=2)} == {endpoint.id for endpoint in endpoints}
    deliveries = client.webhooks.deliveries(endpoints[0].id, limit=2)
    assert len(deliveries.items) == 2 and deliveries.next_cursor
    assert [d.event_type for d in client.webhooks.iter_deliveries(endpoints[0].id, page_size=2)] == [
        "invoice.issued"] * 3
    assert client.webhooks.list(cursor=first.next_cursor).next_cursor is None
