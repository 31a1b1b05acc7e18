"""Reviews (agent output waiting for a person) and pipelines (a lead's stages, from SDR to proposal)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, TenantMixin, TimestampMixin


class Review(IdMixin, TenantMixin, TimestampMixin, Base):
    """One item of agent output that must not take effect alone: an email, a proposal, later an offer,
    an invoice or a plan change. Status changes only through app.reviews.state:
    pending → approved | edited | rejected | expired | escalated | cancelled; escalated → the same."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("tenant_id", "entity_type", "entity_id"),
        # The inbox: pending first, then newest.
        Index("ix_reviews_inbox", "tenant_id", text("(status IN ('pending', 'escalated')) DESC"),
              text("created_at DESC"), text("id DESC")),
        Index("ix_reviews_deadline", "deadline_at", postgresql_where=text("status IN ('pending', 'escalated')")),
    )

    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[uuid.UUID]
    agent: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent_runs.id", ondelete="SET NULL"))
    pipeline_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    proposal: Mapped[dict[str, Any]]
    citations: Mapped[list[Any]] = mapped_column(default=list)
    summary: Mapped[str] = mapped_column(String(500), default="")
    # Who started the work under review: the four-eyes rule keeps them from approving it.
    requested_by_type: Mapped[str] = mapped_column(String(16))
    requested_by_id: Mapped[uuid.UUID | None]
    deadline_at: Mapped[datetime]
    remind_at: Mapped[datetime | None]  # when the reminder is due (the tenant's lead time before the deadline)
    reminded_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    # Only these roles may decide an escalated item (admins and owners).
    escalated: Mapped[bool] = mapped_column(default=False)


class ReviewDecision(IdMixin, TenantMixin, Base):
    """The one decision on a review: who (from the credentials), what, and exactly what was approved."""

    __tablename__ = "review_decisions"
    __table_args__ = (UniqueConstraint("review_id"),)

    review_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    decision: Mapped[str] = mapped_column(String(8))  # approve | edit | reject
    reviewer_type: Mapped[str] = mapped_column(String(16))
    reviewer_id: Mapped[uuid.UUID | None]
    comment: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of the canonical JSON of what took effect (the proposal, or the edited output).
    approved_digest: Mapped[str | None] = mapped_column(String(64))
    edited_output: Mapped[dict[str, Any] | None]
    diff: Mapped[list[Any] | None]
    # The request's fingerprint, so the same decision posted again returns this record.
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Pipeline(IdMixin, TenantMixin, TimestampMixin, Base):
    """A lead's way through the stages (app.pipelines.stages). Status: running → succeeded | failed |
    rejected | cancelled (app.pipelines.state)."""

    __tablename__ = "pipelines"
    __table_args__ = (Index("ix_pipelines_page", "tenant_id", text("created_at DESC"), text("id DESC")),)

    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="running")
    current_stage: Mapped[str | None] = mapped_column(String(32))
    stopped_reason: Mapped[str | None] = mapped_column(Text)
    requested_by_type: Mapped[str] = mapped_column(String(16))
    requested_by_id: Mapped[uuid.UUID | None]
    finished_at: Mapped[datetime | None]


class PipelineStage(IdMixin, TenantMixin, Base):
    """One stage of a pipeline: a run, a review, or an action (sending the email).
    Status: pending → active → succeeded | failed | rejected | cancelled."""

    __tablename__ = "pipeline_stages"
    __table_args__ = (UniqueConstraint("pipeline_id", "position", name="uq_pipeline_stages_position"),
                      UniqueConstraint("pipeline_id", "name", name="uq_pipeline_stages_name"))

    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))  # run | review | action
    status: Mapped[str] = mapped_column(String(16), default="pending")
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agent_runs.id", ondelete="SET NULL"))
    review_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reviews.id", ondelete="SET NULL"))
    entity_id: Mapped[uuid.UUID | None]  # what the stage produced or acted on (an email, a deal)
    waiting_for: Mapped[str | None] = mapped_column(String(200))
    waiting_until: Mapped[datetime | None]
    detail: Mapped[dict[str, Any] | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
