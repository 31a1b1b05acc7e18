"""One delivery, keyed by its row: claim, POST, record (docs/webhooks.md).

1. **Lock.** A PostgreSQL advisory lock on the delivery, on a connection of its own, held for the whole
   attempt: one worker at a time. A duplicate message finds it taken and does nothing (the holder records
   the outcome; if the holder dies, the sweep publishes the delivery again).
2. **Claim**, in a short transaction: only a `pending` delivery of an enabled endpoint, and not before it
   is due (an early duplicate of a retry's message waits for its own); the attempt is counted.
3. **POST** outside any transaction: the target is resolved and checked again (app.webhooks.targets) and
   the connection goes to the checked address; a timeout on every step; at most RESPONSE_READ_LIMIT bytes
   of the answer are read.
4. **Record**: the attempt's row; a 2xx → `delivered`. Anything else → the next attempt is enqueued through
   the outbox with exponential backoff and jitter in the same transaction (so it cannot be lost), or, with
   the attempts spent, `failed`. An endpoint that has accepted nothing for WEBHOOK_DISABLE_AFTER_SECONDS
   is disabled and an audit entry tells the tenant's admins.

At least once: a crash after the receiver answered and before step 4 commits leaves the delivery pending;
it is sent again with the same `webhook-id`, which receivers use to drop duplicates.
"""

import http.client
import json
import random
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.core import locks
from app.core.config import Settings, get_settings
from app.core.context import TenantContext
from app.core.db import session_scope
from app.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.webhooks import signing, targets
from app.webhooks.service import disable, enqueue_delivery

log = structlog.get_logger(__name__)

RESPONSE_READ_LIMIT = 4096
EXCERPT_CHARS = 500
# A retry's message published a little before its row says it is due is still taken.
DUE_SLACK_SECONDS = 5.0
USER_AGENT = "Agentline-Webhooks/1"


@dataclass(frozen=True)
class Claim:
    url: str
    secret: str
    message_id: str
    body: bytes
    attempt: int
    started_at: datetime


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    latency_ms: int | None
    excerpt: str | None
    error: str | None

    @property
    def accepted(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def deliver(delivery_id: uuid.UUID, tenant_id: uuid.UUID) -> str:
    """Attempt one delivery. Returns what happened: delivered, retry_scheduled, failed, endpoint_disabled,
    busy, not_due, or the delivery's status when there was nothing to do."""
    settings = get_settings()
    with locks.work_lock("webhooks.deliver", delivery_id) as held:
        if not held:
            return "busy"
        with session_scope(tenant_id) as session:
            claim = _claim(session, delivery_id, settings)
        if not isinstance(claim, Claim):
            return claim
        outcome = post(claim, settings)
        return _record(delivery_id, tenant_id, claim, outcome, settings)


def _claim(session: Session, delivery_id: uuid.UUID, settings: Settings) -> Claim | str:
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:
        return "missing"
    if delivery.status != "pending":
        return delivery.status
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None or not endpoint.enabled:
        delivery.status, delivery.next_attempt_at = "dead", None
        delivery.last_error = "endpoint disabled"
        return "dead"
    now = datetime.now(UTC)
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + timedelta(seconds=DUE_SLACK_SECONDS):
        return "not_due"
    event = session.get(WebhookEvent, delivery.event_id)
    delivery.attempts += 1
    session.flush()
    return Claim(url=endpoint.url, secret=endpoint.secret, message_id=event.message_id, body=body_of(event),
                 attempt=delivery.attempts, started_at=now)


def body_of(event: WebhookEvent) -> bytes:
    """The JSON every endpoint receives: `type`, `timestamp` (when it happened) and `data`."""
    return json.dumps({"type": event.type, "timestamp": event.created_at.isoformat(), "data": event.payload},
                      separators=(",", ":")).encode()


def post(claim: Claim, settings: Settings) -> Outcome:
    try:
        target = targets.resolve(claim.url, settings)
    except targets.UnsafeTarget as exc:
        return Outcome(None, None, None, f"refused: {exc}")
    headers = {**signing.signed_headers(claim.secret, claim.message_id, int(time.time()), claim.body),
               "content-type": "application/json", "user-agent": USER_AGENT}
    connection = _pinned_connection(target, settings.webhook_timeout_seconds)
    started = time.monotonic()
    try:
        connection.request("POST", target.path, body=claim.body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(RESPONSE_READ_LIMIT).decode("utf-8", errors="replace")[:EXCERPT_CHARS]
        return Outcome(response.status, _elapsed_ms(started), excerpt or None, None)
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(None, _elapsed_ms(started), None, f"{type(exc).__name__}: {exc}"[:EXCERPT_CHARS])
    finally:
        connection.close()


def _pinned_connection(target: targets.Target, timeout: float) -> http.client.HTTPConnection:
    """A connection to the checked address: the host name still goes in `Host` and, over TLS, in SNI and
    the certificate check."""
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(target.host, target.port, timeout=timeout,
                                                 context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    connection._create_connection = (  # type: ignore[attr-defined]
        lambda _address, timeout, source_address=None: socket.create_connection(
            (target.address, target.port), timeout, source_address))
    return connection


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _record(delivery_id: uuid.UUID, tenant_id: uuid.UUID, claim: Claim, outcome: Outcome, settings: Settings) -> str:
    with session_scope(tenant_id) as session:
        delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if delivery is None:
            return "missing"  # the endpoint was deleted meanwhile
        session.add(WebhookAttempt(tenant_id=tenant_id, delivery_id=delivery_id, attempt=claim.attempt,
                                   status_code=outcome.status_code, latency_ms=outcome.latency_ms,
                                   response_excerpt=outcome.excerpt, error=outcome.error))
        delivery.last_status_code, delivery.last_latency_ms = outcome.status_code, outcome.latency_ms
        delivery.last_response_excerpt, delivery.last_error = outcome.excerpt, outcome.error
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id, with_for_update=True)
        now = datetime.now(UTC)
        if outcome.accepted:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
            endpoint.failing_since = None
            log.info("webhook_delivered", delivery_id=str(delivery_id), attempt=claim.attempt)
            return "delivered"
        endpoint.failing_since = endpoint.failing_since or claim.started_at
        why = outcome.error or f"HTTP {outcome.status_code}"
        if delivery.status != "pending":
            return delivery.status
        if endpoint.enabled and now - endpoint.failing_since >= timedelta(seconds=settings.webhook_disable_after_seconds):
            _disable_failing(session, tenant_id, endpoint, why)
            return "endpoint_disabled"
        if delivery.attempts >= settings.webhook_max_attempts:
            delivery.status, delivery.next_attempt_at = "failed", None
            log.warning("webhook_failed", delivery_id=str(delivery_id), attempts=delivery.attempts, error=why)
            return "failed"
        delay = backoff_seconds(delivery.attempts, settings)
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        enqueue_delivery(session, delivery_id, tenant_id, delay)
    log.info("webhook_retry_scheduled", delivery_id=str(delivery_id), error=why, delay_seconds=round(delay, 2))
    return "retry_scheduled"


def _disable_failing(session: Session, tenant_id: uuid.UUID, endpoint: WebhookEndpoint, why: str) -> None:
    since = endpoint.failing_since.isoformat()
    before = {"enabled": True}
    disable(session, endpoint, f"no delivery accepted since {since}; last error: {why}"[:1000], by="system")
    audit.record(session, TenantContext.system(tenant_id), "webhook.disable", "webhook", endpoint.id,
                 before=before, after={"enabled": False, "reason": endpoint.disabled_reason, "url": endpoint.url})
    log.warning("webhook_endpoint_disabled", endpoint_id=str(endpoint.id), failing_since=since)


def backoff_seconds(attempt: int, settings: Settings) -> float:
    """Exponential backoff with jitter: random in [d/2, d], d = min(max, base × 2^(attempt−1))."""
    ceiling = min(settings.webhook_retry_max_seconds, settings.webhook_retry_base_seconds * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def republish_due(limit: int = 500) -> int:
    """Publish again every pending delivery WEBHOOK_STALLED_AFTER_SECONDS past its due time (one
    cross-tenant SECURITY DEFINER lookup of ids; each under its own tenant's binding)."""
    settings = get_settings()
    with session_scope() as session:
        due = session.execute(text("SELECT * FROM maintenance_webhook_deliveries_due(:stale, :limit)"),
                              {"stale": settings.webhook_stalled_after_seconds, "limit": limit}).all()
    for tenant_id, delivery_id in due:
        with session_scope(tenant_id) as session:
            delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.status != "pending":
                continue
            delivery.next_attempt_at = datetime.now(UTC)  # the next sweep waits a full period again
            enqueue_delivery(session, delivery_id, tenant_id)
        log.warning("webhook_delivery_republished", delivery_id=str(delivery_id))
    return len(due)
