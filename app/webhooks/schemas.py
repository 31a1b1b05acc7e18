import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EventType(StrEnum):
    run_succeeded = "run.succeeded"
    run_failed = "run.failed"
    run_dead_lettered = "run.dead_lettered"
    review_requested = "review.requested"
    review_decided = "review.decided"
    review_expired = "review.expired"
    pipeline_completed = "pipeline.completed"
    pipeline_stopped = "pipeline.stopped"
    invoice_issued = "invoice.issued"
    coaching_card_created = "coaching_card.created"


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000)
    events: list[EventType] = Field(min_length=1)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, max_length=2000)
    events: list[EventType] | None = Field(None, min_length=1)
    enabled: bool | None = None


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    events: list[str]
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    disabled_by: Literal["admin", "system"] | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None


class WebhookCreated(WebhookOut):
    """The only response that carries the signing secret: keep it now, it is never shown again."""

    secret: str


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    status_code: int | None
    latency_ms: int | None
    response_excerpt: str | None
    error: str | None
    created_at: datetime


class DeliveryOut(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    message_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_latency_ms: int | None
    last_response_excerpt: str | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None
