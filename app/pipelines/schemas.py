import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


class LeadSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    email: str
    company: str | None


class StageSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    name: str
    kind: str
    status: str
    waiting_for: str | None
    waiting_until: datetime | None
    started_at: datetime | None


class PipelineListItem(PipelineOut):
    lead: LeadSummary
    stage: StageSummary | None = Field(description="Where it is: the current stage while it runs, the last one "
                                                   "started once it ended (the one that stopped it)")
    stage_count: int


class PipelinePage(BaseModel):
    items: list[PipelineListItem]
    next_cursor: str | None


class PipelineEventOut(BaseModel):
    """A change of the pipeline: a stage started or ended, or the pipeline itself ended (`stage` null)."""

    id: int = Field(description="The change's place in the pipeline's history (stage p started: 2p+1, ended: "
                                "2p+2; the pipeline ended: 2 × stages + 1); ids only grow")
    stage: str | None = Field(description="The stage that changed; null when the pipeline ended")
    position: int | None
    from_status: str
    to_status: str
    run_id: uuid.UUID | None = None
    review_id: uuid.UUID | None = None
    entity_id: uuid.UUID | None = None
    detail: dict[str, Any] | None = Field(None, description="What the stage ended with (its `reason` if it "
                                                            "stopped the pipeline); the pipeline's `reason`")
    created_at: datetime
