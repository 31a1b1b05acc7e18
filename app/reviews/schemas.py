import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.reviews.state import Decision


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    comment: str | None = Field(None, max_length=4000)
    edited_output: dict[str, Any] | None = Field(
        None, description="For `edit`: the fields of the proposal to change; validated against the item's schema.")

    @model_validator(mode="after")
    def _edit_has_output(self) -> "DecisionRequest":
        if self.decision is Decision.edit and not self.edited_output:
            raise ValueError("an `edit` decision needs `edited_output`")
        if self.decision is not Decision.edit and self.edited_output is not None:
            raise ValueError("`edited_output` is only for an `edit` decision")
        return self


class DecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    decision: Decision
    reviewer_type: str
    reviewer_id: uuid.UUID | None
    comment: str | None
    approved_digest: str | None
    edited_output: dict[str, Any] | None
    diff: list[Any] | None
    created_at: datetime


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID
    agent: str
    status: str
    summary: str
    proposal: dict[str, Any]
    citations: list[Any]
    run_id: uuid.UUID | None
    pipeline_id: uuid.UUID | None
    deadline_at: datetime
    reminded_at: datetime | None
    expired_at: datetime | None
    decided_at: datetime | None
    escalated: bool
    created_at: datetime
    decision: DecisionOut | None = None


class ReviewPage(BaseModel):
    items: list[ReviewOut]
    next_cursor: str | None


class ReviewKindOut(BaseModel):
    entity_type: str
    editable_fields: list[str] = Field(description="The proposal's fields an `edit` may change, in the schema's order")
    locked_fields: list[str] = Field(description="The proposal's fields computed by code: an edit that changes one is 422")
    edit_schema: dict[str, Any] = Field(description="JSON Schema the edited proposal is validated against")


class ReviewSettings(BaseModel):
    """A tenant's `settings.reviews`."""

    model_config = ConfigDict(extra="forbid")

    deadline_hours: Annotated[float, Field(gt=0, le=24 * 90)] | dict[str, Annotated[float, Field(gt=0, le=24 * 90)]] = Field(
        72, description="Hours a review waits: one number, or per entity type with an optional `default`")
    reminder_before_hours: float = Field(24, ge=0, le=24 * 90)
    on_expiry: Literal["reject", "escalate"] = "reject"
    four_eyes: bool = False
