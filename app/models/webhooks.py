"""Webhooks: a tenant's endpoints, the events written for them, one delivery per event and endpoint, and
each attempt of a delivery (docs/webhooks.md)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, TenantMixin, TimestampMixin


class WebhookEndpoint(IdMixin, TenantMixin, TimestampMixin, Base):
    """Where a tenant wants events. `secret` is the Standard Webhooks signing secret (`whsec_…`), kept as
    it is because signing needs it (a hash would not do); the API shows it once, at creation."""

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]]
    secret: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # `admin` (through the API) or `system` (it failed for a day): the console tells the admins of the latter.
    disabled_by: Mapped[str | None] = mapped_column(String(16))
    # The first failed attempt since the last success: failing for longer than WEBHOOK_DISABLE_AFTER_SECONDS
    # disables the endpoint.
    failing_since: Mapped[datetime | None]


class WebhookEvent(IdMixin, TenantMixin, Base):
    """Something that happened, written in the transaction that made it happen. `message_id` is the
    `webhook-id` every delivery of it carries, on every attempt, so receivers can drop duplicates."""

    __tablename__ = "webhook_events"

    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookDelivery(IdMixin, TenantMixin, TimestampMixin, Base):
    """One event to one endpoint. Status: pending → delivered | failed (attempts spent) | dead (the endpoint
    was disabled or removed before it got through)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", text("created_at DESC")),
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_latency_ms: Mapped[int | None]
    last_response_excerpt: Mapped[str | None] = mapped_column(String(500))
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]


class WebhookAttempt(IdMixin, TenantMixin, Base):
    """One POST of a delivery and what came back (a status code, or why none did)."""

    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
                                                   index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None]
    latency_ms: Mapped[int | None]
    response_excerpt: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
