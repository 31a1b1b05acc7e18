import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class PipelineCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_id: uuid.UUID


class StageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    name: str
    kind: str
    status: str
    run_id: uuid.UUID | None
    run_status: str | None = None
    review_id: uuid.UUID | None
    review_status: str | None = None
    entity_id: uuid.UUID | None
    waiting_for: str | None
    waiting_until: datetime | None
    detail: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None


class PipelineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    lead_id: uuid.UUID
    status: str
    current_stage: str | None
    stopped_reason: str | None
    requested_by_type: str
    requested_by_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class PipelineDetail(PipelineOut):
    stages: list[StageOut] = []


class PipelinePage(BaseModel):
    items: list[PipelineOut]
    next_cursor: str | None
