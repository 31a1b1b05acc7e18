"""Fixtures of the webhook tests: settings for this process (the receiver lives on 127.0.0.1, so private
targets are allowed), a receiver, a committed tenant with an endpoint, and a Celery worker on `webhooks`."""

from collections.abc import Callable, Iterator

import pytest

from app.core.context import TenantContext
from app.core.db import session_scope
from app.webhooks import service
from app.webhooks.schemas import EventType, WebhookCreate
from tests.builders import committed_tenant
from tests.environment import process_settings
from tests.runs.cluster import Cluster, engine_env
from tests.webhooks.receiver import Receiver

FAST_WEBHOOKS = {
    "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
    "WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "WEBHOOK_RETRY_MAX_SECONDS": "0.5",
    "WEBHOOK_TIMEOUT_SECONDS": "3",
}
_NAMES = (*FAST_WEBHOOKS, "WEBHOOK_DISABLE_AFTER_SECONDS", "WEBHOOK_MAX_ATTEMPTS", "WEBHOOK_STALLED_AFTER_SECONDS")


@pytest.fixture
def webhook_settings(migrated) -> Iterator[Callable[..., None]]:
    """configure(NAME=value, …): settings of this process for the rest of the test (FAST_WEBHOOKS included)."""
    with process_settings(FAST_WEBHOOKS, _NAMES) as configure:
        yield configure


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.stop()


@pytest.fixture
def tenant(committed_db):
    return committed_tenant(committed_db)


@pytest.fixture
def subscribe(tenant, webhook_settings) -> Callable[..., str]:
    """subscribe(receiver, events…): a committed endpoint of `tenant` for the receiver; gives the receiver
    its secret and returns the endpoint's id."""

    def make(receiver: Receiver, *events: EventType) -> str:
        with session_scope(tenant.id) as session:
            created = service.create_endpoint(session, TenantContext.system(tenant.id), WebhookCreate(
                url=receiver.url, events=list(events or EventType)))
        receiver.secret = created.secret
        return str(created.id)

    return make


def emit(tenant_id, event_type: EventType = EventType.invoice_issued, **payload) -> str | None:
    """An event committed in a transaction of its own; returns its webhook-id (None: nobody subscribed)."""
    with session_scope(tenant_id) as session:
        event = service.emit(session, tenant_id, event_type, payload or {"invoice_id": "inv-1"})
        return event.message_id if event is not None else None


@pytest.fixture
def webhook_cluster(migrated, tmp_path) -> Iterator[Callable[..., Cluster]]:
    """start(**env): a Celery worker on `webhooks` and `maintenance`, and beat (the outbox relay publishes
    the delayed retries). Messages left on the queue by earlier tests are dropped first."""
    from app.core.redis import get_redis

    get_redis().delete("webhooks")
    clusters: list[Cluster] = []

    def start(**env: str) -> Cluster:
        cluster = Cluster(engine_env(migrated, **FAST_WEBHOOKS, **env), tmp_path)
        clusters.append(cluster)
        cluster.start_worker("hooks", concurrency=2, queues="webhooks,maintenance")
        cluster.start_beat()
        return cluster

    yield start
    for cluster in clusters:
        cluster.stop()
