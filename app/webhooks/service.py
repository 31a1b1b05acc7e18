"""Webhook endpoints (admin only), their deliveries, and `emit()`: the one way a domain announces an event.

`emit(session, tenant_id, type, payload)` writes the event and one pending delivery per enabled endpoint
that subscribed to the type, in the caller's transaction, and enqueues each delivery through the outbox:
the event exists if and only if the change that caused it committed, and it is published after commit."""

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic_core import to_jsonable_python
from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.permissions import Permission, authorize
from app.core import outbox
from app.core.config import get_settings
from app.core.context import TenantContext
from app.core.errors import Conflict, NotFound, UnprocessableEntity
from app.core.pagination import newest_first, next_cursor
from app.core.scope import get_or_404, scoped
from app.models import AgentRun, Tenant, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.runs.state import RunStatus
from app.webhooks import signing, targets
from app.webhooks.schemas import (
    AttemptOut, DeliveryOut, EventType, WebhookCreate, WebhookCreated, WebhookOut, WebhookUpdate,
)

DELIVER_TASK = "webhooks.deliver"
WEBHOOKS_QUEUE = "webhooks"


# --- emitting ----------------------------------------------------------------------------------


def emit(session: Session, tenant_id: uuid.UUID, event_type: EventType, payload: dict[str, Any], *,
         message_id: str | None = None) -> WebhookEvent | None:
    """Announce `event_type` to the tenant's subscribed endpoints, in the caller's transaction. Nothing is
    written when no enabled endpoint wants the type, or when the event `message_id` names exists already
    (an announcement made again after a crash keeps its id, so receivers see one event)."""
    endpoint_ids = session.scalars(
        select(WebhookEndpoint.id).where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.enabled,
                                         WebhookEndpoint.events.contains([event_type.value]))).all()
    if not endpoint_ids:
        return None
    if message_id is not None and session.scalar(select(WebhookEvent.id).where(WebhookEvent.message_id == message_id)):
        return None
    event = WebhookEvent(tenant_id=tenant_id, message_id=message_id or f"msg_{uuid.uuid4().hex}",
                         type=event_type.value, payload=to_jsonable_python(payload))
    session.add(event)
    session.flush()
    now = datetime.now(UTC)
    deliveries = [WebhookDelivery(tenant_id=tenant_id, endpoint_id=endpoint_id, event_id=event.id, status="pending",
                                  attempts=0, next_attempt_at=now) for endpoint_id in endpoint_ids]
    session.add_all(deliveries)
    session.flush()
    for delivery in deliveries:
        enqueue_delivery(session, delivery.id, tenant_id)
    return event


RUN_EVENTS = {RunStatus.succeeded: EventType.run_succeeded, RunStatus.failed: EventType.run_failed,
              RunStatus.dead_lettered: EventType.run_dead_lettered}


def announce_run_outcome(session: Session, tenant_id: uuid.UUID, run_id: uuid.UUID, status: str, attempt: int) -> None:
    """The `run.*` event of a run's end (app.core.signals.RUN_OUTCOME_TASK). Its id derives from the run, its
    status and attempt: announced twice, it is one event; a run retried and failing again is another."""
    run = session.get(AgentRun, run_id)
    if run is None:
        return
    message_id = f"msg_{uuid.uuid5(uuid.NAMESPACE_URL, f'agentline:run:{run_id}:{status}:{attempt}').hex}"
    emit(session, tenant_id, RUN_EVENTS[RunStatus(status)], {
        "run": {"id": run.id, "agent": run.agent, "status": status, "attempt": attempt, "pipeline_id": run.pipeline_id,
                "output": run.output if status == RunStatus.succeeded else None,
                "error": run.error if status != RunStatus.succeeded else None,
                "created_at": run.created_at, "finished_at": run.finished_at}}, message_id=message_id)


def _keep_run_announcements(session: Session, tenant_id: uuid.UUID) -> None:
    """Tell the run engine whether this tenant's run outcomes are wanted: while an enabled endpoint subscribes
    to a run event (`tenants.announce_run_outcomes`, read by the outcome statement)."""
    session.flush()
    wanted = session.scalar(select(exists().where(
        WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.enabled,
        or_(*(WebhookEndpoint.events.contains([event.value]) for event in RUN_EVENTS.values())))))
    session.execute(update(Tenant).where(Tenant.id == tenant_id).values(announce_run_outcomes=wanted))


def enqueue_delivery(session: Session, delivery_id: uuid.UUID, tenant_id: uuid.UUID, delay_seconds: float = 0) -> None:
    outbox.enqueue(session, DELIVER_TASK, WEBHOOKS_QUEUE,
                   {"delivery_id": str(delivery_id), "tenant_id": str(tenant_id)}, delay_seconds=delay_seconds)


# --- endpoints ---------------------------------------------------------------------------------


def _checked_url(url: str) -> str:
    try:
        targets.resolve(url, get_settings())
    except targets.UnsafeTarget as exc:
        raise UnprocessableEntity(f"This URL cannot receive webhooks: {exc}.") from exc
    return url


def _out(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return WebhookOut.model_validate(endpoint).model_dump(mode="json")


def create_endpoint(session: Session, ctx: TenantContext, body: WebhookCreate) -> WebhookCreated:
    endpoint = WebhookEndpoint(tenant_id=ctx.tenant_id, url=_checked_url(body.url),
                               events=sorted({event.value for event in body.events}), secret=signing.new_secret(),
                               enabled=True)
    session.add(endpoint)
    _keep_run_announcements(session, ctx.tenant_id)
    session.refresh(endpoint)
    after = _out(endpoint)
    audit.record(session, ctx, "webhook.create", "webhook", endpoint.id, after=after)
    return WebhookCreated(**after, secret=endpoint.secret)


def list_endpoints(session: Session, ctx: TenantContext, *, limit: int,
                   cursor: str | None = None) -> tuple[list[WebhookEndpoint], str | None]:
    query = newest_first(scoped(ctx, WebhookEndpoint), WebhookEndpoint, limit, cursor)
    endpoints = list(session.scalars(query))
    page = endpoints[:limit]
    return page, next_cursor(endpoints, limit)


def get_endpoint(session: Session, ctx: TenantContext, endpoint_id: uuid.UUID, *,
                 for_update: bool = False) -> WebhookEndpoint:
    endpoint = get_or_404(session, ctx, WebhookEndpoint, endpoint_id, for_update=for_update, label="Webhook")
    authorize(ctx, Permission.manage_tenant)
    return endpoint


def update_endpoint(session: Session, ctx: TenantContext, endpoint_id: uuid.UUID, body: WebhookUpdate) -> WebhookEndpoint:
    endpoint = get_endpoint(session, ctx, endpoint_id, for_update=True)
    before = _out(endpoint)
    if body.url is not None:
        endpoint.url = _checked_url(body.url)
    if body.events is not None:
        endpoint.events = sorted({event.value for event in body.events})
    if body.enabled is True and not endpoint.enabled:
        endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason, endpoint.disabled_by = True, None, None, None
        endpoint.failing_since = None
    elif body.enabled is False and endpoint.enabled:
        disable(session, endpoint, "disabled by an admin", by="admin")
    _keep_run_announcements(session, ctx.tenant_id)
    session.refresh(endpoint)
    audit.record(session, ctx, "webhook.update", "webhook", endpoint.id, before=before, after=_out(endpoint))
    return endpoint


def delete_endpoint(session: Session, ctx: TenantContext, endpoint_id: uuid.UUID) -> None:
    endpoint = get_endpoint(session, ctx, endpoint_id, for_update=True)
    before = _out(endpoint)
    session.delete(endpoint)
    _keep_run_announcements(session, ctx.tenant_id)
    audit.record(session, ctx, "webhook.delete", "webhook", endpoint_id, before=before)


def disable(session: Session, endpoint: WebhookEndpoint, reason: str, *, by: Literal["admin", "system"]) -> None:
    """The endpoint takes no more deliveries; those still pending are `dead` (a resend can revive one)."""
    endpoint.enabled = False
    endpoint.disabled_at = datetime.now(UTC)
    endpoint.disabled_reason, endpoint.disabled_by = reason, by
    session.execute(update(WebhookDelivery)
                    .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
                    .values(status="dead", next_attempt_at=None, last_error=f"endpoint disabled: {reason}"[:500]))
    _keep_run_announcements(session, endpoint.tenant_id)


# --- deliveries --------------------------------------------------------------------------------


def list_deliveries(session: Session, ctx: TenantContext, endpoint_id: uuid.UUID, *, limit: int,
                    cursor: str | None = None) -> tuple[list[DeliveryOut], str | None]:
    get_endpoint(session, ctx, endpoint_id)
    query = newest_first(scoped(ctx, WebhookDelivery).add_columns(WebhookEvent.message_id, WebhookEvent.type)
                         .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                         .where(WebhookDelivery.endpoint_id == endpoint_id), WebhookDelivery, limit, cursor)
    found = session.execute(query).all()
    rows = found[:limit]
    attempts: dict[uuid.UUID, list[AttemptOut]] = {}
    if rows:
        for attempt in session.scalars(scoped(ctx, WebhookAttempt)
                                       .where(WebhookAttempt.delivery_id.in_([row[0].id for row in rows]))
                                       .order_by(WebhookAttempt.attempt)):
            attempts.setdefault(attempt.delivery_id, []).append(AttemptOut.model_validate(attempt))
    return [_delivery_out(delivery, message_id, event_type, attempts.get(delivery.id, []))
            for delivery, message_id, event_type in rows], next_cursor(found, limit)


def _delivery_out(delivery: WebhookDelivery, message_id: str, event_type: str,
                  attempt_log: list[AttemptOut]) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id, event_id=delivery.event_id, message_id=message_id, event_type=event_type,
        status=delivery.status, attempts=delivery.attempts, next_attempt_at=delivery.next_attempt_at,
        last_status_code=delivery.last_status_code, last_latency_ms=delivery.last_latency_ms,
        last_response_excerpt=delivery.last_response_excerpt, last_error=delivery.last_error,
        delivered_at=delivery.delivered_at, created_at=delivery.created_at, attempt_log=attempt_log)


def resend(session: Session, ctx: TenantContext, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryOut:
    """Send a delivery again, whatever became of it, with the same `webhook-id` (receivers that saw it drop
    it). It is pending again and gets one more attempt; failed, it retries while attempts remain."""
    endpoint = get_endpoint(session, ctx, endpoint_id)
    delivery = session.scalars(scoped(ctx, WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                                                  WebhookDelivery.endpoint_id == endpoint_id)
                               .with_for_update()).one_or_none()
    if delivery is None:
        raise NotFound(f"Delivery {delivery_id} was not found.")
    if not endpoint.enabled:
        raise Conflict("The webhook is disabled: enable it first.")
    delivery.status = "pending"
    delivery.next_attempt_at = datetime.now(UTC)
    session.flush()
    enqueue_delivery(session, delivery.id, ctx.tenant_id)
    audit.record(session, ctx, "webhook.resend", "webhook_delivery", delivery.id)
    event = session.get(WebhookEvent, delivery.event_id)
    return _delivery_out(delivery, event.message_id, event.type, [])
