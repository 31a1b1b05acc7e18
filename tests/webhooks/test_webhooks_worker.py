"""Deliveries through the real path: outbox → Redis `webhooks` queue → a Celery worker → the receiver (in
this process), with retries published by the outbox relay that beat runs."""

import uuid

from sqlalchemy import select

from app.core import outbox
from app.core.db import session_scope
from app.core.redis import get_redis
from app.models import WebhookDelivery
from app.webhooks.schemas import EventType
from tests.runs.cluster import wait_until
from tests.webhooks.conftest import emit


def _statuses(tenant_id: uuid.UUID) -> dict[uuid.UUID, tuple[str, int]]:
    with session_scope(tenant_id) as session:
        return {d.id: (d.status, d.attempts) for d in session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant_id))}


def test_events_produced_while_the_receiver_is_down_arrive_once_each_when_it_is_back(
        tenant, subscribe, receiver, webhook_cluster):
    subscribe(receiver, EventType.run_succeeded, EventType.invoice_issued)
    webhook_cluster(WEBHOOK_MAX_ATTEMPTS="1000")
    ids = {emit(tenant.id, EventType.invoice_issued, invoice_id=f"inv-{n}") for n in range(4)}
    wait_until(lambda: all(attempts >= 2 for _, attempts in _statuses(tenant.id).values()), 60,
               message="the deliveries were not retried while the receiver was down")
    assert {status for status, _ in _statuses(tenant.id).values()} == {"pending"}

    receiver.start()
    wait_until(lambda: {status for status, _ in _statuses(tenant.id).values()} == {"delivered"}, 60,
               message="the deliveries did not arrive once the receiver was back")
    assert receiver.refused == []
    assert sorted(receiver.ids()) == sorted(ids)


def test_a_delivery_published_many_times_arrives_once(tenant, subscribe, receiver, webhook_cluster):
    receiver.start()
    subscribe(receiver)
    message_id = emit(tenant.id, EventType.coaching_card_created, card_id="c-1")
    [delivery_id] = _statuses(tenant.id)
    outbox.send_many([("webhooks.deliver", "webhooks",
                       {"delivery_id": str(delivery_id), "tenant_id": str(tenant.id)})] * 10)
    webhook_cluster()
    wait_until(lambda: _statuses(tenant.id)[delivery_id][0] == "delivered", 60, message="not delivered")
    wait_until(lambda: get_redis().llen("webhooks") == 0, 30)
    assert receiver.ids() == [message_id]
