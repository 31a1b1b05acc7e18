"""Deliveries driven by calling the delivery directly: signed as Standard Webhooks says (verified by the
`standardwebhooks` package in the receiver), once per id, retried while the receiver is down, refused for
private targets at delivery time, and a receiver that never accepts gets its endpoint disabled."""

import time
import uuid

from sqlalchemy import select

from app.core.db import session_scope
from app.models import AuditLog, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks import delivery
from app.webhooks.schemas import EventType
from tests.webhooks.conftest import emit


def _deliveries(tenant_id: uuid.UUID) -> list[WebhookDelivery]:
    with session_scope(tenant_id) as session:
        return list(session.scalars(select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant_id)))


def _deliver_all(tenant_id: uuid.UUID) -> list[str]:
    return [delivery.deliver(d.id, tenant_id) for d in _deliveries(tenant_id)]


def test_an_event_is_delivered_signed_once_per_id_and_duplicates_do_nothing(tenant, subscribe, receiver):
    receiver.start()
    subscribe(receiver, EventType.invoice_issued)
    message_id = emit(tenant.id, EventType.invoice_issued, invoice_id="inv-42", total="120.00")
    assert emit(tenant.id, EventType.review_requested, review_id="r-1") is None  # not subscribed

    [row] = _deliveries(tenant.id)
    assert delivery.deliver(row.id, tenant.id) == "delivered"
    assert delivery.deliver(row.id, tenant.id) == "delivered"  # a duplicate message: nothing sent

    assert receiver.refused == []
    assert receiver.ids() == [message_id]
    [got] = receiver.received
    assert got.body["type"] == "invoice.issued"
    assert got.body["data"] == {"invoice_id": "inv-42", "total": "120.00"}
    assert got.headers["webhook-signature"].startswith("v1,")
    [done] = _deliveries(tenant.id)
    assert (done.status, done.attempts, done.last_status_code) == ("delivered", 1, 204)
    assert done.delivered_at is not None and done.last_latency_ms is not None


def test_events_produced_while_the_receiver_is_down_arrive_once_it_is_back(tenant, subscribe, receiver):
    subscribe(receiver)
    ids = {emit(tenant.id, EventType.pipeline_completed, pipeline_id=str(uuid.uuid4())) for _ in range(3)}

    assert set(_deliver_all(tenant.id)) == {"retry_scheduled"}  # nothing listens on the port
    first = _deliveries(tenant.id)
    assert all(d.status == "pending" and d.attempts == 1 and d.last_error for d in first)

    receiver.start()
    time.sleep(0.6)  # past the backoff (at most WEBHOOK_RETRY_MAX_SECONDS)
    assert set(_deliver_all(tenant.id)) == {"delivered"}
    assert sorted(receiver.ids()) == sorted(ids)
    with session_scope(tenant.id) as session:
        attempts = session.scalars(select(WebhookAttempt).where(WebhookAttempt.tenant_id == tenant.id)).all()
    assert sorted((a.attempt, a.status_code) for a in attempts) == [(1, None)] * 3 + [(2, 204)] * 3


def test_a_receiver_that_always_fails_is_disabled_after_the_window_and_the_admins_are_told(
        tenant, subscribe, receiver, webhook_settings):
    webhook_settings(WEBHOOK_DISABLE_AFTER_SECONDS="1")
    receiver.status = 500
    receiver.start()
    endpoint_id = subscribe(receiver)
    emit(tenant.id)
    emit(tenant.id)
    [first, second] = _deliveries(tenant.id)

    assert delivery.deliver(first.id, tenant.id) == "retry_scheduled"
    time.sleep(1.1)
    assert delivery.deliver(first.id, tenant.id) == "endpoint_disabled"
    assert delivery.deliver(second.id, tenant.id) == "dead"

    with session_scope(tenant.id) as session:
        endpoint = session.get(WebhookEndpoint, uuid.UUID(endpoint_id))
        assert not endpoint.enabled and endpoint.disabled_at is not None
        assert "HTTP 500" in endpoint.disabled_reason and endpoint.disabled_by == "system"
        entry = session.scalars(select(AuditLog).where(AuditLog.tenant_id == tenant.id,
                                                       AuditLog.action == "webhook.disable")).one()
        assert (entry.actor_type, entry.entity_id) == ("system", endpoint_id)
    assert {d.status for d in _deliveries(tenant.id)} == {"dead"}
    assert emit_nothing(tenant.id)


def emit_nothing(tenant_id: uuid.UUID) -> bool:
    """A disabled endpoint is not subscribed any more: emitting writes nothing."""
    from app.webhooks import service

    with session_scope(tenant_id) as session:
        return service.emit(session, tenant_id, EventType.invoice_issued, {}) is None


def test_a_target_that_resolves_to_a_private_address_is_refused_at_delivery_time(
        tenant, subscribe, receiver, webhook_settings):
    receiver.start()
    subscribe(receiver)  # accepted while private targets are allowed
    emit(tenant.id)
    webhook_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS="false")
    [row] = _deliveries(tenant.id)
    assert delivery.deliver(row.id, tenant.id) == "retry_scheduled"
    assert receiver.received == []
    [after] = _deliveries(tenant.id)
    assert "non-public address (127.0.0.1)" in after.last_error


def test_the_sweep_publishes_deliveries_whose_message_was_lost(tenant, subscribe, receiver, webhook_settings):
    webhook_settings(WEBHOOK_STALLED_AFTER_SECONDS="1")
    subscribe(receiver)
    emit(tenant.id)
    [row] = _deliveries(tenant.id)
    time.sleep(1.2)
    assert delivery.republish_due() >= 1
    [after] = _deliveries(tenant.id)
    assert after.status == "pending" and after.next_attempt_at > row.next_attempt_at
